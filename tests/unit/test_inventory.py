from pathlib import Path

import pytest

from kubedrill.backends.access import SshAccess, SshHost
from kubedrill.backends.inventory import parse_inventory
from kubedrill.errors import BackendError, ConfigError

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
        ({"nodes": {"cp-1": {"address": " "}}}, "nodes.cp-1.address: expected a host name or IP address, got ' '"),
        ({"etcd": {**GOOD["etcd"], "endpoints": {}}}, "etcd.endpoints: expected at least one member"),
        ({"worker": {"w-1": {"address": "10.0.0.21"}}}, "(top level): expected only become, etcd, known_hosts"),
        ({"workers": ["10.0.0.21"]}, "workers: expected a mapping of worker node name"),
        ({"workers": {"cp-1": {"address": "10.0.0.1"}}}, "workers.cp-1: expected a worker not also listed under nodes"),
        ({"workers": {"w-1": {"address": "10.0.0.21", "port": 0}}}, "workers.w-1.port: expected a TCP port"),
        ({"workers": {"w-1": {"adress": "10.0.0.21"}}}, "workers.w-1: expected only address, become"),
    ],
)
def test_bad_inventories_name_the_field(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_inventory({**GOOD, **patch}, "inv.yaml")
    assert message in str(exc.value)


def test_workers_are_reached_like_nodes_but_are_not_control_planes() -> None:
    inv = parse_inventory({**GOOD, "become": True, "workers": {"w-1": {"address": "10.0.0.21", "user": "ops"}}}, "i")
    assert inv.workers == {"w-1": SshHost("10.0.0.21", "ops", become=True)}  # every node's default applies
    assert sorted(inv.hosts) == ["cp-1", "cp-2"]  # etcd, the API servers, the components: control planes only
    assert sorted(inv.every_host) == ["cp-1", "cp-2", "w-1"]  # what ssh reaches
    assert parse_inventory(GOOD, "i").workers == {}


def test_ssh_never_prompts_and_quotes_the_remote_command() -> None:
    access = SshAccess({"cp-1": SshHost("10.0.0.1", "root", 2222)})
    argv = access.argv("cp-1", ["sh", "-c", "echo 'a b'"])
    assert "BatchMode=yes" in argv
    assert argv[-3:] == ["root@10.0.0.1", "--", "sh -c 'echo '\"'\"'a b'\"'\"''"]


def test_the_example_inventory_in_ci_parses() -> None:
    from kubedrill.backends.cluster import load_inventory

    inv = load_inventory(Path(__file__).resolve().parents[2] / "ci" / "inventory.example.yaml")
    assert sorted(inv.hosts) == ["master-1", "master-2", "master-3"]
    assert inv.runtime == "systemd"


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0Dtj9VgMw1Q4d0mB4+V3cfTj8yS3oAv0vO8y9bQy0b"


def test_become_is_every_nodes_default_and_a_node_may_override_it() -> None:
    nodes = {"cp-1": {"address": "10.0.0.1", "user": "ops"}, "cp-2": {"address": "10.0.0.2", "become": False}}
    inv = parse_inventory({**GOOD, "nodes": nodes, "become": True}, "inv.yaml")
    assert inv.hosts["cp-1"].become is True
    assert inv.hosts["cp-2"].become is False


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"become": "yes"}, "become: expected true or false"),
        ({"nodes": {"cp-1": {"address": "x", "become": 1}}}, "nodes.cp-1.become: expected true or false"),
        (
            {"nodes": {"cp-1": {"address": "x", "host_key": "AAAAC3Nza"}}},
            "nodes.cp-1.host_key: expected a public host key",
        ),
        ({"nodes": {"cp-1": {"address": "x", "hostkey": KEY}}}, "nodes.cp-1: expected only address, become, host_key"),
    ],
)
def test_bad_become_and_host_keys_name_the_field(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_inventory({**GOOD, "etcd": {**GOOD["etcd"], "endpoints": {}}, **patch}, "inv.yaml")
    assert message in str(exc.value)


def test_become_runs_the_remote_command_through_sudo_that_never_prompts() -> None:
    access = SshAccess({"cp-1": SshHost("10.0.0.1", "ops", become=True)})
    assert access.argv("cp-1", ["crictl", "ps"])[-1] == "sudo -n -- crictl ps"
    assert access.argv("cp-1", ["mktemp"], become=False)[-1] == "mktemp"


def test_a_pinned_host_key_is_the_only_one_ssh_accepts(tmp_path: Path) -> None:
    hosts = {"cp-1": SshHost("10.0.0.1", host_key=KEY), "cp-2": SshHost("10.0.0.2", port=2222, host_key=KEY),
             "cp-3": SshHost("10.0.0.3")}  # fmt: skip
    pinned = tmp_path / "ssh" / "pinned.known_hosts"
    access = SshAccess(hosts, known_hosts=str(tmp_path / "tofu"), pinned_known_hosts=str(pinned))
    assert pinned.read_text().splitlines() == [f"10.0.0.1 {KEY}", f"[10.0.0.2]:2222 {KEY}"]
    argv = access.argv("cp-1", ["true"])
    assert f"UserKnownHostsFile={pinned}" in argv
    assert "StrictHostKeyChecking=yes" in argv
    # A host without a pin is trusted on first use into the inventory's known_hosts, and refused if it changes.
    argv = access.argv("cp-3", ["true"])
    assert f"UserKnownHostsFile={tmp_path / 'tofu'}" in argv
    assert "StrictHostKeyChecking=accept-new" in argv


def test_pins_without_a_file_to_write_them_to_are_refused() -> None:
    with pytest.raises(BackendError, match="pinned"):
        SshAccess({"cp-1": SshHost("10.0.0.1", host_key=KEY)})


def test_commands_share_one_connection_per_host_and_trust_settings(tmp_path: Path) -> None:
    """Each command over ssh goes through the host's one shared connection (ControlMaster), kept in a directory
    only this user reads; a connection opened under other host-key or identity settings is never reused."""
    hosts = {"cp-1": SshHost("10.0.0.1", "ops"), "cp-2": SshHost("10.0.0.2", "ops", identity_file="/k/id")}

    def control_path(access: SshAccess, node: str) -> str:
        argv = access.over_shared_connection(node, access.argv(node, ["true"]))
        assert argv[0] == "ssh"
        assert argv[argv.index("ControlMaster=auto") - 1] == "-o"
        return next(o.removeprefix("ControlPath=") for o in argv if o.startswith("ControlPath="))

    tofu = SshAccess(hosts, known_hosts=str(tmp_path / "tofu"))
    path = control_path(tofu, "cp-1")
    assert path.endswith("/%C")  # one socket per (user, host, port)
    assert Path(path).parent.stat().st_mode & 0o777 == 0o700
    assert len(path.replace("%C", "x" * 40)) < 100  # a unix socket's path has room for ~100 bytes
    # The same settings, from another access object: the same connection. Other settings: another one.
    same = SshAccess(hosts, known_hosts=str(tmp_path / "tofu"))
    other = SshAccess(hosts, known_hosts=str(tmp_path / "elsewhere"))
    assert control_path(same, "cp-1") == path
    dirs = {Path(p).parent for p in (path, control_path(other, "cp-1"), control_path(tofu, "cp-2"))}
    assert len(dirs) == 3
    # What a dry run shows is the command an operator would type: no connection sharing in it.
    assert "ControlPath" not in tofu.describe("cp-1", ["true"])
    assert SshAccess(hosts, share_connections=False).over_shared_connection("cp-1", ["ssh", "x"]) == ["ssh", "x"]
