"""Control-plane drills against the embedded cluster: every kill proven, Lease handovers measured."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout
from kubedrill.faults.ledger import RollbackLedger

from .test_etcd_drills import drills, healthy
from .test_tracer_drill import allure_results, attachments_of

pytestmark = pytest.mark.integration


def test_the_control_plane_drills_pass_with_every_kill_proven_and_handovers_reported(
    embedded: Layout, tmp_path: Path
) -> None:
    results = tmp_path / "allure"
    proc = drills(tmp_path, "-m", "control_plane", "-s", f"--alluredir={results}")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "6 passed" in proc.stdout
    # chaostoolkit-kubernetes's probes, judged as the drill's checks: the replacements Pending, the canary back
    for probe in ("pod.probes.pods_in_phase", "deployment.probes.deployment_available_and_healthy"):
        held = rf"\[ok  \] [a-z-]+ \(chaosk8s\.{re.escape(probe)}\): expected the probe holds .*, observed held"
        assert re.search(held, proc.stdout), proc.stdout[-4000:]
    for result in allure_results(results):
        evidence = next(a for a in attachments_of(result) if a["name"] == "evidence")
        data = json.loads((results / evidence["source"]).read_text())
        if "restart" in data:  # a kill: proven by the PID it had and the PID it has now
            assert "→" in data["restart"], data
            old, new = data["restart"].split(": ", 1)[1].split(" after ")[0].split(" → ")
            assert old != new
        if "kill" in result["name"] or "lease_moves" in result["name"]:
            assert "kill proven" in data
        if "lease_moves" in result["name"]:
            measurements = next(a for a in attachments_of(result) if a["name"] == "measurements")
            m = json.loads((results / measurements["source"]).read_text())
            assert any(k.endswith("_lease_handover_s") and v is not None for k, v in m.items()), m
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []
