"""Component faults: kill an instance for real (SIGKILL semantics), or stop it and keep it down.

A kill is proven, never assumed: ``confirm`` checks the killed PID/container ID no longer runs, and the
drill then waits for a *different* ID (the restart). Deleting a static pod's mirror pod through the API is
never used: it stops nothing, the kubelet recreates the mirror and the container never died.
"""

from __future__ import annotations

from typing import Any

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.runtimes import ComponentRuntime, Instance
from kubedrill.errors import BackendError, PreconditionFailed
from kubedrill.faults.base import Fault, Plan
from kubedrill.waiting import wait_until

CONFIRM_TIMEOUT_S = 10.0


def runtime_of(cluster: Cluster) -> ComponentRuntime:
    if cluster.runtime is None:
        raise PreconditionFailed(cluster.missing or f"backend {cluster.backend} cannot reach components")
    return cluster.runtime


class KillComponent(Fault):
    """SIGKILL one instance of ``component`` on ``node``; its manager (supervisor, kubelet, systemd) restarts it."""

    kind = "component.kill"

    def __init__(self, cluster: Cluster, component: str, node: str, killed_id: str | None = None) -> None:
        super().__init__(cluster)
        self.component = component
        self.node = node
        self.killed_id = killed_id

    def params(self) -> dict[str, Any]:
        return {"component": self.component, "node": self.node, "killed_id": self.killed_id}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> KillComponent:
        return cls(cluster, params["component"], params["node"], params.get("killed_id"))

    def describe(self) -> str:
        return f"kill {self.component} on {self.node}"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        return frozenset({(self.component, self.node)})

    def plan(self) -> Plan:
        rt = runtime_of(self.cluster)
        inst = rt.instance(self.component, self.node)
        if inst is None:
            raise PreconditionFailed(f"{self.component} is not running on {self.node}: nothing to kill")
        self.killed_id = inst.id
        return Plan(
            fault=self.kind,
            targets={"component": self.component, "node": self.node, f"{rt.name} id": inst.id},
            actions=[rt.describe("kill", self.component, self.node)],
            revert=[f"none needed: the {rt.name} restarts it; kubedrill waits for a new id"],
        )

    def inject(self) -> str:
        killed = runtime_of(self.cluster).kill(self.component, self.node)
        self.killed_id = killed.id
        return f"SIGKILL {self.component} on {self.node} ({killed.id})"

    def confirm(self) -> str:
        """The killed instance is gone (no instance, or one with another id)."""
        rt = runtime_of(self.cluster)
        seen = wait_until(
            f"{self.component} {self.killed_id} on {self.node} gone",
            lambda: rt.instance(self.component, self.node),
            lambda inst: inst is None or inst.id != self.killed_id,
            timeout_s=CONFIRM_TIMEOUT_S,
            interval_s=0.05,
            describe=lambda inst: f"still running as {inst.id}" if inst else "gone",
        )
        return f"{self.killed_id} gone" + (f", already restarted as {seen.id}" if seen else "")

    def await_restart(self, timeout_s: float) -> Instance:
        """The proof of a real kill: the same component runs again under a different id."""
        rt = runtime_of(self.cluster)

        def running() -> Instance:
            inst = rt.instance(self.component, self.node)
            if inst is None:
                raise BackendError(f"{self.component} on {self.node} is not running")
            return inst

        return wait_until(
            f"{self.component} on {self.node} restarted with a new id",
            running,
            lambda i: i.id != self.killed_id,
            timeout_s=timeout_s,
            interval_s=0.1,
            describe=lambda i: f"still {i.id}",
        )

    def revert(self) -> str:
        # Nothing was held: the manager restarts a killed component by itself. Starting is idempotent and
        # guards against a runtime that left it stopped.
        if self.killed_id is None:
            return "nothing to revert (never injected)"
        runtime_of(self.cluster).start(self.component, self.node)
        return f"{self.component} on {self.node} left to its manager (start is a no-op when running)"


class StopComponent(Fault):
    """Stop ``component`` on ``node`` and keep it down until reverted (quorum loss, restores)."""

    kind = "component.stop"

    def __init__(self, cluster: Cluster, component: str, node: str) -> None:
        super().__init__(cluster)
        self.component = component
        self.node = node

    def params(self) -> dict[str, Any]:
        return {"component": self.component, "node": self.node}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> StopComponent:
        return cls(cluster, params["component"], params["node"])

    def describe(self) -> str:
        return f"stop {self.component} on {self.node}"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        return frozenset({(self.component, self.node)})

    def plan(self) -> Plan:
        rt = runtime_of(self.cluster)
        return Plan(
            fault=self.kind,
            targets={"component": self.component, "node": self.node},
            actions=[rt.describe("stop", self.component, self.node)],
            revert=[rt.describe("start", self.component, self.node)],
        )

    def inject(self) -> str:
        rt = runtime_of(self.cluster)
        before = rt.instance(self.component, self.node)
        rt.stop(self.component, self.node)
        return f"stopped {self.component} on {self.node}" + (f" (was {before.id})" if before else "")

    def confirm(self) -> str:
        rt = runtime_of(self.cluster)
        wait_until(
            f"{self.component} on {self.node} stopped",
            lambda: rt.instance(self.component, self.node),
            lambda inst: inst is None,
            timeout_s=CONFIRM_TIMEOUT_S,
            interval_s=0.05,
            describe=lambda inst: f"still running as {inst.id}" if inst else "stopped",
        )
        return f"{self.component} on {self.node} is not running"

    def revert(self) -> str:
        runtime_of(self.cluster).start(self.component, self.node)
        return f"{self.component} on {self.node} started again"
