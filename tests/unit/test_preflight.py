"""The pre-flight gate and the context guard: pure judgements over what was observed."""

from __future__ import annotations

import pytest

from kubedrill.backends.kube import LeaseInfo, NodeInfo
from kubedrill.faults.ledger import Entry
from kubedrill.preflight import Observed, allowed_contexts, context_refusal, judge
from kubedrill.probes.etcd import MemberView
from kubedrill.pytest_plugin import names_item


def node(name: str, ready: bool = True) -> NodeInfo:
    return NodeInfo(name, ready, False, {}, {}, "")


def member(n: int, leader: str = "1", errors: tuple[str, ...] = ()) -> MemberView:
    return MemberView(f"cp-{n}", str(n), f"https://10.0.0.{n}:2379", leader == str(n), leader, 100, 2, errors)


def observed(**kw: object) -> Observed:
    base: dict[str, object] = {
        "pending": [],
        "ledger_path": "/tmp/ledger.jsonl",
        "nodes": [node("cp-1"), node("worker-1")],
        "members": [member(1), member(2), member(3)],
        "expected_members": 3,
        "leases": [LeaseInfo("kube-scheduler", "cp-1_x", 1.2, 15.0)],
    }
    base.update(kw)
    return Observed(**base)  # type: ignore[arg-type]


def test_a_healthy_cluster_passes() -> None:
    assert judge(observed()) == []


def test_api_only_backends_skip_the_etcd_checks() -> None:
    assert judge(observed(members=None, expected_members=0)) == []


def test_every_api_server_ready_passes_and_backends_without_their_urls_skip_the_check() -> None:
    assert judge(observed(apiservers={"cp-1": True, "cp-2": True})) == []
    assert judge(observed(apiservers=None)) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"pending": [Entry("id", "network.partition", {}, {}, "net-isolate-leader", 0.0, "partition cp-2")]},
            "rollback ledger: expected no pending fault, observed 1: partition cp-2 (drill net-isolate-leader); "
            "run 'kubedrill recover --ledger /tmp/ledger.jsonl' first",
        ),
        ({"nodes": [node("cp-1"), node("worker-1", ready=False)]}, "observed NotReady: worker-1"),
        ({"nodes": []}, "nodes: expected at least one Ready node, observed none"),
        ({"members": [member(1), member(2)]}, "etcd: expected 3 members answering, observed 2 (cp-1, cp-2)"),
        ({"members": [member(1), member(2, leader="2"), member(3)]}, "expected one leader all members agree on"),
        ({"members": [member(1, leader="0"), member(2, leader="0")]}, "observed cp-1→0, cp-2→0"),
        ({"members": [member(1), member(2, errors=("NOSPACE",)), member(3)]}, "no alarms or errors, observed cp-2"),
        (
            {"apiservers": {"cp-1": True, "cp-2": False, "cp-3": False}},
            "API servers: expected all 3 answering /readyz, observed not ready: cp-2, cp-3",
        ),
        (
            {"leases": [LeaseInfo("kube-scheduler", "cp-1_x", 47.0, 15.0)]},
            "kube-system Lease kube-scheduler: expected renewed within 25 s, observed 47 s ago (holder cp-1_x)",
        ),
        ({"leases": [LeaseInfo("kube-scheduler", None, None, 15.0)]}, "observed never"),
    ],
)
def test_each_broken_steady_state_is_named_with_expected_and_observed(change: dict[str, object], problem: str) -> None:
    problems = judge(observed(**change))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("context", "extra", "refused"),
    [
        ("kubedrill-local", [], False),
        ("kind-nightly", [], False),
        ("prod-eu-1", [], True),
        ("prod-eu-1", ["staging-*"], True),
        ("staging-2", ["staging-*"], False),
        ("kind", [], True),  # only kind-* clusters, not a context that happens to be called kind
    ],
)
def test_destructive_drills_need_an_allowed_context(context: str, extra: list[str], refused: bool) -> None:
    refusal = context_refusal(context, "https://10.0.0.1:6443", allowed_contexts(extra))
    assert (refusal is not None) is refused
    if refusal:
        assert f"context {context!r}" in refusal
        assert f"--allow-context '{context}'" in refusal
        assert "Nothing was touched" in refusal


@pytest.mark.parametrize(
    ("arg", "nodeid", "named"),
    [
        ("drills/test_dr.py::test_restore", "drills/test_dr.py::test_restore", True),
        ("/home/u/kubedrill/drills/test_dr.py::test_restore", "drills/test_dr.py::test_restore", True),
        ("drills/test_dr.py::test_restore", "drills/test_dr.py::test_restore[kind]", True),
        ("drills/test_dr.py", "drills/test_dr.py::test_restore", False),  # a whole file is not explicit
        ("drills/test_dr.py::test_rest", "drills/test_dr.py::test_restore", False),
        ("drills/test_etcd.py::test_restore", "drills/test_dr.py::test_restore", False),
    ],
)
def test_a_quorum_loss_drill_is_selected_explicitly_only_by_its_node_id(arg: str, nodeid: str, named: bool) -> None:
    assert names_item(arg, nodeid) is named
