"""Who led when: holder segments and handovers over watcher readings, and the watcher's loop against fakes."""

import threading
from typing import Any

import pytest

from kubedrill import slo
from kubedrill.model import Observation
from kubedrill.probes.control_plane import ControlPlaneWatcher, WatchSettings


def readings(pattern: str, subject: str = "etcd", step: float = 0.1) -> list[Observation]:
    """'aa.?bb' → a reading every 100 ms: a letter names the holder (cp-a…), '.' nobody, '?' no answer;
    an upper-case letter is the same holder in a later term (a leader re-elected)."""
    out = []
    for i, c in enumerate(pattern):
        t = i * step
        if c == "?":
            out.append(Observation(t, 1000 + t, subject, None, error="context deadline exceeded"))
        elif c == ".":
            out.append(Observation(t, 1000 + t, subject, None, 2))
        else:
            out.append(Observation(t, 1000 + t, subject, f"cp-{c.lower()}", 3 if c.isupper() else 2))
    return out


def test_agreeing_readings_merge_into_one_segment_per_holder() -> None:
    segs = slo.holder_segments(readings("aaa..bbb"), "etcd")
    assert [s.holder for s in segs] == ["cp-a", slo.NOBODY, "cp-b"]
    assert [(round(s.start, 1), round(s.end, 1)) for s in segs] == [(0.0, 0.3), (0.3, 0.5), (0.5, 0.7)]


def test_a_failed_reading_is_shown_as_no_answer_not_as_nobody() -> None:
    assert [s.holder for s in slo.holder_segments(readings("aa??aa"), "etcd")] == ["cp-a", slo.NO_ANSWER, "cp-a"]


def test_the_last_segment_runs_to_the_given_end() -> None:
    assert slo.holder_segments(readings("aab"), "etcd", end=5.0)[-1].end == 5.0


def test_a_handover_spans_from_the_last_reading_of_the_old_holder_to_the_first_of_the_new() -> None:
    (h,) = slo.handovers(readings("aa...?bb"), "etcd")
    assert (h.old, h.new) == ("cp-a", "cp-b")
    assert h.gap_s == pytest.approx(0.5)


def test_the_same_leader_in_a_later_term_is_a_handover_and_a_new_segment() -> None:
    assert [(h.old, h.new, h.term) for h in slo.handovers(readings("aa..AA"), "etcd")] == [("cp-a", "cp-a", 3)]
    assert [s.term for s in slo.holder_segments(readings("aaAA"), "etcd")] == [2, 3]


def test_no_change_no_handover_and_subjects_do_not_mix() -> None:
    obs = readings("aaaa") + readings("bbbb", subject="lease/kube-scheduler")
    assert slo.handovers(obs, "etcd") == []
    assert [s.holder for s in slo.holder_segments(obs, "lease/kube-scheduler")] == ["cp-b"]


def test_a_lease_holder_names_its_node_before_the_process_uuid() -> None:
    assert slo.node_of_holder("cp-2_6f1c2d3e-1111-2222-3333-444455556666") == "cp-2"
    assert slo.node_of_holder("kind-control-plane2_abc") == "kind-control-plane2"
    assert slo.node_of_holder("no-uuid") is None
    assert slo.node_of_holder(None) is None


# ---------------------------------------------------------------- the watcher's loop


def test_the_watcher_records_leaders_terms_holders_and_failed_readings() -> None:
    leader: dict[str, Any] = {"node": "cp-1", "term": 4}
    broken = threading.Event()

    def read_etcd() -> tuple[str | None, int | None]:
        if broken.is_set():
            raise TimeoutError("etcdctl: context deadline exceeded")
        return leader["node"], leader["term"]

    def read_holder(name: str) -> str | None:
        if broken.is_set():
            raise ConnectionRefusedError("connection refused")
        return f"cp-2_{name}"

    watcher = ControlPlaneWatcher(
        read_etcd, read_holder, ["kube-scheduler"], WatchSettings(etcd_interval_s=0.01, lease_interval_s=0.01)
    ).start()
    pause = threading.Event()
    pause.wait(0.1)
    leader.update(node="cp-3", term=5)
    pause.wait(0.1)
    broken.set()
    pause.wait(0.1)
    watcher.stop()
    obs = watcher.snapshot()
    assert not watcher.running
    (h,) = slo.handovers(obs, "etcd")
    assert (h.old, h.new, h.term) == ("cp-1", "cp-3", 5)
    assert any(o.subject == "etcd" and o.error.startswith("etcdctl: context deadline") for o in obs)
    lease = [o for o in obs if o.subject == "lease/kube-scheduler"]
    assert {o.holder for o in lease if not o.error} == {"cp-2_kube-scheduler"}
    assert any(o.error == "connection refused" for o in lease)
    assert [o.t for o in obs if o.subject == "etcd"] == sorted(o.t for o in obs if o.subject == "etcd")


def test_a_watcher_without_etcd_access_watches_only_the_leases() -> None:
    watcher = ControlPlaneWatcher(None, lambda name: "cp-1_x", ["kube-controller-manager"], WatchSettings(0.01, 0.01))
    watcher.start()
    threading.Event().wait(0.05)
    watcher.stop()
    assert {o.subject for o in watcher.snapshot()} == {"lease/kube-controller-manager"}
