"""Network namespaces, veth pairs and the bridge that make up the embedded cluster's network.

Each control-plane node is a namespace with one interface ``eth0`` whose peer sits on the host bridge,
so every node has its own address, its own loopback and its own iptables, like a real machine.
Everything here is idempotent: creating what exists, or deleting what is gone, is not an error.
"""

from __future__ import annotations

from pathlib import Path

from kubedrill.backends import shell

NETNS_DIR = Path("/run/netns")


def list_netns(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def link_exists(name: str, netns: str | None = None) -> bool:
    argv = ["ip", "link", "show", name] if netns is None else ["ip", "-n", netns, "link", "show", name]
    return shell.run(argv, check=False).ok


def create_bridge(name: str, cidr: str) -> None:
    if not link_exists(name):
        shell.run(["ip", "link", "add", name, "type", "bridge"])
    shell.run(["ip", "addr", "replace", cidr, "dev", name])
    shell.run(["ip", "link", "set", name, "up"])


def create_node(netns: str, bridge: str, cidr: str, gateway: str, host_if: str) -> None:
    """A namespace with ``eth0`` (``cidr``) bridged to the host, loopback up, default route via ``gateway``."""
    if netns not in list_netns(netns):
        shell.run(["ip", "netns", "add", netns])
    if link_exists(host_if) and not link_exists("eth0", netns):
        # The host end of a pair whose namespace was just deleted: the kernel removes it asynchronously.
        delete_link(host_if)
    if not link_exists(host_if):
        shell.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", netns])
    shell.run(["ip", "link", "set", host_if, "master", bridge])
    shell.run(["ip", "link", "set", host_if, "up"])
    shell.run(["ip", "-n", netns, "addr", "replace", cidr, "dev", "eth0"])
    shell.run(["ip", "-n", netns, "link", "set", "eth0", "up"])
    shell.run(["ip", "-n", netns, "link", "set", "lo", "up"])
    shell.run(["ip", "-n", netns, "route", "replace", "default", "via", gateway])


def delete_netns(netns: str) -> None:
    """Deleting the namespace deletes its veth end, and with it the host end."""
    shell.run(["ip", "netns", "delete", netns], check=False)


def delete_link(name: str) -> None:
    if link_exists(name):
        shell.run(["ip", "link", "delete", name], check=False)


def exec_argv(netns: str, argv: list[str]) -> list[str]:
    """The argv that runs ``argv`` inside ``netns`` (``ip netns exec`` execs, so the PID is the program's)."""
    return ["ip", "netns", "exec", netns, *argv]
