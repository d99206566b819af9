"""SLO maths over the prober's timeline and the write ledger. Pure: values in, numbers and Checks out.

Definitions (all over samples of one operation inside a window). A sample is *good* when the request
succeeded and, given ``stall_s``, was answered within it: a request that hung for seconds and then
succeeded kept its user waiting as surely as one that failed.

- availability: good samples / all samples;
- outage: a maximal run of consecutive bad samples. It runs from the start of the first bad sample to
  the moment the API answered again: the answer of the run's last sample when that one succeeded late
  (a stall), else the answer of the next good sample (or the window's end). So a single failed 100 ms
  probe between two good ones counts as 100 ms, not 0, and an outage is resolved to the prober's 100 ms
  grid whatever the client's timeout (bench/bench_outage.py measures it against injected outages);
- time to recover: from the fault's end to the first good sample after which none is bad for ``stable_s``;
- latency percentiles over successful samples, interpolated between the two nearest ranks (numpy's default
  method, "linear"). Nearest-rank made p99 the slowest probe of any window under 100 probes, and a
  10 s window holds fewer whenever a request stalls (the 10 Hz grid skips its slots while it hangs): one
  1.001 s write in 90, already counted by the availability and outage checks, failed a follower kill in CI.
  Interpolated, one slow probe in 90 moves p99 by 11 % of its excess; two set it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubedrill.model import Check, Impact, Observation, Sample, Window


def in_window(samples: Iterable[Sample], window: Window, op: str | None = None) -> list[Sample]:
    return sorted(
        (s for s in samples if window.contains(s.t) and (op is None or s.op == op)),
        key=lambda s: s.t,
    )


def is_good(s: Sample, stall_s: float | None = None) -> bool:
    """Succeeded, and (given ``stall_s``) answered within it."""
    return s.ok and (stall_s is None or s.latency_s <= stall_s)


def availability(samples: Sequence[Sample], stall_s: float | None = None) -> float | None:
    """Fraction of good samples; None when there are none (no evidence is not 100 %)."""
    if not samples:
        return None
    return sum(is_good(s, stall_s) for s in samples) / len(samples)


@dataclass(frozen=True)
class Outage:
    start: float
    end: float
    failed_samples: int  # bad samples: failed, or answered later than the stall threshold

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def outages(samples: Sequence[Sample], window_end: float | None = None, stall_s: float | None = None) -> list[Outage]:
    """Every run of consecutive bad samples, in time order. ``samples`` must be one op, sorted by time."""
    found = []
    start: float | None = None
    last_bad: Sample | None = None
    count = 0
    for s in samples:
        if not is_good(s, stall_s):
            if start is None:
                start = s.t
            last_bad = s
            count += 1
        elif start is not None and last_bad is not None:
            # A stalled success is the API answering again; a failure is not, so the next answer is.
            end = last_bad.t + last_bad.latency_s if last_bad.ok else s.t + s.latency_s
            found.append(Outage(start, end, count))
            start, last_bad, count = None, None, 0
    if start is not None and last_bad is not None:
        if last_bad.ok:
            end = last_bad.t + last_bad.latency_s
        else:
            end = window_end if window_end is not None else samples[-1].t
        found.append(Outage(start, max(end, start), count))
    return found


def longest_outage_s(samples: Sequence[Sample], window_end: float | None = None, stall_s: float | None = None) -> float:
    return max((o.duration_s for o in outages(samples, window_end, stall_s)), default=0.0)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (q in 0..100), linearly interpolated between the nearest ranks; None for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def latency_percentile_s(samples: Sequence[Sample], q: float) -> float | None:
    return percentile([s.latency_s for s in samples if s.ok], q)


def time_to_recover_s(
    samples: Sequence[Sample],
    fault_end: float,
    stable_s: float = 1.0,
    stall_s: float | None = None,
    steady_since: float | None = None,
) -> float | None:
    """Seconds from ``fault_end`` until the API is good again for at least ``stable_s``; None if never.

    Zero when the samples around the fault's end were already good. With ``steady_since`` (before
    ``fault_end``), good samples from then on count towards ``stable_s`` too: an API that answered well
    through the window's last second needs no further second of proof after it.
    """
    since = fault_end if steady_since is None else min(steady_since, fault_end)
    ordered = sorted((s for s in samples if s.t >= since), key=lambda s: s.t)
    candidate: float | None = None
    for s in ordered:
        if not is_good(s, stall_s):
            candidate = None
            continue
        if candidate is None:
            candidate = s.t
        if s.t - candidate >= stable_s:
            return max(0.0, candidate - fault_end)
    return None


# ---------------------------------------------------------------- who leads: etcd leader, Lease holders

NO_ANSWER = "(no answer)"  # the reading failed: nobody could be asked
NOBODY = "(none)"  # the reading worked and nobody leads (no quorum, Lease released)


@dataclass(frozen=True)
class Segment:
    """A span during which every reading of one subject named the same holder."""

    start: float
    end: float
    holder: str  # a holder, NOBODY or NO_ANSWER
    term: int | None = None


@dataclass(frozen=True)
class Handover:
    """Leadership seen moving: the last reading of the old holder and the first of the new one."""

    last_old: float
    first_new: float
    old: str
    new: str
    term: int | None = None

    @property
    def gap_s(self) -> float:
        """How long, at most, nobody (known) led: from the last reading of the old holder to the new."""
        return self.first_new - self.last_old


def _label(o: Observation) -> str:
    if o.error:
        return NO_ANSWER
    return o.holder or NOBODY


def holder_segments(observations: Iterable[Observation], subject: str, end: float | None = None) -> list[Segment]:
    """Consecutive readings of ``subject`` that agree, merged; each segment runs to the next reading that
    disagrees (or ``end``). A change of term with the same holder (a leader re-elected) starts a new one."""
    ordered = sorted((o for o in observations if o.subject == subject), key=lambda o: o.t)
    out: list[Segment] = []
    for o in ordered:
        label = _label(o)
        if out and out[-1].holder == label and (o.term is None or out[-1].term in (None, o.term)):
            continue
        if out:
            out[-1] = Segment(out[-1].start, o.t, out[-1].holder, out[-1].term)
        out.append(Segment(o.t, o.t, label, o.term))
    if out:
        last_t = ordered[-1].t if end is None else max(end, ordered[-1].t)
        out[-1] = Segment(out[-1].start, last_t, out[-1].holder, out[-1].term)
    return out


def handovers(observations: Iterable[Observation], subject: str) -> list[Handover]:
    """Every time a real holder was followed by a different real holder (or the same one in a later term),
    with readings of nobody or no answer in between ignored."""
    ordered = sorted((o for o in observations if o.subject == subject), key=lambda o: o.t)
    found: list[Handover] = []
    last: Observation | None = None
    for o in ordered:
        if o.error or not o.holder:
            continue
        if last is not None and (
            o.holder != last.holder or (o.term is not None and last.term is not None and o.term > last.term)
        ):
            found.append(Handover(last.t, o.t, str(last.holder), o.holder, o.term))
        last = o
    return found


def node_of_holder(holder: str | None) -> str | None:
    """Leader-election identities are ``<hostname>_<uuid>``; the hostname is the node's name."""
    return holder.rsplit("_", 1)[0] if holder and "_" in holder else None


# ---------------------------------------------------------------- write ledger


@dataclass(frozen=True)
class LedgerResult:
    acknowledged: int
    readable: int
    lost: tuple[str, ...]  # acknowledged but not readable afterwards
    expected_lost: tuple[str, ...]  # lost, and allowed to be (written after a restored snapshot)

    @property
    def unexpected_lost(self) -> tuple[str, ...]:
        return tuple(k for k in self.lost if k not in set(self.expected_lost))


def check_ledger(
    acknowledged: Sequence[str], readable: Iterable[str], allowed_lost: Iterable[str] = ()
) -> LedgerResult:
    """Which acknowledged writes are missing afterwards. ``allowed_lost`` is the RPO set of a restore."""
    present = set(readable)
    allowed = set(allowed_lost)
    lost = tuple(k for k in acknowledged if k not in present)
    return LedgerResult(
        acknowledged=len(acknowledged),
        readable=len(acknowledged) - len(lost),
        lost=lost,
        expected_lost=tuple(k for k in lost if k in allowed),
    )


# ---------------------------------------------------------------- checks


def _fmt_pct(x: float | None) -> str:
    return "no samples" if x is None else f"{x * 100:.2f} %"


def check_availability(name: str, samples: Sequence[Sample], minimum: float, stall_s: float | None = None) -> Check:
    value = availability(samples, stall_s)
    failed = sum(not s.ok for s in samples)
    stalled = sum(s.ok and not is_good(s, stall_s) for s in samples)
    also = f", {stalled} answered after more than {stall_s:g} s" if stalled and stall_s is not None else ""
    return Check(
        name=name,
        expected=f"≥ {minimum * 100:.2f} %",
        observed=f"{_fmt_pct(value)} ({failed} of {len(samples)} probes failed{also})",
        ok=value is not None and value >= minimum,
        hint="see the prober timeline (CSV/PNG) for when the requests failed and with which errors",
        impact=Impact.USERS,
    )


def check_longest_outage(
    name: str, samples: Sequence[Sample], maximum_s: float, window_end: float, stall_s: float | None = None
) -> Check:
    runs = outages(samples, window_end, stall_s)
    longest = max(runs, key=lambda o: o.duration_s, default=None)
    observed = (
        "no outage"
        if longest is None
        else f"{longest.duration_s:.2f} s ({longest.failed_samples} bad probes in a row, {len(runs)} outage(s))"
    )
    return Check(
        name=name,
        expected=f"≤ {maximum_s:.2f} s",
        observed=observed,
        ok=(longest.duration_s if longest else 0.0) <= maximum_s and bool(samples),
        hint="a dead API server kept in rotation, or the load balancer itself gone: check its health checks",
        impact=Impact.USERS,
    )


def check_latency(name: str, samples: Sequence[Sample], q: float, maximum_s: float) -> Check:
    value = latency_percentile_s(samples, q)
    return Check(
        name=name,
        expected=f"p{q:g} ≤ {maximum_s * 1000:.0f} ms",
        observed="no successful probes" if value is None else f"p{q:g} {value * 1000:.0f} ms",
        ok=value is not None and value <= maximum_s,
        hint="see the prober timeline (CSV/PNG) for when requests slowed down",
        impact=Impact.USERS,
    )


def check_max(
    name: str,
    observed: float | None,
    maximum: float,
    unit: str = "s",
    hint: str = "",
    impact: Impact = Impact.RECOVERY,
) -> Check:
    """A figure within its budget; None (the wait for it gave up) fails. Mostly how long healing took, hence
    the default impact."""
    return Check(
        name=name,
        expected=f"≤ {maximum:g} {unit}",
        observed="never" if observed is None else f"{observed:.3f} {unit}",
        ok=observed is not None and observed <= maximum,
        hint=hint,
        impact=impact,
    )


def check_at_least(name: str, observed: int, minimum: int, *, impact: Impact, unit: str = "") -> Check:
    return Check(
        name=name,
        expected=f"≥ {minimum}{f' {unit}' if unit else ''}",
        observed=f"{observed}{f' {unit}' if unit else ''}",
        ok=observed >= minimum,
        impact=impact,
    )


def check_no_stale_reads(samples: Sequence[Sample]) -> Check:
    stale = [s for s in samples if s.op == "read" and s.error == "stale-read"]
    return Check(
        name="no stale read",
        expected="every read of an acknowledged write finds it",
        observed=f"{len(stale)} stale reads of {sum(s.op == 'read' for s in samples)}",
        ok=not stale,
        hint="an API server served data older than an acknowledged write: check its etcd member",
        impact=Impact.USERS,
    )


def check_ledger_result(result: LedgerResult) -> Check:
    unexpected = result.unexpected_lost
    observed = f"{result.readable} of {result.acknowledged} acknowledged writes readable"
    if unexpected:
        observed += f"; lost: {', '.join(unexpected[:10])}{' …' if len(unexpected) > 10 else ''}"
    return Check(
        name="no acknowledged write lost",
        expected="every acknowledged write readable afterwards",
        observed=observed,
        ok=not unexpected and result.acknowledged > 0,
        hint="an acknowledged write that vanished means etcd lost committed data",
        impact=Impact.USERS,
    )
