"""``kubedrill up | down``: the embedded, docker-free HA cluster's lifecycle.

``up`` builds (or reuses) the binaries, creates the bridge and one network namespace per control-plane
node, writes certificates and configuration, starts the supervisor, waits until every part is ready
(:mod:`kubedrill.local.health`), and registers the nodes KWOK manages. ``down`` undoes every one of those
steps, also after a crash.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import stat
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kubedrill.backends import netns, shell
from kubedrill.backends.cluster import MARKER_CONFIGMAP, MARKER_NAMESPACE
from kubedrill.backends.embedded import (
    BRIDGE,
    MARKER_LABEL,
    NETNS_PREFIX,
    Layout,
    Ports,
    default_state_dir,
    write_json_atomic,
)
from kubedrill.backends.kube import Kube
from kubedrill.errors import ConfigError, LocalClusterError
from kubedrill.local import build, configs, pki
from kubedrill.local.build import Progress
from kubedrill.local.health import supervisor_pid, wait_nodes_ready, wait_ready
from kubedrill.local.supervisor import ComponentSpec

REQUIRED_TOOLS = ("ip", "unshare", "iptables", "haproxy", "prometheus")


# ---------------------------------------------------------------- preflight


def validate_shape(control_planes: int, workers: int, load_balancers: int = 1) -> None:
    if load_balancers not in (1, 2):
        raise ConfigError(
            "--load-balancers", "load-balancers", "1 (one HAProxy) or 2 (two behind a keepalived VIP)", load_balancers
        )
    if control_planes not in (1, 3, 5):
        raise ConfigError("--control-planes", "control-planes", "1, 3 or 5 (an odd etcd membership)", control_planes)
    if not 0 <= workers <= 50:
        raise ConfigError("--workers", "workers", "a number of KWOK worker nodes from 0 to 50", workers)


def _writable_by_others(path: Path) -> Path | None:
    """The first directory on ``path``'s way from / that a user other than root may change what is in it, as
    keepalived judges it (tried here: a 0777 directory disables the check script; a sticky 1777 one, like
    /tmp, does not), or None."""
    for d in [*reversed(path.parents), path]:
        if not d.exists():
            return None  # created by us, as root, from here down
        st = d.stat()
        if st.st_uid != 0 or (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            return d
    return None


def preflight(layout: Layout) -> None:
    """Everything that can be checked before touching the machine."""
    if os.geteuid() != 0:
        raise LocalClusterError("the embedded cluster needs root (network namespaces, bridges); run as root")
    missing = [t for t in (*REQUIRED_TOOLS, *(("keepalived",) if layout.lbs else ())) if shutil.which(t) is None]
    if missing:
        raise LocalClusterError(
            f"missing tools: {', '.join(missing)}; run 'make deps' "
            "(Debian: iproute2 util-linux iptables haproxy keepalived prometheus)"
        )
    if layout.lbs and (open_to := _writable_by_others(layout.state_dir)):
        raise LocalClusterError(
            f"{open_to} is writable by users other than root: keepalived (enable_script_security) would refuse "
            f"the HAProxy check kept under it, and the VIP would never fail over; pick a --state-dir that only "
            "root can write to, or tighten that directory's mode"
        )
    ports = layout.ports
    taken = [
        f"127.0.0.1:{p} ({what})"
        for what, p in (
            ("API via HAProxy", ports.api),
            ("Prometheus", ports.prometheus),
            ("KWOK", ports.kwok),
            ("kube-state-metrics", ports.ksm),
            ("kube-state-metrics telemetry", ports.ksm_telemetry),
            ("HAProxy stats", ports.haproxy_stats),
            *((f"{w}'s KWOK", layout.worker_kubelet_port(w)) for w in layout.workers_names),
        )
        if shell.port_in_use("127.0.0.1", p)
    ]
    if taken:
        raise LocalClusterError(
            f"ports already in use: {', '.join(taken)}; stop what listens there or pick other ports"
        )
    if netns.link_exists(BRIDGE) or netns.list_netns(NETNS_PREFIX):
        raise LocalClusterError(
            f"network leftovers ({BRIDGE} / {NETNS_PREFIX}* namespaces) from another cluster; run 'kubedrill down'"
        )


# ---------------------------------------------------------------- state


def is_up(state_dir: Path | None = None) -> bool:
    layout = Layout.load(state_dir)
    return layout is not None and supervisor_pid(layout) is not None


# ---------------------------------------------------------------- up


def _write_pki(layout: Layout) -> None:
    d = layout.pki
    etcd_ca = pki.Authority.create(d / "etcd", "ca", "etcd-ca")
    for node in layout.nodes:
        ip = layout.node_ip(node)
        names = ("localhost", node)
        etcd_ca.issue(d / "etcd" / f"server-{node}", node, server=True, client=True, dns=names, ips=(ip, "127.0.0.1"))
        etcd_ca.issue(d / "etcd" / f"peer-{node}", node, server=True, client=True, dns=names, ips=(ip, "127.0.0.1"))
    etcd_ca.issue(d / "etcd" / "healthcheck-client", "kube-etcd-healthcheck-client", client=True)
    etcd_ca.issue(d / "apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)

    ca = pki.Authority.create(d, "ca", "kubernetes")
    ips = ("127.0.0.1", configs.SERVICE_IP, layout.bridge_ip, *(layout.node_ip(n) for n in layout.nodes),
           *((layout.vip,) if layout.vip else ()))  # fmt: skip
    dns = (
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        *layout.nodes,
    )
    ca.issue(d / "apiserver", "kube-apiserver", server=True, dns=dns, ips=ips)
    # Serving certificates for controller-manager and scheduler, so their /healthz is checked with the CA
    # instead of without verification (kubeadm lets them self-sign; nothing else changes).
    for name in ("kube-controller-manager", "kube-scheduler"):
        ca.issue(d / f"{name}-server", name, server=True, dns=("localhost", *layout.nodes), ips=ips)
    ca.issue(d / "admin", "kubernetes-admin", org="system:masters", client=True)
    ca.issue(d / "controller-manager", "system:kube-controller-manager", client=True)
    ca.issue(d / "scheduler", "system:kube-scheduler", client=True)
    ca.issue(d / "kwok", "kwok-controller", org="system:masters", client=True)
    ca.issue(d / "kube-state-metrics", "kube-state-metrics", org="system:masters", client=True)
    ca.issue(d / "prometheus", "prometheus", org="system:monitoring", client=True)
    pki.service_account_keys(d)


def _write_kubeconfigs(layout: Layout) -> None:
    d = layout.pki
    ca = d / "ca.crt"
    layout.admin_kubeconfig.write_text(
        configs.kubeconfig(layout.api_url, ca, d / "admin.crt", d / "admin.key", "kubernetes-admin")
    )
    layout.admin_kubeconfig.chmod(0o600)
    for name in ("kwok", "kube-state-metrics"):
        path = layout.state_dir / f"{name}.conf"
        path.write_text(configs.kubeconfig(layout.api_url, ca, d / f"{name}.crt", d / f"{name}.key", name))
    for node in layout.nodes:
        # As kubeadm does: the node's controller-manager and scheduler talk to the node's own API server.
        server = layout.apiserver_url(node)
        for name in ("controller-manager", "scheduler"):
            path = layout.node_dir(node) / f"{name}.conf"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(configs.kubeconfig(server, ca, d / f"{name}.crt", d / f"{name}.key", f"system:kube-{name}"))


def component_specs(layout: Layout, bins: dict[str, Path]) -> list[ComponentSpec]:
    specs = []
    for node in layout.nodes:
        for component, argv in (
            ("etcd", configs.etcd_argv(layout, node, bins["etcd"])),
            ("kube-apiserver", configs.apiserver_argv(layout, node, bins["kube-apiserver"])),
            ("kube-controller-manager", configs.controller_manager_argv(layout, node, bins["kube-controller-manager"])),
            ("kube-scheduler", configs.scheduler_argv(layout, node, bins["kube-scheduler"])),
        ):
            specs.append(ComponentSpec(layout.component(component, node), configs.on_node(layout, node, argv)))
    sd = layout.state_dir
    stages = bins["kwok"].parent / "assets" / "kustomize" / "stage"
    stage_files = [
        stages / "node/fast/node-initialize.yaml",
        stages / "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
        stages / "pod/fast/pod-ready.yaml",
        stages / "pod/fast/pod-complete.yaml",
        stages / "pod/fast/pod-delete.yaml",
    ]
    # KWOK plays the kubelets: one process for the control-plane nodes (picked by their annotation), and one per
    # worker, so that one worker's kubelet can stop (the node-lost drill) while every other node keeps going.
    # Each its own pod CIDR, as each kubelet has its node's podCIDR: pod IPs never repeat across nodes.
    kwok_argv = [str(bins["kwok"]), f"--kubeconfig={sd / 'kwok.conf'}", *(f"--config={f}" for f in stage_files),
                 "--node-lease-duration-seconds=40"]  # fmt: skip
    specs += [
        ComponentSpec(
            layout.component("kubelet", w),
            [
                *kwok_argv,
                f"--manage-single-node={w}",
                f"--server-address=127.0.0.1:{layout.worker_kubelet_port(w)}",
                f"--cidr=10.244.{i}.0/24",
            ],
        )
        for i, w in enumerate(layout.workers_names, start=1)
    ]
    for lb in layout.lbs:  # the VIP shape: HAProxy and keepalived in each load balancer's namespace
        specs += [
            ComponentSpec(
                layout.component("haproxy", lb),
                configs.on_node(layout, lb, ["haproxy", "-db", "-f", str(sd / f"haproxy-{lb}.cfg")]),
            ),
            ComponentSpec(
                layout.component("keepalived", lb), configs.on_node(layout, lb, configs.keepalived_argv(layout, lb))
            ),
        ]
    single = [] if layout.lbs else [ComponentSpec("haproxy", ["haproxy", "-db", "-f", str(sd / "haproxy.cfg")])]
    specs += [
        *single,
        ComponentSpec(
            "prometheus",
            [
                "prometheus",
                f"--config.file={sd / 'prometheus.yml'}",
                f"--storage.tsdb.path={sd / 'prometheus'}",
                "--storage.tsdb.retention.time=2d",
                f"--web.listen-address=127.0.0.1:{layout.ports.prometheus}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
        ),
        ComponentSpec(
            "kwok",
            [
                *kwok_argv,
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--server-address=127.0.0.1:{layout.ports.kwok}",
                "--cidr=10.244.0.0/24",
            ],
        ),
        ComponentSpec(
            "kube-state-metrics",
            [
                str(bins["kube-state-metrics"]),
                f"--kubeconfig={sd / 'kube-state-metrics.conf'}",
                "--host=127.0.0.1",
                f"--port={layout.ports.ksm}",
                "--telemetry-host=127.0.0.1",
                f"--telemetry-port={layout.ports.ksm_telemetry}",
                "--resources=nodes,pods,deployments,replicasets,poddisruptionbudgets,leases,namespaces",
            ],
        ),
    ]
    return specs


def _start_supervisor(layout: Layout) -> None:
    argv = [sys.executable, "-m", "kubedrill.local.supervisor", str(layout.state_dir)]
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    shell.spawn(argv, log_path=layout.log_file("supervisor"), env=env)


def up(
    control_planes: int = 3,
    workers: int = 3,
    state_dir: Path | None = None,
    progress: Progress = print,
    ports: Ports | None = None,
    load_balancers: int = 1,
) -> Layout:
    """Start the embedded cluster and return its layout once every part is ready."""
    validate_shape(control_planes, workers, load_balancers)
    state_dir = state_dir or default_state_dir()
    existing = Layout.load(state_dir)
    if existing is not None:
        if supervisor_pid(existing) is not None:
            raise LocalClusterError(
                f"the embedded cluster is already up ({existing.control_planes} control planes, state in "
                f"{state_dir}); 'kubedrill status' shows it, 'kubedrill down' stops it"
            )
        progress(f"found a stale cluster in {state_dir} (its supervisor is gone): cleaning it up first")
        down(state_dir, progress)
    layout = Layout(
        state_dir=state_dir,
        control_planes=control_planes,
        workers=workers,
        load_balancers=load_balancers,
        ports=ports or Ports(),
        cluster_token=f"kubedrill-{secrets.token_hex(4)}",
    )
    preflight(layout)
    bins = build.ensure_binaries(lambda m: progress(f"build: {m}"))
    start = time.monotonic()
    try:
        _create(layout, bins, progress)
        wait_ready(layout, progress)
        _register_nodes(layout)
        wait_nodes_ready(layout)
    except BaseException:
        kept = state_dir.parent / f"{state_dir.name}-failed-logs"
        shutil.rmtree(kept, ignore_errors=True)
        if layout.logs_dir.exists():
            shutil.copytree(layout.logs_dir, kept)
        progress(f"start-up failed: removing everything that was created (component logs kept in {kept})")
        down(state_dir, progress)
        raise
    progress(f"embedded cluster ready in {time.monotonic() - start:.1f} s")
    return layout


def _create(layout: Layout, bins: dict[str, Path], progress: Progress) -> None:
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    layout.save()  # first, so 'down' can clean up whatever follows
    for node in layout.nodes:
        layout.etcd_data_dir(node).mkdir(parents=True, exist_ok=True)
        layout.etcd_data_dir(node).chmod(0o700)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    progress(f"network: bridge {BRIDGE} {layout.bridge_ip}/24, namespaces {', '.join(map(layout.netns, layout.nodes))}")
    netns.create_bridge(BRIDGE, f"{layout.bridge_ip}/24")
    for node in layout.nodes:
        netns.create_node(
            layout.netns(node), BRIDGE, f"{layout.node_ip(node)}/24", layout.bridge_ip, f"{layout.netns(node)}-h"
        )
    check = layout.state_dir / "haproxy-serves.sh"
    if layout.lbs:
        check.write_text(configs.haproxy_check_script(layout, sys.executable))
        check.chmod(0o755)
    for lb in layout.lbs:
        netns.create_node(layout.netns(lb), BRIDGE, f"{layout.lb_ip(lb)}/24", layout.bridge_ip, f"{layout.netns(lb)}-h")
        (layout.state_dir / f"haproxy-{lb}.cfg").write_text(configs.haproxy_cfg(layout, lb))
        (layout.state_dir / f"keepalived-{lb}.conf").write_text(configs.keepalived_conf(layout, lb, check))
    _write_pki(layout)
    _write_kubeconfigs(layout)
    if not layout.lbs:  # the VIP shape has haproxy-lb-N.cfg instead
        (layout.state_dir / "haproxy.cfg").write_text(configs.haproxy_cfg(layout))
    rules = layout.state_dir / "rules.yml"
    shutil.copyfile(Path(__file__).parent / "rules.yml", rules)
    (layout.state_dir / "prometheus.yml").write_text(configs.prometheus_yml(layout, rules))
    write_json_atomic(layout.binaries_file, {name: str(path) for name, path in bins.items()})
    write_json_atomic(layout.spec_file, [asdict(s) for s in component_specs(layout, bins)])
    progress(f"starting {len(layout.components)} components under the supervisor")
    _start_supervisor(layout)


def worker_node_body(layout: Layout, name: str, control_plane: bool) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        MARKER_LABEL: "true",
    }
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    addresses = [{"type": "Hostname", "address": name}]
    if control_plane:
        addresses.insert(0, {"type": "InternalIP", "address": layout.node_ip(name)})
    return {
        "labels": labels,
        # "fake": the shared KWOK plays this node's kubelet; a worker's is its own process (--manage-single-node).
        "annotations": {"kwok.x-k8s.io/node": "fake" if control_plane else "own", "node.alpha.kubernetes.io/ttl": "0"},
        "status": {
            "addresses": addresses,
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        },
        "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}] if control_plane else [],
    }


def _register_nodes(layout: Layout) -> None:
    """Register control-plane and worker Nodes; KWOK plays their kubelets (heartbeats, pod status)."""
    kube = Kube(layout.admin_kubeconfig)
    try:
        for name, cp in [(n, True) for n in layout.nodes] + [(w, False) for w in layout.workers_names]:
            body = worker_node_body(layout, name, cp)
            kube.create_node(name, body["labels"], body["annotations"], body["status"], taints=body["taints"])
        kube.apply_configmap(
            MARKER_NAMESPACE,
            MARKER_CONFIGMAP,
            {
                "stateDir": str(layout.state_dir),
                "controlPlanes": str(layout.control_planes),
                "workers": str(layout.workers),
            },
        )
    finally:
        kube.close()


# ---------------------------------------------------------------- down


def down(state_dir: Path | None = None, progress: Progress = print) -> list[str]:
    """Stop every process and remove every namespace, link and file the cluster made. Idempotent."""
    state_dir = state_dir or default_state_dir()
    layout = Layout.load(state_dir)
    removed: list[str] = []
    if layout is not None:
        sup = supervisor_pid(layout)
        if sup is not None:
            shell.kill_pid(sup, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while shell.pid_alive(sup) and time.monotonic() < deadline:
                time.sleep(0.1)
            removed.append(f"supervisor {sup}")
    # Components outlive a SIGKILLed supervisor: find them by the state dir in their command line.
    leftovers = shell.processes_mentioning(str(state_dir))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in leftovers:
            shell.kill_pid(pid, sig)
        deadline = time.monotonic() + 5
        while any(shell.pid_alive(p) for p in leftovers) and time.monotonic() < deadline:
            time.sleep(0.1)
        leftovers = [p for p in leftovers if shell.pid_alive(p)]
        if not leftovers:
            break
    for ns in netns.list_netns(NETNS_PREFIX):
        netns.delete_netns(ns)
        removed.append(f"netns {ns}")
    for link in (BRIDGE,):
        if netns.link_exists(link):
            netns.delete_link(link)
            removed.append(f"link {link}")
    if state_dir.exists():
        shutil.rmtree(state_dir)
        removed.append(f"state {state_dir}")
    if removed:
        progress("removed: " + ", ".join(removed))
    return removed
