"""Benchmark: suite time and runner overhead. Runs drill selections as users do and prints their wall time
(target: `pytest drills/ -m etcd` ≤ 5 min on 2 cores), the runner's peak RSS and, per drill, the runner's
overhead: the drill's wall time minus its fault window (injection to the end of observation), the recovery
after it and the fault's own phases that run past both (the cluster healing: every API server ready again after
a quorum loss) (target ≤ 2 s), with where that time went.

    .venv/bin/python bench/bench_suite.py                          # -m etcd, then -m etcd with quorum loss
    .venv/bin/python bench/bench_suite.py --select all             # the whole drills/ (--allow-quorum-loss)
    .venv/bin/python bench/bench_suite.py --select all-but-paged   # … less the detection drills (~8 min of holds)
    .venv/bin/python bench/bench_suite.py --results reports/allure-results   # overhead of a finished run
                                                                    # (junit.xml beside it, else Allure's times)

Figures come from the run's own Allure results: each drill attaches its measurements (fault window,
time to recover) and its phase timeline; pytest's JUnit XML gives each drill's wall time, fixtures
included.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from benchlib import ROOT, attachment, machine, summary

SELECTIONS = {
    "etcd": ["-m", "etcd"],
    "etcd+quorum": ["-m", "etcd", "--allow-quorum-loss"],
    "all": ["--allow-quorum-loss"],
    "all-but-paged": ["--allow-quorum-loss", "-m", "not detection"],  # without the two ~1.5 and ~6 min paging drills
}
OUTSIDE = ("pre-flight", "steady state", "SLO verdict", "rollback")  # phases that are the runner's, not the fault's


def overhead(results: Path, junit: Path) -> list[tuple[str, float, float, float, dict[str, float]]]:
    """(drill, wall, fault window + recovery, overhead, runner phases and the fault's own phases past the window)
    for every drill that ran."""
    walls = (
        {
            case.get("name", ""): float(case.get("time", 0))
            for case in ET.parse(junit).getroot().iter("testcase")  # noqa: S314 (pytest's own file, just written)
            if case.find("skipped") is None
        }
        if junit.exists()
        else {}
    )
    out = []
    for path in sorted(results.glob("*-result.json")):
        result = json.loads(path.read_text())
        if not junit.exists() and result.get("status") != "skipped":
            # Allure results alone (a run made without --junitxml): the test's own start and stop, which leave
            # out its fixtures' setup and teardown, so the overhead comes out a little lower than with JUnit.
            walls[result["name"]] = (result["stop"] - result["start"]) / 1000
        metrics = attachment(results, result, "measurements")
        phases = attachment(results, result, "phase timeline")
        name = result["name"]
        if not isinstance(metrics, dict) or not isinstance(phases, list) or name not in walls:
            continue
        window = float(metrics.get("fault_window_s") or 0.0)
        recovery = float(metrics.get("time_to_recover_s") or 0.0)
        spent: dict[str, float] = {}
        # The fault window starts at injection; a fault's own phase that runs past the window and the recovery
        # (the quorum-loss drill waiting for every API server's /readyz) is named, so that the overhead left
        # unexplained by the runner's phases is not mistaken for the runner's.
        inject = next((p["start_s"] for p in phases if p["phase"].startswith("inject")), None)
        healed = None if inject is None else inject + window + recovery
        for p in phases:
            if p.get("end_s") is None:
                continue
            kind = next((k for k in OUTSIDE if p["phase"].startswith(k)), None)
            if kind:
                spent[kind] = spent.get(kind, 0.0) + p["end_s"] - p["start_s"]
            elif healed is not None and p["end_s"] - max(p["start_s"], healed) > 0.05:
                spent[f"after the window: {p['phase'][:40]}"] = p["end_s"] - max(p["start_s"], healed)
        # The fault's own phases past the window are the cluster healing (every API server ready again after a
        # quorum loss), not the runner: they count towards the physical floor, and are shown by name.
        physical = window + recovery + sum(v for k, v in spent.items() if k.startswith("after the window"))
        out.append((name, walls[name], physical, walls[name] - physical, spent))
    return out


def run(selection: str, scratch: Path) -> tuple[float, Path, Path, int]:
    results, junit = scratch / selection / "allure-results", scratch / selection / "junit.xml"
    argv = [sys.executable, "-m", "pytest", "drills/", "-p", "no:cacheprovider", "-q", *SELECTIONS[selection]]
    argv += ["--alluredir", str(results), "--junitxml", str(junit)]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    print(f"pytest drills/ {' '.join(SELECTIONS[selection])}: {wall:.0f} s ({wall / 60:.1f} min), {tail}")
    # ru_maxrss of the children: the largest process the run had, which is the runner (pytest) itself; the
    # etcdctl, chaos and kubectl processes it starts are far smaller. A maximum, so over all selections so far.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"runner peak RSS: {peak:.0f} MiB (ru_maxrss of the pytest process)")
    return wall, results, junit, proc.returncode


def report(rows: list[tuple[str, float, float, float, dict[str, float]]], suite_wall: float | None = None) -> None:
    print(f"\n{'drill':78} {'wall':>7} {'fault+rec':>9} {'overhead':>8}  runner phases")
    for name, wall, fault, over, spent in rows:
        phases = ", ".join(f"{k} {v:.1f}" for k, v in spent.items())
        print(f"{name[:78]:78} {wall:6.1f}s {fault:8.1f}s {over:7.1f}s  {phases}")
    print(f"\nrunner overhead per drill: {summary([r[3] for r in rows])} (target: median ≤ 1 s, max ≤ 2 s)")
    floor = sum(r[2] for r in rows)
    walls = sum(r[1] for r in rows)
    print(f"physical floor (the drills' fault windows, recoveries and healing past them): {floor:.0f} s; "
          f"the drills' own wall time {walls:.0f} s (+{walls - floor:.0f} s)")  # fmt: skip
    if suite_wall is not None:
        print(f"the whole run {suite_wall:.0f} s: {suite_wall - floor:+.0f} s over the floor (target ≤ 30 s), of which "
              f"{suite_wall - walls:.0f} s outside any drill (interpreter, collection, session fixtures)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--select", choices=[*SELECTIONS, "default"], default="default")
    parser.add_argument("--results", help="only compute overhead from these Allure results (and junit.xml beside)")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    if args.results:
        results = Path(args.results)
        report(overhead(results, results.parent / "junit.xml"))
        return
    selections = ["etcd", "etcd+quorum"] if args.select == "default" else [args.select]
    rows = []
    wall = None
    with tempfile.TemporaryDirectory(prefix="kubedrill-bench-") as tmp:
        for sel in selections:
            wall, results, junit, _ = run(sel, Path(tmp))
            rows = overhead(results, junit)
        report(rows, wall)


if __name__ == "__main__":
    main()
