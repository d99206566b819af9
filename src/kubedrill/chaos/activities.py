"""Chaos Toolkit activities: kubedrill's drills, step by step, for experiments in ``scenarios/``.

Every activity takes chaoslib's ``configuration``; a run is identified by ``kubedrill_run_id`` in it, so
the pytest wrapper can read the measurements after chaoslib returns. Under ``chaos run`` the same
functions run unmodified: connection settings come from the configuration or the environment
(KUBECONFIG, KUBEDRILL_*). Every fault goes through kubedrill's rollback ledger, so even a ``chaos run``
killed mid-fault can be undone with ``kubedrill recover``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubedrill import slo
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.kube import Workloads
from kubedrill.chaos.runs import NO_REGISTRY, current, run_id, runs_of
from kubedrill.drill import DrillRun, RunSettings
from kubedrill.errors import ConfigError, FaultInjectionError, PreconditionFailed, RecoveryTimeout
from kubedrill.faults import etcd as etcd_faults
from kubedrill.faults import restore as restore_faults
from kubedrill.faults.base import Plan
from kubedrill.faults.components import KillComponent, StopComponent
from kubedrill.faults.drain import Drain, DrainOptions
from kubedrill.faults.network import Cut, Partition
from kubedrill.model import Check, Window
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.prometheus import AlertRule, PromCheck
from kubedrill.probes.workload import AvailabilityWatch, Canary
from kubedrill.waiting import wait_until

SETTLE_S = 2.0  # the fault window runs this long past recovery, to catch what follows the fault


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
            "allow_quorum_loss": c.get("kubedrill_allow_quorum_loss"),
            "allow_contexts": c.get("kubedrill_allow_context"),
        }
    )


# ---------------------------------------------------------------- steady state


def etcd_leader_count(configuration: dict[str, Any] | None = None) -> int:
    """Probe: how many distinct leaders the answering members name (1 in steady state)."""
    members = etcd_probe.observe(settings_from(configuration).connect())
    return len({m.leader_id for m in members})


def etcd_members_healthy(configuration: dict[str, Any] | None = None) -> int:
    """Probe: how many etcd members answer ``endpoint status``."""
    return len(etcd_probe.observe(settings_from(configuration).connect()))


def drill_slos_hold(configuration: dict[str, Any] | None = None) -> bool:
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
    configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Action: the drill's namespace and the API prober (and with ``canary``, a 3-replica Deployment guarded
    by a PDB), then a steady-state baseline of 10 successful writes."""
    runs = runs_of(configuration)
    if runs is None:
        raise PreconditionFailed(NO_REGISTRY)
    try:
        run = DrillRun.start(drill_id, title or drill_id, settings_from(configuration), gate=runs.gate)
    except PreconditionFailed as e:
        runs.refuse(run_id(configuration), e)
        raise
    runs.add(run_id(configuration), run)
    try:
        with run.phase("pre-flight: no pending fault, nodes Ready, etcd members healthy with one leader"):
            run.evidence["pre-flight"] = "; ".join(run.preflight())
        with run.phase("steady state: namespace, API prober, baseline"):
            run.setup_namespace()
            prober = run.start_prober()
            run.start_watcher()
            try:
                baseline = wait_until(
                    "a steady API (10 successful writes)",
                    lambda: [s for s in prober.snapshot() if s.op == "write"],
                    lambda ws: sum(s.ok for s in ws[-10:]) == 10,
                    timeout_s=30,
                    describe=lambda ws: f"{sum(s.ok for s in ws)} of {len(ws)} writes ok",
                )
            except RecoveryTimeout as e:
                raise PreconditionFailed(f"pre-flight: the API is not available before the drill: {e}") from e
            if canary:
                kube = run.cluster.kube()
                run.canary = Canary(
                    Workloads(kube), run.namespace, replicas=canary_replicas, min_available=canary_min_available
                )
                try:
                    run.canary.create()
                except RecoveryTimeout as e:
                    raise PreconditionFailed(f"the canary never became Available before the drill: {e}") from e
    except PreconditionFailed as e:
        raise run.refuse(e) from None
    return {"namespace": run.namespace, "baseline_writes": len(baseline), "backend": run.cluster.backend}


def move_etcd_leader(to: str | None = None, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: move etcd leadership to a follower and measure the election; the fault window covers it."""
    run = current(configuration)
    fault = etcd_faults.MoveLeader(run.cluster, to)
    with run.phase("inject: etcdctl move-leader"):
        members = etcd_probe.observe(run.cluster)
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.inject(fault)
    with run.phase("fault took effect: a new leader is elected"):
        try:
            elected_s = _await_new_leader(run, str(fault.original_leader), start)
        except RecoveryTimeout as e:
            raise FaultInjectionError(f"leadership never moved away from {fault.original_leader}: {e}") from e
        run.evidence["confirm"] = fault.confirm()
    with run.phase("recover: the API settles after the election"):
        run.attachments["etcd members after"] = [m.__dict__ for m in etcd_probe.observe(run.cluster)]
        _settle(run)
    return {"from": fault.original_leader, "to": fault.to, "elected_s": round(elected_s, 3)}


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


def judge_fault_window(
    prometheus: list[dict[str, Any]] | None = None,
    alerts: list[dict[str, Any]] | None = None,
    expect_outage: bool = False,
    configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Probe: the SLO verdict over the fault window: API writes (availability, longest outage, p99 unless
    the outage is the point), recovery after the fault, no acknowledged write lost, and the experiment's
    PromQL checks and alert rules (``{window}`` in an expression becomes the window's length)."""
    run = current(configuration)
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


def assert_leader_move_slos(configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Probe: judge_fault_window with the leader-move drill's PromQL checks."""
    run = current(configuration)
    return judge_fault_window(
        prometheus=[LEADER_CHANGE_SEEN],
        alerts=[{**NO_LEADER_ALERT, "for_s": max(1.0, run.profile.etcd.leader_election_max_s)}],
        configuration=configuration,
    )


LEADER_CHANGE_SEEN = {
    "name": "Prometheus saw the leader change",
    "expr": 'increase(etcd_server_leader_changes_seen_total{job="etcd"}[{window}])',
    "op": ">=",
    "threshold": 1,
}
NO_LEADER_ALERT = {"name": "etcdNoLeader", "expr": 'etcd_server_has_leader{job="etcd"} == 0', "for_s": 5.0}


def _await_new_leader(run: DrillRun, old: str, start: float, old_term: int | None = None) -> float:
    """Wait for a new leader: another node, or (``old_term`` given) any node elected in a later term, since a
    killed leader that restarts at once can win the next election. Record and judge the election time."""

    def elected(m: etcd_probe.MemberView | None) -> bool:
        if m is None:
            return False
        return m.node != old if old_term is None else m.raft_term > old_term

    what = f"a leader other than {old}" if old_term is None else f"a leader elected after term {old_term}"
    leader = wait_until(
        what,
        lambda: etcd_probe.leader_of(etcd_probe.observe(run.cluster)),
        elected,
        timeout_s=max(30.0, run.profile.etcd.leader_election_max_s * 3),
        interval_s=0.05,
        describe=lambda m: f"leader {m.node if m else 'none'}",
    )
    elected_s = run.now() - start
    assert leader is not None
    run.evidence["leader change"] = f"{old} → {leader.node} in {elected_s:.3f} s (term {leader.raft_term})"
    run.metrics["leader_election_s"] = elected_s
    if old_term is None:
        run.add(Check("a new, different etcd leader", what, leader.node, leader.node != old))
    else:
        run.add(Check("a new etcd leader elected", what, f"{leader.node} in term {leader.raft_term}", True))
    run.add(
        Check(
            "etcd leader elected within the SLO",
            f"≤ {run.profile.etcd.leader_election_max_s:g} s",
            f"{elected_s:.3f} s",
            elected_s <= run.profile.etcd.leader_election_max_s,
            hint="check 'etcdctl endpoint status -w table' and the etcd members' logs",
        )
    )
    return elected_s


def kill_etcd_member(role: str = "leader", configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: SIGKILL the etcd leader (or a follower); prove the kill (a new PID), measure the election
    (leader) or assert leadership did not change (follower), and wait for the member to catch up."""
    run = current(configuration)
    members = etcd_probe.observe(run.cluster)
    leader, node = etcd_probe.member_for_role(members, role)
    fault = KillComponent(run.cluster, "etcd", node)
    with run.phase(f"inject: SIGKILL the etcd {role} on {node}"):
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.inject(fault)
    with run.phase("fault took effect: the member's process is gone"):
        run.evidence["kill proven"] = fault.confirm()
        if role == "leader":
            _await_new_leader(run, node, start, old_term=leader.raft_term)
    with run.phase("recover: the member restarts and catches up"):
        _await_restart(run, fault, start)
        _await_caught_up(run, node, start)
        after = etcd_probe.observe(run.cluster)
        run.attachments["etcd members after"] = [m.__dict__ for m in after]
        if role == "follower":
            now_leader = etcd_probe.leader_of(after)
            run.add(
                Check(
                    "etcd leadership did not change",
                    f"{leader.node} leads in term {leader.raft_term}",
                    f"{now_leader.node} leads in term {now_leader.raft_term}" if now_leader else "no leader",
                    now_leader is not None
                    and now_leader.node == leader.node
                    and now_leader.raft_term == leader.raft_term,
                )
            )
        _settle(run)
    return {"killed": node, "role": role, "metrics": run.metrics}


def _await_restart(run: DrillRun, fault: KillComponent, start: float) -> None:
    """The proof of a kill: the component runs again under another PID/container ID, within the SLO."""
    limit = run.profile.control_plane.component_restart_max_s
    inst = fault.await_restart(limit)
    back_s = run.now() - start
    what = f"{fault.component} on {fault.node}"
    run.evidence["restart"] = f"{what}: {fault.killed_id} → {inst.id} after {back_s:.2f} s"
    run.add(
        Check(
            f"{what} restarted (new PID)",
            f"an id other than {fault.killed_id} within {limit:g} s",
            f"{inst.id} after {back_s:.2f} s",
            inst.id != fault.killed_id and back_s <= limit,
        )
    )


def _await_caught_up(run: DrillRun, node: str, start: float) -> None:
    limit = run.profile.etcd.member_catch_up_max_s
    try:
        wait_until(
            f"etcd on {node} caught up",
            lambda: etcd_probe.observe(run.cluster),
            lambda ms: etcd_probe.caught_up(ms, node),
            timeout_s=limit,
            interval_s=0.1,
            describe=lambda ms: ", ".join(f"{m.node}@{m.revision}" for m in ms),
        )
        caught_s: float | None = run.now() - start
    except RecoveryTimeout as e:
        caught_s = None
        run.evidence["catch-up"] = str(e)
    run.metrics["member_caught_up_s"] = caught_s
    run.add(
        slo.check_max(
            f"etcd on {node} caught up (revision ≥ the others')",
            caught_s,
            limit,
            hint="compare revisions with 'etcdctl endpoint status -w table'",
        )
    )


def _settle(run: DrillRun) -> None:
    """Keep the fault window open past recovery: SETTLE_S at least, to catch what follows the fault, and
    until it spans ``api.window_min_s`` from injection, so availability is a share of enough probes."""
    start = run.fault_window.start if run.fault_window is not None else run.now()
    until = max(run.now() + SETTLE_S, start + run.profile.api.window_min_s)
    run.hold(until - run.now())
    run.end_fault()


def lose_etcd_quorum(hold_s: float = 5.0, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: stop a majority of etcd members (followers first) and hold them down for ``hold_s``;
    assert the API refused every write meanwhile (the outage is proven, not assumed), then start them."""
    run = current(configuration)
    members = etcd_probe.observe(run.cluster)
    victims = etcd_faults.choose_quorum_loss(members)
    faults = [StopComponent(run.cluster, "etcd", m.node) for m in victims]
    with run.phase(f"inject: stop etcd on {', '.join(m.node for m in victims)} (quorum lost)"):
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        for f in faults:
            run.inject(f)
    prober = run.prober
    if prober is None:
        raise PreconditionFailed("lose_etcd_quorum needs the prober: start_drill first")
    with run.phase("fault took effect: API writes fail without quorum"):
        for f in faults:
            run.evidence[f"stopped {f.node}"] = f.confirm()
        first_failure = wait_until(
            "the first refused write",
            lambda: next((s.t for s in prober.snapshot() if s.op == "write" and not s.ok and s.t >= start), None),
            lambda t: t is not None,
            timeout_s=30,
            interval_s=0.1,
        )
        assert first_failure is not None
        hold_end = first_failure + hold_s
        run.hold(hold_end - run.now())
        held = slo.in_window(prober.snapshot(), Window(first_failure, hold_end), "write")
        accepted = [s for s in held if s.ok]
        run.metrics["writes_during_quorum_loss"] = len(held)
        run.add(
            Check(
                "API refused writes while quorum was lost",
                "0 acknowledged writes while a majority of etcd members is down",
                f"{len(accepted)} of {len(held)} writes acknowledged over {hold_s:g} s",
                bool(held) and not accepted,
                hint="an acknowledged write without quorum would be a split-brain bug",
            )
        )
    with run.phase("recover: start the members, quorum returns"):
        for f in faults:
            run.evidence[f"restarted {f.node}"] = run.rollbacks.revert_one(f)
        run.end_fault()
    return {"stopped": [m.node for m in victims], "hold_s": hold_s}


def restore_etcd_from_snapshot(
    markers: int = 5, post_snapshot: int = 5, configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Action: the DR drill. Seed markers and a canary → snapshot (verified) → post-snapshot objects →
    disaster (every API server and etcd member stopped, data aside) → restore every member → assert the
    markers are back, the post-snapshot objects are gone (the exact RPO set), one leader, members in step,
    revisions moved forward, controllers reconcile; RTO from disaster to the first acknowledged write."""
    for name, value in (("markers", markers), ("post_snapshot", post_snapshot)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1000:
            raise ConfigError("experiment", f"restore_etcd_from_snapshot.{name}", "a whole number 1-1000", value)
    run = current(configuration)
    cluster = run.cluster
    prober = run.prober
    if prober is None:
        raise PreconditionFailed("restore_etcd_from_snapshot needs the prober: start_drill first")
    etcdutl_local = run.etcdutl_local or cluster.etcdutl
    kube = cluster.kube()
    w = Workloads(kube)
    ns = run.namespace
    label = "kubedrill.io/restore"
    try:
        with run.phase("steady state: seed marker objects and a canary Deployment"):
            canary = Canary(w, ns, min_available=0)
            try:
                canary.create()
            except RecoveryTimeout as e:
                raise PreconditionFailed(f"the canary never became Available before the drill: {e}") from e
            marker_names = [f"marker-{i:03d}" for i in range(markers)]
            w.create_configmaps(ns, marker_names, {label: "marker"})
        with run.phase("snapshot: etcdctl snapshot save, verified with etcdutl"):
            info = restore_faults.take_snapshot(cluster, run.work_dir / "snapshots", etcdutl_local)
            run.attachments["snapshot"] = info.__dict__
            run.evidence["snapshot"] = (
                f"{Path(info.path).name}: revision {info.revision}, {info.total_keys} keys, hash {info.hash}"
            )
        with run.phase("write post-snapshot objects: what the restore must lose"):
            post_names = [f"post-snapshot-{i:03d}" for i in range(post_snapshot)]
            w.create_configmaps(ns, post_names, {label: "post-snapshot"})
        fault = restore_faults.EtcdRestore(cluster, info.path)
        with run.phase("disaster: stop every API server and etcd member, move the data aside"):
            disaster_t = run.begin_fault()
            disaster_wall = time.time()
            run.inject(fault)
            run.evidence["disaster"] = fault.confirm()
            stopped_t = run.now()
        with run.phase("restore: etcdutl snapshot restore on every member; etcd, then API servers"):
            run.evidence["restore"] = fault.restore()
            leader = wait_until(
                "restored etcd members agree on a leader",
                lambda: etcd_probe.observe(cluster),
                lambda ms: len(ms) == len(fault.members) and etcd_probe.leader_of(ms) is not None,
                timeout_s=120,
                interval_s=0.2,
                describe=lambda ms: ", ".join(f"{m.node}→{m.leader_id}" for m in ms) or "no member answers",
            )
            run.attachments["etcd members after restore"] = [m.__dict__ for m in leader]
            api_start = run.now()
            fault.start_api_servers()
            run.evidence["dependents"] = fault.restart_dependents()
            first_write = wait_until(
                "the first acknowledged write after the restore",
                lambda: prober.first_ok_after(api_start),
                lambda t: t is not None,
                timeout_s=max(120.0, run.profile.restore.rto_max_s * 2),
                interval_s=0.1,
            )
            assert first_write is not None
            rto = first_write - disaster_t
            run.metrics["rto_s"] = rto
            # The RTO's stages, for the report's bar: where the time went.
            run.metrics["rto_stop_s"] = stopped_t - disaster_t
            run.metrics["rto_restore_s"] = api_start - stopped_t
            run.metrics["rto_api_s"] = first_write - api_start
            run.add(
                slo.check_max(
                    "RTO: disaster → first acknowledged write",
                    rto,
                    run.profile.restore.rto_max_s,
                    hint="see the phase timeline for which step took longest",
                )
            )
        with run.phase("verify: markers back, post-snapshot objects gone, members in step, controllers reconcile"):
            present = set(w.configmap_names(ns, label))
            missing_markers = [m for m in marker_names if m not in present]
            run.add(
                Check(
                    "marker objects restored",
                    f"all {len(marker_names)} markers written before the snapshot",
                    f"{len(marker_names) - len(missing_markers)} present"
                    + (f"; missing {missing_markers}" if missing_markers else ""),
                    not missing_markers,
                )
            )
            survivors = [p for p in post_names if p in present]
            run.add(
                Check(
                    "post-snapshot objects absent (the RPO set)",
                    f"none of the {len(post_names)} objects written after revision {info.revision}",
                    f"{len(post_names) - len(survivors)} gone" + (f"; still present {survivors}" if survivors else ""),
                    not survivors,
                    hint="objects written after the snapshot must not survive a restore from it",
                )
            )
            run.allowed_lost = tuple(prober.written_after(info.revision))
            members = etcd_probe.observe(cluster)
            min_rev = min(m.revision for m in members)
            run.add(
                Check(
                    "revisions moved forward past the snapshot (no time travel for watchers)",
                    f"every member's revision > {info.revision} + {restore_faults.REVISION_BUMP}",
                    f"lowest revision {min_rev}",
                    min_rev > info.revision + restore_faults.REVISION_BUMP,
                )
            )
            for m in members:
                _await_caught_up(run, m.node, disaster_t)
            canary.workloads.scale_deployment(ns, canary.name, canary.replicas + 1)
            # The restarted controller-manager and scheduler first wait out the Leases restored from the
            # snapshot (leaseDuration), then create, schedule and (KWOK) start the pod.
            reconcile_s = run.profile.control_plane.lease_handover_max_s + run.profile.nodes.pods_rescheduled_max_s
            try:
                canary.wait_available(canary.replicas + 1, timeout_s=reconcile_s)
                reconciled = True
            except RecoveryTimeout as e:
                reconciled = False
                run.evidence["canary"] = str(e)
            run.add(
                Check(
                    "controllers reconcile after the restore",
                    f"canary scaled to {canary.replicas + 1} becomes Available within {reconcile_s:g} s",
                    "Available" if reconciled else "not Available",
                    reconciled,
                    hint="check the controller-manager and scheduler Leases and logs",
                )
            )
            run.evidence["proven"] = fault.prove()
            run.end_fault()
        rpo_objects = sorted(post_names) + sorted(run.allowed_lost)
        run.metrics["rpo_objects"] = len(rpo_objects)
        run.metrics["rpo_s"] = disaster_wall - info.taken_at
        run.attachments["RTO and RPO"] = {
            "rto_s": round(rto, 3),
            "rpo_s (snapshot → disaster)": round(disaster_wall - info.taken_at, 3),
            "snapshot revision": info.revision,
            "lost objects (exact RPO set)": rpo_objects,
        }
    finally:
        kube.close()
    return {"rto_s": round(rto, 3), "rpo_objects": len(rpo_objects), "snapshot_revision": info.revision}


LEASES = {"kube-controller-manager": "kube-controller-manager", "kube-scheduler": "kube-scheduler"}


def lease_holder(run: DrillRun, component: str) -> str | None:
    kube = run.cluster.kube()
    try:
        return kube.lease_holder("kube-system", LEASES[component])
    finally:
        kube.close()


def _require_canary(run: DrillRun) -> Canary:
    if run.canary is None:
        raise PreconditionFailed("this drill needs the canary: start_drill with canary: true")
    return run.canary


def _bound_pods(canary: Canary) -> tuple[int, int]:
    """(pods, pods bound to a node) of the canary, ignoring terminating ones."""
    pods = [p for p in canary.workloads.pods(canary.namespace, f"app={canary.labels['app']}") if not p.deleting]
    return len(pods), sum(1 for p in pods if p.node)


def kill_component(component: str, target: str = "any", configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: SIGKILL one instance of ``component`` (kube-apiserver, kube-controller-manager,
    kube-scheduler, etcd), ``target`` ``lease-holder`` (controller-manager, scheduler) or ``any``; prove the
    kill (a new PID/container ID) and measure the handover.

    - kube-apiserver: the instance restarts and answers /readyz itself within the SLO; the prober (through
      the load balancer) judges availability;
    - controller-manager / scheduler: the kube-system Lease moves to a new holder within
      ``control_plane.lease_handover_max_s``; the canary, scaled up right after the kill, gets its new pod
      created, bound and Available within ``nodes.pods_rescheduled_max_s`` once the handover is done."""
    if component not in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        raise ConfigError("experiment", "kill_component.component", "a control-plane component", component)
    run = current(configuration)
    nodes = run.cluster.control_planes
    holder = lease_holder(run, component) if component in LEASES else None
    if target == "lease-holder":
        if component not in LEASES:
            raise ConfigError(
                "experiment", "kill_component.target", "lease-holder only for leader-elected components", component
            )
        node = slo.node_of_holder(holder)
        if node not in nodes:
            raise PreconditionFailed(f"the {component} Lease holder {holder!r} is on no known node ({nodes})")
    elif target == "any":
        node = nodes[-1]
    else:
        node = target
    fault = KillComponent(run.cluster, component, str(node))
    with run.phase(f"inject: SIGKILL {component} on {node}"):
        if holder:
            run.evidence["lease holder before"] = holder
        start = run.begin_fault()
        run.inject(fault)
        canary = run.canary
        if canary is not None and component in LEASES:
            canary.workloads.scale_deployment(canary.namespace, canary.name, canary.replicas + 1)
    with run.phase("fault took effect: the process is gone"):
        run.evidence["kill proven"] = fault.confirm()
    with run.phase(f"recover: {component} restarts; its work is handed over"):
        _await_restart(run, fault, start)
        if component == "kube-apiserver":
            _await_apiserver_ready(run, str(node), start)
        if component in LEASES:
            handover_s = _await_lease_handover(run, component, holder, start)
            if canary is not None and handover_s is not None:
                _await_canary(run, canary, canary.replicas + 1, start + handover_s, "created, bound and Available")
        if component == "etcd":
            _await_caught_up(run, str(node), start)
        _settle(run)
    return {"killed": node, "component": component, "metrics": run.metrics}


def _await_apiserver_ready(run: DrillRun, node: str, start: float) -> None:
    url = run.cluster.apiserver_of.get(node)
    if url is None:
        raise PreconditionFailed(f"no API server URL known for {node}")
    kube = run.cluster.kube(timeout_s=1.0)
    limit = run.profile.control_plane.component_restart_max_s
    try:
        wait_until(f"kube-apiserver on {node} ready", lambda: kube.readyz(url), bool, timeout_s=limit, interval_s=0.1)
        ready_s: float | None = run.now() - start
    except RecoveryTimeout:
        ready_s = None
    finally:
        kube.close()
    run.metrics["apiserver_ready_s"] = ready_s
    run.add(slo.check_max(f"kube-apiserver on {node} answers /readyz again", ready_s, limit))


def _await_lease_handover(run: DrillRun, component: str, holder: str | None, start: float) -> float | None:
    limit = run.profile.control_plane.lease_handover_max_s
    try:
        new = wait_until(
            f"the {component} Lease held by someone other than {holder}",
            lambda: lease_holder(run, component),
            lambda h: h is not None and h != holder,
            timeout_s=limit + 30,
            interval_s=0.1,
        )
        handover_s: float | None = run.now() - start
        run.evidence["lease holder after"] = str(new)
    except RecoveryTimeout as e:
        handover_s, new = None, None
        run.evidence["lease"] = str(e)
    run.metrics[f"{component}_lease_handover_s"] = handover_s
    run.add(
        slo.check_max(
            f"{component} Lease handed over (leaseDuration + retryPeriod)",
            handover_s,
            limit,
            hint=f"kubectl -n kube-system get lease {LEASES[component]} -o yaml",
        )
    )
    if new is not None:
        run.evidence["lease moved"] = f"{slo.node_of_holder(holder)} → {slo.node_of_holder(new)}"
    return handover_s


def _await_canary(run: DrillRun, canary: Canary, replicas: int, since: float, what: str) -> float | None:
    limit = run.profile.nodes.pods_rescheduled_max_s
    try:
        canary.wait_available(replicas, timeout_s=limit + 30)
        took: float | None = run.now() - since
    except RecoveryTimeout as e:
        took = None
        run.evidence["canary"] = str(e)
    run.metrics["canary_reconciled_s"] = took
    run.add(slo.check_max(f"canary scaled to {replicas}: new pod {what}", took, limit))
    return took


def stop_every_instance(
    component: str, hold_s: float = 5.0, configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Action: stop every instance of the scheduler or controller-manager for ``hold_s``, with the canary
    scaled up meanwhile: prove the outage (the scheduler: the new pod stays unbound; the
    controller-manager: no new pod is created), then start them and measure the time to recover."""
    if component not in LEASES:
        raise ConfigError("experiment", "stop_every_instance.component", f"one of {sorted(LEASES)}", component)
    run = current(configuration)
    canary = _require_canary(run)
    faults = [StopComponent(run.cluster, component, n) for n in run.cluster.control_planes]
    before_pods, _ = _bound_pods(canary)
    with run.phase(f"inject: stop every {component}"):
        start = run.begin_fault()
        for f in faults:
            run.inject(f)
    with run.phase(f"fault took effect: no {component} runs; the canary is scaled up and stays short"):
        for f in faults:
            run.evidence[f"stopped on {f.node}"] = f.confirm()
        canary.workloads.scale_deployment(canary.namespace, canary.name, canary.replicas + 1)
        run.hold(hold_s)
        pods, bound = _bound_pods(canary)
        if component == "kube-scheduler":
            ok, observed = bound == before_pods and pods > before_pods, f"{pods} pods, {bound} bound"
            expected = f"the new pod created but not bound (still {before_pods} bound)"
        else:
            ok, observed = pods == before_pods, f"{pods} pods"
            expected = f"no new pod created (still {before_pods})"
        verb = "schedules" if component == "kube-scheduler" else "reconciles"
        run.add(
            Check(f"outage shown: nothing {verb} without a {component}", expected, f"{observed} after {hold_s:g} s", ok)
        )
    with run.phase(f"recover: start every {component}; the canary catches up"):
        returned = run.now()
        for f in faults:
            run.evidence[f"started on {f.node}"] = run.rollbacks.revert_one(f)
        limit = run.profile.control_plane.lease_handover_max_s + run.profile.nodes.pods_rescheduled_max_s
        try:
            canary.wait_available(canary.replicas + 1, timeout_s=limit + 30)
            recovered: float | None = run.now() - returned
        except RecoveryTimeout as e:
            recovered = None
            run.evidence["canary"] = str(e)
        run.metrics["time_to_recover_after_return_s"] = recovered
        run.add(slo.check_max(f"canary Available again after every {component} returned", recovered, limit))
        run.end_fault()
    return {"component": component, "hold_s": hold_s, "recovered_s": recovered, "since_stop_s": run.now() - start}


def _others(cluster: Cluster, node: str) -> tuple[str, ...]:
    """Addresses a node talks to in the control plane: the other nodes and the load balancer(s)."""
    peers = [a for n, a in cluster.address_of.items() if n != node]
    return tuple(peers + cluster.lb_addresses)


def _observe_without(run: DrillRun, node: str) -> list[etcd_probe.MemberView]:
    """Members as the rest of the cluster sees them (the cut-off member's endpoint would only time out)."""
    if run.cluster.etcd is None:
        raise PreconditionFailed(run.cluster.missing or "no etcd access")
    others = [e for n, e in run.cluster.etcd_endpoint_of.items() if n != node]
    return etcd_probe.observe(run.cluster, run.cluster.etcd.endpoint_status(others))


def isolate_node(
    role: str = "leader", hold_s: float = 5.0, ttl_s: int = 120, configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Action: cut the etcd ``role`` (leader or follower) node off from the other control-plane nodes and
    the load balancer (peer and client traffic) for ``hold_s``; then heal. The leader case: the majority
    elects a new leader within the SLO and the cut-off member reports no leader. The follower case:
    leadership does not change. After healing: rules gone (verified on the node), the member caught up."""
    run = current(configuration)
    members = etcd_probe.observe(run.cluster)
    leader, node = etcd_probe.member_for_role(members, role)
    fault = Partition(run.cluster, node, Cut(peers=_others(run.cluster, node)), ttl_s=ttl_s)
    with run.phase(f"inject: isolate the etcd {role}'s node {node}"):
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.evidence["partition"] = run.inject(fault)
        run.evidence["partition confirmed"] = fault.confirm()
    with run.phase("fault took effect: the majority carries on, the cut-off member is alone"):
        if len(members) < 3:
            # One member (or two) cut off leaves no majority: this is an outage, and the drill says so.
            run.add(
                Check(
                    "a majority of etcd members remains to carry on",
                    f"≥ {etcd_probe.quorum_of(len(members))} of {len(members)} members on the other side",
                    f"{len(members) - 1} member(s) besides the cut-off one",
                    False,
                    hint="a single control plane cannot survive losing its node: that is what this drill shows",
                )
            )
        elif role == "leader":
            elected = wait_until(
                "the majority elects a new leader",
                lambda: etcd_probe.leader_of(_observe_without(run, node)),
                lambda m: m is not None and m.node != node,
                timeout_s=max(30.0, run.profile.etcd.leader_election_max_s * 3),
                interval_s=0.05,
                describe=lambda m: f"leader {m.node if m else 'none'}",
            )
            elected_s = run.now() - start
            run.metrics["leader_election_s"] = elected_s
            run.evidence["leader change"] = f"{node} → {elected.node if elected else '?'} in {elected_s:.3f} s"
            run.add(
                slo.check_max(
                    "the majority elected a new leader within the SLO",
                    elected_s,
                    run.profile.etcd.leader_election_max_s,
                    hint="check 'etcdctl endpoint status -w table' on the majority",
                )
            )
        try:
            alone = wait_until(
                f"the cut-off member on {node} reports no leader",
                lambda: run.cluster.etcd_on(node).endpoint_status(),
                lambda st: bool(st) and st[0].leader_id == "0",
                timeout_s=15,
                interval_s=0.2,
                describe=lambda st: f"leader {st[0].leader_id}" if st else "no answer",
            )
            alone_seen = f"leader 0 (term {alone[0].raft_term})"
        except RecoveryTimeout as e:
            alone_seen = str(e)
        run.add(
            Check(
                f"the cut-off member on {node} knows it has no leader",
                "leader 0",
                alone_seen,
                alone_seen.startswith("leader 0"),
            )
        )
        run.hold(max(0.0, hold_s - (run.now() - start)))
        if role == "follower":
            now = etcd_probe.leader_of(_observe_without(run, node))
            run.add(
                Check(
                    "etcd leadership did not change",
                    f"{leader.node} leads in term {leader.raft_term}",
                    f"{now.node} leads in term {now.raft_term}" if now else "no leader",
                    now is not None and now.node == leader.node and now.raft_term == leader.raft_term,
                )
            )
    with run.phase("heal: remove the rules (verified on the node); the member rejoins and catches up"):
        run.evidence["heal"] = run.rollbacks.revert_one(fault)
        healed = run.now()
        _await_caught_up(run, node, healed)
        run.attachments["etcd members after"] = [m.__dict__ for m in etcd_probe.observe(run.cluster)]
        _settle(run)
    return {"isolated": node, "role": role, "metrics": run.metrics}


def cut_apiserver_from_etcd(
    node: str | None = None, hold_s: float = 8.0, configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Action: drop one API server's traffic to its etcd (stacked: 127.0.0.1:2379 on its node) for
    ``hold_s``: that API server goes unready, the load balancer takes it out, users see no outage."""
    run = current(configuration)
    target = node or run.cluster.control_planes[-1]
    url = run.cluster.apiserver_of.get(target)
    if url is None:
        raise PreconditionFailed(f"no API server URL known for {target}")
    fault = Partition(run.cluster, target, Cut(port=2379, loopback=True), ttl_s=int(hold_s) + 120)
    kube = run.cluster.kube(timeout_s=1.0)
    try:
        with run.phase(f"inject: cut the API server on {target} from etcd"):
            start = run.begin_fault()
            run.evidence["partition"] = run.inject(fault)
            run.evidence["partition confirmed"] = fault.confirm()
        with run.phase(f"fault took effect: kube-apiserver on {target} reports not ready"):
            try:
                wait_until(
                    f"{url}/readyz failing", lambda: kube.readyz(url), lambda ok: not ok, timeout_s=30, interval_s=0.2
                )
                unready_s: float | None = run.now() - start
            except RecoveryTimeout:
                unready_s = None
            run.metrics["apiserver_unready_s"] = unready_s
            run.add(slo.check_max(f"kube-apiserver on {target} went unready without etcd", unready_s, 30.0))
            run.hold(max(0.0, hold_s - (run.now() - start)))
        with run.phase("heal: restore its etcd traffic; it becomes ready again"):
            run.evidence["heal"] = run.rollbacks.revert_one(fault)
            healed = run.now()
            try:
                wait_until(f"{url}/readyz ok", lambda: kube.readyz(url), bool, timeout_s=60, interval_s=0.2)
                ready_s: float | None = run.now() - healed
            except RecoveryTimeout:
                ready_s = None
            run.add(
                slo.check_max(
                    f"kube-apiserver on {target} ready again after the heal", ready_s, run.profile.api.recovery_max_s
                )
            )
            _settle(run)
    finally:
        kube.close()
    return {"node": target, "metrics": run.metrics}


def etcd_peer_packet_loss(
    probability: float = 0.3, hold_s: float = 10.0, configuration: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Action: drop ``probability`` of the packets between etcd peers (port 2380) on every member for
    ``hold_s``; leader changes and latency are reported, the API's SLO judged; then heal."""
    run = current(configuration)

    def loss_on(node: str) -> Partition:
        peers = tuple(a for m, a in run.cluster.address_of.items() if m != node)
        return Partition(
            run.cluster, node, Cut(peers=peers, port=2380, probability=probability), ttl_s=int(hold_s) + 120
        )

    faults = [loss_on(n) for n in run.cluster.control_planes]
    before = etcd_probe.leader_of(etcd_probe.observe(run.cluster))
    with run.phase(f"inject: {probability:.0%} packet loss between etcd peers"):
        start = run.begin_fault()
        for f in faults:
            run.evidence[f"loss on {f.node}"] = run.inject(f)
            f.confirm()
        run.hold(hold_s)
    with run.phase("heal: remove the rules on every member"):
        for f in faults:
            run.evidence[f"healed {f.node}"] = run.rollbacks.revert_one(f)
        after = etcd_probe.leader_of(etcd_probe.observe(run.cluster))
        run.evidence["leader"] = f"{_who(before)} → {_who(after)}"
        run.metrics["raft_terms_advanced"] = (after.raft_term - before.raft_term) if before and after else None
        _settle(run)
    return {"probability": probability, "since_s": run.now() - start, "metrics": run.metrics}


def _who(m: etcd_probe.MemberView | None) -> str:
    return f"{m.node} (term {m.raft_term})" if m else "no leader"


def _canary_nodes(canary: Canary) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in canary.workloads.pods(canary.namespace, f"app={canary.labels['app']}"):
        if p.node and not p.deleting:
            counts[p.node] = counts.get(p.node, 0) + 1
    return counts


def _drain_one(run: DrillRun, canary: Canary, node: str, options: DrainOptions) -> None:
    """Drain ``node`` with the canary watched at 10 Hz; judge the drain, the dip and the rescheduling."""
    floor = max(1, canary.min_available)
    fault = Drain(run.cluster, node, options)
    selector = f"app={canary.labels['app']}"
    watcher = Workloads(run.cluster.kube())  # its own client: the watch runs in its own thread
    watch = AvailabilityWatch(lambda on, stop: watcher.watch_ready_pods(canary.namespace, selector, on, stop))
    with watch:
        with run.phase(f"inject: cordon and drain {node} (Eviction API)"):
            start = run.now()
            run.evidence[f"drain {node}"] = run.inject(fault)
            run.evidence[f"cordoned {node}"] = fault.confirm()
        run.add(
            Check(
                f"drain of {node} completed",
                f"every evictable pod evicted within {options.timeout_s:g} s",
                fault.result.describe(),
                fault.result.complete,
                hint="a PDB that allows no disruption blocks every drain: check minAvailable vs replicas",
            )
        )
        with run.phase(f"recover: evicted pods recreated and Ready elsewhere; uncordon {node}"):
            took = _await_canary(run, canary, canary.replicas, start, "recreated and Ready on other nodes")
            left = _canary_nodes(canary).get(node, 0)
            if fault.result.complete:
                run.add(Check(f"no canary pod left on {node}", "0", str(left), left == 0))
            run.evidence[f"uncordon {node}"] = run.rollbacks.revert_one(fault)
            uncordoned = next(n for n in run.cluster.kube().nodes() if n.name == node)
            run.add(
                Check(
                    f"{node} uncordoned afterwards",
                    "schedulable",
                    "cordoned" if uncordoned.unschedulable else "schedulable",
                    not uncordoned.unschedulable,
                )
            )
            run.metrics[f"drain_{node}_s"] = took
    watcher.kube.close()
    lowest = watch.minimum
    run.metrics[f"canary_min_available_during_{node}"] = lowest
    run.add(
        Check(
            f"canary availability never dropped below its floor while draining {node}",
            f"≥ {floor} Ready pods (PDB minAvailable {canary.min_available}) after every change (pod watch)",
            f"minimum {lowest} over {len(watch.samples)} changes",
            lowest is not None and lowest >= floor,
            hint="a Deployment without a PDB (or with one replica) loses availability when its pod is evicted",
        )
    )


def drain_node(
    node: str | None = None,
    timeout_s: float = 30.0,
    force: bool = False,
    delete_emptydir_data: bool = False,
    configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Action: drain the worker with the most canary pods (or ``node``) through the Eviction API, watching
    the canary at 10 Hz; assert it never drops below its PDB, its pods come back elsewhere, the node is
    uncordoned. A PDB allowing no disruption makes the drill fail with "blocked by PDB <name>"."""
    run = current(configuration)
    canary = _require_canary(run)
    target = node or max(sorted(_canary_nodes(canary).items()), key=lambda kv: kv[1])[0]
    run.begin_fault(f"drain {target} through the Eviction API")
    _drain_one(run, canary, target, DrainOptions(force, delete_emptydir_data, timeout_s=timeout_s))
    _settle(run)
    return {"drained": target, "metrics": run.metrics}


def rolling_drain(timeout_s: float = 30.0, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """Action: drain every worker one at a time, as maintenance would, availability asserted throughout."""
    run = current(configuration)
    canary = _require_canary(run)
    kube = run.cluster.kube()
    try:
        workers = sorted(n.name for n in kube.nodes() if "node-role.kubernetes.io/control-plane" not in n.labels)
    finally:
        kube.close()
    start = run.begin_fault(f"drain {', '.join(workers)}, one at a time")
    for worker in workers:
        _drain_one(run, canary, worker, DrainOptions(timeout_s=timeout_s))
    run.metrics["rolling_drain_total_s"] = run.now() - start
    _settle(run)
    return {"drained": workers, "total_s": run.metrics["rolling_drain_total_s"]}


# ---------------------------------------------------------------- dry-run plans


def plan_move_etcd_leader(cluster: Cluster, to: str | None = None) -> Plan:
    return etcd_faults.MoveLeader(cluster, to).plan()


def plan_kill_etcd_member(cluster: Cluster, role: str = "leader") -> Plan:
    _, node = etcd_probe.member_for_role(etcd_probe.observe(cluster), role)
    return KillComponent(cluster, "etcd", node).plan()


def plan_kill_component(cluster: Cluster, component: str, target: str = "any") -> Plan:
    node = cluster.control_planes[-1] if target in ("any", "lease-holder") else target
    plan = KillComponent(cluster, component, node).plan()
    if target == "lease-holder":
        plan.targets["node"] = f"the {component} Lease holder's node at run time (now {node} as a stand-in)"
    return plan


def plan_stop_every_instance(cluster: Cluster, component: str, hold_s: float = 5.0) -> Plan:
    plans = [StopComponent(cluster, component, n).plan() for n in cluster.control_planes]
    return Plan(
        fault="component.stop (every instance)",
        targets=dict.fromkeys(cluster.control_planes, component),
        actions=[a for p in plans for a in p.actions] + [f"hold {hold_s:g} s"],
        revert=[a for p in plans for a in p.revert],
    )


def plan_isolate_node(cluster: Cluster, role: str = "leader", ttl_s: int = 120, **_: Any) -> Plan:
    _leader, node = etcd_probe.member_for_role(etcd_probe.observe(cluster), role)
    return Partition(cluster, node, Cut(peers=_others(cluster, node)), ttl_s=ttl_s).plan()


def plan_cut_apiserver_from_etcd(cluster: Cluster, node: str | None = None, **_: Any) -> Plan:
    return Partition(cluster, node or cluster.control_planes[-1], Cut(port=2379, loopback=True)).plan()


def plan_etcd_peer_packet_loss(cluster: Cluster, probability: float = 0.3, **_: Any) -> Plan:
    node = cluster.control_planes[0]
    peers = tuple(a for n, a in cluster.address_of.items() if n != node)
    plan = Partition(cluster, node, Cut(peers=peers, port=2380, probability=probability)).plan()
    plan.targets["nodes"] = ", ".join(cluster.control_planes) + " (the same rules on each)"
    return plan


def plan_drain_node(cluster: Cluster, node: str | None = None, **_: Any) -> Plan:
    kube = cluster.kube()
    try:
        workers = sorted(n.name for n in kube.nodes() if "node-role.kubernetes.io/control-plane" not in n.labels)
    finally:
        kube.close()
    return Drain(cluster, node or workers[0]).plan()


def plan_rolling_drain(cluster: Cluster, **_: Any) -> Plan:
    return plan_drain_node(cluster)


def plan_restore_etcd_from_snapshot(cluster: Cluster, **_: Any) -> Plan:
    return restore_faults.EtcdRestore(cluster, f"{cluster.snapshot_dir}/<snapshot taken by the drill>.db").plan()


# ---------------------------------------------------------------- rollbacks


def finish_drill(configuration: dict[str, Any] | None = None) -> dict[str, Any]:
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
