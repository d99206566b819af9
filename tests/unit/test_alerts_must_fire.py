"""Alerts a fault must fire: Prometheus' rules and alerts answers, the judgement, the watch's timing, the
coverage table. The real thing (a real Prometheus firing the seed's rules) is the quorum-loss drill's
integration test; here, what can be decided without one."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kubedrill.backends.prom import ActiveAlert, AlertingRule, alerting_rules_of, alerts_of, rfc3339_s
from kubedrill.probes import alerts
from kubedrill.probes.alerts import AlertOutcome, AlertWatch, judge
from kubedrill.report import summary
from kubedrill.report.summary import DrillRow

RULES = {
    "groups": [
        {
            "name": "kubedrill-control-plane",
            "interval": 1,
            "rules": [
                {"name": "EtcdClusterDown", "query": 'up{job="etcd"} == 0', "duration": 60, "type": "alerting"},
                {"name": "etcd:ok", "query": "up", "type": "recording"},
            ],
        },
        {"name": "slow", "interval": 30, "rules": [{"name": "TargetDown", "query": "x > 10", "duration": 600}]},
    ]
}


def test_the_rules_answer_gives_each_alerting_rule_with_its_group_s_interval() -> None:
    assert alerting_rules_of(RULES) == [
        AlertingRule("EtcdClusterDown", 'up{job="etcd"} == 0', 60.0, 1.0, "kubedrill-control-plane"),
        AlertingRule("TargetDown", "x > 10", 600.0, 30.0, "slow"),
    ]


def test_the_alerts_answer_gives_name_state_and_when_it_turned_pending() -> None:
    data = {
        "alerts": [
            {
                "labels": {"alertname": "etcdNoLeader", "instance": "10.0.0.1:2379"},
                "state": "firing",
                "activeAt": "2026-12-06T01:00:00.250000123Z",
                "value": "0e+00",
            }
        ]
    }
    (a,) = alerts_of(data)
    assert (a.name, a.state, a.labels["instance"]) == ("etcdNoLeader", "firing", "10.0.0.1:2379")
    assert a.active_at == pytest.approx(rfc3339_s("2026-12-06T01:00:00Z") + 0.25)


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("1970-01-01T00:00:01Z", 1.0),
        ("1970-01-01T00:00:01.5Z", 1.5),
        ("1970-01-01T00:00:01.123456789Z", 1.123456),  # nanoseconds: microseconds kept
        ("1970-01-01T01:00:01+01:00", 1.0),
        ("1970-01-01T01:00:01.25+01:00", 1.25),
    ],
)
def test_rfc3339_times_as_prometheus_writes_them(text: str, unix: float) -> None:
    assert rfc3339_s(text) == pytest.approx(unix)


RULE = AlertingRule("etcdNoLeader", 'etcd_server_has_leader{job="etcd"} == 0', 60.0, 1.0, "kubedrill-control-plane")


def outcome(**kw: object) -> AlertOutcome:
    base: dict[str, object] = {"alert": "etcdNoLeader", "fault": "etcd quorum lost", "rule": RULE, "scrape_s": 2.0}
    return AlertOutcome(**(base | kw))  # type: ignore[arg-type]


def test_the_budget_is_a_scrape_the_for_and_two_evaluations() -> None:
    assert outcome().budget_s == 2.0 + 60.0 + 2 * 1.0
    assert outcome(rule=None).budget_s is None


def test_an_alert_firing_within_its_budget_passes_with_its_times() -> None:
    check = judge(outcome(pending_s=3.2, firing_s=63.4))
    assert check.ok
    assert check.observed == "firing 63.4 s after the fault (pending at 3.2 s)"
    assert (
        check.expected
        == "firing ≤ 64 s after the fault (scrape 2 s + for 60 s + 2 × evaluation 1 s), not active before it began"
    )
    assert check.impact == "signal"


def test_an_alert_firing_past_its_budget_fails_and_names_the_rule_and_query() -> None:
    at_edge = judge(outcome(pending_s=3.0, firing_s=64.0 + alerts.POLL_S))
    late = judge(outcome(pending_s=9.0, firing_s=70.0))
    assert at_edge.ok
    assert not late.ok
    assert late.hint == (
        'rule etcdNoLeader (kubedrill-control-plane): etcd_server_has_leader{job="etcd"} == 0; '
        'query ALERTS{alertname="etcdNoLeader"} in Prometheus'
    )


def test_an_alert_that_never_fired_says_whether_it_was_ever_pending() -> None:
    never = judge(outcome())
    stuck = judge(outcome(pending_s=4.0))
    assert (never.ok, never.observed) == (False, "did not fire: never pending (its expression never turned true)")
    assert (stuck.ok, stuck.observed) == (False, "did not fire: pending 4.0 s after the fault, not firing by 74 s")
    assert "etcd_server_has_leader" in never.line()  # the failed line names the rule's expression


def test_an_alert_active_before_the_fault_proves_nothing() -> None:
    check = judge(outcome(active_before="firing", pending_s=0.0, firing_s=0.5))
    assert not check.ok
    assert check.observed == "already firing before the fault began: its firing proves nothing about the fault"


def test_a_rule_prometheus_does_not_have_fails_naming_those_it_has() -> None:
    check = judge(outcome(rule=None, loaded=("EtcdClusterDown", "KubeAPIDown")))
    assert not check.ok
    assert check.observed == "no such rule; loaded: EtcdClusterDown, KubeAPIDown"


@dataclass
class FakeProm:
    """Prometheus' rules and alerts answers over time (the watch's own logic; the HTTP is test_prom_http's)."""

    clock: list[float]
    timeline: list[tuple[float, list[ActiveAlert]]]  # from this time on, these alerts are active
    rules: list[AlertingRule] = field(default_factory=lambda: [RULE])
    reads: int = 0

    def alerting_rules(self) -> list[AlertingRule]:
        return self.rules

    def alerts(self) -> list[ActiveAlert]:
        self.reads += 1
        now = self.clock[0]
        return next((active for t, active in reversed(self.timeline) if now >= t), [])


def watch(timeline: list[tuple[float, list[ActiveAlert]]], names: list[str]) -> tuple[list[AlertOutcome], FakeProm]:
    clock = [1000.0]
    prom = FakeProm(clock, timeline)

    def sleep(s: float) -> None:
        clock[0] += s

    w = AlertWatch(
        prom, names, "etcd quorum lost", scrape_s=2.0, since_wall=1000.0, began_wall=995.0, clock=lambda: clock[0]
    )  # type: ignore[arg-type]
    return w.run(sleep=sleep), prom


def alert(state: str, active_at: float) -> ActiveAlert:
    return ActiveAlert("etcdNoLeader", state, active_at, {"alertname": "etcdNoLeader"})


def test_the_watch_times_pending_from_prometheus_and_firing_from_when_it_saw_it() -> None:
    (o,), prom = watch([(1003.0, [alert("pending", 1002.75)]), (1063.2, [alert("firing", 1002.75)])], ["etcdNoLeader"])
    assert o.pending_s == pytest.approx(2.75)
    assert o.firing_s == pytest.approx(63.5)  # the first poll at or after 1063.2, polling every 0.5 s
    assert judge(o).ok
    assert prom.reads == 128  # one read every 0.5 s from 1000.0 to 1063.5


def test_the_watch_gives_up_at_the_longest_budget_plus_grace() -> None:
    (o,), prom = watch([], ["etcdNoLeader"])
    assert (o.pending_s, o.firing_s) == (None, None)
    assert prom.reads == 1 + int((64.0 + alerts.GRACE_S) / alerts.POLL_S)
    assert not judge(o).ok


def test_the_watch_neither_waits_for_a_missing_rule_nor_for_one_active_before() -> None:
    (missing,), prom = watch([], ["NoSuchAlert"])
    assert (missing.rule, prom.reads) == (None, 1)  # nothing to wait for after the first read
    (before,), prom = watch([(0.0, [alert("pending", 990.0)])], ["etcdNoLeader"])  # pending since before 995
    assert (before.active_before, prom.reads) == ("pending", 1)
    assert not judge(before).ok
    # pending between the injection's start (995) and the fault taking effect (1000): the fault's, from 0 s
    (early,), _ = watch([(0.0, [alert("pending", 997.0)]), (1061.0, [alert("firing", 997.0)])], ["etcdNoLeader"])
    assert (early.active_before, early.pending_s, early.firing_s) == ("", 0.0, 61.0)


def test_the_coverage_table_is_fault_by_alert_with_the_time_to_fire() -> None:
    row = DrillRow(
        "n",
        "etcd-quorum-loss",
        "t",
        alerts=[
            outcome(firing_s=63.44).record(),
            outcome(alert="EtcdClusterDown").record() | {"budget_s": None},
        ],
    )
    assert summary.alert_coverage([row]) == [
        ["etcd-quorum-loss", "etcd quorum lost", "etcdNoLeader", "63.4 s (budget 64 s)"],
        ["etcd-quorum-loss", "etcd quorum lost", "EtcdClusterDown", "did not fire"],
    ]
    text = summary.markdown([row], "t", {})
    assert "## Alert coverage\n\n| drill | fault | alert | time to fire |\n|---|---|---|---|\n" in text
    assert "| etcd-quorum-loss | etcd quorum lost | etcdNoLeader | 63.4 s (budget 64 s) |" in text
    page = summary.html_page([row], "t", {})
    assert "<td>EtcdClusterDown</td><td>did not fire</td></tr></tbody></table>" in page
    assert (
        summary.score_lines([row])[0]
        == "alert etcdNoLeader after etcd quorum lost (etcd-quorum-loss): 63.4 s (budget 64 s)"
    )
    assert '<table id="alerts">' not in summary.html_page([DrillRow("n", "d", "t")], "t", {})
