"""The load balancer in front of the API servers: seed 004's single HAProxy is a single point of failure;
seed 002 puts a health-checked keepalived VIP in front of two."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedrill.drill import DrillRun

pytestmark = [pytest.mark.load_balancer, pytest.mark.destructive]


def test_the_api_survives_losing_the_load_balancer_that_serves_it(
    require_vip: Callable[[], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """scenarios/lb-lost.yaml: the HAProxy holding the VIP stops for 10 s; keepalived moves the VIP to the
    other load balancer within load_balancer.failover_max_s, and the API prober, going through the VIP as every
    client does, loses the API for no longer than api.longest_outage_max_s."""
    require_vip()
    drill = run_scenario("lb-lost.yaml")
    assert all(
        c.ok
        for c in drill.judged(
            "served by another load balancer", "longest API write outage", "under a new PID", "held by exactly one"
        )
    )
