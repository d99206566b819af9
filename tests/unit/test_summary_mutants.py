"""The run summary as it is read: the terminal table, the Markdown and HTML pages, the history file, the
saved summary and the Allure performance metrics, each compared whole for a small run.

Written against mutation testing (``make mutation``): the outputs are what an operator reads (or what
Allure and the next run read back), so they are pinned exactly rather than by fragments.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kubedrill.report import summary
from kubedrill.report.summary import DrillRow, TrendPoint

RTO_LINE = "[FAIL] RTO: expected ≤ 120 s, observed 130.000 s"


def passed() -> DrillRow:
    return DrillRow(
        nodeid="drills/test_etcd.py::test_leader_kill",
        drill="etcd-leader-kill",
        title="etcd leader kill",
        faults=["kill etcd on cp-2"],
        metrics={"availability": 0.975, "longest_outage_s": 1.25, "leader_election_s": 2.5},
        verdict="passed",
        started=1000.5,
        duration_s=20.25,
        checks=[
            {"name": "availability", "impact": "users", "ok": True, "line": "[ok  ] availability", "hint": ""},
            {"name": "election", "impact": "recovery", "ok": True, "line": "[ok  ] election", "hint": ""},
        ],
    )


def violated() -> DrillRow:
    return DrillRow(
        nodeid="drills/test_dr.py::test_restore",
        drill="etcd-restore",
        title="etcd restore",
        faults=["stop every etcd", "restore"],
        metrics={"rto_s": 130.0},
        failed_checks=[RTO_LINE, "[FAIL] <ledger>"],
        verdict="SLO violated",
        started=2000.0,
        checks=[
            {"name": "RTO", "impact": "recovery", "ok": False, "line": RTO_LINE, "hint": "the phase timeline"},
            {"name": "ledger", "impact": "users", "ok": False, "line": "[FAIL] <ledger>", "hint": "the ledger"},
        ],
    )


# ---------------------------------------------------------------- the terminal table

TABLE = (
    "drill             fault                      recovery                  longest outage  availability  verdict\n"
    "----------------  -------------------------  ------------------------  --------------  ------------  "
    "------------\n"
    "etcd-leader-kill  kill etcd on cp-2          2.50 s (new etcd leader)  1.25 s          97.5 %        passed\n"
    "etcd-restore      stop every etcd (+1 more)  130.00 s (RTO)            -               -             SLO violated"
)


def natural_width(rows: list[DrillRow]) -> int:
    """The width the table takes when nothing has to give way: its rule line, which has no padding."""
    return len(summary.text_table(rows, width=10_000).splitlines()[1])


def test_the_text_table_reads_whole() -> None:
    assert summary.text_table([passed(), violated()]) == TABLE
    assert natural_width([passed(), violated()]) == 113


def test_a_table_that_fits_exactly_is_left_alone() -> None:
    rows = [passed(), violated()]
    assert summary.text_table(rows, width=113) == TABLE
    narrow = passed()  # a fault column narrower than the 12 it may shrink to
    narrow.faults = ["kill a"]
    assert summary.text_table([narrow], width=natural_width([narrow])) == summary.text_table([narrow], width=10_000)


def test_the_fault_column_gives_way_first_down_to_12() -> None:
    rows = [passed(), violated()]
    lines = summary.text_table(rows, width=112).splitlines()
    assert lines[1].split("  ")[1] == "-" * 24  # the fault column, one narrower
    assert lines[3].startswith("etcd-restore      stop every etcd (+1 mor…  130.00 s (RTO)  ")
    tiny = summary.text_table(rows, width=40).splitlines()
    assert tiny[1].split("  ")[1] == "-" * 12
    assert tiny[3].startswith("etcd-restore      stop every …  130.00 s (RTO)  ")


def test_the_default_width_is_160() -> None:
    wide = passed()
    wide.faults = ["f" * 73]  # 48 characters over the 25 of the table above: 161 in all
    assert natural_width([wide, violated()]) == 161
    lines = summary.text_table([wide, violated()]).splitlines()
    assert len(lines[1]) == 160
    assert lines[2].split("  ")[1] == "f" * 71 + "…"


# ---------------------------------------------------------------- Markdown and HTML

MARKDOWN = """# nightly

1 passed, 1 SLO violated

**resilience score: 50.0 / 100 (5 of 10 weighted points; users 1/2, recovery 1/2)**

| drill | fault | recovery | longest outage | availability | verdict |
|---|---|---|---|---|---|
| etcd-leader-kill | kill etcd on cp-2 | 2.50 s (new etcd leader) | 1.25 s | 97.5 % | passed |
| etcd-restore | stop every etcd (+1 more) | 130.00 s (RTO) | - | - | SLO violated |

## What to look at (failed checks, costliest first)

- [users ×3] etcd-restore: [FAIL] <ledger>; where to look: the ledger
- [recovery ×2] etcd-restore: [FAIL] RTO: expected ≤ 120 s, observed 130.000 s; where to look: the phase timeline

## What failed

- **etcd-restore** (SLO violated): [FAIL] RTO: expected ≤ 120 s, observed 130.000 s; [FAIL] <ledger>

## Cluster

- backend: local
- kubernetes: 1.34
"""


def test_the_markdown_page_reads_whole() -> None:
    env = {"kubernetes": "1.34", "backend": "local"}
    assert summary.markdown([passed(), violated()], "nightly", env) == MARKDOWN


def test_a_markdown_page_of_nothing_says_so() -> None:
    assert summary.markdown([], "nightly", {}) == (
        "# nightly\n\nno drills ran\n\n**resilience score: none (no check was judged)**\n\n"
        "| drill | fault | recovery | longest outage | availability | verdict |\n"
        "|---|---|---|---|---|---|\n"
    )


def test_a_drill_that_did_not_run_is_listed_with_its_reason() -> None:
    r = DrillRow("n", "d", "t", verdict="not run", reason="pre-flight: 1 node NotReady")
    text = summary.markdown([r], "t", {})
    assert text.endswith("## What failed\n\n- **d** (not run): pre-flight: 1 node NotReady\n")


HEAD = (
    "<tr><th>drill</th><th>fault</th><th>recovery</th><th>longest outage</th><th>availability</th><th>verdict</th></tr>"
)


def test_the_html_page_s_table_tally_links_and_cluster() -> None:
    page = summary.html_page(
        [passed(), violated()],
        "nightly",
        {"kubernetes": "1.34", "backend": "<local>"},
        links=[("Allure report", "allure/index.html"), ("history", "h.html?a=1&b=2")],
    )
    assert "<title>nightly</title>" in page
    assert (
        '<body><h1>nightly</h1><p id="links"><a href="allure/index.html">Allure report</a> · '
        '<a href="h.html?a=1&amp;b=2">history</a></p><p id="tally">1 passed, 1 SLO violated</p>\n'
        '<p id="score">resilience score: 50.0 / 100 (5 of 10 weighted points; users 1/2, recovery 1/2)</p>\n'
    ) in page
    assert (
        f'<table id="drills"><thead>{HEAD}</thead><tbody>'
        "<tr><td>etcd-leader-kill</td><td>kill etcd on cp-2</td><td>2.50 s (new etcd leader)</td><td>1.25 s</td>"
        '<td>97.5 %</td><td style="color:#2e7d32;font-weight:600">passed</td></tr>'
        "<tr><td>etcd-restore</td><td>stop every etcd (+1 more)</td><td>130.00 s (RTO)</td><td>-</td><td>-</td>"
        '<td style="color:#c62828;font-weight:600">SLO violated</td></tr>'
        '<tr class="why"><td></td><td colspan="5">[FAIL] RTO: expected ≤ 120 s, observed 130.000 s<br>'
        "[FAIL] &lt;ledger&gt;</td></tr></tbody></table>\n"
        '<h2>What to look at</h2><ol id="findings"><li>[users ×3] etcd-restore: [FAIL] &lt;ledger&gt;; '
        "where to look: the ledger</li><li>[recovery ×2] "
        "etcd-restore: [FAIL] RTO: expected ≤ 120 s, observed 130.000 s; where to look: the phase timeline</li></ol>"
        "<h2>Cluster</h2><ul><li>backend: &lt;local&gt;</li><li>kubernetes: 1.34</li></ul></body></html>\n"
    ) in page
    assert "Trends across runs" not in page


def test_the_html_page_colours_unknown_verdicts_grey_and_shows_reasons() -> None:
    r = DrillRow("n", "d", "t", verdict="skipped", reason="needs --allow-quorum-loss")
    page = summary.html_page([r], "t", {})
    assert '<td style="color:#455a64;font-weight:600">skipped</td></tr>' in page
    assert '<tr class="why"><td></td><td colspan="5">needs --allow-quorum-loss</td></tr>' in page
    assert '<p id="links">' not in page
    assert '<body><h1>t</h1><p id="tally">1 skipped</p>' in page


def test_an_empty_html_page_says_no_drills_ran() -> None:
    page = summary.html_page([], "t", {})
    assert '<p id="tally">no drills ran</p>' in page
    assert f"<thead>{HEAD}</thead><tbody></tbody>" in page
    assert "<h2>Cluster</h2><ul></ul></body>" in page


def test_the_trend_plot_is_inline() -> None:
    page = summary.html_page([], "t", {}, trend_png="QUJD")
    assert '</table>\n<h2>Trends across runs</h2><img alt="trends" src="data:image/png;base64,QUJD"><h2>Cluster' in page


def test_verdicts_are_counted_in_order_of_first_appearance() -> None:
    rows = [violated(), passed(), passed(), violated(), passed()]
    assert summary.verdict_counts(rows) == {"SLO violated": 2, "passed": 3}
    assert list(summary.verdict_counts(rows)) == ["SLO violated", "passed"]


# ---------------------------------------------------------------- history


def test_history_lines_carry_the_run_a_utc_stamp_and_the_row(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "drills.jsonl"  # directories made as needed
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    summary.append_history(path, "run-1", [passed(), violated()])
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    at = dt.datetime.fromisoformat(first.pop("at"))
    assert at.utcoffset() == dt.timedelta(0)
    assert before <= at <= dt.datetime.now(dt.UTC)
    assert first == {"run": "run-1", **summary.asdict(passed())}
    assert json.loads(lines[1])["drill"] == "etcd-restore"


def test_history_is_one_line_per_drill_with_no_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "drills.jsonl"
    for run in ("run-1", "run-2", "run-3"):
        summary.append_history(path, run, [passed()])
    text = path.read_text()
    assert text.endswith("}\n")
    assert text.count("\n") == 3
    assert "\n\n" not in text


def test_a_one_byte_torn_history_does_not_swallow_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "drills.jsonl"
    path.write_text("{")  # a run killed right after it began writing
    summary.append_history(path, "run-2", [passed()])
    assert [e["run"] for e in summary.load_history(path)] == ["run-2"]
    assert path.read_text().startswith("{\n{")


def test_only_skipped_drills_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "drills.jsonl"
    summary.append_history(path, "run-1", [DrillRow("n", "d", "t", verdict="skipped")])
    assert not path.exists()


def test_history_keeps_exactly_the_newest_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary, "HISTORY_KEEP", 2)
    path = tmp_path / "drills.jsonl"
    summary.append_history(path, "run-1", [passed(), violated()])
    summary.append_history(path, "run-2", [passed()])
    assert [e["run"] for e in summary.load_history(path)] == ["run-1", "run-1", "run-2"]
    summary.append_history(path, "run-3", [passed()])
    assert [e["run"] for e in summary.load_history(path)] == ["run-2", "run-3"]
    assert not path.with_suffix(".trimming").exists()


def test_only_entries_with_a_run_and_a_drill_are_read_back(tmp_path: Path) -> None:
    path = tmp_path / "drills.jsonl"
    good = {"run": "r", "drill": "d"}
    lines = ['["run", "drill"]', '"run drill"', '{"run": "r"}', '{"drill": "d"}', "", "{not json", json.dumps(good)]
    path.write_text("\n".join(lines) + "\n")
    assert summary.load_history(path) == [good]
    assert summary.load_history(tmp_path / "missing.jsonl") == []


def test_a_trend_is_the_drill_s_numeric_figure_run_by_run() -> None:
    history = [
        {"run": "r1", "at": "2026-12-01T02:00:00+00:00", "drill": "d", "verdict": "passed", "metrics": {"rto_s": 8}},
        {"run": "r2", "drill": "d", "metrics": {"rto_s": 9.5}},  # no stamp, no verdict
        {"run": "r3", "drill": "other", "metrics": {"rto_s": 1.0}},
        {"run": "r4", "drill": "d", "metrics": {"rto_s": None}},
        {"run": "r5", "drill": "d", "metrics": None},
        {"run": "r6", "drill": "d", "metrics": {"rto_s": "7"}},
    ]
    assert summary.trend(history, "d", "rto_s") == [
        TrendPoint("r1", "2026-12-01T02:00:00+00:00", 8.0, "passed"),
        TrendPoint("r2", "", 9.5, ""),
    ]


# ---------------------------------------------------------------- saved summary and Allure metrics


def test_the_summary_saved_with_the_results_loads_back_as_it_was(tmp_path: Path) -> None:
    rows = [passed(), violated()]
    path = summary.save(tmp_path, rows, "nightly", {"backend": "local"}, "QUJD")
    assert path == tmp_path / summary.SUMMARY_FILE
    assert json.loads(path.read_text()) == {
        "title": "nightly",
        "environment": {"backend": "local"},
        "trend_png": "QUJD",
        "rows": [summary.asdict(r) for r in rows],
    }
    assert summary.load(tmp_path) == (rows, "nightly", {"backend": "local"}, "QUJD")


def test_a_summary_without_a_trend_loads_with_an_empty_one(tmp_path: Path) -> None:
    (tmp_path / summary.SUMMARY_FILE).write_text(json.dumps({"title": 3, "environment": {}, "rows": []}))
    assert summary.load(tmp_path) == ([], "3", {}, "")


@pytest.mark.parametrize(
    "text",
    [None, "{not json", '{"environment": {}, "rows": []}', '{"title": "t", "environment": {}, "rows": [{"x": 1}]}'],
)
def test_a_missing_or_damaged_summary_is_none(tmp_path: Path, text: str | None) -> None:
    if text is not None:
        (tmp_path / summary.SUMMARY_FILE).write_text(text)
    assert summary.load(tmp_path) is None


def test_each_drill_figure_is_an_allure_performance_metric() -> None:
    assert summary.perf_metrics([passed()])[1:] == [
        {
            "id": "drills/test_etcd.py::test_leader_kill:recovery",
            "key": "recovery.etcd-leader-kill",
            "value": 2.5,
            "start": 1000500,
            "stop": 1020750,
            "title": "etcd-leader-kill: new etcd leader",
            "unit": "s",
            "better": "lower",
            "group": "recovery",
        },
        {
            "id": "drills/test_etcd.py::test_leader_kill:availability",
            "key": "availability.etcd-leader-kill",
            "value": 97.5,
            "start": 1000500,
            "stop": 1020750,
            "title": "etcd-leader-kill: write availability",
            "unit": "%",
            "better": "higher",
            "group": "availability",
        },
        {
            "id": "drills/test_etcd.py::test_leader_kill:election",
            "key": "election.etcd-leader-kill",
            "value": 2.5,
            "start": 1000500,
            "stop": 1020750,
            "title": "etcd-leader-kill: leader_election_s",
            "unit": "s",
            "better": "lower",
            "group": "election",
        },
        {
            "id": "drills/test_etcd.py::test_leader_kill:outage",
            "key": "outage.etcd-leader-kill",
            "value": 1.25,
            "start": 1000500,
            "stop": 1020750,
            "title": "etcd-leader-kill: longest_outage_s",
            "unit": "s",
            "better": "lower",
            "group": "outage",
        },
    ]


def test_the_run_s_resilience_score_is_a_metric_over_every_drill() -> None:
    (metric,) = [m for m in summary.perf_metrics([passed(), violated()]) if m["group"] == "resilience"]
    assert metric == {
        "id": "kubedrill-run:resilience",
        "key": "resilience.run",
        "value": 50.0,
        "start": 1000500,  # the first drill's start
        "stop": 2000000,  # the last end: the restore started later, its length unknown
        "title": "resilience score of the run (0-100)",
        "unit": "points",
        "better": "higher",
        "group": "resilience",
    }
    assert [m["group"] for m in summary.perf_metrics([DrillRow("n", "d", "t", verdict="broken")])] == []


def test_metrics_are_rounded_to_the_millisecond_and_an_unfinished_drill_has_no_length() -> None:
    r = violated()
    r.metrics = {"rto_s": 130.12345, "availability": None}
    r.checks = []
    metrics = summary.perf_metrics([r])
    assert [(m["group"], m["value"], m["start"], m["stop"]) for m in metrics] == [
        ("recovery", 130.123, 2000000, 2000000),
        ("rto", 130.123, 2000000, 2000000),
    ]
    assert metrics[0]["title"] == "etcd-restore: RTO"
    assert metrics[1]["title"] == "etcd-restore: rto_s"
    assert summary.perf_metrics([DrillRow("n", "d", "t")]) == []


# ---------------------------------------------------------------- alert coverage and findings, pinned whole


def paged() -> DrillRow:
    row = passed()
    row.drill = "etcd-quorum-loss-paged"
    row.alerts = [
        {"fault": "stop etcd on cp-1 | cp-2", "alert": "EtcdClusterDown", "fired_s": 59.72, "budget_s": 64.0},
        {"fault": "stop etcd on cp-1 | cp-2", "alert": "etcdNoLeader", "fired_s": None, "budget_s": 64.0},
    ]
    row.checks = [{"name": "x", "impact": "signal", "ok": False, "line": "[FAIL] a|b", "hint": "look|here"}]
    return row


def test_the_markdown_page_keeps_its_drill_table_above_the_alert_coverage_and_escapes_every_pipe() -> None:
    page = summary.markdown([paged()], "Drills", {})
    table_at, coverage_at = page.index(summary.markdown_table([paged()])), page.index("## Alert coverage")
    assert table_at < coverage_at
    assert page[coverage_at:].split("\n\n## ")[0] == (
        "## Alert coverage\n\n"
        "| drill | fault | alert | time to fire |\n"
        "|---|---|---|---|\n"
        "| etcd-quorum-loss-paged | stop etcd on cp-1 \\| cp-2 | EtcdClusterDown | 59.7 s (budget 64 s) |\n"
        "| etcd-quorum-loss-paged | stop etcd on cp-1 \\| cp-2 | etcdNoLeader | did not fire (budget 64 s) |"
    )
    assert "- [signal ×1] etcd-quorum-loss-paged: [FAIL] a\\|b; where to look: look\\|here\n" in page


def test_the_html_page_s_alert_coverage_table_whole() -> None:
    page = summary.html_page([paged()], "Drills", {})
    assert (
        '<h2>Alert coverage</h2><table id="alerts"><thead><tr><th>drill</th><th>fault</th><th>alert</th>'
        "<th>time to fire</th></tr></thead><tbody>"
        "<tr><td>etcd-quorum-loss-paged</td><td>stop etcd on cp-1 | cp-2</td><td>EtcdClusterDown</td>"
        "<td>59.7 s (budget 64 s)</td></tr>"
        "<tr><td>etcd-quorum-loss-paged</td><td>stop etcd on cp-1 | cp-2</td><td>etcdNoLeader</td>"
        "<td>did not fire (budget 64 s)</td></tr></tbody></table>"
    ) in page
    assert "Alert coverage" not in summary.html_page([passed()], "Drills", {})


def test_the_score_metric_spans_from_the_first_start_to_the_last_end_of_the_drills_that_started() -> None:
    never = DrillRow("n", "refused", "t", verdict="SLO violated", started=0.0, checks=violated().checks)
    last = violated()
    last.duration_s = 30.5
    (metric,) = [m for m in summary.perf_metrics([never, passed(), last]) if m["group"] == "resilience"]
    assert (metric["start"], metric["stop"]) == (1000500, 2030500)
    (alone,) = [m for m in summary.perf_metrics([never]) if m["group"] == "resilience"]
    assert (alone["start"], alone["stop"]) == (0, 0)  # none started: no span to show
