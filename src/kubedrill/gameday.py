"""Game-day mode: a plan of drills run against a real cluster with people on the call.

``kubedrill gameday PLAN.yaml`` runs the plan's drills in order, through pytest like any other run
(the same guards, pre-flight, rollbacks and Allure results), with a person in the loop:

- before each drill its hypothesis is read out; right before its fault window opens (steady state holds,
  the prober runs) the operator confirms the injection: ``y`` inject, ``s`` skip, ``p`` pause, ``a`` abort;
- while the fault is on, the people on the call enter what they saw, when they saw it: ``d [note]``
  detected, ``m [note]`` mitigated, ``n text`` a note; ``p`` pauses before the next drill (a fault is never
  held longer than its drill plans), ``a`` aborts at once: the same path as Ctrl-C, so every fault reverts;
- at the end: the Allure results and HTML report, and ``gameday.md`` with the timeline, time to detect and
  time to mitigate per drill, and the verdicts.

A plan file::

    name: Quarterly DR game day
    description: …
    drills:
      - drill: drills/test_etcd.py::test_api_stays_available_when_the_etcd_leader_is_killed
        hypothesis: The API stays available while etcd elects a new leader.
        notes: Watch the etcd dashboards; the on-call should see etcdHighNumberOfLeaderChanges.

The end of input at a prompt is an abort: nothing is ever injected without a person's ``y``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import pytest

from kubedrill.config import read_yaml
from kubedrill.drill import DrillRun
from kubedrill.errors import ConfigError, Declined
from kubedrill.faults.ledger import RollbackLedger
from kubedrill.paths import ALLURERC
from kubedrill.report import allure_report
from kubedrill.report.summary import DrillRow
from kubedrill.session import drill_environment, set_injection_gate, summary_rows

HELP = (
    "answers: y inject · s skip · p pause · a abort;  any time: d [note] detected · m [note] mitigated · "
    "n text note · p pause before the next drill · a abort now (reverts)"
)


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlanDrill:
    nodeid: str  # drills/<file>.py::<test>
    hypothesis: str
    notes: str = ""

    @property
    def name(self) -> str:
        return self.nodeid.rpartition("::")[2].removeprefix("test_")


@dataclass(frozen=True)
class Plan:
    source: str
    name: str
    description: str
    drills: tuple[PlanDrill, ...]


def parse_plan(data: object, source: str, root: Path) -> Plan:
    """A plan file, checked before anything is touched: every drill must exist in ``root``."""
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", "a mapping with name and drills", type(data).__name__)
    unknown = set(data) - {"name", "description", "drills"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "one of description, drills, name", sorted(unknown)[0])
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(source, "name", "the game day's name", name)
    description = data.get("description", "") or ""
    if not isinstance(description, str):
        raise ConfigError(source, "description", "text", description)
    entries = data.get("drills")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(source, "drills", "a non-empty list of drills", entries)
    drills = []
    for i, entry in enumerate(entries):
        where = f"drills[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(source, where, "a mapping with drill and hypothesis", entry)
        extra = set(entry) - {"drill", "hypothesis", "notes"}
        if extra:
            raise ConfigError(
                source, f"{where}.{sorted(extra)[0]}", "one of drill, hypothesis, notes", sorted(extra)[0]
            )
        nodeid, hypothesis, notes = entry.get("drill"), entry.get("hypothesis"), entry.get("notes", "") or ""
        if not isinstance(nodeid, str) or "::" not in nodeid:
            raise ConfigError(source, f"{where}.drill", "a drill's node id, drills/<file>.py::<test>", nodeid)
        if not isinstance(hypothesis, str) or not hypothesis.strip():
            raise ConfigError(source, f"{where}.hypothesis", "what the team expects to happen", hypothesis)
        if not isinstance(notes, str):
            raise ConfigError(source, f"{where}.notes", "text", notes)
        _require_test(root, nodeid, source, f"{where}.drill")
        drills.append(PlanDrill(nodeid, hypothesis.strip(), notes.strip()))
    nodeids = [d.nodeid for d in drills]
    if len(set(nodeids)) != len(nodeids):
        twice = next(n for n in nodeids if nodeids.count(n) > 1)
        raise ConfigError(source, "drills", "each drill once", twice)
    return Plan(source, name.strip(), description.strip(), tuple(drills))


def _require_test(root: Path, nodeid: str, source: str, where: str) -> None:
    file, _, test = nodeid.partition("::")
    path = root / file
    if not path.is_file():
        raise ConfigError(source, where, f"a drill file under {root}", file)
    tree = ast.parse(path.read_text(), filename=str(path))
    tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    if test.partition("[")[0] not in tests:  # a parametrized drill: test_x[leader]
        raise ConfigError(source, where, f"one of the drills in {file}: {', '.join(sorted(tests))}", test)


def load_plan(path: str | Path, root: Path) -> Plan:
    return parse_plan(read_yaml(path, "game-day plan"), str(path), root)


# ---------------------------------------------------------------- the people on the call


@dataclass(frozen=True)
class Event:
    wall: float  # unix seconds
    kind: str  # briefed, confirmed, declined, paused, resumed, detected, mitigated, note, aborted, finished
    drill: str
    note: str = ""


# Whole words only: "yeah, wait" is not a yes.
ANSWERS = {
    "y": "y", "yes": "y", "s": "s", "skip": "s", "p": "p", "pause": "p",
    "r": "r", "resume": "r", "a": "a", "abort": "a",
}  # fmt: skip


@dataclass
class Console:
    """What people type, read on a thread of its own so they can speak while a fault is on.

    Answers to a prompt (y/s/p/r/a) go to the prompt waiting for them, and only those typed while it
    waits: an answer left over from an earlier prompt never confirms a later injection. d/m/n are
    recorded the moment they are read. ``a`` while a drill runs raises SIGINT in this process once,
    exactly like Ctrl-C; between drills it stops the game day before the next one."""

    stdin: IO[str]
    stdout: IO[str]
    events: list[Event] = field(default_factory=list)
    current: str = ""  # the drill under way
    in_drill: bool = False  # between a drill's setup and the end of its teardown
    pause_requested: bool = False
    aborted: bool = False

    def __post_init__(self) -> None:
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._asking = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="kubedrill-gameday-input", daemon=True)

    def start(self) -> Console:
        self._thread.start()
        return self

    def say(self, text: str) -> None:
        self.stdout.write(f"[gameday] {text}\n")
        self.stdout.flush()

    def record(self, kind: str, note: str = "", drill: str | None = None) -> Event:
        event = Event(time.time(), kind, (self.current if self.in_drill else "") if drill is None else drill, note)
        with self._lock:
            self.events.append(event)
        return event

    def _read(self) -> None:
        for raw in self.stdin:
            line = raw.strip()
            if not line:
                continue
            cmd, _, rest = line.partition(" ")
            cmd = cmd.lower()
            if cmd in ("d", "m", "n"):
                kind = {"d": "detected", "m": "mitigated", "n": "note"}[cmd]
                e = self.record(kind, rest.strip())
                self.say(f"{kind} at {_clock(e.wall)}{': ' + e.note if e.note else ''} ({e.drill or 'no drill'})")
            elif self._asking.is_set():
                self._answers.put(line.lower())
            elif cmd == "p":
                self.pause_requested = True
                self.say("pause requested: the game day stops before the next injection")
            elif cmd == "a" and not self.aborted:
                self.aborted = True
                self.record("aborted", rest.strip() or "by the operator")
                if self.in_drill:
                    self.say("ABORT: reverting every fault now")
                    os.kill(os.getpid(), signal.SIGINT)  # the Ctrl-C path: rollbacks run, nothing is left
                else:
                    self.say("ABORT: no drill is running; the game day stops before the next one")
            elif cmd == "a":
                self.say("already aborting: the reverts are running")
            else:
                self.say(f"nothing to answer now ({line!r}); {HELP}")
        self._answers.put(None)  # end of input

    def ask(self, question: str, choices: str) -> str:
        """Block until an answer in ``choices``; the end of input answers ``a`` (abort)."""
        while True:  # answers typed before this prompt are stale: never let one confirm it
            try:
                if self._answers.get_nowait() is None:
                    return "a"
            except queue.Empty:
                break
        self._asking.set()
        try:
            while True:
                self.say(f"{question} [{'/'.join(choices)}]")
                answer = self._answers.get()
                if answer is None:
                    self.say("end of input: aborting (nothing is injected without a 'y')")
                    return "a"
                mapped = ANSWERS.get(answer)
                if mapped is not None and mapped in choices:
                    return mapped
                self.say(f"{answer!r} is not an answer here; {HELP}")
        finally:
            self._asking.clear()


def _clock(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%H:%M:%S.%f")[:-3]


# ---------------------------------------------------------------- the pytest side


class GameDay:
    """A pytest plugin (passed to ``pytest.main``) that runs the plan in order with a person in the loop."""

    def __init__(self, plan: Plan, console: Console) -> None:
        self.plan = plan
        self.console = console
        self.by_nodeid = {d.nodeid: d for d in plan.drills}
        self.injected_at: dict[str, float] = {}
        self.rows: dict[str, DrillRow] = {}
        self.environment: dict[str, str] = {}  # what the drills saw: context, versions, backend

    # ---- the gate, called by every drill right before its fault window opens
    def gate(self, drill: DrillRun, what: str) -> None:
        name = self.console.current
        while True:
            answer = self.console.ask(f"{name}: steady state holds. Inject now? ({what})", "yspa")
            if answer == "y":
                e = self.console.record("confirmed", what)
                self.injected_at[name] = e.wall
                self.console.say(f"injecting at {_clock(e.wall)}: enter 'd' when you detect it, 'm' when mitigated")
                return
            if answer == "s":
                self.console.record("declined", what)
                raise Declined(f"{name}: the operator skipped the injection ({what})")
            if answer == "p":
                self._pause()
                continue
            self.console.aborted = True
            self.console.record("aborted", f"before injecting {what}")
            raise KeyboardInterrupt("game day aborted by the operator before injecting")

    def _pause(self) -> None:
        self.console.record("paused")
        answer = self.console.ask("paused: 'r' resumes, 'a' aborts", "ra")
        self.console.pause_requested = False
        if answer == "a":
            self.console.aborted = True
            self.console.record("aborted", "while paused")
            raise KeyboardInterrupt("game day aborted by the operator while paused")
        self.console.record("resumed")

    # ---- hooks
    def pytest_configure(self, config: pytest.Config) -> None:
        set_injection_gate(config, self.gate)  # the kubedrill plugin hands it to every drill it runs

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        order = {nodeid: i for i, nodeid in enumerate(self.by_nodeid)}
        items.sort(key=lambda item: order.get(item.nodeid, len(order)))

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        entry = self.by_nodeid.get(item.nodeid)
        if entry is None:
            return
        if self.console.aborted:
            raise KeyboardInterrupt("game day aborted by the operator between drills")
        self.console.current = entry.name
        self.console.in_drill = True
        if self.console.pause_requested:
            self._pause()
        self.console.say(f"── {entry.name} ──")
        self.console.say(f"hypothesis: {entry.hypothesis}")
        if entry.notes:
            self.console.say(f"notes: {entry.notes}")
        self.console.record("briefed", entry.hypothesis)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            mine = [asdict(e) for e in self.console.events if e.drill == self.console.current]
            allure_report.attach_json("game-day timeline", mine)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.by_nodeid.get(report.nodeid)
        if entry is not None and (report.when == "call" or not report.passed):
            self.console.record("finished", report.outcome, drill=entry.name)
        if entry is not None and report.when == "teardown":
            self.console.in_drill = False

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.rows = dict(summary_rows(session.config))
        self.environment = dict(drill_environment(session.config))


# ---------------------------------------------------------------- the after-action summary


@dataclass(frozen=True)
class DrillOutcome:
    drill: PlanDrill
    verdict: str
    injected_at: float | None
    detected_s: float | None  # from injection to the first 'd'
    mitigated_s: float | None  # from injection to the first 'm'
    reason: str = ""


def outcomes(
    plan: Plan,
    events: Sequence[Event],
    injected_at: dict[str, float],
    rows: dict[str, DrillRow],
    left_over: Sequence[str] = (),
) -> list[DrillOutcome]:
    """Per drill: its verdict, and time to detect and to mitigate from what people entered (pure).
    ``left_over`` names the faults the ledger still holds: an aborted drill is "reverted" only without any."""
    out = []
    for d in plan.drills:
        t0 = injected_at.get(d.name)
        row = rows.get(d.nodeid)

        def first(kind: str, name: str = d.name, start: float | None = t0) -> float | None:
            if start is None:
                return None
            return min(
                (e.wall - start for e in events if e.drill == name and e.kind == kind and e.wall >= start), default=None
            )

        verdict = row.verdict if row is not None else "not reached"
        if any(e.drill == d.name and e.kind == "declined" for e in events):
            verdict = "skipped by the operator"
        elif any(e.drill == d.name and e.kind == "aborted" for e in events):
            verdict = "aborted, NOT reverted: run kubedrill recover" if left_over else "aborted (reverted)"
        out.append(DrillOutcome(d, verdict, t0, first("detected"), first("mitigated"), row.reason if row else ""))
    return out


def markdown(
    plan: Plan,
    events: Sequence[Event],
    results: Sequence[DrillOutcome],
    context: str,
    report: str,
    left_over: Sequence[str] = (),
) -> str:
    def secs(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f} s"

    started = min((e.wall for e in events), default=time.time())
    lines = [
        f"# Game day: {plan.name}",
        "",
        f"{dt.datetime.fromtimestamp(started, dt.UTC):%Y-%m-%d %H:%M} UTC · context `{context}` · plan `{plan.source}`",
        "",
    ]
    if left_over:
        lines += ["**Faults still in place: run `kubedrill recover` now.**", ""] + [f"- {f}" for f in left_over] + [""]
    if plan.description:
        lines += [plan.description, ""]
    lines += [
        "| drill | hypothesis | verdict | injected | time to detect | time to mitigate |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        injected = _clock(r.injected_at) if r.injected_at else "-"
        cells = [r.drill.name, r.drill.hypothesis, r.verdict, injected, secs(r.detected_s), secs(r.mitigated_s)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Timeline (UTC)", ""]
    for e in events:
        lines.append(f"- {_clock(e.wall)} **{e.kind}** {e.drill}{': ' + e.note if e.note else ''}")
    failed = [r for r in results if r.reason and r.verdict in ("SLO violated", "broken", "not run")]
    if failed:
        lines += ["", "## Findings", ""] + [f"- {r.drill.name}: {r.reason}" for r in failed]
    lines += ["", f"Allure report: {report}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- running it


@dataclass(frozen=True)
class GameDayOptions:
    output: Path
    pytest_args: tuple[str, ...] = ()  # --kube-context, --allow-context, --prometheus-url … passed through


def run(plan: Plan, options: GameDayOptions, stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    """Run the plan; write the results, the HTML report and gameday.md under ``options.output``."""
    from kubedrill.report.render import render  # the Allure CLI is only needed at the end

    results_dir = options.output / "allure-results"
    console = Console(stdin, stdout).start()
    plugin = GameDay(plan, console)
    console.say(f"{plan.name}: {len(plan.drills)} drills. {HELP}")
    args = [
        *(d.nodeid for d in plan.drills),
        "-s",  # the prompts must reach the people on the call
        "-p",
        "no:cacheprovider",
        "--alluredir",
        str(results_dir),
        "--clean-alluredir",
        "--junitxml",
        str(options.output / "junit.xml"),
        "--timeout=0",  # people take the time they need at a prompt; drills bound their own waits
        *options.pytest_args,
    ]
    code = int(pytest.main(args, plugins=[plugin]))
    context = plugin.environment.get("context") or next(
        (a.split("=", 1)[1] for a in options.pytest_args if a.startswith("--kube-context=")), "current"
    )
    report = "not generated"
    try:
        report = str(render(results_dir, options.output / "allure-report", ALLURERC).first_page)
    except Exception as e:  # the summary must still be written
        console.say(f"could not render the HTML report: {e}")
    left_over = [f"{e.description} (drill {e.drill})" for e in RollbackLedger().pending()]
    results = outcomes(plan, console.events, plugin.injected_at, plugin.rows, left_over)
    text = markdown(plan, console.events, results, context, report, left_over)
    (options.output / "gameday.md").write_text(text)
    (options.output / "timeline.json").write_text(json.dumps([asdict(e) for e in console.events], indent=2))
    for fault in left_over:
        console.say(f"NOT REVERTED: {fault}; run 'kubedrill recover' now")
    console.say(f"game-day summary: {options.output / 'gameday.md'}")
    console.say(f"report: {report}")
    if left_over:
        return 1
    if console.aborted:
        return 130
    return code
