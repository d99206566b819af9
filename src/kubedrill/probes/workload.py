"""Watches a workload's Ready pods continuously, from a Kubernetes watch: every change is seen, so a
dip that lasts 50 ms during a drain is caught, where a 10 Hz sample of the Deployment's status (which
its controller updates later still) misses it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Watcher = Callable[[Callable[[int], None], threading.Event], None]


@dataclass
class AvailabilityWatch:
    """``watch(on_count, stop)`` reports the Ready count after every change until ``stop`` is set."""

    watch: Watcher
    samples: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.watch, args=(self._record, self._stop), name="kubedrill-availability-watch", daemon=True
        )

    def _record(self, count: int) -> None:
        with self._lock:
            self.samples.append((time.monotonic(), count))

    def __enter__(self) -> AvailabilityWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    @property
    def minimum(self) -> int | None:
        with self._lock:
            return min((v for _, v in self.samples), default=None)
