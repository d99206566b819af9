"""The embedded cluster as the backends see it: where everything lives, and how to reach its nodes.

The embedded cluster (``kubedrill up``) runs each control-plane node as a network namespace
``kd-cp-N`` with address ``<subnet>.1N`` on the bridge ``kd-br0``; host-side services (HAProxy,
Prometheus, KWOK, kube-state-metrics) listen on the bridge address and loopback. Every component is a
process under kubedrill's supervisor, which restarts it the way a kubelet restarts a static pod.

This module holds the pure layout (names, addresses, paths) shared by ``kubedrill.local`` (which
creates the cluster) and by the node-access and component-runtime backends (which drills use), plus the
supervisor's small on-disk control protocol:

- ``run/<component>.json``: written by the supervisor: pid, start time, restart count, state;
- ``run/<component>.hold``: written by a drill: keep this component stopped until the file is removed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubedrill import paths
from kubedrill.backends.etcd import Etcdctl
from kubedrill.errors import BackendError

MARKER_LABEL = "kubedrill.io/embedded-cluster"
NETNS_PREFIX = "kd-"
BRIDGE = "kd-br0"

CONTROL_PLANE_COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
HOST_COMPONENTS = ("haproxy", "prometheus", "kwok", "kube-state-metrics")
LB_COMPONENTS = ("haproxy", "keepalived")  # on lb-N, in the VIP shape


def default_state_dir() -> Path:
    return paths.from_env("KUBEDRILL_STATE", paths.state_home() / "local")


@dataclass(frozen=True)
class Ports:
    """Host ports, each chosen to stay clear of a real cluster's defaults on the same machine."""

    api: int = 6443  # HAProxy frontend: what users' kubeconfig points at (kubeadm's port)
    prometheus: int = 9090
    kwok: int = 10247  # KWOK's own server: /healthz and /metrics
    worker_kubelets: int = 10270  # worker-N's KWOK (its kubelet) serves /healthz and /metrics on this + N
    ksm: int = 18080  # kube-state-metrics' metrics port
    ksm_telemetry: int = 18081
    haproxy_stats: int = 18404  # HAProxy stats and Prometheus exporter


@dataclass(frozen=True)
class Layout:
    """Everything about one embedded cluster that is fixed when it is created."""

    state_dir: Path
    control_planes: int = 3
    workers: int = 3
    subnet: str = "10.251.0"  # a /24 used only between our own namespaces and the host bridge
    ports: Ports = field(default_factory=Ports)
    cluster_token: str = "kubedrill"  # noqa: S105 - etcd's --initial-cluster-token is an identifier, not a secret
    # 1: seed 004's single HAProxy on this machine. 2: seed 002's shape, two HAProxies (namespaces lb-1, lb-2)
    # behind a keepalived VRRP address, the VIP, which the API is reached through.
    load_balancers: int = 1

    # ---- names and addresses ----
    @property
    def nodes(self) -> list[str]:
        return [f"cp-{i}" for i in range(1, self.control_planes + 1)]

    @property
    def workers_names(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, self.workers + 1)]

    @property
    def bridge_ip(self) -> str:
        return f"{self.subnet}.1"

    def netns(self, node: str) -> str:
        return f"{NETNS_PREFIX}{node}"

    def node_ip(self, node: str) -> str:
        return f"{self.subnet}.{10 + int(node.rsplit('-', 1)[1])}"

    def node_of_ip(self, ip: str) -> str | None:
        return next((n for n in self.nodes if self.node_ip(n) == ip), None)

    @property
    def lbs(self) -> list[str]:
        """The load balancers with a namespace of their own (none in the single-HAProxy shape)."""
        return [f"lb-{i}" for i in range(1, self.load_balancers + 1)] if self.load_balancers > 1 else []

    def lb_ip(self, lb: str) -> str:
        return f"{self.subnet}.{20 + int(lb.rsplit('-', 1)[1])}"

    @property
    def vip(self) -> str | None:
        """The keepalived VRRP address in front of the load balancers; None with a single HAProxy."""
        return f"{self.subnet}.100" if self.lbs else None

    def worker_kubelet_port(self, worker: str) -> int:
        return self.ports.worker_kubelets + int(worker.rsplit("-", 1)[1])

    def component(self, component: str, node: str) -> str:
        """kubeadm's static pod naming: ``etcd-cp-1``, ``kube-apiserver-cp-2``."""
        return f"{component}-{node}"

    def split_component(self, name: str) -> tuple[str, str]:
        """``kube-apiserver-cp-2`` → (``kube-apiserver``, ``cp-2``); host components → (name, ``host``)."""
        if name in HOST_COMPONENTS:
            return name, "host"
        if name.startswith("kubelet-") and name.removeprefix("kubelet-") in self.workers_names:
            return "kubelet", name.removeprefix("kubelet-")
        for what in LB_COMPONENTS:
            if name.startswith(f"{what}-") and name.removeprefix(f"{what}-") in self.lbs:
                return what, name.removeprefix(f"{what}-")
        component, sep, index = name.rpartition("-cp-")
        if not sep or component not in CONTROL_PLANE_COMPONENTS:
            raise ValueError(f"not a component of the embedded cluster: {name!r}")
        return component, f"cp-{index}"

    @property
    def components(self) -> list[str]:
        names = [self.component(k, n) for n in self.nodes for k in CONTROL_PLANE_COMPONENTS]
        host = [c for c in HOST_COMPONENTS if not (c == "haproxy" and self.lbs)]  # VIP shape: HAProxy on lb-N
        lbs = [self.component(k, lb) for lb in self.lbs for k in LB_COMPONENTS]
        return names + host + lbs + [self.component("kubelet", w) for w in self.workers_names]

    def etcd_client_url(self, node: str) -> str:
        return f"https://{self.node_ip(node)}:2379"

    def etcd_peer_url(self, node: str) -> str:
        return f"https://{self.node_ip(node)}:2380"

    def apiserver_url(self, node: str) -> str:
        return f"https://{self.node_ip(node)}:6443"

    @property
    def api_url(self) -> str:
        """Where clients reach the API: the single HAProxy on loopback, or the VIP."""
        return f"https://{self.vip}:{self.ports.api}" if self.vip else f"https://127.0.0.1:{self.ports.api}"

    @property
    def haproxy_monitor_urls(self) -> dict[str, str]:
        """Each HAProxy's monitor URI, by where it runs: lb-N in the VIP shape, else the host."""
        port = self.ports.haproxy_stats
        if not self.lbs:
            return {"host": f"http://127.0.0.1:{port}/healthz"}
        return {lb: f"http://{self.lb_ip(lb)}:{port}/healthz" for lb in self.lbs}

    @property
    def lb_addresses(self) -> list[str]:
        """Where the load balancers' connections to the API servers come from (a partition cuts these too)."""
        return [*(self.lb_ip(lb) for lb in self.lbs), self.bridge_ip]  # the host: Prometheus, etcdctl, KWOK

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    # ---- paths ----
    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state_dir / "admin.conf"

    def etcd_data_dir(self, node: str) -> Path:
        return self.state_dir / "nodes" / node / "etcd"

    def node_dir(self, node: str) -> Path:
        return self.state_dir / "nodes" / node

    @property
    def etcd_ca(self) -> Path:
        return self.pki / "etcd" / "ca.crt"

    @property
    def etcd_client_cert(self) -> Path:
        """kubeadm's healthcheck-client: what etcdctl uses."""
        return self.pki / "etcd" / "healthcheck-client.crt"

    @property
    def etcd_client_key(self) -> Path:
        return self.pki / "etcd" / "healthcheck-client.key"

    @property
    def binaries_file(self) -> Path:
        return self.state_dir / "binaries.json"

    def binary(self, name: str) -> Path:
        """The path of a binary this cluster runs (recorded by ``kubedrill up``)."""
        try:
            return Path(json.loads(self.binaries_file.read_text())[name])
        except (OSError, ValueError, KeyError) as e:
            raise BackendError(
                f"{self.binaries_file} does not name {name}: the cluster was started by an older kubedrill; "
                "restart it with 'kubedrill down && kubedrill up'"
            ) from e

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def spec_file(self) -> Path:
        return self.state_dir / "spec.json"

    @property
    def supervisor_pid_file(self) -> Path:
        return self.run_dir / "supervisor.pid"

    def status_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.json"

    def hold_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.hold"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    # ---- persistence ----
    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layout:
        data = dict(data)
        data["state_dir"] = Path(data["state_dir"])
        data["ports"] = Ports(**data.get("ports", {}))
        return cls(**data)

    def save(self) -> None:
        write_json_atomic(self.state_file, self.to_json())

    @classmethod
    def load(cls, state_dir: Path | None = None) -> Layout | None:
        """The layout of the cluster recorded in ``state_dir``, or None when there is none."""
        path = (state_dir or default_state_dir()) / "state.json"
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None


def etcdctl(layout: Layout) -> Etcdctl:
    """etcdctl on this machine against every member, with kubeadm's healthcheck-client certificate."""
    return Etcdctl(
        binary=str(layout.binary("etcdctl")),
        endpoints=tuple(layout.etcd_client_url(n) for n in layout.nodes),
        cacert=layout.etcd_ca,
        cert=layout.etcd_client_cert,
        key=layout.etcd_client_key,
    )


@dataclass(frozen=True)
class ComponentStatus:
    """One line of the supervisor's view of a component."""

    name: str
    pid: int | None
    state: str  # running | backoff | held | stopped
    restarts: int
    started_at: float | None  # wall-clock seconds
    last_exit: int | None = None


def read_status(layout: Layout, component: str) -> ComponentStatus | None:
    try:
        data = json.loads(layout.status_file(component).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return ComponentStatus(**data)


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)
