"""Prometheus over its HTTP API, through prometheus-api-client.

Returns plain values; connection failures become ClusterUnreachable and bad queries BackendError with
Prometheus' own error text, so a typo in an SLO profile reads as such and not as a traceback.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from kubedrill.errors import BackendError, ClusterUnreachable


@dataclass(frozen=True)
class Target:
    job: str
    instance: str
    health: str  # up | down | unknown
    last_error: str
    last_scrape: str  # RFC 3339
    scrape_interval_s: float = 0.0  # as Prometheus reports it for the target ("15s", "1m"); 0 when it does not


@dataclass(frozen=True)
class Instant:
    """One element of an instant vector (a query's answer at one time); the prober's samples are
    ``kubedrill.model.Sample``."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (unix seconds, value)


class Prometheus:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = PrometheusConnect(
            url=self.url, retry=Retry(total=1, backoff_factor=0.2), timeout=int(max(1, timeout_s))
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PrometheusApiClientException as e:
            raise BackendError(f"Prometheus at {self.url} rejected {what}: {e}") from e
        except requests.RequestException as e:
            raise ClusterUnreachable(
                f"Prometheus at {self.url} did not answer {what}: {type(e).__name__}; "
                "check --prometheus-url / KUBEDRILL_PROMETHEUS_URL"
            ) from e

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def targets(self) -> list[Target]:
        data = self._call("a targets request", self._client.get_targets, state="active")
        return [
            Target(
                job=t["labels"].get("job", t.get("scrapePool", "")),
                instance=t["labels"].get("instance", ""),
                health=t.get("health", "unknown"),
                last_error=t.get("lastError", ""),
                last_scrape=t.get("lastScrape", ""),
                scrape_interval_s=duration_s(t.get("scrapeInterval", "")),
            )
            for t in data.get("activeTargets", [])
        ]

    def query(self, promql: str, at: dt.datetime | None = None) -> list[Instant]:
        params = {"time": f"{at.timestamp():.3f}"} if at else None
        result = self._call(f"query {promql!r}", self._client.custom_query, promql, params=params)
        return [_instant(r) for r in result]

    def query_range(self, promql: str, start: dt.datetime, end: dt.datetime, step_s: float) -> list[Series]:
        result = self._call(
            f"range query {promql!r}",
            self._client.custom_query_range,
            promql,
            start_time=start,
            end_time=end,
            step=f"{step_s:g}s",
        )
        return [
            Series(labels=dict(r.get("metric", {})), points=[(float(t), float(v)) for t, v in r.get("values", [])])
            for r in result
        ]


_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_s(text: str) -> float:
    """A Prometheus duration as the targets API prints it ("1s", "15s", "1m30s", "500ms") in seconds; 0 for
    anything else."""
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            number += c
            i += 1
            continue
        unit = "ms" if text[i : i + 2] == "ms" else c
        if unit not in _UNITS_S or not number:
            return 0.0
        total += float(number) * _UNITS_S[unit]
        number = ""
        i += len(unit)
    return total if not number else 0.0


def _instant(r: dict[str, Any]) -> Instant:
    value = r.get("value", [0, "nan"])
    return Instant(labels=dict(r.get("metric", {})), value=float(value[1]))
