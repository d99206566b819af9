from kubedrill.backends.prom import Series
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
