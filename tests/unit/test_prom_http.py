"""kubedrill.backends.prom without a Prometheus: the requests it builds, how it reads answers (shaped as the HTTP
API documents them), and which error each failure becomes. Its behaviour against a real Prometheus is
tests/integration (test_embedded_cluster, the drills' PromQL checks)."""

import datetime as dt
import json
import math

import pytest

from kubedrill.backends.prom import (
    Instant,
    Prometheus,
    Series,
    Target,
    api_data,
    instants,
    query_params,
    range_params,
    series,
    targets_of,
)
from kubedrill.errors import BackendError, ClusterUnreachable

URL = "http://127.0.0.1:9090"
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=dt.UTC)


def answer(data: object) -> str:
    return json.dumps({"status": "success", "data": data})


# ---------------------------------------------------------------- requests


def test_an_instant_query_is_at_the_time_given_to_the_millisecond() -> None:
    assert query_params("up") == {"query": "up"}
    assert query_params("up", T0) == {"query": "up", "time": f"{T0.timestamp():.3f}"}
    assert query_params("up", T0)["time"].endswith(".678")


def test_a_range_query_keeps_fractions_of_its_bounds_and_step() -> None:
    # Prometheus' durations ("1s") take no fractions; float seconds do
    params = range_params("up == 0", T0, T0 + dt.timedelta(seconds=9.5), 0.5)
    assert params == {
        "query": "up == 0",
        "start": f"{T0.timestamp():.3f}",
        "end": f"{T0.timestamp() + 9.5:.3f}",
        "step": "0.5",
    }
    assert range_params("up", T0, T0, 1.0)["step"] == "1"


# ---------------------------------------------------------------- answers


def test_a_success_gives_its_data() -> None:
    assert api_data(URL, "query 'up'", 200, answer({"resultType": "vector", "result": []})) == {
        "resultType": "vector",
        "result": [],
    }


@pytest.mark.parametrize(
    ("status", "error_type", "error"),
    [
        (400, "bad_data", 'invalid parameter "query": 1:9: parse error: unexpected end of input'),
        (422, "execution", "query processing would load too many samples into memory"),
        (503, "timeout", "query timed out in expression evaluation"),
    ],
)
def test_a_refusal_names_prometheus_own_error(status: int, error_type: str, error: str) -> None:
    body = json.dumps({"status": "error", "errorType": error_type, "error": error})
    with pytest.raises(BackendError) as e:
        api_data(URL, "query 'rate(up[1m]'", status, body)
    assert type(e.value) is BackendError  # it answered: not ClusterUnreachable
    assert str(e.value) == f"Prometheus at {URL} rejected query 'rate(up[1m]': {error_type}: {error} (HTTP {status})"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (502, "<html>\n  <body>502 Bad Gateway</body>\n</html>"),
        (200, "<!doctype html><title>Grafana</title>"),  # the URL of something else
        (404, "404 page not found"),
        (200, '{"data": {}}'),  # JSON, but not the API's
        (200, ""),
    ],
)
def test_an_answer_that_is_not_the_api_json_is_quoted(status: int, body: str) -> None:
    with pytest.raises(BackendError) as e:
        api_data(URL, "a targets request", status, body)
    assert type(e.value) is BackendError
    text = " ".join(body.split())
    assert f"answered a targets request with HTTP {status} and not its API's JSON: {text!r}" in str(e.value)
    assert "--prometheus-url" in str(e.value)


def test_an_error_status_without_success_is_an_error() -> None:
    with pytest.raises(BackendError, match=r"rejected query 'up': error: no error text \(HTTP 500\)"):
        api_data(URL, "query 'up'", 500, json.dumps({"status": "success", "data": {}}))


def test_a_vector_gives_one_value_per_label_set() -> None:
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"job": "etcd", "instance": "cp-1"}, "value": [1767323045.678, "1"]},
            {"metric": {"job": "etcd", "instance": "cp-2"}, "value": [1767323045.678, "+Inf"]},
            {"metric": {}, "value": [1767323045.678, "NaN"]},
            {"metric": {"__name__": "h"}, "histogram": [1767323045.678, {"count": "2", "sum": "3"}]},
        ],
    }
    got = instants(data)
    assert got[:2] == [
        Instant({"job": "etcd", "instance": "cp-1"}, 1.0),
        Instant({"job": "etcd", "instance": "cp-2"}, math.inf),
    ]
    assert [i.labels for i in got[2:]] == [{}, {"__name__": "h"}]
    assert all(math.isnan(i.value) for i in got[2:])


def test_a_scalar_is_one_unlabelled_value() -> None:
    assert instants({"resultType": "scalar", "result": [1767323045.678, "42.5"]}) == [Instant({}, 42.5)]


@pytest.mark.parametrize("kind", ["matrix", "string"])
def test_an_instant_query_refuses_what_a_check_cannot_compare(kind: str) -> None:
    with pytest.raises(ValueError, match=f"a {kind}, not an instant vector or a scalar"):
        instants({"resultType": kind, "result": []})


def test_a_matrix_gives_the_points_of_each_series() -> None:
    data = {
        "resultType": "matrix",
        "result": [
            {"metric": {"node": "cp-1"}, "values": [[100.5, "0"], [101, "1"]]},
            {"metric": {"node": "cp-2"}, "values": []},
        ],
    }
    assert series(data) == [Series({"node": "cp-1"}, [(100.5, 0.0), (101.0, 1.0)]), Series({"node": "cp-2"}, [])]
    with pytest.raises(ValueError, match="a vector, not a matrix"):
        series({"resultType": "vector", "result": []})
    with pytest.raises(ValueError, match="no resultType and result"):
        series({"result": []})


def test_targets_are_the_active_ones() -> None:
    data = {
        "activeTargets": [
            {
                "discoveredLabels": {"__address__": "127.0.0.1:2381"},
                "labels": {"instance": "cp-1", "job": "etcd"},
                "scrapePool": "etcd",
                "scrapeUrl": "https://127.0.0.1:2381/metrics",
                "lastError": "",
                "lastScrape": "2026-01-02T03:04:05.678+00:00",
                "lastScrapeDuration": 0.003,
                "health": "up",
                "scrapeInterval": "1s",
                "scrapeTimeout": "1s",
            },
            {"labels": {}, "scrapePool": "kwok", "health": "down", "lastError": "connection refused"},
        ],
        "droppedTargets": [{"discoveredLabels": {"job": "x"}}],
    }
    assert targets_of(data) == [
        Target("etcd", "cp-1", "up", "", "2026-01-02T03:04:05.678+00:00", 1.0),
        Target("kwok", "", "down", "connection refused", "", 0.0),
    ]


# ---------------------------------------------------------------- no answer at all


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:1", "Connection refused"),  # nothing listens on port 1 of this machine
        ("127.0.0.1:9090", "InvalidURL"),  # no scheme: nothing is sent
    ],
)
def test_no_answer_is_cluster_unreachable(url: str, reason: str) -> None:
    prom = Prometheus(url, timeout_s=1.5)
    try:
        assert not prom.ready()
        with pytest.raises(ClusterUnreachable) as e:
            prom.query("up")
    finally:
        prom.close()
    assert str(e.value).startswith(f"Prometheus at {url} did not answer query 'up': ")
    assert reason in str(e.value)
    assert str(e.value).endswith("check --prometheus-url / KUBEDRILL_PROMETHEUS_URL")
