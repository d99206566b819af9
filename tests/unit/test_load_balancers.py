"""Which load balancer serves the API address and what stops its HAProxy, in each shape kubedrill knows
(pure: no command runs). The drills themselves run against the embedded cluster's HAProxies and kind's load
balancer container (tests/integration/test_load_balancer.py, test_kind_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from kubedrill.backends.access import HOST, DockerExecAccess
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.loadbalancers import HAPROXY, LoadBalancers, kind_load_balancer
from kubedrill.backends.runtimes import ContainerRuntime, StaticPodRuntime, SupervisorRuntime
from kubedrill.faults.components import StopComponent, runtime_of
from tests.fakes import RecordingAccess

LB = "kubedrill-external-load-balancer"


def cluster(runtime: StaticPodRuntime | SupervisorRuntime, lbs: LoadBalancers | None) -> Cluster:
    return Cluster(
        backend="kind",
        context="kind-kubedrill",
        server="https://127.0.0.1:6443",
        kubeconfig=None,
        control_planes=["cp-1"],
        runtime=runtime,
        load_balancers=lbs,
    )


def test_kinds_haproxy_is_stopped_by_its_container_and_everything_else_by_the_kubelet() -> None:
    docker = DockerExecAccess()
    kind = cluster(StaticPodRuntime(docker), kind_load_balancer(docker, LB))
    assert isinstance(runtime_of(kind, HAPROXY), ContainerRuntime)
    assert isinstance(runtime_of(kind, "etcd"), StaticPodRuntime)
    assert isinstance(runtime_of(kind), StaticPodRuntime)
    # what a dry run prints and `kubedrill recover` undoes: the container, not a static pod's manifest
    plan = StopComponent(kind, HAPROXY, LB).plan()
    assert plan.actions == [f"docker stop --time 0 {LB}"]
    assert plan.revert == [f"docker start {LB}"]


def test_the_embedded_clusters_haproxy_is_the_supervisors() -> None:
    node = RecordingAccess()
    supervised = SupervisorRuntime(node, run_dir=Path("/run/kubedrill"))
    embedded = cluster(supervised, LoadBalancers(node, (), None, {HOST: "http://127.0.0.1:8404/healthz"}))
    assert runtime_of(embedded, HAPROXY) is supervised
    assert node.calls == []


def test_a_single_haproxy_serves_from_where_it_runs_and_nothing_takes_over() -> None:
    docker = DockerExecAccess(docker="/nonexistent/docker")  # nothing here may run a command
    kind = kind_load_balancer(docker, LB)
    assert kind.nodes == [LB]
    assert kind.serving() == LB
    assert kind.holders() == []
    assert kind.describe() == f"a single HAProxy in the container {LB} (seed 004): nothing takes over when it stops"
    assert "the embedded cluster's 'kubedrill up --load-balancers 2'" in kind.vip_shape
    host = LoadBalancers(RecordingAccess(), (), None, {HOST: "http://127.0.0.1:8404/healthz"})
    assert host.nodes == [HOST]
    assert host.serving() == HOST
    assert host.describe() == "a single HAProxy on the host (seed 004): nothing takes over when it stops"


def test_kinds_haproxy_is_checked_at_the_containers_address_of_the_moment(tmp_path: Path) -> None:
    """A stopped container has no address and a started one gets one again from the engine: read on each look."""
    docker = tmp_path / "docker"
    docker.write_text('#!/bin/sh\ncat "$(dirname "$0")/address"\n')
    docker.chmod(0o755)
    lbs = kind_load_balancer(DockerExecAccess(docker=str(docker)), LB)
    (tmp_path / "address").write_text("172.18.0.9 \n")
    assert lbs.monitor_url(LB) == "http://172.18.0.9:8404/stats"
    (tmp_path / "address").write_text(" \n")  # stopped: docker inspect prints an empty address
    assert lbs.monitor_url(LB) is None
    assert lbs.haproxy_serves(LB) is False
    (tmp_path / "address").write_text("172.18.0.12 \n")
    assert lbs.monitor_url(LB) == "http://172.18.0.12:8404/stats"
