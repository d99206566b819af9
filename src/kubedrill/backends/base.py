"""The small interfaces drills, faults and probes use to reach a cluster's nodes and components.

Three node transports implement ``NodeAccess`` (``ip netns exec`` for the embedded cluster,
``docker exec`` for kind, ``ssh`` for real nodes); component runtimes (``ComponentRuntime``) are written
once on top of any transport: the embedded supervisor, static pods via ``crictl`` (kind, kubeadm) and
systemd units (binary installs). A runtime never stops a static pod through the API: deleting a mirror
pod stops nothing, the kubelet recreates the mirror and the container never died.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kubedrill.backends.shell import Result

COMPONENT_KINDS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


class NodeAccess(Protocol):
    """How to run a command on a node."""

    @property
    def name(self) -> str:
        """``netns``, ``docker`` or ``ssh``."""
        ...

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> Result: ...

    def describe(self, node: str, argv: list[str]) -> str:
        """The command as it would be run (for --dry-run and the report)."""
        ...

    def copy_to(self, node: str, local: str, remote: str) -> None:
        """Copy a file from this machine to ``remote`` on the node (a snapshot, a binary)."""
        ...

    def copy_from(self, node: str, remote: str, local: str) -> None:
        """Copy ``remote`` on the node to ``local`` on this machine."""
        ...


@dataclass(frozen=True)
class Instance:
    """One running instance of a component: what proves a kill (the id must change)."""

    kind: str
    node: str
    id: str  # PID, or container ID
    restarts: int | None = None


class ComponentRuntime(Protocol):
    """How control-plane components run on a node, and how to kill, stop and start them for real."""

    @property
    def name(self) -> str:
        """``supervisor``, ``static-pod`` or ``systemd``."""
        ...

    def instance(self, kind: str, node: str) -> Instance | None:
        """The running instance, or None when it is not running."""
        ...

    def kill(self, kind: str, node: str) -> Instance:
        """SIGKILL the running instance and return what was killed. Its manager restarts it."""
        ...

    def stop(self, kind: str, node: str) -> None:
        """Stop it and keep it stopped (until ``start``)."""
        ...

    def start(self, kind: str, node: str) -> None:
        """Undo ``stop``. Idempotent."""
        ...

    def describe(self, action: str, kind: str, node: str) -> str: ...
