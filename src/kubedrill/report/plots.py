"""PNG plots for the report, all on the drill's clock with the fault window shaded: the prober's
availability and latency, who led etcd and held the controller Leases, and a restore's RTO and RPO."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from kubedrill import slo
from kubedrill.model import Observation, Sample, Window

PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
NOBODY_COLOR = "#d62728"
NO_ANSWER_COLOR = "#7f7f7f"


def availability_series(
    samples: Sequence[Sample], op: str, t0: float, bin_s: float = 0.5, stall_s: float | None = None
) -> tuple[list[float], list[float]]:
    """Share of good samples per ``bin_s`` bin (as the verdict judges them), as (bin start from t0, ratio)."""
    bins: dict[int, list[bool]] = {}
    for s in samples:
        if s.op == op:
            bins.setdefault(int((s.t - t0) // bin_s), []).append(slo.is_good(s, stall_s))
    keys = sorted(bins)
    return [k * bin_s for k in keys], [sum(bins[k]) / len(bins[k]) for k in keys]


def timeline_png(
    samples: Sequence[Sample],
    fault: Window | None,
    title: str,
    phases: Sequence[tuple[str, float]] = (),
    stall_s: float | None = None,
) -> bytes:
    """Two panels sharing the time axis: availability (read and write, good probes as the verdict counts
    them) and latency (failed probes in red, the stall threshold dashed)."""
    t0 = 0.0 if not samples else min(s.t for s in samples)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, dpi=100)
    for op, color in (("write", "#1f77b4"), ("read", "#2ca02c")):
        xs, ys = availability_series(samples, op, t0, stall_s=stall_s)
        ax1.step(xs, [y * 100 for y in ys], where="post", label=f"{op} availability", color=color)
        ok = [(s.t - t0, s.latency_s * 1000) for s in samples if s.op == op and s.ok]
        if ok:
            ax2.scatter(*zip(*ok, strict=True), s=4, color=color, label=f"{op} latency")
    failed = [(s.t - t0, s.latency_s * 1000) for s in samples if not s.ok]
    if failed:
        ax2.scatter(*zip(*failed, strict=True), s=10, color="#d62728", marker="x", label="failed probe")
    if stall_s is not None:
        ax2.axhline(stall_s * 1000, color="#d62728", linewidth=0.8, linestyle="--", label="stall threshold")
    for ax in (ax1, ax2):
        if fault is not None:
            ax.axvspan(fault.start - t0, fault.end - t0, color="#ff7f0e", alpha=0.2, label="fault window")
        for _, t in phases:
            ax.axvline(t - t0, color="#7f7f7f", linewidth=0.6, linestyle=":")
    for name, t in phases:
        ax1.annotate(name, (t - t0, 102), fontsize=7, rotation=30, color="#555555")
    ax1.set_ylim(-5, 115)
    ax1.set_ylabel("availability %")
    ax1.legend(loc="lower left", fontsize=8)
    ax2.set_ylabel("latency ms")
    ax2.set_xlabel("seconds since the prober started")
    ax2.set_yscale("log")
    ax2.legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return to_png(fig)


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def holders_png(
    observations: Sequence[Observation],
    subjects: Sequence[str],
    fault: Window | None,
    title: str,
    t0: float,
    end: float | None = None,
) -> bytes:
    """One lane per subject (the etcd leader, each Lease), coloured by holder over time: a handover shows
    as a change of colour, a leaderless gap in red, a reading that failed in grey."""
    subjects = [s for s in subjects if any(o.subject == s for o in observations)]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.7 * max(1, len(subjects))), dpi=100)
    colors: dict[str, str] = {}
    for lane, subject in enumerate(subjects):
        for seg in slo.holder_segments(observations, subject, end):
            if seg.holder == slo.NOBODY:
                color = NOBODY_COLOR
            elif seg.holder == slo.NO_ANSWER:
                color = NO_ANSWER_COLOR
            else:
                name = slo.node_of_holder(seg.holder) or seg.holder  # cp-2_6f1c… → cp-2
                color = colors.setdefault(name, PALETTE[len(colors) % len(PALETTE)])
            ax.broken_barh([(seg.start - t0, max(seg.end - seg.start, 0.05))], (lane - 0.35, 0.7), color=color)
            if seg.term is not None and seg.end - seg.start > 1.5:
                ax.annotate(f"term {seg.term}", (seg.start - t0 + 0.1, lane), fontsize=7, va="center", color="white")
        for h in slo.handovers(observations, subject):
            ax.annotate(
                f"{h.gap_s:.2f} s",
                (h.first_new - t0, lane + 0.38),
                fontsize=7,
                ha="center",
                va="bottom",
                color="#333333",
            )
    if fault is not None:  # edges only: a tint over the lanes would change the holders' colours
        for edge in (fault.start, fault.end):
            ax.axvline(edge - t0, color="#ff7f0e", linewidth=1.5, linestyle="--")
    ax.set_yticks(range(len(subjects)))
    ax.set_yticklabels([s.replace("lease/", "Lease ") for s in subjects], fontsize=8)
    ax.set_ylim(-0.6, len(subjects) - 0.4 + 0.3)
    ax.set_xlabel("seconds since the prober started")
    handles: list[Rectangle | Line2D] = [Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    labels = list(colors)
    handles += [Rectangle((0, 0), 1, 1, color=c) for c in (NOBODY_COLOR, NO_ANSWER_COLOR)]
    labels += ["nobody leads", "no answer"]
    handles.append(Line2D([0], [0], color="#ff7f0e", linewidth=1.5, linestyle="--"))
    labels.append("fault window")
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=min(len(labels), 6), fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return to_png(fig)


def restore_png(stages: Sequence[tuple[str, float]], rto_max_s: float, rpo_s: float, rpo_objects: int) -> bytes:
    """The restore drill's two numbers: RTO as stacked stages against its SLO, RPO as the data lost."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 3.4), dpi=100)
    total = sum(seconds for _, seconds in stages)
    left = 0.0
    for i, (label, seconds) in enumerate(stages):
        ax1.barh(0, seconds, left=left, color=PALETTE[i % len(PALETTE)], label=f"{label}: {seconds:.1f} s")
        left += seconds
    span = max(total, rpo_s, 1.0) * 1.35
    if rto_max_s <= span:
        ax1.axvline(rto_max_s, color=NOBODY_COLOR, linestyle="--", linewidth=1, label=f"RTO SLO {rto_max_s:g} s")
    else:
        ax1.annotate(f"RTO SLO {rto_max_s:g} s →", (0.99, 0.5), xycoords="axes fraction", ha="right", fontsize=8)
    for ax in (ax1, ax2):
        ax.set_xlim(0, span)
        ax.set_yticks([0])
    ax1.set_yticklabels([f"RTO {total:.1f} s"])
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(stages) + 1, 4), fontsize=7)
    ax2.barh(0, rpo_s, color="#8c564b")
    ax2.set_yticklabels([f"RPO {rpo_s:.1f} s"])
    ax2.set_title(
        f"snapshot → disaster: the {rpo_objects} objects written meanwhile were lost, as a restore must lose them",
        fontsize=8,
        loc="left",
    )
    ax2.set_xlabel("seconds")
    fig.suptitle("Restore from snapshot: time to recover (RTO) and data lost (RPO)", fontsize=10)
    fig.tight_layout()
    return to_png(fig)
