"""The rollback ledger and the undo stack, with hand-written fake faults (no cluster)."""

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from kubedrill.errors import QuorumGuard, RollbackFailed
from kubedrill.faults.base import Fault, Plan, Rollbacks, quorum_violations
from kubedrill.faults.ledger import RollbackLedger


class FakeFault(Fault):
    fault_type = "test.fake"

    def __init__(
        self,
        name: str,
        calls: list[str],
        fail_revert: bool = False,
        down: frozenset[tuple[str, str]] = frozenset(),
        on_revert: Any = None,
    ) -> None:
        self.name = name
        self.calls = calls
        self.fail_revert = fail_revert
        self.down = down
        self.on_revert = on_revert

    def takes_down(self) -> frozenset[tuple[str, str]]:
        return self.down

    def params(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_params(cls, cluster: Any, params: dict[str, Any]) -> "FakeFault":
        return cls(params["name"], [])

    def plan(self) -> Plan:
        return Plan(self.fault_type, {"name": self.name}, [f"break {self.name}"], [f"mend {self.name}"])

    def inject(self) -> str:
        self.calls.append(f"inject {self.name}")
        return "injected"

    def confirm(self) -> str:
        return "took effect"

    def revert(self) -> str:
        self.calls.append(f"revert {self.name}")
        if self.on_revert:
            self.on_revert()
        if self.fail_revert:
            raise RuntimeError(f"{self.name} would not revert")
        return "reverted"


def test_faults_are_recorded_before_injection_and_cleared_after_revert(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    calls: list[str] = []
    rb = Rollbacks(ledger, "drill", {}, on_event=lambda m: None)
    rb.inject(FakeFault("a", calls))
    assert [e.params for e in ledger.pending()] == [{"name": "a"}]
    rb.close()
    assert ledger.pending() == []
    assert calls == ["inject a", "revert a"]


def test_every_revert_runs_newest_first_and_failures_are_raised_together_at_the_end(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    calls: list[str] = []
    rb = Rollbacks(ledger, "drill", {}, on_event=lambda m: None)
    for name, fail in (("a", False), ("b", True), ("c", False)):
        rb.inject(FakeFault(name, calls, fail_revert=fail))
    with pytest.raises(RollbackFailed, match="b would not revert"):
        rb.close()
    assert calls[-3:] == ["revert c", "revert b", "revert a"]
    assert [e.params["name"] for e in ledger.pending()] == ["b"]  # what recover must still undo


def test_a_torn_last_line_from_a_kill_does_not_lose_earlier_entries(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.begin("test.fake", {"name": "a"}, {}, "drill", "a")
    with open(ledger.path, "a") as f:
        f.write('{"event": "injecting", "id": "tor')
    assert [e.params for e in ledger.pending()] == [{"name": "a"}]


SIZES = {"etcd": 3, "kube-apiserver": 3}


def etcd_on(*nodes: str) -> frozenset[tuple[str, str]]:
    return frozenset(("etcd", n) for n in nodes)


@pytest.mark.parametrize(
    ("down", "sizes", "refused"),
    [
        (etcd_on("cp-1"), SIZES, False),
        (etcd_on("cp-1", "cp-2"), SIZES, True),
        (etcd_on("cp-1", "cp-2"), {"etcd": 5}, False),
        (etcd_on("cp-1", "cp-2", "cp-3"), {"etcd": 5}, True),
        (frozenset({("kube-apiserver", "cp-1")}), {"kube-apiserver": 1}, True),  # the only API server
        (frozenset({("kube-scheduler", "cp-1"), ("kube-scheduler", "cp-2")}), SIZES, False),  # not guarded
    ],
)
def test_the_quorum_budget_is_n_minus_one_over_two(
    down: frozenset[tuple[str, str]], sizes: dict[str, int], refused: bool
) -> None:
    assert bool(quorum_violations(down, sizes)) is refused


def test_the_quorum_guard_refuses_the_fault_that_would_break_quorum_before_recording_it(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    calls: list[str] = []
    rb = Rollbacks(ledger, "drill", {}, on_event=lambda m: None, sizes=SIZES)
    rb.inject(FakeFault("a", calls, down=etcd_on("cp-1")))
    with pytest.raises(QuorumGuard, match=r"2 of 3 etcd \(cp-1, cp-2\); at most 1 = \(N-1\)/2"):
        rb.inject(FakeFault("b", calls, down=etcd_on("cp-2")))
    assert calls == ["inject a"]  # b was neither recorded nor injected
    assert [e.params["name"] for e in ledger.pending()] == ["a"]
    rb.close()
    rb.inject(FakeFault("c", calls, down=etcd_on("cp-2")))  # a is reverted: one down again is fine
    rb.close()


def test_a_drill_allowed_to_lose_quorum_may(tmp_path: Path) -> None:
    rb = Rollbacks(RollbackLedger(tmp_path / "l.jsonl"), "d", {}, lambda m: None, sizes=SIZES, allow_quorum_loss=True)
    calls: list[str] = []
    for n in ("cp-1", "cp-2", "cp-3"):
        rb.inject(FakeFault(n, calls, down=etcd_on(n)))
    rb.close()
    assert calls[-3:] == ["revert cp-3", "revert cp-2", "revert cp-1"]


def test_ctrl_c_during_the_rollbacks_skips_none_of_them(tmp_path: Path) -> None:
    """A Ctrl-C (and another) arriving while the first revert runs is held until every revert ran, also
    with other threads running (as the prober's are: the kernel may hand the signal to any of them)."""
    assert threading.current_thread() is threading.main_thread()
    calls: list[str] = []
    stop = threading.Event()
    prober_like = threading.Thread(target=stop.wait, daemon=True)
    prober_like.start()

    def interrupt_twice() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    rb = Rollbacks(RollbackLedger(tmp_path / "l.jsonl"), "d", {}, lambda m: None)
    rb.inject(FakeFault("a", calls))
    rb.inject(FakeFault("b", calls, on_revert=interrupt_twice))
    try:
        with pytest.raises(KeyboardInterrupt):
            rb.close()
    finally:
        stop.set()
    assert calls[-2:] == ["revert b", "revert a"]
    assert rb.ledger.pending() == []
