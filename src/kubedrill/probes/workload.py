"""The canary workload drills guard, and a watch of a workload's Ready pods.

``Canary`` is a Deployment guarded by a PDB whose availability the node and control-plane drills judge.
``AvailabilityWatch`` follows a workload's Ready pods continuously, from a Kubernetes watch: every change
is seen, so a dip that lasts 50 ms during a drain is caught, where a 10 Hz sample of the Deployment's
status (which its controller updates later still) misses it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kubedrill.backends.workloads import Workloads
from kubedrill.waiting import wait_until

Watcher = Callable[[Callable[[int], None], threading.Event], None]


LOST_NODE_TAINTS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")


def lost_node_tolerations(seconds: int) -> list[dict[str, object]]:
    """Tolerations that keep a pod on a lost node for ``seconds``, then let the taint manager evict it: what
    the DefaultTolerationSeconds admission plugin adds with 300 s to pods that set none (pure)."""
    return [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
        for key in LOST_NODE_TAINTS
    ]


@dataclass
class Canary:
    """A canary workload: Deployment ``canary`` (3 replicas on worker nodes) guarded by a PDB (minAvailable 2)."""

    workloads: Workloads
    namespace: str
    name: str = "canary"
    replicas: int = 3
    min_available: int = 2
    labels: dict[str, str] = field(default_factory=lambda: {"app": "kubedrill-canary"})
    # How long its pods stay on a node that went NotReady or unreachable (Kubernetes' default: 300 s).
    toleration_s: int | None = None

    def create(self, timeout_s: float = 60.0) -> None:
        tolerations = lost_node_tolerations(self.toleration_s) if self.toleration_s is not None else None
        self.workloads.create_deployment(self.namespace, self.name, self.replicas, self.labels, {}, tolerations)
        if self.min_available:
            self.workloads.create_pdb(self.namespace, self.name, self.min_available, self.labels)
        self.wait_available(self.replicas, timeout_s)

    def pods_per_node(self) -> dict[str, int]:
        """How many of its pods (not terminating) each node runs."""
        counts: dict[str, int] = {}
        for p in self.workloads.pods(self.namespace, f"app={self.labels['app']}"):
            if p.node and not p.deleting:
                counts[p.node] = counts.get(p.node, 0) + 1
        return counts

    def wait_available(self, replicas: int, timeout_s: float) -> None:
        wait_until(
            f"canary {self.namespace}/{self.name} with {replicas} available replicas",
            lambda: self.workloads.deployment(self.namespace, self.name),
            lambda d: d.available >= replicas,
            timeout_s=timeout_s,
            describe=lambda d: f"{d.available}/{d.desired} available",
        )


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
