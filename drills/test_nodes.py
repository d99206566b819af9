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
