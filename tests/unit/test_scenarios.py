"""Every experiment in scenarios/ is a valid Chaos Toolkit experiment that kubedrill can run, judge, roll back,
and show under --dry-run."""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from kubedrill.backends.cluster import Cluster
from kubedrill.chaos import activities, plans, runner
from kubedrill.errors import ConfigError
from kubedrill.faults.base import Plan

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def kubedrill_activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    """Every activity of the experiment that calls kubedrill.chaos.activities."""
    found = [
        *experiment.get("steady-state-hypothesis", {}).get("probes", []),
        *experiment["method"],
        *experiment.get("rollbacks", []),
    ]
    return [a for a in found if a["provider"].get("module") == activities.__name__]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_is_valid_and_rolls_back_through_kubedrill(path: Path) -> None:
    experiment = runner.load(path)  # chaoslib's own validation: functions and their arguments exist
    funcs = [a["provider"]["func"] for a in experiment["method"]]
    assert funcs[0] == "start_drill"
    assert [r["provider"]["func"] for r in experiment["rollbacks"]] == ["finish_drill"]
    judged = {"judge_fault_window", "assert_leader_move_slos"} & set(funcs)
    assert judged, f"{path.name} never judges its fault window"
    controls = [c["provider"].get("module") for c in experiment.get("controls", [])]
    assert "kubedrill.chaos.control" in controls, f"{path.name}: `chaos run` would write secrets unredacted"


def accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` (from YAML) is of the simple type ``hint`` names; other hints are not checked here."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(accepts(h, value) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint in (int, str):
        return isinstance(value, hint) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    return True


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_argument_a_scenario_passes_has_the_type_its_activity_takes(path: Path) -> None:
    """chaoslib checks the names of an activity's arguments, not their types: `hold_s: "5"` would reach the drill."""
    for activity in kubedrill_activities(runner.load(path)):
        func = getattr(activities, activity["provider"]["func"])
        hints = typing.get_type_hints(func)
        arguments = activity["provider"].get("arguments", {}) or {}
        inspect.signature(func).bind(**arguments)  # every required argument given, none unknown
        wrong = {k: v for k, v in arguments.items() if not accepts(hints.get(k, Any), v)}
        assert wrong == {}, f"{path.name}: {activity['name']}: {wrong} do not match {func.__name__}'s types"


def test_the_type_check_catches_a_string_where_a_number_goes() -> None:
    assert not accepts(float, "5")
    assert not accepts(float, True)
    assert accepts(float, 5)
    assert accepts(str | None, None)
    assert not accepts(int, 2.5)


def test_a_broken_experiment_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: t\ndescription: d\nmethod:\n- type: action\n  name: x\n  provider:\n"
        "    type: python\n    module: kubedrill.chaos.activities\n    func: start_drill\n    arguments: {nope: 1}\n"
    )
    with pytest.raises(ConfigError, match=r"bad.yaml: \(experiment\): expected a valid Chaos Toolkit experiment"):
        runner.load(bad)


# The faults each scenario injects: every kubedrill action of its method but the drill's set-up and the end of a
# fault that an earlier action left on (another extension's actions, chaosk8s's, print as their call).
NOT_FAULTS = ("start_drill", "start_component_everywhere")
FAULTS = [
    (path, action)
    for path in SCENARIOS
    for action in runner.load(path)["method"]
    if action["type"] == "action"
    and action["provider"]["module"] == activities.__name__
    and action["provider"]["func"] not in NOT_FAULTS
]
# Faults --dry-run cannot resolve yet: it prints their call and arguments instead of targets and commands.
NO_PLAN_YET: dict[str, str] = {}
FAKE_CLUSTER = cast(Cluster, SimpleNamespace(context="kind-test", backend="kind"))


@pytest.mark.parametrize(
    ("path", "action"),
    [
        pytest.param(
            path,
            action,
            id=f"{path.stem}:{action['provider']['func']}",
            marks=[pytest.mark.xfail(reason=NO_PLAN_YET[f], strict=True)]
            if (f := action["provider"]["func"]) in NO_PLAN_YET
            else [],
        )
        for path, action in FAULTS
    ],
)
def test_a_dry_run_shows_each_faults_resolved_plan(
    path: Path, action: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dry-run renders each fault through its ``plan_<func>`` with the scenario's arguments; the planner is
    replaced here by one that checks the real one takes those arguments (the real one reads the cluster)."""
    func = action["provider"]["func"]
    arguments = action["provider"].get("arguments", {}) or {}
    planner = getattr(activities, f"plan_{func}", None)
    assert planner is not None, f"--dry-run of {path.name} would print the call {func}(…), not what it does"
    calls = []

    def plan(cluster: Cluster, **kwargs: Any) -> Plan:
        inspect.signature(planner).bind(cluster, **kwargs)
        calls.append(kwargs)
        return Plan(f"fake.{func}", {"target": "cp-9"}, [f"{func} on cp-9"], [f"undo {func} on cp-9"])

    monkeypatch.setattr(activities, f"plan_{func}", plan)
    text = plans.render(runner.load(path), FAKE_CLUSTER)
    assert calls == [arguments]
    assert f"method: {action['name']}\n  fault fake.{func}\n    target target: cp-9\n    inject: {func} on cp-9" in text
    assert f"revert: undo {func} on cp-9" in text
    assert f"{activities.__name__}.{func}(" not in text, "the fault is planned, not merely named"
