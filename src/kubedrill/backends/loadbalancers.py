"""The load balancers in front of the API servers, as the lb-lost drill sees them: which one serves the API
address now, where each one's HAProxy runs, and which component runtime stops and starts it.

- single HAProxy (seed 004): one, on ``single``; it serves while it runs, and nothing takes over when it stops.
  The embedded cluster's runs on the host under the supervisor; kind's is its load balancer container's main
  process (``ContainerLoadBalancer``);
- two HAProxies behind a keepalived VRRP address (seed 002): the one whose namespace holds the VIP serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubedrill.backends import http
from kubedrill.backends.access import HOST, DockerExecAccess, NodeAccess
from kubedrill.backends.runtimes import ComponentRuntime, ContainerRuntime

HAPROXY = "haproxy"
KIND_STATS_PORT = 8404  # the read-only stats page kubedrill adds to kind's HAProxy (local/kind.py)
EMBEDDED_VIP_SHAPE = "'kubedrill up --load-balancers 2' gives seed 002's VIP"


@dataclass(frozen=True)
class LoadBalancers:
    access: NodeAccess
    lbs: tuple[str, ...]  # lb-1, lb-2 in the VIP shape; empty for a single HAProxy
    vip: str | None
    monitor_urls: dict[str, str]  # each HAProxy's monitor URI (``/healthz``), by where it runs
    interface: str = "eth0"
    single: str = HOST  # where the single HAProxy runs
    runtime: ComponentRuntime | None = None  # what stops and starts HAProxy; None: the cluster's own
    vip_shape: str = EMBEDDED_VIP_SHAPE  # how to get the VIP shape instead, for a single HAProxy's finding

    @property
    def nodes(self) -> list[str]:
        """Where an HAProxy runs: each load balancer, or the single one's place."""
        return list(self.lbs) or [self.single]

    def holds_vip(self, lb: str) -> bool:
        out = self.access.run(lb, ["ip", "-4", "-o", "addr", "show", "dev", self.interface], check=False)
        return out.ok and f" {self.vip}/" in out.stdout

    def monitor_url(self, lb: str) -> str | None:
        return self.monitor_urls.get(lb)

    def haproxy_serves(self, lb: str) -> bool:
        """HAProxy on ``lb`` answers its monitor URI: it runs and listens, not only its process exists."""
        url = self.monitor_url(lb)
        return url is not None and http.get(url, timeout_s=0.5).ok

    def holders(self) -> list[str]:
        """The load balancers whose namespace holds the VIP now (none in the single-HAProxy shape)."""
        return [lb for lb in self.lbs if self.holds_vip(lb)]

    def serving(self) -> str | None:
        """The load balancer that clients reach at the API address now: the VIP's holder (None while nobody holds
        it, or more than one does), or the single HAProxy."""
        if not self.lbs:
            return self.single
        holders = self.holders()
        return holders[0] if len(holders) == 1 else None

    def describe(self) -> str:
        if not self.lbs:
            where = "on the host" if self.single == HOST else f"in the container {self.single}"
            return f"a single HAProxy {where} (seed 004): nothing takes over when it stops"
        return f"{len(self.lbs)} HAProxies ({', '.join(self.lbs)}) behind the keepalived VIP {self.vip} (seed 002)"


@dataclass(frozen=True)
class ContainerLoadBalancer(LoadBalancers):
    """kind's load balancer: one container, HAProxy its main process, the API server port published on this
    machine. Its address on kind's network is read on each look, not remembered: a container that was stopped
    gets its address again from the engine when it starts."""

    access: DockerExecAccess  # the containers', through this machine's Docker engine
    stats_port: int = KIND_STATS_PORT

    def monitor_url(self, lb: str) -> str | None:
        address = self.access.container_address(lb)
        return f"http://{address}:{self.stats_port}/stats" if address else None


def kind_load_balancer(access: DockerExecAccess, container: str) -> ContainerLoadBalancer:
    return ContainerLoadBalancer(
        access=access,
        lbs=(),
        vip=None,
        monitor_urls={},
        single=container,
        runtime=ContainerRuntime(access),
        vip_shape="kubedrill's kind cluster has one load balancer container; the embedded cluster's "
        + EMBEDDED_VIP_SHAPE,
    )
