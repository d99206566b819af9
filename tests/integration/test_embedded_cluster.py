"""The embedded cluster is a real HA control plane: API, scheduling, etcd, Prometheus, supervisor."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pytest

from kubedrill.backends import etcd_http, shell
from kubedrill.backends.cluster import detect
from kubedrill.backends.embedded import Layout, etcdctl, read_status
from kubedrill.backends.kube import Kube
from kubedrill.backends.prom import Prometheus
from kubedrill.backends.workloads import Workloads
from kubedrill.local import health
from kubedrill.probes import etcd as etcd_probe
from kubedrill.waiting import wait_until

from .conftest import fail_open_backups, kubedrill

pytestmark = pytest.mark.integration


def test_api_through_haproxy_lists_every_node_ready(embedded: Layout) -> None:
    kube = Kube(embedded.admin_kubeconfig)
    try:
        assert kube.server == embedded.api_url  # users go through HAProxy
        nodes = kube.nodes()
    finally:
        kube.close()
    ready = sorted(n.name for n in nodes if n.ready)
    assert ready == sorted(embedded.nodes + embedded.workers_names)
    assert kube.server.endswith(f":{embedded.ports.api}")
    # and HAProxy fails open: every API server also an unchecked backup, in rotation should every check fail
    backups = fail_open_backups(f"http://127.0.0.1:{embedded.ports.haproxy_stats}/stats")
    assert backups == {f"{n}-failopen": "no check" for n in embedded.nodes}


def test_deployment_with_pdb_becomes_available_on_kwok_workers(embedded: Layout) -> None:
    kube = Kube(embedded.admin_kubeconfig)
    w = Workloads(kube)
    ns = f"kd-it-{uuid.uuid4().hex[:6]}"
    labels = {"app": "canary"}
    try:
        w.create_namespace(ns, {"kubedrill.io/test": "true"})
        w.create_deployment(ns, "canary", 3, labels, {"type": "kwok"})
        w.create_pdb(ns, "canary", 2, labels)
        state = wait_until(
            "canary available",
            lambda: w.deployment(ns, "canary"),
            lambda s: s.available == 3,
            timeout_s=60,
        )
        assert state.available == 3
        pods = w.pods(ns, "app=canary")
        assert len(pods) == 3
        assert all(p.ready and p.phase == "Running" for p in pods)
        assert {p.node for p in pods} <= set(embedded.workers_names), "pods must be bound to KWOK worker nodes"
    finally:
        w.delete_namespace(ns)
        kube.close()


def test_etcd_reports_every_member_and_exactly_one_leader(embedded: Layout) -> None:
    ctl = etcdctl(embedded)
    members = ctl.member_list()
    assert sorted(m.name for m in members) == embedded.nodes
    statuses = ctl.endpoint_status()
    assert len(statuses) == 3
    assert len({s.leader_id for s in statuses}) == 1
    assert sum(s.is_leader for s in statuses) == 1


def test_the_leader_watcher_names_the_leader_without_waiting_for_a_member_that_does_not_answer(
    embedded: Layout,
) -> None:
    """A member that accepts connections but does not answer (frozen with SIGSTOP here; one restarting after a
    kill does the same for up to the read timeout) is left out of the watcher's reading rather than holding it
    up: the leader is named by the majority within the reading's 80 ms, not after the frozen member's timeout."""
    cluster = detect(str(embedded.admin_kubeconfig), None)
    http = cluster.etcd_status_http()
    assert http is not None, "the embedded cluster's etcd client certificates are on this machine"
    leader = etcd_probe.leader_now(cluster, http)
    assert leader[0] is not None, "a leader before the freeze"
    follower = next(n for n in embedded.nodes if n != leader[0])
    pid = read_status(embedded, embedded.component("etcd", follower)).pid  # type: ignore[union-attr]
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        readings = []
        for _ in range(5):
            started = time.monotonic()
            readings.append((etcd_probe.leader_now(cluster, http), time.monotonic() - started))
            time.sleep(0.1)
        unbounded = cluster.etcd_status_http()  # a reader of its own: no request of the frozen member in flight
        assert unbounded is not None
        waited_all = time.monotonic()
        answered = unbounded.endpoint_status()  # no wait_s: every member, the frozen one until its read timeout
        waited_all = time.monotonic() - waited_all
        unbounded.close()
    finally:
        os.kill(pid, signal.SIGCONT)
        http.close()
    assert all(named == leader for named, _ in readings), readings
    assert max(took for _, took in readings) < 0.2, readings
    assert follower not in {cluster.node_of_endpoint(s.endpoint) for s in answered}
    # A frozen member's kernel completes the TCP handshake; the TLS one waits out the connect timeout (0.3 s)
    timeout = min(etcd_http.CONNECT_TIMEOUT_S, etcd_http.READ_TIMEOUT_S)
    assert waited_all >= 0.9 * timeout, f"without a bound a reading waits out the frozen member ({waited_all:.3f} s)"


def test_prometheus_has_every_target_up_and_sees_an_etcd_leader(embedded: Layout) -> None:
    health.wait_prometheus_targets_up(embedded, timeout_s=60)
    prom = Prometheus(embedded.prometheus_url)
    try:
        jobs = {t.job for t in prom.targets()}
        assert jobs == {"etcd", "apiserver", "haproxy", "kwok", "kubelet", "kube-state-metrics"}
        samples = prom.query('etcd_server_has_leader{job="etcd"}')
        kubelets = prom.query('up{job="kubelet"}')  # each worker's own KWOK, by node
    finally:
        prom.close()
    assert sorted(s.labels["node"] for s in samples) == embedded.nodes
    assert all(s.value == 1 for s in samples)
    assert sorted((s.labels["node"], s.value) for s in kubelets) == [(w, 1) for w in embedded.workers_names]


def test_prometheus_has_the_seed_alert_rules_loaded_and_no_etcd_alert_active_when_healthy(embedded: Layout) -> None:
    """What a drill's must-fire alerts are read from: the rules as Prometheus loaded them, and its alerts."""
    prom = Prometheus(embedded.prometheus_url)
    try:
        rules = {r.name: r for r in prom.alerting_rules()}
        active = prom.alerts()
    finally:
        prom.close()
    assert {"EtcdClusterDown", "etcdNoLeader", "KubernetesNodeNotReady", "KubeAPIDown"} <= set(rules)
    assert (rules["etcdNoLeader"].for_s, rules["etcdNoLeader"].interval_s) == (60.0, 1.0)
    assert rules["EtcdClusterDown"].query == 'up{job="etcd"} == 0'
    # leader changes from earlier drills may make etcdHighNumberOfLeaderChanges pending; quorum is whole
    assert [a.name for a in active if a.name in ("EtcdClusterDown", "etcdNoLeader")] == []


def test_status_json_shows_healthy_components_members_and_targets(embedded: Layout) -> None:
    health.wait_prometheus_targets_up(embedded, timeout_s=60)
    proc = kubedrill("status", "--output", "json")
    data = json.loads(proc.stdout)
    assert proc.returncode == 0, data["problems"]
    assert data["healthy"] is True
    assert len(data["etcd_members"]) == 3
    assert sum(m["leader"] for m in data["etcd_members"]) == 1
    assert all(c["healthy"] and c["pid"] for c in data["components"])
    assert all(t["health"] == "up" for t in data["prometheus_targets"])


def test_killing_one_api_server_keeps_the_api_up_and_the_supervisor_restarts_it(embedded: Layout) -> None:
    name = embedded.component("kube-apiserver", "cp-2")
    before = read_status(embedded, name)
    assert before is not None
    assert before.pid is not None
    kube = Kube(embedded.admin_kubeconfig, timeout_s=2)
    failures: list[str] = []
    stop = threading.Event()

    def probe_through_haproxy() -> None:
        while not stop.is_set():
            try:
                kube.server_version()
            except Exception as e:
                failures.append(str(e))
            time.sleep(0.1)

    prober = threading.Thread(target=probe_through_haproxy)
    prober.start()
    try:
        assert shell.kill_pid(before.pid)
        after = wait_until(
            f"{name} restarted",
            lambda: read_status(embedded, name),
            lambda s: s is not None and s.pid not in (None, before.pid) and s.state == "running",
            timeout_s=30,
        )
        assert after is not None
        assert after.restarts == before.restarts + 1
        wait_until(
            f"{name} healthy",
            lambda: next(c for c in health.check_components(embedded) if c.name == name),
            lambda c: c.healthy,
            timeout_s=60,
        )
    finally:
        stop.set()
        prober.join()
        kube.close()
    # HAProxy's redispatch and health checks must hide one dead API server from users.
    assert len(failures) <= 2, f"{len(failures)} failed requests through HAProxy: {failures[:3]}"


def test_up_twice_says_it_is_already_up(embedded: Layout) -> None:
    proc = kubedrill("up")
    assert proc.returncode == 2
    assert "already up" in proc.stderr


def test_env_prints_kubeconfig_etcd_and_prometheus_exports(embedded: Layout) -> None:
    out = kubedrill("env", check=True).stdout
    assert f"export KUBECONFIG={embedded.admin_kubeconfig}" in out
    assert "ETCDCTL_ENDPOINTS=https://10.251.0.11:2379,https://10.251.0.12:2379,https://10.251.0.13:2379" in out
    assert f"KUBEDRILL_PROMETHEUS_URL={embedded.prometheus_url}" in out
