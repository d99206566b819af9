import pytest

from kubedrill.backends.access import SshAccess, SshHost
from kubedrill.backends.inventory import parse_inventory
from kubedrill.errors import ConfigError

GOOD = {
    "nodes": {"cp-1": {"address": "10.0.0.1"}, "cp-2": {"address": "10.0.0.2", "port": 2222, "user": "ops"}},
    "runtime": "systemd",
    "etcd": {
        "endpoints": {"cp-1": "https://10.0.0.1:2379", "cp-2": "https://10.0.0.2:2379"},
        "cacert": "/etc/etcd/ssl/ca.pem",
        "cert": "/etc/etcd/ssl/etcd.pem",
        "key": "/etc/etcd/ssl/etcd-key.pem",
    },
}


def test_a_good_inventory_parses() -> None:
    inv = parse_inventory(GOOD, "inv.yaml")
    assert inv.hosts["cp-2"] == SshHost("10.0.0.2", "ops", 2222)
    assert inv.runtime == "systemd"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"runtime": "docker"}, "runtime: expected static-pod, systemd or supervisor, got 'docker'"),
        ({"nodes": {}}, "nodes: expected at least one control-plane node"),
        ({"nodes": {"cp-1": {"address": "x", "port": "22"}}}, "nodes.cp-1.port: expected a TCP port"),
        ({"nodes": {"cp-1": {"port": 22}}}, "nodes.cp-1.address: expected a host name or IP address, got '(missing)'"),
        ({"etcd": {**GOOD["etcd"], "endpoints": {"cp-9": "https://x:2379"}}}, "etcd.endpoints.cp-9: expected a node"),
        ({"etcd": {**GOOD["etcd"], "endpoints": {"cp-1": "10.0.0.1:2379"}}}, "expected an URL"),
        ({"runtime": "supervisor"}, "supervisor_run_dir"),
    ],
)
def test_bad_inventories_name_the_field(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_inventory({**GOOD, **patch}, "inv.yaml")
    assert message in str(exc.value)


def test_ssh_never_prompts_and_quotes_the_remote_command() -> None:
    access = SshAccess({"cp-1": SshHost("10.0.0.1", "root", 2222)})
    argv = access.argv("cp-1", ["sh", "-c", "echo 'a b'"])
    assert "BatchMode=yes" in argv
    assert argv[-3:] == ["root@10.0.0.1", "--", "sh -c 'echo '\"'\"'a b'\"'\"''"]


def test_the_example_inventory_in_ci_parses() -> None:
    from pathlib import Path

    from kubedrill.backends.cluster import load_inventory

    inv = load_inventory(Path(__file__).resolve().parents[2] / "ci" / "inventory.example.yaml")
    assert sorted(inv.hosts) == ["master-1", "master-2", "master-3"]
    assert inv.runtime == "systemd"
