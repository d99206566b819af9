"""Chaos Toolkit activities: kubedrill's drills, step by step, for experiments in ``scenarios/``.

Every activity takes chaoslib's ``configuration``; a run is identified by ``kubedrill_run_id`` in it, so
the pytest wrapper can read the measurements after chaoslib returns. Under ``chaos run`` the same
functions run unmodified: connection settings come from the configuration or the environment
(KUBECONFIG, KUBEDRILL_*). Every fault goes through kubedrill's rollback ledger, so even a ``chaos run``
killed mid-fault can be undone with ``kubedrill recover``.
"""

from __future__ import annotations

import threading
from typing import Any

from kubedrill.backends.cluster import Cluster
from kubedrill.drill import DrillRun, RunSettings
from kubedrill.errors import FaultInjectionError, PreconditionFailed, RecoveryTimeout
from kubedrill.faults import etcd as etcd_faults
from kubedrill.faults.base import Plan
from kubedrill.model import Check
from kubedrill.probes.prometheus import AlertRule, PromCheck
from kubedrill.waiting import wait_until

_RUNS: dict[str, DrillRun] = {}
_LOCK = threading.Lock()
SETTLE_S = 2.0  # the fault window runs this long past recovery, to catch what follows the fault


def _run_id(configuration: dict[str, Any] | None) -> str:
    return str((configuration or {}).get("kubedrill_run_id", "chaos-run"))


def current(configuration: dict[str, Any] | None) -> DrillRun:
    with _LOCK:
        run = _RUNS.get(_run_id(configuration))
    if run is None:
        raise PreconditionFailed("no drill started: the experiment's method must begin with start_drill")
    return run


def pop(run_id: str) -> DrillRun | None:
    with _LOCK:
        return _RUNS.pop(run_id, None)


def settings_from(configuration: dict[str, Any] | None) -> RunSettings:
    c = configuration or {}
    return RunSettings.from_env(
        {
            "kubeconfig": c.get("kubeconfig"),
            "context": c.get("kube_context"),
            "backend": c.get("kubedrill_backend"),
            "inventory": c.get("kubedrill_inventory"),
            "prometheus_url": c.get("prometheus_url"),
            "slo_profile": c.get("slo_profile"),
            "ledger": c.get("kubedrill_ledger"),
        }
    )


# ---------------------------------------------------------------- steady state


def etcd_leader_count(configuration: dict[str, Any] | None = None) -> int:
    """Probe: how many distinct leaders the answering members name (1 in steady state)."""
    members = etcd_faults.observe(settings_from(configuration).connect())
    return len({m.leader_id for m in members})


def etcd_members_healthy(configuration: dict[str, Any] | None = None) -> int:
    """Probe: how many etcd members answer ``endpoint status``."""
    return len(etcd_faults.observe(settings_from(configuration).connect()))


def drill_slos_hold(configuration: dict[str, Any] | None = None) -> bool:
    """Probe for the steady-state hypothesis: the SLOs of the drill's fault window held.

    Before the method no fault window exists yet, so nothing is violated (True). After the method it is
    the drill's verdict: every check it made (availability, outage, election time, ledger, PromQL)."""
    with _LOCK:
        run = _RUNS.get(_run_id(configuration))
    if run is None or run.fault_window is None:
        return True
    return run.verdict.ok and bool(run.verdict.checks)


# ---------------------------------------------------------------- method


def start_drill(drill_id: str, title: str = "", configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: the drill's namespace and the API prober, then a steady-state baseline of 1 s."""
    run = DrillRun.start(drill_id, title or drill_id, settings_from(configuration))
    with _LOCK:
        _RUNS[_run_id(configuration)] = run
    with run.phase("steady state: namespace, API prober, baseline"):
        run.setup_namespace()
        prober = run.start_prober()
        baseline = wait_until(
            "a steady API (10 successful writes)",
            lambda: [s for s in prober.snapshot() if s.op == "write"],
            lambda ws: sum(s.ok for s in ws[-10:]) == 10,
            timeout_s=30,
            describe=lambda ws: f"{sum(s.ok for s in ws)} of {len(ws)} writes ok",
        )
    return {"namespace": run.namespace, "baseline_writes": len(baseline), "backend": run.cluster.backend}


def move_etcd_leader(to: str | None = None, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: move etcd leadership to a follower and measure the election; the fault window covers it."""
    run = current(configuration)
    fault = etcd_faults.MoveLeader(run.cluster, to)
    with run.phase("inject: etcdctl move-leader"):
        members = etcd_faults.observe(run.cluster)
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.inject(fault)
    with run.phase("fault took effect: a new leader is elected"):
        try:
            leader = wait_until(
                f"a leader other than {fault.original_leader}",
                lambda: etcd_faults.leader_of(etcd_faults.observe(run.cluster)),
                lambda m: m is not None and m.node != fault.original_leader,
                timeout_s=max(30.0, run.profile.etcd.leader_election_max_s * 3),
                interval_s=0.05,
                describe=lambda m: f"leader {m.node if m else 'none'}",
            )
        except RecoveryTimeout as e:
            raise FaultInjectionError(f"leadership never moved away from {fault.original_leader}: {e}") from e
        elected_s = run.now() - start
        assert leader is not None
        run.evidence["leader change"] = f"{fault.original_leader} → {leader.node} in {elected_s:.3f} s"
        run.evidence["confirm"] = fault.confirm()
        run.metrics["leader_election_s"] = elected_s
        run.add(
            Check(
                "a new, different etcd leader",
                f"a leader other than {fault.original_leader}",
                f"{leader.node} (term {leader.raft_term})",
                leader.node != fault.original_leader,
            )
        )
        run.add(
            Check(
                "etcd leader elected within the SLO",
                f"≤ {run.profile.etcd.leader_election_max_s:g} s",
                f"{elected_s:.3f} s",
                elected_s <= run.profile.etcd.leader_election_max_s,
                hint="check 'etcdctl endpoint status -w table' and the etcd members' logs",
            )
        )
    with run.phase("recover: the API settles after the election"):
        wait_until("settle", run.now, lambda t: t - start >= elected_s + SETTLE_S, timeout_s=SETTLE_S + 60)
        run.end_fault()
        run.attachments["etcd members after"] = [m.__dict__ for m in etcd_faults.observe(run.cluster)]
    return {"from": fault.original_leader, "to": leader.node, "elected_s": round(elected_s, 3)}


def assert_leader_move_slos(configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Probe: judge the fault window: API availability and outage, no write lost, Prometheus saw it."""
    run = current(configuration)
    with run.phase("SLO verdict"):
        run.await_recovery()
        samples = run.stop_prober()
        run.api_checks(samples, "write")
        run.ledger_check()
        run.prometheus_checks(
            [
                PromCheck(
                    "Prometheus saw the leader change",
                    'increase(etcd_server_leader_changes_seen_total{job="etcd"}[{window}])',
                    ">=",
                    1,
                )
            ],
            [
                AlertRule(
                    "etcdNoLeader",
                    'etcd_server_has_leader{job="etcd"} == 0',
                    for_s=max(1.0, run.profile.etcd.leader_election_max_s),
                )
            ],
        )
    return {"ok": run.verdict.ok, "checks": [c.line() for c in run.verdict.checks], "metrics": run.metrics}


# ---------------------------------------------------------------- dry-run plans


def plan_move_etcd_leader(cluster: Cluster, to: str | None = None) -> Plan:
    return etcd_faults.MoveLeader(cluster, to).plan()


# ---------------------------------------------------------------- rollbacks


def finish_drill(configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rollback: revert every fault (leadership handed back), stop the prober, delete the namespace."""
    with _LOCK:
        run = _RUNS.get(_run_id(configuration))
    if run is None:
        return {"reverted": "nothing: no drill was started"}
    with run.phase("rollback: revert faults, delete the drill namespace"):
        try:
            run.rollbacks.close()
        finally:
            run.teardown()
    return {"reverted": True, "namespace deleted": run.namespace}
