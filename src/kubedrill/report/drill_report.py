"""One drill's Allure attachments: the prober timeline (CSV and the availability/latency plot), the etcd
leader and Lease holder timeline, a restore's RTO and RPO, the phase timeline, the evidence, the
measurements, the PromQL results and the SLO verdict. ``DrillRun.report()`` hands its data over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from kubedrill.model import Observation, PhaseRecord, Sample, Window
from kubedrill.report import allure_report, plots


def attach(
    title: str,
    *,
    samples: Sequence[Sample],
    clock_start: float,  # the drill's start on its clock: the timeline's zero when the prober never sampled
    fault_window: Window | None,
    phases: Sequence[PhaseRecord],
    stall_s: float,
    observations: Sequence[Observation],
    leases: Sequence[str],
    metrics: Mapping[str, float | None],
    rto_max_s: float,
    evidence: Mapping[str, str],
    prom_results: Sequence[dict[str, Any]],
    attachments: Mapping[str, Any],
    verdict: str,
) -> None:
    t0 = min((s.t for s in samples), default=clock_start)
    if samples:
        allure_report.attach_csv("prober timeline.csv", allure_report.timeline_csv(samples, t0))
        png = plots.timeline_png(
            samples,
            fault_window,
            f"{title}: API availability and latency",
            [(p.name.split(":")[0][:24], p.start) for p in phases],
            stall_s,
        )
        allure_report.attach_png("availability and latency.png", png)
    if observations:
        subjects = ["etcd", *(f"lease/{name}" for name in leases)]
        end = max(o.t for o in observations)
        png = plots.holders_png(
            observations, subjects, fault_window, f"{title}: etcd leader and Lease holders", t0, end
        )
        allure_report.attach_png("etcd leader and Lease holders.png", png)
        allure_report.attach_csv("leader and Lease timeline.csv", allure_report.observations_csv(observations, t0))
    if metrics.get("rto_s") is not None:
        stages = [
            ("stop everything, data aside", metrics.get("rto_stop_s") or 0.0),
            ("etcdutl restore, etcd elects", metrics.get("rto_restore_s") or 0.0),
            ("API servers up, first write", metrics.get("rto_api_s") or 0.0),
        ]
        png = plots.restore_png(stages, rto_max_s, metrics.get("rpo_s") or 0.0, int(metrics.get("rpo_objects") or 0))
        allure_report.attach_png("RTO and RPO.png", png)
    timeline = [
        {
            "phase": p.name,
            "start_s": round(p.start - t0, 3),
            "end_s": None if p.end is None else round(p.end - t0, 3),
            "started_at": dt.datetime.fromtimestamp(p.wall, dt.UTC).isoformat(),
            "outcome": p.outcome,
        }
        for p in phases
    ]
    allure_report.attach_json("phase timeline", timeline)
    allure_report.attach_json("evidence", evidence)
    allure_report.attach_json("measurements", metrics)
    if prom_results:
        allure_report.attach_json("PromQL results", prom_results)
    for name, data in attachments.items():
        allure_report.attach_json(name, data)
    allure_report.attach_text("SLO verdict", verdict)
