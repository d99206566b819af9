"""SLO checks in PromQL, evaluated over a drill's fault window.

- ``PromCheck``: an expression (``{window}`` becomes the window as a PromQL duration, e.g. ``37s``;
  ``{etcd}`` and ``{apiserver}`` the label matchers of those jobs in the Prometheus queried, see
  ``config.PromTargets``), aggregated over its series (max/min/sum) and compared with a threshold. No series
  at all fails, naming the query: a wrong job label is not a pass;
- ``AlertRule``: an alert-style rule (expr + ``for``, as in seed 002): evaluated over the window with a
  range query; it "fires" when the expression returns a series for at least ``for_s`` without a gap. An
  alert's ``series`` (the metric it watches) must exist over the window, or "does not fire" proves nothing.

Before evaluating, ``wait_for_scrape`` makes sure Prometheus has scraped past the window's end, so a
fault at the very end of the window is not missed for want of a sample.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubedrill.backends.prom import Prometheus, Series
from kubedrill.config import PromTargets
from kubedrill.errors import ConfigError
from kubedrill.model import Check, Impact
from kubedrill.waiting import wait_until

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_AGG: dict[str, Callable[[Sequence[float]], float]] = {"max": max, "min": min, "sum": sum}
DEFAULT_TARGETS = PromTargets()


NO_SERIES_HINT = (
    "the metric is missing: check the Prometheus target is up and its job label "
    "(prometheus: in the SLO profile or the inventory)"
)


@dataclass(frozen=True)
class PromCheck:
    name: str
    expr: str
    op: str
    threshold: float
    aggregate: str = "max"

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ConfigError("prometheus check", f"{self.name}.op", f"one of {sorted(_OPS)}", self.op)
        if self.aggregate not in _AGG:
            raise ConfigError("prometheus check", f"{self.name}.aggregate", f"one of {sorted(_AGG)}", self.aggregate)

    def render(self, window_s: float, targets: PromTargets = DEFAULT_TARGETS) -> str:
        return targets.render(self.expr).replace("{window}", f"{max(1, math.ceil(window_s))}s")

    def judge(self, values: Sequence[float], window_s: float, targets: PromTargets = DEFAULT_TARGETS) -> Check:
        expr = self.render(window_s, targets)
        value = _AGG[self.aggregate](values) if values else None
        return Check(
            self.name,
            expected=f"{self.aggregate}({expr}) {self.op} {self.threshold:g}",
            observed=f"no series for {expr} (is the job label right?)"
            if value is None
            else f"{value:g} over {len(values)} series",
            ok=value is not None and _OPS[self.op](value, self.threshold),
            hint="" if values else NO_SERIES_HINT,
            impact=Impact.SIGNAL,
        )


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    for_s: float
    expect_firing: bool = False
    series: str | None = None  # the metric the rule watches: must have series, or the verdict proves nothing

    def rendered(self, targets: PromTargets) -> AlertRule:
        series = targets.render(self.series) if self.series else None
        return AlertRule(self.name, targets.render(self.expr), self.for_s, self.expect_firing, series)


def longest_firing_s(series: Sequence[Series], step_s: float) -> float:
    """Longest run of consecutive points (no gap larger than one step) in any series returned by an alert
    expression: how long its condition held without a break."""
    best = 0.0
    for s in series:
        times = sorted(t for t, _ in s.points)
        if not times:
            continue
        run_start = prev = times[0]
        for t in times[1:]:
            if t - prev > step_s * 1.5:
                best = max(best, prev - run_start)
                run_start = t
            prev = t
        best = max(best, prev - run_start)
    return best


def judge_alert(
    rule: AlertRule, series: Sequence[Series], step_s: float, watched: Sequence[Series] | None = None
) -> Check:
    """Whether ``rule`` fired (held for ``for_s``) as expected. With ``rule.series``, ``watched`` is what
    Prometheus had of that metric: none fails the check, since an alert over a missing metric never fires."""
    name = f"alert {rule.name} {'fires' if rule.expect_firing else 'does not fire'}"
    blind = rule.series is not None and not watched
    if blind:
        return Check(
            name,
            expected=f"series for {rule.series} over the window, then {rule.expr}",
            observed=f"no series for {rule.series} (is the job label right?)",
            ok=not blind,
            hint=NO_SERIES_HINT,
            impact=Impact.SIGNAL,
        )
    held = longest_firing_s(series, step_s)
    fires = bool(series) and held >= rule.for_s
    return Check(
        name=name,
        expected=f"{rule.expr} held for {'≥' if rule.expect_firing else '<'} {rule.for_s:g} s",
        observed=f"held for {held:.1f} s" if series else "never true",
        ok=fires == rule.expect_firing,
        impact=Impact.SIGNAL,
    )


def wait_for_scrape(prom: Prometheus, after: dt.datetime, timeout_s: float = 30.0) -> None:
    """Wait until every target has been scraped after ``after`` (so the window's end is covered)."""
    cutoff = after.timestamp()

    def oldest_scrape() -> float:
        samples = prom.query("min(timestamp(up))")
        return samples[0].value if samples else 0.0

    wait_until(
        f"a Prometheus scrape after {after.isoformat()}",
        oldest_scrape,
        lambda t: t >= cutoff,
        timeout_s=timeout_s,
        interval_s=0.25,
        describe=lambda t: f"oldest last scrape at {dt.datetime.fromtimestamp(t, dt.UTC).isoformat()}",
    )


@dataclass(frozen=True)
class PromResult:
    check: Check
    query: str
    values: list[tuple[dict[str, str], float]]


def evaluate(
    prom: Prometheus, check: PromCheck, start: dt.datetime, end: dt.datetime, targets: PromTargets = DEFAULT_TARGETS
) -> PromResult:
    window_s = (end - start).total_seconds()
    query = check.render(window_s, targets)
    samples = prom.query(query, at=end)
    values = [s.value for s in samples if not math.isnan(s.value)]
    return PromResult(check.judge(values, window_s, targets), query, [(s.labels, s.value) for s in samples])


def evaluate_alert(
    prom: Prometheus,
    rule: AlertRule,
    start: dt.datetime,
    end: dt.datetime,
    step_s: float = 1.0,
    targets: PromTargets = DEFAULT_TARGETS,
) -> PromResult:
    rule = rule.rendered(targets)
    watched = prom.query_range(rule.series, start, end, step_s) if rule.series else None
    if rule.series and not watched:
        return PromResult(judge_alert(rule, [], step_s, watched), rule.series, [])
    series = prom.query_range(rule.expr, start, end, step_s)
    verdict = judge_alert(rule, series, step_s, watched)
    return PromResult(verdict, rule.expr, [(s.labels, len(s.points)) for s in series])
