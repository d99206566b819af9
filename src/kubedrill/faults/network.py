"""Network faults on a node: iptables rules in a chain of their own, with a TTL enforced on the node.

Every partition lives in one chain ``KD-<id>`` in the node's ``filter`` table, jumped to first from
INPUT and OUTPUT, so reverting removes exactly those rules and nothing an operator wrote. When the
rules are installed, a timer is started *on the node* (``setsid -f sh -c 'sleep TTL; remove the chain'``):
if the runner and the API both disappear, the node heals by itself. Packet loss uses iptables'
``statistic`` match; delay would need ``tc netem``, which kubedrill does not offer (kernels built
without sch_netem lack it).
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass
from typing import Any

from kubedrill.backends.base import NodeAccess
from kubedrill.backends.cluster import Cluster
from kubedrill.errors import ConfigError, FaultInjectionError, PreconditionFailed
from kubedrill.faults.base import Fault, Plan

DEFAULT_TTL_S = 300  # a partition outlives no drill by more than this, runner or not
CHAIN_PREFIX = "KD-"


@dataclass(frozen=True)
class Cut:
    """Traffic to drop on one node: to/from ``peers`` (addresses), optionally one TCP port, optionally
    only on loopback, optionally only a share of packets (loss)."""

    peers: tuple[str, ...] = ()
    port: int | None = None
    loopback: bool = False
    probability: float | None = None  # None: drop everything that matches

    def __post_init__(self) -> None:
        if self.probability is not None and not 0 < self.probability <= 1:
            raise ConfigError("network fault", "probability", "a share of packets in (0, 1]", self.probability)
        if not self.peers and self.port is None:
            raise ConfigError("network fault", "cut", "peers or a port to cut", self)


def rules(chain: str, cut: Cut) -> list[list[str]]:
    """The iptables rules (argv after ``iptables``) that make ``cut`` in ``chain`` (pure)."""
    match: list[str] = []
    if cut.probability is not None:
        match = ["-m", "statistic", "--mode", "random", "--probability", f"{cut.probability:g}"]
    out: list[list[str]] = []
    if cut.loopback:
        port = ["-p", "tcp", "--dport", str(cut.port)] if cut.port else []
        out.append(["-A", chain, "-o", "lo", *port, *match, "-j", "DROP"])
        return out
    # With a port: connections either way use it on one side, so drop it as source and as destination port.
    ports = [["-p", "tcp", flag, str(cut.port)] for flag in ("--dport", "--sport")] if cut.port else [[]]
    # Loss is applied on the way out only: with a rule at both ends a packet would run the gauntlet twice
    # (30 % on each side is 51 % end to end).
    directions = ("-d",) if cut.probability is not None else ("-s", "-d")
    for peer in cut.peers:
        for direction in directions:
            for port in ports:
                out.append(["-A", chain, direction, peer, *port, *match, "-j", "DROP"])
    return out


def install_script(chain: str, cut: Cut) -> str:
    lines = [f"iptables -N {chain}"]
    lines += ["iptables " + shlex.join(r) for r in rules(chain, cut)]
    lines += [f"iptables -I INPUT 1 -j {chain}", f"iptables -I OUTPUT 1 -j {chain}"]
    return " && ".join(lines)


def remove_script(chain: str) -> str:
    """Idempotent: every step tolerates a chain that is already gone."""
    return (
        f"while iptables -D INPUT -j {chain} 2>/dev/null; do :; done; "
        f"while iptables -D OUTPUT -j {chain} 2>/dev/null; do :; done; "
        f"iptables -F {chain} 2>/dev/null; iptables -X {chain} 2>/dev/null; true"
    )


def chains_on(access: NodeAccess, node: str) -> list[str]:
    out = access.run(node, ["iptables", "-S"], check=False).stdout
    return sorted({line.split()[1] for line in out.splitlines() if line.startswith(f"-N {CHAIN_PREFIX}")})


class Partition(Fault):
    """Drop traffic on ``node`` per ``cut``; healed by revert, or by the node's own timer after ``ttl_s``."""

    kind = "network.partition"

    def __init__(
        self, cluster: Cluster, node: str, cut: Cut, ttl_s: int = DEFAULT_TTL_S, chain: str | None = None
    ) -> None:
        super().__init__(cluster)
        self.node = node
        self.cut = cut
        self.ttl_s = ttl_s
        self.chain = chain or f"{CHAIN_PREFIX}{secrets.token_hex(4)}"

    def params(self) -> dict[str, Any]:
        c = self.cut
        return {
            "node": self.node,
            "chain": self.chain,
            "ttl_s": self.ttl_s,
            "cut": {"peers": list(c.peers), "port": c.port, "loopback": c.loopback, "probability": c.probability},
        }

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> Partition:
        c = params["cut"]
        cut = Cut(tuple(c["peers"]), c["port"], c["loopback"], c["probability"])
        return cls(cluster, params["node"], cut, params["ttl_s"], params["chain"])

    def describe(self) -> str:
        c = self.cut
        what = "loopback" if c.loopback else ",".join(c.peers)
        loss = f" {c.probability:.0%} loss" if c.probability else ""
        return f"partition {self.node} from {what}{f':{c.port}' if c.port else ''}{loss} ({self.chain})"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        """A full cut of a control-plane node from its peers takes its etcd member and API server out;
        a cut of the node's loopback etcd port takes its API server out; packet loss takes nothing down."""
        c = self.cut
        if c.probability is not None or self.node not in self.cluster.control_planes:
            return frozenset()
        if c.loopback:
            return frozenset({("kube-apiserver", self.node)})
        return frozenset({("etcd", self.node), ("kube-apiserver", self.node)})

    def _access(self) -> NodeAccess:
        if self.cluster.access is None:
            raise PreconditionFailed(self.cluster.missing or "network faults need node access")
        return self.cluster.access

    def _timer(self) -> str:
        return f"sleep {self.ttl_s}; {remove_script(self.chain)}"

    def _start_timer_argv(self) -> list[str]:
        # Detached from us entirely (own session, no inherited pipes), so it outlives this command.
        return ["sh", "-c", f"setsid -f sh -c {shlex.quote(self._timer())} </dev/null >/dev/null 2>&1"]

    def plan(self) -> Plan:
        a = self._access()
        return Plan(
            fault=self.kind,
            targets={"node": self.node, "chain": self.chain, "ttl": f"{self.ttl_s} s"},
            actions=[
                a.describe(self.node, ["sh", "-c", install_script(self.chain, self.cut)]),
                a.describe(self.node, self._start_timer_argv()),
            ],
            revert=[a.describe(self.node, ["sh", "-c", remove_script(self.chain)])],
        )

    def inject(self) -> str:
        a = self._access()
        # The timer first: if installing half-fails, the node still heals by itself.
        a.run(self.node, self._start_timer_argv())
        a.run(self.node, ["sh", "-c", install_script(self.chain, self.cut)])
        count = len(rules(self.chain, self.cut))
        return f"{count} rules in {self.chain} on {self.node}, healing by itself in {self.ttl_s} s"

    def confirm(self) -> str:
        if self.chain not in chains_on(self._access(), self.node):
            raise FaultInjectionError(f"chain {self.chain} is not on {self.node}: the partition did not take effect")
        return f"{self.chain} present on {self.node}"

    def revert(self) -> str:
        a = self._access()
        a.run(self.node, ["sh", "-c", remove_script(self.chain)])
        # The node's timer has nothing left to do: stop it rather than leave it sleeping.
        a.run(self.node, ["pkill", "-f", self._timer()], check=False)
        left = [c for c in chains_on(a, self.node) if c == self.chain]
        if left:
            raise FaultInjectionError(f"{self.chain} still on {self.node} after removal")
        return f"{self.chain} removed from {self.node} (verified with iptables -S)"
