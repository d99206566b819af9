"""etcd through etcdctl/etcdutl, with the cluster's client certificates (as kubeadm's healthcheck-client).

Every call names the endpoints it used, and failures become BackendError with etcdctl's own message,
so a drill's report says which member did not answer.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubedrill.backends import shell
from kubedrill.errors import BackendError

Runner = Callable[[list[str], float], shell.Result]


@dataclass(frozen=True)
class MemberStatus:
    """One endpoint's answer to ``etcdctl endpoint status``."""

    endpoint: str
    member_id: str  # hex, as etcdctl prints it in tables
    leader_id: str
    revision: int
    raft_term: int
    raft_index: int
    db_size: int
    errors: tuple[str, ...] = ()
    version: str = ""  # the member's etcd server version ("3.6.16")

    @property
    def is_leader(self) -> bool:
        return self.member_id == self.leader_id and self.leader_id != "0"

    @classmethod
    def from_status(cls, endpoint: str, st: dict[str, Any]) -> MemberStatus:
        """From etcd's StatusResponse as JSON: etcdctl's ``Status`` and the HTTP gateway's body alike
        (etcdctl prints numbers, the gateway strings: both go through int)."""
        hdr = st.get("header", {})
        return cls(
            endpoint=endpoint,
            member_id=_hex(int(hdr.get("member_id", 0))),
            leader_id=_hex(int(st.get("leader", 0) or 0)),
            revision=int(hdr.get("revision", 0)),
            raft_term=int(st.get("raftTerm", hdr.get("raft_term", 0))),
            raft_index=int(st.get("raftIndex", 0)),
            db_size=int(st.get("dbSize", 0)),
            errors=tuple(st.get("errors", []) or []),
            version=str(st.get("version", "")),
        )


@dataclass(frozen=True)
class Member:
    member_id: str
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


def _hex(value: int) -> str:
    return format(value, "x")


def _local_runner(argv: list[str], timeout_s: float) -> shell.Result:
    # `eval $(kubedrill env)` exports ETCDCTL_*; etcdctl refuses those next to its own flags.
    return shell.run(argv, timeout_s=timeout_s, check=False, drop_env_prefixes=("ETCDCTL_",))


@dataclass(frozen=True)
class Etcdctl:
    """etcdctl against ``endpoints``. ``runner`` runs the argv where etcdctl lives (host, node, pod)."""

    binary: str
    endpoints: tuple[str, ...]
    cacert: Path
    cert: Path
    key: Path
    runner: Runner = _local_runner
    command_timeout_s: float = 5.0

    def _argv(self, args: Sequence[str], endpoints: Sequence[str] | None = None) -> list[str]:
        return [
            self.binary,
            f"--endpoints={','.join(endpoints or self.endpoints)}",
            f"--cacert={self.cacert}",
            f"--cert={self.cert}",
            f"--key={self.key}",
            f"--command-timeout={self.command_timeout_s:g}s",
            f"--dial-timeout={min(self.command_timeout_s, 2.0):g}s",
            *args,
        ]

    def run(self, args: Sequence[str], endpoints: Sequence[str] | None = None, check: bool = True) -> shell.Result:
        result = self.runner(self._argv(args, endpoints), self.command_timeout_s + 10)
        if check and not result.ok:
            raise BackendError(
                f"etcdctl {' '.join(args)} against {','.join(endpoints or self.endpoints)} failed: "
                f"{(result.stderr or result.stdout).strip()[-1000:]}"
            )
        return result

    def endpoint_status(self, endpoints: Sequence[str] | None = None) -> list[MemberStatus]:
        """Status of every endpoint that answered; endpoints that did not answer are left out.

        etcdctl exits non-zero if any endpoint fails but still prints the others as JSON.
        """
        result = self.run(["endpoint", "status", "-w", "json"], endpoints, check=False)
        if not result.stdout.strip():
            if result.ok:
                return []
            raise BackendError(f"etcdctl endpoint status: no endpoint answered: {result.stderr.strip()[-500:]}")
        try:
            rows = json.loads(result.stdout)
        except ValueError as e:
            raise BackendError(f"etcdctl endpoint status printed no JSON: {result.stdout[:300]!r}") from e
        if rows is None:  # etcdctl 3.6 prints `null` (and exits 1) when no endpoint answered
            if result.ok:
                return []
            raise BackendError(f"etcdctl endpoint status: no endpoint answered: {result.stderr.strip()[-500:]}")
        return [MemberStatus.from_status(row["Endpoint"], row["Status"]) for row in rows]

    def member_list(self) -> list[Member]:
        data = json.loads(self.run(["member", "list", "-w", "json"]).stdout)
        return [
            Member(
                member_id=_hex(m["ID"]),
                name=m.get("name", ""),
                peer_urls=tuple(m.get("peerURLs", [])),
                client_urls=tuple(m.get("clientURLs", [])),
                is_learner=bool(m.get("isLearner", False)),
            )
            for m in data.get("members", [])
        ]

    def move_leader(self, target_member_id: str, leader_endpoint: str) -> None:
        """``etcdctl move-leader`` must be sent to the current leader's endpoint."""
        self.run(["move-leader", target_member_id], endpoints=[leader_endpoint])


@dataclass(frozen=True)
class Etcdutl:
    """etcdutl on this machine: reads and trial-restores snapshot files, offline."""

    binary: str

    def version(self) -> str:
        """The tool's own etcd version ("3.6.16"), from ``etcdutl version``; "" when it does not say."""
        out = shell.run([self.binary, "version"], check=False, timeout_s=30).stdout
        found = re.search(r"etcdutl version:\s*(\S+)", out)
        return found.group(1) if found else ""

    def snapshot_status(self, path: str) -> shell.Result:
        return shell.run([self.binary, "snapshot", "status", path, "-w", "json"], check=False, timeout_s=120)

    def trial_restore(self, path: str, scratch: Path) -> shell.Result:
        """Restore ``path`` into a throw-away data dir under ``scratch`` (which checks the snapshot's
        integrity hash), then remove it."""
        trial = scratch / f"trial-{secrets.token_hex(4)}"
        try:
            return shell.run(
                [self.binary, "snapshot", "restore", path, f"--data-dir={trial}", "--name=trial",
                 "--initial-cluster=trial=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380"],
                check=False,
                timeout_s=300,
            )  # fmt: skip
        finally:
            shutil.rmtree(trial, ignore_errors=True)
