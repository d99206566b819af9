"""Benchmark: leader-change detection. The time from a real etcd leader change, as etcd itself records
it (the new leader's "became leader at term N" log line, stamped by etcd), to kubedrill's watcher
reporting that leader in that term. Target ≤ 200 ms.

    .venv/bin/python bench/bench_leader_detection.py              # 10 changes, the watcher's HTTP reader
    .venv/bin/python bench/bench_leader_detection.py --etcdctl    # the etcdctl reader kind and ssh use

Changes alternate between ``etcdctl move-leader`` (a planned handover) and SIGKILL of the leader (an
election after the election timeout). etcd and this script share the machine's clock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import re
import signal

from benchlib import connect, layout, machine, pid_of, settle, summary

from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.control_plane import ControlPlaneWatcher, WatchSettings

BECAME = re.compile(r"became leader at term (\d+)")


def became_leader(log: str, since_offset: int) -> list[tuple[float, int]]:
    """(unix time, term) of every 'became leader' line after ``since_offset`` in an etcd JSON log."""
    out = []
    with open(log, "rb") as f:
        f.seek(since_offset)
        for raw in f:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            m = BECAME.search(str(rec.get("msg", "")))
            if m:
                ts = dt.datetime.fromisoformat(str(rec["ts"]).replace("Z", "+00:00")).timestamp()
                out.append((ts, int(m.group(1))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--etcdctl", action="store_true", help="read etcd with etcdctl instead of HTTP")
    args = parser.parse_args()
    lay = layout()
    cluster = connect()
    http = None if args.etcdctl else cluster.etcd_status_http()

    read = functools.partial(etcd_probe.leader_now, cluster, http)
    watcher = ControlPlaneWatcher(read, None, (), WatchSettings(etcd_interval_s=0.1)).start()
    logs = {n: str(lay.log_file(f"etcd-{n}")) for n in lay.nodes}
    print(f"machine: {machine()}")
    print(f"reader: {'etcdctl endpoint status' if args.etcdctl else 'etcd HTTP gateway'}, every 100 ms\n")
    delays: dict[str, list[float]] = {"move-leader": [], "kill": []}
    try:
        settle(2)
        for i in range(args.changes):
            how = "move-leader" if i % 2 == 0 else "kill"
            offsets = {n: os.path.getsize(p) for n, p in logs.items()}
            members = etcd_probe.observe(cluster)
            leader = etcd_probe.leader_of(members)
            assert leader is not None, "no leader before the change"
            if how == "move-leader":
                target = etcd_probe.choose_follower(members, None)
                assert cluster.etcd is not None
                cluster.etcd.move_leader(target.member_id, leader.endpoint)
            else:
                os.kill(pid_of(lay, f"etcd-{leader.node}"), signal.SIGKILL)
            settle(4)  # election, restart by the supervisor, the watcher's readings
            elected = [(ts, term, n) for n, p in logs.items() for ts, term in became_leader(p, offsets[n])]
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
            settle(2)
    finally:
        watcher.stop()
        if http is not None:
            http.close()
    print()
    for how, values in delays.items():
        print(f"{how:12} detection delay: {summary(values, 'ms', 1000)}")
    every = delays["move-leader"] + delays["kill"]
    print(f"all          detection delay: {summary(every, 'ms', 1000)} (target ≤ 200 ms)")


if __name__ == "__main__":
    main()
