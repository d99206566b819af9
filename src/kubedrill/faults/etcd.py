"""etcd faults: move leadership (``etcdctl move-leader``).

Members are observed, and the member that plays a role chosen, in ``kubedrill.probes.etcd``;
``choose_quorum_loss`` is this family's own pure decision (which members a quorum loss stops).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kubedrill.backends.cluster import Cluster
from kubedrill.errors import FaultInjectionError, PreconditionFailed
from kubedrill.faults.base import Fault, Plan
from kubedrill.probes.etcd import MemberView, choose_follower, etcdctl, leader_of, observe, quorum_of


def choose_quorum_loss(members: Sequence[MemberView]) -> list[MemberView]:
    """The fewest members whose loss breaks quorum, followers first (the leader stays, without a majority)."""
    leader = leader_of(members)
    lose = len(members) - quorum_of(len(members)) + 1
    if len(members) < 2:
        raise PreconditionFailed(f"quorum loss needs ≥ 2 members, etcd has {len(members)}")
    ordered = sorted(members, key=lambda m: (leader is not None and m.member_id == leader.member_id, m.node))
    return ordered[:lose]


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
        etcd = etcdctl(self.cluster)
        return Plan(
            fault=self.kind,
            targets={"leader": leader.node, "new leader": target.node},
            actions=[f"etcdctl --endpoints={leader.endpoint} move-leader {target.member_id}  # via {etcd.binary}"],
            revert=[f"etcdctl move-leader <{self.original_leader}'s member id> (if {self.original_leader} lost it)"],
        )

    def inject(self) -> str:
        leader, target = self._resolve()
        self.injected_at = time.monotonic()
        etcdctl(self.cluster).move_leader(target.member_id, leader.endpoint)
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
        etcdctl(self.cluster).move_leader(original.member_id, leader.endpoint)
        return f"leadership handed back {leader.node} → {self.original_leader}"
