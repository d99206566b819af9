"""Control-plane drills: kill kube-apiserver, controller-manager and scheduler instances for real.

kubedrill never "kills" a static pod by deleting its mirror pod through the API: the kubelet recreates
the mirror pod and the container never stops, so such a drill passes without a fault. Kills go to the
node: the embedded supervisor's PID, ``crictl stop --timeout 0`` on kind and kubeadm nodes, ``systemctl
kill -s SIGKILL`` on binary installs; each is proven by a new PID or container ID.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedrill.drill import DrillRun

pytestmark = [pytest.mark.control_plane, pytest.mark.destructive]


@pytest.mark.gameday
def test_api_stays_available_through_the_load_balancer_when_one_api_server_is_killed(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/cp-apiserver-kill.yaml: SIGKILL one API server; availability and longest outage through
    the load balancer within the SLO; the instance back (new PID) and answering /readyz within the SLO.
    With a single control plane this fails: there is no other API server to take the traffic."""
    require_control_planes(1)
    drill = run_scenario("cp-apiserver-kill.yaml")
    assert all(c.ok for c in drill.judged("restarted (new PID)", "answers /readyz again"))


@pytest.mark.slow
@pytest.mark.parametrize("component", ["controller-manager", "scheduler"])
def test_the_lease_moves_on_and_work_continues_when_the_leader_is_killed(
    component: str, require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/cp-<component>-kill.yaml: SIGKILL the Lease holder; the Lease moves to a new holder
    within leaseDuration + retryPeriod; the canary scaled up meanwhile gets its pod once handed over."""
    require_control_planes(2)
    drill = run_scenario(f"cp-{component}-kill.yaml")
    assert all(c.ok for c in drill.judged("restarted (new PID)", "Lease handed over"))


@pytest.mark.slow
@pytest.mark.parametrize("component", ["scheduler", "controller-manager"])
def test_the_cluster_stalls_without_any_instance_and_recovers_when_they_return(
    component: str, require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/cp-<component>-outage.yaml: stop every instance for 5 s; the drill proves the outage
    (unbound or uncreated pods), then measures the recovery once they return."""
    require_control_planes(1)
    drill = run_scenario(f"cp-{component}-outage.yaml")
    assert all(c.ok for c in drill.judged("outage shown", "Available again after every"))


@pytest.mark.slow
def test_pods_replaced_without_a_scheduler_stay_pending_until_one_returns(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/cp-scheduler-outage-pods.yaml: every scheduler stopped; chaostoolkit-kubernetes terminates
    every canary pod and its probe proves the replacements all stay Pending; the schedulers return and the
    canary is whole again within the SLO, which chaosk8s's deployment probe confirms."""
    require_control_planes(1)
    drill = run_scenario("cp-scheduler-outage-pods.yaml")
    assert all(
        c.ok
        for c in drill.judged(
            "replacements-stay-pending-without-a-scheduler (chaosk8s.pod.probes.pods_in_phase)",
            "canary Available again after every kube-scheduler returned",
            "canary-available-and-healthy-again (chaosk8s.deployment.probes.deployment_available_and_healthy)",
        )
    )
