"""The run's resilience score: weights by what a check protects, drills that judged nothing, trends."""

from __future__ import annotations

from typing import Any

import pytest

from kubedrill.model import Check, Impact
from kubedrill.report import score, summary
from kubedrill.report.summary import DrillRow


def check(impact: str, ok: bool, name: str = "c", hint: str = "") -> dict[str, Any]:
    return score.record(Check(name, "e", "o", ok, hint, impact=Impact(impact)))


def test_the_weights_order_users_over_recovery_over_signal() -> None:
    assert score.WEIGHTS == {Impact.USERS: 3, Impact.RECOVERY: 2, Impact.SIGNAL: 1}
    every = [check("users", True), check("recovery", True), check("signal", True)]
    assert score.score([("d", "passed", every)]).value == 100.0
    users_failed = score.score([("d", "SLO violated", [check("users", False), every[1], every[2]])])
    recovery_failed = score.score([("d", "SLO violated", [every[0], check("recovery", False), every[2]])])
    signal_failed = score.score([("d", "SLO violated", [every[0], every[1], check("signal", False)])])
    assert (users_failed.value, recovery_failed.value, signal_failed.value) == (50.0, 66.7, 83.3)
    assert (users_failed.earned, users_failed.possible) == (3, 6)


def test_the_headline_counts_each_kind_and_names_drills_that_judged_nothing() -> None:
    rows = [
        ("etcd-leader-kill", "passed", [check("users", True), check("recovery", True), check("recovery", False)]),
        ("etcd-restore", "not run", []),
        ("cp-apiserver-kill", "broken", []),
        ("net-policy-partition", "skipped", []),
    ]
    result = score.score(rows)
    assert result.headline() == (
        "resilience score: 71.4 / 100 (5 of 7 weighted points; users 1/1, recovery 1/2); "
        "not (fully) scored: etcd-restore (not run), cp-apiserver-kill (broken)"
    )
    assert result.unscored == [("etcd-restore", "not run"), ("cp-apiserver-kill", "broken")]


def test_a_drill_that_broke_after_judging_counts_with_what_it_judged() -> None:
    # a wait that gave up is a failed check first (then the drill raises and pytest calls it broken)
    result = score.score([("etcd-leader-kill", "broken", [check("recovery", False, "etcd leader elected")])])
    # counted, and named beside the score: what it did not get to judge is missing from it
    assert (result.value, result.unscored) == (0.0, [("etcd-leader-kill", "broken after 1 checks")])
    assert [f.drill for f in result.findings] == ["etcd-leader-kill"]


def test_no_check_judged_is_no_score() -> None:
    assert score.score([]).value is None
    assert score.score([("d", "not run", [])]).headline().startswith("resilience score: none (no check was judged)")


def test_findings_come_costliest_first_with_the_check_s_hint_or_where_to_look() -> None:
    rows = [
        ("a", "SLO violated", [check("signal", False, "alert X fires"), check("recovery", False, "RTO", "phases")]),
        ("b", "SLO violated", [check("users", False, "availability"), check("users", True)]),
    ]
    findings = score.score(rows).findings
    assert [(f.drill, f.impact) for f in findings] == [
        ("b", Impact.USERS),
        ("a", Impact.RECOVERY),
        ("a", Impact.SIGNAL),
    ]
    assert findings[1].look_at == "phases"  # the check's own hint first
    assert findings[0].look_at == score.LOOK_AT[Impact.USERS]
    assert findings[0].text() == (
        "[users ×3] b: [FAIL] availability: expected e, observed o; where to look: " + score.LOOK_AT[Impact.USERS]
    )


def test_a_finding_says_its_hint_once() -> None:
    record = check("recovery", False, "RTO", "see the phase timeline")
    assert record["line"] == "[FAIL] RTO: expected e, observed o"  # Check.line() would end with the hint
    (finding,) = score.score([("d", "SLO violated", [record])]).findings
    text = "[recovery ×2] d: [FAIL] RTO: expected e, observed o; where to look: see the phase timeline"
    assert finding.text() == text


def test_a_check_of_an_unknown_impact_is_left_out_of_both_sums() -> None:
    odd = {"name": "old", "impact": "legacy", "ok": False, "line": "x"}
    result = score.score([("d", "passed", [odd, check("signal", True)])])
    assert (result.value, result.earned, result.possible, result.findings) == (100.0, 1, 1, [])


def test_every_impact_has_a_weight_and_a_place_to_look() -> None:
    assert set(score.WEIGHTS) == set(Impact) == set(score.LOOK_AT)


def test_each_run_s_score_from_history_oldest_first() -> None:
    history = [
        {"run": "r1", "drill": "a", "verdict": "passed", "checks": [check("users", True)]},
        {"run": "r1", "drill": "b", "verdict": "SLO violated", "checks": [check("recovery", False)]},
        {"run": "r0-old", "drill": "a", "verdict": "passed"},  # an older kubedrill kept no checks
        {"run": "r2", "drill": "a", "verdict": "passed", "checks": [check("users", True)]},
    ]
    assert score.run_scores(history) == [("r1", 60.0), ("r2", 100.0)]


def test_the_summary_row_keeps_every_check_and_the_trend_draws_the_score(tmp_path: Any) -> None:
    row = DrillRow("n", "d", "t", verdict="passed", checks=[check("users", True)])
    path = tmp_path / "drills.jsonl"
    summary.append_history(path, "run-1", [row])
    history = summary.load_history(path)
    assert history[0]["checks"] == [check("users", True)]
    # one run: no trend yet; a second run with a score: a panel for the whole run, even with no drill figures
    assert summary.trends_png(history, ["d"], "t", with_score=True) is None
    summary.append_history(
        path, "run-2", [DrillRow("n", "d", "t", verdict="SLO violated", checks=[check("users", False)])]
    )
    history = summary.load_history(path)
    assert score.run_scores(history) == [("run-1", 100.0), ("run-2", 0.0)]
    png = summary.trends_png(history, ["d"], "t", with_score=True)
    assert png is not None
    assert png.startswith(b"\x89PNG")
    assert summary.trends_png(history, ["d"], "t") is None  # a drill's own trend leaves the run's score out


@pytest.mark.parametrize("impact", list(Impact))
def test_a_check_needs_its_impact_said(impact: Impact) -> None:
    with pytest.raises(TypeError, match="impact"):
        Check("n", "e", "o", True)  # type: ignore[call-arg]
    assert Check("n", "e", "o", True, impact=impact).impact is impact


def test_a_record_is_what_the_summary_and_the_history_read_back() -> None:
    c = Check("etcd leader elected", "≤ 5 s", "1.2 s", False, "etcdctl endpoint status", impact=Impact.RECOVERY)
    assert score.record(c) == {
        "name": "etcd leader elected",
        "impact": "recovery",
        "ok": False,
        "line": "[FAIL] etcd leader elected: expected ≤ 5 s, observed 1.2 s",
        "hint": "etcdctl endpoint status",
    }


def test_a_skipped_drill_counts_for_nothing_and_the_drills_after_it_still_count() -> None:
    rows = [
        ("skipped-one", "skipped", [check("users", False)]),  # whatever it carries
        ("a", "passed", [check("users", True), check("users", True)]),
        ("b", "SLO violated", [check("users", False)]),
    ]
    result = score.score(rows)
    assert (result.passed[Impact.USERS], result.judged[Impact.USERS]) == (2, 3)
    assert (result.earned, result.possible, result.value) == (6, 9, 66.7)
    assert [f.drill for f in result.findings] == ["b"]
    assert result.unscored == []


def test_a_finding_without_its_line_is_named_by_its_check() -> None:
    bare = {"name": "canary Available", "impact": "users", "ok": False}
    [finding] = score.score([("d", "SLO violated", [bare])]).findings
    assert finding.line == "canary Available"


def test_a_run_s_trend_score_is_the_score_of_its_lines_skips_and_odd_lines_included() -> None:
    history = [
        {"run": "r1", "drill": "s", "verdict": "skipped", "checks": [check("users", False)]},
        {"run": "r1", "drill": "a", "verdict": "passed", "checks": [check("users", True), check("signal", False)]},
        {"run": "r1", "drill": "x", "verdict": "passed", "checks": "not a list"},  # a damaged line
    ]
    rows = [("s", "skipped", history[0]["checks"]), ("a", "passed", history[1]["checks"])]
    assert score.run_scores(history) == [("r1", score.score(rows).value)] == [("r1", 75.0)]
