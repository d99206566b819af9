"""Benchmark: where one drill's wall time goes, function by function. Runs pytest on one drill under cProfile
(wall-clock timer, the main thread: chaoslib runs every activity there) and prints the wall time of the parts a
runner's overhead is made of, next to the drill's own fault window and recovery from its Allure measurements.

    .venv/bin/python bench/bench_profile.py -k test_api_refuses_writes_without_quorum --allow-quorum-loss
    .venv/bin/python bench/bench_profile.py -k test_api_stays_available_when_the_etcd_leader_is_killed
    .venv/bin/python bench/bench_profile.py -k ... --top 40      # and the 40 slowest kubedrill functions

Arguments other than --top go to pytest. Profiling slows pure-Python work (imports, plots) by ~1.3-2x, so the
parts are to be read against each other, not as the drill's exact figures without the profiler.
"""

from __future__ import annotations

import argparse
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, attachment, machine

# (label, file suffix, function): the parts of a drill's run that are not its fault. Cumulative wall time of the
# outermost call; nested parts are indented under what contains them.
PARTS = [
    ("imports (interpreter start to pytest's main)", "<frozen importlib._bootstrap>", "_find_and_load"),
    ("collection", "_pytest/main.py", "pytest_collection"),
    ("session fixture: connect, detect the backend", "kubedrill/pytest_plugin.py", "cluster"),
    ("session fixture: Allure environment", "kubedrill/pytest_plugin.py", "_record_environment"),
    ("the drill (chaoslib's run, all of it)", "kubedrill/chaos/runner.py", "run"),
    ("  chaoslib's run_experiment (the activities and its own work)", "chaoslib/experiment.py", "run_experiment"),
    ("  chaoslib: the experiment's own validation", "chaoslib/experiment.py", "ensure_experiment_is_valid"),
    ("  steady state: etcd members agree on one leader", "kubedrill/chaos/activities.py", "etcd_leader_count"),
    ("  start_drill (pre-flight, namespace, prober, baseline)", "kubedrill/chaos/activities.py", "start_drill"),
    ("  the verdict (judge_fault_window)", "kubedrill/faults/steps.py", "judge_fault_window"),
    ("    Prometheus checks", "kubedrill/drill.py", "prometheus_checks"),
    ("      waiting for a scrape after the window", "kubedrill/probes/prometheus.py", "wait_for_scrape"),
    ("  rollback and teardown (finish_drill)", "kubedrill/chaos/activities.py", "finish_drill"),
    ("  after chaoslib: the cluster's events", "kubedrill/drill.py", "collect_events"),
    ("  after chaoslib: teardown (prober, watcher, namespace)", "kubedrill/drill.py", "teardown"),
    ("  the report: plots, attachments", "kubedrill/drill.py", "report"),
    ("    the availability and latency plot (PNG)", "kubedrill/report/plots.py", "timeline_png"),
    ("    the leader and Lease holder plot (PNG)", "kubedrill/report/plots.py", "holders_png"),
    ("  the journal, redacted", "kubedrill/redact.py", "redact"),
    ("session finish: summary, trend, ledger", "kubedrill/pytest_plugin.py", "pytest_sessionfinish"),
    ("terminal summary", "kubedrill/pytest_plugin.py", "pytest_terminal_summary"),
]


def cumulative(stats: pstats.Stats, suffix: str, func: str) -> float | None:
    found = [v[3] for (path, _, name), v in stats.stats.items() if name == func and path.endswith(suffix)]  # type: ignore[attr-defined]
    return max(found) if found else None


def measurements(results: Path) -> dict:
    for path in results.glob("*-result.json"):
        found = attachment(results, json.loads(path.read_text()), "measurements")
        if isinstance(found, dict):
            return found
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=0, help="also list the N kubedrill functions with most wall time")
    args, pytest_args = parser.parse_known_args()
    print(f"machine: {machine()}\n")
    with tempfile.TemporaryDirectory(prefix="kubedrill-bench-") as tmp:
        prof, results = Path(tmp) / "drill.prof", Path(tmp) / "allure"
        argv = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pytest", "drills/", "-p",
                "no:cacheprovider", "-q", "--alluredir", str(results), *pytest_args]  # fmt: skip
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        wall = time.monotonic() - start
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
        print(f"pytest drills/ {' '.join(pytest_args)} under cProfile: {wall:.1f} s, {tail}")
        stats = pstats.Stats(str(prof))
        m = measurements(results)
    window, recovery = float(m.get("fault_window_s") or 0.0), float(m.get("time_to_recover_s") or 0.0)
    print(f"the drill's fault window {window:.2f} s + recovery {recovery:.2f} s = {window + recovery:.2f} s\n")
    for label, suffix, func in PARTS:
        value = cumulative(stats, suffix, func)
        print(f"{label:58} {'—' if value is None else f'{value:6.2f} s'}")
    if args.top:
        print(f"\nthe {args.top} kubedrill functions with the most wall time (cumulative, outermost call):")
        rows = sorted(
            ((v[3], f"{Path(path).name}:{line} {name}") for (path, line, name), v in stats.stats.items()  # type: ignore[attr-defined]
             if "/kubedrill/" in path),
            reverse=True,
        )  # fmt: skip
        for seconds, where in rows[: args.top]:
            print(f"  {seconds:7.2f} s  {where}")


if __name__ == "__main__":
    main()
