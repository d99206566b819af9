"""Plain data shared by every layer: prober samples, fault windows, SLO verdicts. No I/O, no clocks."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """One request the API prober made.

    ``t`` is seconds on the monotonic clock the whole drill shares; ``wall`` is the matching Unix time,
    used only to line samples up with Prometheus and the report.
    """

    t: float
    wall: float
    op: str  # "read" | "write"
    ok: bool
    latency_s: float
    error: str = ""  # error class when not ok: timeout, refused, http-503, …


@dataclass(frozen=True)
class Observation:
    """One reading of who leads or holds something (the etcd leader, a Lease holder), on the drill's clock.

    ``subject`` names what was read (``etcd``, ``lease/kube-scheduler``); ``holder`` is None when nobody
    leads (no quorum, an expired Lease) and ``error`` says why when the reading itself failed."""

    t: float
    wall: float
    subject: str
    holder: str | None
    term: int | None = None  # etcd's raft term, when the subject has one
    error: str = ""


@dataclass(frozen=True)
class Window:
    """A span on the drill's monotonic clock, e.g. from injection to the end of recovery."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def contains(self, t: float) -> bool:
        return self.start <= t <= self.end


class Impact(enum.StrEnum):
    """What a check protects, and so what its failure costs in the run's resilience score (report.score)."""

    USERS = "users"  # what the cluster's clients saw: availability, outages, latency, writes lost or refused
    RECOVERY = "recovery"  # how the cluster healed against its budget: elections, handovers, RTO, catch-up
    SIGNAL = "signal"  # what monitoring showed over the window: PromQL expressions and alerts


@dataclass(frozen=True)
class Check:
    """One SLO, judged: what was expected, what was observed, and whether that is within the objective."""

    name: str
    expected: str
    observed: str
    ok: bool
    hint: str = ""  # where to look when it fails
    impact: Impact = field(kw_only=True)  # no default: whoever writes a check says what it protects

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        text = f"[{mark}] {self.name}: expected {self.expected}, observed {self.observed}"
        return text if self.ok or not self.hint else f"{text}; {self.hint}"


@dataclass
class Verdict:
    """Every check of one drill. A drill passes only when every check does."""

    drill: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        return "\n".join(c.line() for c in self.checks)


@dataclass
class PhaseRecord:
    """One step of a drill's runbook, on the drill's clock (``wall``: the matching Unix time at its start)."""

    name: str
    start: float
    end: float | None = None
    wall: float = 0.0
    outcome: str = "ok"
