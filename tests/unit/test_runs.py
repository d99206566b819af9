"""The run registry: how a drill travels from start_drill to the activities after it, through chaoslib's
configuration, without module-level state (no cluster: the drills here are stand-ins)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml
from chaoslib.experiment import run_experiment

from kubedrill.chaos import activities, runner
from kubedrill.chaos.runs import NO_REGISTRY, NOT_STARTED, RUNS_KEY, Runs, current, run_id, runs_of
from kubedrill.drill import DrillRun
from kubedrill.errors import FaultInjectionError, PreconditionFailed
from kubedrill.settings import RunSettings

SEEN: list[Any] = []  # what the stand-in activities below saw, for the test that ran them


def drill(refused: PreconditionFailed | None = None) -> DrillRun:
    return cast(DrillRun, SimpleNamespace(refused=refused))


def test_two_runs_in_one_process_cannot_see_each_other() -> None:
    first, second = Runs(), Runs()
    a = drill()
    first.add("chaos-run", a)
    assert current({RUNS_KEY: first}) is a
    assert second.get("chaos-run") is None
    with pytest.raises(PreconditionFailed) as e:
        current({RUNS_KEY: second})
    assert str(e.value) == NOT_STARTED
    assert first.pop("chaos-run") is a
    assert first.pop("chaos-run") is None


def test_an_activity_without_start_drill_fails_as_it_always_did() -> None:
    for configuration in (None, {}, {RUNS_KEY: Runs()}, {RUNS_KEY: Runs(), "kubedrill_run_id": "x"}):
        with pytest.raises(PreconditionFailed) as e:
            activities.judge_fault_window(configuration=configuration)
        assert str(e.value) == "no drill started: the experiment's method must begin with start_drill"
    assert activities.finish_drill(configuration={RUNS_KEY: Runs()}) == {"reverted": "nothing: no drill was started"}


def test_a_refused_drill_injects_nothing_further() -> None:
    runs = Runs()
    runs.add("r", drill(refused=PreconditionFailed("pre-flight: 2 of 3 nodes Ready")))
    with pytest.raises(PreconditionFailed, match="not run: the drill was refused before any fault: pre-flight"):
        runs.current("r")


def test_a_refusal_before_any_drill_existed_is_recorded_and_fails_the_hypothesis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> DrillRun:
        raise PreconditionFailed("context prod-eu-1 is not allowed")

    monkeypatch.setattr(DrillRun, "start", refuse)
    configuration: dict[str, Any] = {RUNS_KEY: Runs(), "kubedrill_run_id": "r1"}
    assert activities.drill_slos_hold(configuration=configuration)  # before the method: nothing violated
    with pytest.raises(PreconditionFailed, match="prod-eu-1"):
        activities.start_drill("d", configuration=configuration)
    runs = runs_of(configuration)
    assert runs is not None
    assert str(runs.refusal("r1")) == "context prod-eu-1 is not allowed"
    assert runs.refusal("chaos-run") is None  # another run's id sees nothing
    assert not activities.drill_slos_hold(configuration=configuration)
    assert str(runs.pop_refusal("r1")) == "context prod-eu-1 is not allowed"
    assert runs.pop_refusal("r1") is None


def test_the_game_day_gate_reaches_the_drill_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def gate(d: DrillRun, what: str) -> None: ...

    started: list[Any] = []

    def start(*args: Any, **kwargs: Any) -> DrillRun:
        started.append(kwargs.get("gate"))
        raise PreconditionFailed("stop here")

    monkeypatch.setattr(DrillRun, "start", start)
    with pytest.raises(PreconditionFailed):
        activities.start_drill("d", configuration={RUNS_KEY: Runs(gate=gate)})
    with pytest.raises(PreconditionFailed):
        activities.start_drill("d", configuration={RUNS_KEY: Runs()})
    assert started == [gate, None]


def test_without_a_registry_nothing_starts_and_the_hypothesis_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DrillRun, "start", lambda *a, **k: pytest.fail("a drill started without a registry"))
    with pytest.raises(PreconditionFailed) as started:
        activities.start_drill("d", configuration={})
    with pytest.raises(PreconditionFailed) as held:
        activities.drill_slos_hold(configuration={})
    assert str(started.value) == str(held.value) == NO_REGISTRY
    assert run_id(None) == "chaos-run"


# ---- through chaoslib itself: what `chaos run` does with the configuration


def record(configuration: dict[str, Any] | None = None) -> bool:
    SEEN.append(runs_of(configuration))
    return True


def step(module: str, func: str) -> dict[str, Any]:
    provider = {"type": "python", "module": module, "func": func}
    return {"type": "probe", "name": func, "tolerance": True, "provider": provider}


def experiment(*funcs: str) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "title": "t",
        "description": "d",
        "controls": [{"name": "redaction", "provider": {"type": "python", "module": "kubedrill.chaos.control"}}],
        "steady-state-hypothesis": {
            "title": "h",
            "probes": [step(__name__, "record")],
        },
        "method": [step(*x.split(":")) for x in funcs],
    }


def test_under_chaos_run_the_control_gives_every_activity_of_a_run_one_registry_of_its_own() -> None:
    SEEN.clear()
    for _ in range(2):  # two runs in one process
        journal = run_experiment(experiment(f"{__name__}:record", f"{__name__}:record"))
        assert journal["status"] == "completed"
        json.dumps(journal)  # nothing in the journal is a live object
    assert len(SEEN) == 8  # per run: the hypothesis before, two method steps, the hypothesis after
    assert all(isinstance(r, Runs) for r in SEEN)
    first, second = SEEN[:4], SEEN[4:]
    assert all(r is first[0] for r in first)
    assert all(r is second[0] for r in second)
    assert first[0] is not second[0]


def test_the_runner_passes_its_own_registry_and_keeps_it_out_of_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "no-start.yaml"
    path.write_text(yaml.safe_dump(experiment("kubedrill.chaos.activities:judge_fault_window")))
    with pytest.raises(FaultInjectionError) as e:
        runner.run(path, RunSettings(), journal_dir=tmp_path / "journals")
    assert "never started a drill" in str(e.value)
    assert "no drill started" in str(e.value)  # the runner's registry reached the activity: not NO_REGISTRY
    assert "must begin with start_drill" in str(e.value)
    (journal_file,) = (tmp_path / "journals").glob("journal-*.json")
    journal = json.loads(journal_file.read_text())
    assert journal["experiment"]["configuration"][RUNS_KEY] == "the run's drills (given by kubedrill's pytest runner)"
    assert "Runs" not in journal_file.read_text()
