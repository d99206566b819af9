import pytest

from kubedrill.backends.prom import Series, Target, duration_s
from kubedrill.config import parse_prom_targets
from kubedrill.drill import lookbehind
from kubedrill.errors import ConfigError
from kubedrill.probes.prometheus import AlertRule, PromCheck, judge_alert, longest_firing_s


def test_window_placeholder_becomes_a_whole_number_of_seconds() -> None:
    c = PromCheck("leader changes", "increase(x[{window}])", ">=", 1)
    assert c.render(2.2) == "increase(x[3s])"
    assert c.render(0.1) == "increase(x[1s])"


def test_a_check_aggregates_series_and_compares() -> None:
    c = PromCheck("leader changes", "increase(x[{window}])", ">=", 1)
    assert c.judge([0.0, 1.5, 1.0], 10).ok
    assert not c.judge([0.0, 0.0], 10).ok
    assert "no series" in c.judge([], 10).observed


def test_an_alert_fires_only_when_its_condition_holds_for_its_duration() -> None:
    steady = Series({"node": "cp-1"}, [(float(t), 0.0) for t in range(100, 106)])  # 5 s without a gap
    gappy = Series({"node": "cp-2"}, [(100.0, 0), (101.0, 0), (105.0, 0), (106.0, 0)])
    assert longest_firing_s([steady], 1.0) == 5.0
    assert longest_firing_s([gappy], 1.0) == 1.0
    rule = AlertRule("etcdNoLeader", "etcd_server_has_leader == 0", for_s=3)
    assert not judge_alert(rule, [steady], 1.0).ok  # it would have fired
    assert judge_alert(rule, [gappy], 1.0).ok
    assert judge_alert(rule, [], 1.0).observed == "never true"


# ---------------------------------------------------------------- someone else's Prometheus (issue 16)


def test_job_matchers_come_from_the_profile_or_a_preset() -> None:
    check = PromCheck("x", "increase(etcd_server_leader_changes_seen_total{etcd}[{window}])", ">=", 1)
    assert check.render(12.2) == 'increase(etcd_server_leader_changes_seen_total{job="etcd"}[13s])'
    kps = parse_prom_targets({"preset": "kube-prometheus-stack"}, "p.yaml", "prometheus")
    assert check.render(12.2, kps) == 'increase(etcd_server_leader_changes_seen_total{job="kube-etcd"}[13s])'
    own = parse_prom_targets({"etcd": 'job="etcd", namespace=~"kube-.*"'}, "p.yaml", "prometheus")
    assert own.render("up{etcd}") == 'up{job="etcd", namespace=~"kube-.*"}'
    assert own.apiserver == 'job="apiserver"'


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"preset": "prometheus-operator"}, "prometheus.preset"),
        ({"etcd": "kube-etcd"}, "prometheus.etcd"),  # a job name alone is not a matcher
        ({"etcd": 'job="etcd"}'}, "prometheus.etcd"),
        ({"apiserver": 3}, "prometheus.apiserver"),
        ({"jobs": {}}, "prometheus.jobs"),
    ],
)
def test_bad_matchers_are_refused_before_anything_runs(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_prom_targets(data, "p.yaml", "prometheus")
    assert e.value.field == key


def test_no_series_fails_and_names_the_query_with_the_job_label() -> None:
    check = PromCheck("restarted", "changes(process_start_time_seconds{etcd}[{window}])", ">=", 1)
    kps = parse_prom_targets({"preset": "kube-prometheus-stack"}, "p.yaml", "prometheus")
    verdict = check.judge([], 10, kps)
    assert not verdict.ok
    assert verdict.observed == (
        'no series for changes(process_start_time_seconds{job="kube-etcd"}[10s]) (is the job label right?)'
    )


def test_an_alert_whose_metric_is_missing_fails_instead_of_not_firing() -> None:
    rule = AlertRule("etcdNoLeader", "etcd_server_has_leader{etcd} == 0", 5.0, series="etcd_server_has_leader{etcd}")
    rendered = rule.rendered(parse_prom_targets({"etcd": 'job="kube-etcd"'}, "p", "prometheus"))
    verdict = judge_alert(rendered, [], 1.0, watched=[])
    assert not verdict.ok
    assert verdict.observed == 'no series for etcd_server_has_leader{job="kube-etcd"} (is the job label right?)'


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1.0), ("15s", 15.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("", 0.0),
                          ("abc", 0.0), ("15", 0.0)]
)  # fmt: skip
def test_prometheus_durations(text: str, seconds: float) -> None:
    assert duration_s(text) == seconds


def test_the_lookbehind_is_two_scrapes_of_the_slowest_target_and_at_least_two_seconds() -> None:
    def target(interval: float) -> Target:
        return Target("j", "i", "up", "", "", interval)

    assert lookbehind([target(1.0), target(2.0)]) == 4.0
    assert lookbehind([target(30.0), target(15.0)]) == 60.0
    assert lookbehind([target(0.5)]) == 2.0
    assert lookbehind([]) == 2.0


def test_an_alert_whose_metric_has_series_is_judged_on_its_expression() -> None:
    rule = AlertRule("etcdNoLeader", "etcd_server_has_leader == 0", 5.0, series="etcd_server_has_leader")
    watched = [Series({"instance": "cp-1"}, [(100.0, 1.0), (101.0, 1.0)])]
    assert judge_alert(rule, [], 1.0, watched).ok
    held = judge_alert(rule, [Series({}, [(float(t), 0.0) for t in range(100, 107)])], 1.0, watched)
    assert not held.ok
    assert (held.expected, held.observed) == ("etcd_server_has_leader == 0 held for < 5 s", "held for 6.0 s")
