"""etcdctl and etcdutl on real hosts: the inventory's where a host has them, kubedrill's own build uploaded
where it has none, and a restore refused when the uploaded etcdutl is of another minor release than the members
run. Also: a snapshot is saved and fetched on the same host, and the binary-install hosts' inventory is one the
parser accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubedrill.backends.cluster import UPLOAD_DIR, Cluster, EtcdData, HostTool, etcd_runner
from kubedrill.backends.etcd import Etcdctl
from kubedrill.backends.inventory import parse_inventory
from kubedrill.backends.runtimes import SystemdRuntime
from kubedrill.backends.shell import Result
from kubedrill.config import read_yaml
from kubedrill.errors import BackendError, ConfigError, LocalClusterError, PreconditionFailed
from kubedrill.faults.restore import RestoreMember, check_uploaded_etcdutl, minor
from kubedrill.local import hosts
from tests.fakes import Answer, RecordingAccess


def hosts_without(tool: str, having: set[str]) -> RecordingAccess:
    """Nodes in ``having`` have ``tool`` on PATH; the others have nothing."""

    def answer(node: str, argv: list[str]) -> Answer:
        if argv[:2] == ["sh", "-c"] and argv[2].startswith("command -v"):
            return f"/usr/local/bin/{tool}\n" if node in having else (1, "")
        return ""

    return RecordingAccess(answer)


def test_a_host_with_the_tool_uses_its_own_and_gets_nothing_copied() -> None:
    access = hosts_without("etcdutl", having={"m1"})
    tool = HostTool("etcdutl", "etcdutl", "/cache/etcdutl", access)
    assert tool.on("m1") == "etcdutl"
    assert tool.on("m1") == "etcdutl"  # looked up once
    assert len(access.calls) == 1
    assert access.copies == []
    assert not tool.uploaded_to("m1")


def test_a_host_without_the_tool_gets_kubedrills_build_uploaded_once() -> None:
    access = hosts_without("etcdctl", having=set())
    tool = HostTool("etcdctl", "/opt/etcd/bin/etcdctl", "/cache/etcdctl", access)
    assert tool.on("m2") == f"{UPLOAD_DIR}/etcdctl"
    assert tool.on("m2") == f"{UPLOAD_DIR}/etcdctl"
    assert access.copies == [("to", "m2", "/cache/etcdctl", f"{UPLOAD_DIR}/etcdctl")]
    assert ["chmod", "0755", f"{UPLOAD_DIR}/etcdctl"] in access.commands("m2")
    assert tool.uploaded_to("m2")


def test_a_host_without_the_tool_and_nothing_to_upload_is_a_clear_precondition() -> None:
    tool = HostTool("etcdutl", "etcdutl", None, hosts_without("etcdutl", having=set()))
    with pytest.raises(PreconditionFailed, match=r"etcdutl is not on m3 .* name it as etcd.etcdutl"):
        tool.on("m3")


def test_under_dry_run_nothing_is_copied_and_the_missing_tool_is_said() -> None:
    access = hosts_without("etcdctl", having={"m1"})
    tools = [HostTool("etcdctl", "etcdctl", "/cache/etcdctl", access)]
    cluster = Cluster(
        backend="ssh", context="c", server="s", kubeconfig=None, control_planes=["m1", "m2"], host_tools=tools
    )
    cluster.touch_no_host()
    tool = cluster.host_tools[0]
    assert tool.on("m1") == "etcdctl"  # a host that has it is still used
    with pytest.raises(PreconditionFailed) as e:
        tool.on("m2")
    assert str(e.value) == (
        f"etcdctl is not on m2 (etcdctl not found): a real run copies kubedrill's build to {UPLOAD_DIR}/etcdctl "
        "there; a dry run writes nothing to a host, so it does not"
    )
    assert access.copies == []
    assert all(argv[0] == "sh" for node in ("m1", "m2") for argv in access.commands(node))


def test_etcdctl_commands_name_the_path_found_on_each_node() -> None:
    access = hosts_without("etcdctl", having={"m1"})
    tool = HostTool("etcdctl", "etcdctl", "/cache/etcdctl", access)
    seen: list[tuple[str, list[str]]] = []

    def on_node(node: str, argv: list[str], timeout_s: float) -> object:
        seen.append((node, argv))
        return access.run(node, argv, check=False)

    run = tool.command(on_node)  # type: ignore[arg-type]
    run("m1", ["etcdctl", "member", "list"], 5.0)
    run("m2", ["etcdctl", "member", "list"], 5.0)
    assert seen == [("m1", ["etcdctl", "member", "list"]), ("m2", [f"{UPLOAD_DIR}/etcdctl", "member", "list"])]


def cluster_with(access: RecordingAccess, tool: HostTool) -> Cluster:
    def etcdctl_answers(node: str, argv: list[str], timeout_s: float) -> object:
        return access.run(node, argv, check=False)

    etcd = Etcdctl("etcdctl", ("https://a:2379",), Path("ca"), Path("c"), Path("k"),
                   runner=lambda argv, t: access.run("m1", argv, check=False))  # fmt: skip
    return Cluster(
        backend="ssh", context="c", server="s", kubeconfig=None, control_planes=["m1", "m2"],
        runtime=SystemdRuntime(access), etcd=etcd, etcdctl_on_node=etcdctl_answers,  # type: ignore[arg-type]
        etcd_endpoint_of={"m1": "https://a:2379", "m2": "https://b:2379"},
        etcd_data=EtcdData(etcdutl_on_hosts=tool),
    )  # fmt: skip


def status(version: str) -> str:
    return (
        '[{"Endpoint":"https://a:2379","Status":{"header":{"member_id":1,"revision":5},"leader":1,'
        f'"version":"{version}"}}}}]'
    )


MEMBERS = [RestoreMember("m1", "etcd-1", "https://a:2380", "/d"), RestoreMember("m2", "etcd-2", "https://b:2380", "/d")]


@pytest.mark.parametrize(("running", "ok"), [("3.6.4", True), ("3.5.21", False)])
def test_an_uploaded_etcdutl_must_match_the_members_minor_release(running: str, ok: bool) -> None:
    def answer(node: str, argv: list[str]) -> Answer:
        if argv[:2] == ["sh", "-c"]:
            return (1, "")  # no etcdutl on any host
        if "endpoint" in argv:
            return status(running)
        return ""

    access = RecordingAccess(answer)
    cluster = cluster_with(access, HostTool("etcdutl", "etcdutl", "/cache/etcdutl", access))
    if ok:
        assert check_uploaded_etcdutl(cluster, MEMBERS, lambda: "3.6.16") == (
            f"etcdutl 3.6.16 uploaded to m1, m2 (members run {running})"
        )
    else:
        with pytest.raises(PreconditionFailed, match=r"members run etcd 3\.5\.21, kubedrill's etcdutl is 3\.6\.16"):
            check_uploaded_etcdutl(cluster, MEMBERS, lambda: "3.6.16")


def test_minor_release() -> None:
    assert minor("3.6.16") == "3.6"
    assert minor("3.5") == "3.5"


def test_the_etcd_runner_bound_to_one_node_never_falls_back_to_another() -> None:
    """What makes a snapshot fetchable: etcdctl runs on the node it will be fetched from, or fails there."""
    tried: list[str] = []

    def on_node(node: str, argv: list[str], timeout_s: float) -> object:
        tried.append(node)
        return RecordingAccess(lambda n, a: (1, "")).run(node, argv, check=False)

    etcd_runner(on_node, ["m2"])(["etcdctl", "snapshot", "save", "/var/tmp/s.db"], 5.0)  # type: ignore[arg-type]
    assert tried == ["m2"]


CI = Path(__file__).resolve().parents[2] / "ci"


def example(name: str) -> dict[str, object]:
    data = read_yaml(CI / name, "inventory")
    assert isinstance(data, dict)
    return data


def test_the_binary_example_made_to_describe_the_test_hosts_keeps_everything_but_where_they_are() -> None:
    address_of = {h: f"172.30.0.{i}" for i, h in enumerate(hosts.HOSTS, start=2)}
    data = hosts.from_example(example("inventory.example.yaml"), address_of, "172.30.0.9", "/k/id", "ssh-ed25519 AAAA",
                              "/k/kh")  # fmt: skip
    inv = parse_inventory(data, "derived")
    assert inv.runtime == "systemd"
    assert inv.units == {"kubelet": hosts.KUBELET_UNIT}
    assert inv.hosts["master-1"].host_key == "ssh-ed25519 AAAA"
    assert inv.hosts["master-2"].host_key is None
    assert all(h.become and h.user == hosts.SSH_USER and h.identity_file == "/k/id" for h in inv.hosts.values())
    assert inv.etcd_endpoints["master-3"] == "https://172.30.0.4:2379"
    # The paths the hosts are built with are the example's: the example is what the test runs.
    assert (inv.etcd_cacert, inv.etcd_cert, inv.etcd_key) == tuple(
        f"{hosts.ETCD_SSL}/{f}" for f in ("ca.pem", "server.pem", "server-key.pem")
    )
    assert inv.etcd_data_dir == hosts.ETCD_DATA_DIR
    assert inv.etcdctl == "/opt/etcd/bin/etcdctl"
    assert inv.lb_addresses == ("172.30.0.9",)
    assert inv.known_hosts == "/k/kh"


def test_the_kubeadm_example_renames_nodes_in_order() -> None:
    names = {"kubedrill-control-plane": "172.18.0.3", "kubedrill-control-plane2": "172.18.0.4",
             "kubedrill-control-plane3": "172.18.0.5"}  # fmt: skip
    data = hosts.from_example(example("inventory.kubeadm.example.yaml"), names, "172.18.0.2", "/id", "ssh-ed25519 A",
                              "/kh")  # fmt: skip
    inv = parse_inventory(data, "derived")
    assert sorted(inv.hosts) == sorted(names)
    assert inv.runtime == "static-pod"
    assert inv.etcd_cacert == "/etc/kubernetes/pki/etcd/ca.crt"
    assert inv.etcdctl == "etcdctl"  # not on a kubeadm host: uploaded
    assert inv.prometheus is not None
    assert inv.prometheus.etcd == 'job="kube-etcd"'
    assert inv.workers == {}  # no workers started: none described


def test_the_kubeadm_example_s_workers_are_renamed_in_order_too() -> None:
    names = {"kubedrill-control-plane": "172.18.0.3", "kubedrill-control-plane2": "172.18.0.4",
             "kubedrill-control-plane3": "172.18.0.5"}  # fmt: skip
    workers = {"kubedrill-worker": "172.18.0.6", "kubedrill-worker2": "172.18.0.7", "kubedrill-worker3": "172.18.0.8"}
    data = hosts.from_example(example("inventory.kubeadm.example.yaml"), names, "172.18.0.2", "/id", "ssh-ed25519 A",
                              "/kh", worker_address_of=workers)  # fmt: skip
    inv = parse_inventory(data, "derived")
    assert {n: h.address for n, h in inv.workers.items()} == workers
    assert all(h.identity_file == "/id" and h.user == hosts.SSH_USER and h.become for h in inv.workers.values())
    with pytest.raises(LocalClusterError, match="describes 3 workers, 1 were started"):
        hosts.from_example(example("inventory.kubeadm.example.yaml"), names, "172.18.0.2", "/id", "ssh-ed25519 A",
                           "/kh", worker_address_of={"kubedrill-worker": "172.18.0.6"})  # fmt: skip


def test_units_may_rename_only_components_kubedrill_drives() -> None:
    data = {**example("inventory.example.yaml"), "units": {"kubelt": "kwok"}}
    with pytest.raises(ConfigError, match=r"units\.kubelt"):
        parse_inventory(data, "inv")


def test_etcd_conf_names_members_as_seed_003_does() -> None:
    address_of = {"master-1": "10.0.0.11", "master-2": "10.0.0.12", "master-3": "10.0.0.13"}
    conf = hosts.etcd_conf("master-2", address_of)
    assert 'ETCD_NAME="etcd-2"' in conf
    assert (
        'ETCD_INITIAL_CLUSTER="etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,'
        'etcd-3=https://10.0.0.13:2380"'
    ) in conf
    assert 'ETCD_LISTEN_CLIENT_URLS="https://10.0.0.12:2379,https://127.0.0.1:2379"' in conf
    assert 'ETCD_DATA_DIR="/var/lib/etcd/default.etcd"' in conf


def test_etcdctl_printing_null_when_no_endpoint_answers_is_no_member_not_a_crash() -> None:
    """etcdctl 3.6.16 against endpoints that all fail prints `null` on stdout and exits 1 (seen here): a restore's
    wait for a leader, polling members that are still starting, must take that as "not yet"."""

    def none_answer(argv: list[str], timeout_s: float) -> Result:
        return Result(
            tuple(argv),
            1,
            "null\n",
            "Failed to get the status of endpoint https://10.0.0.1:2379 (context deadline exceeded)\n",
        )

    etcd = Etcdctl("etcdctl", ("https://10.0.0.1:2379",), Path("ca"), Path("c"), Path("k"), runner=none_answer)
    with pytest.raises(BackendError, match="no endpoint answered: Failed to get the status of endpoint"):
        etcd.endpoint_status()
