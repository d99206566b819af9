"""Background loops on a fixed time grid: what the API prober and the leader watcher share.

A loop calls its step every ``interval_s`` on a grid laid from its first tick. A slow step skips the
ticks it overran and the loop stays on the grid, so a stall shows up as a gap, never as a burst of
catch-up steps that would bunch readings together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]


def on_grid(step: Callable[[], None], interval_s: float, stop: threading.Event, clock: Clock) -> None:
    """Run ``step`` on the grid until ``stop`` is set."""
    next_tick = clock()
    while not stop.is_set():
        step()
        next_tick += interval_s
        now = clock()
        if next_tick < now:  # a slow step: skip the ticks it overran, stay on the grid
            next_tick += interval_s * int((now - next_tick) / interval_s + 1)
        stop.wait(max(0.0, next_tick - now))


class Loops:
    """Daemon threads that share one stop event: start them, stop them all, ask if any still runs."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopping.set()
        for t in self._threads:
            t.join(timeout=timeout_s)
        self._threads = [t for t in self._threads if t.is_alive()]  # still running: `running` says so

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)
