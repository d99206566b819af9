"""Watches a Deployment's available replicas continuously (10 Hz), so a dip during a drain is seen when
it happens, not guessed from the end state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class AvailabilityWatch:
    read_available: Callable[[], int]  # raises on API errors: those samples are skipped, not counted as 0
    interval_s: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kubedrill-availability-watch", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                value = self.read_available()
            except Exception:
                value = None
            if value is not None:
                self.samples.append((time.monotonic(), value))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> AvailabilityWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def minimum(self) -> int | None:
        return min((v for _, v in self.samples), default=None)
