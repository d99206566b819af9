"""Benchmark: what watching costs the cluster. API server and etcd CPU with kubedrill's instruments off
and on, one at a time: the prober's writes, its reads, the leader/Lease watcher, and all of them as a
drill runs them. Target: the prober adds ≤ 2 % of a core to the API servers.

    .venv/bin/python bench/bench_prober_load.py                  # 3 rounds of 20 s per state
    .venv/bin/python bench/bench_prober_load.py --seconds 60 --rounds 5

CPU is read from /proc/<pid>/stat (user + system) of every kube-apiserver and etcd process, so it is the
cluster's own cost, whatever else the machine does; states alternate within each round to cancel drift
(a controller's resync, a compaction). The runner's own CPU (this process's threads) is shown too.
"writes (Ev)" is the alternative tried for issue 19 (Events: no watch cache, nobody watches them), side by side
with the prober's own ConfigMap writes.

    .venv/bin/python bench/bench_prober_load.py --rate 5      # kubedrill's --probe-rate 5
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

STATES = ("off", "writes", "writes (Ev)", "reads", "watcher", "drill (all)")


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


class EventWrites(OneWay):
    """The prober's writes as Events instead of ConfigMaps, tried for issue 19 and measured side by side here:
    Kubernetes keeps no watch cache for Events and nothing watches them, so a write fans out to no cache and
    no controller. It saved nothing measurable (BENCHMARKS.md §5), so the prober kept ConfigMaps."""

    def write(self, key: str) -> int | None:
        ns = self.namespace
        body = {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": key, "labels": {self.LABEL: "event"}},
            "involvedObject": {"apiVersion": "v1", "kind": "Namespace", "name": ns, "namespace": ns},
            "reason": "KubedrillProbe", "message": "a bench write", "type": "Normal",
        }  # fmt: skip
        created = self.kube.core.create_namespaced_event(ns, body, _request_timeout=self.kube.timeouts)
        rv = created.metadata.resource_version
        return int(rv) if rv and rv.isdigit() else None


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def instruments(state: str, cluster: Cluster, ns: str, interval_s: float) -> list[Callable[[], None]]:
    """Start what ``state`` runs; return how to stop it."""
    stops: list[Callable[[], None]] = []
    cfg, ctx = cluster.kubeconfig, cluster.context
    if state in ("writes", "writes (Ev)", "reads", "drill (all)"):
        if state == "drill (all)":
            p = ApiProber(lambda: ProbeApi(cfg, ctx, ns), ProberSettings(key_prefix="all", interval_s=interval_s))
        elif state == "writes (Ev)":
            p = ApiProber(
                lambda: EventWrites(cfg, ctx, ns, "write"), ProberSettings(key_prefix="ev", interval_s=interval_s)
            )
        else:
            keep = state.rstrip("s")
            p = ApiProber(lambda: OneWay(cfg, ctx, ns, keep), ProberSettings(key_prefix=keep, interval_s=interval_s))
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
    parser.add_argument("--states", default=",".join(STATES), help=f"comma-separated, of: {', '.join(STATES)}")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="prober requests per second (kubedrill's --probe-rate)"
    )
    args = parser.parse_args()
    lay = layout()
    cluster = connect()
    apis = [pid_of(lay, f"kube-apiserver-{n}") for n in lay.nodes]
    etcds = [pid_of(lay, f"etcd-{n}") for n in lay.nodes]
    print(f"machine: {machine()}")
    print(f"{args.rounds} rounds of {args.seconds:g} s per state, prober at {args.rate:g}/s; CPU as % of one core\n")
    states = [st.strip() for st in args.states.split(",")]
    unknown = sorted(set(states) - set(STATES))
    if unknown or "off" not in states:
        parser.error(f"--states: expected 'off' and any of {', '.join(STATES)}; got {', '.join(unknown) or 'no off'}")
    api: dict[str, list[float]] = {s: [] for s in STATES}
    etcd: dict[str, list[float]] = {s: [] for s in STATES}
    runner: dict[str, list[float]] = {s: [] for s in STATES}
    with scratch_namespace(cluster, "load") as ns:
        ProbeApi(cluster.kubeconfig, cluster.context, ns).ensure_anchor()
        for r in range(args.rounds):
            for state in states:
                stops = instruments(state, cluster, ns, 1.0 / args.rate)
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
    for state in states:
        a, e, m = statistics.median(api[state]), statistics.median(etcd[state]), statistics.median(runner[state])
        print(f"{state:12} {a:11.2f}% {a - base_api:+7.2f}% {e:7.2f}% {e - base_etcd:+7.2f}% {m:7.2f}%")
    if "drill (all)" in states:
        added = statistics.median(api["drill (all)"]) - base_api
        print(f"\nthe prober and watcher add {added:+.2f} % of a core to the 3 API servers (target ≤ 2 %)")
    if {"writes", "writes (Ev)"} <= set(states):
        ev = {k: statistics.median(v["writes (Ev)"]) - statistics.median(v["writes"]) for k, v in
              (("API servers", api), ("etcd", etcd), ("runner", runner))}  # fmt: skip
        print("Event writes instead of ConfigMap writes: " + ", ".join(f"{k} {d:+.2f} %" for k, d in ev.items()))


if __name__ == "__main__":
    main()
