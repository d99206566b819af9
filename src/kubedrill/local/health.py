"""The embedded cluster's health: is each component healthy, is etcd whole, are Prometheus' targets
up (``kubedrill status``), and the waits ``kubedrill up`` and the tests make until they are."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubedrill.backends import http, shell
from kubedrill.backends.embedded import (
    HOST_COMPONENTS,
    ComponentStatus,
    Layout,
    default_state_dir,
    etcdctl,
    read_status,
)
from kubedrill.backends.kube import Kube
from kubedrill.backends.prom import Prometheus, Target
from kubedrill.errors import BackendError, LocalClusterError
from kubedrill.local.build import Progress
from kubedrill.waiting import wait_until

READY_TIMEOUT_S = 180.0


def supervisor_pid(layout: Layout) -> int | None:
    try:
        pid = int(json.loads(layout.supervisor_pid_file.read_text()))
    except (OSError, ValueError):
        return None
    return pid if shell.pid_alive(pid) else None


# ---------------------------------------------------------------- readiness


def wait_ready(layout: Layout, progress: Progress, timeout_s: float = READY_TIMEOUT_S) -> None:
    def unhealthy() -> list[str]:
        return [c.name for c in check_components(layout) if not c.healthy]

    progress("waiting for every component to be healthy")
    wait_until(
        "every component healthy",
        unhealthy,
        lambda bad: not bad,
        timeout_s=timeout_s,
        interval_s=0.3,
        describe=lambda bad: f"not healthy yet: {', '.join(bad)}",
    )


def wait_nodes_ready(layout: Layout, timeout_s: float = 60.0) -> None:
    expected = layout.control_planes + layout.workers
    kube = Kube(layout.admin_kubeconfig)
    try:
        wait_until(
            f"{expected} Ready nodes",
            lambda: [n.name for n in kube.nodes() if n.ready],
            lambda ready: len(ready) >= expected,
            timeout_s=timeout_s,
            describe=lambda ready: f"Ready: {sorted(ready)}",
        )
    finally:
        kube.close()


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    node: str  # cp-N, or "host"
    pid: int | None
    state: str
    restarts: int
    healthy: bool
    detail: str


def _health_check(layout: Layout, component: str) -> http.Check:
    pki_dir = layout.pki
    ports = layout.ports
    if component in HOST_COMPONENTS:
        url = {
            "haproxy": f"http://127.0.0.1:{ports.haproxy_stats}/healthz",
            "prometheus": f"http://127.0.0.1:{ports.prometheus}/-/ready",
            "kwok": f"http://127.0.0.1:{ports.kwok}/healthz",
            "kube-state-metrics": f"http://127.0.0.1:{ports.ksm}/healthz",
        }[component]
        if component == "haproxy":
            # HAProxy is healthy when it serves the API: /readyz through the frontend.
            return http.get(f"{layout.api_url}/readyz", ca=pki_dir / "ca.crt")
        return http.get(url)
    what, node = layout.split_component(component)
    if what == "haproxy":  # on lb-N: its own monitor URI, on its address
        return http.get(layout.haproxy_monitor_urls[node])
    if what == "keepalived":  # keepalived is healthy when the VIP it keeps serves the API
        return http.get(f"{layout.api_url}/readyz", ca=pki_dir / "ca.crt")
    if what == "kubelet":  # a worker's own KWOK
        return http.get(f"http://127.0.0.1:{layout.worker_kubelet_port(node)}/healthz")
    ip = layout.node_ip(node)
    if what == "etcd":
        return http.get(
            f"https://{ip}:2379/health",
            ca=layout.etcd_ca,
            cert=(layout.etcd_client_cert, layout.etcd_client_key),
        )
    if what == "kube-apiserver":
        return http.get(f"https://{ip}:6443/readyz", ca=pki_dir / "ca.crt")
    port = 10257 if what == "kube-controller-manager" else 10259
    return http.get(f"https://{ip}:{port}/healthz", ca=pki_dir / "ca.crt")


def check_components(layout: Layout) -> list[ComponentHealth]:
    names = layout.components
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        checks = list(pool.map(lambda n: _health_check(layout, n), names))
    out = []
    for name, check in zip(names, checks, strict=True):
        st = read_status(layout, name) or ComponentStatus(name, None, "unknown", 0, None)
        alive = st.pid is not None and shell.pid_alive(st.pid)
        out.append(
            ComponentHealth(
                name=name,
                node=layout.split_component(name)[1],
                pid=st.pid if alive else None,
                state=st.state if alive or st.state != "running" else "exited",
                restarts=st.restarts,
                healthy=alive and check.ok,
                detail=check.detail,
            )
        )
    return out


@dataclass
class ClusterStatus:
    up: bool
    state_dir: str
    control_planes: int = 0
    workers: int = 0
    api_url: str = ""
    prometheus_url: str = ""
    supervisor_pid: int | None = None
    components: list[ComponentHealth] = field(default_factory=list)
    etcd_members: list[dict[str, Any]] = field(default_factory=list)
    etcd_leader: str | None = None
    prometheus_targets: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.up and not self.problems

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


def status(state_dir: Path | None = None) -> ClusterStatus:
    state_dir = state_dir or default_state_dir()
    layout = Layout.load(state_dir)
    if layout is None:
        return ClusterStatus(up=False, state_dir=str(state_dir), problems=["no embedded cluster: run 'kubedrill up'"])
    sup = supervisor_pid(layout)
    st = ClusterStatus(
        up=sup is not None,
        state_dir=str(state_dir),
        control_planes=layout.control_planes,
        workers=layout.workers,
        api_url=layout.api_url,
        prometheus_url=layout.prometheus_url,
        supervisor_pid=sup,
    )
    if sup is None:
        st.problems.append("the supervisor is not running (stale state): run 'kubedrill down' or 'kubedrill up'")
    st.components = check_components(layout)
    st.problems += [f"{c.name} unhealthy: {c.detail}" for c in st.components if not c.healthy]
    try:
        statuses = etcdctl(layout).endpoint_status()
        by_id = {s.member_id: s for s in statuses}
        for s in statuses:
            node = layout.node_of_ip(s.endpoint.split("//")[-1].split(":")[0]) or s.endpoint
            st.etcd_members.append(
                {
                    "name": node,
                    "endpoint": s.endpoint,
                    "id": s.member_id,
                    "leader": s.is_leader,
                    "revision": s.revision,
                    "raft_term": s.raft_term,
                }
            )
            if s.is_leader:
                st.etcd_leader = node
        leaders = {s.leader_id for s in statuses}
        if len(statuses) < layout.control_planes:
            st.problems.append(f"etcd: {len(statuses)} of {layout.control_planes} members answered")
        if len(leaders) != 1 or next(iter(leaders)) not in by_id:
            st.problems.append(f"etcd: members disagree on or lack a leader: {sorted(leaders)}")
    except (BackendError, LocalClusterError) as e:
        st.problems.append(f"etcd: {e}")
    prom = Prometheus(layout.prometheus_url, timeout_s=3)
    try:
        targets = prom.targets()
        st.prometheus_targets = [{"job": t.job, "instance": t.instance, "health": t.health} for t in targets]
        st.problems += [f"Prometheus target {t.job}/{t.instance} is {t.health}" for t in targets if t.health != "up"]
    except BackendError as e:
        st.problems.append(f"prometheus: {e}")
    finally:
        prom.close()
    return st


# ---------------------------------------------------------------- Prometheus targets


def all_up(targets: list[Target]) -> bool:
    return bool(targets) and all(t.health == "up" for t in targets)


def wait_targets(
    url: str,
    complete: Callable[[list[Target]], bool] = all_up,
    what: str = "every Prometheus target up",
    timeout_s: float = 60.0,
    interval_s: float = 0.5,
) -> None:
    """Wait until Prometheus at ``url`` reports its scrape targets ``complete``; the error names each one."""
    prom = Prometheus(url, timeout_s=3)
    try:
        wait_until(
            what,
            prom.targets,
            complete,
            timeout_s=timeout_s,
            interval_s=interval_s,
            describe=lambda ts: (
                ", ".join(f"{t.job}/{t.instance}={t.health} {t.last_error}".strip() for t in ts) or "no targets"
            ),
        )
    finally:
        prom.close()


def wait_prometheus_targets_up(layout: Layout, timeout_s: float = 60.0) -> None:
    wait_targets(layout.prometheus_url, timeout_s=timeout_s)
