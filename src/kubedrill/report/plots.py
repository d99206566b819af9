"""PNG plots for the report: the prober's availability and latency over time, fault window shaded."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from kubedrill.model import Sample, Window


def availability_series(
    samples: Sequence[Sample], op: str, t0: float, bin_s: float = 0.5
) -> tuple[list[float], list[float]]:
    """Success ratio per ``bin_s`` bin, as (bin start relative to t0, ratio)."""
    bins: dict[int, list[bool]] = {}
    for s in samples:
        if s.op == op:
            bins.setdefault(int((s.t - t0) // bin_s), []).append(s.ok)
    keys = sorted(bins)
    return [k * bin_s for k in keys], [sum(bins[k]) / len(bins[k]) for k in keys]


def timeline_png(
    samples: Sequence[Sample],
    fault: Window | None,
    title: str,
    phases: Sequence[tuple[str, float]] = (),
) -> bytes:
    """Two panels sharing the time axis: availability (read and write) and latency (failed probes in red)."""
    t0 = 0.0 if not samples else min(s.t for s in samples)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, dpi=100)
    for op, color in (("write", "#1f77b4"), ("read", "#2ca02c")):
        xs, ys = availability_series(samples, op, t0)
        ax1.step(xs, [y * 100 for y in ys], where="post", label=f"{op} availability", color=color)
        ok = [(s.t - t0, s.latency_s * 1000) for s in samples if s.op == op and s.ok]
        if ok:
            ax2.scatter(*zip(*ok, strict=True), s=4, color=color, label=f"{op} latency")
    failed = [(s.t - t0, s.latency_s * 1000) for s in samples if not s.ok]
    if failed:
        ax2.scatter(*zip(*failed, strict=True), s=10, color="#d62728", marker="x", label="failed probe")
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
