"""The ssh transport for real: Debian's sshd in every embedded node's namespace, an inventory describing
those nodes, and kubedrill reaching nodes, components and etcd only through ssh."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kubedrill.backends.access import SHARED_CONNECTIONS
from kubedrill.backends.cluster import detect
from kubedrill.backends.embedded import Layout
from kubedrill.errors import BackendError
from kubedrill.waiting import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def start_sshd(
    embedded: Layout, tmp_path: Path, host_key: Path, authorized_keys: Path
) -> list[subprocess.Popen[bytes]]:
    """sshd on port 22 of each control-plane namespace with ``host_key``, key-only login."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    daemons = []
    for node in embedded.nodes:
        argv = [
            "ip", "netns", "exec", embedded.netns(node), "/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null",
            "-o", f"ListenAddress={embedded.node_ip(node)}", "-o", f"HostKey={host_key}",
            "-o", f"AuthorizedKeysFile={authorized_keys}", "-o", "PermitRootLogin=prohibit-password",
            "-o", "PasswordAuthentication=no", "-o", "StrictModes=no",
            "-o", "Subsystem=sftp internal-sftp", "-o", f"PidFile={tmp_path / f'{node}.pid'}",
        ]  # fmt: skip
        with open(tmp_path / f"{node}.log", "a") as log:
            daemons.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log))
    for node in embedded.nodes:
        wait_until(f"sshd on {node}", lambda n=node: accepts(embedded.node_ip(n), 22), bool, timeout_s=10)
    return daemons


def stop_sshd(daemons: list[subprocess.Popen[bytes]], embedded: Layout) -> None:
    """sshd goes, and with it every session it served (a listener's SIGTERM spares them): what a host that is
    reinstalled or goes down does to kubedrill's shared connections."""
    for d in daemons:
        d.send_signal(signal.SIGTERM)
        d.wait(10)
    for node in embedded.nodes:
        pids = subprocess.run(["ip", "netns", "pids", embedded.netns(node)], capture_output=True, text=True).stdout
        for pid in pids.split():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().startswith("sshd"):  # sshd-session too
                    os.kill(int(pid), signal.SIGKILL)
    for node in embedded.nodes:
        wait_until(f"sshd on {node} stopped", lambda n=node: not accepts(embedded.node_ip(n), 22), bool, timeout_s=10)


def inventory_for(embedded: Layout, tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
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
        **extra,
    }  # fmt: skip


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)


@dataclass
class Sshd:
    host_key: Path
    daemons: list[subprocess.Popen[bytes]]
    authorized_keys: Path

    def public_key(self) -> str:
        """'ssh-ed25519 AAAA…', as an inventory pins it."""
        return " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])


@pytest.fixture
def sshd(embedded: Layout, tmp_path: Path) -> Iterator[Sshd]:
    """sshd in every node namespace, the client key authorized."""
    keygen(tmp_path / "id")
    keygen(tmp_path / "host")
    # sshd reads a user's authorized keys as that user: a directory non-root users can reach, not pytest's 0700.
    public = Path(tempfile.mkdtemp(prefix="kubedrill-sshd-"))
    public.chmod(0o755)
    authorized = public / "authorized_keys"
    authorized.write_text((tmp_path / "id.pub").read_text())
    authorized.chmod(0o644)
    running = Sshd(tmp_path / "host", start_sshd(embedded, tmp_path, tmp_path / "host", authorized), authorized)
    yield running
    stop_sshd(running.daemons, embedded)
    shutil.rmtree(public)


@pytest.fixture
def ssh_inventory(embedded: Layout, sshd: Sshd, tmp_path: Path) -> Path:
    """The inventory of the nodes behind ``sshd``: root, host keys trusted on first use."""
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(inventory_for(embedded, tmp_path)))
    return path


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_ssh_reaches_each_node_its_components_and_etcd(embedded: Layout, ssh_inventory: Path, tmp_path: Path) -> None:
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
    # Every command on cp-3 (its address, etcdctl, the kill, the polling for a new PID) went through one login.
    logins = (tmp_path / "cp-3.log").read_text().count("Accepted publickey")
    assert logins == 1, f"{logins} ssh logins to cp-3: commands did not share one connection"


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


@pytest.fixture
def ops_users() -> Iterator[tuple[str, str]]:
    """Two non-root users on this machine (so in every node namespace): one with passwordless sudo, one
    without. '*' as password: no password login, but not a locked account, which sshd would refuse."""
    users = ("kd-ops", "kd-nosudo")
    sudoers = Path("/etc/sudoers.d/kubedrill-test")
    for user in users:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", "-p", "*", user], check=True)
    sudoers.write_text(f"{users[0]} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    yield users
    SHARED_CONNECTIONS.close()  # a user still logged in (a shared connection) cannot be deleted
    sudoers.unlink()
    for user in users:
        subprocess.run(["userdel", user], check=True)


def test_a_non_root_user_reaches_root_through_sudo_for_commands_copies_and_kills(
    embedded: Layout, sshd: Sshd, ops_users: tuple[str, str], tmp_path: Path
) -> None:
    host_key = sshd.public_key()
    inventory = inventory_for(embedded, tmp_path, become=True)
    for spec in inventory["nodes"].values():  # type: ignore[attr-defined]
        spec.update(user=ops_users[0], host_key=host_key)
    del inventory["known_hosts"]  # pinned keys only
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    c = detect(str(embedded.admin_kubeconfig), None, backend="ssh", inventory=str(tmp_path / "inventory.yaml"))
    assert c.access is not None
    assert c.runtime is not None
    assert c.etcd is not None
    node = embedded.nodes[0]
    assert c.access.run(node, ["id", "-un"]).stdout.strip() == "root"
    # A root-only file out, and into a root-only directory, through the ssh user's temporary file.
    c.access.copy_from(node, str(embedded.etcd_client_key), str(tmp_path / "key"))
    assert (tmp_path / "key").read_bytes() == embedded.etcd_client_key.read_bytes()
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    c.access.copy_to(node, str(tmp_path / "key"), str(private / "key"))
    assert (private / "key").read_bytes() == embedded.etcd_client_key.read_bytes()
    assert not list(Path("/tmp").glob("kubedrill.*")), "a staging file was left behind"
    assert sum(s.is_leader for s in c.etcd.endpoint_status()) == 1  # etcdctl reads root's certificates
    before = c.runtime.instance("kube-scheduler", node)
    assert before is not None
    c.runtime.kill("kube-scheduler", node)
    after = wait_until(
        f"kube-scheduler-{node} restarted with a new PID",
        lambda: c.runtime.instance("kube-scheduler", node) if c.runtime else None,
        lambda inst: inst is not None and inst.id != before.id,
        timeout_s=30,
    )
    assert after is not None
    assert after.id != before.id


def test_a_user_without_passwordless_sudo_is_told_so(
    embedded: Layout, sshd: Sshd, ops_users: tuple[str, str], tmp_path: Path
) -> None:
    inventory = inventory_for(embedded, tmp_path, become=True)
    for spec in inventory["nodes"].values():  # type: ignore[attr-defined]
        spec["user"] = ops_users[1]
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    c = detect(str(embedded.admin_kubeconfig), None, backend="ssh", inventory=str(tmp_path / "inventory.yaml"))
    assert c.access is not None
    with pytest.raises(BackendError, match="kd-nosudo has no passwordless sudo"):
        c.access.run(embedded.nodes[0], ["id", "-un"])


def test_host_keys_are_trusted_on_first_use_and_a_changed_or_wrong_key_is_refused(
    embedded: Layout, sshd: Sshd, ssh_inventory: Path, tmp_path: Path
) -> None:
    node = embedded.nodes[0]
    c = detect(str(embedded.admin_kubeconfig), None, backend="ssh", inventory=str(ssh_inventory))
    assert c.access is not None
    assert not (tmp_path / "known_hosts").exists()
    c.access.run(node, ["true"])  # first use: the key is recorded
    found = ["ssh-keygen", "-F", embedded.node_ip(node), "-f", str(tmp_path / "known_hosts")]  # names are hashed
    assert subprocess.run(found, capture_output=True, check=False).returncode == 0
    # The host's key changes (a reinstalled host, or someone in the middle): refused, with what to do.
    stop_sshd(sshd.daemons, embedded)
    keygen(tmp_path / "other-host")
    replaced = start_sshd(embedded, tmp_path, tmp_path / "other-host", sshd.authorized_keys)
    try:
        changed = re.escape(f"the host key of {embedded.node_ip(node)} is unknown or changed")
        with pytest.raises(BackendError, match=changed):
            c.access.run(node, ["true"])
        # A pinned key that is not the host's is refused the same way, whatever the known_hosts file says.
        inventory = yaml.safe_load(ssh_inventory.read_text())
        inventory["nodes"][node]["host_key"] = sshd.public_key()  # the key the host had before
        ssh_inventory.write_text(yaml.safe_dump(inventory))
        pinned = detect(str(embedded.admin_kubeconfig), None, backend="ssh", inventory=str(ssh_inventory))
        assert pinned.access is not None
        with pytest.raises(BackendError, match=re.escape(f"pin it as nodes.{node}.host_key")):
            pinned.access.run(node, ["true"])
    finally:
        stop_sshd(replaced, embedded)
