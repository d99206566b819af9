"""Node drain drills against the embedded cluster, and the two variants that must fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout
from kubedrill.backends.kube import Kube
from kubedrill.drill import DrillRun
from kubedrill.errors import SloViolation
from kubedrill.faults.ledger import RollbackLedger
from tests.twins import TWINS

from .test_etcd_drills import drills, healthy

pytestmark = pytest.mark.integration


def cordoned(layout: Layout) -> list[str]:
    kube = Kube(layout.admin_kubeconfig)
    try:
        return [n.name for n in kube.nodes() if n.unschedulable]
    finally:
        kube.close()


def test_the_drain_drills_pass_and_leave_no_node_cordoned(embedded: Layout, tmp_path: Path) -> None:
    proc = drills(tmp_path, "-m", "nodes", "-s")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "2 passed" in proc.stdout
    assert "canary availability never dropped below its floor" in proc.stdout
    assert cordoned(embedded) == []
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []


def test_a_pdb_that_allows_no_disruption_fails_the_drill_naming_it_and_uncordons(
    embedded: Layout, run_scenario: Callable[[str], DrillRun]
) -> None:
    with pytest.raises(SloViolation, match=TWINS["nodes-drain-blocked-pdb"].fails) as failure:
        run_scenario("nodes-drain-blocked-pdb.yaml")
    message = str(failure.value)
    assert "blocked by PDB kubedrill-" in message
    assert "/canary: could not evict kubedrill-" in message
    assert cordoned(embedded) == []


def test_a_single_replica_without_a_pdb_loses_availability_and_the_drill_fails(
    embedded: Layout, run_scenario: Callable[[str], DrillRun]
) -> None:
    with pytest.raises(SloViolation, match=TWINS["nodes-drain-single-replica"].fails):
        run_scenario("nodes-drain-single-replica.yaml")
    assert cordoned(embedded) == []
