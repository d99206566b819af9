"""`kubedrill recover` undoes what a dead runner left behind, from the rollback ledger alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubedrill.backends.cluster import detect
from kubedrill.backends.embedded import Layout
from kubedrill.faults.base import Rollbacks, cluster_record
from kubedrill.faults.etcd import MoveLeader
from kubedrill.faults.ledger import RollbackLedger
from kubedrill.probes.etcd import leader_of, observe
from kubedrill.waiting import wait_until

from .conftest import kubedrill

pytestmark = pytest.mark.integration


def test_recover_hands_etcd_leadership_back_after_the_runner_died(embedded: Layout, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.jsonl"
    cluster = detect(str(embedded.admin_kubeconfig), None)
    original = leader_of(observe(cluster))
    assert original is not None
    rollbacks = Rollbacks(RollbackLedger(ledger_path), "killed-runner", cluster_record(cluster), lambda m: None)
    rollbacks.inject(MoveLeader(cluster))  # and never close(): the runner "dies" here
    wait_until(
        "leadership moved",
        lambda: leader_of(observe(cluster)),
        lambda m: m is not None and m.node != original.node,
        timeout_s=30,
    )
    assert len(RollbackLedger(ledger_path).pending()) == 1

    proc = kubedrill("--state-dir", str(embedded.state_dir), "recover", "--ledger", str(ledger_path))
    assert proc.returncode == 0, proc.stderr
    assert f"reverted move etcd leadership {original.node} → " in proc.stdout, proc.stdout
    back = wait_until("leadership back", lambda: leader_of(observe(cluster)), lambda m: m is not None, timeout_s=30)
    assert back is not None
    assert back.node == original.node
    assert RollbackLedger(ledger_path).pending() == []

    again = kubedrill("recover", "--ledger", str(ledger_path))  # idempotent
    assert again.returncode == 0
    assert "nothing to recover" in again.stdout
