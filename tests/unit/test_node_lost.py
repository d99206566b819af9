"""The node-lost drill's pure decisions: which worker to lose, and the tolerations that let its pods go."""

import pytest

from kubedrill.backends.kubelets import SystemdKubelet
from kubedrill.errors import ConfigError, PreconditionFailed
from kubedrill.faults.node_lost import pick_worker
from kubedrill.probes.workload import lost_node_tolerations
from tests.fakes import RecordingAccess

WORKERS = ["worker-1", "worker-2", "worker-3"]


def test_the_worker_with_the_most_canary_pods_is_lost_ties_by_name() -> None:
    assert pick_worker({"worker-1": 1, "worker-2": 2}, WORKERS) == "worker-2"
    assert pick_worker({"worker-3": 1, "worker-1": 1, "worker-2": 1}, WORKERS) == "worker-1"


def test_control_planes_and_empty_workers_are_never_picked() -> None:
    assert pick_worker({"cp-1": 5, "worker-3": 1}, WORKERS) == "worker-3"
    with pytest.raises(PreconditionFailed, match=r"no canary pod runs on a worker"):
        pick_worker({"cp-1": 3, "worker-1": 0}, WORKERS)


def test_a_named_node_must_be_a_worker() -> None:
    assert pick_worker({"worker-1": 3}, WORKERS, "worker-2") == "worker-2"
    with pytest.raises(ConfigError, match=r"a worker node: one of \['worker-1', 'worker-2', 'worker-3'\]"):
        pick_worker({"worker-1": 3}, WORKERS, "cp-1")


def test_the_canary_tolerates_both_lost_node_taints_for_the_seconds_asked() -> None:
    tolerations = lost_node_tolerations(10)
    assert {t["key"] for t in tolerations} == {"node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"}
    assert all(t == {"key": t["key"], "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
               for t in tolerations)  # fmt: skip


def test_over_ssh_only_the_inventory_s_workers_kubelets_are_reached() -> None:
    listed = SystemdKubelet(RecordingAccess(), unit="kubelet", nodes=frozenset({"worker-2"}))
    assert listed.reaches("worker-2")
    assert not listed.reaches("worker-1")
    assert SystemdKubelet(RecordingAccess()).reaches("worker-1")  # kind: every node container is reached
    listed.stop("worker-2")
    assert listed.access.calls == [("worker-2", ["systemctl", "stop", "kubelet"])]  # type: ignore[attr-defined]
