"""The API prober: reads and writes through the endpoint users use, 10 times a second, on a shared clock.

Reads fetch the latest acknowledged write, so a read that answers "not found" for it is a stale read
(error class ``stale-read``), which no drill may see.

Two threads, one reading and one writing, each on a fixed 100 ms grid (a slow request makes it skip
ticks, never bunch them), so an outage shows up with 100 ms resolution however the API misbehaves.
Every acknowledged write is kept in the ledger: afterwards each must still be readable.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from kubedrill.model import Sample
from kubedrill.probes.grid import Loops, on_grid


class ProbeTarget(Protocol):
    """What the prober needs from a backend. Each call raises on failure; ``classify`` names the failure."""

    def write(self, key: str) -> int | None:
        """Write ``key``; return the etcd revision it was stored at (its resourceVersion), if known."""
        ...

    def read(self, key: str | None) -> None:
        """Read ``key`` (the latest acknowledged write) or, before any write, an anchor object."""
        ...

    def classify(self, error: BaseException) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ProberSettings:
    interval_s: float = 0.1  # 10 Hz: the resolution outages are measured with
    key_prefix: str = "probe"


class Clock(Protocol):
    def __call__(self) -> float: ...


@dataclass
class ApiProber:
    """Start it before the steady-state check, stop it after recovery; read ``samples`` and ``acknowledged``."""

    make_target: Callable[[], ProbeTarget]  # one target (client) per thread
    settings: ProberSettings = field(default_factory=ProberSettings)
    clock: Clock = time.monotonic
    samples: list[Sample] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    revisions: dict[str, int] = field(default_factory=dict)  # acknowledged key → etcd revision

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loops = Loops()
        self._seq = 0

    # ---- lifecycle ----
    def start(self) -> ApiProber:
        for op in ("read", "write"):
            self._loops.start(f"kubedrill-prober-{op}", functools.partial(self._loop, op))
        return self

    def stop(self) -> None:
        self._loops.stop()

    def __enter__(self) -> ApiProber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._loops.running

    # ---- views ----
    def snapshot(self) -> list[Sample]:
        with self._lock:
            return list(self.samples)

    def acknowledged_writes(self) -> list[str]:
        with self._lock:
            return list(self.acknowledged)

    def written_after(self, revision: int) -> list[str]:
        """Acknowledged writes stored after etcd ``revision`` (what a snapshot at that revision lacks)."""
        with self._lock:
            return [k for k in self.acknowledged if self.revisions.get(k, revision + 1) > revision]

    def first_ok_after(self, t: float, op: str = "write") -> float | None:
        with self._lock:
            return next((s.t for s in self.samples if s.op == op and s.ok and s.t >= t), None)

    def last_ok(self, op: str = "write") -> float | None:
        with self._lock:
            return next((s.t for s in reversed(self.samples) if s.op == op and s.ok), None)

    # ---- the loop ----
    def _latest_acknowledged(self) -> str | None:
        with self._lock:
            return self.acknowledged[-1] if self.acknowledged else None

    def _next_key(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self.settings.key_prefix}-{self._seq:06d}"

    def _loop(self, op: str) -> None:
        target = self.make_target()  # one client per thread
        try:
            on_grid(lambda: self._probe(target, op), self.settings.interval_s, self._loops.stopping, self.clock)
        finally:
            target.close()

    def _probe(self, target: ProbeTarget, op: str) -> None:
        key = self._next_key() if op == "write" else ""
        t0 = self.clock()
        wall = time.time()
        error = ""
        revision: int | None = None
        try:
            if op == "write":
                revision = target.write(key)
            else:
                target.read(self._latest_acknowledged())
            ok = True
        except Exception as e:  # every failure is data here, never a crash of the prober
            ok = False
            error = target.classify(e)
        latency = self.clock() - t0
        with self._lock:
            self.samples.append(Sample(t=t0, wall=wall, op=op, ok=ok, latency_s=latency, error=error))
            if ok and op == "write":
                self.acknowledged.append(key)
                if revision is not None:
                    self.revisions[key] = revision
