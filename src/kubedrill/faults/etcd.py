"""etcd faults: move leadership (``etcdctl move-leader``), and what drills need to watch members.

``choose_follower`` is the pure decision (which member becomes leader); ``observe`` reads the members
through etcdctl and names each by its node.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.etcd import Etcdctl, MemberStatus
from kubedrill.backends.etcd_http import EtcdStatusHttp
from kubedrill.errors import ConfigError, FaultInjectionError, PreconditionFailed
from kubedrill.faults.base import Fault, Plan


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


def _etcd(cluster: Cluster) -> Etcdctl:
    if cluster.etcd is None:
        raise PreconditionFailed(cluster.missing or f"no etcd access on backend {cluster.backend}")
    return cluster.etcd


def observe(cluster: Cluster, statuses: Sequence[MemberStatus] | None = None) -> list[MemberView]:
    """Every member that answered ``endpoint status`` (or the ``statuses`` read another way), by node name."""
    out = []
    for s in _etcd(cluster).endpoint_status() if statuses is None else statuses:
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


def leader_now(cluster: Cluster, http: EtcdStatusHttp | None = None) -> tuple[str | None, int | None]:
    """Who leads and in which term, as the answering members agree (None, None without agreement); over
    the HTTP gateway when ``http`` is given, else with etcdctl. What the leader watcher reads."""
    leader = leader_of(observe(cluster, http.endpoint_status() if http else None))
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


def choose_quorum_loss(members: Sequence[MemberView]) -> list[MemberView]:
    """The fewest members whose loss breaks quorum, followers first (the leader stays, without a majority)."""
    leader = leader_of(members)
    lose = len(members) - quorum_of(len(members)) + 1
    if len(members) < 2:
        raise PreconditionFailed(f"quorum loss needs ≥ 2 members, etcd has {len(members)}")
    ordered = sorted(members, key=lambda m: (leader is not None and m.member_id == leader.member_id, m.node))
    return ordered[:lose]


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


class MoveLeader(Fault):
    """Hand etcd leadership to a follower with ``etcdctl move-leader``; revert hands it back."""

    kind = "etcd.move-leader"

    def __init__(self, cluster: Cluster, to: str | None = None, original_leader: str | None = None) -> None:
        super().__init__(cluster)
        self.to = to
        self.original_leader = original_leader
        self.injected_at: float | None = None

    def params(self) -> dict[str, Any]:
        return {"to": self.to, "original_leader": self.original_leader}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> MoveLeader:
        return cls(cluster, params.get("to"), params.get("original_leader"))

    def describe(self) -> str:
        return f"move etcd leadership {self.original_leader or 'the leader'} → {self.to or 'a follower'}"

    def _resolve(self) -> tuple[MemberView, MemberView]:
        members = observe(self.cluster)
        leader = leader_of(members)
        target = choose_follower(members, self.to)
        assert leader is not None  # choose_follower checked it
        self.to = target.node
        self.original_leader = self.original_leader or leader.node
        return leader, target

    def plan(self) -> Plan:
        leader, target = self._resolve()
        etcd = _etcd(self.cluster)
        return Plan(
            fault=self.kind,
            targets={"leader": leader.node, "new leader": target.node},
            actions=[f"etcdctl --endpoints={leader.endpoint} move-leader {target.member_id}  # via {etcd.binary}"],
            revert=[f"etcdctl move-leader <{self.original_leader}'s member id> (if {self.original_leader} lost it)"],
        )

    def inject(self) -> str:
        leader, target = self._resolve()
        self.injected_at = time.monotonic()
        _etcd(self.cluster).move_leader(target.member_id, leader.endpoint)
        return f"move-leader {leader.node} → {target.node} ({target.member_id}) sent to {leader.endpoint}"

    def confirm(self) -> str:
        leader = leader_of(observe(self.cluster))
        if leader is None or leader.node == self.original_leader:
            raise FaultInjectionError(
                f"leadership did not move: leader is {leader.node if leader else 'none'}, "
                f"expected a leader other than {self.original_leader}"
            )
        return f"leader is now {leader.node} (term {leader.raft_term})"

    def revert(self) -> str:
        if not self.original_leader:
            return "nothing to revert (never injected)"
        members = observe(self.cluster)
        leader = leader_of(members)
        original = next((m for m in members if m.node == self.original_leader), None)
        if leader is None or original is None:
            raise FaultInjectionError(
                f"cannot hand leadership back to {self.original_leader}: leader "
                f"{leader.node if leader else 'none'}, members answering {[m.node for m in members]}"
            )
        if leader.node == self.original_leader:
            return f"{self.original_leader} already leads"
        _etcd(self.cluster).move_leader(original.member_id, leader.endpoint)
        return f"leadership handed back {leader.node} → {self.original_leader}"
