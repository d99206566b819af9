"""A Docker engine for kind on this kind of machine (`kubedrill engine up`), beside the embedded cluster.

Where no engine answers, kubedrill installs docker.io and starts dockerd with the runc wrapper, and
`--privileged` then works although the machine's bounding set lacks CAP_SYS_RESOURCE. The containers run
from an image built here (no registry is reachable): a static probe that prints its capabilities.
The engine must not break the embedded cluster (no FORWARD DROP), and `kubedrill engine down` must leave
no dockerd or containerd of kubedrill's.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubedrill.backends import kind_cli, runc_wrapper
from kubedrill.backends.embedded import Layout
from kubedrill.backends.kube import Kube
from kubedrill.local import engine

pytestmark = [pytest.mark.integration, pytest.mark.kind]

PROBE_C = r"""
#include <stdio.h>
#include <string.h>
int main(void) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "CapEff:", 7)) fputs(line, stdout);
    return 0;
}
"""
IMAGE = "kubedrill-probe:test"
# Docker 20.10 (Debian 12's) grants a privileged container the capabilities it knows: up to CAP_AUDIT_READ.
DOCKER_KNOWS = (1 << 38) - 1


def kubedrill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubedrill.cli", *args], capture_output=True, text=True, timeout=900, check=False
    )


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=check)


def engine_processes() -> list[str]:
    """dockerd, and the containerd a dockerd runs (its state under /var/run/docker), by command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("dockerd ") or "/var/run/docker/containerd" in cmdline:
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


@pytest.fixture(scope="module")
def started_engine(docker_engine: bool) -> Iterator[bool]:
    """The module's engine; the probe image is removed before the engine goes."""
    yield docker_engine
    docker("rmi", "-f", IMAGE, check=False)


@pytest.fixture(scope="module")
def probe_image(started_engine: bool, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image made here from one static binary (gcc -static), imported with `docker import`."""
    work = tmp_path_factory.mktemp("probe")
    (work / "probe.c").write_text(PROBE_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(work / "probe"), str(work / "probe.c")], check=True)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        tar.add(work / "probe", arcname="probe")
    subprocess.run(["docker", "import", "-", IMAGE], input=layer.getvalue(), capture_output=True, check=True)
    return IMAGE


def test_a_privileged_container_runs_with_every_capability_this_machine_has(
    started_engine: bool, probe_image: str
) -> None:
    privileged = docker("run", "--rm", "--privileged", probe_image, "/probe")
    with open("/proc/self/status") as f:
        bounding = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    effective = int(privileged.stdout.split()[1], 16)
    assert effective == int(bounding, 16) & DOCKER_KNOWS, "privileged: every capability this machine has"
    plain = int(docker("run", "--rm", probe_image, "/probe").stdout.split()[1], 16)
    assert plain & ~effective == 0, "unprivileged: within the privileged set"
    assert plain < effective, "unprivileged: Docker's default, smaller set"
    if started_engine and runc_wrapper.this_machines_missing():
        record = engine.started()
        assert record is not None
        assert record.runtime == engine.RUNTIME_NAME
        assert "CAP_SYS_RESOURCE" in record.missing_capabilities


def test_the_embedded_cluster_keeps_working_beside_the_engine(started_engine: bool, embedded: Layout) -> None:
    forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True).stdout
    assert forward.splitlines()[0] == "-P FORWARD ACCEPT", "dockerd must not set FORWARD to DROP"
    kube = Kube(str(embedded.admin_kubeconfig), None)
    try:
        assert len(kube.nodes()) == embedded.control_planes + embedded.workers
    finally:
        kube.close()
    # Node to node over the bridge (the path FORWARD would cut): each namespace opens the next one's etcd port.
    nodes = embedded.nodes
    for node, peer in zip(nodes, [*nodes[1:], nodes[0]], strict=True):
        connect = f"import socket; socket.create_connection(({embedded.node_ip(peer)!r}, 2379), 2).close()"
        reached = subprocess.run(
            ["ip", "netns", "exec", embedded.netns(node), sys.executable, "-c", connect],
            capture_output=True,
            check=False,
        )
        assert reached.returncode == 0, (
            f"{node} cannot reach etcd on {peer} with the engine running: {reached.stderr!r}"
        )


def test_engine_down_leaves_no_dockerd_or_containerd_of_kubedrills(started_engine: bool) -> None:
    if not started_engine:
        pytest.skip("an engine answered before: it is not kubedrill's to stop")
    docker("rmi", "-f", IMAGE, check=False)
    down = kubedrill("engine", "down")
    assert down.returncode == 0, down.stderr
    assert kind_cli.docker_engine_problem() is not None, "docker info still answers after engine down"
    assert engine_processes() == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "docker0" not in links, "dockerd left its default bridge behind"
    assert not (engine.state_dir() / "started.json").exists()
    again = kubedrill("engine", "down")
    assert again.returncode == 0
    assert "no dockerd of kubedrill's" in again.stdout
    assert os.path.exists(engine.state_dir() / "dockerd.log"), "the log stays, for whoever debugs it"
