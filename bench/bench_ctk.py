"""Benchmark: the etcd leader-kill drill run by Chaos Toolkit alone and by kubedrill, on the same cluster,
in one run, alternating: wall time, and what each detects of the write outage the kill causes.

    .venv/bin/python bench/bench_ctk.py              # 3 rounds of: chaos run (default), chaos run
                                                     # (continuously, 1 s), kubedrill's drill
    .venv/bin/python bench/bench_ctk.py --rounds 5
    .venv/bin/python bench/bench_ctk.py --direct cp-1  # every prober on cp-1's API server, not the LB

Chaos Toolkit runs bench/ctk/leader-kill-plain.yaml: its hypothesis is one API write, checked before and
after the method (default strategy) or also every second during it (``continuously``); the method kills
the leader and pauses 10 s, as long as kubedrill's fault window. kubedrill runs its own drill
(drills/test_etcd.py, the prober at 10 Hz). A separate 10 Hz prober in this script watches throughout,
so each run's real outage is known whichever tool ran.

Through the load balancer the two probers' connections land on different API servers, of which only one (the
killed leader's node's) loses its etcd member, so their outages differ by path, not by precision. ``--direct``
puts this script's prober, kubedrill's and Chaos Toolkit's hypothesis on one API server, and prints kubedrill's
longest outage minus this script's (issue 19, item 3: within ±150 ms on the same path).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import ROOT, connect, kubeconfig_for, layout, machine, prober, scratch_namespace, settle

from kubedrill import slo
from kubedrill.config import ApiSlo
from kubedrill.model import Window
from kubedrill.probes import etcd as etcd_probe

BENCH = Path(__file__).resolve().parent
KUBEDRILL_DRILL = "drills/test_etcd.py::test_api_stays_available_when_the_etcd_leader_is_killed"


@dataclass
class Row:
    tool: str
    wall_s: float
    verdict: str
    detected: str  # what the tool itself reports of the outage
    start: float  # unix seconds
    truth: str = ""  # what the benchmark's own prober saw meanwhile
    outage_s: float | None = None  # the tool's own longest write outage, where it measures one
    truth_outage_s: float | None = None


def chaos_run(strategy: str, ns: str, scratch: Path, kubeconfig: str | None) -> Row:
    probes, journal = scratch / f"probes-{strategy}.jsonl", scratch / f"journal-{strategy}.json"
    probes.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(BENCH), "CTK_NAMESPACE": ns, "CTK_PROBE_LOG": str(probes)}
    if kubeconfig:
        env["CTK_KUBECONFIG"] = kubeconfig
    argv = [sys.executable, "-m", "chaostoolkit", "--no-log-file", "run", "--rollback-strategy=always",
            f"--journal-path={journal}", str(BENCH / "ctk" / "leader-kill-plain.yaml")]  # fmt: skip
    if strategy == "continuously":
        argv[-1:-1] = ["--hypothesis-strategy=continuously", "--hypothesis-frequency=1"]
    start = time.time()
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    data = json.loads(journal.read_text()) if journal.exists() else {}
    seen = [json.loads(line) for line in probes.read_text().splitlines()] if probes.exists() else []
    failed = [p for p in seen if not p["ok"]]
    deviated = ", deviated" if data.get("deviated") else ""
    return Row(
        f"chaos run ({strategy})",
        wall,
        f"{data.get('status', 'no journal')}{deviated} (exit {proc.returncode})",
        f"{len(failed)} of {len(seen)} hypothesis writes failed",
        start,
    )


def kubedrill_run(scratch: Path, kubeconfig: str | None) -> Row:
    results = scratch / "kubedrill-results"
    argv = [sys.executable, "-m", "pytest", KUBEDRILL_DRILL, "-p", "no:cacheprovider", "-q",
            "--alluredir", str(results), "--clean-alluredir"]  # fmt: skip
    env = {**os.environ, "KUBECONFIG": kubeconfig} if kubeconfig else None
    start = time.time()
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    measured: dict[str, float] = {}
    for path in results.glob("*-result.json"):
        for a in json.loads(path.read_text()).get("attachments", []):
            if a["name"] == "measurements":
                measured = json.loads((results / a["source"]).read_text())
    outage, avail = measured.get("longest_outage_s"), measured.get("availability")
    detected = (
        f"longest write outage {outage:.2f} s, availability {avail * 100:.1f} % over the window"
        if outage is not None and avail is not None
        else "no measurements"
    )
    verdict = "passed" if proc.returncode == 0 else f"exit {proc.returncode}"
    return Row("kubedrill", wall, verdict, detected, start, outage_s=outage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--direct", metavar="NODE", help="every prober on NODE's API server instead of the LB")
    args = parser.parse_args()
    cluster = connect()
    kubeconfig = kubeconfig_for(cluster, layout().apiserver_url(args.direct)) if args.direct else None
    path = f"{args.direct}'s API server, directly" if args.direct else "the load balancer"
    print(f"machine: {machine()}\nevery prober through {path}\n")
    rows: list[Row] = []
    with scratch_namespace(cluster, "ctk") as ns, tempfile.TemporaryDirectory() as tmp:
        truth = prober(kubeconfig or cluster.kubeconfig, cluster.context, ns).start()
        clock_offset = time.time() - time.monotonic()
        try:
            for r in range(args.rounds):
                for run in (
                    lambda: chaos_run("default", ns, Path(tmp), kubeconfig),
                    lambda: chaos_run("continuously", ns, Path(tmp), kubeconfig),
                    lambda: kubedrill_run(Path(tmp), kubeconfig),
                ):
                    row = run()
                    w = Window(row.start - clock_offset, time.monotonic())
                    writes = slo.in_window(truth.snapshot(), w, "write")
                    outage = slo.longest_outage_s(writes, w.end, ApiSlo().stall_s)
                    row.truth = f"{outage:.2f} s, {sum(not slo.is_good(s, ApiSlo().stall_s) for s in writes)} bad"
                    row.truth_outage_s = outage
                    rows.append(row)
                    print(f"round {r + 1} {row.tool:26} {row.wall_s:5.1f} s  {row.verdict:28} sees: {row.detected}"
                          f"  (real outage: {row.truth})")  # fmt: skip
                    # back to one leader, all members answering, before the next tool's turn
                    for _ in range(60):
                        members = etcd_probe.observe(cluster)
                        if len(members) == 3 and etcd_probe.leader_of(members) is not None:
                            break
                        time.sleep(0.5)
                    settle(5)
        finally:
            truth.stop()
            if kubeconfig:
                Path(kubeconfig).unlink(missing_ok=True)
    print()
    walls: dict[str, list[float]] = {}
    for row in rows:
        walls.setdefault(row.tool, []).append(row.wall_s)
    kd = statistics.median(walls["kubedrill"])
    for tool, values in walls.items():
        median = statistics.median(values)
        print(f"{tool:26} wall median {median:5.1f} s  (kubedrill / this = {kd / median:.2f})")
    errors = [
        (r.outage_s - r.truth_outage_s) * 1000 for r in rows if r.outage_s is not None and r.truth_outage_s is not None
    ]
    if errors:
        print(f"kubedrill's longest outage − the bench prober's, through {path}: "
              f"{', '.join(f'{e:+.0f} ms' for e in errors)}")  # fmt: skip


if __name__ == "__main__":
    main()
