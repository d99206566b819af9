import pytest

from kubedrill.errors import BackendError, RecoveryTimeout
from kubedrill.waiting import wait_until


def test_returns_the_first_value_that_satisfies_done() -> None:
    values = iter([1, 2, 3, 4])
    assert wait_until("three", lambda: next(values), lambda v: v >= 3, timeout_s=5, interval_s=0) == 3


def test_backend_errors_count_as_not_yet() -> None:
    calls = {"n": 0}

    def probe() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise BackendError("connection refused")
        return "ok"

    assert wait_until("ok", probe, lambda v: v == "ok", timeout_s=5, interval_s=0) == "ok"


def test_timeout_names_what_was_last_observed() -> None:
    with pytest.raises(RecoveryTimeout, match=r"leader elected not reached within 0\.3 s; last observed: no leader"):
        wait_until(
            "leader elected",
            lambda: None,
            lambda v: v is not None,
            timeout_s=0.3,
            interval_s=0.05,
            describe=lambda v: "no leader",
        )
