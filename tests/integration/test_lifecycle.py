"""up/down/crash recovery and bad input. Runs last: it stops and reshapes the shared cluster."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest

from kubedrill.backends import netns, shell
from kubedrill.backends.embedded import BRIDGE, NETNS_PREFIX, Layout, default_state_dir, etcdctl
from kubedrill.backends.kube import Kube
from kubedrill.local import health, lifecycle

from .conftest import ensure_cluster, kubedrill
from .test_etcd_drills import drills

pytestmark = pytest.mark.integration


def leftovers(state_dir: Path) -> list[str]:
    found = [f"process {p}" for p in shell.processes_mentioning(str(state_dir))]
    found += [f"netns {n}" for n in netns.list_netns(NETNS_PREFIX)]
    if netns.link_exists(BRIDGE):
        found.append(f"link {BRIDGE}")
    if state_dir.exists():
        found.append(f"dir {state_dir}")
    return found


def test_up_after_a_crash_cleans_the_stale_state_and_starts(cluster_was_up: bool) -> None:
    layout = ensure_cluster()
    sup = health.supervisor_pid(layout)
    assert sup is not None
    shell.kill_pid(sup, signal.SIGKILL)  # the supervisor dies; its components keep running, orphaned
    proc = kubedrill("up", "--no-wait-prometheus")
    assert proc.returncode == 0, proc.stderr
    assert "stale" in proc.stdout
    assert lifecycle.is_up()
    fresh = Layout.load()
    assert fresh is not None
    assert health.supervisor_pid(fresh) not in (None, sup)


def test_down_leaves_no_process_namespace_link_or_file(cluster_was_up: bool) -> None:
    ensure_cluster()
    kubedrill("down", check=True)
    assert leftovers(default_state_dir()) == []
    again = kubedrill("down", check=True)  # idempotent
    assert "nothing to remove" in again.stdout


def test_a_taken_port_is_a_clear_error_and_nothing_is_left_half_started(cluster_was_up: bool) -> None:
    kubedrill("down", check=True)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 9090))
        s.listen()
        proc = kubedrill("up")
    assert proc.returncode == 2
    assert "127.0.0.1:9090 (Prometheus)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert leftovers(default_state_dir()) == []


def test_a_single_control_plane_cluster_works(cluster_was_up: bool, tmp_path: Path) -> None:
    layout = ensure_cluster(control_planes=1, workers=1)
    kube = Kube(layout.admin_kubeconfig)
    try:
        ready = sorted(n.name for n in kube.nodes() if n.ready)
    finally:
        kube.close()
    assert ready == ["cp-1", "worker-1"]
    statuses = etcdctl(layout).endpoint_status()
    assert len(statuses) == 1
    assert statuses[0].is_leader
    # Drills that need a follower skip, saying why; killing the only API server is refused by the quorum
    # guard (1 of 1 down is more than (N-1)/2 = 0) before anything is touched.
    skipped = drills(tmp_path, "-m", "etcd and not dr")
    assert skipped.returncode == 0, skipped.stdout[-3000:]
    # pytest groups equal skip reasons: the leader-move, leader-kill and follower-kill drills
    assert re.search(
        r"SKIPPED \[3\] .*needs ≥ 3 control-plane nodes \(etcd members\), the cluster has 1", skipped.stdout
    )
    refused = drills(tmp_path, "-k", "one_api_server_is_killed")
    assert refused.returncode == 1, refused.stdout[-3000:]
    assert "quorum guard: refusing kill kube-apiserver on cp-1: it would take down 1 of 1 kube-apiserver" in (
        refused.stdout
    )
    kubedrill("down", check=True)
    assert leftovers(default_state_dir()) == []
