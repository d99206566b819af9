"""Node drain drills: cordon, evict through PDBs, assert the workload stays available, always uncordon."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedrill.drill import DrillRun

pytestmark = [pytest.mark.nodes, pytest.mark.destructive]


@pytest.mark.gameday
def test_canary_stays_above_its_pdb_when_a_worker_is_drained(run_scenario: Callable[[str], DrillRun]) -> None:
    """scenarios/nodes-drain.yaml: drain the busiest worker through the Eviction API; the canary never drops
    below its PDB (watched at 10 Hz), its pods come back elsewhere, the node is uncordoned."""
    drill = run_scenario("nodes-drain.yaml")
    assert all(c.ok for c in drill.judged("never dropped below its floor", "uncordoned afterwards"))


@pytest.mark.slow
def test_rolling_drain_of_every_worker_keeps_the_canary_available(run_scenario: Callable[[str], DrillRun]) -> None:
    """scenarios/nodes-rolling-drain.yaml: every worker in turn; availability asserted throughout."""
    drill = run_scenario("nodes-rolling-drain.yaml")
    assert all(c.ok for c in drill.judged("never dropped below its floor", "uncordoned afterwards"))


def test_a_lost_worker_goes_not_ready_and_its_pods_move_on(
    require_kubelets: Callable[[], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/nodes-lost.yaml: a worker's kubelet stops; NotReady in the API and Prometheus, the canary's
    pods (10 s toleration) Ready elsewhere, the node Ready again once the kubelet returns."""
    require_kubelets()
    drill = run_scenario("nodes-lost.yaml")
    assert all(c.ok for c in drill.judged("NotReady in the API", "Ready pods off", "Ready again after its kubelet"))


@pytest.mark.detection
def test_on_call_is_paged_when_a_worker_is_lost(
    require_kubelets: Callable[[], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/nodes-lost-paged.yaml: the kubelet stays stopped until KubernetesNodeNotReady fires (for: 5m)."""
    require_kubelets()
    drill = run_scenario("nodes-lost-paged.yaml")
    assert all(c.ok for c in drill.judged("alert KubernetesNodeNotReady fires", "NotReady in the API", "Ready again"))
