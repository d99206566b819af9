"""Drill steps every fault family shares: steady state before the fault, the waits that judge recovery
after it (an etcd member catching up, the canary back), keeping the window open past recovery, and the
SLO verdict over the fault window. A family's own steps live in its module (``faults/etcd.py`` …)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kubedrill import slo
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.prom import Prometheus
from kubedrill.backends.workloads import Workloads
from kubedrill.drill import DrillRun
from kubedrill.errors import ConfigError, DrillError, FaultInjectionError, PreconditionFailed, RecoveryTimeout
from kubedrill.model import Impact
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.alerts import AlertWatch
from kubedrill.probes.alerts import judge as judge_alert_outcome
from kubedrill.probes.prometheus import AlertRule, PromCheck
from kubedrill.probes.workload import Canary
from kubedrill.waiting import wait_until

SETTLE_S = 2.0  # the fault window runs this long past recovery, to catch what follows the fault
# Successful writes in a row before anything is injected: the proof that steady state held (0.5 s at 10 Hz;
# the pre-flight has already seen every etcd member healthy and one leader).
BASELINE_WRITES = 5


def steady_state(
    run: DrillRun,
    canary: bool,
    canary_replicas: int,
    canary_min_available: int,
    canary_toleration_s: int | None = None,
) -> dict[str, Any]:
    """The pre-flight gate, the drill's namespace and the API prober (and with ``canary``, a Deployment
    guarded by a PDB), then a steady-state baseline of ``BASELINE_WRITES`` successful writes in a row. A
    failure refuses the drill."""
    try:
        with run.phase("pre-flight: no pending fault, nodes Ready, etcd members healthy with one leader"):
            run.evidence["pre-flight"] = "; ".join(run.preflight())
        with run.phase("steady state: namespace, API prober, baseline"):
            run.setup_namespace()
            prober = run.start_prober()
            run.start_watcher()
            try:  # the API steady first: only then is a failure below the canary's, not the API's
                baseline = wait_until(
                    f"a steady API ({BASELINE_WRITES} successful writes)",
                    lambda: [s for s in prober.snapshot() if s.op == "write"],
                    lambda ws: sum(s.ok for s in ws[-BASELINE_WRITES:]) == BASELINE_WRITES,
                    timeout_s=30,
                    interval_s=0.05,
                    describe=lambda ws: f"{sum(s.ok for s in ws)} of {len(ws)} writes ok",
                )
            except RecoveryTimeout as e:
                raise PreconditionFailed(f"pre-flight: the API is not available before the drill: {e}") from e
            if canary:
                try:
                    run.await_earlier_pods_gone()
                except RecoveryTimeout as e:
                    raise PreconditionFailed(f"an earlier drill's pods are still being deleted: {e}") from e
                kube = run.cluster.kube()
                run.canary = Canary(
                    Workloads(kube),
                    run.namespace,
                    replicas=canary_replicas,
                    min_available=canary_min_available,
                    toleration_s=canary_toleration_s,
                )
                try:
                    run.canary.create()
                except RecoveryTimeout as e:
                    raise PreconditionFailed(f"the canary never became Available before the drill: {e}") from e
                except DrillError as e:  # the API answered the baseline, then refused or dropped the canary
                    raise PreconditionFailed(f"the canary could not be created before the drill: {e}") from e
    except PreconditionFailed as e:
        raise run.refuse(e) from None
    return {"namespace": run.namespace, "baseline_writes": len(baseline), "backend": run.cluster.backend}


def _prom_checks(
    specs: list[dict[str, Any]] | None, alerts: list[dict[str, Any]] | None
) -> tuple[list[PromCheck], list[AlertRule]]:
    try:
        checks = [PromCheck(**spec) for spec in specs or []]
        rules = [AlertRule(**spec) for spec in alerts or []]
    except TypeError as e:
        raise ConfigError(
            "experiment", "prometheus/alerts", "entries with name, expr, op, threshold (for_s)", str(e)
        ) from e
    return checks, rules


def await_alerts(run: DrillRun, alerts: Sequence[str], fault: str, began: float, took_effect: float) -> None:
    """Keep the fault on until each of ``alerts`` fires in the cluster's Prometheus (or its budget passes, see
    probes.alerts), judge each, and keep when it fired for the run's alert-coverage table. ``began``: when the
    injection began; ``took_effect``: when the fault was seen to take effect (budgets count from it); both on
    the drill's clock."""
    if not alerts:
        return
    url = run.prometheus_url_or_check("alerts the fault must fire", f"a Prometheus to read {', '.join(alerts)} from")
    if not url:
        return
    prom = Prometheus(url)
    try:
        scrape_s = max((t.scrape_interval_s for t in prom.targets()), default=0.0)
        effect, start = run.wall_of(took_effect).timestamp(), run.wall_of(began).timestamp()
        watch = AlertWatch(prom, alerts, fault, scrape_s, since_wall=effect, began_wall=start)
        with run.phase(f"detection: hold the fault until {', '.join(alerts)} fire(s)"):
            outcomes = watch.run()
    finally:
        prom.close()
    for o in outcomes:
        check = judge_alert_outcome(o)
        run.metrics[f"alert_{o.alert}_fired_s"] = o.firing_s
        run.alerts.append(o.record() | {"ok": check.ok, "observed": check.observed})
        run.add(check)


def outlast(limit_s: float) -> float:
    """How long to wait for a condition an SLO of ``limit_s`` judges: past the limit (3 times it, or 30 s more),
    so a slow recovery is measured and fails its check with the time it took rather than "never"."""
    return max(3 * limit_s, limit_s + 30.0)


def await_caught_up(run: DrillRun, node: str, start: float) -> None:
    limit = run.profile.etcd.member_catch_up_max_s
    timed_check(
        run,
        f"etcd on {node} caught up (revision ≥ the others')",
        "member_caught_up_s",
        limit,
        start,
        lambda: wait_until(
            f"etcd on {node} caught up",
            lambda: etcd_probe.observe(run.cluster),
            lambda ms: etcd_probe.caught_up(ms, node),
            timeout_s=outlast(limit),
            interval_s=0.1,
            describe=lambda ms: ", ".join(f"{m.node}@{m.revision}" for m in ms),
        ),
        hint="compare revisions with 'etcdctl endpoint status -w table'",
    )


def timed_check(
    run: DrillRun,
    name: str,
    metric: str,
    limit: float,
    since: float,
    wait: Callable[[], object],
    hint: str = "",
    impact: Impact = Impact.RECOVERY,
) -> float | None:
    """Run ``wait`` (a ``wait_until``, which raises RecoveryTimeout when it gives up), record how long after
    ``since`` it returned as ``metric`` (None: never) and judge that against ``limit`` as the check ``name``."""
    try:
        wait()
        took: float | None = run.now() - since
    except RecoveryTimeout as e:
        took = None
        run.evidence[metric] = str(e)
    run.metrics[metric] = took
    run.add(slo.check_max(name, took, limit, hint=hint, impact=impact))
    return took


def await_apiservers_ready(run: DrillRun, name: str, timeout_s: float) -> float | None:
    """Wait until every API server answers /readyz (the load balancer bypassed); record and judge how long."""
    kube = run.cluster.kube(timeout_s=1.0)
    try:
        return timed_check(
            run,
            name,
            "apiservers_ready_s",
            timeout_s,
            run.now(),
            lambda: wait_until(
                "every API server ready",
                lambda: [n for n, url in sorted(run.cluster.apiserver_of.items()) if not kube.readyz(url)],
                lambda unready: not unready,
                timeout_s=timeout_s,
                interval_s=0.5,
                describe=lambda unready: f"not ready: {', '.join(unready)}",
            ),
        )
    finally:
        kube.close()


def settle(run: DrillRun) -> None:
    """Keep the fault window open past recovery: SETTLE_S at least, to catch what follows the fault, and
    until it spans ``api.window_min_s`` from injection, so availability is a share of enough probes."""
    start = run.fault_window.start if run.fault_window is not None else run.now()
    until = max(run.now() + SETTLE_S, start + run.profile.api.window_min_s)
    run.hold(until - run.now())
    run.end_fault()


CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def workers(cluster: Cluster) -> list[str]:
    """The cluster's worker nodes (no control-plane label), by name."""
    kube = cluster.kube()
    try:
        return sorted(n.name for n in kube.nodes() if CONTROL_PLANE_LABEL not in n.labels)
    finally:
        kube.close()


def require_canary(run: DrillRun) -> Canary:
    if run.canary is None:
        raise PreconditionFailed("this drill needs the canary: start_drill with canary: true")
    return run.canary


def await_canary(run: DrillRun, canary: Canary, replicas: int, since: float, what: str) -> float | None:
    limit = run.profile.nodes.pods_rescheduled_max_s
    return timed_check(
        run,
        f"canary scaled to {replicas}: new pod {what}",
        "canary_reconciled_s",
        limit,
        since,
        lambda: canary.wait_available(replicas, timeout_s=limit + 30),
    )


def judge_fault_window(
    run: DrillRun,
    prometheus: list[dict[str, Any]] | None = None,
    alerts: list[dict[str, Any]] | None = None,
    expect_outage: bool = False,
) -> dict[str, Any]:
    """Probe: the SLO verdict over the fault window: API writes (availability, longest outage, p99 unless
    the outage is the point), recovery after the fault, no acknowledged write lost, and the experiment's
    PromQL checks and alert rules (``{window}`` in an expression becomes the window's length)."""
    checks, rules = _prom_checks(prometheus, alerts)
    if run.fault_open:
        raise FaultInjectionError(f"{run.drill_id}: the fault action did not complete, so there is no window to judge")
    with run.phase("SLO verdict"):
        run.await_recovery()
        samples = run.stop_prober()
        run.api_checks(samples, "write", expect_outage=expect_outage)
        run.ledger_check()
        if checks or rules:
            run.prometheus_checks(checks, rules)
    return {"ok": run.verdict.ok, "checks": [c.line() for c in run.verdict.checks], "metrics": run.metrics}
