"""Who leads, over time: the etcd leader and the controller Lease holders, watched through the whole drill.

The API prober says whether users were served; this watcher says who was in charge meanwhile. Two
threads, each on its own fixed grid (a slow reading skips ticks, never bunches them), record an
``Observation`` per reading on the drill's monotonic clock:

- ``etcd``: which member leads and in which raft term, 10 times a second by default, so a leader change
  is seen within ~100 ms of the members agreeing on it (the report's leader timeline, and the figure the
  leader-change benchmark measures);
- ``lease/<name>``: the holder of each leader-election Lease in ``kube-system``, twice a second (Leases are
  renewed every 2 s, so finer sampling would show nothing new).

Readers are plain callables, so the watcher runs against fakes in unit tests and against any backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kubedrill.model import Observation
from kubedrill.probes.grid import Loops, on_grid

EtcdReader = Callable[[], tuple[str | None, int | None]]  # (leader node or None, raft term or None)
HolderReader = Callable[[str], str | None]  # Lease name → holder identity or None


@dataclass(frozen=True)
class WatchSettings:
    etcd_interval_s: float = 0.1  # the leader-change detection budget is 200 ms: sample at twice that rate
    lease_interval_s: float = 0.5  # Leases renew every 2 s (retryPeriod); 0.5 s shows a handover to ±0.5 s


# Where etcd's status can only be read by running etcdctl on a node (real hosts over ssh: the client certificates
# stay there), each reading starts a process on a control plane and opens an ssh session to it. At 10 Hz that is
# load on the very hosts a drill judges; the timeline in the report needs no more than 2 Hz. (Drills that measure
# an election poll for it themselves, as fast as etcdctl answers.)
ON_NODE = WatchSettings(etcd_interval_s=0.5)


@dataclass
class ControlPlaneWatcher:
    """Start it with the prober, stop it with the prober; read ``snapshot()``."""

    read_etcd: EtcdReader | None
    read_holder: HolderReader | None
    leases: Sequence[str] = ()
    settings: WatchSettings = field(default_factory=WatchSettings)
    clock: Callable[[], float] = time.monotonic
    observations: list[Observation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loops = Loops()

    def start(self) -> ControlPlaneWatcher:
        if self.read_etcd is not None:
            self._loops.start("kubedrill-watch-etcd", self._loop(self._read_etcd, self.settings.etcd_interval_s))
        if self.read_holder is not None and self.leases:
            self._loops.start("kubedrill-watch-leases", self._loop(self._read_leases, self.settings.lease_interval_s))
        return self

    def stop(self) -> None:
        self._loops.stop()

    @property
    def running(self) -> bool:
        return self._loops.running

    def snapshot(self) -> list[Observation]:
        with self._lock:
            return list(self.observations)

    # ---- readings ----
    # A reading is stamped when its answer arrived: that is when kubedrill knew.

    def _read_etcd(self) -> list[Observation]:
        assert self.read_etcd is not None
        try:
            leader, term = self.read_etcd()
        except Exception as e:  # a member that does not answer is data here, never a crash of the watcher
            return [Observation(self.clock(), time.time(), "etcd", None, None, error=_short(e))]
        return [Observation(self.clock(), time.time(), "etcd", leader, term)]

    def _read_leases(self) -> list[Observation]:
        assert self.read_holder is not None
        out = []
        for lease in self.leases:
            try:
                holder = self.read_holder(lease)
            except Exception as e:  # the API may be down during the fault: that is what is being watched
                out.append(Observation(self.clock(), time.time(), f"lease/{lease}", None, error=_short(e)))
                continue
            out.append(Observation(self.clock(), time.time(), f"lease/{lease}", holder))
        return out

    def _loop(self, read: Callable[[], list[Observation]], interval: float) -> Callable[[], None]:
        def record() -> None:
            seen = read()
            with self._lock:
                self.observations.extend(seen)

        return lambda: on_grid(record, interval, self._loops.stopping, self.clock)


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]
