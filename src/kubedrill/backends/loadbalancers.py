"""The load balancers in front of the API servers, as the lb-lost drill sees them: which one serves the API
address now, and where each one's HAProxy runs (the component runtime stops and starts it).

- single HAProxy (seed 004): one, on ``host``; it serves while it runs, and nothing takes over when it stops;
- two HAProxies behind a keepalived VRRP address (seed 002): the one whose namespace holds the VIP serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubedrill.backends import http
from kubedrill.backends.access import HOST, NodeAccess

HAPROXY = "haproxy"


@dataclass(frozen=True)
class EmbeddedLoadBalancers:
    access: NodeAccess
    lbs: tuple[str, ...]  # lb-1, lb-2 in the VIP shape; empty for the single HAProxy on the host
    vip: str | None
    monitor_urls: dict[str, str]  # each HAProxy's monitor URI (``/healthz``), by where it runs
    interface: str = "eth0"

    @property
    def nodes(self) -> list[str]:
        """Where an HAProxy runs: each load balancer, or the host."""
        return list(self.lbs) or [HOST]

    def holds_vip(self, lb: str) -> bool:
        out = self.access.run(lb, ["ip", "-4", "-o", "addr", "show", "dev", self.interface], check=False)
        return out.ok and f" {self.vip}/" in out.stdout

    def haproxy_serves(self, lb: str) -> bool:
        """HAProxy on ``lb`` answers its monitor URI: it runs and listens, not only its process exists."""
        return http.get(self.monitor_urls[lb], timeout_s=0.5).ok

    def holders(self) -> list[str]:
        """The load balancers whose namespace holds the VIP now (none in the single-HAProxy shape)."""
        return [lb for lb in self.lbs if self.holds_vip(lb)]

    def serving(self) -> str | None:
        """The load balancer that clients reach at the API address now: the VIP's holder (None while nobody holds
        it, or more than one does), or the host's single HAProxy."""
        if not self.lbs:
            return HOST
        holders = self.holders()
        return holders[0] if len(holders) == 1 else None

    def describe(self) -> str:
        if not self.lbs:
            return "a single HAProxy on the host (seed 004): nothing takes over when it stops"
        return f"{len(self.lbs)} HAProxies ({', '.join(self.lbs)}) behind the keepalived VIP {self.vip} (seed 002)"
