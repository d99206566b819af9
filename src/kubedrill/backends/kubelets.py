"""A node's kubelet, stopped and started the way that node runs it: what the node-lost drill needs.

- ``SystemdKubelet``: the ``kubelet`` unit, as systemd runs it inside kind's node containers and on the
  workers an ssh inventory lists (kubeadm and binary installs alike): ``systemctl stop`` / ``systemctl start``,
  its ``MainPID`` the proof either way.
- ``SupervisedKubelet``: the embedded cluster, where each worker's kubelet is a KWOK process of its own
  (``kwok --manage-single-node=<worker>``) under kubedrill's supervisor, stopped and held down as any
  component is. With it stopped, nothing renews the node's Lease or reports its pods: the node is lost to
  the control plane exactly as one whose kubelet died.

A stopped kubelet leaves its containers running (on a real node): the control plane cannot tell, which is the
point of the drill. ``pid`` is None while the kubelet is not running.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kubedrill.backends.access import NodeAccess
from kubedrill.backends.runtimes import SupervisorRuntime
from kubedrill.errors import BackendError

KUBELET = "kubelet"


class KubeletControl(Protocol):
    @property
    def name(self) -> str:
        """How kubelets run here: ``systemd`` or ``supervisor``."""
        ...

    def pid(self, node: str) -> str | None:
        """The running kubelet's PID on ``node``, None when it is not running."""
        ...

    def reaches(self, node: str) -> bool:
        """Whether kubedrill can reach ``node``'s kubelet (over ssh: the inventory lists it as a worker)."""
        ...

    def stop(self, node: str) -> None: ...

    def start(self, node: str) -> None: ...

    def describe(self, action: str, node: str) -> str:
        """The exact command ``action`` (stop, start) runs, for --dry-run and the evidence."""
        ...


@dataclass(frozen=True)
class SystemdKubelet:
    access: NodeAccess
    unit: str = KUBELET
    name: str = "systemd"
    nodes: frozenset[str] | None = None  # the nodes it may reach; None: any node (kind's containers)

    def reaches(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes

    def _argv(self, action: str) -> list[str]:
        return {
            "pid": ["systemctl", "show", "-p", "MainPID", "--value", self.unit],
            "stop": ["systemctl", "stop", self.unit],
            "start": ["systemctl", "start", self.unit],
        }[action]

    def pid(self, node: str) -> str | None:
        out = self.access.run(node, self._argv("pid"), check=False)
        if not out.ok:  # neither running nor stopped is known
            raise BackendError(f"systemctl show {self.unit} on {node} failed (exit {out.returncode}): "
                               f"{out.stderr.strip()[-300:]}")  # fmt: skip
        pid = out.stdout.strip()
        return pid if pid not in ("", "0") else None

    def stop(self, node: str) -> None:
        self.access.run(node, self._argv("stop"), timeout_s=60)

    def start(self, node: str) -> None:
        self.access.run(node, self._argv("start"), timeout_s=60)

    def describe(self, action: str, node: str) -> str:
        return self.access.describe(node, self._argv(action))


@dataclass(frozen=True)
class SupervisedKubelet:
    runtime: SupervisorRuntime  # whose access runs a worker's commands on this machine
    name: str = "supervisor"

    def reaches(self, node: str) -> bool:
        return True  # every worker of the embedded cluster has a KWOK of its own

    def pid(self, node: str) -> str | None:
        inst = self.runtime.instance(KUBELET, node)
        return inst.id if inst is not None else None

    def stop(self, node: str) -> None:
        self.runtime.stop(KUBELET, node)

    def start(self, node: str) -> None:
        self.runtime.start(KUBELET, node)

    def describe(self, action: str, node: str) -> str:
        return self.runtime.describe(action, KUBELET, node)
