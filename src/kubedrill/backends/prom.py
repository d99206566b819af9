"""Prometheus over its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/), with requests.

GETs: ``/-/ready`` (not retried: callers poll it), and ``/api/v1/targets?state=active``,
``/api/v1/query``, ``/api/v1/query_range``, ``/api/v1/rules?type=alert`` and ``/api/v1/alerts``, which get
one retry of a failed connection or read. The
timeout is ``timeout_s`` as given, for the connect and for the read. (prometheus-api-client did the same three
API calls but took whole-second timeouts, rounded range bounds to whole seconds, put the raw body in its
errors and pulled in dateparser: these few lines replace it.)

Returns plain values; no answer at all (refused, timed out, bad URL) becomes ClusterUnreachable, and any
answer that is not a success BackendError with Prometheus' own ``errorType: error`` text, so a typo in an
SLO profile reads as such and not as a traceback. Times go out as unix seconds with milliseconds and the
range step as float seconds, both as given: nothing is rounded to whole seconds.

The parsing is pure (``api_data``, ``instants``, ``series``, ``targets_of``) and tested without a server.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from kubedrill.backends.http import _short
from kubedrill.errors import BackendError, ClusterUnreachable

READY_TIMEOUT_S = 2.0
_BODY_CHARS = 200  # of an answer kubedrill cannot read, quoted in the error

T = TypeVar("T")


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


@dataclass(frozen=True)
class AlertingRule:
    """An alerting rule as Prometheus loaded it: what it evaluates, how long it must hold, how often."""

    name: str
    query: str
    for_s: float
    interval_s: float  # its group's evaluation interval
    group: str


@dataclass(frozen=True)
class ActiveAlert:
    """An alert Prometheus holds now: pending (its expression true, ``for`` not yet over) or firing."""

    name: str
    state: str  # pending | firing
    active_at: float  # unix seconds: when it became pending
    labels: dict[str, str]


class Prometheus:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        # one more try after a failed connect or read; an HTTP answer, whatever its status, is final
        self._session.mount(self.url, HTTPAdapter(max_retries=Retry(total=1, backoff_factor=0.2)))

    def close(self) -> None:
        self._session.close()

    def _get(self, what: str, path: str, params: dict[str, str], parse: Callable[[Any], T]) -> T:
        try:
            r = self._session.get(f"{self.url}{path}", params=params, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise ClusterUnreachable(
                f"Prometheus at {self.url} did not answer {what}: {type(e).__name__} ({_short(e)}); "
                "check --prometheus-url / KUBEDRILL_PROMETHEUS_URL"
            ) from e
        data = api_data(self.url, what, r.status_code, r.text)
        try:
            return parse(data)
        except (LookupError, TypeError, ValueError, AttributeError) as e:
            raise BackendError(f"Prometheus at {self.url} answered {what} unexpectedly: {e}") from e

    def ready(self) -> bool:
        try:  # not retried: callers poll it
            return requests.get(f"{self.url}/-/ready", timeout=min(READY_TIMEOUT_S, self.timeout_s)).status_code == 200
        except requests.RequestException:
            return False

    def targets(self) -> list[Target]:
        return self._get("a targets request", "/api/v1/targets", {"state": "active"}, targets_of)

    def query(self, promql: str, at: dt.datetime | None = None) -> list[Instant]:
        return self._get(f"query {promql!r}", "/api/v1/query", query_params(promql, at), instants)

    def query_range(self, promql: str, start: dt.datetime, end: dt.datetime, step_s: float) -> list[Series]:
        params = range_params(promql, start, end, step_s)
        return self._get(f"range query {promql!r}", "/api/v1/query_range", params, series)

    def alerting_rules(self) -> list[AlertingRule]:
        return self._get("a rules request", "/api/v1/rules", {"type": "alert"}, alerting_rules_of)

    def alerts(self) -> list[ActiveAlert]:
        return self._get("an alerts request", "/api/v1/alerts", {}, alerts_of)


# ---------------------------------------------------------------- requests and answers, without a server


def unix(t: dt.datetime) -> str:
    """A time as the API takes it: unix seconds with milliseconds (a naive datetime is local time)."""
    return f"{t.timestamp():.3f}"


def query_params(promql: str, at: dt.datetime | None = None) -> dict[str, str]:
    return {"query": promql} | ({"time": unix(at)} if at else {})


def range_params(promql: str, start: dt.datetime, end: dt.datetime, step_s: float) -> dict[str, str]:
    # float seconds, not a duration: Prometheus' durations ("1s") take no fractions
    return {"query": promql, "start": unix(start), "end": unix(end), "step": f"{step_s:g}"}


def api_data(url: str, what: str, status: int, body: str) -> Any:
    """``data`` of an API answer (``{"status": "success", "data": …}``); BackendError naming Prometheus'
    ``errorType`` and ``error`` when it failed (400 bad parameters, 422 cannot execute, 503 timed out), or
    quoting the body when it is not the API's JSON (a proxy's error page, a wrong URL)."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "status" not in doc:
        text = " ".join(body.split())[:_BODY_CHARS]
        raise BackendError(
            f"Prometheus at {url} answered {what} with HTTP {status} and not its API's JSON: {text!r}; "
            "check --prometheus-url / KUBEDRILL_PROMETHEUS_URL"
        )
    if doc["status"] != "success" or not 200 <= status < 300:
        kind, error = doc.get("errorType", "error"), doc.get("error", "no error text")
        raise BackendError(f"Prometheus at {url} rejected {what}: {kind}: {error} (HTTP {status})")
    return doc.get("data")


def _result(data: Any) -> tuple[str, Any]:
    if not isinstance(data, dict) or "resultType" not in data or "result" not in data:
        raise ValueError(f"no resultType and result in {str(data)[:_BODY_CHARS]!r}")
    return data["resultType"], data["result"]


def instants(data: Any) -> list[Instant]:
    """An instant query's ``data``: each element of a vector, or a scalar as one unlabelled value. A range
    vector or a string is refused: not something a check can compare."""
    kind, result = _result(data)
    if kind == "vector":
        # a native histogram's sample has "histogram" instead of "value": NaN, as for a missing value
        return [Instant(dict(r.get("metric", {})), float(r.get("value", (0, "NaN"))[1])) for r in result]
    if kind == "scalar":
        return [Instant({}, float(result[1]))]
    raise ValueError(f"a {kind}, not an instant vector or a scalar")


def series(data: Any) -> list[Series]:
    """A range query's ``data``: a matrix, one Series per label set."""
    kind, result = _result(data)
    if kind != "matrix":
        raise ValueError(f"a {kind}, not a matrix")
    return [Series(dict(r.get("metric", {})), [(float(t), float(v)) for t, v in r.get("values", [])]) for r in result]


def targets_of(data: Any) -> list[Target]:
    """``data`` of ``/api/v1/targets?state=active``."""
    return [
        Target(
            job=t["labels"].get("job", t.get("scrapePool", "")),
            instance=t["labels"].get("instance", ""),
            health=t.get("health", "unknown"),
            last_error=t.get("lastError", ""),
            last_scrape=t.get("lastScrape", ""),
            scrape_interval_s=duration_s(t.get("scrapeInterval", "")),
        )
        for t in data["activeTargets"]
    ]


def alerting_rules_of(data: Any) -> list[AlertingRule]:
    """``data`` of ``/api/v1/rules?type=alert``: every alerting rule of every group."""
    return [
        AlertingRule(r["name"], r["query"], float(r.get("duration", 0)), float(g.get("interval", 0)), g["name"])
        for g in data["groups"]
        for r in g["rules"]
        if r.get("type", "alerting") == "alerting"
    ]


def alerts_of(data: Any) -> list[ActiveAlert]:
    """``data`` of ``/api/v1/alerts``: the alerts pending or firing now."""
    return [
        ActiveAlert(
            a["labels"]["alertname"], a["state"], rfc3339_s(a["activeAt"]), {k: str(v) for k, v in a["labels"].items()}
        )
        for a in data["alerts"]
    ]


def rfc3339_s(text: str) -> float:
    """Unix seconds of an RFC 3339 time as Prometheus writes it (nanoseconds, ``Z`` or an offset)."""
    head, _, tail = text.partition(".")
    if tail:  # Python reads at most microseconds: keep six digits of the fraction, then the zone
        digits = len(tail) - len(tail.lstrip("0123456789"))
        head = f"{head}.{tail[: min(digits, 6)]}{tail[digits:]}"
    return dt.datetime.fromisoformat(head.replace("Z", "+00:00")).timestamp()


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
