"""The control-plane component family: kill an instance for real (SIGKILL semantics), or stop it and keep
it down; its drill steps (the restart proven, the Lease handed over, the canary reconciled) and plans.

A kill is proven, never assumed: ``confirm`` checks the killed PID/container ID no longer runs, and the
drill then waits for a *different* ID (the restart). Deleting a static pod's mirror pod through the API is
never used: it stops nothing, the kubelet recreates the mirror and the container never died.
"""

from __future__ import annotations

from typing import Any

from kubedrill import slo
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.runtimes import ComponentRuntime, Instance
from kubedrill.drill import DrillRun
from kubedrill.errors import BackendError, ConfigError, PreconditionFailed, RecoveryTimeout
from kubedrill.faults import steps
from kubedrill.faults.base import Fault, Plan
from kubedrill.model import Check, Impact
from kubedrill.probes.workload import Canary
from kubedrill.waiting import wait_until

CONFIRM_TIMEOUT_S = 30.0  # a kubelet stops a static pod whose manifest moved in ~9 s on a loaded kind node
RESTART_GRACE_S = 30.0  # how long past its SLO a killed component is still waited for, to measure a slow restart


def runtime_of(cluster: Cluster, component: str | None = None) -> ComponentRuntime:
    """What kills, stops and starts ``component`` (the cluster's runtime; kind's load balancer has its own)."""
    runtime = cluster.runtime if component is None else cluster.runtime_for(component)
    if runtime is None:
        raise PreconditionFailed(cluster.missing or f"backend {cluster.backend} cannot reach components")
    return runtime


class KillComponent(Fault):
    """SIGKILL one instance of ``component`` on ``node``; its manager (supervisor, kubelet, systemd) restarts it."""

    fault_type = "component.kill"

    def __init__(self, cluster: Cluster, component: str, node: str, killed_id: str | None = None) -> None:
        super().__init__(cluster)
        self.component = component
        self.node = node
        self.killed_id = killed_id

    def params(self) -> dict[str, Any]:
        return {"component": self.component, "node": self.node, "killed_id": self.killed_id}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> KillComponent:
        return cls(cluster, params["component"], params["node"], params.get("killed_id"))

    def describe(self) -> str:
        return f"kill {self.component} on {self.node}"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        return frozenset({(self.component, self.node)})

    def plan(self) -> Plan:
        rt = runtime_of(self.cluster, self.component)
        inst = rt.instance(self.component, self.node)
        if inst is None:
            raise PreconditionFailed(f"{self.component} is not running on {self.node}: nothing to kill")
        self.killed_id = inst.id
        return Plan(
            fault=self.fault_type,
            targets={"component": self.component, "node": self.node, f"{rt.name} id": inst.id},
            actions=[rt.describe("kill", self.component, self.node)],
            revert=[f"none needed: the {rt.name} restarts it; kubedrill waits for a new id"],
        )

    def inject(self) -> str:
        killed = runtime_of(self.cluster, self.component).kill(self.component, self.node)
        self.killed_id = killed.id
        return f"SIGKILL {self.component} on {self.node} ({killed.id})"

    def confirm(self) -> str:
        """The killed instance is gone (no instance, or one with another id)."""
        rt = runtime_of(self.cluster, self.component)
        seen = wait_until(
            f"{self.component} {self.killed_id} on {self.node} gone",
            lambda: rt.instance(self.component, self.node),
            lambda inst: inst is None or inst.id != self.killed_id,
            timeout_s=CONFIRM_TIMEOUT_S,
            interval_s=0.05,
            describe=lambda inst: f"still running as {inst.id}" if inst else "gone",
        )
        return f"{self.killed_id} gone" + (f", already restarted as {seen.id}" if seen else "")

    def await_restart(self, timeout_s: float) -> Instance:
        """The proof of a real kill: the same component runs again under a different id."""
        rt = runtime_of(self.cluster, self.component)

        def running() -> Instance:
            inst = rt.instance(self.component, self.node)
            if inst is None:
                raise BackendError(f"{self.component} on {self.node} is not running")
            return inst

        return wait_until(
            f"{self.component} on {self.node} restarted with a new id",
            running,
            lambda i: i.id != self.killed_id,
            timeout_s=timeout_s,
            interval_s=0.1,
            describe=lambda i: f"still {i.id}",
        )

    def revert(self) -> str:
        # Nothing was held: the manager restarts a killed component by itself. Starting is idempotent and
        # guards against a runtime that left it stopped.
        if self.killed_id is None:
            return "nothing to revert (never injected)"
        runtime_of(self.cluster, self.component).start(self.component, self.node)
        return f"{self.component} on {self.node} left to its manager (start is a no-op when running)"


class StopComponent(Fault):
    """Stop ``component`` on ``node`` and keep it down until reverted (quorum loss, restores). With ``hold``
    the runtime keeps it down in a way whose undoing needs no API server (``ComponentRuntime.hold``: a frozen
    static pod, a stopped unit or process): for a fault that takes the API down with it."""

    fault_type = "component.stop"

    def __init__(self, cluster: Cluster, component: str, node: str, hold: bool = False) -> None:
        super().__init__(cluster)
        self.component = component
        self.node = node
        self.hold = hold

    def params(self) -> dict[str, Any]:
        return {"component": self.component, "node": self.node, "hold": self.hold}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> StopComponent:
        return cls(cluster, params["component"], params["node"], bool(params.get("hold", False)))

    def describe(self) -> str:
        return f"stop {self.component} on {self.node}"  # how (held or stopped) is in the plan and the evidence

    def takes_down(self) -> frozenset[tuple[str, str]]:
        return frozenset({(self.component, self.node)})

    def plan(self) -> Plan:
        rt = runtime_of(self.cluster, self.component)
        stop, start = ("hold", "release") if self.hold else ("stop", "start")
        return Plan(
            fault=self.fault_type,
            targets={"component": self.component, "node": self.node},
            actions=[rt.describe(stop, self.component, self.node)],
            revert=[rt.describe(start, self.component, self.node)],
        )

    def inject(self) -> str:
        rt = runtime_of(self.cluster, self.component)
        before = rt.instance(self.component, self.node)
        (rt.hold if self.hold else rt.stop)(self.component, self.node)
        return f"stopped {self.component} on {self.node}" + (f" (was {before.id})" if before else "")

    def confirm(self) -> str:
        rt = runtime_of(self.cluster, self.component)
        if self.hold:
            wait_until(
                f"{self.component} on {self.node} held",
                lambda: rt.held(self.component, self.node),
                bool,
                timeout_s=CONFIRM_TIMEOUT_S,
                interval_s=0.05,
            )
            return f"{self.component} on {self.node} is held ({rt.describe('hold', self.component, self.node)})"
        wait_until(
            f"{self.component} on {self.node} stopped",
            lambda: rt.instance(self.component, self.node),
            lambda inst: inst is None,
            timeout_s=CONFIRM_TIMEOUT_S,
            interval_s=0.05,
            describe=lambda inst: f"still running as {inst.id}" if inst else "stopped",
        )
        return f"{self.component} on {self.node} is not running"

    def revert(self) -> str:
        rt = runtime_of(self.cluster, self.component)
        (rt.release if self.hold else rt.start)(self.component, self.node)
        return f"{self.component} on {self.node} started again"


# ---------------------------------------------------------------- drill steps and dry-run plans


LEASES = {"kube-controller-manager": "kube-controller-manager", "kube-scheduler": "kube-scheduler"}


def lease_holder(run: DrillRun, component: str) -> str | None:
    kube = run.cluster.kube()
    try:
        return kube.lease_holder("kube-system", LEASES[component])
    finally:
        kube.close()


def _bound_pods(canary: Canary) -> tuple[int, int]:
    """(pods, pods bound to a node) of the canary, ignoring terminating ones."""
    pods = [p for p in canary.workloads.pods(canary.namespace, f"app={canary.labels['app']}") if not p.deleting]
    return len(pods), sum(1 for p in pods if p.node)


def check_kill_component(component: str) -> None:
    if component not in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        raise ConfigError("experiment", "kill_component.component", "a control-plane component", component)


def check_stop_every_instance(component: str) -> None:
    if component not in LEASES:
        raise ConfigError("experiment", "stop_every_instance.component", f"one of {sorted(LEASES)}", component)


def kill_component(run: DrillRun, component: str, target: str = "any") -> dict[str, Any]:
    """Action: SIGKILL one instance of ``component`` (kube-apiserver, kube-controller-manager,
    kube-scheduler, etcd), ``target`` ``lease-holder`` (controller-manager, scheduler) or ``any``; prove the
    kill (a new PID/container ID) and measure the handover.

    - kube-apiserver: the instance restarts and answers /readyz itself within the SLO; the prober (through
      the load balancer) judges availability;
    - controller-manager / scheduler: the kube-system Lease moves to a new holder within
      ``control_plane.lease_handover_max_s``; the canary, scaled up right after the kill, gets its new pod
      created, bound and Available within ``nodes.pods_rescheduled_max_s`` once the handover is done."""
    check_kill_component(component)
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
        await_restart(run, fault, start)
        if component == "kube-apiserver":
            _await_apiserver_ready(run, str(node), start)
        if component in LEASES:
            handover_s = _await_lease_handover(run, component, holder, start)
            if canary is not None and handover_s is not None:
                steps.await_canary(run, canary, canary.replicas + 1, start + handover_s, "created, bound and Available")
        if component == "etcd":
            steps.await_caught_up(run, str(node), start)
        steps.settle(run)
    return {"killed": node, "component": component, "metrics": run.metrics}


def await_restart(run: DrillRun, fault: KillComponent, start: float) -> None:
    """The proof of a kill: the component runs again under another PID/container ID, within the SLO."""
    limit = run.profile.control_plane.component_restart_max_s
    what = f"{fault.component} on {fault.node}"
    name, expected = f"{what} restarted (new PID)", f"an id other than {fault.killed_id} within {limit:g} s"
    # Waited for past the SLO, so a slow restart is judged by its measured time rather than cut off at the limit.
    try:
        inst = fault.await_restart(max(2 * limit, limit + RESTART_GRACE_S))
    except RecoveryTimeout as e:
        gave_up = f"expected {expected}; gave up after {e.timeout_s:g} s, last observed {e.last_observed}"
        run.add(slo.check_max(name, None, limit, hint=gave_up))
        raise
    back_s = run.now() - start
    run.evidence["restart"] = f"{what}: {fault.killed_id} → {inst.id} after {back_s:.2f} s"
    ok = inst.id != fault.killed_id and back_s <= limit
    run.add(Check(name, expected, f"{inst.id} after {back_s:.2f} s", ok, impact=Impact.RECOVERY))


def _await_apiserver_ready(run: DrillRun, node: str, start: float) -> None:
    url = run.cluster.apiserver_of.get(node)
    if url is None:
        raise PreconditionFailed(f"no API server URL known for {node}")
    kube = run.cluster.kube(timeout_s=1.0)
    limit = run.profile.control_plane.component_restart_max_s
    try:
        steps.timed_check(
            run,
            f"kube-apiserver on {node} answers /readyz again",
            "apiserver_ready_s",
            limit,
            start,
            lambda: wait_until(
                f"kube-apiserver on {node} ready",
                lambda: kube.readyz(url),
                bool,
                timeout_s=steps.outlast(limit),
                interval_s=0.1,
            ),
        )
    finally:
        kube.close()


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


def stop_every_instance(run: DrillRun, component: str, hold_s: float = 5.0) -> dict[str, Any]:
    """Action: stop every instance of the scheduler or controller-manager for ``hold_s``, with the canary
    scaled up meanwhile: prove the outage (the scheduler: the new pod stays unbound; the
    controller-manager: no new pod is created), then start them and measure the time to recover."""
    check_stop_every_instance(component)
    canary = steps.require_canary(run)
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
            Check(
                f"outage shown: nothing {verb} without a {component}",
                expected,
                f"{observed} after {hold_s:g} s",
                ok,
                impact=Impact.USERS,
            )
        )
    with run.phase(f"recover: start every {component}; the canary catches up"):
        recovered = _start_and_await_canary(run, canary, component, faults, canary.replicas + 1)
    return {"component": component, "hold_s": hold_s, "recovered_s": recovered, "since_stop_s": run.now() - start}


def _start_and_await_canary(
    run: DrillRun, canary: Canary, component: str, faults: list[StopComponent], replicas: int
) -> float | None:
    """Start every stopped instance, then time until the canary has ``replicas`` Available, judged against
    lease_handover_max_s + pods_rescheduled_max_s (the returning instances wait out the old Lease); the
    fault ends there."""
    returned = run.now()
    for f in faults:
        run.evidence[f"started on {f.node}"] = run.rollbacks.revert_one(f)
    limit = run.profile.control_plane.lease_handover_max_s + run.profile.nodes.pods_rescheduled_max_s
    try:
        canary.wait_available(replicas, timeout_s=steps.outlast(limit))
        recovered: float | None = run.now() - returned
    except RecoveryTimeout as e:
        recovered = None
        run.evidence["canary"] = str(e)
    run.metrics["time_to_recover_after_return_s"] = recovered
    run.add(slo.check_max(f"canary Available again after every {component} returned", recovered, limit))
    run.end_fault()
    return recovered


def stop_component_everywhere(run: DrillRun, component: str) -> dict[str, Any]:
    """Action: stop every instance of the scheduler or controller-manager and leave them stopped (each stop
    proven) for the activities that follow, such as a Chaos Toolkit extension's, until
    ``start_component_everywhere``; the rollbacks start them whatever happens in between."""
    check_stop_every_instance(component)
    faults = [StopComponent(run.cluster, component, n) for n in run.cluster.control_planes]
    with run.phase(f"inject: stop every {component} (until start_component_everywhere)"):
        run.begin_fault()
        for f in faults:
            run.inject(f)
    with run.phase(f"fault took effect: no {component} runs"):
        for f in faults:
            run.evidence[f"stopped on {f.node}"] = f.confirm()
    return {"component": component, "stopped": [f.node for f in faults]}


def start_component_everywhere(run: DrillRun, component: str) -> dict[str, Any]:
    """Action: start what ``stop_component_everywhere`` stopped and measure until the canary has all its
    replicas Available again (within lease_handover_max_s + pods_rescheduled_max_s)."""
    canary = steps.require_canary(run)
    faults = [f for f in run.rollbacks.open_faults() if isinstance(f, StopComponent) and f.component == component]
    if not faults:
        raise PreconditionFailed(
            f"start_component_everywhere: no {component} is stopped: stop_component_everywhere first"
        )
    with run.phase(f"recover: start every {component}; the canary is whole again"):
        recovered = _start_and_await_canary(run, canary, component, faults, canary.replicas)
    return {"component": component, "recovered_s": recovered}


def plan_stop_component_everywhere(cluster: Cluster, component: str) -> Plan:
    plans = [StopComponent(cluster, component, n).plan() for n in cluster.control_planes]
    return Plan(
        fault="component.stop (every instance, until started)",
        targets=dict.fromkeys(cluster.control_planes, component),
        actions=[a for p in plans for a in p.actions] + ["leave them stopped for the activities that follow"],
        revert=[a for p in plans for a in p.revert],
    )


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
