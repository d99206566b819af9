"""Plan building: what ``--dry-run`` prints for an experiment (``chaos.plans.render``, with the fault planners
replaced: the real ones read the cluster), a fault's resolved ``Plan``, and the drain's eviction plan.

Written against mutation testing (``make mutation``): each rendering is compared whole, and each pod of the
eviction plan lands in exactly one list with the reason an operator reads.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.workloads import PodOnNode
from kubedrill.chaos import activities, plans
from kubedrill.errors import BackendError
from kubedrill.faults.base import Plan
from kubedrill.faults.drain import DrainOptions, EvictionPlan, plan_evictions

CLUSTER = cast(Cluster, SimpleNamespace(context="kind-test", backend="kind"))
MODULE = activities.__name__


def act(name: str, func: str, module: str = MODULE, **arguments: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": module, "func": func}
    if arguments:
        provider["arguments"] = arguments
    return {"type": "action", "name": name, "provider": provider}


@pytest.fixture
def planners(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, dict[str, Any]]]:
    """plan_fake_break (a plan naming its arguments) and plan_fake_unresolvable (a BackendError), recorded."""
    calls: list[tuple[object, dict[str, Any]]] = []

    def plan_fake_break(cluster: Cluster, **kwargs: Any) -> Plan:
        calls.append((cluster, kwargs))
        node = kwargs.get("node", "cp-1")
        return Plan("fake.break", {"node": node}, [f"break {node}"], [f"mend {node}"])

    def plan_fake_unresolvable(cluster: Cluster, **kwargs: Any) -> Plan:
        raise BackendError("etcdctl not found on cp-1")

    monkeypatch.setattr(activities, "plan_fake_break", plan_fake_break, raising=False)
    monkeypatch.setattr(activities, "plan_fake_unresolvable", plan_fake_unresolvable, raising=False)
    return calls


def test_a_dry_run_renders_each_fault_s_plan_and_names_every_other_call(
    planners: list[tuple[object, dict[str, Any]]],
) -> None:
    experiment = {
        "title": "etcd leader kill",
        "method": [
            act("start", "start_drill", drill_id="d"),
            act("break cp-2", "fake_break", node="cp-2"),
            act("pods", "terminate_pods", module="chaosk8s.pod.actions", ns="x"),
            act("unresolvable", "fake_unresolvable"),
        ],
        "rollbacks": [act("break again", "fake_break")],
    }
    assert plans.render(experiment, CLUSTER) == (
        "experiment: etcd leader kill\n"
        "cluster: kind-test (kind)\n"
        f"method: start: {MODULE}.start_drill({{'drill_id': 'd'}})\n"
        "method: break cp-2\n"
        "  fault fake.break\n"
        "    target node: cp-2\n"
        "    inject: break cp-2\n"
        "    revert: mend cp-2\n"
        "method: pods: chaosk8s.pod.actions.terminate_pods({'ns': 'x'})\n"
        "method: unresolvable\n"
        "  targets not resolved: etcdctl not found on cp-1\n"
        "rollbacks: break again\n"
        "  fault fake.break\n"
        "    target node: cp-1\n"
        "    inject: break cp-1\n"
        "    revert: mend cp-1"
    )
    assert planners == [(CLUSTER, {"node": "cp-2"}), (CLUSTER, {})]


def test_a_planner_is_used_only_for_kubedrill_s_own_activities(planners: list[tuple[object, dict[str, Any]]]) -> None:
    experiment = {"title": "t", "method": [act("other", "fake_break", module="elsewhere", node="cp-3")]}
    assert plans.render(experiment, CLUSTER).splitlines()[-1] == (
        "method: other: elsewhere.fake_break({'node': 'cp-3'})"
    )
    assert planners == []


def test_an_experiment_without_a_title_method_or_arguments_still_renders(
    planners: list[tuple[object, dict[str, Any]]],
) -> None:
    assert plans.render({}, CLUSTER) == "experiment: ?\ncluster: kind-test (kind)"
    assert plans.render({"method": None, "rollbacks": None}, CLUSTER) == "experiment: ?\ncluster: kind-test (kind)"
    bare = {
        "method": [
            {"name": "n"},
            {"name": "m", "provider": {"module": MODULE, "func": "fake_break", "arguments": None}},
        ]
    }
    assert plans.render(bare, CLUSTER).splitlines()[2:4] == ["method: n: None.?({})", "method: m"]
    assert planners == [(CLUSTER, {})]


def test_a_plan_renders_targets_then_injection_then_revert() -> None:
    plan = Plan(
        "etcd.partition",
        {"node": "cp-2", "peers": "cp-1, cp-3"},
        ["iptables -A INPUT -s 10.0.0.1 -j DROP", "iptables -A INPUT -s 10.0.0.3 -j DROP"],
        ["iptables -D INPUT -s 10.0.0.1 -j DROP"],
    )
    assert plan.render() == (
        "fault etcd.partition\n"
        "  target node: cp-2\n"
        "  target peers: cp-1, cp-3\n"
        "  inject: iptables -A INPUT -s 10.0.0.1 -j DROP\n"
        "  inject: iptables -A INPUT -s 10.0.0.3 -j DROP\n"
        "  revert: iptables -D INPUT -s 10.0.0.1 -j DROP"
    )
    assert Plan("f", {}, [], []).render() == "fault f"


def pod(
    name: str,
    owner: str | None = "ReplicaSet",
    *,
    mirror: bool = False,
    empty_dir: bool = False,
    deleting: bool = False,
) -> PodOnNode:
    return PodOnNode("ns", name, owner, mirror, empty_dir, deleting, {})


TERMINATING = "already terminating"
MIRROR = "mirror pod of a static pod: the kubelet owns it"
DAEMONSET = "DaemonSet pod: it would be recreated on the same node"
UNMANAGED = "unmanaged pod (no controller recreates it): needs force"
EMPTYDIR = "emptyDir data would be lost: needs delete_emptydir_data"


def test_each_pod_lands_in_one_list_with_the_first_rule_that_applies() -> None:
    pods = [
        web := pod("web"),
        gone := pod("gone", None, mirror=True, deleting=True),
        static := pod("static", None, mirror=True),
        ds := pod("ds", "DaemonSet", empty_dir=True),
        bare := pod("bare", None, empty_dir=True),
        cache := pod("cache", empty_dir=True),
    ]
    assert plan_evictions(pods, DrainOptions()) == EvictionPlan(
        evict=[web],
        delete=[],
        skipped=[(gone, TERMINATING), (static, MIRROR), (ds, DAEMONSET)],
        refused=[(bare, UNMANAGED), (cache, EMPTYDIR)],
    )
    # force alone: the unmanaged pod's emptyDir still refuses it
    assert plan_evictions(pods, DrainOptions(force=True)).refused == [(bare, EMPTYDIR), (cache, EMPTYDIR)]
    # both: the unmanaged pod is deleted, the managed one evicted, the rest still skipped
    assert plan_evictions(pods, DrainOptions(force=True, delete_emptydir_data=True)) == EvictionPlan(
        evict=[web, cache],
        delete=[bare],
        skipped=[(gone, TERMINATING), (static, MIRROR), (ds, DAEMONSET)],
        refused=[],
    )


def test_emptydir_data_alone_does_not_allow_an_unmanaged_pod() -> None:
    bare = pod("bare", None)
    assert plan_evictions([bare], DrainOptions(delete_emptydir_data=True)).refused == [(bare, UNMANAGED)]
    assert plan_evictions([bare], DrainOptions(force=True)).delete == [bare]


def test_an_owner_kind_is_matched_exactly() -> None:
    odd = pod("odd", "daemonset")  # not a DaemonSet: kinds are case-sensitive
    assert plan_evictions([odd], DrainOptions()).evict == [odd]
