"""Running local commands: the single place kubedrill touches ``subprocess``.

Node access (``ip netns exec``, ``docker exec``, ``ssh``), etcdctl, the Go build and the embedded
cluster's supervisor all go through here, so every command is logged and every failure becomes a
:class:`~kubedrill.errors.BackendError` naming the command and its stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kubedrill.errors import BackendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _env(env: Mapping[str, str] | None, drop_prefixes: Sequence[str] = ()) -> dict[str, str] | None:
    if env is None and not drop_prefixes:
        return None
    merged = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    merged.update(env or {})
    return merged


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout_s: float | None = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input_text: str | None = None,
    drop_env_prefixes: Sequence[str] = (),
) -> Result:
    """Run ``argv`` to completion and capture its output.

    Raises :class:`BackendError` when the command is missing, times out, or (with ``check``) exits non-zero.
    ``drop_env_prefixes`` removes inherited variables (etcdctl refuses ETCDCTL_* that shadow its flags).
    """
    cmd = shlex.join(argv)
    log.debug("run: %s", cmd)
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=_env(env, drop_env_prefixes),
            cwd=cwd,
            input=input_text,
            check=False,
        )
    except FileNotFoundError as e:
        raise BackendError(f"command not found: {argv[0]} (running {cmd})") from e
    except subprocess.TimeoutExpired as e:
        raise BackendError(f"command timed out after {timeout_s} s: {cmd}") from e
    result = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check and not result.ok:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise BackendError(f"command failed (exit {proc.returncode}): {cmd}: {detail}")
    return result


def stream(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    prefix: str = "",
    sink: IO[str] | None = None,
) -> None:
    """Run a long command, echoing its output line by line (progress for builds). Raises on failure."""
    cmd = shlex.join(argv)
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(env),
            cwd=cwd,
        )
    except FileNotFoundError as e:
        raise BackendError(f"command not found: {argv[0]} (running {cmd})") from e
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail, line.rstrip()][-30:]
        if sink is not None:
            sink.write(prefix + line)
            sink.flush()
    rc = proc.wait()
    if rc != 0:
        raise BackendError(f"command failed (exit {rc}): {cmd}:\n" + "\n".join(tail))


@dataclass
class Spawned:
    """A long-running child process started in its own session (so its whole group can be signalled)."""

    argv: tuple[str, ...]
    pid: int
    _popen: subprocess.Popen[bytes]

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout_s: float | None = None) -> int | None:
        try:
            return self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Spawned:
    """Start ``argv`` detached from our terminal, appending its output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(env),
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise BackendError(f"command not found: {argv[0]}") from e
    return Spawned(tuple(argv), popen.pid, popen)


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to ``pid``; False when the process was already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return False


def processes_mentioning(needle: str) -> list[int]:
    """PIDs of processes whose command line contains ``needle`` (e.g. the embedded cluster's state dir).

    Used to find components the supervisor started even when the supervisor itself was SIGKILLed.
    """
    pids = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (so our component would fail to bind)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False
