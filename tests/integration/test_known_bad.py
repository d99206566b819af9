"""Every drill fails on its known-bad twin (scenarios/slo/known-bad.yaml: its key SLO below what any cluster
can do), with the failed check tests/twins.py names, expected and observed both stated; and every fault is
reverted all the same."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout
from kubedrill.faults.ledger import RollbackLedger
from tests.twins import KNOWN_BAD, PROFILE, TWINS

from .test_etcd_drills import drills, healthy

pytestmark = pytest.mark.integration
EMBEDDED_TWINS = {drill: twin for drill, twin in TWINS.items() if twin.where == KNOWN_BAD}


@pytest.mark.timeout(1800)
def test_every_drill_fails_on_its_known_bad_twin(embedded: Layout, tmp_path: Path) -> None:
    # The paged node-lost twin runs in test_node_drills (its one ~7 min run there proves both ways).
    proc = drills(tmp_path, "--slo-profile", PROFILE, "--allow-quorum-loss", "--alluredir", str(tmp_path / "allure"),
                  "-m", "not (nodes and detection)", timeout=1700)  # fmt: skip
    assert proc.returncode == 1, proc.stdout[-4000:]
    history = tmp_path / "history" / "drills.jsonl"
    rows = {row["drill"]: row for row in map(json.loads, history.read_text().splitlines())}  # one line per drill
    missing = sorted(set(EMBEDDED_TWINS) - set(rows))
    assert missing == [], f"drills with a twin that did not run: {missing}\n{proc.stdout[-3000:]}"
    wrong = {}
    for drill, twin in EMBEDDED_TWINS.items():
        row = rows[drill]
        matched = [line for line in row["failed_checks"] if re.search(twin.fails, line)]
        if row["verdict"] == "passed" or not matched:
            wrong[drill] = (row["verdict"], row["failed_checks"] or row["reason"])
        else:
            print(f"{drill}: {matched[0]}")  # the table of README.md, from this run
    assert wrong == {}, "drills that did not fail as their twin says:\n" + "\n".join(
        f"{d}: {w}" for d, w in wrong.items()
    )
    assert RollbackLedger(tmp_path / "ledger.jsonl").pending() == []
    assert healthy(embedded) == []
