"""Waiting for a condition, with tenacity: one place for poll intervals and timeouts.

``wait_until`` polls ``probe`` until ``done(value)`` holds and returns that value; on timeout it
raises RecoveryTimeout carrying the last value observed, so the message says what was seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

from kubedrill.errors import BackendError, RecoveryTimeout

T = TypeVar("T")


def wait_until(
    what: str,
    probe: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.2,
    describe: Callable[[T], str] = repr,
) -> T:
    """Poll ``probe()`` every ``interval_s`` until ``done`` holds; BackendErrors count as "not yet"."""
    last: list[object] = ["nothing observed"]

    def attempt() -> T:
        try:
            value = probe()
        except BackendError as e:
            last[0] = str(e)
            raise
        last[0] = describe(value)
        return value

    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(interval_s),
        retry=retry_if_exception_type(BackendError) | retry_if_result(lambda v: not done(v)),
        reraise=False,
    )
    try:
        return retrying(attempt)
    except RetryError as e:
        raise RecoveryTimeout(what, timeout_s, last[0]) from e
