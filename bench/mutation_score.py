"""Mutation testing of the pure modules with mutmut: how many mutants the unit tests kill, per module.

Prints figures; asserts nothing (the target, ≥ 85 % of mutants killed, lives in BENCHMARKS.md §9).

    .venv/bin/python bench/mutation_score.py                   # from a clean mutants/: mutate, test, print scores
    .venv/bin/python bench/mutation_score.py --no-run          # the scores of the last run (mutants/)
    .venv/bin/python bench/mutation_score.py --no-run --show   # ... and the mutation of every one not killed

mutmut's settings (the files it mutates, the tests and files it copies) are pyproject.toml's ``[tool.mutmut]``;
what is run and counted of them is ``SCOPE`` below. One worker (``--max-children 1``): the 2 cores are shared.
mutmut's own output goes to mutants/mutmut-run.log. A mutant is *killed* when a unit test fails on it, and
*timed out* when the tests ran past mutmut's CPU budget on it (they hung: detected too, so it counts with the
killed in the score); one that *survived* passed every test that runs its function.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
LOG = MUTANTS / "mutmut-run.log"
MUTMUT = Path(sys.executable).with_name("mutmut")

# module (as reported) → mutmut's names of the mutants run and counted (fnmatch patterns)
SCOPE: dict[str, tuple[str, ...]] = {
    "slo": ("kubedrill.slo.*",),
    "config": ("kubedrill.config.*",),
    "preflight": ("kubedrill.preflight.*",),
    "faults.ledger": ("kubedrill.faults.ledger.*",),
    # the rows, the tables, the pages, the history and the Allure metrics; not trends_png, the matplotlib
    # drawing, whose mutants change the colours, sizes and fonts of a picture that no unit test reads
    "report.summary": tuple(
        f"kubedrill.report.summary.{function}__mutmut_*"
        for function in (
            "xǁDrillRowǁfault",
            "xǁDrillRowǁrecovery",
            "xǁDrillRowǁcells",
            "x_text_table",
            "x_markdown_table",
            "x_markdown",
            "x_html_page",
            "x_verdict_counts",
            "x_history_path",
            "x_append_history",
            "x_load_history",
            "x_trend",
            "x_save",
            "x_load",
            "x__perf",
            "x_perf_metrics",
        )
    ),
    "report.score": ("kubedrill.report.score.*",),
    # plans.render is the dry run's dispatch and layout; the plan_<activity> it calls read the live cluster.
    # The pure plan builders: Plan.render (what --dry-run prints of a fault) and drain's plan_evictions.
    "chaos.plans + plan builders": (
        "kubedrill.chaos.plans.*",
        "kubedrill.faults.base.xǁPlanǁrender__mutmut_*",
        "kubedrill.faults.drain.x_plan_evictions__mutmut_*",
    ),
}
# mutmut's exit codes (mutmut.stats.status_by_exit_code), the ones a run here can end with
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 37: "type check"}
STATUS |= dict.fromkeys((36, 24, -24, 152, 255), "timeout")  # SIGXCPU: past its CPU budget
DETECTED = ("killed", "timeout")
COLUMNS = ("killed", "timeout", "survived", "no tests")


def run_mutmut() -> float:
    """Mutate and test from a clean mutants/; returns the wall time in seconds."""
    shutil.rmtree(MUTANTS, ignore_errors=True)
    MUTANTS.mkdir()
    patterns = [p for group in SCOPE.values() for p in group]
    start = time.monotonic()
    with LOG.open("w") as log:
        done = subprocess.run([str(MUTMUT), "run", "--max-children", "1", *patterns], stdout=log, stderr=log)
    if done.returncode != 0:
        print("\n".join(LOG.read_text(errors="replace").splitlines()[-60:]))
        raise SystemExit(f"mutmut run exited {done.returncode} (whole output: {LOG.relative_to(ROOT)})")
    return time.monotonic() - start


def results() -> dict[str, tuple[int | None, str]]:
    """Every mutant's exit code and source file (relative to the root), from mutmut's per-file metadata."""
    out: dict[str, tuple[int | None, str]] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        source = str(meta.relative_to(MUTANTS).with_suffix(""))
        out.update({k: (v, source) for k, v in json.loads(meta.read_text())["exit_code_by_key"].items()})
    return out


def mutation(name: str, source: str) -> str:
    """The mutant's changed lines, as ``mutmut show NAME`` prints them, without the diff's header."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # mutmut's own reader of mutants/

    diff = get_diff_for_mutant(name, path=source).splitlines()
    return "\n".join(x for x in diff if x[:1] in "+-" and x[:3] not in ("+++", "---"))


def group_of(name: str) -> str | None:
    return next((g for g, patterns in SCOPE.items() if any(fnmatch.fnmatch(name, p) for p in patterns)), None)


def line(label: str, counts: Counter[str]) -> str:
    n = sum(counts.values())
    detected = sum(counts[s] for s in DETECTED)
    score = f"{100 * detected / n:.1f} %" if n else "-"
    other = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in COLUMNS)
    row = f"{label:<28}" + "".join(f"{counts[c]:>10}" for c in COLUMNS) + f"{n:>7}{score:>9}  {other}"
    return row.rstrip()


def report(show: bool) -> None:
    codes = results()
    if not codes:
        raise SystemExit("no mutmut results under mutants/: run without --no-run first")
    rows: dict[str, Counter[str]] = {g: Counter() for g in SCOPE}
    outside: Counter[str] = Counter()
    survivors: list[tuple[str, str, str]] = []
    for name, (code, source) in sorted(codes.items()):
        group = group_of(name)
        if group is None:  # in a mutated file, outside the scope: not run
            outside[source] += 1
            continue
        status = STATUS.get(code, "not checked" if code is None else f"exit {code}")
        rows[group][status] += 1
        if status not in DETECTED:
            survivors.append((name, status, source))
    print(f"{'module':<28}" + "".join(f"{c:>10}" for c in COLUMNS) + f"{'total':>7}{'score':>9}")
    total: Counter[str] = Counter()
    for group, counts in rows.items():
        total += counts
        print(line(group, counts))
    print(line("total", total))
    print("score: (killed + timed out) / total")
    if outside:
        print("not run (outside SCOPE): " + ", ".join(f"{n} in {s}" for s, n in sorted(outside.items())))
    print(f"\n{len(survivors)} not killed:" if survivors else "\nevery mutant killed")
    for name, status, source in survivors:
        print(f"  {name}: {status}")
        if show:
            print("    " + mutation(name, source).replace("\n", "\n    "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-run", action="store_true", help="only report the last run's results")
    parser.add_argument("--show", action="store_true", help="print the mutation of every mutant not killed")
    args = parser.parse_args()
    os.chdir(ROOT)  # mutmut reads and writes mutants/ relative to the working directory
    if not args.no_run:
        version = subprocess.run([str(MUTMUT), "--version"], capture_output=True, text=True).stdout.strip()
        print(f"{version}: mutating and testing from a clean mutants/ (one worker) …", flush=True)
        elapsed = run_mutmut()
        print(f"mutmut run: {elapsed:.0f} s wall\n")
    report(args.show)


if __name__ == "__main__":
    main()
