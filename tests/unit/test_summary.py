"""The run summary: rows, verdicts, the tables, history and trends."""

import json
from pathlib import Path

import pytest

from kubedrill.errors import FaultInjectionError, PreconditionFailed, RollbackFailed, SloViolation
from kubedrill.pytest_plugin import verdict_of
from kubedrill.report import summary
from kubedrill.report.summary import DrillRow


def row(drill: str = "etcd-leader-kill", verdict: str = "passed", **metrics: float | None) -> DrillRow:
    return DrillRow(
        nodeid=f"drills/test_x.py::test_{drill}",
        drill=drill,
        title=drill,
        faults=["kill etcd on cp-2"],
        metrics=dict(metrics),
        verdict=verdict,
    )


def test_the_recovery_column_takes_the_drills_own_figure_first() -> None:
    assert row(rto_s=7.9, time_to_recover_s=0.0).recovery() == ("RTO", 7.9)
    assert row(leader_election_s=1.4, time_to_recover_s=0.0).recovery() == ("new etcd leader", 1.4)
    assert row(time_to_recover_s=0.2).recovery() == ("API steady after fault", 0.2)
    assert row().recovery() is None


def test_cells_format_units_and_mark_what_was_not_measured() -> None:
    r = row(availability=0.9783, longest_outage_s=1.2, leader_election_s=1.36)
    assert r.cells() == [
        "etcd-leader-kill",
        "kill etcd on cp-2",
        "1.36 s (new etcd leader)",
        "1.20 s",
        "97.8 %",
        "passed",
    ]
    assert row().cells()[2:5] == ["-", "-", "-"]
    several = DrillRow("n", "d", "t", faults=["a", "b", "c"])
    assert several.fault == "a (+2 more)"
    assert DrillRow("n", "d", "t").fault == "none injected"


def test_the_text_table_has_a_header_rule_and_one_line_per_drill_and_fits_the_width() -> None:
    rows = [row(availability=1.0), row("etcd-restore", "SLO violated", rto_s=130.0)]
    rows[0].faults = ["a very long fault description " * 5]
    text = summary.text_table(rows, width=100)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["drill", "fault"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 4
    assert all(len(line) <= 100 for line in lines)
    assert "…" in lines[2]
    assert lines[3].endswith("SLO violated")


def test_markdown_names_every_failed_check_and_escapes_pipes() -> None:
    bad = row("etcd-restore", "SLO violated", rto_s=130.0)
    bad.failed_checks = ["[FAIL] RTO: expected ≤ 120 s, observed 130.000 s"]
    bad.faults = ["a | b"]
    text = summary.markdown([row(), bad], "run", {"backend": "local"})
    assert "1 passed, 1 SLO violated" in text
    assert "a \\| b" in text
    assert "- **etcd-restore** (SLO violated): [FAIL] RTO: expected ≤ 120 s, observed 130.000 s" in text
    assert "- backend: local" in text


def test_the_html_page_is_self_contained_and_escapes_text() -> None:
    r = row(availability=0.5)
    r.failed_checks = ["<script>alert(1)</script>"]
    page = summary.html_page([r], "run <1>", {}, trend_png="QUJD")
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert 'src="data:image/png;base64,QUJD"' in page
    assert "http://" not in page
    assert "https://" not in page


@pytest.mark.parametrize(
    ("outcome", "exc", "expected"),
    [
        ("passed", None, "passed"),
        ("failed", SloViolation("SloViolation in x (1 of 9 checks failed):\n[FAIL] …"), "SLO violated"),
        ("failed", PreconditionFailed("pre-flight: steady state does not hold"), "not run"),
        ("failed", FaultInjectionError("kill did not happen"), "broken"),
        ("failed", RollbackFailed([("stop etcd", RuntimeError("boom"))]), "broken"),
        ("failed", RuntimeError("PreconditionFailed: refusing context prod"), "not run"),
        ("skipped", None, "skipped"),
    ],
)
def test_verdicts_separate_a_broken_slo_from_a_drill_that_could_not_run(
    outcome: str, exc: BaseException | None, expected: str
) -> None:
    verdict, reason = verdict_of(outcome, exc)
    assert verdict == expected
    if exc is not None and outcome == "failed":
        assert reason


def test_history_appends_one_line_per_drill_that_ran_and_skips_damaged_lines(tmp_path: Path) -> None:
    path = tmp_path / "history" / "drills.jsonl"
    summary.append_history(path, "run-1", [row(leader_election_s=1.4), row("skipped-one", "skipped")])
    with path.open("a") as f:
        f.write('{"run": "run-2", "drill": "etcd-le')  # a run killed mid-write
    summary.append_history(path, "run-3", [row(leader_election_s=1.1)])
    entries = summary.load_history(path)
    assert [(e["run"], e["drill"]) for e in entries] == [("run-1", "etcd-leader-kill"), ("run-3", "etcd-leader-kill")]
    points = summary.trend(entries, "etcd-leader-kill", "leader_election_s")
    assert [(p.run, p.value) for p in points] == [("run-1", 1.4), ("run-3", 1.1)]


def test_history_keeps_the_newest_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary, "HISTORY_KEEP", 3)
    path = tmp_path / "drills.jsonl"
    for i in range(5):
        summary.append_history(path, f"run-{i}", [row(rto_s=float(i))])
    assert [e["run"] for e in summary.load_history(path)] == ["run-2", "run-3", "run-4"]


def test_history_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(summary.HISTORY_ENV, raising=False)
    assert summary.history_path(tmp_path) == tmp_path / "history" / "drills.jsonl"
    monkeypatch.setenv(summary.HISTORY_ENV, str(tmp_path / "elsewhere.jsonl"))
    assert summary.history_path(tmp_path) == tmp_path / "elsewhere.jsonl"


def test_a_trend_needs_two_runs_and_then_is_a_png() -> None:
    one = [{"run": "r1", "drill": "d", "verdict": "passed", "metrics": {"rto_s": 7.9}}]
    assert summary.trends_png(one, ["d"], "t") is None
    two = [*one, {"run": "r2", "drill": "d", "verdict": "SLO violated", "metrics": {"rto_s": 130.0}}]
    png = summary.trends_png(two, ["d"], "t")
    assert png is not None
    assert png.startswith(b"\x89PNG")
    assert json.dumps(two)  # history entries stay plain JSON
