"""Which cluster a drill talks to, and how: detection of the backend and the ``Cluster`` handle.

- ``local``: the embedded cluster, found by the ConfigMap ``kube-public/kubedrill-embedded-cluster``
  that ``kubedrill up`` writes; nodes are network namespaces, components are supervised processes.
- ``kind``: found by nodes whose ``spec.providerID`` starts with ``kind://``; nodes are containers
  (``docker exec``), components are static pods (``crictl``), etcdctl runs inside the etcd pod.
- ``ssh``: any cluster with an inventory file (``--inventory``): nodes over ssh, components as static
  pods (kubeadm) or systemd units (binary installs), etcdctl on a control-plane node.
- ``api``: anything else: API-level drills only; node-level drills are skipped saying what to provide.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubedrill.backends.base import ComponentRuntime, NodeAccess
from kubedrill.backends.embedded import Layout
from kubedrill.backends.etcd import Etcdctl
from kubedrill.backends.etcd_http import EtcdStatusHttp
from kubedrill.backends.kube import Kube, load_target
from kubedrill.backends.nodes import (
    HOST,
    DockerExecAccess,
    NetnsAccess,
    SshAccess,
    SshHost,
    StaticPodRuntime,
    SupervisorRuntime,
    SystemdRuntime,
)
from kubedrill.backends.shell import Result
from kubedrill.config import read_yaml
from kubedrill.errors import BackendError, ClusterUnreachable, ConfigError

MARKER_NAMESPACE = "kube-public"
MARKER_CONFIGMAP = "kubedrill-embedded-cluster"
BACKENDS = ("auto", "local", "kind", "ssh")
KUBEADM_ETCD_PKI = "/etc/kubernetes/pki/etcd"


@dataclass
class Cluster:
    """Everything a drill may use to reach one cluster. ``access``/``runtime``/``etcd`` are None for
    API-only clusters; ``missing`` then says what to provide."""

    backend: str
    context: str
    server: str
    kubeconfig: str | None
    control_planes: list[str]
    access: NodeAccess | None = None
    runtime: ComponentRuntime | None = None
    etcd: Etcdctl | None = None
    etcd_endpoint_of: dict[str, str] = field(default_factory=dict)  # node → client URL
    apiserver_of: dict[str, str] = field(default_factory=dict)  # node → its own API server URL (not the LB)
    prometheus_url: str | None = None
    layout: Layout | None = None
    missing: str = ""
    # for restores: each member's data dir, etcdutl on the nodes, who owns the data (systemd installs)
    etcd_data_dir_of: dict[str, str] = field(default_factory=dict)
    etcdutl: str = "etcdutl"
    etcdutl_upload: str | None = None  # a local etcdutl to copy to nodes that have none (kind)
    etcd_owner: str | None = None
    snapshot_dir: str = "/var/tmp"  # where snapshots are written on the node that takes them
    # What plays the kubelets, restarted after a restore (Kubernetes' restore guide: restart kube-scheduler,
    # kube-controller-manager and kubelets so none keeps acting on state newer than the snapshot).
    kubelets: list[tuple[str, str]] = field(default_factory=list)  # (runtime kind, node) to kill
    kubelet_restart_argv: list[str] = field(default_factory=list)  # else: run this on every control-plane node
    # for partitions: each node's address, and the load balancer's (isolating a node cuts both)
    address_of: dict[str, str] = field(default_factory=dict)
    lb_addresses: list[str] = field(default_factory=list)
    cni_enforces_policies: bool = False  # KWOK pods have no network; kind's kindnet enforces NetworkPolicy
    etcd_certs_local: bool = False  # etcd's client certs are files here: status over HTTP (see etcd_http)

    def etcd_on(self, node: str) -> Etcdctl:
        """etcdctl run *on* ``node`` against its own member (answers even when the node is cut off)."""
        if self.etcd is None or self.access is None:
            raise ConfigError("--backend", "backend", "node and etcd access", self.backend)
        access = self.access
        prefix = ["env", "-u", "ETCDCTL_ENDPOINTS", "-u", "ETCDCTL_CACERT", "-u", "ETCDCTL_CERT", "-u", "ETCDCTL_KEY"]

        def run(argv: list[str], timeout_s: float) -> Result:
            return access.run(node, [*prefix, *argv], timeout_s=timeout_s, check=False)

        return Etcdctl(
            binary=self.etcd.binary,
            endpoints=("https://127.0.0.1:2379",),
            cacert=self.etcd.cacert,
            cert=self.etcd.cert,
            key=self.etcd.key,
            runner=_kind_etcd_runner(access, [node]) if isinstance(access, DockerExecAccess) else run,
        )

    def etcd_status_http(self) -> EtcdStatusHttp | None:
        """A cheap status reader for watching at 10 Hz, where the client certs are on this machine."""
        if self.etcd is None or not self.etcd_certs_local:
            return None
        return EtcdStatusHttp(self.etcd.endpoints, self.etcd.cacert, self.etcd.cert, self.etcd.key)

    def kube(self, timeout_s: float = 5.0) -> Kube:
        return Kube(self.kubeconfig, self.context, timeout_s=timeout_s)

    def node_of_endpoint(self, endpoint: str) -> str | None:
        return next((n for n, e in self.etcd_endpoint_of.items() if e == endpoint), None)

    @property
    def node_level(self) -> bool:
        return self.access is not None and self.runtime is not None and self.etcd is not None


# ---------------------------------------------------------------- inventory


@dataclass(frozen=True)
class Inventory:
    hosts: dict[str, SshHost]
    runtime: str  # static-pod | systemd | supervisor
    etcd_endpoints: dict[str, str]
    etcd_cacert: str
    etcd_cert: str
    etcd_key: str
    etcdctl: str = "etcdctl"
    etcdutl: str = "etcdutl"
    etcd_data_dir: str = "/var/lib/etcd"
    etcd_owner: str | None = None  # chown the restored data dir to this user (seed 000: etcd:etcd)
    supervisor_run_dir: str | None = None
    known_hosts: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    lb_addresses: tuple[str, ...] = ()  # API load balancers: cut too when a node is isolated


def _req(data: dict[str, Any], key: str, source: str, where: str, kind: type, expected: str) -> Any:
    if key not in data:
        raise ConfigError(source, f"{where}{key}", expected, "(missing)")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(source, f"{where}{key}", expected, value)
    return value


def parse_inventory(data: object, source: str) -> Inventory:
    """An inventory file: which control-plane nodes exist, how to reach them, how components run."""
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", "a mapping with nodes, runtime and etcd", type(data).__name__)
    nodes = _req(data, "nodes", source, "", dict, "a mapping of node name → {address, user, port}")
    if not nodes:
        raise ConfigError(source, "nodes", "at least one control-plane node", nodes)
    hosts = {}
    for name, spec in nodes.items():
        where = f"nodes.{name}."
        if not isinstance(spec, dict):
            raise ConfigError(source, f"nodes.{name}", "a mapping with address, user, port", spec)
        unknown = set(spec) - {"address", "user", "port", "identity_file"}
        if unknown:
            raise ConfigError(source, f"nodes.{name}", "only address, user, port, identity_file", sorted(unknown))
        port = spec.get("port", 22)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(source, f"{where}port", "a TCP port from 1 to 65535", port)
        user = spec.get("user", "root")
        if not isinstance(user, str) or not user:
            raise ConfigError(source, f"{where}user", "a user name", user)
        identity = spec.get("identity_file")
        if identity is not None and not isinstance(identity, str):
            raise ConfigError(source, f"{where}identity_file", "a path", identity)
        hosts[str(name)] = SshHost(
            address=_req(spec, "address", source, where, str, "a host name or IP address"),
            user=user,
            port=port,
            identity_file=os.path.expanduser(identity) if identity else None,
        )
    runtime = _req(data, "runtime", source, "", str, "static-pod, systemd or supervisor")
    if runtime not in ("static-pod", "systemd", "supervisor"):
        raise ConfigError(source, "runtime", "static-pod, systemd or supervisor", runtime)
    etcd = _req(data, "etcd", source, "", dict, "a mapping with endpoints, cacert, cert, key")
    endpoints = _req(etcd, "endpoints", source, "etcd.", dict, "a mapping of node name → https://host:2379")
    for node, url in endpoints.items():
        if node not in hosts:
            raise ConfigError(source, f"etcd.endpoints.{node}", f"a node listed under nodes ({sorted(hosts)})", node)
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigError(source, f"etcd.endpoints.{node}", "an URL like https://10.0.0.1:2379", url)
    run_dir = data.get("supervisor_run_dir")
    if runtime == "supervisor" and not isinstance(run_dir, str):
        raise ConfigError(source, "supervisor_run_dir", "the supervisor's run directory (runtime: supervisor)", run_dir)
    units = data.get("units", {}) or {}
    if not isinstance(units, dict) or not all(isinstance(v, str) for v in units.values()):
        raise ConfigError(source, "units", "a mapping of component → systemd unit name", units)
    lbs = data.get("lb_addresses", []) or []
    if not isinstance(lbs, list) or not all(isinstance(x, str) for x in lbs):
        raise ConfigError(source, "lb_addresses", "a list of load-balancer addresses", lbs)
    known_hosts = data.get("known_hosts")
    if known_hosts is not None and not isinstance(known_hosts, str):
        raise ConfigError(source, "known_hosts", "a path", known_hosts)
    return Inventory(
        hosts=hosts,
        runtime=runtime,
        etcd_endpoints={str(k): str(v) for k, v in endpoints.items()},
        etcd_cacert=_req(etcd, "cacert", source, "etcd.", str, "a path on the nodes"),
        etcd_cert=_req(etcd, "cert", source, "etcd.", str, "a path on the nodes"),
        etcd_key=_req(etcd, "key", source, "etcd.", str, "a path on the nodes"),
        etcdctl=str(etcd.get("etcdctl", "etcdctl")),
        etcdutl=str(etcd.get("etcdutl", "etcdutl")),
        etcd_data_dir=str(etcd.get("data_dir", "/var/lib/etcd")),
        etcd_owner=str(etcd["owner"]) if etcd.get("owner") else None,
        supervisor_run_dir=run_dir,
        known_hosts=known_hosts,
        units={str(k): str(v) for k, v in units.items()},
        lb_addresses=tuple(lbs),
    )


def load_inventory(path: str | Path) -> Inventory:
    return parse_inventory(read_yaml(path, "inventory file"), str(path))


# ---------------------------------------------------------------- detection


def _node_runner(access: NodeAccess, nodes: list[str]) -> Any:
    """An etcdctl runner that runs on the first node that answers (etcdctl's certs live on the nodes)."""

    def run(argv: list[str], timeout_s: float) -> Result:
        last: Result | None = None
        for node in nodes:
            try:
                result = access.run(node, argv, timeout_s=timeout_s, check=False)
            except BackendError:  # an unreachable node: try the next one
                continue
            if result.ok or result.stdout.strip():
                return result
            last = result
        return last or Result(tuple(argv), 1, "", f"no control-plane node answered ({', '.join(nodes)})")

    return run


def _kind_etcd_runner(access: DockerExecAccess, nodes: list[str]) -> Any:
    """etcdctl inside the etcd static pod of the first node that answers (kind ships no etcdctl on nodes)."""

    def run(argv: list[str], timeout_s: float) -> Result:
        last: Result | None = None
        for node in nodes:
            ids = access.run(node, ["crictl", "ps", "--name", "^etcd$", "--state", "running", "-q"], check=False)
            if not ids.ok or not ids.stdout.split():
                continue
            result = access.run(
                node, ["crictl", "exec", ids.stdout.split()[0], *argv], timeout_s=timeout_s, check=False
            )
            if result.ok or result.stdout.strip():
                return result
            last = result
        return last or Result(tuple(argv), 1, "", f"no running etcd container on {', '.join(nodes)}")

    return run


def _reason(e: Exception) -> str:
    """The useful end of a urllib3 error chain ("[Errno 111] Connection refused", "timed out")."""
    text = str(e)
    m = re.search(r"(\[Errno -?\d+\][^'\")]*|timed out|SSLError\([^)]*\)|certificate verify failed[^'\")]*)", text)
    return m.group(1).strip() if m else text[-300:]


def detect(
    kubeconfig: str | None,
    context: str | None,
    backend: str = "auto",
    inventory: str | None = None,
    prometheus_url: str | None = None,
    etcdutl_local: str | None = None,
    remembered: dict[str, Any] | None = None,
) -> Cluster:
    """Find out what the cluster is and how to reach its nodes. ``remembered`` (a rollback ledger's
    cluster record) lets `kubedrill recover` reach the nodes while the API is down."""
    if backend not in BACKENDS:
        raise ConfigError("--backend", "backend", f"one of {', '.join(BACKENDS)}", backend)
    inv = load_inventory(inventory) if inventory else None  # bad inventory: error before touching anything
    target = load_target(kubeconfig, context)
    kube = Kube(kubeconfig, target.context)
    known_ips: dict[str, str] = {}
    try:
        marker = kube.read_configmap(MARKER_NAMESPACE, MARKER_CONFIGMAP)
        nodes = kube.nodes()
        cps = sorted(n.name for n in nodes if "node-role.kubernetes.io/control-plane" in n.labels)
        is_kind = any(n.provider_id.startswith("kind://") for n in nodes)
        state_dir = marker["stateDir"] if marker else None
    except BackendError as e:
        if not remembered or remembered.get("backend") not in ("local", "kind", "ssh"):
            raise ClusterUnreachable(
                f"the Kubernetes API at {target.server} (context {target.context}) does not answer: {_reason(e)}"
            ) from e
        # The API is down (every API server stopped by a restore the runner died in): reach the nodes the
        # way the rollback ledger remembers them, which is all `kubedrill recover` needs.
        backend = str(remembered["backend"])
        cps = list(remembered.get("control_planes") or [])
        known_ips = dict(remembered.get("address_of") or {})
        is_kind = backend == "kind"
        state_dir = remembered.get("state_dir")
        marker = {"stateDir": state_dir} if state_dir else None
    finally:
        kube.close()
    chosen = backend
    if backend == "auto":
        chosen = "ssh" if inv else "local" if marker else "kind" if is_kind else "api"
    base: dict[str, Any] = {"context": target.context, "server": target.server, "kubeconfig": kubeconfig}

    if chosen == "local":
        layout = Layout.load(Path(state_dir)) if state_dir else Layout.load()  # default: this machine's
        if layout is None:
            raise ConfigError("--backend", "backend", "an embedded cluster (kubedrill up) for backend local", backend)
        access = NetnsAccess({n: layout.netns(n) for n in layout.nodes})
        etcd = Etcdctl(
            binary=str(layout.binary("etcdctl")),
            endpoints=tuple(layout.etcd_client_url(n) for n in layout.nodes),
            cacert=layout.etcd_ca,
            cert=layout.etcd_client_cert,
            key=layout.etcd_client_key,
        )
        return Cluster(
            backend="local",
            control_planes=layout.nodes,
            access=access,
            runtime=SupervisorRuntime(access, layout.run_dir),
            etcd=etcd,
            etcd_endpoint_of={n: layout.etcd_client_url(n) for n in layout.nodes},
            apiserver_of={n: layout.apiserver_url(n) for n in layout.nodes},
            prometheus_url=prometheus_url or layout.prometheus_url,
            layout=layout,
            etcd_data_dir_of={n: str(layout.etcd_data_dir(n)) for n in layout.nodes},
            kubelets=[("kwok", HOST)],
            address_of={n: layout.node_ip(n) for n in layout.nodes},
            lb_addresses=[layout.bridge_ip],
            etcdutl=str(layout.binary("etcdutl")),
            snapshot_dir=str(layout.state_dir / "snapshots"),
            etcd_certs_local=True,
            **base,
        )
    if chosen == "kind":
        docker = DockerExecAccess()
        if known_ips:
            ips = known_ips
        else:
            kube = Kube(kubeconfig, target.context)
            try:
                ips = kube.internal_ips()
            finally:
                kube.close()
        endpoints = {n: f"https://{ips[n]}:2379" for n in cps}
        pki = KUBEADM_ETCD_PKI
        return Cluster(
            backend="kind",
            control_planes=cps,
            access=docker,
            runtime=StaticPodRuntime(docker),
            etcd=Etcdctl(
                binary="etcdctl",
                endpoints=tuple(endpoints.values()),
                cacert=Path(f"{pki}/ca.crt"),
                cert=Path(f"{pki}/healthcheck-client.crt"),
                key=Path(f"{pki}/healthcheck-client.key"),
                runner=_kind_etcd_runner(docker, cps),
            ),
            etcd_endpoint_of=endpoints,
            apiserver_of={n: f"https://{ips[n]}:6443" for n in cps},
            address_of={n: ips[n] for n in cps},
            cni_enforces_policies=True,
            prometheus_url=prometheus_url,
            etcd_data_dir_of=dict.fromkeys(cps, "/var/lib/etcd"),  # kubeadm's hostPath
            etcdutl="/usr/local/bin/kubedrill-etcdutl",
            etcdutl_upload=etcdutl_local,
            snapshot_dir="/var/lib/etcd-snapshots",  # outside /var/lib/etcd, which a restore moves aside
            kubelet_restart_argv=["systemctl", "restart", "kubelet"],
            **base,
        )
    if chosen == "ssh":
        if inv is None:
            raise ConfigError("--inventory", "inventory", "an inventory file for backend ssh", None)
        ssh = SshAccess(inv.hosts, known_hosts=inv.known_hosts)
        nodes_with_etcd = list(inv.etcd_endpoints)
        runtime: ComponentRuntime
        if inv.runtime == "static-pod":
            runtime = StaticPodRuntime(ssh)
        elif inv.runtime == "systemd":
            runtime = SystemdRuntime(ssh, units={**SystemdRuntime(ssh).units, **inv.units})
        else:
            runtime = SupervisorRuntime(ssh, Path(str(inv.supervisor_run_dir)))
        return Cluster(
            backend="ssh",
            control_planes=sorted(inv.hosts),
            access=ssh,
            runtime=runtime,
            etcd=Etcdctl(
                binary=inv.etcdctl,
                endpoints=tuple(inv.etcd_endpoints.values()),
                cacert=Path(inv.etcd_cacert),
                cert=Path(inv.etcd_cert),
                key=Path(inv.etcd_key),
                runner=_node_runner(ssh, nodes_with_etcd),
            ),
            etcd_endpoint_of=dict(inv.etcd_endpoints),
            apiserver_of={n: f"https://{h.address}:6443" for n, h in inv.hosts.items()},
            address_of={n: h.address for n, h in inv.hosts.items()},
            lb_addresses=list(inv.lb_addresses),
            prometheus_url=prometheus_url,
            etcd_data_dir_of=dict.fromkeys(inv.etcd_endpoints, inv.etcd_data_dir),
            etcdutl=inv.etcdutl,
            etcd_owner=inv.etcd_owner,
            kubelet_restart_argv=["systemctl", "restart", "kubelet"] if inv.runtime != "supervisor" else [],
            **base,
        )
    return Cluster(
        backend="api",
        control_planes=cps,
        prometheus_url=prometheus_url,
        missing=(
            "node-level drills need node access: run against the embedded cluster (kubedrill up), a kind "
            "cluster, or give --inventory FILE describing the control-plane nodes (see ci/inventory.example.yaml)"
        ),
        **base,
    )
