"""The load balancer in front of the API servers, lost for real: seed 004's single HAProxy (the drill's
known-bad twin: a total outage), and seed 002's two HAProxies behind a keepalived VIP (the drill passes)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout, read_status
from kubedrill.drill import DrillRun
from kubedrill.errors import SloViolation
from kubedrill.faults.ledger import RollbackLedger
from tests.twins import TWINS

from .conftest import ensure_cluster
from .test_etcd_drills import drills, healthy

pytestmark = pytest.mark.integration


def haproxy_pid(layout: Layout, name: str) -> int | None:
    status = read_status(layout, name)
    return status.pid if status is not None and status.state == "running" else None


def vip_held_by(layout: Layout, lb: str) -> bool:
    out = subprocess.run(
        ["ip", "netns", "exec", layout.netns(lb), "ip", "-4", "-o", "addr", "show", "dev", "eth0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return f" {layout.vip}/" in out.stdout


def test_losing_the_single_haproxy_is_a_total_outage_and_the_drill_fails_saying_so(
    embedded: Layout, run_scenario: Callable[[str], DrillRun]
) -> None:
    before = haproxy_pid(embedded, "haproxy")
    with pytest.raises(SloViolation, match=TWINS["lb-lost"].fails) as failure:
        run_scenario("lb-lost.yaml")
    message = str(failure.value)
    outage = re.search(r"longest API write outage: expected ≤ 3\.00 s, observed ([0-9.]+) s", message)
    assert outage, message
    assert float(outage[1]) >= 9.0, message  # the whole 10 s hold, minus the prober's 100 ms grain
    print(outage[0])
    after = haproxy_pid(embedded, "haproxy")
    assert after is not None
    assert after != before  # stopped for real, and started again
    assert healthy(embedded) == []


def test_behind_a_keepalived_vip_the_other_load_balancer_takes_over(tmp_path: Path) -> None:
    layout = ensure_cluster(load_balancers=2)
    try:
        assert layout.vip is not None
        assert layout.api_url == f"https://{layout.vip}:6443"
        before = {lb: haproxy_pid(layout, f"haproxy-{lb}") for lb in layout.lbs}
        proc = drills(tmp_path, "-m", "load_balancer", "-s")
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert "1 passed" in proc.stdout
        moved = re.search(
            rf"\[ok  \] the VIP {re.escape(layout.vip)} served by another load balancer after HAProxy on (lb-\d) "
            r"stopped: expected ≤ 3 s, observed ([0-9.]+) s",
            proc.stdout,
        )
        assert moved, proc.stdout[-4000:]
        outage = re.search(r"\[ok  \] longest API write outage: expected ≤ 3\.00 s, observed [^\n]*", proc.stdout)
        assert outage, proc.stdout[-4000:]
        print(moved[0], outage[0], sep="\n")
        lost = moved[1]
        assert haproxy_pid(layout, f"haproxy-{lost}") not in (None, before[lost])  # stopped for real, started again
        holders = [lb for lb in layout.lbs if vip_held_by(layout, lb)]
        assert len(holders) == 1, holders  # the VIP in one place: no split brain after the HAProxy came back
        assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
        assert healthy(layout) == []
    finally:
        ensure_cluster()  # the default shape again, for the tests after this one
