"""The rollback ledger: every fault is appended here *before* it is injected, and marked when reverted.

One JSON object per line, flushed and fsynced, so a runner killed with SIGKILL mid-fault leaves a record
that ``kubedrill recover`` replays: it rebuilds each pending fault from its record and reverts it. The
format is stable across versions (any kubedrill recovers any ledger): the fault's type is stored under
``kind``, its name since the first release.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubedrill import paths


def default_ledger_path() -> Path:
    return paths.from_env("KUBEDRILL_LEDGER", paths.state_home() / "rollback-ledger.jsonl")


@dataclass(frozen=True)
class Entry:
    id: str
    fault_type: str  # the Fault class that rebuilds it (faults/fault_types.py)
    params: dict[str, Any]
    cluster: dict[str, Any]  # how to reach the cluster again: kubeconfig, context, backend, inventory
    drill: str
    at: float
    description: str


class RollbackLedger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_ledger_path()

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def begin(
        self, fault_type: str, params: dict[str, Any], cluster: dict[str, Any], drill: str, description: str
    ) -> Entry:
        entry = Entry(uuid.uuid4().hex, fault_type, params, cluster, drill, time.time(), description)
        record = {k: v for k, v in entry.__dict__.items() if k != "fault_type"}
        self._append({"event": "injecting", "kind": entry.fault_type, **record})
        return entry

    def reverted(self, entry_id: str, how: str = "") -> None:
        self._append({"event": "reverted", "id": entry_id, "at": time.time(), "how": how})

    def revert_failed(self, entry_id: str, error: str) -> None:
        self._append({"event": "revert-failed", "id": entry_id, "at": time.time(), "error": error})

    def events(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a kill mid-write: the entry before it is still intact
        return out

    def pending(self) -> list[Entry]:
        """Faults injected (or being injected) and not reverted, oldest first.

        Reading never fails on a line it does not understand: a reverted entry is done with whatever it
        says, and an unreverted one this version cannot read stays pending (with what it could read, so
        pre-flight refuses and ``kubedrill recover`` names it) rather than be dropped or crash the run."""
        events = self.events()
        reverted = {ev.get("id") for ev in events if ev.get("event") == "reverted"}
        return [
            Entry(
                id=str(ev.get("id")),
                fault_type=str(ev.get("kind", "")),
                params=ev.get("params") or {},
                cluster=ev.get("cluster") or {},
                drill=str(ev.get("drill", "")),
                at=float(ev.get("at") or 0.0),
                description=str(ev.get("description", "")),
            )
            for ev in events
            if ev.get("event") == "injecting" and ev.get("id") not in reverted
        ]
