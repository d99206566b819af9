"""A lost node: its kubelet stops, the control plane hears nothing more from it, and its pods move on.

What Kubernetes does, and what the drill times (seed 000's KubernetesNodeNotReady is what pages someone):

1. The kubelet stops renewing the node's Lease (every 10 s) and stops reporting its pods.
2. The node lifecycle controller marks the node NotReady (Ready=Unknown) once the Lease is older than
   ``--node-monitor-grace-period`` (50 s since Kubernetes 1.32), and taints it
   ``node.kubernetes.io/unreachable:NoExecute``. Its pods are marked not Ready.
3. Pods that tolerate that taint for ``tolerationSeconds`` are evicted after it (the canary: 10 s; a pod that
   says nothing gets 300 s from the DefaultTolerationSeconds admission plugin). Their ReplicaSet replaces them
   on the other nodes. The evicted pods stay Terminating: no kubelet confirms they stopped.
4. The kubelet returns: the node is Ready again, the taint is lifted, the Terminating pods are cleaned up.

On the embedded cluster the stopped kubelet is the worker's own KWOK process; on kind, the ``kubelet`` systemd
unit in the worker's node container; over ssh, the ``kubelet`` unit (or the inventory's ``units.kubelet``) on a
worker the inventory lists under ``workers`` (``backends.kubelets``). An inventory without workers: the drill is
skipped, saying so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.kubelets import KubeletControl
from kubedrill.backends.prom import Prometheus
from kubedrill.drill import DrillRun
from kubedrill.errors import ConfigError, FaultInjectionError, PreconditionFailed
from kubedrill.faults import steps
from kubedrill.faults.base import Fault, Plan
from kubedrill.faults.components import CONFIRM_TIMEOUT_S
from kubedrill.model import Impact
from kubedrill.probes.workload import Canary
from kubedrill.waiting import wait_until

# However tight the SLO, wait this long for NotReady (past the 50 s grace period and its 5 s checks): the time it
# took is measured, and what follows (eviction, the alert) is timed from when it really happened.
NOT_READY_WAIT_MIN_S = 90.0


def kubelets_of(cluster: Cluster) -> KubeletControl:
    if cluster.kubelets is None:
        raise PreconditionFailed(
            f"backend {cluster.backend}: kubedrill cannot reach the workers' kubelets here (the embedded cluster and "
            "kind can; over ssh, list the workers under the inventory's workers)"
        )
    return cluster.kubelets


def reachable_workers(cluster: Cluster, kubelets: KubeletControl) -> list[str]:
    """The cluster's workers whose kubelet kubedrill can stop (over ssh: those the inventory lists)."""
    return [w for w in steps.workers(cluster) if kubelets.reaches(w)]


def pick_worker(canary_nodes: dict[str, int], workers: Sequence[str], node: str | None = None) -> str:
    """The worker to lose (pure): ``node`` if given, else the one with the most canary pods (then by name).
    Losing a node with none of the canary's pods would prove nothing about eviction."""
    if node is not None:
        if node not in workers:
            raise ConfigError("experiment", "node", f"a worker node: one of {sorted(workers)}", node)
        return node
    candidates = sorted((-count, name) for name, count in canary_nodes.items() if name in workers and count > 0)
    if not candidates:
        raise PreconditionFailed(f"no canary pod runs on a worker ({sorted(workers)}): no node to lose")
    return candidates[0][1]


class StopKubelet(Fault):
    """Stop the kubelet on worker ``node``; revert starts it again (and sees it run)."""

    fault_type = "node.kubelet-stop"

    def __init__(self, cluster: Cluster, node: str) -> None:
        super().__init__(cluster)
        self.node = node
        self.stopped_pid: str | None = None
        self.stopped_at: float | None = None  # monotonic, right before the stop: what NotReady is timed from

    def params(self) -> dict[str, Any]:
        return {"node": self.node}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> StopKubelet:
        return cls(cluster, params["node"])

    def describe(self) -> str:
        return f"stop the kubelet on {self.node}"

    def plan(self) -> Plan:
        kubelets = kubelets_of(self.cluster)
        kube = self.cluster.kube()
        try:
            nodes = {n.name: n for n in kube.nodes()}
        finally:
            kube.close()
        if self.node not in nodes:
            raise ConfigError("experiment", "node", f"one of {sorted(nodes)}", self.node)
        if steps.CONTROL_PLANE_LABEL in nodes[self.node].labels:
            raise PreconditionFailed(f"{self.node} is a control-plane node: the node-lost drill loses a worker")
        if not kubelets.reaches(self.node):
            raise PreconditionFailed(f"{self.node}: kubedrill cannot reach its kubelet (not an inventory worker)")
        # Refused before anything is recorded: a node already NotReady would make the drill's timing meaningless,
        # and a kubelet not running is not this drill's to start afterwards.
        if not nodes[self.node].ready:
            raise PreconditionFailed(f"{self.node}: expected Ready before its kubelet is stopped, observed NotReady")
        if kubelets.pid(self.node) is None:
            raise PreconditionFailed(f"{self.node}: expected a running kubelet to stop, observed none")
        return Plan(
            fault=self.fault_type,
            targets={"node": self.node, "kubelet": kubelets.name},
            actions=[kubelets.describe("stop", self.node)],
            revert=[kubelets.describe("start", self.node)],
        )

    def inject(self) -> str:
        kubelets = kubelets_of(self.cluster)
        self.stopped_pid = kubelets.pid(self.node)
        if self.stopped_pid is None:
            raise FaultInjectionError(f"no kubelet runs on {self.node}: nothing to stop")
        self.stopped_at = time.monotonic()
        kubelets.stop(self.node)
        return f"stopped the kubelet on {self.node} (PID {self.stopped_pid})"

    def confirm(self) -> str:
        kubelets = kubelets_of(self.cluster)
        wait_until(
            f"the kubelet on {self.node} stopped",
            lambda: kubelets.pid(self.node),
            lambda pid: pid is None,
            timeout_s=CONFIRM_TIMEOUT_S,
            interval_s=0.1,
            describe=lambda pid: f"still running as PID {pid}" if pid else "stopped",
        )
        return f"no kubelet runs on {self.node} (was PID {self.stopped_pid})"

    def revert(self) -> str:
        kubelets = kubelets_of(self.cluster)
        kubelets.start(self.node)
        # A new process when the stopped one is known (under `kubedrill recover` it is not: any running one will do).
        pid = wait_until(
            f"the kubelet on {self.node} running again",
            lambda: kubelets.pid(self.node),
            lambda p: p is not None and p != self.stopped_pid,
            timeout_s=CONFIRM_TIMEOUT_S,
            interval_s=0.2,
        )
        return f"kubelet on {self.node} started again (PID {pid})"


# ---------------------------------------------------------------- drill steps and dry-run plans


def _ready_elsewhere(canary: Canary, lost: str) -> int:
    pods = canary.workloads.pods(canary.namespace, f"app={canary.labels['app']}")
    return sum(1 for p in pods if p.ready and not p.deleting and p.node and p.node != lost)


def _node_ready(cluster: Cluster, node: str) -> bool | None:
    kube = cluster.kube(timeout_s=2.0)
    try:
        return next((n.ready for n in kube.nodes() if n.name == node), None)
    finally:
        kube.close()


def _prometheus_saw_not_ready(run: DrillRun, node: str, since: float) -> None:
    """kube-state-metrics' ``kube_node_status_condition`` for ``node`` reads not Ready in Prometheus (what the
    seed's KubernetesNodeNotReady rule evaluates) within two scrape intervals (the longest of its targets')
    and 5 s of the API saying so."""
    name = f"Prometheus saw {node} NotReady (kube_node_status_condition)"
    url = run.prometheus_url_or_check(name, "a Prometheus with kube-state-metrics")
    if not url:
        return
    expr = f'kube_node_status_condition{{condition="Ready",status="true",node="{node}"}} == 0'
    prom = Prometheus(url)
    try:
        # kube-state-metrics follows the Node by a watch: the API's NotReady is in its next scrape, evaluated at once.
        budget = 2 * max((t.scrape_interval_s for t in prom.targets()), default=30.0) + 5.0
        steps.timed_check(
            run,
            name,
            "node_not_ready_in_prometheus_s",
            budget,
            since,
            lambda: wait_until(
                f"{expr} in Prometheus",
                lambda: prom.query(expr),
                bool,
                timeout_s=steps.outlast(budget),
                interval_s=1.0,
                describe=lambda found: f"{len(found)} series",
            ),
            hint=f"no series for {expr}: is kube-state-metrics scraped, and does it export nodes?",
            impact=Impact.SIGNAL,
        )
    finally:
        prom.close()


def lose_node(run: DrillRun, node: str | None = None, must_fire: Sequence[str] = ()) -> dict[str, Any]:
    """Action: stop the kubelet of the worker with the most canary pods (or ``node``); time NotReady in the API
    and in Prometheus, the canary's pods evicted after their toleration and Ready elsewhere, and (with
    ``must_fire``) the alerts that must page someone; then start the kubelet and time the node Ready again."""
    canary = steps.require_canary(run)
    try:  # refused, saying why, before the fault window opens
        per_node = canary.pods_per_node()
        target = pick_worker(per_node, reachable_workers(run.cluster, kubelets_of(run.cluster)), node)
        on_target = per_node.get(target, 0)
        if on_target == 0:
            raise PreconditionFailed(f"no canary pod runs on {target}: losing it proves nothing about eviction")
    except PreconditionFailed as e:
        raise run.refuse(e) from None
    limits = run.profile.nodes
    fault = StopKubelet(run.cluster, target)
    began = run.begin_fault(f"stop the kubelet on {target}")
    with run.phase(f"inject: stop the kubelet on {target} ({on_target} canary pod(s) on it)"):
        run.evidence[f"kubelet on {target}"] = run.inject(fault)
        run.evidence[f"kubelet on {target} stopped"] = fault.confirm()
    stopped = fault.stopped_at or began
    with run.phase(f"detection: {target} NotReady in the API and in Prometheus"):
        not_ready = steps.timed_check(
            run,
            f"{target} NotReady in the API (node lifecycle controller)",
            "node_not_ready_s",
            limits.not_ready_max_s,
            stopped,
            lambda: wait_until(
                f"{target} NotReady",
                lambda: _node_ready(run.cluster, target),
                lambda ready: ready is False,
                timeout_s=max(steps.outlast(limits.not_ready_max_s), NOT_READY_WAIT_MIN_S),
                interval_s=0.5,
            ),
            hint="the controller manager's --node-monitor-grace-period sets this; is a controller manager leading?",
            impact=Impact.SIGNAL,
        )
        # What the alert rules and the eviction see starts here: their budgets count from it. Never seen NotReady,
        # they count from when the wait gave up (and their checks show what followed).
        not_ready_at = stopped + not_ready if not_ready is not None else run.now()
        if not_ready is not None:
            _prometheus_saw_not_ready(run, target, not_ready_at)
    since = not_ready_at
    with run.phase(f"evicted: the canary's pods on {target} replaced and Ready on other nodes"):
        steps.timed_check(
            run,
            f"canary back to {canary.replicas} Ready pods off {target} after it went NotReady",
            "evicted_pods_ready_s",
            limits.evicted_pods_ready_max_s,
            since,
            lambda: wait_until(
                f"{canary.replicas} Ready canary pods off {target}",
                lambda: _ready_elsewhere(canary, target),
                lambda ready: ready >= canary.replicas,
                timeout_s=steps.outlast(limits.evicted_pods_ready_max_s),
                interval_s=0.5,
                describe=lambda ready: f"{ready} Ready elsewhere",
            ),
            hint="pods without a short unreachable toleration stay 300 s on a lost node (DefaultTolerationSeconds)",
        )
    steps.await_alerts(run, must_fire, fault.describe(), began, not_ready_at)
    with run.phase(f"recover: start the kubelet on {target}; the node Ready again"):
        back = run.now()  # the kubelet's own start-up is part of the node's return
        run.evidence[f"kubelet on {target} back"] = run.rollbacks.revert_one(fault)
        steps.timed_check(
            run,
            f"{target} Ready again after its kubelet returned",
            "node_ready_again_s",
            limits.node_ready_again_max_s,
            back,
            lambda: wait_until(
                f"{target} Ready",
                lambda: _node_ready(run.cluster, target),
                lambda ready: ready is True,
                timeout_s=steps.outlast(limits.node_ready_again_max_s),
                interval_s=0.5,
            ),
        )
    steps.settle(run)
    return {"lost": target, "metrics": run.metrics}


def plan_lose_node(cluster: Cluster, node: str | None = None, **_: Any) -> Plan:
    """The plan for ``node``, or for the first worker: the run itself picks the worker with the most canary pods,
    which exist only once the drill has started."""
    workers = reachable_workers(cluster, kubelets_of(cluster))
    if not workers:
        raise PreconditionFailed("the cluster has no worker node whose kubelet kubedrill can reach")
    target = node or workers[0]
    plan = StopKubelet(cluster, target).plan()
    if node is None:
        plan.targets["node"] = f"{target} (here; the run picks the worker with the most canary pods)"
    return plan
