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
    assert drill.metrics["leader_election_s"] is not None
