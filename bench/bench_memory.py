"""Benchmark: memory. The embedded cluster's resident memory with 3 and 5 control planes, per component, after
it has run a while (Prometheus' head block and the API servers' caches fill in the first minutes).

    .venv/bin/python bench/bench_memory.py                        # 3 then 5 control planes, 120 s each
    .venv/bin/python bench/bench_memory.py --control-planes 3 --settle 60

Every process under kubedrill's supervisor is counted (the supervisor included), each by the component the
supervisor records it as. RSS counts a shared page in every process that maps it; PSS divides it among them,
so PSS adds up and RSS over-counts. Both come from /proc/<pid>/smaps_rollup.

This re-creates the embedded cluster (``kubedrill down``, ``kubedrill up --control-planes N``) and leaves it up
with 3 control planes, as ``make up`` does. The runner's own peak RSS is bench_suite.py's (ru_maxrss of the
pytest process that runs the drills).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from benchlib import ROOT, layout, machine, pid_of

MIB = 1024


def children_of() -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        out[int(fields[1])].append(int(stat.parent.name))
    return out


def tree(root: int, kids: dict[int, list[int]]) -> list[int]:
    seen, stack = [], [root]
    while stack:
        pid = stack.pop()
        seen.append(pid)
        stack.extend(kids.get(pid, []))
    return seen


def rss_pss_kib(pid: int) -> tuple[int, int]:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0])
    return values["Rss"], values["Pss"]


def component(name: str) -> str:
    """``kube-apiserver-cp-2`` → ``kube-apiserver``; ``kubelet-worker-1`` → ``kubelet (KWOK)``."""
    for prefix in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet"):
        if name.startswith(prefix + "-"):
            return "kubelet (KWOK)" if prefix == "kubelet" else prefix
    return name


def measure() -> dict[str, list[tuple[int, int]]]:
    """component → [(RSS KiB, PSS KiB)] of every process of the cluster."""
    lay = layout()
    names = {pid_of(lay, p.stem): p.stem for p in lay.run_dir.glob("*.json")}
    supervisor = int((lay.run_dir / "supervisor.pid").read_text())
    kids = children_of()
    by: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for top in tree(supervisor, kids):
        name = "supervisor" if top == supervisor else names.get(top)
        if name is None:
            continue  # counted under the component it belongs to
        for pid in tree(top, kids) if top != supervisor else [top]:
            try:
                by[component(name)].append(rss_pss_kib(pid))
            except (OSError, KeyError):
                continue
    return by


def kubedrill(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "kubedrill.cli", *args], cwd=ROOT, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--control-planes", default="3,5", help="comma-separated (default 3,5)")
    parser.add_argument("--settle", type=float, default=120, help="seconds the cluster runs before it is measured")
    args = parser.parse_args()
    sizes = [int(n) for n in args.control_planes.split(",")]
    print(f"machine: {machine()}\n")
    results = {}
    try:
        for n in sizes:
            kubedrill("down")
            kubedrill("up", "--control-planes", str(n))
            time.sleep(args.settle)
            results[n] = measure()
    finally:
        kubedrill("down")
        kubedrill("up")
    comps = sorted({c for r in results.values() for c in r}, key=lambda c: -sum(p for _, p in results[sizes[0]][c]))
    print(f"after {args.settle:.0f} s up, MiB (PSS; RSS in brackets), processes per component")
    print(f"{'component':26}" + "".join(f"{f'{n} control planes':>28}" for n in sizes))
    for c in comps:
        cells = []
        for n in sizes:
            procs = results[n].get(c, [])
            rss, pss = sum(r for r, _ in procs) / MIB, sum(p for _, p in procs) / MIB
            cells.append(f"{pss:8.0f} ({rss:5.0f}) ×{len(procs):<2}")
        print(f"{c:26}" + "".join(f"{cell:>28}" for cell in cells))
    totals = []
    for n in sizes:
        procs = [x for v in results[n].values() for x in v]
        totals.append(f"{sum(p for _, p in procs) / MIB:8.0f} ({sum(r for r, _ in procs) / MIB:5.0f}) ×{len(procs):<2}")
    print(f"{'total':26}" + "".join(f"{t:>28}" for t in totals))
    if len(sizes) == 2:
        a, b = (sum(p for v in results[n].values() for _, p in v) / MIB for n in sizes)
        print(f"\nper control plane added: {(b - a) / (sizes[1] - sizes[0]):.0f} MiB PSS")


if __name__ == "__main__":
    main()
