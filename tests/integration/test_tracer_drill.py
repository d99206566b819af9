"""The etcd leader-move drill, run as users run it (`pytest drills/ -m etcd`), and its Allure results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout, etcdctl
from kubedrill.backends.kube import Kube
from kubedrill.backends.workloads import Workloads
from kubedrill.drill import SUITE_LABEL, SUITE_VALUE
from kubedrill.faults.ledger import RollbackLedger

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TRACER = "test_api_stays_available_when_etcd_leader_is_moved"


def run_drills(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEDRILL_LEDGER": str(tmp_path / "ledger.jsonl")}
    env.pop("KUBECONFIG", None)  # the plugin finds the embedded cluster by itself
    return subprocess.run(
        [sys.executable, "-m", "pytest", "drills/", "-p", "no:cacheprovider", "-v", "-k", TRACER, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def leader(layout: Layout) -> str:
    statuses = etcdctl(layout).endpoint_status()
    (lead,) = [s for s in statuses if s.is_leader]
    return lead.endpoint


def suite_namespaces(layout: Layout) -> list[str]:
    kube = Kube(layout.admin_kubeconfig)
    try:
        return Workloads(kube).namespaces(f"{SUITE_LABEL}={SUITE_VALUE}")
    finally:
        kube.close()


def allure_results(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in results.glob("*-result.json")]


def steps_of(result: dict) -> list[str]:
    names = []

    def walk(steps: list[dict]) -> None:
        for s in steps:
            names.append(s["name"])
            walk(s.get("steps", []))

    walk(result.get("steps", []))
    return names


def attachments_of(result: dict) -> list[dict]:
    found = list(result.get("attachments", []))

    def walk(steps: list[dict]) -> None:
        for s in steps:
            found.extend(s.get("attachments", []))
            walk(s.get("steps", []))

    walk(result.get("steps", []))
    return found


def test_the_drill_passes_writes_allure_results_and_leaves_the_cluster_as_it_found_it(
    embedded: Layout, tmp_path: Path
) -> None:
    before = leader(embedded)
    results = tmp_path / "allure-results"
    proc = run_drills(tmp_path, "-m", "etcd", f"--alluredir={results}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout

    (result,) = [r for r in allure_results(results) if r["name"].startswith("test_api_stays_available")]
    assert result["status"] == "passed"
    steps = steps_of(result)
    for phase in ("steady state", "inject", "fault took effect", "recover", "SLO verdict", "rollback"):
        assert any(s.startswith(phase) for s in steps), f"no {phase!r} step in {steps}"
    attached = {a["name"]: a for a in attachments_of(result)}
    assert attached["availability and latency.png"]["type"] == "image/png"
    png = (results / attached["availability and latency.png"]["source"]).read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000
    csv = (results / attached["prober timeline.csv"]["source"]).read_text().splitlines()
    assert csv[0] == "t_s,wall_unix_s,op,ok,latency_ms,error"
    assert len(csv) > 50  # 10 Hz reads and writes over the whole drill
    assert "etcd members before" in attached
    assert "PromQL results" in attached
    assert "chaos toolkit journal (redacted)" in attached
    env = (results / "environment.properties").read_text()
    assert "kubernetes.version=v1.34.4" in env
    assert "backend=local" in env
    assert "etcd.members=3" in env
    assert {c["name"] for c in json.loads((results / "categories.json").read_text())} >= {
        "SLO violations",
        "Fault injection failures",
        "Rollback failures",
        "Unmet preconditions",
    }
    # left as found: leadership handed back, no drill namespace, nothing pending in the ledger
    assert leader(embedded) == before
    assert suite_namespaces(embedded) == []
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []


def test_an_impossible_slo_profile_fails_the_drill_naming_expected_and_observed(
    embedded: Layout, tmp_path: Path
) -> None:
    before = leader(embedded)
    proc = run_drills(tmp_path, "-m", "etcd", "--slo-profile", "scenarios/slo/impossible.yaml")
    assert proc.returncode == 1, proc.stdout[-3000:]
    out = proc.stdout
    assert "SloViolation" in out
    assert "etcd leader elected within the SLO: expected ≤ 0 s, observed 0." in out
    assert leader(embedded) == before, "the rollback must run when the drill fails"
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []


def test_chaos_run_runs_the_scenario_unmodified(embedded: Layout, tmp_path: Path) -> None:
    before = leader(embedded)
    journal = tmp_path / "journal.json"
    env = {
        **os.environ,
        "KUBECONFIG": str(embedded.admin_kubeconfig),
        "KUBEDRILL_PROMETHEUS_URL": embedded.prometheus_url,
        "KUBEDRILL_LEDGER": str(tmp_path / "ledger.jsonl"),
    }
    chaos = Path(sys.executable).parent / "chaos"
    proc = subprocess.run(
        [str(chaos), "--no-log-file", "run", "--rollback-strategy=always",
         "--journal-path", str(journal), str(ROOT / "scenarios" / "etcd-leader-move.yaml")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(journal.read_text())
    assert data["status"] == "completed"
    assert data["deviated"] is False
    assert [r["activity"]["name"] for r in data["rollbacks"]] == ["hand-leadership-back-and-clean-up"]
    assert leader(embedded) == before
    assert suite_namespaces(embedded) == []
