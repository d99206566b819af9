"""Allure: one step per runbook phase, attachments, environment.properties and categories.json.

allure-pytest writes neither environment.properties nor categories, so kubedrill writes both into the
results directory; the Allure 3 CLI reads categories from the project's ``allurerc`` as well.
Outside pytest (``chaos run``), allure calls are no-ops.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import allure

from kubedrill.model import Observation, Sample

CATEGORIES = [
    {
        "name": "SLO violations",
        "description": "The cluster broke an objective during the fault: the drill failed, the tool worked.",
        "matchedStatuses": ["failed"],
        "messageRegex": ".*SloViolation.*|.*expected .* observed .*",
    },
    {
        "name": "Fault injection failures",
        "description": "A fault could not be injected or did not take effect: nothing was measured.",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": ".*FaultInjectionError.*",
    },
    {
        "name": "Rollback failures",
        "description": "A revert failed: run 'kubedrill recover' and check the cluster.",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": ".*RollbackFailed.*",
    },
    {
        "name": "Unmet preconditions",
        "description": "Steady state did not hold before the drill: nothing was injected.",
        "matchedStatuses": ["broken", "failed", "skipped"],
        "messageRegex": ".*PreconditionFailed.*",
    },
    {"name": "Broken drills", "matchedStatuses": ["broken"]},
]


@contextmanager
def step(title: str) -> Iterator[None]:
    with allure.step(title):
        yield


def attach_text(name: str, body: str) -> None:
    allure.attach(body, name=name, attachment_type=allure.attachment_type.TEXT)


def attach_json(name: str, data: Any) -> None:
    allure.attach(json.dumps(data, indent=2, default=str), name=name, attachment_type=allure.attachment_type.JSON)


def attach_png(name: str, png: bytes) -> None:
    allure.attach(png, name=name, attachment_type=allure.attachment_type.PNG)


def timeline_csv(samples: Sequence[Sample], t0: float) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["t_s", "wall_unix_s", "op", "ok", "latency_ms", "error"])
    for s in sorted(samples, key=lambda s: s.t):
        w.writerow([f"{s.t - t0:.3f}", f"{s.wall:.3f}", s.op, int(s.ok), f"{s.latency_s * 1000:.1f}", s.error])
    return buf.getvalue()


def observations_csv(observations: Sequence[Observation], t0: float) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["t_s", "wall_unix_s", "subject", "holder", "term", "error"])
    for o in sorted(observations, key=lambda o: o.t):
        w.writerow([f"{o.t - t0:.3f}", f"{o.wall:.3f}", o.subject, o.holder or "", o.term or "", o.error])
    return buf.getvalue()


def attach_csv(name: str, body: str) -> None:
    allure.attach(body, name=name, attachment_type=allure.attachment_type.CSV)


def write_environment(results_dir: Path, info: Mapping[str, str]) -> None:
    """environment.properties: key=value lines (Allure's format), values on one line."""
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k}={str(v).replace(chr(10), ' ')}" for k, v in sorted(info.items())]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n")


def write_categories(results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))


def write_run_summary(results_dir: Path, page_html: str, page_md: str, trend_png: bytes | None) -> None:
    """The run summary as Allure *global* attachments (a ``<uuid>-globals.json`` and its files): Allure 3
    shows them on the report's overview, not under any one test."""
    results_dir.mkdir(parents=True, exist_ok=True)
    now_ms = int(time.time() * 1000)
    files: list[tuple[str, bytes, str, str]] = [
        ("run summary", page_html.encode(), "text/html", "html"),
        ("run summary (markdown)", page_md.encode(), "text/markdown", "md"),
    ]
    if trend_png is not None:
        files.append(("trends across runs", trend_png, "image/png", "png"))
    attachments = []
    for name, body, mime, ext in files:
        source = f"{uuid.uuid4()}-attachment.{ext}"
        (results_dir / source).write_bytes(body)
        attachments.append({"name": name, "source": source, "type": mime, "timestamp": now_ms})
    globals_file = results_dir / f"{uuid.uuid4()}-globals.json"
    globals_file.write_text(json.dumps({"attachments": attachments, "errors": []}, indent=2))


def write_perf(results_dir: Path, metrics: Sequence[Mapping[str, Any]]) -> None:
    """Allure 3 performance metrics (``<uuid>-perf.json``): its Metrics section trends them across runs."""
    if metrics:
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / f"{uuid.uuid4()}-perf.json").write_text(json.dumps(list(metrics), indent=2))
