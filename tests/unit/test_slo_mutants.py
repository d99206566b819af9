"""SLO maths at its edges, and every check as the report shows it (name, expected, observed, verdict, hint).

Written against mutation testing (``make mutation``): each test pins a boundary (≤ against <, the default
of an argument, an outage still open at the end) or the exact text an operator reads in a failed check.
"""

import pytest

from kubedrill import slo
from kubedrill.model import Check, Impact, Observation, Sample


def s(t: float, ok: bool = True, latency: float = 0.01, op: str = "write", error: str = "") -> Sample:
    return Sample(t=t, wall=1000 + t, op=op, ok=ok, latency_s=latency, error=error or ("" if ok else "timeout"))


def pattern(text: str, step: float = 0.25, latency: float = 0.125) -> list[Sample]:
    """'..x.' → a sample every 0.25 s ('.' ok, 'x' failed); binary fractions, so durations are exact."""
    return [s(i * step, c == ".", latency) for i, c in enumerate(text)]


# ---------------------------------------------------------------- good, outages, percentiles, recovery


def test_an_answer_exactly_at_the_stall_threshold_is_still_good() -> None:
    assert slo.is_good(s(0.0, latency=0.5), stall_s=0.5)
    assert not slo.is_good(s(0.0, latency=0.5000001), stall_s=0.5)


def test_an_outage_open_at_the_end_without_a_window_end_runs_to_the_last_sample() -> None:
    (outage,) = slo.outages(pattern("..xxx"))
    assert (outage.start, outage.end, outage.failed_samples) == (0.5, 1.0, 3)
    assert outage.duration_s == 0.5


def test_an_outage_open_at_the_window_end_counts_its_bad_samples() -> None:
    (outage,) = slo.outages(pattern("..xxx"), window_end=2.0)
    assert (outage.start, outage.end, outage.failed_samples) == (0.5, 2.0, 3)


def test_percentiles_at_the_ends_of_the_range_and_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted: the percentile sorts
    assert slo.percentile(values, 0) == 1.0  # the smallest, not the second
    assert slo.percentile(values, 100) == 4.0  # the largest, no index past the end
    assert slo.percentile(values, 50) == 2.5  # position 1.5: halfway between 2 and 3
    assert slo.percentile(values, 100 / 3) == pytest.approx(2.0)  # position 1: exactly a rank
    assert slo.percentile([7.0], 99) == 7.0  # one value is every percentile
    # p1 of 101 values is position 1.0: the second value
    assert slo.percentile([float(v) for v in range(1, 102)], 1) == pytest.approx(2.0)
    assert slo.percentile([0.0, 10.0], 25) == 2.5  # weighted towards the nearer rank


@pytest.mark.parametrize("q", [-0.1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused_naming_it(q: float) -> None:
    with pytest.raises(ValueError, match=rf"^percentile must be within 0\.\.100, got {q}$"):
        slo.percentile([1.0], q)


def test_recovery_needs_a_full_second_of_good_answers_by_default() -> None:
    # good from 0.0 to exactly 1.0: stable for 1 s (the default), so recovered at once
    assert slo.time_to_recover_s(pattern("." * 5), fault_end=0.0) == 0.0
    # good for 0.75 s only: never stable
    assert slo.time_to_recover_s(pattern("." * 4), fault_end=0.0) is None


def test_leader_identity_is_the_node_name_before_the_last_underscore() -> None:
    assert slo.node_of_holder("cp-1_6f1c2d") == "cp-1"
    assert slo.node_of_holder("node_a_6f1c2d") == "node_a"  # the UUID follows the last underscore
    assert slo.node_of_holder("cp-1") is None
    assert slo.node_of_holder(None) is None


def test_the_last_segment_runs_to_end_or_to_the_last_reading_whichever_is_later() -> None:
    readings = [Observation(t, 1000 + t, "etcd", "m1", term=2) for t in (0.0, 1.0, 2.0)]
    assert slo.holder_segments(readings, "etcd", end=0.5) == [slo.Segment(0.0, 2.0, "m1", 2)]
    assert slo.holder_segments(readings, "etcd", end=3.0) == [slo.Segment(0.0, 3.0, "m1", 2)]
    assert slo.holder_segments(readings, "etcd") == [slo.Segment(0.0, 2.0, "m1", 2)]


# ---------------------------------------------------------------- checks, as the report shows them

AVAILABILITY_HINT = "see the prober timeline (CSV/PNG) for when the requests failed and with which errors"
OUTAGE_HINT = "a dead API server kept in rotation, or the load balancer itself gone: check its health checks"
LATENCY_HINT = "see the prober timeline (CSV/PNG) for when requests slowed down"


def test_availability_check_reads_as_share_and_failed_probes() -> None:
    assert slo.check_availability("API write availability", pattern("..x."), 0.5) == Check(
        name="API write availability",
        expected="≥ 50.00 %",
        observed="75.00 % (1 of 4 probes failed)",
        ok=True,
        hint=AVAILABILITY_HINT,
        impact=Impact.USERS,
    )


def test_availability_exactly_at_the_minimum_passes() -> None:
    assert slo.check_availability("a", pattern("..x."), 0.75).ok
    assert not slo.check_availability("a", pattern("..x."), 0.76).ok


def test_availability_without_samples_says_so_and_fails() -> None:
    check = slo.check_availability("a", [], 0.9)
    assert (check.observed, check.ok) == ("no samples (0 of 0 probes failed)", False)


def test_availability_with_a_stall_threshold_counts_slow_answers_as_unavailable() -> None:
    samples = [s(0.0), s(0.25, latency=0.75), s(0.5, ok=False), s(0.75)]
    check = slo.check_availability("a", samples, 0.5, stall_s=0.5)
    assert check.observed == "50.00 % (1 of 4 probes failed, 1 answered after more than 0.5 s)"
    assert check.ok
    # nothing stalled: the threshold is not mentioned
    plain = slo.check_availability("a", pattern("..x."), 0.5, stall_s=0.5)
    assert plain.observed == "75.00 % (1 of 4 probes failed)"


def test_longest_outage_check_names_the_longest_of_several() -> None:
    # outages: 0.25-1.0 (3 bad, 0.75 s), then 1.5-1.75 (1 bad, 0.25 s)
    samples = pattern(".xxx..x.", latency=0.0)
    assert slo.check_longest_outage("longest API write outage", samples, 0.75, window_end=2.0) == Check(
        name="longest API write outage",
        expected="≤ 0.75 s",
        observed="0.75 s (3 bad probes in a row, 2 outage(s))",
        ok=True,  # exactly at the maximum
        hint=OUTAGE_HINT,
        impact=Impact.USERS,
    )
    assert not slo.check_longest_outage("o", samples, 0.74, window_end=2.0).ok
    # the longest second: max by duration, not the last one
    later = pattern(".x..xxx.", latency=0.0)
    assert slo.check_longest_outage("o", later, 1.0, window_end=2.0).observed.startswith("0.75 s (3 bad probes")


def test_longest_outage_check_runs_an_open_outage_to_the_window_end() -> None:
    check = slo.check_longest_outage("o", pattern("..xx", latency=0.0), 5.0, window_end=2.0)
    assert check.observed == "1.50 s (2 bad probes in a row, 1 outage(s))"


def test_longest_outage_check_applies_the_stall_threshold() -> None:
    samples = [s(0.0), s(0.25, latency=1.0), s(1.25)]
    assert slo.check_longest_outage("o", samples, 2.0, window_end=2.0).observed == "no outage"
    stalled = slo.check_longest_outage("o", samples, 2.0, window_end=2.0, stall_s=0.5)
    assert stalled.observed == "1.00 s (1 bad probes in a row, 1 outage(s))"


def test_no_outage_passes_whatever_the_maximum_but_no_samples_fails() -> None:
    assert slo.check_longest_outage("o", pattern("...."), 0.0, window_end=1.0) == Check(
        "o", "≤ 0.00 s", "no outage", True, OUTAGE_HINT, impact=Impact.USERS
    )
    assert slo.check_longest_outage("o", pattern("...."), 0.5, window_end=1.0).ok
    assert not slo.check_longest_outage("o", [], 1.0, window_end=1.0).ok


def test_latency_check_reads_in_milliseconds() -> None:
    samples = [s(0.0, latency=0.25), s(0.25, latency=0.5), s(0.5, latency=0.5), s(0.75, ok=False, latency=5.0)]
    assert slo.check_latency("API write latency", samples, 99, 0.5) == Check(
        name="API write latency",
        expected="p99 ≤ 500 ms",
        observed="p99 500 ms",
        ok=True,
        hint=LATENCY_HINT,
        impact=Impact.USERS,
    )
    slow = slo.check_latency("l", samples, 50, 0.125)
    assert slow == Check("l", "p50 ≤ 125 ms", "p50 500 ms", False, LATENCY_HINT, impact=Impact.USERS)
    assert slo.check_latency("l", samples, 25, 1.0).observed == "p25 375 ms"
    assert not slo.check_latency("l", samples, 99, 0.499).ok
    assert slo.check_latency("l", [s(0.0, latency=1.5)], 99, 2.0).observed == "p99 1500 ms"


def test_latency_check_without_a_successful_probe_fails() -> None:
    assert slo.check_latency("l", [s(0.0, ok=False)], 99, 1.0) == Check(
        "l", "p99 ≤ 1000 ms", "no successful probes", False, LATENCY_HINT, impact=Impact.USERS
    )


def test_check_max_reads_in_its_unit_and_never_fails() -> None:
    assert slo.check_max("recovery", 2.5, 10) == Check(
        "recovery", "≤ 10 s", "2.500 s", True, "", impact=Impact.RECOVERY
    )
    assert slo.check_max("recovery", 10.0, 10).ok  # exactly at the maximum
    assert slo.check_max("handover", None, 22, unit="s", hint="is a standby running?") == Check(
        "handover", "≤ 22 s", "never", False, "is a standby running?", impact=Impact.RECOVERY
    )
    assert slo.check_max("cut off", 1.0, 2, impact=Impact.USERS).impact is Impact.USERS
    assert slo.check_max("lost", 3, 2, unit="writes").observed == "3.000 writes"


def test_check_at_least_with_and_without_a_unit() -> None:
    connected = slo.check_at_least("clients connected", 3, 3, impact=Impact.USERS)
    assert connected == Check("clients connected", "≥ 3", "3", True, impact=Impact.USERS)
    assert slo.check_at_least("ready replicas", 2, 3, unit="pods", impact=Impact.RECOVERY) == Check(
        "ready replicas", "≥ 3 pods", "2 pods", False, impact=Impact.RECOVERY
    )


def test_stale_read_check_reads_as_counts() -> None:
    reads = [s(0.0, op="read"), s(0.25, op="read", ok=False, error="stale-read"), s(0.5, op="write")]
    assert slo.check_no_stale_reads(reads) == Check(
        name="no stale read",
        expected="every read of an acknowledged write finds it",
        observed="1 stale reads of 2",
        ok=False,
        hint="an API server served data older than an acknowledged write: check its etcd member",
        impact=Impact.USERS,
    )
    assert slo.check_no_stale_reads(reads[:1]).ok


LEDGER_HINT = "an acknowledged write that vanished means etcd lost committed data"


def test_ledger_check_passes_on_a_single_readable_write() -> None:
    assert slo.check_ledger_result(slo.check_ledger(["w1"], ["w1"])) == Check(
        name="no acknowledged write lost",
        expected="every acknowledged write readable afterwards",
        observed="1 of 1 acknowledged writes readable",
        ok=True,
        hint=LEDGER_HINT,
        impact=Impact.USERS,
    )


def test_ledger_check_lists_ten_lost_writes_then_an_ellipsis() -> None:
    ten = [f"w{i}" for i in range(10)]
    check = slo.check_ledger_result(slo.check_ledger(ten, []))
    assert check.observed == "0 of 10 acknowledged writes readable; lost: " + ", ".join(ten)
    eleven = [*ten, "w10"]
    check = slo.check_ledger_result(slo.check_ledger(eleven, []))
    assert check.observed == "0 of 11 acknowledged writes readable; lost: " + ", ".join(ten) + " …"


def test_ledger_check_does_not_count_the_allowed_rpo_set_as_lost() -> None:
    check = slo.check_ledger_result(slo.check_ledger(["w1", "w2"], ["w1"], allowed_lost=["w2"]))
    assert (check.observed, check.ok) == ("1 of 2 acknowledged writes readable", True)
