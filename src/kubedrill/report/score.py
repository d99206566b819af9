"""One resilience score per run, from the SLO checks of every drill that judged the cluster.

    score = 100 × Σ weight(check) over the checks that passed / Σ weight(check) over every check judged

A check's weight is what its failure costs (``model.Impact``):

- **users, 3**: what the cluster's clients and workloads saw — availability, outages, latency, writes
  acknowledged without quorum, data lost or restored wrong, a workload below its floor. This is what an
  SRE is paged for and what the drill exists to protect.
- **recovery, 2**: how the cluster healed against its budget — elections, Lease handovers, restarts, RTO,
  members catching up, a drain completing. A slow recovery becomes a user-visible outage under a second
  fault, but on its own the users were not hurt.
- **signal, 1**: what monitoring showed — PromQL over the window, alerts that must or must not fire. A wrong
  signal misleads the people on call; it is the smallest cost of the three, and still a cost.

So a run whose users lost writes scores lower than one where an election ran over its budget, which scores
lower than one where only a metric was off; and no class is ignored. Every check counts once, so a drill
with many checks weighs more than one with few: the score is about the cluster, not the drills.

A drill counts with the checks it judged, even one that then broke (a wait that gave up is a failed check
before it is an error); a drill that broke is named beside the score all the same, since what it did not
get to judge is missing from it. A drill that judged nothing (its pre-flight refused an unsteady cluster,
or it broke before its first check) adds nothing to either sum and is named too; skipped drills are left
out. No check judged at all: no score. The ordering of the weights holds between runs of the same drills:
the score compares a nightly run with the last one, not one suite with another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubedrill.model import Check, Impact

WEIGHTS: dict[Impact, int] = {Impact.USERS: 3, Impact.RECOVERY: 2, Impact.SIGNAL: 1}
# Where to look when a check of this kind failed and it carries no hint of its own.
LOOK_AT: dict[Impact, str] = {
    Impact.USERS: "the drill's prober timeline (CSV/PNG): when clients failed, with which errors",
    Impact.RECOVERY: "the drill's phase timeline and the evidence collected from the components",
    Impact.SIGNAL: "the query over the fault window in Prometheus (the drill's report has its series)",
}


def record(check: Check) -> dict[str, Any]:
    """A check as the run summary and the history keep it (plain JSON)."""
    line = dataclasses.replace(check, hint="").line()  # the hint is the finding's "look at", said once
    return {"name": check.name, "impact": str(check.impact), "ok": check.ok, "line": line, "hint": check.hint}


@dataclass(frozen=True)
class Finding:
    """A failed check, with what it cost and where to look."""

    drill: str
    impact: Impact
    line: str
    look_at: str

    def text(self) -> str:
        return f"[{self.impact} ×{WEIGHTS[self.impact]}] {self.drill}: {self.line}; where to look: {self.look_at}"


@dataclass(frozen=True)
class Score:
    value: float | None  # 0–100; None when no check was judged
    earned: int
    possible: int
    passed: Mapping[Impact, int]
    judged: Mapping[Impact, int]
    findings: Sequence[Finding]
    unscored: Sequence[tuple[str, str]]  # (drill, why) of the drills that judged nothing, or broke

    def headline(self) -> str:
        if self.value is None:
            return "resilience score: none (no check was judged)"
        parts = ", ".join(f"{i} {self.passed[i]}/{self.judged[i]}" for i in Impact if self.judged[i])
        text = f"resilience score: {self.value:.1f} / 100 ({self.earned} of {self.possible} weighted points; {parts})"
        if self.unscored:
            text += f"; not (fully) scored: {', '.join(f'{d} ({v})' for d, v in self.unscored)}"
        return text


def _impact(value: object) -> Impact | None:
    try:
        return Impact(str(value))
    except ValueError:
        return None


def score(rows: Iterable[tuple[str, str, Sequence[Mapping[str, Any]]]]) -> Score:
    """The score over ``rows`` of (drill, verdict, checks as ``record`` keeps them); a check whose impact is
    unknown (a history line from an older kubedrill) is left out of both sums."""
    passed = dict.fromkeys(Impact, 0)
    judged = dict.fromkeys(Impact, 0)
    findings: list[Finding] = []
    unscored: list[tuple[str, str]] = []
    for drill, verdict, checks in rows:
        if verdict == "skipped":
            continue
        if not checks or verdict == "broken":
            unscored.append((drill, verdict if not checks else f"{verdict} after {len(checks)} checks"))
        if not checks:
            continue
        for c in checks:
            impact = _impact(c.get("impact"))
            if impact is None:
                continue
            judged[impact] += 1
            if c.get("ok") is True:
                passed[impact] += 1
            else:
                look = str(c.get("hint") or LOOK_AT[impact])
                findings.append(Finding(drill, impact, str(c.get("line") or c.get("name")), look))
    possible = sum(WEIGHTS[i] * judged[i] for i in Impact)
    earned = sum(WEIGHTS[i] * passed[i] for i in Impact)
    value = round(100.0 * earned / possible, 1) if possible else None
    order = {i: n for n, i in enumerate(sorted(Impact, key=lambda i: -WEIGHTS[i]))}
    findings.sort(key=lambda f: order[f.impact])  # the costliest first, stable within a class
    return Score(value, earned, possible, passed, judged, findings, unscored)


def run_scores(history: Sequence[Mapping[str, Any]]) -> list[tuple[str, float]]:
    """Each run's score in ``history`` (one line per drill per run), oldest first; runs without a score
    (none of their lines carries checks) are left out."""
    by_run: dict[str, list[tuple[str, str, Sequence[Mapping[str, Any]]]]] = {}
    for e in history:
        checks = e.get("checks")
        by_run.setdefault(str(e["run"]), []).append(
            (str(e.get("drill")), str(e.get("verdict", "")), checks if isinstance(checks, list) else [])
        )
    out = []
    for run, rows in by_run.items():
        value = score(rows).value
        if value is not None:
            out.append((run, value))
    return out
