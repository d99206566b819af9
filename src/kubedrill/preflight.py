"""The pre-flight gate: a drill injects nothing unless the cluster is in steady state.

Steady state, as an operator checks it before touching anything (seed 001's "check cluster health first"):
no fault of an earlier run still pending in the rollback ledger, every node Ready, every etcd member
answering, without alarms, agreeing on one leader, and the controller-manager and scheduler Leases being
renewed (a leader is at work). The API's availability is the drill's baseline (ten
successful writes through the prober) and is checked right after this gate.

``judge`` is pure: it turns what was observed into the list of problems, each naming expected and observed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubedrill.backends.kube import LeaseInfo, NodeInfo
from kubedrill.faults.ledger import Entry
from kubedrill.probes.etcd import MemberView

LEADER_LEASES = ("kube-controller-manager", "kube-scheduler")  # in kube-system
LEASE_GRACE_S = 10.0  # clock skew between this machine and the holder, and one missed renewal
DEFAULT_ALLOWED_CONTEXTS = ("kubedrill-local", "kind-*")  # the embedded cluster and kind clusters


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
    for lease in o.leases:
        limit = lease.duration_s + LEASE_GRACE_S
        if lease.renewed_ago_s is None or lease.renewed_ago_s > limit:
            ago = "never" if lease.renewed_ago_s is None else f"{lease.renewed_ago_s:.0f} s ago"
            problems.append(
                f"kube-system Lease {lease.name}: expected renewed within {limit:g} s, observed {ago} "
                f"(holder {lease.holder}): is any instance running?"
            )
    return problems
