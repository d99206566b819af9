"""What a drain evicts, skips and refuses: the kubectl drain rules, as pure decisions."""

import pytest

from kubedrill.backends.kube import NodeInfo
from kubedrill.backends.workloads import PodOnNode
from kubedrill.errors import ConfigError, PreconditionFailed
from kubedrill.faults.drain import DrainOptions, DrainResult, check_drainable, plan_evictions


def pod(name: str, owner: str | None = "ReplicaSet", mirror: bool = False, empty_dir: bool = False) -> PodOnNode:
    return PodOnNode("ns", name, owner, mirror, empty_dir, False, {"app": "x"})


def node(name: str, cp: bool = False, cordoned: bool = False, ready: bool = True) -> NodeInfo:
    labels = {"node-role.kubernetes.io/control-plane": ""} if cp else {}
    return NodeInfo(name, ready, cordoned, labels, {}, "")


def test_mirror_and_daemonset_pods_are_skipped_managed_pods_evicted() -> None:
    plan = plan_evictions([pod("web"), pod("static", None, mirror=True), pod("ds", "DaemonSet")], DrainOptions())
    assert [p.name for p in plan.evict] == ["web"]
    assert [(p.name, why.split(":")[0]) for p, why in plan.skipped] == [
        ("static", "mirror pod of a static pod"),
        ("ds", "DaemonSet pod"),
    ]


def test_unmanaged_and_emptydir_pods_need_explicit_options() -> None:
    pods = [pod("bare", None), pod("cache", empty_dir=True)]
    refused = plan_evictions(pods, DrainOptions())
    assert [p.name for p, _ in refused.refused] == ["bare", "cache"]
    allowed = plan_evictions(pods, DrainOptions(force=True, delete_emptydir_data=True))
    assert [p.name for p in allowed.delete] == ["bare"]
    assert [p.name for p in allowed.evict] == ["cache"]


def test_control_plane_nodes_and_the_last_schedulable_worker_are_not_drained() -> None:
    nodes = [node("cp-1", cp=True), node("worker-1"), node("worker-2", cordoned=True)]
    with pytest.raises(PreconditionFailed, match="control-plane node"):
        check_drainable(nodes, "cp-1", DrainOptions())
    with pytest.raises(PreconditionFailed, match="last schedulable worker"):
        check_drainable(nodes, "worker-1", DrainOptions())
    with pytest.raises(ConfigError, match="worker-9"):
        check_drainable(nodes, "worker-9", DrainOptions())
    check_drainable([*nodes, node("worker-3")], "worker-1", DrainOptions())


def test_a_blocked_drain_names_the_pdb_and_the_pods() -> None:
    result = DrainResult(evicted=["ns/a"], blocked={"ns/web-pdb": ["ns/b", "ns/c"]})
    assert not result.complete
    assert result.describe() == "blocked by PDB ns/web-pdb: could not evict ns/b, ns/c"
