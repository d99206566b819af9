"""Chaos Toolkit activities: the names experiments in ``scenarios/`` call, mapped onto kubedrill's drills.

Every activity takes chaoslib's ``configuration``; the drill of the run is found in the run's registry
(``kubedrill.chaos.runs``) by ``kubedrill_run_id``, so the pytest wrapper can read the measurements after
chaoslib returns. Under ``chaos run`` the same functions run unmodified: connection settings come from the
configuration or the environment (KUBECONFIG, KUBEDRILL_*). The drill steps themselves live in their
fault family (``kubedrill.faults.etcd``, ``components``, ``network``, ``drain``, ``restore``; shared steps
in ``kubedrill.faults.steps``), with the ``plan_<activity>`` that ``--dry-run`` prints. Every fault goes
through kubedrill's rollback ledger, so even a ``chaos run`` killed mid-fault can be undone with
``kubedrill recover``.
"""

from __future__ import annotations

from typing import Any

from kubedrill.chaos.runs import NO_REGISTRY, Configuration, current, run_id, runs_of
from kubedrill.drill import DrillRun
from kubedrill.errors import PreconditionFailed
from kubedrill.faults import components, drain, etcd, lb, network, node_lost, restore, steps
from kubedrill.probes import etcd as etcd_probe
from kubedrill.settings import RunSettings


def settings_from(configuration: Configuration) -> RunSettings:
    return RunSettings.from_configuration(configuration)


# ---------------------------------------------------------------- steady state


def etcd_leader_count(configuration: Configuration = None) -> int:
    """Probe: how many distinct leaders the answering members name (1 in steady state)."""
    members = etcd_probe.observe(settings_from(configuration).connect())
    return len({m.leader_id for m in members})


def etcd_members_healthy(configuration: Configuration = None) -> int:
    """Probe: how many etcd members answer ``endpoint status``."""
    return len(etcd_probe.observe(settings_from(configuration).connect()))


def drill_slos_hold(configuration: Configuration = None) -> bool:
    """Probe for the steady-state hypothesis: the SLOs of the drill's fault window held.

    Before the method no drill exists yet, so nothing is violated (True). After the method it is the
    drill's verdict: False when the drill was refused (context guard, pre-flight, quorum guard), when the
    fault never happened, or when any check failed, so that ``chaos run`` reports a deviation and exits
    non-zero rather than "completed" for a drill that measured nothing."""
    runs = runs_of(configuration)
    if runs is None:  # no drill could ever start: say why rather than hold a hypothesis over nothing
        raise PreconditionFailed(NO_REGISTRY)
    run = runs.get(run_id(configuration))
    refused = runs.refusal(run_id(configuration))
    if refused is not None or (run is not None and run.refused is not None):
        return False
    if run is None:
        return True
    return run.fault_window is not None and run.verdict.ok and bool(run.verdict.checks)


# ---------------------------------------------------------------- method


def start_drill(
    drill_id: str,
    title: str = "",
    canary: bool = False,
    canary_replicas: int = 3,
    canary_min_available: int = 2,
    canary_toleration_s: int | None = None,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Action: the drill's namespace and the API prober (and with ``canary``, a 3-replica Deployment guarded
    by a PDB, whose pods leave a lost node after ``canary_toleration_s``), then a steady-state baseline of 10
    successful writes."""
    runs = runs_of(configuration)
    if runs is None:
        raise PreconditionFailed(NO_REGISTRY)
    try:
        run = DrillRun.start(drill_id, title or drill_id, settings_from(configuration), gate=runs.gate)
    except PreconditionFailed as e:
        runs.refuse(run_id(configuration), e)
        raise
    runs.add(run_id(configuration), run)
    return steps.steady_state(run, canary, canary_replicas, canary_min_available, canary_toleration_s)


def judge_fault_window(
    prometheus: list[dict[str, Any]] | None = None,
    alerts: list[dict[str, Any]] | None = None,
    expect_outage: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Probe: the SLO verdict over the fault window: API writes (availability, longest outage, p99 unless
    the outage is the point), recovery after the fault, no acknowledged write lost, and the experiment's
    PromQL checks and alert rules (``{window}`` in an expression becomes the window's length)."""
    return steps.judge_fault_window(current(configuration), prometheus, alerts, expect_outage)


def move_etcd_leader(to: str | None = None, configuration: Configuration = None) -> dict[str, Any]:
    """Action: move etcd leadership to a follower and measure the election; the fault window covers it."""
    return etcd.move_etcd_leader(current(configuration), to)


def assert_leader_move_slos(configuration: Configuration = None) -> dict[str, Any]:
    """Probe: judge_fault_window with the leader-move drill's PromQL checks."""
    return etcd.assert_leader_move_slos(current(configuration))


def kill_etcd_member(role: str = "leader", configuration: Configuration = None) -> dict[str, Any]:
    """Action: SIGKILL the etcd leader (or a follower), prove it, measure the election, await the catch-up."""
    return etcd.kill_etcd_member(current(configuration), role)


def lose_etcd_quorum(
    hold_s: float = 5.0, must_fire: list[str] | None = None, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: stop a majority of etcd members for ``hold_s``; assert the API refused every write meanwhile;
    keep them down until the ``must_fire`` alerts fire in Prometheus, timing each."""
    return etcd.lose_etcd_quorum(current(configuration), hold_s, tuple(must_fire or ()))


def restore_etcd_from_snapshot(
    markers: int = 5, post_snapshot: int = 5, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: the DR drill: snapshot, disaster, restore every member; RTO and the exact RPO set."""
    restore.check_restore_args(markers, post_snapshot)  # argument errors before a missing drill, as ever
    return restore.restore_etcd_from_snapshot(current(configuration), markers, post_snapshot)


def kill_component(component: str, target: str = "any", configuration: Configuration = None) -> dict[str, Any]:
    """Action: SIGKILL one instance of a control-plane component (``target``: a node, ``lease-holder`` or
    ``any``), prove the kill and measure the handover."""
    components.check_kill_component(component)  # argument errors before a missing drill, as ever
    return components.kill_component(current(configuration), component, target)


def stop_every_instance(component: str, hold_s: float = 5.0, configuration: Configuration = None) -> dict[str, Any]:
    """Action: stop every scheduler or controller-manager for ``hold_s``; prove the outage, time the recovery."""
    components.check_stop_every_instance(component)  # argument errors before a missing drill, as ever
    return components.stop_every_instance(current(configuration), component, hold_s)


def stop_component_everywhere(component: str, configuration: Configuration = None) -> dict[str, Any]:
    """Action: stop every scheduler or controller-manager and leave them stopped (each stop proven) for the
    activities that follow, until ``start_component_everywhere`` (or the rollbacks)."""
    components.check_stop_every_instance(component)
    return components.stop_component_everywhere(current(configuration), component)


def start_component_everywhere(component: str, configuration: Configuration = None) -> dict[str, Any]:
    """Action: start them again; time until the canary has every replica Available."""
    components.check_stop_every_instance(component)
    return components.start_component_everywhere(current(configuration), component)


def isolate_node(
    role: str = "leader", hold_s: float = 5.0, ttl_s: int = 120, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: cut the etcd ``role``'s node off from the other control planes and the load balancer."""
    return network.isolate_node(current(configuration), role, hold_s, ttl_s)


def cut_apiserver_from_etcd(
    node: str | None = None, hold_s: float = 8.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: drop one API server's traffic to its etcd for ``hold_s``; the load balancer takes it out."""
    return network.cut_apiserver_from_etcd(current(configuration), node, hold_s)


def etcd_peer_packet_loss(
    probability: float = 0.3, hold_s: float = 10.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: drop ``probability`` of the packets between etcd peers for ``hold_s``, then heal."""
    return network.etcd_peer_packet_loss(current(configuration), probability, hold_s)


def partition_workload_with_policy(
    replicas: int = 2, hold_s: float = 10.0, effect_max_s: float = 10.0, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: a NetworkPolicy admits only one of two client groups to a server; prove it is enforced, heal."""
    return network.partition_workload_with_policy(current(configuration), replicas, hold_s, effect_max_s)


def drain_node(
    node: str | None = None,
    timeout_s: float = 30.0,
    force: bool = False,
    delete_emptydir_data: bool = False,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Action: drain the worker with the most canary pods (or ``node``) through the Eviction API."""
    return drain.drain_node(current(configuration), node, timeout_s, force, delete_emptydir_data)


def lose_node(
    node: str | None = None, must_fire: list[str] | None = None, configuration: Configuration = None
) -> dict[str, Any]:
    """Action: stop a worker's kubelet; NotReady in the API and Prometheus, its pods Ready elsewhere after their
    toleration, the ``must_fire`` alerts fired; then the kubelet back and the node Ready again."""
    return node_lost.lose_node(current(configuration), node, tuple(must_fire or ()))


def lose_load_balancer(hold_s: float = 10.0, configuration: Configuration = None) -> dict[str, Any]:
    """Action: stop the HAProxy serving the API address for ``hold_s``; time the failover to another (none on a
    single HAProxy), while the API prober measures what clients lost."""
    return lb.lose_load_balancer(current(configuration), hold_s)


def rolling_drain(timeout_s: float = 30.0, configuration: Configuration = None) -> dict[str, Any]:
    """Action: drain every worker one at a time, as maintenance would, availability asserted throughout."""
    return drain.rolling_drain(current(configuration), timeout_s)


# ---------------------------------------------------------------- dry-run plans (kubedrill.chaos.plans)

plan_move_etcd_leader = etcd.plan_move_etcd_leader
plan_kill_etcd_member = etcd.plan_kill_etcd_member
plan_lose_etcd_quorum = etcd.plan_lose_etcd_quorum
plan_kill_component = components.plan_kill_component
plan_stop_every_instance = components.plan_stop_every_instance
plan_stop_component_everywhere = components.plan_stop_component_everywhere
plan_isolate_node = network.plan_isolate_node
plan_cut_apiserver_from_etcd = network.plan_cut_apiserver_from_etcd
plan_etcd_peer_packet_loss = network.plan_etcd_peer_packet_loss
plan_partition_workload_with_policy = network.plan_partition_workload_with_policy
plan_drain_node = drain.plan_drain_node
plan_rolling_drain = drain.plan_rolling_drain
plan_lose_node = node_lost.plan_lose_node
plan_lose_load_balancer = lb.plan_lose_load_balancer
plan_restore_etcd_from_snapshot = restore.plan_restore_etcd_from_snapshot


# ---------------------------------------------------------------- rollbacks


def finish_drill(configuration: Configuration = None) -> dict[str, Any]:
    """Rollback: revert every fault (leadership handed back), stop the prober, delete the namespace."""
    runs = runs_of(configuration)
    run = runs.get(run_id(configuration)) if runs is not None else None
    if run is None:
        return {"reverted": "nothing: no drill was started"}
    with run.phase("rollback: revert faults, delete the drill namespace"):
        try:
            run.rollbacks.close()
        finally:
            run.teardown()
    return {"reverted": True, "namespace deleted": run.namespace}
