"""etcd drills: what happens to the API when etcd's leadership changes hands or members fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedrill.drill import DrillRun


@pytest.mark.etcd
@pytest.mark.destructive
def test_api_stays_available_when_etcd_leader_is_moved(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """Runbook (scenarios/etcd-leader-move.yaml):

    1. steady state: etcd members agree on one leader; the API prober writes and reads at 10 Hz;
    2. inject: ``etcdctl move-leader`` hands leadership to the most caught-up follower;
    3. fault took effect: a new, different leader, elected within ``etcd.leader_election_max_s``;
    4. recover: the API settles;
    5. SLO verdict: write availability and longest outage within ``api.*`` over the fault window, every
       acknowledged write still readable, ``increase(etcd_server_leader_changes_seen_total[…]) >= 1`` in
       Prometheus, and no member without a leader for longer than the election SLO;
    6. rollback (always): leadership handed back to the original leader, the drill namespace deleted.
    """
    require_control_planes(3)
    drill = run_scenario("etcd-leader-move.yaml")
    assert all(c.ok for c in drill.judged("a new, different etcd leader", "etcd leader elected within the SLO"))


@pytest.mark.etcd
@pytest.mark.destructive
@pytest.mark.gameday
def test_api_stays_available_when_the_etcd_leader_is_killed(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """Runbook (scenarios/etcd-leader-kill.yaml): SIGKILL the leader's etcd process; a new leader within
    the SLO; API writes available; the killed member restarts under a new PID and catches up; no
    acknowledged write lost. On a stacked control plane the leader's node also loses its API server's
    etcd, so the load balancer must take that API server out quickly."""
    require_control_planes(3)
    drill = run_scenario("etcd-leader-kill.yaml")
    assert all(c.ok for c in drill.judged("etcd leader elected within the SLO", "restarted (new PID)", "caught up"))


@pytest.mark.etcd
@pytest.mark.destructive
def test_leadership_holds_and_the_api_stays_up_when_an_etcd_follower_is_killed(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """Runbook (scenarios/etcd-follower-kill.yaml): SIGKILL a follower's etcd process; the leader keeps
    its term; no API outage beyond the SLO; the follower restarts under a new PID and catches up."""
    require_control_planes(3)
    drill = run_scenario("etcd-follower-kill.yaml")
    assert all(c.ok for c in drill.judged("etcd leadership did not change", "restarted (new PID)", "caught up"))


@pytest.mark.etcd
@pytest.mark.destructive
@pytest.mark.quorum_loss
def test_api_refuses_writes_without_quorum_and_recovers_when_members_return(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """Runbook (scenarios/etcd-quorum-loss.yaml): stop 2 of 3 etcd members for 5 s; prove the API
    acknowledged no write meanwhile; start them; the API recovers within the SLO. Runs only with
    ``-m quorum_loss``."""
    require_control_planes(3)
    drill = run_scenario("etcd-quorum-loss.yaml")
    assert all(c.ok for c in drill.judged("API refused writes while quorum was lost", "API recovered after the fault"))


@pytest.mark.etcd
@pytest.mark.destructive
@pytest.mark.quorum_loss
@pytest.mark.detection
@pytest.mark.slow
def test_on_call_is_paged_when_etcd_loses_quorum(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """Runbook (scenarios/etcd-quorum-loss-paged.yaml): stop 2 of 3 etcd members and keep them down until
    Prometheus fires seed 000's EtcdClusterDown and etcdNoLeader, each within scrape + for + 2 evaluation
    intervals of the first refused write; start them; the API recovers within the SLO."""
    require_control_planes(3)
    drill = run_scenario("etcd-quorum-loss-paged.yaml")
    assert all(
        c.ok
        for c in drill.judged(
            "API refused writes while quorum was lost",
            "alert EtcdClusterDown fires",
            "alert etcdNoLeader fires",
            "API recovered after the fault",
        )
    )
