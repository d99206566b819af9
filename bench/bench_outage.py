"""Benchmark: outage precision. Outages of known length are injected by freezing every API server
(SIGSTOP … SIGCONT, so the outage starts and ends at an instant) and the prober's longest-outage figure is
compared with the injected length. Target: within ±150 ms.

    .venv/bin/python bench/bench_outage.py                 # 1, 2 and 5 s, 10 times each (30 runs)
    .venv/bin/python bench/bench_outage.py --lengths 1 --runs 3

Two probers run side by side: one straight at an API server (what the prober itself resolves), one
through HAProxy (what users see: HAProxy marks every frozen server down after fall 2 × 500 ms and needs
rise 2 × 500 ms of good checks before it sends traffic again, so users see a longer outage than the
freeze, and that difference is the load balancer's, not the prober's).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchlib import connect, kubeconfig_for, layout, machine, pid_of, prober, scratch_namespace, settle

from kubedrill import slo
from kubedrill.config import ApiSlo
from kubedrill.model import Window

STALL_S = ApiSlo().stall_s  # as drills judge: an answer later than this is unavailability


def signal_all(pids: list[int], sig: str) -> float:
    """Send ``sig`` to every API server; return when the last one got it (monotonic)."""
    import os
    import signal

    for pid in pids:
        os.kill(pid, getattr(signal, f"SIG{sig}"))
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    lay = layout()
    cluster = connect()
    direct_cfg = kubeconfig_for(cluster, cluster.apiserver_of[lay.nodes[0]])
    print(f"machine: {machine()}")
    print(f"freezing {len(lay.nodes)} API servers; prober at 10 Hz, request timeout 1 s, stall {STALL_S:g} s\n")
    print(f"{'injected':>9} {'direct':>9} {'error':>8} {'start':>8} {'end':>8} {'via LB':>9} {'LB extra':>9}")
    errors: dict[float, list[float]] = {}
    ends: dict[float, list[float]] = {}
    extra: dict[float, list[float]] = {}
    with scratch_namespace(cluster, "outage") as ns:
        direct = prober(direct_cfg, None, ns, "direct").start()
        via_lb = prober(cluster.kubeconfig, cluster.context, ns, "via-lb").start()
        try:
            settle(3)
            for length in args.lengths:
                for _ in range(args.runs):
                    pids = [pid_of(lay, f"kube-apiserver-{n}") for n in lay.nodes]
                    start = signal_all(pids, "STOP")
                    time.sleep(length)
                    end = signal_all(pids, "CONT")
                    injected = end - start
                    settle(max(4.0, length))  # the LB's rise, and the prober's next successes
                    window = Window(start - 1.0, time.monotonic())
                    runs = slo.outages(slo.in_window(direct.snapshot(), window, "write"), window.end, STALL_S)
                    o = max(runs, key=lambda r: r.duration_s)
                    v = slo.longest_outage_s(slo.in_window(via_lb.snapshot(), window, "write"), window.end, STALL_S)
                    errors.setdefault(length, []).append(o.duration_s - injected)
                    ends.setdefault(length, []).append(o.end - end)
                    extra.setdefault(length, []).append(v - injected)
                    err_ms, start_ms, end_ms = (
                        (o.duration_s - injected) * 1000,
                        (o.start - start) * 1000,
                        (o.end - end) * 1000,
                    )
                    print(f"{injected:>8.3f}s {o.duration_s:>8.3f}s {err_ms:>+6.0f}ms {start_ms:>+6.0f}ms",
                          f"{end_ms:>+6.0f}ms {v:>8.3f}s {v - injected:>+8.3f}s")  # fmt: skip
                    settle(2)
        finally:
            direct.stop()
            via_lb.stop()
    print()
    worst = max(abs(e) for es in errors.values() for e in es)
    for length in args.lengths:
        es = [e * 1000 for e in errors[length]]
        print(
            f"{length:g} s outage: prober error median {statistics.median(es):+.0f} ms, "
            f"range {min(es):+.0f} … {max(es):+.0f} ms; the first answer after SIGCONT came "
            f"{statistics.median(ends[length]) * 1000:+.0f} ms after it (median); through HAProxy "
            f"+{statistics.median(extra[length]):.2f} s"
        )
    print(f"\nworst prober error {worst * 1000:.0f} ms (target ±150 ms)")
    print("start: first bad probe − SIGSTOP (the 100 ms grid); end: first answer − SIGCONT (the server resuming)")


if __name__ == "__main__":
    main()
