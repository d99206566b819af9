"""Component runtimes: how control-plane components run on a node, and how to kill, stop and start them.

One small protocol, ``ComponentRuntime``, written once on top of any ``NodeAccess``:

- ``SupervisorRuntime``: the embedded cluster's supervisor (``run/<component>.json`` and ``.hold`` files);
- ``StaticPodRuntime``: kubeadm and kind, static pods under the kubelet (``crictl``, manifests moved out);
- ``SystemdRuntime``: binary installs (seed 001/003), systemd units (``systemctl``);
- ``ContainerRuntime``: a component that is a container's main process (kind's load balancer, ``docker``).

A runtime never stops a static pod through the API: deleting a mirror pod stops nothing, the kubelet
recreates the mirror and the container never died. A kill returns the ``Instance`` it killed, and the
proof of the kill is a later ``instance()`` with another id (PID, container ID, MainPID).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from kubedrill.backends import shell
from kubedrill.backends.access import HOST, DockerExecAccess, NodeAccess
from kubedrill.backends.shell import Result
from kubedrill.errors import BackendError, FaultInjectionError

KUBELET_RESTART = ("systemctl", "restart", "kubelet")
SAME_AS_STOP = {"hold": "stop", "release": "start"}  # where stopping needs no API server
NO_CONTAINER = 3  # a static pod's script: no running container of that component


@dataclass(frozen=True)
class Instance:
    """One running instance of a component: what proves a kill (the id must change)."""

    component: str
    node: str
    id: str  # PID, or container ID
    restarts: int | None = None


class ComponentRuntime(Protocol):
    """How control-plane components run on a node, and how to kill, stop and start them for real."""

    @property
    def name(self) -> str:
        """``supervisor``, ``static-pod`` or ``systemd``."""
        ...

    @property
    def access(self) -> NodeAccess:
        """How the runtime reaches the nodes."""
        ...

    def instance(self, component: str, node: str) -> Instance | None:
        """The running instance, or None when it is not running."""
        ...

    def kill(self, component: str, node: str) -> Instance:
        """SIGKILL the running instance and return what was killed. Its manager restarts it."""
        ...

    def stop(self, component: str, node: str) -> None:
        """Stop it and keep it stopped (until ``start``)."""
        ...

    def start(self, component: str, node: str) -> None:
        """Undo ``stop``. Idempotent."""
        ...

    def hold(self, component: str, node: str) -> None:
        """Stop it and keep it stopped (until ``release``) in a way whose undoing needs no API server: for a
        fault that takes the API down with it (etcd's quorum). Where ``stop`` needs no API, the same."""
        ...

    def release(self, component: str, node: str) -> None:
        """Undo ``hold``. Idempotent."""
        ...

    def held(self, component: str, node: str) -> bool:
        """Whether ``hold`` holds it now (its proof)."""
        ...

    def exec(self, component: str, node: str, argv: list[str], timeout_s: float = 30.0) -> Result:
        """Run ``argv`` where ``component`` runs on ``node``, seeing its files (etcdctl with etcd's
        certificates). Never raises for the command's own failure: the result says."""
        ...

    def restart_kubelet(self, node: str) -> str:
        """Restart what plays the kubelet on ``node``; returns what was restarted ("" for nothing)."""
        ...

    def describe(self, action: str, component: str, node: str) -> str:
        """The commands ``action`` (kill, stop, start) would run, for --dry-run."""
        ...


class _Stoppable(Protocol):
    def instance(self, component: str, node: str) -> Instance | None: ...
    def stop(self, component: str, node: str) -> None: ...
    def start(self, component: str, node: str) -> None: ...


class HoldIsStop:
    """For runtimes whose stop and start need no API server: ``hold`` is ``stop``, ``release`` is ``start``."""

    def hold(self: _Stoppable, component: str, node: str) -> None:
        self.stop(component, node)

    def release(self: _Stoppable, component: str, node: str) -> None:
        self.start(component, node)

    def held(self: _Stoppable, component: str, node: str) -> bool:
        return self.instance(component, node) is None


@dataclass(frozen=True)
class SupervisorRuntime(HoldIsStop):
    """The embedded cluster's components, through the supervisor's files (``run/<name>.json|.hold``).

    Every action is a command run on the node, so it works through ``ip netns exec`` and through ssh
    into the node alike. A kill is SIGKILL to the component's PID; the supervisor restarts it. KWOK plays
    every kubelet, on the host: one process for the control-plane nodes, one per worker (``kubelet-worker-N``).
    """

    access: NodeAccess
    run_dir: Path
    name: str = "supervisor"

    def _process(self, component: str, node: str) -> str:
        return component if node == HOST else f"{component}-{node}"

    def _file(self, component: str, node: str, suffix: str) -> str:
        return str(self.run_dir / f"{self._process(component, node)}.{suffix}")

    def instance(self, component: str, node: str) -> Instance | None:
        result = self.access.run(node, ["cat", self._file(component, node, "json")], check=False)
        if not result.ok:
            return None
        data = json.loads(result.stdout)
        if data.get("state") != "running" or not data.get("pid"):
            return None
        pid = str(int(data["pid"]))
        if not self.access.run(node, ["kill", "-0", pid], check=False).ok:
            return None
        return Instance(component=component, node=node, id=pid, restarts=int(data.get("restarts", 0)))

    def kill(self, component: str, node: str) -> Instance:
        inst = self.instance(component, node)
        if inst is None:
            raise FaultInjectionError(f"{component} on {node} is not running: nothing to kill")
        self.access.run(node, ["kill", "-KILL", inst.id])
        return inst

    def stop(self, component: str, node: str) -> None:
        self.access.run(node, ["touch", self._file(component, node, "hold")])
        inst = self.instance(component, node)
        if inst is not None:
            self.access.run(node, ["kill", "-KILL", inst.id], check=False)

    def start(self, component: str, node: str) -> None:
        self.access.run(node, ["rm", "-f", self._file(component, node, "hold")])

    def exec(self, component: str, node: str, argv: list[str], timeout_s: float = 30.0) -> Result:
        return self.access.run(node, argv, timeout_s=timeout_s, check=False)

    def restart_kubelet(self, node: str) -> str:
        # On the host, the KWOK that plays the control-plane nodes' kubelets; on a worker, its own KWOK.
        player = "kwok" if node == HOST else "kubelet"
        if self.instance(player, node) is None:
            return ""
        self.kill(player, node)
        return self._process(player, node)

    def describe(self, action: str, component: str, node: str) -> str:
        action = SAME_AS_STOP.get(action, action)
        pid = f"<pid in {self._file(component, node, 'json')}>"
        steps = {
            "kill": [["kill", "-KILL", pid]],
            "stop": [["touch", self._file(component, node, "hold")], ["kill", "-KILL", pid]],
            "start": [["rm", "-f", self._file(component, node, "hold")]],
        }[action]
        return "; ".join(self.access.describe(node, argv) for argv in steps)


@dataclass(frozen=True)
class StaticPodRuntime:
    """kubeadm and kind: components are static pods. Kill with ``crictl stop --timeout 0`` (SIGKILL at
    once); the kubelet starts a new container with a new ID. Stop by moving the manifest out of
    ``/etc/kubernetes/manifests`` (what seeds 000/003 do before a restore); start by moving it back."""

    access: NodeAccess
    manifests: str = "/etc/kubernetes/manifests"
    held_dir: str = "/etc/kubernetes/kubedrill-held"
    name: str = "static-pod"

    def _running(self, component: str) -> list[str]:
        return ["crictl", "ps", "--name", f"^{component}$", "--state", "running", "-q"]

    def instance(self, component: str, node: str) -> Instance | None:
        """The running container, or None when crictl answers that none runs. A crictl that fails (containerd
        busy, a node under load) says nothing either way: BackendError, never "stopped"."""
        out = self.access.run(node, self._running(component), check=False)
        if not out.ok:
            raise BackendError(f"crictl ps on {node} failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
        ids = out.stdout.split()
        return Instance(component=component, node=node, id=ids[0]) if ids else None

    def kill(self, component: str, node: str) -> Instance:
        inst = self.instance(component, node)
        if inst is None:
            raise FaultInjectionError(f"no running {component} container on {node} (crictl ps): nothing to kill")
        self.access.run(node, ["crictl", "stop", "--timeout", "0", inst.id])
        return inst

    def stop(self, component: str, node: str) -> None:
        manifest = f"{self.manifests}/{component}.yaml"
        self.access.run(node, ["mkdir", "-p", self.held_dir])
        if self.access.run(node, ["test", "-f", manifest], check=False).ok:
            self.access.run(node, ["mv", manifest, f"{self.held_dir}/{component}.yaml"])

    def start(self, component: str, node: str) -> None:
        held = f"{self.held_dir}/{component}.yaml"
        if self.access.run(node, ["test", "-f", held], check=False).ok:
            self.access.run(node, ["mv", held, f"{self.manifests}/"])

    def hold(self, component: str, node: str) -> None:
        """The container's process frozen (SIGSTOP): it answers nobody, as a hung or powered-off host, and the
        kubelet leaves it alone (its liveness probe allows 80 s). A stop through the kubelet cannot be held
        this way: while etcd has no quorum, the kubelet starts an etcd static pod only after its mirror pod
        calls to the API time out (122-167 s measured on kind, with every API server restarted by its liveness
        probe meanwhile)."""
        out = self._on_process(component, node, 'kill -STOP "$pid"')
        if out.returncode == NO_CONTAINER:
            raise FaultInjectionError(f"no running {component} container on {node} (crictl ps): nothing to hold")
        if not out.ok:
            raise BackendError(f"holding {component} on {node} failed: {out.stderr.strip()[-300:]}")

    def release(self, component: str, node: str) -> None:
        out = self._on_process(component, node, 'kill -CONT "$pid"')
        if not out.ok and out.returncode != NO_CONTAINER:  # none running: restarted since, so not frozen
            raise BackendError(f"releasing {component} on {node} failed: {out.stderr.strip()[-300:]}")

    def held(self, component: str, node: str) -> bool:
        out = self._on_process(component, node, 'ps -o stat= -p "$pid"')
        return out.ok and out.stdout.strip().startswith("T")

    def _on_process(self, component: str, node: str, command: str) -> Result:
        """``command`` with ``$pid`` the process of ``component``'s running container: one round trip. Exits
        NO_CONTAINER when none runs."""
        script = (
            f"id=$(crictl ps --name {shlex.quote(f'^{component}$')} --state running -q | head -n 1); "
            f'[ -n "$id" ] || exit {NO_CONTAINER}; '
            "pid=$(crictl inspect -o go-template --template '{{.info.pid}}' \"$id\") || exit 1; "
            f"{command}"
        )
        return self.access.run(node, ["sh", "-c", script], check=False)

    def exec(self, component: str, node: str, argv: list[str], timeout_s: float = 30.0) -> Result:
        inst = self.instance(component, node)
        if inst is None:
            return Result(tuple(argv), 1, "", f"no running {component} container on {node}")
        return self.access.run(node, ["crictl", "exec", inst.id, *argv], timeout_s=timeout_s, check=False)

    def restart_kubelet(self, node: str) -> str:
        self.access.run(node, list(KUBELET_RESTART), check=False)
        return f"kubelet on {node}"

    def describe(self, action: str, component: str, node: str) -> str:
        argv = {
            "kill": ["crictl", "stop", "--timeout", "0", f"<id of {component}>"],
            "stop": ["mv", f"{self.manifests}/{component}.yaml", f"{self.held_dir}/"],
            "start": ["mv", f"{self.held_dir}/{component}.yaml", f"{self.manifests}/"],
            "hold": ["kill", "-STOP", f"<pid of the {component} container>"],
            "release": ["kill", "-CONT", f"<pid of the {component} container>"],
        }[action]
        return self.access.describe(node, argv)


DEFAULT_UNITS = MappingProxyType(
    {c: c for c in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")}
)


@dataclass(frozen=True)
class SystemdRuntime(HoldIsStop):
    """Binary installs (seed 003): components are systemd units; a kill is ``systemctl kill -s SIGKILL``
    (the unit's Restart= brings it back with a new MainPID)."""

    access: NodeAccess
    units: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_UNITS))
    name: str = "systemd"

    def instance(self, component: str, node: str) -> Instance | None:
        out = self.access.run(
            node, ["systemctl", "show", "-p", "MainPID", "--value", self.units[component]], check=False
        )
        if not out.ok:  # systemd did not answer: neither running nor stopped is known
            raise BackendError(f"systemctl show on {node} failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
        pid = out.stdout.strip()
        return Instance(component=component, node=node, id=pid) if pid not in ("", "0") else None

    def kill(self, component: str, node: str) -> Instance:
        inst = self.instance(component, node)
        if inst is None:
            raise FaultInjectionError(f"unit {self.units[component]} on {node} has no main PID: nothing to kill")
        self.access.run(node, ["systemctl", "kill", "-s", "SIGKILL", self.units[component]])
        return inst

    def stop(self, component: str, node: str) -> None:
        """``systemctl stop --no-block``: queue the stop and return; whoever stops a component waits until it
        has no main PID (every fault's confirm does). Blocking, one stop of an API server whose clients still
        hold watches took 60 s here (its HTTP server's shutdown ran into the 60 s request timeout), and a
        restore stopping three in turn took three times that; queued together they were gone in 0.9 s."""
        self.access.run(node, ["systemctl", "stop", "--no-block", self.units[component]])

    def start(self, component: str, node: str) -> None:
        """``systemctl start --no-block``: queue the start and return. etcd's units are ``Type=notify``, and a
        member notifies only once it has joined a quorum, so a blocking start of the first member of a cluster
        being restored waits for members nobody has started yet (an operator starts them all at once, in
        parallel terminals). Whoever starts a component waits for it to serve, as every drill does."""
        self.access.run(node, ["systemctl", "start", "--no-block", self.units[component]])

    def exec(self, component: str, node: str, argv: list[str], timeout_s: float = 30.0) -> Result:
        return self.access.run(node, argv, timeout_s=timeout_s, check=False)

    def restart_kubelet(self, node: str) -> str:
        """``systemctl restart`` of the kubelet's unit (the inventory may name another, such as KWOK's), where
        the host has one: a control plane of a binary install often runs no kubelet."""
        kubelet = self.units.get("kubelet", "kubelet")
        if self.access.run(node, ["systemctl", "cat", kubelet], check=False).returncode != 0:
            return ""
        self.access.run(node, ["systemctl", "restart", kubelet])
        return f"{kubelet} on {node}"

    def describe(self, action: str, component: str, node: str) -> str:
        action = SAME_AS_STOP.get(action, action)
        argv = {
            "kill": ["systemctl", "kill", "-s", "SIGKILL", self.units[component]],
            "stop": ["systemctl", "stop", "--no-block", self.units[component]],
            "start": ["systemctl", "start", "--no-block", self.units[component]],
        }[action]
        return self.access.describe(node, argv)


@dataclass(frozen=True)
class ContainerRuntime(HoldIsStop):
    """A component that is a container's main process on this machine's Docker engine, the container named after
    its node: kind's load balancer (HAProxy in master-worker mode, PID 1 of ``<cluster>-external-load-balancer``).

    The process ending ends the container, so stopping the component is stopping the container: ``docker stop
    --time 0`` (the stop signal and SIGKILL with no grace between them, as the drill's "HAProxy dies"; a stop the
    engine was asked for is never undone by the container's restart policy), and ``docker start`` brings it back
    as a new process. Its instance id is the main process's PID on this machine (``docker inspect``): the proof it
    stopped and came back.
    A kill alone is refused: what restarts it would be the container's restart policy, not a manager the drills
    know, and no drill kills a load balancer without holding it down."""

    access: DockerExecAccess
    name: str = "container"

    def instance(self, component: str, node: str) -> Instance | None:
        out = self._docker(["inspect", "--format", "{{.State.Running}} {{.State.Pid}}", node])
        if not out.ok:
            if "No such object" in out.stderr or "No such container" in out.stderr:
                return None
            raise BackendError(f"docker inspect {node} failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
        running, pid = [*out.stdout.split(), "", ""][:2]
        return Instance(component=component, node=node, id=pid) if running == "true" and pid != "0" else None

    def kill(self, component: str, node: str) -> Instance:
        raise FaultInjectionError(
            f"{component} on {node} is the main process of a container: kubedrill stops and starts it "
            "(docker stop, docker start), it does not leave it to the container's restart policy"
        )

    def stop(self, component: str, node: str) -> None:
        self._docker(["stop", "--time", "0", node], check=True)

    def start(self, component: str, node: str) -> None:
        self._docker(["start", node], check=True)  # a no-op on a running container

    def exec(self, component: str, node: str, argv: list[str], timeout_s: float = 30.0) -> Result:
        return self.access.run(node, argv, timeout_s=timeout_s, check=False)

    def restart_kubelet(self, node: str) -> str:
        return ""  # a load balancer's container runs no kubelet

    def describe(self, action: str, component: str, node: str) -> str:
        action = SAME_AS_STOP.get(action, action)
        if action == "kill":
            return f"refused: {component} on {node} is stopped and started, never killed alone"
        argv = {"stop": ["stop", "--time", "0", node], "start": ["start", node]}[action]
        return shlex.join([self.access.docker, *argv])

    def _docker(self, argv: list[str], check: bool = False) -> Result:
        return shell.run([self.access.docker, *argv], timeout_s=60, check=check)
