"""Which cluster a drill talks to, and how: detection of the backend and the ``Cluster`` handle.

A backend is a composition, not a type: a ``NodeAccess`` (how a node is reached) and a
``ComponentRuntime`` built on it (how components run there), plus where etcdctl runs and what the
cluster looks like (nodes, addresses, data dirs). ``detect`` picks one of:

- ``local``: the embedded cluster, found by the ConfigMap ``kube-public/kubedrill-embedded-cluster``
  that ``kubedrill up`` writes: netns access, the supervisor runtime, etcdctl on this machine;
- ``kind``: found by nodes whose ``spec.providerID`` starts with ``kind://``: ``docker exec`` access,
  static pods, etcdctl inside the etcd container;
- ``ssh``: any cluster with an inventory file (``--inventory``): ssh access, static pods (kubeadm),
  systemd units (binary installs) or the supervisor, etcdctl on the hosts (the inventory says where);
- ``api``: anything else: API-level drills only; node-level drills are skipped saying what to provide.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubedrill import paths
from kubedrill.backends import embedded, kind_cli
from kubedrill.backends.access import HOST, DockerExecAccess, NetnsAccess, NodeAccess, SshAccess
from kubedrill.backends.embedded import Layout
from kubedrill.backends.etcd import Etcdctl, Runner
from kubedrill.backends.etcd_http import EtcdStatusHttp
from kubedrill.backends.inventory import Inventory, load_inventory
from kubedrill.backends.kube import Kube, load_target
from kubedrill.backends.kubelets import KubeletControl, SupervisedKubelet, SystemdKubelet
from kubedrill.backends.loadbalancers import HAPROXY, LoadBalancers, kind_load_balancer
from kubedrill.backends.runtimes import (
    DEFAULT_UNITS,
    ComponentRuntime,
    StaticPodRuntime,
    SupervisorRuntime,
    SystemdRuntime,
)
from kubedrill.backends.shell import Result
from kubedrill.config import PromTargets
from kubedrill.errors import BackendError, ClusterUnreachable, ConfigError, PreconditionFailed

MARKER_NAMESPACE = "kube-public"
MARKER_CONFIGMAP = "kubedrill-embedded-cluster"
BACKENDS = ("auto", "local", "kind", "ssh")
KUBEADM_ETCD_PKI = "/etc/kubernetes/pki/etcd"
UPLOAD_DIR = "/var/lib/kubedrill/bin"  # on a host without etcdctl/etcdutl: where kubedrill's build is copied


@dataclass
class HostTool:
    """etcdctl or etcdutl on real hosts: the inventory's where it runs there, else kubedrill's own build (the
    etcd version kubedrill pins) copied to ``UPLOAD_DIR`` on first use. A kubeadm host has no etcdctl of its
    own (it lives in the etcd image), and a binary install may keep it off ``PATH``."""

    name: str  # etcdctl | etcdutl
    configured: str  # the inventory's path, or a name looked up on the host's PATH
    local: str | None  # kubedrill's build on this machine, uploaded where a host has none
    access: NodeAccess
    found: dict[str, str] = field(default_factory=dict)  # node → the path used there
    uploads: bool = True  # False under --dry-run, which writes nothing to a host: a missing tool is then an error

    @property
    def upload_path(self) -> str:
        return f"{UPLOAD_DIR}/{self.name}"

    def uploaded_to(self, node: str) -> bool:
        return self.found.get(node) == self.upload_path

    def on(self, node: str) -> str:
        """The tool's path on ``node``: one round trip to look, one copy when it is missing."""
        if node in self.found:
            return self.found[node]
        up = self.upload_path
        look = f"command -v {shlex.quote(self.configured)} || {{ test -x {up} && echo {up}; }}"
        where = self.access.run(node, ["sh", "-c", look], check=False).stdout.strip().splitlines()
        if where:
            self.found[node] = self.configured if where[0] != self.upload_path else self.upload_path
            return self.found[node]
        if not self.uploads:
            raise PreconditionFailed(
                f"{self.name} is not on {node} ({self.configured} not found): a real run copies kubedrill's build to "
                f"{self.upload_path} there; a dry run writes nothing to a host, so it does not"
            )
        if self.local is None:
            raise PreconditionFailed(
                f"{self.name} is not on {node} ({self.configured} not found) and this machine has no {self.name} "
                f"to upload: install it there and name it as etcd.{self.name} in the inventory"
            )
        self.access.run(node, ["mkdir", "-p", UPLOAD_DIR])
        self.access.copy_to(node, self.local, self.upload_path)
        self.access.run(node, ["chmod", "0755", self.upload_path])
        self.found[node] = self.upload_path
        return self.upload_path

    def command(self, on_node: NodeCommand) -> NodeCommand:
        """``on_node`` with the configured tool's name replaced by its path on each node."""

        def run(node: str, argv: list[str], timeout_s: float) -> Result:
            if argv and argv[0] == self.configured:
                argv = [self.on(node), *argv[1:]]
            return on_node(node, argv, timeout_s)

        return run


@dataclass(frozen=True)
class EtcdData:
    """Where each etcd member keeps its data and what a restore needs on the nodes (seed 003)."""

    data_dir_of: dict[str, str] = field(default_factory=dict)  # node → the member's data dir
    etcdutl: str = "etcdutl"  # on the nodes
    etcdutl_upload: str | None = None  # a local etcdutl copied to nodes that have none (kind) as ``etcdutl``
    owner: str | None = None  # chown the restored dir to this user (binary installs run etcd as etcd:etcd)
    snapshot_dir: str = "/var/tmp"  # on the nodes: where a snapshot is written and copied for the restore
    etcdutl_on_hosts: HostTool | None = None  # ssh: the inventory's etcdutl, or kubedrill's uploaded where missing

    def etcdutl_on(self, node: str) -> str:
        """etcdutl's path on ``node`` (uploading kubedrill's where the host has none)."""
        return self.etcdutl_on_hosts.on(node) if self.etcdutl_on_hosts else self.etcdutl


@dataclass
class Cluster:
    """Everything a drill may use to reach one cluster. ``runtime``/``etcd`` are None for API-only
    clusters; ``missing`` then says what to provide."""

    backend: str
    context: str
    server: str
    kubeconfig: str | None
    control_planes: list[str]
    runtime: ComponentRuntime | None = None
    etcd: Etcdctl | None = None
    etcdctl_on_node: NodeCommand | None = None  # how etcdctl runs on one node: on it, or in its etcd container
    etcd_endpoint_of: dict[str, str] = field(default_factory=dict)  # node → client URL
    apiserver_of: dict[str, str] = field(default_factory=dict)  # node → its own API server URL (not the LB)
    prometheus_url: str | None = None
    prom_targets: PromTargets | None = None  # the inventory's job matchers for its Prometheus (else the profile's)
    layout: Layout | None = None
    missing: str = ""
    etcd_data: EtcdData = field(default_factory=EtcdData)
    # Where the kubelets are restarted after a restore (Kubernetes' restore guide: restart kube-scheduler,
    # kube-controller-manager and kubelets so none keeps acting on state newer than the snapshot).
    kubelet_nodes: list[str] = field(default_factory=list)
    # for partitions: each node's address, and the load balancer's (isolating a node cuts both)
    address_of: dict[str, str] = field(default_factory=dict)
    lb_addresses: list[str] = field(default_factory=list)
    etcd_certs_local: bool = False  # etcd's client certs are files here: status over HTTP (see etcd_http)
    # The certificates' paths on the nodes, where they differ from ``etcd``'s (kind: copied here from a node).
    etcd_node_certs: tuple[Path, Path, Path] | None = None
    host_tools: list[HostTool] = field(default_factory=list)  # ssh: etcdctl and etcdutl, uploaded where missing
    # How a worker's kubelet is stopped and started (the node-lost drill); None: kubedrill cannot reach one.
    kubelets: KubeletControl | None = None
    # The load balancers in front of the API servers, where kubedrill can stop them (the lb-lost drill).
    load_balancers: LoadBalancers | None = None

    def touch_no_host(self) -> None:
        """For --dry-run: never copy a tool to a host (reading etcd where etcdctl is missing then fails, saying so)."""
        for tool in self.host_tools:
            tool.uploads = False

    @property
    def access(self) -> NodeAccess | None:
        """How nodes are reached: the runtime's transport."""
        return self.runtime.access if self.runtime is not None else None

    def runtime_for(self, component: str) -> ComponentRuntime | None:
        """What stops and starts ``component``: the load balancers' own runtime for HAProxy where they have one
        (kind's is a container's main process), else the cluster's."""
        if component == HAPROXY and self.load_balancers is not None and self.load_balancers.runtime is not None:
            return self.load_balancers.runtime
        return self.runtime

    def etcd_on(self, node: str) -> Etcdctl:
        """etcdctl run *on* ``node`` against its own member (answers even when the node is cut off)."""
        if self.etcd is None or self.etcdctl_on_node is None:
            raise ConfigError("--backend", "backend", "node and etcd access", self.backend)
        cacert, cert, key = self.etcd_node_certs or (self.etcd.cacert, self.etcd.cert, self.etcd.key)
        return Etcdctl(
            binary="etcdctl" if self.etcd_node_certs else self.etcd.binary,
            endpoints=("https://127.0.0.1:2379",),
            cacert=cacert,
            cert=cert,
            key=key,
            runner=etcd_runner(self.etcdctl_on_node, [node]),
        )

    def etcd_via(self, node: str) -> Etcdctl:
        """etcdctl run on ``node`` only (same endpoints and certificates): what it writes there, such as a
        snapshot, can then be fetched from that node. Where etcdctl runs on this machine, the same etcdctl."""
        if self.etcd is None:
            raise ConfigError("--backend", "backend", "etcd access", self.backend)
        if self.etcdctl_on_node is None or self.etcd_certs_local:
            return self.etcd
        return dataclasses.replace(self.etcd, runner=etcd_runner(self.etcdctl_on_node, [node]))

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
        return self.runtime is not None and self.etcd is not None


# Run argv on a node (never raising for its exit code): how etcdctl is run there.
NodeCommand = Callable[[str, list[str], float], Result]
# What a host's profile may export and etcdctl refuses next to its own flags (seed 003 exports them).
ETCDCTL_ENV = ("ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY")


def on_the_node(access: NodeAccess, unset: tuple[str, ...] = ()) -> NodeCommand:
    """etcdctl installed on the node itself, with the node's certificates; ``unset`` the variables a login
    environment there may carry."""
    prefix = ["env", *(arg for name in unset for arg in ("-u", name))] if unset else []

    def run(node: str, argv: list[str], timeout_s: float) -> Result:
        return access.run(node, [*prefix, *argv], timeout_s=timeout_s, check=False)

    return run


def in_the_etcd_container(runtime: ComponentRuntime) -> NodeCommand:
    """etcdctl inside the node's etcd container (a kind node ships none of its own)."""

    def run(node: str, argv: list[str], timeout_s: float) -> Result:
        return runtime.exec("etcd", node, argv, timeout_s=timeout_s)

    return run


def etcd_runner(on_node: NodeCommand, nodes: list[str]) -> Runner:
    """Run etcdctl where its certificates are, on the first of ``nodes`` that answers: an unreachable node,
    or one whose etcd is down, is skipped."""

    def run(argv: list[str], timeout_s: float) -> Result:
        last: Result | None = None
        for node in nodes:
            try:
                result = on_node(node, argv, timeout_s)
            except BackendError:  # an unreachable node: try the next one
                continue
            if result.ok or result.stdout.strip():
                return result
            last = result
        return last or Result(tuple(argv), 1, "", f"no control-plane node answered ({', '.join(nodes)})")

    return run


def _reason(e: Exception) -> str:
    """The useful end of a urllib3 error chain ("[Errno 111] Connection refused", "timed out")."""
    text = str(e)
    m = re.search(r"(\[Errno -?\d+\][^'\")]*|timed out|SSLError\([^)]*\)|certificate verify failed[^'\")]*)", text)
    return m.group(1).strip() if m else text[-300:]


@dataclass(frozen=True)
class _Seen:
    """What the API (or, while it is down, the ledger's cluster record) says about the cluster."""

    control_planes: list[str]
    is_kind: bool
    state_dir: str | None  # the embedded cluster's, from its marker ConfigMap
    embedded: bool
    address_of: dict[str, str]  # known without the API (ledger), else read when needed
    backend: str | None = None  # the ledger's backend, when the API is down: how to reach the nodes now


def _look(kubeconfig: str | None, context: str, server: str, remembered: dict[str, Any] | None) -> _Seen:
    kube = Kube(kubeconfig, context)
    try:
        marker = kube.read_configmap(MARKER_NAMESPACE, MARKER_CONFIGMAP)
        nodes = kube.nodes()
        return _Seen(
            control_planes=sorted(n.name for n in nodes if "node-role.kubernetes.io/control-plane" in n.labels),
            is_kind=any(n.provider_id.startswith("kind://") for n in nodes),
            state_dir=marker["stateDir"] if marker else None,
            embedded=marker is not None,
            address_of={},
        )
    except BackendError as e:
        if not remembered or remembered.get("backend") not in ("local", "kind", "ssh"):
            raise ClusterUnreachable(
                f"the Kubernetes API at {server} (context {context}) does not answer: {_reason(e)}"
            ) from e
        # The API is down (every API server stopped by a restore the runner died in): reach the nodes the
        # way the rollback ledger remembers them, which is all `kubedrill recover` needs.
        state_dir = remembered.get("state_dir")
        return _Seen(
            control_planes=list(remembered.get("control_planes") or []),
            is_kind=remembered["backend"] == "kind",
            state_dir=state_dir,
            embedded=bool(state_dir),
            address_of=dict(remembered.get("address_of") or {}),
            backend=str(remembered["backend"]),
        )
    finally:
        kube.close()


def detect(
    kubeconfig: str | None,
    context: str | None,
    backend: str = "auto",
    inventory: str | None = None,
    prometheus_url: str | None = None,
    etcdutl_local: str | None = None,
    remembered: dict[str, Any] | None = None,
    etcdctl_local: str | None = None,
) -> Cluster:
    """Find out what the cluster is and how to reach its nodes. ``remembered`` (a rollback ledger's
    cluster record) lets `kubedrill recover` reach the nodes while the API is down."""
    if backend not in BACKENDS:
        raise ConfigError("--backend", "backend", f"one of {', '.join(BACKENDS)}", backend)
    inv = load_inventory(inventory) if inventory else None  # bad inventory: error before touching anything
    target = load_target(kubeconfig, context)
    seen = _look(kubeconfig, target.context, target.server, remembered)
    chosen = seen.backend or backend
    if chosen == "auto":
        chosen = "ssh" if inv else "local" if seen.embedded else "kind" if seen.is_kind else "api"
    base: dict[str, Any] = {"context": target.context, "server": target.server, "kubeconfig": kubeconfig}
    if chosen == "local":
        return _embedded(seen, backend, prometheus_url, base)
    if chosen == "kind":
        return _kind(seen, kubeconfig, prometheus_url, etcdutl_local, etcdctl_local, base)
    if chosen == "ssh":
        if inv is None:
            raise ConfigError("--inventory", "inventory", "an inventory file for backend ssh", None)
        return _ssh(inv, prometheus_url, base, etcdctl_local, etcdutl_local)
    return Cluster(
        backend="api",
        control_planes=seen.control_planes,
        prometheus_url=prometheus_url,
        missing=(
            "node-level drills need node access: run against the embedded cluster (kubedrill up), a kind "
            "cluster, or give --inventory FILE describing the control-plane nodes (see ci/inventory.example.yaml)"
        ),
        **base,
    )


def _embedded(seen: _Seen, backend: str, prometheus_url: str | None, base: dict[str, Any]) -> Cluster:
    """Network namespaces on this machine, the supervisor's processes, etcdctl here with local certs."""
    layout = Layout.load(Path(seen.state_dir)) if seen.state_dir else Layout.load()  # default: this machine's
    if layout is None:
        raise ConfigError("--backend", "backend", "an embedded cluster (kubedrill up) for backend local", backend)
    access = NetnsAccess(
        {n: layout.netns(n) for n in [*layout.nodes, *layout.lbs]}, host_nodes=tuple(layout.workers_names)
    )
    runtime = SupervisorRuntime(access, layout.run_dir)
    return Cluster(
        backend="local",
        control_planes=layout.nodes,
        runtime=runtime,
        kubelets=SupervisedKubelet(runtime),
        load_balancers=LoadBalancers(access, tuple(layout.lbs), layout.vip, layout.haproxy_monitor_urls),
        etcdctl_on_node=on_the_node(access),  # the namespace shares this machine's files, not its ETCDCTL_*
        etcd=embedded.etcdctl(layout),
        etcd_endpoint_of={n: layout.etcd_client_url(n) for n in layout.nodes},
        apiserver_of={n: layout.apiserver_url(n) for n in layout.nodes},
        prometheus_url=prometheus_url or layout.prometheus_url,
        layout=layout,
        etcd_data=EtcdData(
            data_dir_of={n: str(layout.etcd_data_dir(n)) for n in layout.nodes},
            etcdutl=str(layout.binary("etcdutl")),
            snapshot_dir=str(layout.state_dir / "snapshots"),
        ),
        kubelet_nodes=[HOST, *layout.workers_names],  # KWOK plays every kubelet, on the host (one per worker)
        address_of={n: layout.node_ip(n) for n in layout.nodes},
        lb_addresses=layout.lb_addresses,
        etcd_certs_local=True,
        **base,
    )


def _kind(
    seen: _Seen,
    kubeconfig: str | None,
    prometheus_url: str | None,
    etcdutl_local: str | None,
    etcdctl_local: str | None,
    base: dict[str, Any],
) -> Cluster:
    """Node containers (``docker exec``), static pods. etcdctl runs here with the etcd client certificates
    copied from a node when this machine has etcdctl (kubedrill's build): one process per reading, none inside
    a node, and status over HTTP at 10 Hz; otherwise inside the etcd container (kind ships no etcdctl)."""
    ips = seen.address_of
    if not ips:
        kube = Kube(kubeconfig, base["context"])
        try:
            ips = kube.internal_ips()
        finally:
            kube.close()
    cps = seen.control_planes
    endpoints = {n: f"https://{ips[n]}:2379" for n in cps}
    access = DockerExecAccess()
    runtime = StaticPodRuntime(access)
    on_node = in_the_etcd_container(runtime)
    node_certs = (
        Path(f"{KUBEADM_ETCD_PKI}/ca.crt"),
        Path(f"{KUBEADM_ETCD_PKI}/healthcheck-client.crt"),
        Path(f"{KUBEADM_ETCD_PKI}/healthcheck-client.key"),
    )
    local_certs = _copy_certs(access, cps, node_certs, base["context"]) if etcdctl_local else None
    lb = f"{base['context'].removeprefix('kind-')}-external-load-balancer"
    lb_address = access.container_address(lb)
    if etcdctl_local and local_certs:
        etcd = Etcdctl(etcdctl_local, tuple(endpoints.values()), *local_certs)
    else:
        etcd = Etcdctl("etcdctl", tuple(endpoints.values()), *node_certs, runner=etcd_runner(on_node, cps))
    return Cluster(
        backend="kind",
        control_planes=cps,
        runtime=runtime,
        kubelets=SystemdKubelet(access),  # systemd runs the kubelet inside each node container
        etcdctl_on_node=on_node,
        etcd=etcd,
        etcd_endpoint_of=endpoints,
        apiserver_of={n: f"https://{ips[n]}:6443" for n in cps},
        address_of={n: ips[n] for n in cps},
        # kind's load balancer (one container, none in front of a single control plane): cut by a partition too,
        # or an isolated node's API server stays in rotation through it; stopped by the lb-lost drill (a stopped
        # one has no address, and is still the one `kubedrill recover` starts)
        lb_addresses=[lb_address] if lb_address else [],
        load_balancers=kind_load_balancer(access, lb) if lb_address or kind_cli.container_exists(lb) else None,
        prometheus_url=prometheus_url,
        etcd_data=EtcdData(
            data_dir_of=dict.fromkeys(cps, "/var/lib/etcd"),  # kubeadm's hostPath
            etcdutl="/usr/local/bin/kubedrill-etcdutl",
            etcdutl_upload=etcdutl_local,
            snapshot_dir="/var/lib/etcd-snapshots",  # outside /var/lib/etcd, which a restore moves aside
        ),
        # Every node's kubelet is restarted after a restore, workers' too (a kubelet caches pods newer than the
        # snapshot); while the API is down (kubedrill recover) only the remembered control planes are known.
        kubelet_nodes=sorted(ips),
        etcd_certs_local=local_certs is not None,
        etcd_node_certs=node_certs if local_certs else None,
        **base,
    )


def _copy_certs(
    access: DockerExecAccess, nodes: list[str], certs: tuple[Path, Path, Path], context: str
) -> tuple[Path, Path, Path] | None:
    """The etcd client certificates, copied from the first node that answers into a directory only this user
    reads (kubedrill's state, per context); None when no node answers."""
    directory = paths.state_home() / "kind" / context / "etcd-pki"
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for node in nodes:
        try:
            for cert in certs:
                access.copy_from(node, str(cert), str(directory / cert.name))
        except BackendError:
            continue
        return (directory / certs[0].name, directory / certs[1].name, directory / certs[2].name)
    return None


def pinned_known_hosts(inv: Inventory) -> Path:
    """Where the host keys the inventory pins are written for ssh: one file per set of pins."""
    pins = "\n".join(sorted(f"{h.address}:{h.port} {h.host_key}" for h in inv.every_host.values() if h.host_key))
    return paths.state_home() / "ssh" / f"pinned-{hashlib.sha256(pins.encode()).hexdigest()[:12]}.known_hosts"


def _ssh(
    inv: Inventory,
    prometheus_url: str | None,
    base: dict[str, Any],
    etcdctl_local: str | None = None,
    etcdutl_local: str | None = None,
) -> Cluster:
    """Real hosts from the inventory: ssh access, its runtime, etcdctl where etcd runs (kubedrill's build
    uploaded to hosts that have none)."""
    ssh = SshAccess(inv.every_host, known_hosts=inv.known_hosts, pinned_known_hosts=str(pinned_known_hosts(inv)))
    runtime: ComponentRuntime
    if inv.runtime == "static-pod":
        runtime = StaticPodRuntime(ssh)
    elif inv.runtime == "systemd":
        runtime = SystemdRuntime(ssh, units={**DEFAULT_UNITS, **inv.units})
    else:
        runtime = SupervisorRuntime(ssh, Path(str(inv.supervisor_run_dir)))
    etcdctl = HostTool("etcdctl", inv.etcdctl, etcdctl_local, ssh)
    etcdutl = HostTool("etcdutl", inv.etcdutl, etcdutl_local, ssh)
    # etcdctl and its certificates are the inventory's, on the hosts
    on_node = etcdctl.command(on_the_node(ssh, unset=ETCDCTL_ENV))
    return Cluster(
        backend="ssh",
        control_planes=sorted(inv.hosts),
        runtime=runtime,
        etcdctl_on_node=on_node,
        etcd=Etcdctl(
            binary=inv.etcdctl,
            endpoints=tuple(inv.etcd_endpoints.values()),
            cacert=Path(inv.etcd_cacert),
            cert=Path(inv.etcd_cert),
            key=Path(inv.etcd_key),
            runner=etcd_runner(on_node, list(inv.etcd_endpoints)),
        ),
        etcd_endpoint_of=dict(inv.etcd_endpoints),
        apiserver_of={n: f"https://{h.address}:6443" for n, h in inv.hosts.items()},
        address_of={n: h.address for n, h in inv.hosts.items()},
        lb_addresses=list(inv.lb_addresses),
        prometheus_url=prometheus_url,
        prom_targets=inv.prometheus,
        etcd_data=EtcdData(
            data_dir_of=dict.fromkeys(inv.etcd_endpoints, inv.etcd_data_dir),
            etcdutl=inv.etcdutl,
            owner=inv.etcd_owner,
            etcdutl_on_hosts=etcdutl,
        ),
        host_tools=[etcdctl, etcdutl],
        # The kubelets restarted after a restore: every host's, the workers' too (as on kind). Under kubedrill's
        # supervisor the runtime restarts the supervisor's KWOK, which a restore does not need, and cannot
        # reach a worker's systemd kubelet: none is restarted there.
        kubelet_nodes=sorted(inv.every_host) if inv.runtime != "supervisor" else [],
        # A worker's kubelet is the systemd unit on every install kubedrill knows (seed 003, kubeadm).
        kubelets=SystemdKubelet(ssh, unit=inv.units.get("kubelet", "kubelet"), nodes=frozenset(inv.workers))
        if inv.workers
        else None,
        **base,
    )
