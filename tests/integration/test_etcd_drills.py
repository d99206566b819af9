"""The etcd drills against the embedded cluster: they pass, report RTO/RPO, and fail when they should."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from kubedrill.backends.cluster import detect
from kubedrill.backends.embedded import Layout
from kubedrill.backends.prom import Prometheus
from kubedrill.errors import PreconditionFailed, RecoveryTimeout
from kubedrill.faults.ledger import RollbackLedger
from kubedrill.faults.restore import take_snapshot, verify_snapshot
from kubedrill.local import health
from kubedrill.settings import local_etcdutl
from kubedrill.waiting import wait_until

from .conftest import kubedrill
from .test_tracer_drill import allure_results, attachments_of

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def drills(tmp_path: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEDRILL_LEDGER": str(tmp_path / "ledger.jsonl")}
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "drills/", "-p", "no:cacheprovider", "-v", "-rs", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def healthy(layout: Layout, settle_s: float = 30.0) -> list[str]:
    """Problems `kubedrill status` still reports once the cluster had ``settle_s`` to settle (an election
    right after a heal is normal; one that never ends is not)."""
    health.wait_prometheus_targets_up(layout, timeout_s=60)
    try:
        return wait_until(
            "kubedrill status healthy",
            lambda: health.status(layout.state_dir).problems,
            lambda problems: not problems,
            timeout_s=settle_s,
            interval_s=1.0,
        )
    except RecoveryTimeout:
        return health.status(layout.state_dir).problems


def test_the_etcd_drills_pass_and_leave_the_cluster_healthy(embedded: Layout, tmp_path: Path) -> None:
    proc = drills(tmp_path, "-m", "etcd and not dr")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "3 passed" in proc.stdout
    assert "quorum-loss drills run only when selected explicitly: -m quorum_loss" in proc.stdout
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []


def test_quorum_loss_runs_when_selected_proves_the_outage_and_the_seed_s_alerts_fire(
    embedded: Layout, tmp_path: Path, browser: WebDriver
) -> None:
    proc = drills(tmp_path, "-m", "quorum_loss and not dr", "-s", "--alluredir", str(tmp_path / "reports" / "allure"))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "[ok  ] API refused writes while quorum was lost: expected 0 acknowledged writes" in proc.stdout
    # The real Prometheus fired the seed's rules (for: 1m) while the members were down, each within its budget.
    for alert in ("EtcdClusterDown", "etcdNoLeader"):
        line = rf"\[ok  \] alert {alert} fires: expected firing ≤ ([0-9.]+) s .*, observed firing ([0-9.]+) s"
        fired = re.search(line, proc.stdout)
        assert fired, proc.stdout[-4000:]
        print(f"{alert}: fired {fired[2]} s after quorum was lost (budget {fired[1]} s)")
        assert f"alert {alert} after etcd quorum lost" in proc.stdout  # the run summary's alert coverage
    assert re.search(r"resilience score: 100\.0 / 100", proc.stdout), proc.stdout[-3000:]
    # The run summary's alert coverage, as the morning-after reader sees it in a browser: fault × alert, timed.
    browser.get((tmp_path / "reports" / "summary.html").as_uri())
    rows = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in browser.find_elements(By.CSS_SELECTOR, "table#alerts tbody tr")
    ]
    assert sorted(r[2] for r in rows) == ["EtcdClusterDown", "etcdNoLeader"], rows
    assert all(r[0] == "etcd-quorum-loss-paged" for r in rows), rows
    assert all(r[1].startswith("etcd quorum lost (2 of 3 members") for r in rows), rows
    assert all(re.fullmatch(r"[0-9.]+ s \(budget [0-9.]+ s\)", r[3]) for r in rows), rows
    assert healthy(embedded) == []


def test_a_wrong_alert_rule_fails_the_quorum_loss_drill_naming_the_rule_and_query(
    embedded: Layout, tmp_path: Path
) -> None:
    """The known-bad twin of detection: EtcdClusterDown watching a job that does not exist (a typo that
    would leave a real outage unpaged). The drill must fail naming the rule and where to look."""
    rules = embedded.state_dir / "rules.yml"
    good = rules.read_text()
    assert 'expr: up{job="etcd"} == 0' in good
    try:
        rules.write_text(good.replace('expr: up{job="etcd"} == 0', 'expr: up{job="etcd-typo"} == 0'))
        reload_prometheus(embedded)
        proc = drills(tmp_path, "-m", "detection and quorum_loss", "-s")
    finally:
        rules.write_text(good)
        reload_prometheus(embedded)
    assert proc.returncode == 1, proc.stdout[-4000:]
    line = next((x for x in proc.stdout.splitlines() if "[FAIL] alert EtcdClusterDown fires" in x), "")
    print(line)
    assert "observed did not fire: never pending (its expression never turned true)" in line, proc.stdout[-4000:]
    assert 'rule EtcdClusterDown (kubedrill-control-plane): up{job="etcd-typo"} == 0' in line
    assert 'query ALERTS{alertname="EtcdClusterDown"} in Prometheus' in line
    assert "[ok  ] alert etcdNoLeader fires" in proc.stdout  # the other rule was right and fired
    assert re.search(r"\[signal ×1\] etcd-quorum-loss-paged: \[FAIL\] alert EtcdClusterDown fires", proc.stdout)
    assert healthy(embedded) == []


def reload_prometheus(layout: Layout) -> None:
    """Prometheus re-reads its rules (--web.enable-lifecycle), then holds the file's EtcdClusterDown."""
    expected = next(x for x in (layout.state_dir / "rules.yml").read_text().splitlines() if "up{job=" in x)
    assert requests.post(f"{layout.prometheus_url}/-/reload", timeout=10).status_code == 200
    prom = Prometheus(layout.prometheus_url)
    try:
        rule = next(r for r in prom.alerting_rules() if r.name == "EtcdClusterDown")
    finally:
        prom.close()
    assert rule.query in expected


def test_the_restore_drill_reports_rto_and_the_exact_rpo_set(embedded: Layout, tmp_path: Path) -> None:
    results = tmp_path / "allure"
    proc = drills(tmp_path, "-m", "dr", "--allow-quorum-loss", f"--alluredir={results}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    (result,) = [r for r in allure_results(results) if "restores_from_a_snapshot" in r["name"]]
    table = next(a for a in attachments_of(result) if a["name"] == "RTO and RPO")
    data = json.loads((results / table["source"]).read_text())
    assert 0 < data["rto_s"] < 120
    lost = data["lost objects (exact RPO set)"]
    assert [x for x in lost if x.startswith("post-snapshot-")] == [f"post-snapshot-{i:03d}" for i in range(5)]
    assert all(x.startswith(("post-snapshot-", "probe-")) for x in lost)
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []


def test_a_restore_slo_of_one_second_fails_naming_expected_and_observed(embedded: Layout, tmp_path: Path) -> None:
    proc = drills(tmp_path, "-m", "dr", "--allow-quorum-loss", "--slo-profile", "scenarios/slo/impossible.yaml")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "SloViolation in etcd-restore" in proc.stdout
    assert "RTO: disaster → first acknowledged write: expected ≤ 1 s, observed" in proc.stdout
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []


def test_a_truncated_or_corrupted_snapshot_is_refused_before_anything_stops(embedded: Layout, tmp_path: Path) -> None:
    c = detect(str(embedded.admin_kubeconfig), None)
    etcdutl = local_etcdutl()
    assert etcdutl is not None
    good = take_snapshot(c, tmp_path, etcdutl)
    assert good.revision > 0
    assert good.total_keys > 0
    data = Path(good.path).read_bytes()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 2])
    corrupted = tmp_path / "corrupted.db"
    middle = len(data) // 2
    corrupted.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :])
    for bad in (truncated, corrupted, tmp_path / "missing.db"):
        with pytest.raises(PreconditionFailed, match="refusing"):
            verify_snapshot(etcdutl, str(bad), tmp_path)
    pids = {c.name: c.pid for c in health.check_components(embedded)}
    assert all(pids.values()), "nothing may be stopped by a refused snapshot"
    status = json.loads(kubedrill("status", "--output", "json").stdout)
    assert status["healthy"], status["problems"]
