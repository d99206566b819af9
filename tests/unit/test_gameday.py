"""Game-day plans (checked before anything is touched), the console's commands, and the after-action maths."""

import ast
import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from kubedrill import gameday
from kubedrill.errors import ConfigError
from kubedrill.gameday import Event, PlanDrill
from kubedrill.report.summary import DrillRow

ROOT = Path(__file__).resolve().parents[2]
LEADER_KILL = "drills/test_etcd.py::test_api_stays_available_when_the_etcd_leader_is_killed"


def plan(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "drill day", "drills": [{"drill": LEADER_KILL, "hypothesis": "API stays up"}]}
    data.update(overrides)
    return data


def test_the_quarterly_plan_parses_and_names_exactly_the_drills_marked_gameday() -> None:
    p = gameday.load_plan(ROOT / "scenarios" / "gameday" / "quarterly-dr.yaml", ROOT)
    assert p.name == "Quarterly DR game day"
    marked = set()
    for path in sorted((ROOT / "drills").glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and "gameday" in ast.unparse(node):
                marked.add(f"drills/{path.name}::{node.name}")
    assert {d.nodeid.partition("[")[0] for d in p.drills} == marked
    assert all(d.hypothesis for d in p.drills)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "p.yaml: (top level): expected a mapping with name and drills"),
        (plan(name=""), "p.yaml: name: expected the game day's name"),
        (plan(drills=[]), "p.yaml: drills: expected a non-empty list of drills"),
        (plan(owner="me"), "p.yaml: owner: expected one of description, drills, name"),
        (plan(drills=["x"]), "p.yaml: drills[0]: expected a mapping with drill and hypothesis"),
        (
            plan(drills=[{"drill": "drills/test_etcd.py", "hypothesis": "h"}]),
            "drills[0].drill: expected a drill's node id",
        ),
        (plan(drills=[{"drill": LEADER_KILL}]), "drills[0].hypothesis: expected what the team expects to happen"),
        (
            plan(drills=[{"drill": "drills/test_nope.py::test_x", "hypothesis": "h"}]),
            "drills[0].drill: expected a drill file under",
        ),
        (
            plan(drills=[{"drill": "drills/test_etcd.py::test_typo", "hypothesis": "h"}]),
            "drills[0].drill: expected one of the drills in drills/test_etcd.py: test_api_refuses",
        ),
        (plan(drills=[{"drill": LEADER_KILL, "hypothesis": "h", "when": "now"}]), "drills[0].when: expected one of"),
        (
            plan(drills=[{"drill": LEADER_KILL, "hypothesis": "a"}, {"drill": LEADER_KILL, "hypothesis": "b"}]),
            "p.yaml: drills: expected each drill once",
        ),
    ],
)
def test_a_bad_plan_is_a_config_error_naming_the_field(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        gameday.parse_plan(data, "p.yaml", ROOT)
    assert message in str(e.value)


def test_a_parametrized_drill_is_named_with_its_parameter() -> None:
    nodeid = "drills/test_network.py::test_api_stays_available_when_an_etcd_node_is_cut_off[leader]"
    p = gameday.parse_plan(plan(drills=[{"drill": nodeid, "hypothesis": "h"}]), "p.yaml", ROOT)
    assert p.drills[0].name == "api_stays_available_when_an_etcd_node_is_cut_off[leader]"


# ---------------------------------------------------------------- the console


class Operator:
    """Types into the console through a pipe, after the prompt is shown, as a person would."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.out = io.StringIO()
        self.console = gameday.Console(os.fdopen(read_fd), self.out)
        self._in = os.fdopen(write_fd, "w")
        self.console.start()

    def type(self, line: str) -> None:
        self._in.write(line + "\n")
        self._in.flush()

    def close(self) -> None:
        self._in.close()

    def ask_and_answer(self, *lines: str, close: bool = False) -> str:
        answer: list[str] = []
        asking = threading.Thread(target=lambda: answer.append(self.console.ask("inject?", "yspa")))
        asking.start()
        while "inject?" not in self.out.getvalue():
            threading.Event().wait(0.01)
        for line in lines:
            self.type(line)
        if close:
            self.close()
        asking.join(5)
        return answer[0]


def test_answers_reach_the_prompt_and_notes_are_recorded_when_read() -> None:
    op = Operator()
    op.console.current, op.console.in_drill = "leader-kill", True
    assert op.ask_and_answer("d alert in #oncall", "what", "y") == "y"
    (detected,) = [e for e in op.console.events if e.kind == "detected"]
    assert (detected.drill, detected.note) == ("leader-kill", "alert in #oncall")
    assert "'what' is not an answer here" in op.out.getvalue()
    op.close()


def test_a_yes_typed_before_the_prompt_does_not_confirm_a_later_injection() -> None:
    op = Operator()
    op.type("y")
    while "nothing to answer now" not in op.out.getvalue():
        threading.Event().wait(0.01)
    assert op.ask_and_answer("s") == "s"
    op.close()


def test_a_second_yes_typed_at_one_prompt_does_not_confirm_the_next() -> None:
    op = Operator()
    assert op.ask_and_answer("y", "y") == "y"
    threading.Event().wait(0.2)  # the second "y" reached the queue while the first prompt still waited
    assert op.ask_and_answer("s") == "s"
    op.close()


def test_only_whole_words_answer_a_prompt() -> None:
    op = Operator()
    assert op.ask_and_answer("yeah, wait", "you sure?", "yes") == "y"
    out = op.out.getvalue()
    assert "'yeah, wait' is not an answer here" in out
    assert "'you sure?' is not an answer here" in out
    op.close()


def test_an_abort_between_drills_stops_the_game_day_without_a_signal() -> None:
    op = Operator()  # no drill runs: a SIGINT here would kill the game day's own bookkeeping
    op.type("a")
    while "no drill is running" not in op.out.getvalue():
        threading.Event().wait(0.01)
    assert op.console.aborted
    assert [e.kind for e in op.console.events] == ["aborted"]
    op.close()


def test_the_end_of_input_at_a_prompt_is_an_abort_never_a_yes() -> None:
    op = Operator()
    assert op.ask_and_answer(close=True) == "a"
    assert "nothing is injected without a 'y'" in op.out.getvalue()


def test_pause_outside_a_prompt_is_remembered_for_the_next_drill() -> None:
    op = Operator()
    op.type("p")
    while "pause requested" not in op.out.getvalue():
        threading.Event().wait(0.01)
    assert op.console.pause_requested
    op.close()


# ---------------------------------------------------------------- after action


def test_time_to_detect_and_mitigate_run_from_the_confirmed_injection() -> None:
    p = gameday.Plan(
        "p.yaml",
        "day",
        "",
        (PlanDrill(LEADER_KILL, "up"), PlanDrill("drills/test_dr.py::test_etcd_restores", "restores")),
    )
    name = p.drills[0].name
    events = [
        Event(100.0, "confirmed", name),
        Event(99.0, "detected", name, "before injection: does not count"),
        Event(112.5, "detected", name, "alert fired"),
        Event(140.0, "mitigated", name),
        Event(150.0, "declined", p.drills[1].name),
    ]
    rows = {LEADER_KILL: DrillRow(LEADER_KILL, "etcd-leader-kill", "t", verdict="passed")}
    first, second = gameday.outcomes(p, events, {name: 100.0}, rows)
    assert (first.verdict, first.detected_s, first.mitigated_s) == ("passed", 12.5, 40.0)
    assert (second.verdict, second.detected_s) == ("skipped by the operator", None)
    text = gameday.markdown(p, events, [first, second], "kubedrill-local", "report/index.html")
    aborted = [*events, Event(160.0, "aborted", p.drills[0].name)]
    (left,) = gameday.outcomes(p, aborted, {name: 100.0}, rows, ["kill etcd on cp-2 (drill x)"])[:1]
    assert left.verdict == "aborted, NOT reverted: run kubedrill recover"
    warning = gameday.markdown(p, aborted, [left], "c", "r", ["kill etcd on cp-2 (drill x)"])
    assert "**Faults still in place: run `kubedrill recover` now.**" in warning
    assert "| api_stays_available_when_the_etcd_leader_is_killed | up | passed |" in text
    assert "12.5 s | 40.0 s |" in text
    assert "**declined** etcd_restores" in text
