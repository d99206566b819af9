"""Node transports and component runtimes. Node-specific code is one argv prefix per transport;
everything else is shared by the embedded cluster, kind and real nodes."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kubedrill.backends import shell
from kubedrill.backends.base import Instance, NodeAccess
from kubedrill.errors import BackendError, FaultInjectionError

HOST = "host"  # the embedded cluster's host-side components (HAProxy, KWOK, …) run in no node namespace

# ---------------------------------------------------------------- transports


@dataclass(frozen=True)
class NetnsAccess:
    """The embedded cluster: a node is a network namespace on this machine."""

    netns_of: dict[str, str]
    name: str = "netns"

    def argv(self, node: str, argv: Sequence[str]) -> list[str]:
        if node == HOST:  # HAProxy, Prometheus, KWOK run on this machine itself
            return list(argv)
        try:
            ns = self.netns_of[node]
        except KeyError:
            raise BackendError(f"unknown node {node!r}; nodes: {sorted(self.netns_of)}") from None
        return ["ip", "netns", "exec", ns, *argv]

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> shell.Result:
        return shell.run(self.argv(node, argv), timeout_s=timeout_s, check=check)

    def describe(self, node: str, argv: list[str]) -> str:
        return shlex.join(self.argv(node, argv))

    def copy_to(self, node: str, local: str, remote: str) -> None:
        # A namespace shares this machine's filesystem.
        if Path(local).resolve() != Path(remote).resolve():
            shell.run(["cp", "--", local, remote])

    def copy_from(self, node: str, remote: str, local: str) -> None:
        self.copy_to(node, remote, local)


@dataclass(frozen=True)
class DockerExecAccess:
    """kind: a node is a container named after the node (``kind-control-plane``, ``kind-control-plane2``)."""

    docker: str = "docker"
    name: str = "docker"

    def argv(self, node: str, argv: Sequence[str]) -> list[str]:
        return [self.docker, "exec", node, *argv]

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> shell.Result:
        return shell.run(self.argv(node, argv), timeout_s=timeout_s, check=check)

    def describe(self, node: str, argv: list[str]) -> str:
        return shlex.join(self.argv(node, argv))

    def copy_to(self, node: str, local: str, remote: str) -> None:
        shell.run([self.docker, "cp", local, f"{node}:{remote}"], timeout_s=120)

    def copy_from(self, node: str, remote: str, local: str) -> None:
        shell.run([self.docker, "cp", f"{node}:{remote}", local], timeout_s=120)


@dataclass(frozen=True)
class SshHost:
    address: str
    user: str = "root"
    port: int = 22
    identity_file: str | None = None


@dataclass(frozen=True)
class SshAccess:
    """Real nodes: ``ssh`` with batch mode (never a password prompt), from an inventory."""

    hosts: dict[str, SshHost]
    known_hosts: str | None = None  # None: accept on first use into a kubedrill-owned file
    connect_timeout_s: int = 5
    name: str = "ssh"
    extra_options: tuple[str, ...] = field(default=())

    def argv(self, node: str, argv: Sequence[str]) -> list[str]:
        try:
            h = self.hosts[node]
        except KeyError:
            raise BackendError(f"node {node!r} is not in the inventory; nodes: {sorted(self.hosts)}") from None
        opts = [
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={self.connect_timeout_s}",
            "-o", "LogLevel=ERROR",
            "-p", str(h.port),
        ]  # fmt: skip
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=accept-new"]
        if h.identity_file:
            opts += ["-i", h.identity_file, "-o", "IdentitiesOnly=yes"]
        return ["ssh", *opts, *self.extra_options, f"{h.user}@{h.address}", "--", shlex.join(argv)]

    def run(self, node: str, argv: list[str], timeout_s: float = 30.0, check: bool = True) -> shell.Result:
        result = shell.run(self.argv(node, argv), timeout_s=timeout_s + self.connect_timeout_s, check=False)
        if result.returncode == 255:  # ssh's own failure, not the command's
            raise BackendError(f"ssh to {node} ({self.hosts[node].address}) failed: {result.stderr.strip()[-300:]}")
        if check and not result.ok:
            raise BackendError(
                f"on {node}: {shlex.join(argv)} exited {result.returncode}: {result.stderr.strip()[-500:]}"
            )
        return result

    def describe(self, node: str, argv: list[str]) -> str:
        return shlex.join(self.argv(node, argv))

    def _scp_opts(self, node: str) -> tuple[SshHost, list[str]]:
        h = self.hosts[node]
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout_s}", "-P", str(h.port), "-q"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=accept-new"]
        if h.identity_file:
            opts += ["-i", h.identity_file, "-o", "IdentitiesOnly=yes"]
        return h, opts

    def copy_to(self, node: str, local: str, remote: str) -> None:
        h, opts = self._scp_opts(node)
        shell.run(["scp", *opts, local, f"{h.user}@{h.address}:{remote}"], timeout_s=300)

    def copy_from(self, node: str, remote: str, local: str) -> None:
        h, opts = self._scp_opts(node)
        shell.run(["scp", *opts, f"{h.user}@{h.address}:{remote}", local], timeout_s=300)


# ---------------------------------------------------------------- runtimes


@dataclass(frozen=True)
class SupervisorRuntime:
    """The embedded cluster's components, through the supervisor's files (``run/<name>.json|.hold``).

    Every action is a command run on the node, so it works through ``ip netns exec`` and through ssh
    into the node alike. A kill is SIGKILL to the component's PID; the supervisor restarts it.
    """

    access: NodeAccess
    run_dir: Path
    name: str = "supervisor"

    def _component(self, kind: str, node: str) -> str:
        return kind if node == HOST else f"{kind}-{node}"

    def instance(self, kind: str, node: str) -> Instance | None:
        status = self.run_dir / f"{self._component(kind, node)}.json"
        result = self.access.run(node, ["cat", str(status)], check=False)
        if not result.ok:
            return None
        data = json.loads(result.stdout)
        if data.get("state") != "running" or not data.get("pid"):
            return None
        pid = int(data["pid"])
        alive = self.access.run(node, ["kill", "-0", str(pid)], check=False)
        if not alive.ok:
            return None
        return Instance(kind=kind, node=node, id=str(pid), restarts=int(data.get("restarts", 0)))

    def kill(self, kind: str, node: str) -> Instance:
        inst = self.instance(kind, node)
        if inst is None:
            raise FaultInjectionError(f"{kind} on {node} is not running: nothing to kill")
        self.access.run(node, ["kill", "-KILL", inst.id])
        return inst

    def stop(self, kind: str, node: str) -> None:
        hold = self.run_dir / f"{self._component(kind, node)}.hold"
        self.access.run(node, ["touch", str(hold)])
        inst = self.instance(kind, node)
        if inst is not None:
            self.access.run(node, ["kill", "-KILL", inst.id], check=False)

    def start(self, kind: str, node: str) -> None:
        hold = self.run_dir / f"{self._component(kind, node)}.hold"
        self.access.run(node, ["rm", "-f", str(hold)])

    def describe(self, action: str, kind: str, node: str) -> str:
        comp = self._component(kind, node)
        steps = {
            "kill": f"kill -KILL <pid of {comp} from {self.run_dir}/{comp}.json>",
            "stop": f"touch {self.run_dir}/{comp}.hold; kill -KILL <pid>",
            "start": f"rm -f {self.run_dir}/{comp}.hold",
        }
        return self.access.describe(node, ["sh", "-c", steps[action]])


@dataclass(frozen=True)
class StaticPodRuntime:
    """kubeadm and kind: components are static pods. Kill with ``crictl stop --timeout 0`` (SIGKILL at
    once); the kubelet starts a new container with a new ID. Stop by moving the manifest out of
    ``/etc/kubernetes/manifests`` (what seeds 000/003 do before a restore); start by moving it back."""

    access: NodeAccess
    manifests: str = "/etc/kubernetes/manifests"
    held: str = "/etc/kubernetes/kubedrill-held"
    name: str = "static-pod"

    def instance(self, kind: str, node: str) -> Instance | None:
        out = self.access.run(node, ["crictl", "ps", "--name", f"^{kind}$", "--state", "running", "-q"], check=False)
        ids = out.stdout.split()
        return Instance(kind=kind, node=node, id=ids[0]) if out.ok and ids else None

    def kill(self, kind: str, node: str) -> Instance:
        inst = self.instance(kind, node)
        if inst is None:
            raise FaultInjectionError(f"no running {kind} container on {node} (crictl ps): nothing to kill")
        self.access.run(node, ["crictl", "stop", "--timeout", "0", inst.id])
        return inst

    def stop(self, kind: str, node: str) -> None:
        self.access.run(
            node,
            ["sh", "-c", f"mkdir -p {self.held} && if [ -f {self.manifests}/{kind}.yaml ]; then "
             f"mv {self.manifests}/{kind}.yaml {self.held}/{kind}.yaml; fi"],
        )  # fmt: skip

    def start(self, kind: str, node: str) -> None:
        self.access.run(
            node,
            ["sh", "-c", f"if [ -f {self.held}/{kind}.yaml ]; then mv {self.held}/{kind}.yaml {self.manifests}/; fi"],
        )

    def describe(self, action: str, kind: str, node: str) -> str:
        argv = {
            "kill": ["crictl", "stop", "--timeout", "0", f"<id of {kind}>"],
            "stop": ["mv", f"{self.manifests}/{kind}.yaml", f"{self.held}/"],
            "start": ["mv", f"{self.held}/{kind}.yaml", f"{self.manifests}/"],
        }[action]
        return self.access.describe(node, argv)


@dataclass(frozen=True)
class SystemdRuntime:
    """Binary installs (seed 003): components are systemd units; a kill is ``systemctl kill -s SIGKILL``
    (the unit's Restart= brings it back with a new MainPID)."""

    access: NodeAccess
    units: dict[str, str] = field(
        default_factory=lambda: {k: k for k in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")}
    )
    name: str = "systemd"

    def instance(self, kind: str, node: str) -> Instance | None:
        out = self.access.run(node, ["systemctl", "show", "-p", "MainPID", "--value", self.units[kind]], check=False)
        pid = out.stdout.strip()
        return Instance(kind=kind, node=node, id=pid) if out.ok and pid not in ("", "0") else None

    def kill(self, kind: str, node: str) -> Instance:
        inst = self.instance(kind, node)
        if inst is None:
            raise FaultInjectionError(f"unit {self.units[kind]} on {node} has no main PID: nothing to kill")
        self.access.run(node, ["systemctl", "kill", "-s", "SIGKILL", self.units[kind]])
        return inst

    def stop(self, kind: str, node: str) -> None:
        self.access.run(node, ["systemctl", "stop", self.units[kind]])

    def start(self, kind: str, node: str) -> None:
        self.access.run(node, ["systemctl", "start", self.units[kind]])

    def describe(self, action: str, kind: str, node: str) -> str:
        argv = {
            "kill": ["systemctl", "kill", "-s", "SIGKILL", self.units[kind]],
            "stop": ["systemctl", "stop", self.units[kind]],
            "start": ["systemctl", "start", self.units[kind]],
        }[action]
        return self.access.describe(node, argv)
