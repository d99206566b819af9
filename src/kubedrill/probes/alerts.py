"""Alerts a fault must raise: did the people on call find out, and how long did it take?

A drill names the alerts its fault must fire (``must_fire`` in its scenario). They are the alerting rules
Prometheus has loaded, read back from its rules API (expression, ``for``, its group's evaluation
interval), not kubedrill's re-evaluation of them: what is checked is what would page someone. While the
fault holds (from the end of its own minimum hold), ``AlertWatch`` polls Prometheus' alerts API and notes
when each alert turned pending (Prometheus' ``activeAt``) and then firing (the first poll that sees it,
within POLL_S); the fault is held until every one fired or its budget ran out. A read of the alerts API
that fails is retried at the next poll, and named if the alert never fired.

An alert's budget, from the moment the fault took effect: a scrape sees the change (≤ one scrape
interval), the next rule evaluation turns it pending (≤ one evaluation interval), it holds ``for``, and the
first evaluation after that fires it (≤ one more evaluation interval):

    budget = scrape interval + for + 2 × evaluation interval   (+ POLL_S, this watch's own resolution)

The scrape interval is the longest of Prometheus' targets (not only the rule's job), and the budget counts
from when the fault was seen to take effect (for quorum loss, the first refused write), which leaves a
target whose scrape must time out (a frozen process) its timeout's worth of slack too.

An alert Prometheus made pending before the fault began (its ``activeAt``, allowed CLOCK_SKEW_S for the
two clocks) proves nothing about the fault and fails; so does one whose rule is not loaded, naming the
rules that are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubedrill.backends.prom import ActiveAlert, AlertingRule, Prometheus
from kubedrill.errors import BackendError, ClusterUnreachable
from kubedrill.model import Check, Impact

POLL_S = 0.5  # how often the alerts API is read while the fault holds
GRACE_S = 10.0  # how long past its budget an alert is waited for before it "did not fire"
CLOCK_SKEW_S = 2.0  # between Prometheus' clock (activeAt) and the runner's (when the fault began)


def budget_s(rule: AlertingRule, scrape_s: float) -> float:
    """How long after the fault took effect ``rule`` may take to fire (see the module's docstring)."""
    return scrape_s + rule.for_s + 2 * rule.interval_s


@dataclass(frozen=True)
class AlertOutcome:
    """What became of one alert a fault must fire; times in seconds after the fault began."""

    alert: str
    fault: str
    rule: AlertingRule | None
    scrape_s: float
    active_before: str = ""  # "pending" or "firing" when the alert was already active as the fault began
    pending_s: float | None = None
    firing_s: float | None = None
    loaded: tuple[str, ...] = ()  # the alerting rules Prometheus has, to name when ``rule`` is None
    read_error: str = ""  # the last failed read of the alerts API, if any

    @property
    def budget_s(self) -> float | None:
        if self.rule is None:
            return None
        return budget_s(self.rule, self.scrape_s)

    def record(self) -> dict[str, object]:
        """The run summary's alert-coverage entry (plain JSON)."""
        return {"fault": self.fault, "alert": self.alert, "fired_s": self.firing_s, "budget_s": self.budget_s}


def judge(o: AlertOutcome) -> Check:
    """Fired, within its budget, and not already active before the fault; else what went wrong, with the
    rule and the query to look at."""
    name = f"alert {o.alert} fires"
    rule, budget = o.rule, o.budget_s
    if rule is None or budget is None:
        expected = f"an alerting rule {o.alert} loaded in Prometheus"
        observed = f"no such rule; loaded: {', '.join(o.loaded) or 'none'}"
        hint = "load the rule into the Prometheus the drill queries (its rule_files), or fix the name"
    else:
        expected = (
            f"firing ≤ {budget:g} s after the fault (scrape {o.scrape_s:g} s + for {rule.for_s:g} s "
            f"+ 2 × evaluation {rule.interval_s:g} s), not active before it began"
        )
        hint = f'rule {rule.name} ({rule.group}): {rule.query}; query ALERTS{{alertname="{o.alert}"}} in Prometheus'
        if o.active_before:
            observed = f"already {o.active_before} before the fault began: its firing proves nothing about the fault"
        elif o.firing_s is not None:
            pending = "" if o.pending_s is None else f" (pending at {o.pending_s:.1f} s)"
            observed = f"firing {o.firing_s:.1f} s after the fault{pending}"
        else:
            observed = (
                "did not fire: never pending (its expression never turned true)"
                if o.pending_s is None
                else f"did not fire: pending {o.pending_s:.1f} s after the fault, not firing by {budget + GRACE_S:g} s"
            )
            if o.read_error:
                observed += f" (a read of Prometheus' alerts failed: {o.read_error})"
    fired_in_time = budget is not None and o.firing_s is not None and o.firing_s <= budget + POLL_S
    return Check(name, expected, observed, ok=fired_in_time and not o.active_before, hint=hint, impact=Impact.SIGNAL)


def first_seen(active: Sequence[ActiveAlert], alert: str, state: str) -> ActiveAlert | None:
    """Of the alert's instances in ``state`` (firing also counts as having been pending), the one active the
    longest, if Prometheus holds any."""
    states = ("pending", "firing") if state == "pending" else (state,)
    return min((a for a in active if a.name == alert and a.state in states), key=lambda a: a.active_at, default=None)


class AlertWatch:
    """Polls Prometheus' alerts API from the fault's start until every alert fired or its budget passed."""

    def __init__(
        self,
        prom: Prometheus,
        alerts: Sequence[str],
        fault: str,
        scrape_s: float,
        since_wall: float,
        began_wall: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``since_wall``: when the fault took effect (budgets count from it); ``began_wall``: when its
        injection began (an alert Prometheus made pending before that was not raised by the fault)."""
        self.prom, self.fault, self.scrape_s, self.since, self.clock = prom, fault, scrape_s, since_wall, clock
        self.began = began_wall
        rules = prom.alerting_rules()
        self.loaded = tuple(sorted({r.name for r in rules}))
        self.rules = {a: next((r for r in rules if r.name == a), None) for a in alerts}
        self.active_before: dict[str, str] = dict.fromkeys(alerts, "")
        self.pending: dict[str, float] = {}
        self.firing: dict[str, float] = {}
        self.read_error = ""

    def deadline_wall(self) -> float:
        budgets = [budget_s(r, self.scrape_s) for r in self.rules.values() if r is not None]
        return self.since + max(budgets, default=0.0) + GRACE_S

    def done(self) -> bool:
        return all(a in self.firing or self.rules[a] is None or self.active_before[a] for a in self.rules)

    def poll(self) -> None:
        now = self.clock()
        try:
            active = self.prom.alerts()
        except (BackendError, ClusterUnreachable) as e:  # Prometheus busy or restarting: the next poll may do
            self.read_error = str(e)[:200]
            return
        for a in self.rules:
            seen = first_seen(active, a, "pending")
            if seen is None:
                continue
            if seen.active_at < self.began - CLOCK_SKEW_S and a not in self.pending:
                self.active_before[a] = seen.state  # pending since before the fault began
            if a not in self.pending:
                # Prometheus' own activeAt: the evaluation that found the expression true
                self.pending[a] = max(0.0, seen.active_at - self.since)
            if a not in self.firing and seen.state == "firing":
                self.firing[a] = now - self.since

    def run(self, sleep: Callable[[float], None] = time.sleep) -> list[AlertOutcome]:
        deadline = self.deadline_wall()
        self.poll()
        while not self.done() and self.clock() < deadline:
            sleep(POLL_S)
            self.poll()
        return self.outcomes()

    def outcomes(self) -> list[AlertOutcome]:
        return [
            AlertOutcome(
                alert=a,
                fault=self.fault,
                rule=rule,
                scrape_s=self.scrape_s,
                active_before=self.active_before[a],
                pending_s=self.pending.get(a),
                firing_s=self.firing.get(a),
                loaded=self.loaded,
                read_error=self.read_error,
            )
            for a, rule in self.rules.items()
        ]
