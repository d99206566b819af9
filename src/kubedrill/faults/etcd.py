"""The etcd family: move leadership (``etcdctl move-leader``), kill a member, lose quorum; its drill steps
and dry-run plans.

Members are observed, and the member that plays a role chosen, in ``kubedrill.probes.etcd``;
``choose_quorum_loss`` is this family's own pure decision (which members a quorum loss stops).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kubedrill import slo
from kubedrill.backends.cluster import Cluster
from kubedrill.drill import DrillRun
from kubedrill.errors import FaultInjectionError, PreconditionFailed, RecoveryTimeout
from kubedrill.faults import steps
from kubedrill.faults.base import Fault, Plan
from kubedrill.faults.components import KillComponent, StopComponent, await_restart
from kubedrill.model import Check, Impact, Window
from kubedrill.probes.etcd import MemberView, choose_follower, etcdctl, leader_of, member_for_role, observe, quorum_of
from kubedrill.waiting import wait_until


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

    fault_type = "etcd.move-leader"

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
            fault=self.fault_type,
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


# ---------------------------------------------------------------- drill steps and dry-run plans


LEADER_CHANGE_SEEN = {
    "name": "Prometheus saw the leader change",
    "expr": "increase(etcd_server_leader_changes_seen_total{etcd}[{window}])",
    "op": ">=",
    "threshold": 1,
}
NO_LEADER_ALERT = {
    "name": "etcdNoLeader",
    "expr": "etcd_server_has_leader{etcd} == 0",
    "series": "etcd_server_has_leader{etcd}",
    "for_s": 5.0,
}


def move_etcd_leader(run: DrillRun, to: str | None = None) -> dict[str, Any]:
    """Action: move etcd leadership to a follower and measure the election; the fault window covers it."""
    fault = MoveLeader(run.cluster, to)
    with run.phase("inject: etcdctl move-leader"):
        members = observe(run.cluster)
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.inject(fault)
    with run.phase("fault took effect: a new leader is elected"):
        try:
            elected_s = _await_new_leader(run, str(fault.original_leader), start)
        except RecoveryTimeout as e:
            raise FaultInjectionError(f"leadership never moved away from {fault.original_leader}: {e}") from e
        run.evidence["confirm"] = fault.confirm()
    with run.phase("recover: the API settles after the election"):
        run.attachments["etcd members after"] = [m.__dict__ for m in observe(run.cluster)]
        steps.settle(run)
    return {"from": fault.original_leader, "to": fault.to, "elected_s": round(elected_s, 3)}


def assert_leader_move_slos(run: DrillRun) -> dict[str, Any]:
    """Probe: judge_fault_window with the leader-move drill's PromQL checks."""
    return steps.judge_fault_window(
        run,
        prometheus=[LEADER_CHANGE_SEEN],
        alerts=[{**NO_LEADER_ALERT, "for_s": max(1.0, run.profile.etcd.leader_election_max_s)}],
    )


def _await_new_leader(run: DrillRun, old: str, start: float, old_term: int | None = None) -> float:
    """Wait for a new leader: another node, or (``old_term`` given) any node elected in a later term, since a
    killed leader that restarts at once can win the next election. Record and judge the election time."""

    def elected(m: MemberView | None) -> bool:
        if m is None:
            return False
        return m.node != old if old_term is None else m.raft_term > old_term

    what = f"a leader other than {old}" if old_term is None else f"a leader elected after term {old_term}"
    name = "a new, different etcd leader" if old_term is None else "a new etcd leader elected"
    # The wait outlasts the SLO (three times it), so the SLO check below judges a measured time; only an
    # election that never happens ends the wait, and that is a failed check too, not just an exception.
    try:
        leader = wait_until(
            what,
            lambda: leader_of(observe(run.cluster)),
            elected,
            timeout_s=max(30.0, run.profile.etcd.leader_election_max_s * 3),
            interval_s=0.05,
            describe=lambda m: f"leader {m.node if m else 'none'}",
        )
    except RecoveryTimeout as e:
        gave_up = f"{what} not within {e.timeout_s:g} s; last observed {e.last_observed}"
        run.add(slo.check_max("etcd leader elected within the SLO", None, run.profile.etcd.leader_election_max_s,
                              hint=gave_up))  # fmt: skip
        raise
    elected_s = run.now() - start
    assert leader is not None
    run.evidence["leader change"] = f"{old} → {leader.node} in {elected_s:.3f} s (term {leader.raft_term})"
    run.metrics["leader_election_s"] = elected_s
    run.add(Check(name, what, f"{leader.node} in term {leader.raft_term}", elected(leader), impact=Impact.RECOVERY))
    run.add(
        Check(
            "etcd leader elected within the SLO",
            f"≤ {run.profile.etcd.leader_election_max_s:g} s",
            f"{elected_s:.3f} s",
            elected_s <= run.profile.etcd.leader_election_max_s,
            hint="check 'etcdctl endpoint status -w table' and the etcd members' logs",
            impact=Impact.RECOVERY,
        )
    )
    return elected_s


def kill_etcd_member(run: DrillRun, role: str = "leader") -> dict[str, Any]:
    """Action: SIGKILL the etcd leader (or a follower); prove the kill (a new PID), measure the election
    (leader) or assert leadership did not change (follower), and wait for the member to catch up."""
    members = observe(run.cluster)
    leader, node = member_for_role(members, role)
    fault = KillComponent(run.cluster, "etcd", node)
    with run.phase(f"inject: SIGKILL the etcd {role} on {node}"):
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.inject(fault)
    with run.phase("fault took effect: the member's process is gone"):
        run.evidence["kill proven"] = fault.confirm()
        if role == "leader":
            _await_new_leader(run, node, start, old_term=leader.raft_term)
    with run.phase("recover: the member restarts and catches up"):
        await_restart(run, fault, start)
        steps.await_caught_up(run, node, start)
        after = observe(run.cluster)
        run.attachments["etcd members after"] = [m.__dict__ for m in after]
        if role == "follower":
            now_leader = leader_of(after)
            run.add(
                Check(
                    "etcd leadership did not change",
                    f"{leader.node} leads in term {leader.raft_term}",
                    f"{now_leader.node} leads in term {now_leader.raft_term}" if now_leader else "no leader",
                    now_leader is not None
                    and now_leader.node == leader.node
                    and now_leader.raft_term == leader.raft_term,
                    impact=Impact.RECOVERY,
                )
            )
        steps.settle(run)
    return {"killed": node, "role": role, "metrics": run.metrics}


def lose_etcd_quorum(run: DrillRun, hold_s: float = 5.0, must_fire: Sequence[str] = ()) -> dict[str, Any]:
    """Action: stop a majority of etcd members (followers first) and hold them down for ``hold_s``;
    assert the API refused every write meanwhile (the outage is proven, not assumed); with ``must_fire``,
    keep them down until those alerts fire (steps.await_alerts); then start them."""
    members = observe(run.cluster)
    victims = choose_quorum_loss(members)
    faults = [StopComponent(run.cluster, "etcd", m.node, hold=True) for m in victims]
    with run.phase(f"inject: stop etcd on {', '.join(m.node for m in victims)} (quorum lost)"):
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        began = run.begin_fault()
        for f in faults:
            run.inject(f)
    prober = run.prober
    if prober is None:
        raise PreconditionFailed("lose_etcd_quorum needs the prober: start_drill first")
    with run.phase("fault took effect: API writes fail without quorum"):
        for f in faults:
            run.evidence[f"stopped {f.node}"] = f.confirm()
        # The hold starts at the first write refused once every stop is proven: under a kubelet the members stop
        # seconds apart, and a write refused while one still ran (its API server lost its own member) says
        # nothing about quorum. Counting from such a write let a window end before quorum was even lost.
        lost = run.now()
        first_failure = wait_until(
            "the first refused write",
            lambda: next((s.t for s in prober.snapshot() if s.op == "write" and not s.ok and s.t >= lost), None),
            lambda t: t is not None,
            timeout_s=30,
            interval_s=0.1,
        )
        assert first_failure is not None
        hold_end = first_failure + hold_s
        run.hold(hold_end - run.now())
        held = slo.in_window(prober.snapshot(), Window(first_failure, hold_end), "write")
        accepted = [s for s in held if s.ok]
        run.metrics["writes_during_quorum_loss"] = len(held)
        run.add(
            Check(
                "API refused writes while quorum was lost",
                "0 acknowledged writes while a majority of etcd members is down",
                f"{len(accepted)} of {len(held)} writes acknowledged over {hold_s:g} s",
                bool(held) and not accepted,
                hint="an acknowledged write without quorum would be a split-brain bug",
                impact=Impact.USERS,
            )
        )
    victims_text = ", ".join(m.node for m in victims)
    fault = f"etcd quorum lost ({len(victims)} of {len(members)} members: {victims_text})"
    steps.await_alerts(run, must_fire, fault, began, first_failure)
    with run.phase("recover: start the members, quorum returns"):
        started = run.now()
        for f in faults:
            run.evidence[f"restarted {f.node}"] = run.rollbacks.revert_one(f)
        # Started is not running (a kubelet starting, a supervisor's back-off): the fault lasts until the
        # members run, and the API's recovery is counted from there.
        back_s = _await_running(run, [f.node for f in faults], started)
        run.end_fault()
    with run.phase("every API server ready again"):
        # An API server whose own member was gone a long while may need its liveness probe to restart it before
        # it reconnects: the cluster is whole again only when every one answers /readyz.
        ready_s = steps.await_apiservers_ready(
            run, "every API server answers /readyz again after quorum returned", MEMBERS_BACK_TIMEOUT_S
        )
    return {
        "stopped": [m.node for m in victims],
        "hold_s": hold_s,
        "members_back_s": back_s,
        "apiservers_ready_s": ready_s,
    }


MEMBERS_BACK_TIMEOUT_S = 180.0  # a held member is back at once; a stopped one under a kubelet can take minutes


def _await_running(run: DrillRun, nodes: list[str], started: float) -> float | None:
    """Wait until etcd runs again on every one of ``nodes``; record and judge how long it took."""
    rt = run.cluster.runtime
    if rt is None:
        raise PreconditionFailed("no component runtime on this backend")
    return steps.timed_check(
        run,
        "stopped etcd members running again after their start",
        "members_back_s",
        MEMBERS_BACK_TIMEOUT_S,
        started,
        lambda: wait_until(
            f"etcd running again on {', '.join(nodes)}",
            lambda: [n for n in nodes if rt.held("etcd", n) or rt.instance("etcd", n) is None],
            lambda missing: not missing,
            timeout_s=MEMBERS_BACK_TIMEOUT_S,
            interval_s=0.2,
            describe=lambda missing: f"not running on {', '.join(missing)}",
        ),
    )


def plan_move_etcd_leader(cluster: Cluster, to: str | None = None) -> Plan:
    return MoveLeader(cluster, to).plan()


def plan_lose_etcd_quorum(cluster: Cluster, hold_s: float = 5.0, must_fire: Sequence[str] = ()) -> Plan:
    """The members ``lose_etcd_quorum`` would stop (followers first) and how each is held down and started."""
    victims = choose_quorum_loss(observe(cluster))
    plans = [StopComponent(cluster, "etcd", m.node, hold=True).plan() for m in victims]
    hold = [f"hold {hold_s:g} s from the first refused write"]
    if must_fire:
        hold.append(f"then until Prometheus fires {', '.join(must_fire)} (each within its budget)")
    return Plan(
        fault="etcd.quorum-loss",
        targets={m.node: f"etcd ({'leader' if m.is_leader else 'follower'})" for m in victims},
        actions=[a for p in plans for a in p.actions] + hold,
        revert=[a for p in plans for a in p.revert],
    )


def plan_kill_etcd_member(cluster: Cluster, role: str = "leader") -> Plan:
    _, node = member_for_role(observe(cluster), role)
    return KillComponent(cluster, "etcd", node).plan()
