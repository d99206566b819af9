"""The rollback ledger and the undo stack, with hand-written fake faults (no cluster)."""

from pathlib import Path
from typing import Any

import pytest

from kubedrill.errors import RollbackFailed
from kubedrill.faults.base import Fault, Plan, Rollbacks
from kubedrill.faults.ledger import RollbackLedger


class FakeFault(Fault):
    kind = "test.fake"

    def __init__(self, name: str, calls: list[str], fail_revert: bool = False) -> None:
        self.name = name
        self.calls = calls
        self.fail_revert = fail_revert

    def params(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_params(cls, cluster: Any, params: dict[str, Any]) -> "FakeFault":
        return cls(params["name"], [])

    def plan(self) -> Plan:
        return Plan(self.kind, {"name": self.name}, [f"break {self.name}"], [f"mend {self.name}"])

    def inject(self) -> str:
        self.calls.append(f"inject {self.name}")
        return "injected"

    def confirm(self) -> str:
        return "took effect"

    def revert(self) -> str:
        self.calls.append(f"revert {self.name}")
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
