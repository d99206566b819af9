"""The rollback ledger's file: where it lives, what each event records, and what ``pending`` rebuilds from it,
including records this version only partly understands.

Written against mutation testing (``make mutation``): the ledger is read by ``kubedrill recover`` of any later
version, so every field of every event is checked by name.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kubedrill.faults import ledger as ledger_module
from kubedrill.faults.ledger import Entry, RollbackLedger


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """time.time() as the ledger sees it: 100.0, 101.0, … one per call."""
    ticks = [100.0]

    def now() -> float:
        ticks[0] += 1.0
        return ticks[0] - 1.0

    monkeypatch.setattr(ledger_module.time, "time", now)
    return ticks


def test_the_ledger_lives_in_the_state_directory_unless_the_environment_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBEDRILL_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert ledger_module.default_ledger_path() == tmp_path / "state" / "kubedrill" / "rollback-ledger.jsonl"
    assert RollbackLedger().path == tmp_path / "state" / "kubedrill" / "rollback-ledger.jsonl"
    monkeypatch.setenv("KUBEDRILL_LEDGER", str(tmp_path / "mine.jsonl"))
    assert RollbackLedger().path == tmp_path / "mine.jsonl"
    assert RollbackLedger(tmp_path / "given.jsonl").path == tmp_path / "given.jsonl"


def test_an_injection_is_recorded_with_every_field_recover_needs(tmp_path: Path, clock: list[float]) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    cluster = {"kubeconfig": "/k", "context": "kind-x", "backend": "kind"}
    entry = ledger.begin("network.partition", {"node": "cp-2"}, cluster, "net-isolate-leader", "partition cp-2")
    assert entry == Entry(
        entry.id, "network.partition", {"node": "cp-2"}, cluster, "net-isolate-leader", 100.0, "partition cp-2"
    )
    assert len(entry.id) == 32
    assert int(entry.id, 16) >= 0
    assert ledger.events() == [
        {
            "event": "injecting",
            "kind": "network.partition",  # the fault's type, under the key every release has used
            "id": entry.id,
            "params": {"node": "cp-2"},
            "cluster": cluster,
            "drill": "net-isolate-leader",
            "at": 100.0,
            "description": "partition cp-2",
        }
    ]
    assert ledger.pending() == [entry]


def test_each_injection_gets_its_own_id(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    a = ledger.begin("t", {}, {}, "d", "a")
    b = ledger.begin("t", {}, {}, "d", "b")
    assert a.id != b.id


def test_a_revert_and_a_failed_revert_are_recorded_as_such(tmp_path: Path, clock: list[float]) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    a = ledger.begin("t", {}, {}, "d", "a")
    b = ledger.begin("t", {}, {}, "d", "b")
    ledger.revert_failed(a.id, "etcd did not start")
    ledger.reverted(b.id)
    ledger.reverted(a.id, how="by kubedrill recover")
    assert ledger.events()[2:] == [
        {"event": "revert-failed", "id": a.id, "at": 102.0, "error": "etcd did not start"},
        {"event": "reverted", "id": b.id, "at": 103.0, "how": ""},
        {"event": "reverted", "id": a.id, "at": 104.0, "how": "by kubedrill recover"},
    ]


def test_a_failed_revert_leaves_the_fault_pending(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    a = ledger.begin("t", {}, {}, "d", "a")
    ledger.revert_failed(a.id, "boom")
    assert [e.id for e in ledger.pending()] == [a.id]


def test_the_ledger_is_made_with_its_directories_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kubedrill" / "ledger.jsonl"
    old = os.umask(0o022)
    try:
        ledger = RollbackLedger(path)
        ledger.begin("t", {}, {}, "d", "a")
        ledger.begin("t", {}, {}, "d", "b")  # the directories exist now: no error
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().split("\n")
    assert len(lines) == 3  # one JSON object per line, each ended
    assert lines[-1] == ""
    assert [json.loads(line)["description"] for line in lines[:-1]] == ["a", "b"]


def test_a_torn_line_anywhere_costs_only_itself(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "ledger.jsonl")
    ledger.begin("t", {}, {}, "d", "a")
    with open(ledger.path, "a") as f:
        f.write('{"event": "injecting", "id": "tor\n')
    ledger.begin("t", {}, {}, "d", "b")
    assert [e.description for e in ledger.pending()] == ["a", "b"]


def test_no_file_is_no_event_and_nothing_pending(tmp_path: Path) -> None:
    ledger = RollbackLedger(tmp_path / "none.jsonl")
    assert ledger.events() == []
    assert ledger.pending() == []


def test_a_record_missing_fields_stays_pending_with_what_could_be_read(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(
        json.dumps({"event": "injecting", "id": "x1"})
        + "\n"
        + json.dumps({"event": "injecting", "id": "x2", "kind": "k", "params": None, "cluster": None, "at": None})
        + "\n"
        + json.dumps({"event": "someday", "id": "x3"})
        + "\n"
    )
    assert RollbackLedger(path).pending() == [
        Entry("x1", "", {}, {}, "", 0.0, ""),
        Entry("x2", "k", {}, {}, "", 0.0, ""),
    ]
