"""kubedrill's stand-in for kindnetd on its own node image: what each node is told to do (pure)."""

from __future__ import annotations

import json

import pytest

from kubedrill.local import podnet

A = podnet.Node("kubedrill-control-plane", "172.18.0.3", "10.244.0.0/24")
B = podnet.Node("kubedrill-worker", "172.18.0.5", "10.244.1.0/24")
C = podnet.Node("kubedrill-worker2", "172.18.0.6", "10.244.2.0/24")


def node(name: str, ip: str | None, cidr: str | None) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr} if cidr else {},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": name},
                *([{"type": "InternalIP", "address": ip}] if ip else []),
            ]
        },
    }


def test_nodes_are_read_with_their_address_and_pod_cidr() -> None:
    listed = {"items": [node(A.name, A.ip, A.pod_cidr), node(B.name, B.ip, B.pod_cidr)]}
    assert podnet.nodes_from(listed) == [A, B]


def test_a_node_without_a_pod_cidr_yet_is_named() -> None:
    with pytest.raises(ValueError, match=r"node kubedrill-worker: expected an InternalIP and a podCIDR, observed"):
        podnet.nodes_from({"items": [node(A.name, A.ip, A.pod_cidr), node(B.name, B.ip, None)]})


def test_each_node_gets_its_own_pod_cidr_over_ptp_with_port_mapping() -> None:
    config = json.loads(podnet.conflist(B.pod_cidr))
    ptp, portmap = config["plugins"]
    assert ptp["type"] == "ptp"
    assert ptp["ipam"]["type"] == "host-local"
    assert ptp["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_each_node_routes_every_other_nodes_pods_via_that_node_and_masquerades_the_rest() -> None:
    commands = podnet.node_commands(A, [A, B, C])
    routes, masquerade = commands[:-1], commands[-1]
    assert routes == [
        ["ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.5"],
        ["ip", "route", "replace", "10.244.2.0/24", "via", "172.18.0.6"],
    ]
    script = masquerade[2]
    assert masquerade[:2] == ["sh", "-c"]
    assert "iptables -t nat -C POSTROUTING -s 10.244.0.0/24 '!' -d 10.244.0.0/16" in script
    assert "|| iptables -t nat -A POSTROUTING" in script, "added once: wiring a reused cluster again adds nothing"
