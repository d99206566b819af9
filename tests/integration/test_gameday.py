"""`kubedrill gameday` against the embedded cluster, driven by scripted answers as a person would type them:
each answer is sent only once its prompt is on the screen.

The plan: a leader move the operator confirms (detection and mitigation entered while the fault is on),
a follower kill the operator pauses before, resumes, then skips, and a leader kill the operator aborts in
the middle of its fault window. Afterwards: the abort reverted everything (no pending ledger entry,
cluster healthy), the game-day summary holds the verdicts, time to detect and to mitigate, and the
timeline, and the Allure report exists.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout
from kubedrill.faults.ledger import RollbackLedger
from tests.integration.test_etcd_drills import healthy
from tests.integration.test_tracer_drill import ROOT, suite_namespaces

pytestmark = pytest.mark.integration

PLAN = """
name: Scripted game day
description: three drills, three answers
drills:
  - drill: drills/test_etcd.py::test_api_stays_available_when_etcd_leader_is_moved
    hypothesis: a new leader within 5 s and no failed write
  - drill: drills/test_etcd.py::test_leadership_holds_and_the_api_stays_up_when_an_etcd_follower_is_killed
    hypothesis: leadership holds
  - drill: drills/test_etcd.py::test_api_stays_available_when_the_etcd_leader_is_killed
    hypothesis: a new leader within 5 s
"""


class Session:
    """The game day as a person on the call sees it: lines out, answers in."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout_s: float = 180) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"never saw /{pattern}/; the last lines were:\n" + "\n".join(self.seen[-40:]))

    def type(self, answer: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(answer + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout_s: float = 300) -> int:
        code = self.proc.wait(timeout=timeout_s)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code


def test_a_scripted_game_day_confirms_pauses_skips_and_aborts_and_leaves_a_summary(
    embedded: Layout, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "gameday"
    ledger = tmp_path / "ledger.jsonl"
    env = {**os.environ, "KUBEDRILL_LEDGER": str(ledger), "PYTHONUNBUFFERED": "1"}
    env.pop("KUBECONFIG", None)
    day = Session([sys.executable, "-m", "kubedrill.cli", "gameday", str(plan), "--output", str(out)], env)

    # 1. leader move: confirmed; detection and mitigation entered while the fault is on
    day.expect(r"hypothesis: a new leader within 5 s and no failed write")
    day.expect(r"etcd_leader_is_moved: steady state holds\. Inject now\?")
    day.type("y")
    day.expect(r"injecting at")
    time.sleep(1.0)
    day.type("d saw etcdHighNumberOfLeaderChanges in Prometheus")
    day.expect(r"detected at .*etcdHighNumberOfLeaderChanges")
    time.sleep(0.5)
    day.type("m leadership settled, nothing to do")
    day.expect(r"mitigated at")
    # 2. follower kill: pause at the gate, resume, then skip
    day.expect(r"follower_is_killed: steady state holds\. Inject now\?")
    day.type("p")
    day.expect(r"paused: 'r' resumes")
    day.type("r")
    day.expect(r"follower_is_killed: steady state holds\. Inject now\?")
    day.type("s")
    # 3. leader kill: confirmed, then aborted while its fault window is open
    day.expect(r"etcd_leader_is_killed: steady state holds\. Inject now\?")
    day.type("y")
    day.expect(r"injecting at")
    time.sleep(2.0)  # the leader is dead, the drill is waiting out its window
    day.type("a")
    day.expect(r"ABORT: reverting every fault now")
    code = day.finish()
    transcript = "\n".join(day.seen)
    assert code == 130, transcript[-3000:]

    # Nothing left behind: every fault the game day recorded was reverted; the cluster is healthy.
    injected = [e["description"] for e in RollbackLedger(ledger).events() if e["event"] == "injecting"]
    assert len(injected) == 2, injected  # the confirmed drills recorded their faults; the skipped one none
    assert injected[1].startswith("kill etcd on "), injected
    assert RollbackLedger(ledger).pending() == []
    assert healthy(embedded) == []
    assert suite_namespaces(embedded) == []

    # The after-action summary.
    summary = (out / "gameday.md").read_text()
    assert "# Game day: Scripted game day" in summary
    rows = {
        line.split("|")[1].strip(): line
        for line in summary.splitlines()
        if line.startswith(("| api_", "| leadership_"))
    }
    move = rows["api_stays_available_when_etcd_leader_is_moved"]
    assert "| passed |" in move
    ttd, ttm = re.findall(r"(\d+\.\d) s", move)[-2:]
    assert 0.5 <= float(ttd) < float(ttm) < 60, move
    assert "skipped by the operator" in rows["leadership_holds_and_the_api_stays_up_when_an_etcd_follower_is_killed"]
    assert "aborted (reverted)" in rows["api_stays_available_when_the_etcd_leader_is_killed"]
    for kind in ("briefed", "confirmed", "detected", "mitigated", "paused", "resumed", "declined", "aborted"):
        assert f"**{kind}**" in summary, kind
    timeline = json.loads((out / "timeline.json").read_text())
    assert [e["kind"] for e in timeline if e["kind"] in ("detected", "mitigated")] == ["detected", "mitigated"]
    # The Allure side: results for the drills that ran, and the rendered report.
    assert list((out / "allure-results").glob("*-result.json"))
    assert (out / "allure-report" / "index.html").exists()
    assert (out / "junit.xml").exists()
