"""Pod networking on a kind cluster made from kubedrill's own node image, where kindnetd cannot run.

kind's default CNI is kindnetd, whose image cannot be pulled here and whose Go module does not resolve. What it
does for a cluster of nodes on one Docker bridge is small, and kubedrill does the same once the nodes exist:

1. each node gets a CNI configuration of the standard plugins (Debian's ``containernetworking-plugins`` in the
   node image): ``ptp`` veths with ``host-local`` addresses from the node's ``podCIDR`` (assigned by the
   controller-manager), and ``portmap``: kindnetd's own configuration;
2. each node gets a route to every other node's ``podCIDR`` via that node's address on the bridge;
3. traffic from pods to anything outside the pod network is masqueraded (the load balancer and the host
   have no route back to a pod).

NetworkPolicy is enforced by kube-network-policies (ci/cni/), the engine kindnetd embeds, or by kube-router's
firewall where the kernel lacks nft's queue expression (``kind.policy_engine``). The routes live in the
node containers' network namespaces: a node container that restarts loses them until ``wire`` runs again
(``kubedrill up --provider kind`` does, on a reused cluster too).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass

CONFLIST_PATH = "/etc/cni/net.d/10-kubedrill.conflist"
POD_SUBNET = "10.244.0.0/16"  # kind's default podSubnet (networking.podSubnet in its kubeadm config)
MASQUERADE_COMMENT = "kubedrill pod network: pods to outside the pod network"


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    pod_cidr: str


def nodes_from(node_list: dict[str, object]) -> list[Node]:
    """``kubectl get nodes -o json`` → the nodes with an address and a podCIDR; ValueError naming any without (pure)."""
    out = []
    for item in node_list.get("items", []):  # type: ignore[attr-defined]
        name = item["metadata"]["name"]
        cidr = item.get("spec", {}).get("podCIDR", "")
        ips = [a["address"] for a in item.get("status", {}).get("addresses", []) if a["type"] == "InternalIP"]
        if not cidr or not ips:
            raise ValueError(
                f"node {name}: expected an InternalIP and a podCIDR, observed {ips or 'none'} and {cidr!r}"
            )
        ipaddress.ip_network(cidr)
        out.append(Node(name, ips[0], cidr))
    return out


def conflist(pod_cidr: str) -> str:
    """The CNI configuration of one node (pure): kindnetd's plugins over the node's podCIDR."""
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": "kubedrill",
            "plugins": [
                {
                    "type": "ptp",
                    "ipMasq": False,
                    "mtu": 1500,
                    "ipam": {
                        "type": "host-local",
                        "dataDir": "/run/cni-ipam-state",
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "ranges": [[{"subnet": pod_cidr}]],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def node_commands(node: Node, cluster: list[Node]) -> list[list[str]]:
    """What to run on ``node`` (pure): a route to every other node's pods, and the masquerade rule (idempotent)."""
    commands = [["ip", "route", "replace", other.pod_cidr, "via", other.ip] for other in cluster if other != node]
    rule = ["POSTROUTING", "-s", node.pod_cidr, "!", "-d", POD_SUBNET, "-m", "comment", "--comment",
            MASQUERADE_COMMENT, "-j", "MASQUERADE"]  # fmt: skip
    commands.append(["sh", "-c", _if_absent(rule)])
    return commands


def _if_absent(rule: list[str]) -> str:
    quoted = shlex.join(rule)
    return f"iptables -t nat -C {quoted} 2>/dev/null || iptables -t nat -A {quoted}"
