"""Network partition drills: cut control-plane nodes off, split etcd peers, cut an API server from etcd."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedrill.drill import DrillRun

pytestmark = [pytest.mark.network, pytest.mark.destructive]


@pytest.mark.parametrize("role", [pytest.param("leader", marks=pytest.mark.gameday), "follower"])
def test_api_stays_available_when_an_etcd_node_is_cut_off(
    role: str, require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/net-isolate-<role>.yaml: isolate the etcd leader's (or a follower's) node from the other
    nodes and the load balancer for 5 s; the majority keeps (or elects) a leader; the cut-off member knows
    it has none; availability through the load balancer within the SLO; healed, verified, caught up."""
    require_control_planes(1)
    drill = run_scenario(f"net-isolate-{role}.yaml")
    assert all(c.ok for c in drill.judged("knows it has no leader", "caught up"))


def test_the_load_balancer_takes_out_an_api_server_cut_off_from_etcd(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/net-apiserver-etcd-cut.yaml: that API server goes unready, users see no outage."""
    require_control_planes(3)
    drill = run_scenario("net-apiserver-etcd-cut.yaml")
    assert all(c.ok for c in drill.judged("went unready without etcd", "ready again after the heal"))


def test_api_stays_available_with_packet_loss_between_etcd_peers(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/net-etcd-packet-loss.yaml: 30 % loss on peer traffic for 10 s; SLOs over the window."""
    require_control_planes(3)
    drill = run_scenario("net-etcd-packet-loss.yaml")
    assert all(c.ok for c in drill.judged("API write latency during the fault", "no acknowledged write lost"))


def test_a_network_policy_cuts_off_exactly_the_pods_it_does_not_admit(
    require_pod_network: Callable[[], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/net-policy-partition.yaml: the blocked clients lose the server within 10 s, the allowed ones
    never do, and the blocked ones reconnect once the policy is gone."""
    require_pod_network()
    drill = run_scenario("net-policy-partition.yaml")
    assert all(c.ok for c in drill.judged("blocked clients cut off", "allowed clients connected throughout"))
