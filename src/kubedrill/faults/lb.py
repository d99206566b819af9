"""A lost load balancer: the HAProxy that serves the API address stops, and is kept down for a while.

Seed 004 puts one HAProxy in front of the API servers: when it goes, every client loses the API, however
healthy the control plane behind it. Seed 002 puts a health-checked VIP in front of two: keepalived checks
HAProxy every second, and the load balancer whose HAProxy fails gives the VIP up to the other. The drill
stops the serving HAProxy (kept down ``hold_s``), times how long until another load balancer holds the API
address, and lets the API prober, which goes through that address as every client does, measure the outage.
On a single HAProxy the answer is "never, until it came back": the finding this drill exists to show.
"""

from __future__ import annotations

from typing import Any

from kubedrill import slo
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.loadbalancers import HAPROXY, LoadBalancers
from kubedrill.drill import DrillRun
from kubedrill.errors import PreconditionFailed, RecoveryTimeout
from kubedrill.faults import steps
from kubedrill.faults.base import Plan
from kubedrill.faults.components import StopComponent, runtime_of
from kubedrill.model import Check, Impact
from kubedrill.waiting import wait_until

HAPROXY_BACK_MAX_S = 30.0  # started → answering as a new process (HAProxy reads one small config)


def load_balancers_of(cluster: Cluster) -> LoadBalancers:
    if cluster.load_balancers is None:
        raise PreconditionFailed(f"backend {cluster.backend}: kubedrill cannot stop this cluster's load balancer")
    return cluster.load_balancers


def _serving(lbs: LoadBalancers) -> str:
    if not lbs.lbs:
        return lbs.single
    holders = lbs.holders()  # read once: serving() would read them again to say the same
    if len(holders) != 1:
        raise PreconditionFailed(
            f"the VIP {lbs.vip}: expected held by exactly one load balancer, observed "
            + (f"{len(holders)} ({', '.join(holders)})" if holders else "none: the API address is down already")
        )
    return holders[0]


def lose_load_balancer(run: DrillRun, hold_s: float = 10.0) -> dict[str, Any]:
    """Action: stop the HAProxy that serves the API address, keep it down ``hold_s``, and time the failover to
    another load balancer (none, on a single HAProxy); then start it again."""
    try:  # refused, saying why, before the fault window opens
        lbs = load_balancers_of(run.cluster)
        lost = _serving(lbs)
        down = [lb for lb in lbs.nodes if not lbs.haproxy_serves(lb)]
        if down:  # a standby already dead would turn "no failover" into keepalived's fault, wrongly
            raise PreconditionFailed(
                f"HAProxy on every load balancer answering its monitor URI before the drill: expected "
                f"{', '.join(lbs.nodes)}, observed no answer from {', '.join(down)}"
            )
    except PreconditionFailed as e:
        raise run.refuse(e) from None
    rt = runtime_of(run.cluster, HAPROXY)
    was = rt.instance(HAPROXY, lost)
    fault = StopComponent(run.cluster, HAPROXY, lost)
    limit = run.profile.load_balancer.failover_max_s
    run.evidence["load balancers"] = lbs.describe()
    run.begin_fault(f"stop HAProxy on {lost}")
    with run.phase(f"inject: stop HAProxy on {lost} (it serves the API address) for {hold_s:g} s"):
        run.evidence[f"HAProxy on {lost}"] = run.inject(fault)
        took_effect = run.now()  # the SIGKILL is in the injection: the failover is timed from here, not the confirm
        run.evidence[f"HAProxy on {lost} stopped"] = fault.confirm()
    with run.phase("failover: another load balancer serves the API address"):
        # Bounded by the hold: once HAProxy is back, an address served again proves no failover.
        moved = None
        try:
            moved = wait_until(
                f"a load balancer other than {lost} serving the API address",
                lbs.serving,
                lambda now: now not in (None, lost),
                timeout_s=hold_s,
                interval_s=0.05,
            )
            took: float | None = run.now() - took_effect
        except RecoveryTimeout:
            took = None
        run.metrics["lb_failover_s"] = took
        where = f"the VIP {lbs.vip}" if lbs.vip else "the API address"
        check = slo.check_max(
            f"{where} served by another load balancer after HAProxy on {lost} stopped",
            took,
            limit,
            hint=(
                f"{lost} is the only HAProxy in front of the API servers: a single point of failure (seed 002 puts "
                f"a keepalived VIP in front of two; {lbs.vip_shape})"
                if not lbs.lbs
                else "keepalived's log on both load balancers (VRRP state changes, the haproxy_serves check)"
            ),
            impact=Impact.USERS,
        )
        run.add(check)
        if moved is not None:
            run.evidence["API address now served by"] = moved
        run.hold(hold_s - (run.now() - took_effect))
    with run.phase(f"recover: start HAProxy on {lost}"):
        run.evidence[f"HAProxy on {lost} back"] = run.rollbacks.revert_one(fault)
        # Started is not serving: the load balancer is whole again once its HAProxy, a new process, answers.
        steps.timed_check(
            run,
            f"HAProxy on {lost} serving again under a new PID after its start",
            "lb_haproxy_back_s",
            HAPROXY_BACK_MAX_S,
            run.now(),
            lambda: wait_until(
                f"HAProxy on {lost} answering its monitor URI as a new process",
                lambda: (rt.instance(HAPROXY, lost), lbs.haproxy_serves(lost)),
                lambda seen: seen[0] is not None and seen[0].id != (was.id if was else None) and seen[1],
                timeout_s=HAPROXY_BACK_MAX_S,
                interval_s=0.1,
                describe=lambda seen: (
                    f"instance {seen[0].id if seen[0] else 'none'}, " + ("answers" if seen[1] else "no answer")
                ),
            ),
            hint=f"docker logs {lost}" if rt.name == "container" else f"the {rt.name}'s log for haproxy on {lost}",
        )
    steps.settle(run)
    if lbs.vip is not None:  # after HAProxy came back and the window settled: one holder, not two or none
        holders = lbs.holders()
        run.add(
            Check(
                name=f"the VIP {lbs.vip} held by exactly one load balancer once HAProxy on {lost} was back",
                expected="1 holder",
                observed=f"{len(holders)} ({', '.join(holders) or 'none'})",
                ok=len(holders) == 1,
                hint="two holders: a split brain (VRRP adverts lost between lb-1 and lb-2); none: the API address "
                "is down; keepalived's log on both",
                impact=Impact.USERS,
            )
        )
    return {"lost": lost, "failover_s": took, "metrics": run.metrics}


def plan_lose_load_balancer(cluster: Cluster, **_: Any) -> Plan:
    lbs = load_balancers_of(cluster)
    return StopComponent(cluster, HAPROXY, _serving(lbs)).plan()
