"""Every experiment in scenarios/ is a valid Chaos Toolkit experiment whose activities exist in kubedrill."""

from pathlib import Path

import pytest

from kubedrill.chaos import activities, runner
from kubedrill.errors import ConfigError

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


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


def test_a_broken_experiment_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: t\ndescription: d\nmethod:\n- type: action\n  name: x\n  provider:\n"
        "    type: python\n    module: kubedrill.chaos.activities\n    func: start_drill\n    arguments: {nope: 1}\n"
    )
    with pytest.raises(ConfigError, match=r"bad.yaml: \(experiment\): expected a valid Chaos Toolkit experiment"):
        runner.load(bad)


def test_every_fault_activity_can_be_planned_for_a_dry_run() -> None:
    faults = {
        "move_etcd_leader",
        "kill_etcd_member",
        "restore_etcd_from_snapshot",
        "kill_component",
        "stop_every_instance",
    }
    for name in faults:
        assert hasattr(activities, f"plan_{name}"), f"--dry-run cannot show what {name} would do"
