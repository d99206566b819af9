"""Benchmark: what watching costs the cluster. API server and etcd CPU with kubedrill's instruments off
and on, one at a time: the prober's writes, its reads, the leader/Lease watcher, and all of them as a
drill runs them. Target: the prober adds ≤ 2 % of a core to the API servers.

    .venv/bin/python bench/bench_prober_load.py                  # 3 rounds of 20 s per state
    .venv/bin/python bench/bench_prober_load.py --seconds 60 --rounds 5

CPU is read from /proc/<pid>/stat (user + system) of every kube-apiserver and etcd process, so it is the
cluster's own cost, whatever else the machine does; states alternate within each round to cancel drift
(a controller's resync, a compaction). The runner's own CPU (this process's threads) is shown too.
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import time
from collections.abc import Callable

from benchlib import connect, cpu_seconds, layout, machine, pid_of, scratch_namespace

from kubedrill import preflight
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.probe_api import ProbeApi
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.api import ApiProber, ProberSettings
from kubedrill.probes.control_plane import ControlPlaneWatcher

STATES = ("off", "writes", "reads", "watcher", "drill (all)")


class OneWay(ProbeApi):
    """The prober's target with one of its two operations turned into a no-op (for attribution)."""

    def __init__(self, kubeconfig: str | None, context: str | None, ns: str, keep: str) -> None:
        super().__init__(kubeconfig, context, ns)
        self.keep = keep

    def write(self, key: str) -> int | None:
        return super().write(key) if self.keep == "write" else None

    def read(self, key: str | None) -> None:
        if self.keep == "read":
            super().read(key)


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def instruments(state: str, cluster: Cluster, ns: str) -> list[Callable[[], None]]:
    """Start what ``state`` runs; return how to stop it."""
    stops: list[Callable[[], None]] = []
    cfg, ctx = cluster.kubeconfig, cluster.context
    if state in ("writes", "reads", "drill (all)"):
        if state == "drill (all)":
            p = ApiProber(lambda: ProbeApi(cfg, ctx, ns), ProberSettings(key_prefix="all"))
        else:
            keep = state[:-1]
            p = ApiProber(lambda: OneWay(cfg, ctx, ns, keep), ProberSettings(key_prefix=keep))
        stops.append(p.start().stop)
    if state in ("watcher", "drill (all)"):
        http = cluster.etcd_status_http()
        kube = cluster.kube(timeout_s=2.0)
        assert http is not None

        def holder(name: str) -> str | None:
            return kube.lease_holder("kube-system", name)

        w = ControlPlaneWatcher(
            functools.partial(etcd_probe.leader_now, cluster, http), holder, preflight.LEADER_LEASES
        ).start()
        stops += [w.stop, http.close, kube.close]
    return stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lay = layout()
    cluster = connect()
    apis = [pid_of(lay, f"kube-apiserver-{n}") for n in lay.nodes]
    etcds = [pid_of(lay, f"etcd-{n}") for n in lay.nodes]
    print(f"machine: {machine()}")
    print(f"{args.rounds} rounds of {args.seconds:g} s per state; CPU as % of one core\n")
    api: dict[str, list[float]] = {s: [] for s in STATES}
    etcd: dict[str, list[float]] = {s: [] for s in STATES}
    runner: dict[str, list[float]] = {s: [] for s in STATES}
    with scratch_namespace(cluster, "load") as ns:
        ProbeApi(cluster.kubeconfig, cluster.context, ns).ensure_anchor()
        for r in range(args.rounds):
            for state in STATES:
                stops = instruments(state, cluster, ns)
                time.sleep(1.5)  # past the clients' first connections
                api0, etcd0, me0, t0 = cpu_seconds(apis), cpu_seconds(etcds), self_cpu(), time.monotonic()
                time.sleep(args.seconds)
                span = time.monotonic() - t0
                api[state].append((cpu_seconds(apis) - api0) / span * 100)
                etcd[state].append((cpu_seconds(etcds) - etcd0) / span * 100)
                runner[state].append((self_cpu() - me0) / span * 100)
                for stop in stops:
                    stop()
                print(f"round {r + 1} {state:12} API servers {api[state][-1]:6.2f} %  etcd {etcd[state][-1]:6.2f} %"
                      f"  runner {runner[state][-1]:5.2f} %")  # fmt: skip
    print()
    base_api, base_etcd = statistics.median(api["off"]), statistics.median(etcd["off"])
    print(f"{'state':12} {'API servers':>12} {'added':>8} {'etcd':>8} {'added':>8} {'runner':>8}")
    for state in STATES:
        a, e, m = statistics.median(api[state]), statistics.median(etcd[state]), statistics.median(runner[state])
        print(f"{state:12} {a:11.2f}% {a - base_api:+7.2f}% {e:7.2f}% {e - base_etcd:+7.2f}% {m:7.2f}%")
    added = statistics.median(api["drill (all)"]) - base_api
    print(f"\nthe prober and watcher add {added:+.2f} % of a core to the 3 API servers (target ≤ 2 %)")


if __name__ == "__main__":
    main()
