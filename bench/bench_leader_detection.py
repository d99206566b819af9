"""Benchmark: leader-change detection. The time from a real etcd leader change, as etcd itself records
it (the new leader's "became leader at term N" log line, stamped by etcd), to kubedrill's watcher
reporting that leader in that term. Target ≤ 150 ms (issue 19).

    .venv/bin/python bench/bench_leader_detection.py              # 30 changes, the watcher's HTTP reader
    .venv/bin/python bench/bench_leader_detection.py --etcdctl    # the etcdctl reader, where certs are not here
    .venv/bin/python bench/bench_leader_detection.py --kubeconfig ~/.kube/config --context kind-kubedrill  # kind

Changes alternate between ``etcdctl move-leader`` (a planned handover) and a kill of the leader (an election
after the election timeout), the kill the drills make: SIGKILL by kubedrill's supervisor on the embedded
cluster, ``crictl stop --timeout 0`` of the static pod on kind. etcd's log is read where it is written: the
supervisor's log file, or the kubelet's pod log inside the node (``/var/log/pods``). etcd and this script
share the machine's clock (kind's nodes are containers on it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import re

from benchlib import connect, layout, machine, settle, summary

from kubedrill.backends.cluster import Cluster
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.control_plane import ControlPlaneWatcher, WatchSettings
from kubedrill.settings import RunSettings

BECAME = re.compile(r"became leader at term (\d+)")


def became_leader(lines: list[str]) -> list[tuple[float, int]]:
    """(unix time, term) of every 'became leader' line of an etcd JSON log: its own lines, or the kubelet's
    pod log of them (``<time> stderr F <etcd's line>``)."""
    out = []
    for raw in lines:
        start = raw.find("{")
        try:
            rec = json.loads(raw[start:]) if start >= 0 else {}
        except ValueError:
            continue
        m = BECAME.search(str(rec.get("msg", "")))
        if m:
            ts = dt.datetime.fromisoformat(str(rec["ts"]).replace("Z", "+00:00")).timestamp()
            out.append((ts, int(m.group(1))))
    return out


class EtcdLogs:
    """Each member's log, read from where the last change left it."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.embedded = cluster.backend == "local"
        self.files = {n: str(layout().log_file(f"etcd-{n}")) for n in cluster.control_planes} if self.embedded else {}
        self.seen: dict[str, int] = {}

    def _lines(self, node: str) -> list[str]:
        if self.embedded:
            with open(self.files[node], errors="replace") as f:
                return f.read().splitlines()
        assert self.cluster.runtime is not None
        glob = "/var/log/pods/kube-system_etcd-*/etcd/*.log"  # every container's log, the killed ones' too
        out = self.cluster.runtime.access.run(node, ["sh", "-c", f"cat {glob}"], check=False)
        return sorted(out.stdout.splitlines())  # CRI lines start with their time: one order over containers

    def mark(self) -> None:
        self.seen = {n: len(self._lines(n)) for n in self.cluster.control_planes}

    def became_leader_since_mark(self) -> list[tuple[float, int, str]]:
        return [
            (ts, term, n)
            for n in self.cluster.control_planes
            for ts, term in became_leader(self._lines(n)[self.seen.get(n, 0) :])
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--etcdctl", action="store_true", help="read etcd with etcdctl instead of HTTP")
    parser.add_argument("--kubeconfig", help="another cluster than the embedded one (kind)")
    parser.add_argument("--context")
    args = parser.parse_args()
    cluster = RunSettings(kubeconfig=args.kubeconfig, context=args.context).connect() if args.kubeconfig else connect()
    assert cluster.runtime is not None, f"no node access on backend {cluster.backend}"
    http = None if args.etcdctl else cluster.etcd_status_http()

    read = functools.partial(etcd_probe.leader_now, cluster, http)
    watcher = ControlPlaneWatcher(read, None, (), WatchSettings(etcd_interval_s=0.1)).start()
    logs = EtcdLogs(cluster)
    print(f"machine: {machine()}")
    reader = "etcdctl endpoint status" if http is None else "etcd HTTP gateway"
    print(f"cluster: {cluster.backend} ({cluster.runtime.name}); reader: {reader}, every 100 ms\n")
    delays: dict[str, list[float]] = {"move-leader": [], "kill": []}
    try:
        settle(2)
        for i in range(args.changes):
            how = "move-leader" if i % 2 == 0 else "kill"
            logs.mark()
            members = etcd_probe.observe(cluster)
            leader = etcd_probe.leader_of(members)
            assert leader is not None, "no leader before the change"
            if how == "move-leader":
                target = etcd_probe.choose_follower(members, None)
                assert cluster.etcd is not None
                cluster.etcd.move_leader(target.member_id, leader.endpoint)
            else:
                cluster.runtime.kill("etcd", leader.node)
            settle(4)  # election, restart by the supervisor or the kubelet, the watcher's readings
            elected = logs.became_leader_since_mark()
            if not elected:
                print(f"{how:12} no 'became leader' line found: skipped")
                continue
            ts, term, node = max(elected, key=lambda e: e[1])  # the last election of this change
            seen = [o for o in watcher.snapshot() if o.holder == node and o.term == term and not o.error]
            if not seen:
                print(f"{how:12} {node} term {term}: never seen by the watcher")
                continue
            delay = seen[0].wall - ts
            delays[how].append(delay)
            print(f"{how:12} {leader.node} → {node} term {term}: etcd {ts:.3f}, kubedrill {seen[0].wall:.3f}, "
                  f"detected after {delay * 1000:.0f} ms")  # fmt: skip
            settle(2 if cluster.backend == "local" else 8)  # a kubelet restarts the member more slowly
    finally:
        watcher.stop()
        if http is not None:
            http.close()
    print()
    for how, values in delays.items():
        print(f"{how:12} detection delay: {summary(values, 'ms', 1000)}")
    every = delays["move-leader"] + delays["kill"]
    print(f"all          detection delay: {summary(every, 'ms', 1000)} (target ≤ 150 ms)")


if __name__ == "__main__":
    main()
