"""etcd, observed: which members answer, who leads in which term, whether a member caught up, and the
pure choices drills make from that (which member plays a role, which follower takes leadership).

``observe`` reads the members through etcdctl (or statuses read another way, e.g. from only some
endpoints) and names each by its node; everything else here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.etcd import Etcdctl, MemberStatus
from kubedrill.backends.etcd_http import EtcdStatusHttp
from kubedrill.errors import ConfigError, PreconditionFailed


@dataclass(frozen=True)
class MemberView:
    node: str
    member_id: str
    endpoint: str
    is_leader: bool
    leader_id: str
    revision: int
    raft_term: int
    errors: tuple[str, ...] = ()  # active alarms and errors the member reports (NOSPACE, CORRUPT …)


def etcdctl(cluster: Cluster) -> Etcdctl:
    """The cluster's etcdctl, or PreconditionFailed saying why this backend has none."""
    if cluster.etcd is None:
        raise PreconditionFailed(cluster.missing or f"no etcd access on backend {cluster.backend}")
    return cluster.etcd


def observe(cluster: Cluster, statuses: Sequence[MemberStatus] | None = None) -> list[MemberView]:
    """Every member that answered ``endpoint status`` (or the ``statuses`` read another way), by node name."""
    out = []
    for s in etcdctl(cluster).endpoint_status() if statuses is None else statuses:
        node = cluster.node_of_endpoint(s.endpoint) or s.endpoint
        out.append(
            MemberView(node, s.member_id, s.endpoint, s.is_leader, s.leader_id, s.revision, s.raft_term, s.errors)
        )
    return sorted(out, key=lambda m: m.node)


def leader_of(members: Sequence[MemberView]) -> MemberView | None:
    """The leader, if the answering members agree on exactly one that is among them."""
    leaders = {m.leader_id for m in members}
    if len(leaders) != 1:
        return None
    (lid,) = leaders
    return next((m for m in members if m.member_id == lid), None)


# The watcher reads every 100 ms; members on a bridge answer in a few ms. A reading ends as soon as a majority
# names one leader; a member that takes longer (restarting) is left out of it rather than delaying it past the
# next reading.
HTTP_READING_WAIT_S = 0.08


def leader_by_majority(members: Sequence[MemberView], size: int | None = None) -> MemberView | None:
    """The leader as raft defines it (pure): a member that says it leads, named by a strict majority of the
    ``size`` members (default: of those answering), with no member naming another leader at its term or a later
    one. A member that knows no leader yet (one just restarted, for up to ~200 ms) abstains rather than vetoes,
    which ``leader_of``, the precondition drills check before they act, does not allow."""
    claims = [m for m in members if m.is_leader]
    if not claims:
        return None
    leader = max(claims, key=lambda m: m.raft_term)
    rivals = [m for m in members if m.leader_id not in ("0", leader.member_id) and m.raft_term >= leader.raft_term]
    named = sum(m.leader_id == leader.member_id for m in members)
    return leader if not rivals and named >= quorum_of(size or len(members)) else None


def leader_now(cluster: Cluster, http: EtcdStatusHttp | None = None) -> tuple[str | None, int | None]:
    """Who leads and in which term, as a majority agrees (``leader_by_majority``; None, None without one): of
    the cluster's members over the HTTP gateway when ``http`` is given, of those answering etcdctl otherwise.
    What the leader watcher reads."""
    if http is None:
        leader = leader_by_majority(observe(cluster))
    else:
        size = len(http.endpoints)
        statuses = http.endpoint_status(
            wait_s=HTTP_READING_WAIT_S, enough=lambda got: leader_by_majority(observe(cluster, got), size) is not None
        )
        leader = leader_by_majority(observe(cluster, statuses), size)
    return (leader.node, leader.raft_term) if leader else (None, None)


def caught_up(members: Sequence[MemberView], node: str) -> bool:
    """``node`` answers and its revision is no lower than the slowest of the other members that answer.

    Writes keep flowing during a drill, so members are compared within one observation, not with a
    revision remembered from before."""
    mine = next((m for m in members if m.node == node), None)
    others = [m.revision for m in members if m.node != node]
    return mine is not None and bool(others) and mine.revision >= min(others)


def quorum_of(members: int) -> int:
    """Votes etcd needs to commit: a strict majority."""
    return members // 2 + 1


def member_for_role(members: Sequence[MemberView], role: str) -> tuple[MemberView, str]:
    """(the leader, the node of the member that plays ``role``: the leader itself, or the follower
    ``choose_follower`` picks)."""
    if role not in ("leader", "follower"):
        raise ConfigError("experiment", "role", "leader or follower", role)
    leader = leader_of(members)
    if leader is None:
        raise PreconditionFailed(f"etcd has no single leader before the drill: {[m.node for m in members]}")
    return leader, leader.node if role == "leader" else choose_follower(members).node


def choose_follower(members: Sequence[MemberView], prefer: str | None = None) -> MemberView:
    """The member that should take leadership: ``prefer`` if it is a follower, else the most caught-up
    follower (highest revision, then name, so the choice is repeatable)."""
    leader = leader_of(members)
    if leader is None:
        raise PreconditionFailed(f"etcd has no single leader: {[(m.node, m.leader_id) for m in members]}")
    followers = [m for m in members if m.member_id != leader.member_id]
    if not followers:
        raise PreconditionFailed(
            f"etcd has a single member ({leader.node}): there is no follower to move leadership to"
        )
    if prefer:
        chosen = next((m for m in members if m.node == prefer), None)
        if chosen is None:
            raise ConfigError("drill", "target", f"one of {[m.node for m in members]}", prefer)
        if chosen.member_id == leader.member_id:
            raise ConfigError("drill", "target", f"a follower, not the leader {leader.node}", prefer)
        return chosen
    return sorted(followers, key=lambda m: (-m.revision, m.node))[0]
