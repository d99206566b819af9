"""The pre-flight gate whole: what ``judge`` says, what ``observe`` reads (through a fake cluster), and what
``check`` refuses with or returns for the report.

Written against mutation testing (``make mutation``): problems are compared as the exact lines an operator
reads, and the gate's reading of the cluster is checked call by call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubedrill import preflight
from kubedrill.backends.kube import LeaseInfo, NodeInfo
from kubedrill.errors import BackendError, PreconditionFailed
from kubedrill.faults.ledger import Entry, RollbackLedger
from kubedrill.preflight import Observed, context_refusal, judge, ledger_problems
from kubedrill.probes.etcd import MemberView

from .test_preflight import member, node, observed


def entry(n: int) -> Entry:
    return Entry(f"id{n}", "component.kill", {}, {}, f"drill-{n}", 0.0, f"kill {n}")


# ---------------------------------------------------------------- judge: the exact problems


def test_no_node_at_all() -> None:
    assert judge(observed(nodes=[])) == ["nodes: expected at least one Ready node, observed none"]


def test_every_not_ready_node_is_named_in_order() -> None:
    nodes = [node("w-2", ready=False), node("cp-1"), node("w-1", ready=False)]
    assert judge(observed(nodes=nodes)) == ["nodes: expected all 3 Ready, observed NotReady: w-1, w-2"]


def test_no_etcd_member_answering_names_none() -> None:
    assert judge(observed(members=[])) == ["etcd: expected 3 members answering, observed 0"]


def test_members_answering_are_named_by_node() -> None:
    assert judge(observed(members=[member(2), member(1)])) == [
        "etcd: expected 3 members answering, observed 2 (cp-1, cp-2)"
    ]


def test_a_split_leadership_names_each_member_s_leader() -> None:
    assert judge(observed(members=[member(1), member(2, leader="2")])) == [
        "etcd: expected 3 members answering, observed 2 (cp-1, cp-2)",
        "etcd: expected one leader all members agree on, observed cp-1→1, cp-2→2",
    ]


def test_every_alarm_of_every_member_is_named() -> None:
    members = [member(1, errors=("NOSPACE", "CORRUPT")), member(2), member(3, errors=("NOSPACE",))]
    assert judge(observed(members=members)) == [
        "etcd: expected no alarms or errors, observed cp-1: NOSPACE, CORRUPT; cp-3: NOSPACE"
    ]


def test_a_lease_renewed_exactly_at_its_limit_is_still_renewed() -> None:
    limit = 15.0 + preflight.LEASE_GRACE_S
    assert judge(observed(leases=[LeaseInfo("kube-scheduler", "cp-1_x", limit, 15.0)])) == []
    assert judge(observed(leases=[LeaseInfo("kube-scheduler", "cp-1_x", limit + 0.5, 15.0)])) == [
        "kube-system Lease kube-scheduler: expected renewed within 25 s, observed 26 s ago (holder cp-1_x): "
        "is any instance running?"
    ]


def test_pending_faults_are_listed_five_at_most() -> None:
    (problem,) = ledger_problems([entry(n) for n in range(1, 7)], "/var/ledger.jsonl")
    listed = "; ".join(f"kill {n} (drill drill-{n})" for n in range(1, 6))
    assert problem == (
        f"rollback ledger: expected no pending fault, observed 6: {listed}; "
        "run 'kubedrill recover --ledger /var/ledger.jsonl' first"
    )
    assert ledger_problems([], "/var/ledger.jsonl") == []


def test_the_context_refusal_reads_whole() -> None:
    assert context_refusal("prod", "https://10.0.0.1:6443", ["kind-*"]) == (
        "refusing to run a destructive drill against context 'prod' (https://10.0.0.1:6443): allowed are "
        "['kind-*']; add --allow-context 'prod' (or KUBEDRILL_ALLOW_CONTEXT='prod') if this cluster may be "
        "broken. Nothing was touched"
    )


def test_blank_extra_context_patterns_are_dropped() -> None:
    assert preflight.allowed_contexts([" staging-* ", "  ", ""]) == ["kubedrill-local", "kind-*", "staging-*"]


# ---------------------------------------------------------------- observe and check, through a fake cluster


@dataclass
class FakeKube:
    cluster: FakeCluster
    timeout_s: float | None

    def nodes(self) -> list[NodeInfo]:
        self.cluster.log.append("nodes")
        if self.cluster.api_down:
            raise BackendError("API server did not answer")
        return self.cluster.node_list

    def lease(self, namespace: str, name: str) -> LeaseInfo | None:
        self.cluster.log.append(f"lease {namespace}/{name}")
        return self.cluster.leases.get(name)

    def readyz(self, url: str) -> bool:
        self.cluster.log.append(f"readyz {url} (timeout {self.timeout_s})")
        return self.cluster.ready[url]

    def close(self) -> None:
        self.cluster.log.append(f"close (timeout {self.timeout_s})")


@dataclass
class FakeCluster:
    node_list: list[NodeInfo] = field(default_factory=lambda: [node("cp-1"), node("w-1")])
    leases: dict[str, LeaseInfo] = field(
        default_factory=lambda: {"kube-scheduler": LeaseInfo("kube-scheduler", "cp-1_x", 1.25, 15.0)}
    )
    apiserver_of: dict[str, str] = field(default_factory=dict)
    ready: dict[str, bool] = field(default_factory=dict)
    etcd: object | None = None
    etcd_endpoint_of: dict[str, str] = field(default_factory=dict)
    api_down: bool = False
    log: list[str] = field(default_factory=list)

    def kube(self, timeout_s: float | None = None) -> FakeKube:
        self.log.append(f"kube (timeout {timeout_s})")
        return FakeKube(self, timeout_s)


def with_etcd(monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster, members: list[MemberView]) -> None:
    cluster.etcd = object()
    cluster.etcd_endpoint_of = {m.node: m.endpoint for m in members}
    monkeypatch.setattr(preflight.etcd_probe, "observe", lambda c: members if c is cluster else [])


def test_observe_reads_nodes_leader_leases_and_each_api_server_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = FakeCluster(apiserver_of={"cp-1": "https://cp-1:6443"}, ready={"https://cp-1:6443": True})
    members = [member(1), member(2)]
    with_etcd(monkeypatch, cluster, members)
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    o = preflight.observe(cluster, ledger)  # type: ignore[arg-type]
    assert o == Observed(
        pending=[],
        ledger_path=str(tmp_path / "ledger.jsonl"),
        nodes=cluster.node_list,
        members=members,
        expected_members=2,
        leases=[cluster.leases["kube-scheduler"]],  # the controller-manager's Lease is missing: not listed
        apiservers={"cp-1": True},
    )
    assert cluster.log == [
        "kube (timeout None)",
        "nodes",
        "lease kube-system/kube-controller-manager",
        "lease kube-system/kube-scheduler",
        "close (timeout None)",
        "kube (timeout 1.0)",
        "readyz https://cp-1:6443 (timeout 1.0)",
        "close (timeout 1.0)",
    ]


def test_observe_without_etcd_access_or_per_node_urls_leaves_them_unknown(tmp_path: Path) -> None:
    cluster = FakeCluster()
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.begin("component.kill", {}, {}, "d", "kill cp-1")
    o = preflight.observe(cluster, ledger)  # type: ignore[arg-type]
    assert (o.members, o.apiservers, o.expected_members) == (None, None, 0)
    assert [e.description for e in o.pending] == ["kill cp-1"]


def test_observe_closes_its_client_when_the_api_does_not_answer(tmp_path: Path) -> None:
    cluster = FakeCluster(api_down=True)
    with pytest.raises(BackendError):
        preflight.observe(cluster, RollbackLedger(tmp_path / "l.jsonl"))  # type: ignore[arg-type]
    assert cluster.log == ["kube (timeout None)", "nodes", "close (timeout None)"]


def test_a_steady_cluster_passes_and_says_what_was_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    urls = {"cp-1": "https://cp-1:6443", "cp-2": "https://cp-2:6443"}
    cluster = FakeCluster(apiserver_of=urls, ready=dict.fromkeys(urls.values(), True))
    cluster.leases["kube-controller-manager"] = LeaseInfo("kube-controller-manager", "cp-2_y", 3.0, 15.0)
    with_etcd(monkeypatch, cluster, [member(1), member(2), member(3)])
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    assert preflight.check(cluster, ledger, "etcd-leader-kill") == [  # type: ignore[arg-type]
        f"rollback ledger {ledger.path}: no pending fault",
        "2 nodes Ready",
        "Lease kube-controller-manager renewed 3.0 s ago",
        "Lease kube-scheduler renewed 1.2 s ago",
        "3 etcd members answering, one leader, no alarms",
        "2 API servers ready",
    ]


def test_an_api_only_backend_checks_nodes_and_leases_only(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    assert preflight.check(FakeCluster(), ledger, "d") == [  # type: ignore[arg-type]
        f"rollback ledger {ledger.path}: no pending fault",
        "2 nodes Ready",
        "Lease kube-scheduler renewed 1.2 s ago",
    ]


def test_a_pending_fault_refuses_at_once_without_reading_the_cluster(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.begin("component.kill", {}, {}, "cp-apiserver-kill", "kill kube-apiserver on cp-1")
    cluster = FakeCluster()
    with pytest.raises(PreconditionFailed) as exc:
        preflight.check(cluster, ledger, "etcd-leader-kill")  # type: ignore[arg-type]
    assert str(exc.value) == (
        "pre-flight for etcd-leader-kill: steady state does not hold, nothing was injected:\n"
        "  rollback ledger: expected no pending fault, observed 1: kill kube-apiserver on cp-1 "
        f"(drill cp-apiserver-kill); run 'kubedrill recover --ledger {ledger.path}' first"
    )
    assert cluster.log == []


def test_an_unsteady_cluster_is_refused_with_every_problem_of_the_last_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "PREFLIGHT_SETTLE_S", 0.0)  # one reading, no settling
    cluster = FakeCluster(node_list=[node("cp-1"), node("w-1", ready=False)])
    cluster.leases["kube-scheduler"] = LeaseInfo("kube-scheduler", None, None, 15.0)
    with pytest.raises(PreconditionFailed) as exc:
        preflight.check(cluster, RollbackLedger(tmp_path / "l.jsonl"), "d")  # type: ignore[arg-type]
    assert str(exc.value) == (
        "pre-flight for d: steady state does not hold, nothing was injected:\n"
        "  nodes: expected all 2 Ready, observed NotReady: w-1; kube-system Lease kube-scheduler: expected "
        "renewed within 25 s, observed never (holder None): is any instance running?"
    )
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__


def test_an_api_that_does_not_answer_is_refused_naming_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "PREFLIGHT_SETTLE_S", 0.0)
    with pytest.raises(PreconditionFailed) as exc:
        preflight.check(FakeCluster(api_down=True), RollbackLedger(tmp_path / "l.jsonl"), "d")  # type: ignore[arg-type]
    assert str(exc.value).endswith("nothing was injected:\n  API server did not answer")


def test_the_gate_polls_every_second_for_up_to_its_settle_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real = preflight.wait_until

    def spy(what: str, probe: Any, done: Any, **kw: Any) -> Any:
        calls.append(kw)
        return real(what, probe, done, **kw)

    monkeypatch.setattr(preflight, "wait_until", spy)
    preflight.check(FakeCluster(), RollbackLedger(tmp_path / "l.jsonl"), "d")  # type: ignore[arg-type]
    assert preflight.PREFLIGHT_SETTLE_S == 30.0
    assert [(c["timeout_s"], c["interval_s"]) for c in calls] == [(30.0, 1.0)]
