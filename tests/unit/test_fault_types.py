"""``kubedrill recover`` finds every fault type by the type its ledger entry names (no cluster)."""

import json
from pathlib import Path
from typing import Any, cast

import pytest

from kubedrill.backends.cluster import Cluster
from kubedrill.errors import FaultInjectionError
from kubedrill.faults.base import Fault
from kubedrill.faults.components import StopComponent
from kubedrill.faults.etcd import MoveLeader
from kubedrill.faults.fault_types import FAULT_TYPES, rebuild
from kubedrill.faults.ledger import Entry, RollbackLedger


def entry(fault_type: str, params: dict[str, Any]) -> Entry:
    return Entry(id="e1", fault_type=fault_type, params=params, cluster={}, drill="d", at=0.0, description="x")


def test_every_fault_type_in_kubedrill_is_listed_under_its_own_kind() -> None:
    def subclasses(cls: type[Fault]) -> set[type[Fault]]:
        return {s for c in cls.__subclasses__() for s in {c, *subclasses(c)}}

    ours = {c for c in subclasses(Fault) if c.__module__.startswith("kubedrill.faults.")}
    assert ours == set(FAULT_TYPES.values())
    assert all(FAULT_TYPES[c.fault_type] is c for c in ours)


def test_the_mapping_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        FAULT_TYPES["test.fake"] = MoveLeader  # type: ignore[index]


def test_a_ledger_entry_is_rebuilt_from_its_kind_and_params() -> None:
    fault = rebuild(entry("etcd.move-leader", {"to": "cp-2", "original_leader": "cp-1"}), cast(Cluster, None))
    assert isinstance(fault, MoveLeader)
    assert (fault.to, fault.original_leader) == ("cp-2", "cp-1")


def test_an_unknown_fault_type_names_the_entry() -> None:
    with pytest.raises(FaultInjectionError, match=r"ledger entry e1: unknown fault type 'nope'"):
        rebuild(entry("nope", {}), cast(Cluster, None))


def test_the_ledger_format_stays_as_it_was_so_any_version_recovers_any_ledger(tmp_path: Path) -> None:
    """The fault type is stored under "kind", as since the first release: an older ledger recovers, and a
    ledger written now reads the same way."""
    path = tmp_path / "ledger.jsonl"
    old = {"event": "injecting", "id": "e9", "kind": "component.stop", "params": {"component": "etcd", "node": "cp-1"},
           "cluster": {}, "drill": "d", "at": 1.0, "description": "stop etcd on cp-1"}  # fmt: skip
    path.write_text(json.dumps(old) + "\n")
    (pending,) = RollbackLedger(path).pending()
    assert pending.fault_type == "component.stop"
    assert FAULT_TYPES[pending.fault_type] is StopComponent
    written = RollbackLedger(tmp_path / "new.jsonl")
    written.begin("etcd.move-leader", {}, {}, "d", "move")
    assert json.loads(written.path.read_text())["kind"] == "etcd.move-leader"


def test_a_line_the_ledger_cannot_read_never_breaks_reading_it(tmp_path: Path) -> None:
    """A reverted entry without a type (a development build's) is done; an unreverted one stays pending."""
    path = tmp_path / "ledger.jsonl"
    lines = [
        {"event": "injecting", "id": "a", "fault_type": "node.drain", "params": {}, "drill": "d", "at": 1.0},
        {"event": "reverted", "id": "a", "at": 2.0},
        {"event": "injecting", "id": "b", "something": "else"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (left,) = RollbackLedger(path).pending()
    assert (left.id, left.fault_type) == ("b", "")
    with pytest.raises(FaultInjectionError, match="unknown fault type ''"):
        rebuild(left, cast(Cluster, None))


def test_a_held_stop_is_rebuilt_held_and_an_older_entry_without_the_flag_as_a_plain_stop() -> None:
    cluster = cast(Cluster, None)
    held = rebuild(entry("component.stop", {"component": "etcd", "node": "cp-1", "hold": True}), cluster)
    older = rebuild(entry("component.stop", {"component": "etcd", "node": "cp-1"}), cluster)
    assert isinstance(held, StopComponent)
    assert isinstance(older, StopComponent)
    assert (held.hold, older.hold) == (True, False)
    assert held.describe() == older.describe() == "stop etcd on cp-1"  # as the quorum guard and the summary say it
    assert StopComponent(cluster, "etcd", "cp-1", hold=True).params()["hold"] is True
