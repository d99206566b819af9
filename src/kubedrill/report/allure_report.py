"""Allure: one step per runbook phase, attachments, environment.properties and categories.json.

allure-pytest writes neither environment.properties nor categories, so kubedrill writes both into the
results directory; the Allure 3 CLI reads categories from the project's ``allurerc`` as well.
Outside pytest (``chaos run``), allure calls are no-ops.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import allure

from kubedrill.model import Sample

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
