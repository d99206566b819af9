"""The embedded cluster's supervisor: what a kubelet is to static pods, for plain processes.

It starts every component listed in ``spec.json``, and when one exits it restarts it with a
kubelet-like backoff: a component that had been running for a while is restarted at once (as a kubelet
restarts a killed static pod), one that keeps dying waits 1 s, 2 s, 4 s … up to ``BACKOFF_CAP_S``.
Kubelet's own CrashLoopBackOff starts at 10 s and caps at 5 min; these are scaled down so a drill that
kills a component twice in a row is not stalled for minutes.

A drill that needs a component to stay down (quorum loss, a restore) writes ``run/<name>.hold``; the
supervisor leaves a held component stopped until the file is removed. The supervisor writes
``run/<name>.json`` after every change, so ``kubedrill status`` and drills can see PIDs and restarts.
SIGTERM stops every component (SIGTERM, then SIGKILL after ``STOP_GRACE_S``) and exits.

Run as ``python -m kubedrill.local.supervisor STATE_DIR`` by ``kubedrill up``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from kubedrill.backends import shell
from kubedrill.backends.embedded import ComponentStatus, Layout, write_json_atomic

log = logging.getLogger("kubedrill.supervisor")

POLL_S = 0.05  # how often exits and hold files are checked: well under the prober's 100 ms
BACKOFF_INITIAL_S = 1.0
BACKOFF_CAP_S = 16.0
BACKOFF_RESET_AFTER_S = 30.0  # running this long clears the backoff, like kubelet's backoff GC
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def backoff_delay(consecutive_failures: int) -> float:
    """Seconds to wait before a restart after ``consecutive_failures`` quick exits in a row (0: at once)."""
    if consecutive_failures <= 0:
        return 0.0
    return float(min(BACKOFF_CAP_S, BACKOFF_INITIAL_S * 2 ** (consecutive_failures - 1)))


@dataclass
class _Running:
    spec: ComponentSpec
    proc: shell.Spawned | None = None
    started_at: float | None = None  # monotonic
    started_wall: float | None = None
    restarts: int = 0
    failures: int = 0  # consecutive exits after less than BACKOFF_RESET_AFTER_S of running
    next_start: float = 0.0  # monotonic
    last_exit: int | None = None
    written: ComponentStatus | None = None


class Supervisor:
    def __init__(self, layout: Layout, specs: list[ComponentSpec]) -> None:
        self.layout = layout
        self.components = [_Running(s) for s in specs]
        self.stopping = False

    def _start(self, c: _Running) -> None:
        c.proc = shell.spawn(c.spec.argv, log_path=self.layout.log_file(c.spec.name), env=c.spec.env or None)
        c.started_at = time.monotonic()
        c.started_wall = time.time()
        log.info("started %s pid %d", c.spec.name, c.proc.pid)

    def _state(self, c: _Running, held: bool) -> str:
        if c.proc is not None:
            return "running"
        if held:
            return "held"
        return "backoff" if c.restarts else "stopped"

    def _write(self, c: _Running, held: bool) -> None:
        status = ComponentStatus(
            name=c.spec.name,
            pid=c.proc.pid if c.proc else None,
            state=self._state(c, held),
            restarts=c.restarts,
            started_at=c.started_wall if c.proc else None,
            last_exit=c.last_exit,
        )
        if status != c.written:
            write_json_atomic(self.layout.status_file(c.spec.name), status.__dict__)
            c.written = status

    def step(self) -> None:
        now = time.monotonic()
        for c in self.components:
            held = self.layout.hold_file(c.spec.name).exists()
            if c.proc is not None:
                rc = c.proc.poll()
                if rc is not None:
                    ran_for = now - (c.started_at or now)
                    # After a healthy run the restart is immediate, as a kubelet restarts a killed container.
                    c.failures = 0 if ran_for >= BACKOFF_RESET_AFTER_S else c.failures + 1
                    c.next_start = now + backoff_delay(c.failures)
                    c.last_exit = rc
                    c.proc = None
                    log.info("%s exited with %s after %.1f s", c.spec.name, rc, ran_for)
                    if not held and not self.stopping:
                        c.restarts += 1
            if c.proc is None and not held and not self.stopping and now >= c.next_start:
                self._start(c)
            self._write(c, held)

    def stop_all(self) -> None:
        self.stopping = True
        running = [c for c in self.components if c.proc is not None]
        for c in running:
            assert c.proc is not None
            c.proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for c in running:
            assert c.proc is not None
            if c.proc.wait(max(0.0, deadline - time.monotonic())) is None:
                c.proc.signal_group(signal.SIGKILL)
                c.proc.wait(5)
            c.proc = None
            self._write(c, held=False)

    def run(self) -> None:
        def _on_signal(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        write_json_atomic(self.layout.supervisor_pid_file, os.getpid())
        try:
            while not self.stopping:
                self.step()
                time.sleep(POLL_S)
        finally:
            self.stop_all()
            self.layout.supervisor_pid_file.unlink(missing_ok=True)


def load_specs(layout: Layout) -> list[ComponentSpec]:
    return [ComponentSpec(**item) for item in json.loads(layout.spec_file.read_text())]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kubedrill.local.supervisor STATE_DIR", file=sys.stderr)
        return 2
    layout = Layout.load(Path(args[0]))
    if layout is None:
        print(f"no embedded cluster state in {args[0]}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Supervisor(layout, load_specs(layout)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
