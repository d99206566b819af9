"""The run summary: one row per drill (fault, recovery, longest outage, availability, verdict), printed at
the end of the pytest output, put on the report's first page, and kept as history so trends show across
nightly runs.

Rows are built from a finished ``DrillRun``'s measurements; the verdict comes from pytest's outcome.
History is a JSON-lines file, one line per drill per run, appended at the end of a session; trends are
read back from it. Everything here is plain data and text, except the trend plot.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from kubedrill.report import score
from kubedrill.report.plots import PALETTE, to_png

HISTORY_ENV = "KUBEDRILL_HISTORY"
HISTORY_KEEP = 200  # runs kept (each holds every drill that ran): a nightly job's half year

# The figure that says how long recovery took, by drill family, first present wins; and its label.
RECOVERY_FIGURES: tuple[tuple[str, str], ...] = (
    ("rto_s", "RTO"),
    ("time_to_recover_after_return_s", "recovered after return"),
    ("kube-controller-manager_lease_handover_s", "Lease handover"),
    ("kube-scheduler_lease_handover_s", "Lease handover"),
    ("leader_election_s", "new etcd leader"),
    ("apiserver_ready_s", "API server ready"),
    ("member_caught_up_s", "member caught up"),
    ("rolling_drain_total_s", "rolling drain"),
    ("evicted_pods_ready_s", "pods Ready elsewhere after NotReady"),
    ("time_to_recover_s", "API steady after fault"),
)
# Figures whose trend is worth a line across runs (when the drill records them).
TREND_FIGURES: tuple[tuple[str, str], ...] = (
    ("rto_s", "RTO s"),
    ("leader_election_s", "etcd election s"),
    ("kube-controller-manager_lease_handover_s", "controller-manager Lease handover s"),
    ("kube-scheduler_lease_handover_s", "scheduler Lease handover s"),
    ("member_caught_up_s", "member caught up s"),
    ("apiserver_ready_s", "API server ready s"),
    ("time_to_recover_after_return_s", "recovery after return s"),
    ("node_not_ready_s", "node NotReady s"),
    ("longest_outage_s", "longest outage s"),
)


@dataclass
class DrillRow:
    """One drill of the run, as the summary table shows it."""

    nodeid: str
    drill: str
    title: str
    faults: list[str] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # every check judged, as score.record keeps it
    alerts: list[dict[str, Any]] = field(default_factory=list)  # alerts the fault had to fire: when each did
    verdict: str = "unknown"  # passed | SLO violated | broken | not run | skipped
    reason: str = ""
    started: float = 0.0  # unix seconds
    duration_s: float | None = None

    @property
    def fault(self) -> str:
        if not self.faults:
            return "none injected"
        head = self.faults[0]
        return head if len(self.faults) == 1 else f"{head} (+{len(self.faults) - 1} more)"

    def recovery(self) -> tuple[str, float] | None:
        """The first recovery figure this drill measured, with its label."""
        for key, label in RECOVERY_FIGURES:
            value = self.metrics.get(key)
            if value is not None:
                return label, float(value)
        return None

    def cells(self) -> list[str]:
        rec = self.recovery()
        availability = self.metrics.get("availability")
        outage = self.metrics.get("longest_outage_s")
        return [
            self.drill,
            self.fault,
            "-" if rec is None else f"{rec[1]:.2f} s ({rec[0]})",
            "-" if outage is None else f"{outage:.2f} s",
            "-" if availability is None else f"{availability * 100:.1f} %",
            self.verdict,
        ]


HEADERS = ["drill", "fault", "recovery", "longest outage", "availability", "verdict"]


def run_score(rows: Iterable[DrillRow]) -> score.Score:
    """The run's resilience score (report.score) over its drills' checks."""
    return score.score((r.drill, r.verdict, r.checks) for r in rows)


ALERT_HEADERS = ["drill", "fault", "alert", "time to fire"]


def alert_coverage(rows: Iterable[DrillRow]) -> list[list[str]]:
    """Fault × alert: each alert a drill's fault had to fire, with how long after the fault it fired."""
    out = []
    for r in rows:
        for a in r.alerts:
            fired, budget = a.get("fired_s"), a.get("budget_s")
            within = "" if budget is None else f" (budget {budget:g} s)"
            when = "did not fire" if fired is None else f"{fired:.1f} s"
            if a.get("ok") is False and fired is not None:  # fired, but late or already active before the fault
                when = f"FAILED: {a.get('observed', '')}"
            elif fired is None and a.get("observed"):
                when = f"did not fire: {str(a['observed']).removeprefix('did not fire: ')}"
            out.append([r.drill, str(a.get("fault", "")), str(a.get("alert", "")), when + within])
    return out


def score_lines(rows: Sequence[DrillRow]) -> list[str]:
    """The alert coverage, the score's headline, then a line per failed check (costliest first) on what to
    look at."""
    result = run_score(rows)
    coverage = [f"alert {alert} after {fault} ({drill}): {when}" for drill, fault, alert, when in alert_coverage(rows)]
    return [*coverage, result.headline(), *(f"  {f.text()}" for f in result.findings)]


def text_table(rows: Sequence[DrillRow], width: int = 160) -> str:
    """A fixed-width table for the terminal; the fault column gives way first when space is short."""
    table = [HEADERS, *(r.cells() for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
    spare = width - sum(widths) - 2 * (len(widths) - 1)
    if spare < 0:
        widths[1] = max(12, widths[1] + spare)
    lines = []
    for n, row in enumerate(table):
        cells = [c if len(c) <= widths[i] else c[: widths[i] - 1] + "…" for i, c in enumerate(row)]
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[DrillRow]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(esc(c) for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def markdown(rows: Sequence[DrillRow], title: str, environment: Mapping[str, str]) -> str:
    counts = verdict_counts(rows)
    result = run_score(rows)
    out = [f"# {title}", "", ", ".join(f"{n} {v}" for v, n in counts.items()) or "no drills ran", ""]
    out += [f"**{result.headline()}**", "", markdown_table(rows), ""]
    coverage = alert_coverage(rows)
    if coverage:
        out += ["## Alert coverage", "", "| " + " | ".join(ALERT_HEADERS) + " |", "|" + "---|" * len(ALERT_HEADERS)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in coverage] + [""]
    if result.findings:
        out += ["## What to look at (failed checks, costliest first)", ""]
        out += [f"- {f.text().replace('|', chr(92) + '|')}" for f in result.findings] + [""]
    failed = [r for r in rows if r.failed_checks or r.reason]
    if failed:
        out += ["## What failed", ""]
        for r in failed:
            out.append(f"- **{r.drill}** ({r.verdict}): " + "; ".join(r.failed_checks or [r.reason]))
        out.append("")
    if environment:
        out += ["## Cluster", ""] + [f"- {k}: {v}" for k, v in sorted(environment.items())] + [""]
    return "\n".join(out)


VERDICT_COLORS = {"passed": "#2e7d32", "SLO violated": "#c62828", "broken": "#ef6c00", "not run": "#6d4c41"}


def html_page(
    rows: Sequence[DrillRow],
    title: str,
    environment: Mapping[str, str],
    trend_png: str = "",
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """A self-contained HTML page (inline CSS, the trend plot inline as data: URL); ``links`` (text, relative
    href) lead on to the full reports when the page is the report's first page."""
    counts = verdict_counts(rows)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = []
    for r in rows:
        cells = r.cells()
        color = VERDICT_COLORS.get(r.verdict, "#455a64")
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells[:-1])
        tds += f'<td style="color:{color};font-weight:600">{html.escape(cells[-1])}</td>'
        body.append(f"<tr>{tds}</tr>")
        if r.failed_checks or r.reason:
            why = "<br>".join(html.escape(c) for c in (r.failed_checks or [r.reason]))
            body.append(f'<tr class="why"><td></td><td colspan="{len(HEADERS) - 1}">{why}</td></tr>')
    env = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in sorted(environment.items()))
    trend = (
        f'<h2>Trends across runs</h2><img alt="trends" src="data:image/png;base64,{trend_png}">' if trend_png else ""
    )
    tally = ", ".join(f"{n} {html.escape(v)}" for v, n in counts.items()) or "no drills ran"
    result = run_score(rows)
    findings = "".join(f"<li>{html.escape(f.text())}</li>" for f in result.findings)
    findings = f'<h2>What to look at</h2><ol id="findings">{findings}</ol>' if findings else ""
    coverage = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in alert_coverage(rows)
    )
    if coverage:
        heads = "".join(f"<th>{html.escape(h)}</th>" for h in ALERT_HEADERS)
        table = f"<thead><tr>{heads}</tr></thead><tbody>{coverage}</tbody>"
        coverage = f'<h2>Alert coverage</h2><table id="alerts">{table}</table>'
    nav = " · ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for text, href in links)
    nav = f'<p id="links">{nav}</p>' if nav else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #263238; }}
table {{ border-collapse: collapse; font-size: 14px; }}
th, td {{ border-bottom: 1px solid #cfd8dc; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #eceff1; }}
tr.why td {{ color: #b71c1c; font-size: 12px; border-bottom: 1px solid #cfd8dc; }}
#score {{ font-size: 18px; font-weight: 600; }}
img {{ max-width: 100%; }}
</style></head>
<body><h1>{html.escape(title)}</h1>{nav}<p id="tally">{tally}</p>
<p id="score">{html.escape(result.headline())}</p>
<table id="drills"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
{coverage}{findings}{trend}<h2>Cluster</h2><ul>{env}</ul></body></html>
"""


def verdict_counts(rows: Iterable[DrillRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


# ---------------------------------------------------------------- history and trends


def history_path(reports_dir: Path) -> Path:
    """``$KUBEDRILL_HISTORY``, else ``<reports>/history/drills.jsonl`` (the directory CI keeps between runs)."""
    env = os.environ.get(HISTORY_ENV)
    return Path(env) if env else reports_dir / "history" / "drills.jsonl"


def append_history(path: Path, run_id: str, rows: Sequence[DrillRow]) -> None:
    """One line per drill that ran (skipped ones carry no figures), then keep the newest HISTORY_KEEP runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"run": run_id, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **asdict(r)})
        for r in rows
        if r.verdict not in ("skipped",)
    ]
    if not lines:
        return
    with path.open("a+b") as f:
        # A run killed mid-write leaves a line without its newline: end it, or this run's first line joins it.
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write(("\n".join(lines) + "\n").encode())
    entries = load_history(path)
    runs = list(dict.fromkeys(e["run"] for e in entries))
    if len(runs) > HISTORY_KEEP:
        keep = set(runs[-HISTORY_KEEP:])
        trimmed = path.with_suffix(".trimming")
        trimmed.write_text("".join(json.dumps(e) + "\n" for e in entries if e["run"] in keep))
        os.replace(trimmed, path)  # a run killed mid-trim leaves the old history, never half of it


def load_history(path: Path) -> list[dict[str, Any]]:
    """Every line that parses; a damaged line (a run killed mid-write) is skipped, not fatal."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "run" in entry and "drill" in entry:
            out.append(entry)
    return out


@dataclass(frozen=True)
class TrendPoint:
    run: str
    at: str
    value: float
    verdict: str


SCORE_PANEL = "the whole run"


def trend(history: Sequence[Mapping[str, Any]], drill: str, metric: str) -> list[TrendPoint]:
    """The drill's ``metric`` over the runs in ``history``, oldest first."""
    points = []
    for e in history:
        value = (e.get("metrics") or {}).get(metric)
        if e.get("drill") == drill and isinstance(value, int | float):
            points.append(TrendPoint(str(e["run"]), str(e.get("at", "")), float(value), str(e.get("verdict", ""))))
    return points


def trends_png(
    history: Sequence[Mapping[str, Any]], drills: Sequence[str], title: str, with_score: bool = False
) -> bytes | None:
    """A panel per drill with its key figures across runs (first, with ``with_score``, the run's resilience
    score); None when nothing has two runs yet."""
    panels: list[tuple[str, list[tuple[str, list[TrendPoint]]]]] = []
    scores = score.run_scores(history) if with_score else []
    if len(scores) >= 2:
        points = [TrendPoint(run, "", value, "") for run, value in scores]
        panels.append((SCORE_PANEL, [("resilience score (0-100)", points)]))
    for drill in drills:
        series = [(label, trend(history, drill, key)) for key, label in TREND_FIGURES]
        series = [(label, pts) for label, pts in series if len(pts) >= 2]
        if series:
            panels.append((drill, series))
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.0 + 2.0 * len(panels)), dpi=100, squeeze=False)
    for ax, (drill, series) in zip(axes[:, 0], panels, strict=True):
        for i, (label, pts) in enumerate(series):
            xs = list(range(1, len(pts) + 1))
            ax.plot(xs, [p.value for p in pts], marker="o", color=PALETTE[i % len(PALETTE)], label=label)
            bad = [(x, p.value) for x, p in zip(xs, pts, strict=True) if p.verdict not in ("passed", "")]
            if bad:
                ax.scatter(*zip(*bad, strict=True), color="#d62728", marker="x", s=40, zorder=3)
        ax.set_title(drill, fontsize=9, loc="left")
        ax.set_ylabel("score" if drill == SCORE_PANEL else "s", fontsize=8)
        ax.legend(fontsize=7, loc="upper left")
        ax.set_xticks(range(1, max(len(pts) for _, pts in series) + 1))
    axes[-1, 0].set_xlabel("run (oldest → newest); red × = the drill did not pass")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return to_png(fig)


# ---------------------------------------------------------------- carried from the run to `kubedrill report`

SUMMARY_FILE = "kubedrill-summary.json"  # in the Allure results dir; Allure ignores files it does not know


def save(results_dir: Path, rows: Sequence[DrillRow], title: str, environment: Mapping[str, str], trend: str) -> Path:
    path = results_dir / SUMMARY_FILE
    data = {"title": title, "environment": dict(environment), "trend_png": trend, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(data, indent=2))
    return path


def load(results_dir: Path) -> tuple[list[DrillRow], str, dict[str, str], str] | None:
    """The run summary saved next to the results, or None when the results hold none (or a damaged one)."""
    path = results_dir / SUMMARY_FILE
    try:
        data = json.loads(path.read_text())
        rows = [DrillRow(**r) for r in data["rows"]]
        return rows, str(data["title"]), dict(data["environment"]), str(data.get("trend_png", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


PERF_GROUPS = (  # (group, metric, unit, better)
    ("election", "leader_election_s", "s", "lower"),
    ("outage", "longest_outage_s", "s", "lower"),
    ("rto", "rto_s", "s", "lower"),
)


def _perf(row: DrillRow, group: str, value: float, unit: str, better: str, title: str) -> dict[str, Any]:
    start_ms = int(row.started * 1000)
    return {
        "id": f"{row.nodeid}:{group}",
        "key": f"{group}.{row.drill}",
        "value": round(value, 3),
        "start": start_ms,
        "stop": start_ms + int((row.duration_s or 0.0) * 1000),
        "title": title,
        "unit": unit,
        "better": better,
        "group": group,
    }


def perf_metrics(rows: Sequence[DrillRow]) -> list[dict[str, Any]]:
    """The drills' figures as Allure 3 performance metrics (``*-perf.json``): one key per drill and figure,
    so the report's Metrics section shows each with its change since the previous run."""
    out: list[dict[str, Any]] = []
    result = run_score(rows)
    if result.value is not None and rows:
        start_ms = int(min((r.started for r in rows if r.started > 0), default=0.0) * 1000)
        stop_ms = int(max(r.started + (r.duration_s or 0.0) for r in rows) * 1000)
        out.append(
            {
                "id": "kubedrill-run:resilience",
                "key": "resilience.run",
                "value": result.value,
                "start": start_ms,
                "stop": stop_ms,
                "title": "resilience score of the run (0-100)",
                "unit": "points",
                "better": "higher",
                "group": "resilience",
            }
        )
    for r in rows:
        rec = r.recovery()
        if rec is not None:
            out.append(_perf(r, "recovery", rec[1], "s", "lower", f"{r.drill}: {rec[0]}"))
        availability = r.metrics.get("availability")
        if availability is not None:
            out.append(_perf(r, "availability", availability * 100, "%", "higher", f"{r.drill}: write availability"))
        for group, key, unit, better in PERF_GROUPS:
            value = r.metrics.get(key)
            if value is not None:
                out.append(_perf(r, group, float(value), unit, better, f"{r.drill}: {key}"))
    return out
