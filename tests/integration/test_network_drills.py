"""Network drills against the embedded cluster: partitions heal, by kubedrill or by the node's own timer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kubedrill.backends.cluster import detect
from kubedrill.backends.embedded import Layout
from kubedrill.faults.ledger import RollbackLedger
from kubedrill.faults.network import CHAIN_PREFIX, chains_on
from kubedrill.waiting import wait_until

from .conftest import kubedrill
from .test_etcd_drills import drills, healthy

pytestmark = pytest.mark.integration


def kubedrill_rules(layout: Layout) -> dict[str, list[str]]:
    c = detect(str(layout.admin_kubeconfig), None)
    assert c.access is not None
    return {n: chains_on(c.access, n) for n in layout.nodes}


def timers() -> list[str]:
    out = subprocess.run(["pgrep", "-af", f"while iptables -D INPUT -j {CHAIN_PREFIX}"], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def test_the_network_drills_pass_and_leave_no_rule_or_timer_on_any_node(embedded: Layout, tmp_path: Path) -> None:
    proc = drills(tmp_path, "-m", "network")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "4 passed" in proc.stdout
    assert "pods are KWOK's: no network" in proc.stdout  # the NetworkPolicy drill skips with its reason
    assert kubedrill_rules(embedded) == {n: [] for n in embedded.nodes}
    assert timers() == []
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []


def test_a_partition_heals_by_itself_after_the_runner_is_killed(embedded: Layout, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    script = textwrap.dedent(f"""
        import os, signal
        from kubedrill.backends.cluster import detect
        from kubedrill.faults.base import Rollbacks, cluster_record
        from kubedrill.faults.ledger import RollbackLedger
        from kubedrill.faults.network import Cut, Partition
        from pathlib import Path
        c = detect({str(embedded.admin_kubeconfig)!r}, None)
        rb = Rollbacks(RollbackLedger(Path({str(ledger)!r})), "killed-runner", cluster_record(c), lambda m: None)
        rb.inject(Partition(c, "cp-2", Cut(peers=("10.251.0.11", "10.251.0.13")), ttl_s=8))
        print("injected", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ)
    assert proc.returncode == -9, proc.stderr
    assert "injected" in proc.stdout
    assert kubedrill_rules(embedded)["cp-2"], "the partition must be in place after the runner died"
    healed = wait_until(
        "the node's own timer removes the partition",
        lambda: kubedrill_rules(embedded)["cp-2"],
        lambda chains: chains == [],
        timeout_s=30,
        interval_s=0.5,
    )
    assert healed == []
    assert timers() == []
    # The ledger still holds it (the runner never got to revert): recover marks it done, idempotently.
    assert len(RollbackLedger(ledger).pending()) == 1
    out = kubedrill("recover", "--ledger", str(ledger))
    assert out.returncode == 0, out.stderr
    assert "reverted partition cp-2" in out.stdout
    assert RollbackLedger(ledger).pending() == []
    assert healthy(embedded) == []
