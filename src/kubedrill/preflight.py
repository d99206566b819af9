"""The pre-flight gate: a drill injects nothing unless the cluster is in steady state.

Steady state, as an operator checks it before touching anything (seed 001's "check cluster health first"):
no fault of an earlier run still pending in the rollback ledger, every node Ready, every etcd member
answering, without alarms, agreeing on one leader, every API server answering /readyz, and the
controller-manager and scheduler Leases being renewed (a leader is at work). The API's availability is the
drill's baseline (ten successful writes through the prober) and is checked right after this gate.

``judge`` is pure: it turns what was observed into the list of problems, each naming expected and observed.
``observe`` reads the cluster and the ledger; ``check`` is the gate a drill passes before anything else.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.kube import LeaseInfo, NodeInfo
from kubedrill.errors import PreconditionFailed, RecoveryTimeout
from kubedrill.faults.ledger import Entry, RollbackLedger
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.etcd import MemberView
from kubedrill.waiting import wait_until

LEADER_LEASES = ("kube-controller-manager", "kube-scheduler")  # in kube-system
LEASE_GRACE_S = 10.0  # clock skew between this machine and the holder, and one missed renewal
DEFAULT_ALLOWED_CONTEXTS = ("kubedrill-local", "kind-*")  # the embedded cluster and kind clusters
PREFLIGHT_SETTLE_S = 30.0  # steady state may take this long to return after the previous drill


def allowed_contexts(extra: Iterable[str] = ()) -> list[str]:
    """The context patterns destructive drills may break: the defaults plus what the user allowed."""
    return [*DEFAULT_ALLOWED_CONTEXTS, *(p.strip() for p in extra if p.strip())]


def context_allowed(context: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(context, p) for p in patterns)


def context_refusal(context: str, server: str, patterns: Sequence[str]) -> str | None:
    """Why a destructive drill must not run against ``context`` (None when it may)."""
    if context_allowed(context, patterns):
        return None
    return (
        f"refusing to run a destructive drill against context {context!r} ({server}): allowed are "
        f"{list(patterns)}; add --allow-context '{context}' (or KUBEDRILL_ALLOW_CONTEXT='{context}') if this "
        "cluster may be broken. Nothing was touched"
    )


@dataclass(frozen=True)
class Observed:
    pending: Sequence[Entry]
    ledger_path: str
    nodes: Sequence[NodeInfo]
    members: Sequence[MemberView] | None  # None: no etcd access on this backend (API-only drills)
    expected_members: int
    leases: Sequence[LeaseInfo] = ()
    apiservers: dict[str, bool] | None = None  # node → answers /readyz (None: no per-node URLs on this backend)


def ledger_problems(pending: Sequence[Entry], ledger_path: str) -> list[str]:
    if not pending:
        return []
    listed = "; ".join(f"{e.description} (drill {e.drill})" for e in pending[:5])
    return [
        f"rollback ledger: expected no pending fault, observed {len(pending)}: {listed}; "
        f"run 'kubedrill recover --ledger {ledger_path}' first"
    ]


def judge(o: Observed) -> list[str]:
    problems = ledger_problems(o.pending, o.ledger_path)
    not_ready = sorted(n.name for n in o.nodes if not n.ready)
    if not o.nodes:
        problems.append("nodes: expected at least one Ready node, observed none")
    elif not_ready:
        problems.append(f"nodes: expected all {len(o.nodes)} Ready, observed NotReady: {', '.join(not_ready)}")
    if o.members is not None:
        answering = sorted(m.node for m in o.members)
        if len(o.members) < o.expected_members:
            problems.append(
                f"etcd: expected {o.expected_members} members answering, observed {len(o.members)}"
                + (f" ({', '.join(answering)})" if answering else "")
            )
        leaders = {m.leader_id for m in o.members}
        if o.members and (len(leaders) != 1 or "0" in leaders):
            problems.append(
                "etcd: expected one leader all members agree on, observed "
                + ", ".join(f"{m.node}→{m.leader_id}" for m in o.members)
            )
        alarms = [f"{m.node}: {', '.join(m.errors)}" for m in o.members if m.errors]
        if alarms:
            problems.append(f"etcd: expected no alarms or errors, observed {'; '.join(alarms)}")
    if o.apiservers:
        unready = sorted(node for node, ready in o.apiservers.items() if not ready)
        if unready:
            problems.append(
                f"API servers: expected all {len(o.apiservers)} answering /readyz, observed not ready: "
                + ", ".join(unready)
            )
    for lease in o.leases:
        limit = lease.duration_s + LEASE_GRACE_S
        if lease.renewed_ago_s is None or lease.renewed_ago_s > limit:
            ago = "never" if lease.renewed_ago_s is None else f"{lease.renewed_ago_s:.0f} s ago"
            problems.append(
                f"kube-system Lease {lease.name}: expected renewed within {limit:g} s, observed {ago} "
                f"(holder {lease.holder}): is any instance running?"
            )
    return problems


def observe(cluster: Cluster, ledger: RollbackLedger) -> Observed:
    kube = cluster.kube()
    try:
        nodes = kube.nodes()
        leases = [lease for name in LEADER_LEASES if (lease := kube.lease("kube-system", name))]
    finally:
        kube.close()
    # Each API server itself, the load balancer bypassed: one that restarts or lost etcd is not steady.
    direct = cluster.kube(timeout_s=1.0)
    try:
        apiservers = {node: direct.readyz(url) for node, url in cluster.apiserver_of.items()} or None
    finally:
        direct.close()
    members = etcd_probe.observe(cluster) if cluster.etcd is not None else None
    return Observed(
        pending=ledger.pending(),
        ledger_path=str(ledger.path),
        nodes=nodes,
        members=members,
        expected_members=len(cluster.etcd_endpoint_of),
        leases=leases,
        apiservers=apiservers,
    )


def check(cluster: Cluster, ledger: RollbackLedger, drill_id: str) -> list[str]:
    """Check steady state before anything is created or injected; raise PreconditionFailed naming every
    problem. A leftover fault in the ledger refuses at once; anything else gets PREFLIGHT_SETTLE_S to
    settle (an election or a Lease handover right after the previous drill is normal). Returns what was
    checked, for the report."""

    def refusal(problems: list[str]) -> str:
        return f"pre-flight for {drill_id}: steady state does not hold, nothing was injected:\n  " + "\n  ".join(
            problems
        )

    pending = ledger.pending()
    if pending:
        raise PreconditionFailed(refusal(ledger_problems(pending, str(ledger.path))))
    try:
        observed = wait_until(
            "steady state before the drill",
            lambda: observe(cluster, ledger),
            lambda o: not judge(o),
            timeout_s=PREFLIGHT_SETTLE_S,
            interval_s=1.0,
            describe=lambda o: "; ".join(judge(o)),
        )
    except RecoveryTimeout as e:  # the last observation's problems, or why the API/etcd did not answer
        raise PreconditionFailed(refusal([str(e.last_observed)])) from None
    checked = [f"rollback ledger {ledger.path}: no pending fault", f"{len(observed.nodes)} nodes Ready"]
    checked += [
        f"Lease {lease.name} renewed {lease.renewed_ago_s:.1f} s ago"
        for lease in observed.leases
        if lease.renewed_ago_s is not None
    ]
    if observed.members is not None:
        checked.append(f"{len(observed.members)} etcd members answering, one leader, no alarms")
    if observed.apiservers:
        checked.append(f"{len(observed.apiservers)} API servers ready")
    return checked
