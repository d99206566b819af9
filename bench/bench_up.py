"""Benchmark: wall time of `kubedrill up` from cached binaries to all-ready, and of the first build.

Prints figures; asserts nothing (targets live in the README and BENCHMARKS.md, not in a timed test).

    .venv/bin/python bench/bench_up.py --runs 3          # up → ready, from cached binaries
    .venv/bin/python bench/bench_up.py --cold-build      # first build into empty Go and kubedrill caches

`up` is timed twice per run: until the cluster is ready (every component healthy, every node Ready)
and until Prometheus has scraped every target once. A cluster that is up before the benchmark is
stopped first and started again at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

KUBEDRILL = [sys.executable, "-m", "kubedrill.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    subprocess.run([*KUBEDRILL, *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def bench_up(runs: int) -> None:
    was_up = subprocess.run([*KUBEDRILL, "status"], capture_output=True).returncode == 0
    subprocess.run([*KUBEDRILL, "down"], check=True, stdout=subprocess.DEVNULL)
    run("build")
    ready, scraped = [], []
    for i in range(runs):
        ready.append(run("up", "--no-wait-prometheus"))
        start = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from kubedrill.local import health; from kubedrill.backends.embedded import "
                "Layout; health.wait_prometheus_targets_up(Layout.load())",
            ],
            check=True,
        )
        scraped.append(ready[-1] + time.monotonic() - start)
        down = run("down")
        print(f"run {i + 1}: ready {ready[-1]:.1f} s, all Prometheus targets up {scraped[-1]:.1f} s, down {down:.1f} s")
    print(
        f"\nkubedrill up → ready (cached binaries, {runs} runs): median {statistics.median(ready):.1f} s, "
        f"max {max(ready):.1f} s  (target ≤ 20 s)"
    )
    print(f"kubedrill up → every Prometheus target scraped: median {statistics.median(scraped):.1f} s")
    if was_up:
        run("up")


def bench_cold_build() -> None:
    with tempfile.TemporaryDirectory(prefix="kubedrill-cold-") as tmp:
        env = dict(os.environ)
        env.update(
            KUBEDRILL_CACHE=f"{tmp}/kubedrill",
            GOCACHE=f"{tmp}/go-build",
            GOMODCACHE=f"{tmp}/go-mod",
        )
        seconds = run("build", env=env)
        # The module cache is read-only by design; make it removable.
        subprocess.run(["chmod", "-R", "u+w", tmp], check=False)
    print(
        f"first build (empty Go module and build caches, {os.cpu_count()} cores): {seconds / 60:.1f} min "
        "(target ≤ 25 min)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold-build", action="store_true", help="time a first build instead of up")
    args = parser.parse_args()
    if args.cold_build:
        bench_cold_build()
    else:
        bench_up(args.runs)


if __name__ == "__main__":
    main()
