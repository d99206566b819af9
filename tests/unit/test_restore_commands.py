"""The exact commands an etcd restore sends to each node, for the two runtimes real clusters use.

Seed 003 restores a kubeadm cluster by moving the static-pod manifests out, restoring every member's data
dir and moving the manifests back; a binary install by stopping the units, ``etcdutl snapshot restore``
member by member (``--name``, ``--initial-cluster``, ``--initial-cluster-token``,
``--initial-advertise-peer-urls``), ``chown`` to etcd and starting the units. The recording fake answers as
a node would once everything is stopped (no container, MainPID 0, no aside dir yet).
"""

from __future__ import annotations

from kubedrill.backends.access import SshAccess, SshHost
from kubedrill.backends.cluster import Cluster, EtcdData
from kubedrill.backends.runtimes import ComponentRuntime, StaticPodRuntime, SystemdRuntime
from kubedrill.faults.restore import REVISION_BUMP, EtcdRestore, RestoreMember
from tests.fakes import Answer, RecordingAccess

NODES = ["m1", "m2", "m3"]
DATA = "/var/lib/etcd"
ASIDE = "/var/lib/etcd.kubedrill-aside"
MEMBERS = [RestoreMember(n, f"etcd-{n}", f"https://10.0.0.{i}:2380", DATA) for i, n in enumerate(NODES, 1)]
INITIAL = ",".join(f"etcd-{n}=https://10.0.0.{i}:2380" for i, n in enumerate(NODES, 1))


def stopped_node(aside_exists: bool) -> RecordingAccess:
    """A node with everything stopped: no running container, MainPID 0; the aside dir as given."""

    def answer(node: str, argv: list[str]) -> Answer:
        if argv[:2] == ["test", "-e"]:
            return (0, "") if aside_exists else (1, "")
        if argv[:2] == ["systemctl", "show"]:
            return "0\n"
        return ""  # crictl ps: nothing running; everything else succeeds

    return RecordingAccess(answer)


def restore_on(runtime: ComponentRuntime, owner: str | None = None) -> EtcdRestore:
    cluster = Cluster(
        backend="ssh",
        context="prod-like",
        server="https://10.0.0.100:6443",
        kubeconfig=None,
        control_planes=NODES,
        runtime=runtime,
        etcd_data=EtcdData(dict.fromkeys(NODES, DATA), etcdutl="/usr/local/bin/etcdutl", owner=owner),
        kubelet_nodes=NODES,
    )
    return EtcdRestore(cluster, "/home/sre/snap.db", MEMBERS, token="kubedrill-restore-0001")


def etcdutl_restore(node: str, i: int) -> list[str]:
    return [
        "/usr/local/bin/etcdutl", "snapshot", "restore", "/var/tmp/snap.db",
        f"--name=etcd-{node}",
        f"--initial-cluster={INITIAL}",
        "--initial-cluster-token=kubedrill-restore-0001",
        f"--initial-advertise-peer-urls=https://10.0.0.{i}:2380",
        f"--data-dir={DATA}",
        f"--bump-revision={REVISION_BUMP}",
        "--mark-compacted",
    ]  # fmt: skip


def test_binary_install_restore_stops_units_restores_each_member_chowns_and_starts_units() -> None:
    node = stopped_node(aside_exists=False)
    restore = restore_on(
        SystemdRuntime(node, units={"etcd": "etcd.service", "kube-apiserver": "kube-apiserver"}), "etcd"
    )
    restore.inject()
    restore.restore()
    restore.start_api_servers()
    for i, n in enumerate(NODES, 1):
        assert node.commands(n) == [
            ["systemctl", "stop", "--no-block", "kube-apiserver"],
            ["systemctl", "stop", "--no-block", "etcd.service"],
            ["systemctl", "show", "-p", "MainPID", "--value", "etcd.service"],  # stopped, proven
            ["systemctl", "show", "-p", "MainPID", "--value", "kube-apiserver"],  # and its API server
            ["test", "-e", ASIDE],
            ["mv", DATA, ASIDE],  # moved aside, never deleted before the restore is proven
            ["mkdir", "-p", "/var/tmp"],
            ["rm", "-rf", DATA],
            etcdutl_restore(n, i),
            ["chown", "-R", "etcd:etcd", DATA],
            ["systemctl", "start", "--no-block", "etcd.service"],
            ["systemctl", "start", "--no-block", "kube-apiserver"],
        ]
    assert node.copies == [("to", n, "/home/sre/snap.db", "/var/tmp/snap.db") for n in NODES]


def test_kubeadm_restore_moves_manifests_out_restores_each_member_and_moves_them_back() -> None:
    node = stopped_node(aside_exists=False)
    restore = restore_on(StaticPodRuntime(node))
    restore.inject()
    restore.restore()
    restore.start_api_servers()
    manifests, held = "/etc/kubernetes/manifests", "/etc/kubernetes/kubedrill-held"
    for i, n in enumerate(NODES, 1):
        assert node.commands(n) == [
            ["mkdir", "-p", held],
            ["test", "-f", f"{manifests}/kube-apiserver.yaml"],
            ["mv", f"{manifests}/kube-apiserver.yaml", f"{held}/kube-apiserver.yaml"],
            ["mkdir", "-p", held],
            ["test", "-f", f"{manifests}/etcd.yaml"],
            ["mv", f"{manifests}/etcd.yaml", f"{held}/etcd.yaml"],
            ["crictl", "ps", "--name", "^etcd$", "--state", "running", "-q"],  # stopped, proven
            ["crictl", "ps", "--name", "^kube-apiserver$", "--state", "running", "-q"],  # its API server too
            ["test", "-e", ASIDE],
            ["mv", DATA, ASIDE],
            ["mkdir", "-p", "/var/tmp"],
            ["rm", "-rf", DATA],
            etcdutl_restore(n, i),
            ["test", "-f", f"{held}/etcd.yaml"],
            ["mv", f"{held}/etcd.yaml", f"{manifests}/"],
            ["test", "-f", f"{held}/kube-apiserver.yaml"],
            ["mv", f"{held}/kube-apiserver.yaml", f"{manifests}/"],
        ]


def test_an_unproven_restore_is_reverted_by_putting_the_old_data_back_and_restarting_dependents() -> None:
    node = stopped_node(aside_exists=True)
    restore = restore_on(SystemdRuntime(node))
    restore.revert()
    m1 = node.commands("m1")
    start_etcd = m1.index(["systemctl", "start", "--no-block", "etcd"])
    assert m1.index(["rm", "-rf", DATA]) < m1.index(["mv", ASIDE, DATA]) < start_etcd
    assert start_etcd < m1.index(["systemctl", "start", "--no-block", "kube-apiserver"])
    assert ["systemctl", "restart", "kubelet"] in m1  # kubelets saw the restored data, which is gone again


def test_a_proven_restore_deletes_only_the_aside_dirs() -> None:
    node = stopped_node(aside_exists=True)
    restore_on(SystemdRuntime(node)).prove()
    assert node.commands() == [["rm", "-rf", ASIDE]] * 3


def test_a_dry_run_of_a_restore_over_ssh_shows_every_hosts_exact_ssh_commands() -> None:
    """What an operator reads before a game day: per host, the ssh command line itself (user, address, sudo)."""
    ssh = SshAccess({n: SshHost(f"10.0.0.{i}", "ops", become=True) for i, n in enumerate(NODES, 1)})
    restore = restore_on(SystemdRuntime(ssh))
    actions = restore.plan().actions
    assert all(a.startswith("ssh ") for a in actions), actions
    assert "ops@10.0.0.2 -- 'sudo -n -- mv /var/lib/etcd /var/lib/etcd.kubedrill-aside'" in "\n".join(actions)
    assert any("ops@10.0.0.3 -- 'sudo -n -- /usr/local/bin/etcdutl snapshot restore" in a for a in actions)
    assert actions[-1].endswith("ops@10.0.0.3 -- 'sudo -n -- systemctl start --no-block kube-apiserver'")
