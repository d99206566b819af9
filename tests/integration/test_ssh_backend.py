"""The ssh transport for real: Debian's sshd in every embedded node's namespace, an inventory describing
those nodes, and kubedrill reaching nodes, components and etcd only through ssh."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubedrill.backends.cluster import detect
from kubedrill.backends.embedded import Layout
from kubedrill.waiting import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ssh_inventory(embedded: Layout, tmp_path: Path) -> Iterator[Path]:
    """sshd on port 22 of each control-plane namespace, key-only root login, and the inventory file."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "id"], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "host"], check=True)
    (tmp_path / "authorized_keys").write_text((tmp_path / "id.pub").read_text())
    os.chmod(tmp_path / "authorized_keys", 0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    daemons = []
    logs = [open(tmp_path / f"{node}.log", "w") for node in embedded.nodes]  # noqa: SIM115 - closed below
    for node, log in zip(embedded.nodes, logs, strict=True):
        argv = [
            "ip", "netns", "exec", embedded.netns(node), "/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null",
            "-o", f"ListenAddress={embedded.node_ip(node)}", "-o", f"HostKey={tmp_path / 'host'}",
            "-o", f"AuthorizedKeysFile={tmp_path / 'authorized_keys'}", "-o", "PermitRootLogin=prohibit-password",
            "-o", "PasswordAuthentication=no", "-o", "StrictModes=no",
            "-o", "Subsystem=sftp internal-sftp", "-o", f"PidFile={tmp_path / f'{node}.pid'}",
        ]  # fmt: skip
        daemons.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log))
    inventory = {
        "nodes": {n: {"address": embedded.node_ip(n), "user": "root", "identity_file": str(tmp_path / "id")}
                  for n in embedded.nodes},
        "runtime": "supervisor",
        "supervisor_run_dir": str(embedded.run_dir),
        "known_hosts": str(tmp_path / "known_hosts"),
        "etcd": {
            "endpoints": {n: embedded.etcd_client_url(n) for n in embedded.nodes},
            "cacert": str(embedded.etcd_ca),
            "cert": str(embedded.etcd_client_cert),
            "key": str(embedded.etcd_client_key),
            "etcdctl": str(embedded.binary("etcdctl")),
        },
    }  # fmt: skip
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory))
    for node in embedded.nodes:
        wait_until(f"sshd on {node}", lambda n=node: accepts(embedded.node_ip(n), 22), bool, timeout_s=10)
    yield path
    for d in daemons:
        d.send_signal(signal.SIGTERM)
        d.wait(10)
    for log in logs:
        log.close()


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_ssh_reaches_each_node_its_components_and_etcd(embedded: Layout, ssh_inventory: Path) -> None:
    c = detect(str(embedded.admin_kubeconfig), None, backend="ssh", inventory=str(ssh_inventory))
    assert c.backend == "ssh"
    assert c.access is not None
    assert c.runtime is not None
    assert c.etcd is not None
    for node in embedded.nodes:
        out = c.access.run(node, ["ip", "-4", "-o", "addr", "show", "eth0"]).stdout
        assert embedded.node_ip(node) in out, f"ssh to {node} did not land in its namespace: {out}"
    statuses = c.etcd.endpoint_status()  # etcdctl run on a node, over ssh
    assert len(statuses) == 3
    assert sum(s.is_leader for s in statuses) == 1

    before = c.runtime.instance("kube-scheduler", "cp-3")
    assert before is not None
    killed = c.runtime.kill("kube-scheduler", "cp-3")
    assert killed.id == before.id
    after = wait_until(
        "kube-scheduler-cp-3 restarted with a new PID",
        lambda: c.runtime.instance("kube-scheduler", "cp-3") if c.runtime else None,
        lambda inst: inst is not None and inst.id != before.id,
        timeout_s=30,
    )
    assert after is not None
    assert after.id != before.id


def test_the_tracer_drill_runs_over_ssh(embedded: Layout, ssh_inventory: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KUBEDRILL_LEDGER": str(tmp_path / "ledger.jsonl"),
        "KUBECONFIG": str(embedded.admin_kubeconfig),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "drills/", "-m", "etcd", "-k", "etcd_leader_is_moved",
         "-p", "no:cacheprovider", "-v", "--backend", "ssh", "--inventory", str(ssh_inventory),
         "--prometheus-url", embedded.prometheus_url],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 passed" in proc.stdout


def test_a_bad_inventory_is_refused_before_anything_is_touched(embedded: Layout, tmp_path: Path) -> None:
    bad = tmp_path / "inventory.yaml"
    bad.write_text("nodes: {cp-1: {address: 10.251.0.11, port: twenty-two}}\nruntime: systemd\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "drills/", "-m", "etcd", "-p", "no:cacheprovider", "--inventory", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "KUBECONFIG": str(embedded.admin_kubeconfig)},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "nodes.cp-1.port: expected a TCP port from 1 to 65535, got 'twenty-two'" in proc.stdout + proc.stderr
