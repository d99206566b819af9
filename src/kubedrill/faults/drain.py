"""Node drain: cordon, then evict every pod through the Eviction API (so PDBs are honoured), and always
uncordon afterwards.

``plan_evictions`` is the pure decision, as ``kubectl drain`` makes it: mirror pods and DaemonSet pods
are skipped; unmanaged pods (no controller would recreate them) and pods with emptyDir data are refused
unless explicitly allowed (``force`` / ``delete_emptydir_data``); the last schedulable node and
control-plane nodes are never drained unless asked. Evictions that a PDB refuses (HTTP 429) are retried
with backoff (tenacity) until the timeout, then reported as blocked by that PDB, with the pods.
(chaostoolkit-kubernetes 0.39's ``drain_nodes`` raises TypeError on an unmanaged pod and leaves the node
cordoned; here every path ends uncordoned: revert runs on success, failure, Ctrl-C, SIGTERM and recover.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.kube import NodeInfo
from kubedrill.backends.workloads import PodOnNode, Workloads
from kubedrill.drill import DrillRun
from kubedrill.errors import ConfigError, PreconditionFailed
from kubedrill.faults import steps
from kubedrill.faults.base import Fault, Plan
from kubedrill.model import Check, Impact
from kubedrill.probes.workload import AvailabilityWatch, Canary


@dataclass(frozen=True)
class DrainOptions:
    force: bool = False  # delete unmanaged pods (kubectl drain --force)
    delete_emptydir_data: bool = False  # evict pods with emptyDir volumes (their data is lost)
    allow_control_plane: bool = False
    timeout_s: float = 60.0  # how long to keep retrying evictions a PDB refuses


@dataclass(frozen=True)
class EvictionPlan:
    evict: list[PodOnNode] = field(default_factory=list)
    delete: list[PodOnNode] = field(default_factory=list)  # unmanaged, with force
    skipped: list[tuple[PodOnNode, str]] = field(default_factory=list)
    refused: list[tuple[PodOnNode, str]] = field(default_factory=list)


def plan_evictions(pods: Sequence[PodOnNode], options: DrainOptions) -> EvictionPlan:
    plan = EvictionPlan()
    for p in pods:
        if p.deleting:
            plan.skipped.append((p, "already terminating"))
        elif p.mirror:
            plan.skipped.append((p, "mirror pod of a static pod: the kubelet owns it"))
        elif p.owner_kind == "DaemonSet":
            plan.skipped.append((p, "DaemonSet pod: it would be recreated on the same node"))
        elif p.owner_kind is None and not options.force:
            plan.refused.append((p, "unmanaged pod (no controller recreates it): needs force"))
        elif p.empty_dir and not options.delete_emptydir_data:
            plan.refused.append((p, "emptyDir data would be lost: needs delete_emptydir_data"))
        elif p.owner_kind is None:
            plan.delete.append(p)
        else:
            plan.evict.append(p)
    return plan


def check_drainable(nodes: Sequence[NodeInfo], target: str, options: DrainOptions) -> None:
    node = next((n for n in nodes if n.name == target), None)
    if node is None:
        raise ConfigError("drain", "node", f"one of {[n.name for n in nodes]}", target)
    if steps.CONTROL_PLANE_LABEL in node.labels and not options.allow_control_plane:
        raise PreconditionFailed(f"{target} is a control-plane node: not drained unless allow_control_plane")
    schedulable = [n.name for n in nodes if not n.unschedulable and n.ready and n.name != target
                   and steps.CONTROL_PLANE_LABEL not in n.labels]  # fmt: skip
    if not schedulable:
        raise PreconditionFailed(f"{target} is the last schedulable worker: draining it leaves pods nowhere to go")


@dataclass
class DrainResult:
    evicted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    blocked: dict[str, list[str]] = field(default_factory=dict)  # PDB name → pods it kept
    refused: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.blocked and not self.refused

    def describe(self) -> str:
        if self.complete:
            return f"drained: {len(self.evicted)} evicted, {len(self.deleted)} deleted"
        parts = [f"blocked by PDB {pdb}: could not evict {', '.join(pods)}" for pdb, pods in self.blocked.items()]
        parts += [f"refused: {r}" for r in self.refused]
        return "; ".join(parts)


class Drain(Fault):
    """Cordon ``node`` and evict its pods; revert uncordons (always)."""

    fault_type = "node.drain"

    def __init__(self, cluster: Cluster, node: str, options: DrainOptions | None = None) -> None:
        super().__init__(cluster)
        self.node = node
        self.options = options or DrainOptions()
        self.result = DrainResult()

    def params(self) -> dict[str, Any]:
        return {"node": self.node, "options": self.options.__dict__}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> Drain:
        return cls(cluster, params["node"], DrainOptions(**params["options"]))

    def describe(self) -> str:
        return f"drain {self.node}"

    def plan(self) -> Plan:
        kube = self.cluster.kube()
        try:
            check_drainable(kube.nodes(), self.node, self.options)
            pods = Workloads(kube).pods_on_node(self.node)
        finally:
            kube.close()
        p = plan_evictions(pods, self.options)
        return Plan(
            fault=self.fault_type,
            targets={"node": self.node, "pods to evict": ", ".join(f"{x.namespace}/{x.name}" for x in p.evict)},
            actions=[f"cordon {self.node}"]
            + [f"evict {x.namespace}/{x.name} (Eviction API, PDBs honoured)" for x in p.evict]
            + [f"delete unmanaged {x.namespace}/{x.name} (force)" for x in p.delete]
            + [f"skip {x.namespace}/{x.name}: {why}" for x, why in p.skipped]
            + [f"refuse {x.namespace}/{x.name}: {why}" for x, why in p.refused],
            revert=[f"uncordon {self.node}"],
        )

    def inject(self) -> str:
        kube = self.cluster.kube()
        w = Workloads(kube)
        try:
            w.cordon(self.node, True)
            p = plan_evictions(w.pods_on_node(self.node), self.options)
            self.result.refused = [f"{x.namespace}/{x.name}: {why}" for x, why in p.refused]
            for pod in p.delete:
                w.delete_pod(pod.namespace, pod.name)
                self.result.deleted.append(f"{pod.namespace}/{pod.name}")
            for pod in p.evict:
                self._evict(w, pod)
        finally:
            kube.close()
        return self.result.describe()

    def _evict(self, w: Workloads, pod: PodOnNode) -> None:
        retrying = Retrying(
            stop=stop_after_delay(self.options.timeout_s),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_result(lambda outcome: outcome == "blocked"),
        )
        name = f"{pod.namespace}/{pod.name}"
        try:
            retrying(w.evict, pod.namespace, pod.name)
            self.result.evicted.append(name)
        except RetryError:
            pdbs = w.pdbs_selecting(pod.namespace, pod.labels) or ["(unknown)"]
            for pdb in pdbs:
                self.result.blocked.setdefault(f"{pod.namespace}/{pdb}", []).append(name)

    def confirm(self) -> str:
        kube = self.cluster.kube()
        try:
            node = next(n for n in kube.nodes() if n.name == self.node)
        finally:
            kube.close()
        if not node.unschedulable:
            raise PreconditionFailed(f"{self.node} is not cordoned after the drain started")
        return f"{self.node} cordoned; {self.result.describe()}"

    def revert(self) -> str:
        kube = self.cluster.kube()
        try:
            Workloads(kube).cordon(self.node, False)
            node = next(n for n in kube.nodes() if n.name == self.node)
        finally:
            kube.close()
        if node.unschedulable:
            raise PreconditionFailed(f"{self.node} is still cordoned after uncordon")
        return f"{self.node} uncordoned (verified)"


# ---------------------------------------------------------------- drill steps and dry-run plans


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
                impact=Impact.RECOVERY,
            )
        )
        with run.phase(f"recover: evicted pods recreated and Ready elsewhere; uncordon {node}"):
            took = steps.await_canary(run, canary, canary.replicas, start, "recreated and Ready on other nodes")
            left = canary.pods_per_node().get(node, 0)
            if fault.result.complete:
                run.add(Check(f"no canary pod left on {node}", "0", str(left), left == 0, impact=Impact.RECOVERY))
            run.evidence[f"uncordon {node}"] = run.rollbacks.revert_one(fault)
            uncordoned = next(n for n in run.cluster.kube().nodes() if n.name == node)
            run.add(
                Check(
                    f"{node} uncordoned afterwards",
                    "schedulable",
                    "cordoned" if uncordoned.unschedulable else "schedulable",
                    not uncordoned.unschedulable,
                    impact=Impact.RECOVERY,
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
            impact=Impact.USERS,
        )
    )


def drain_node(
    run: DrillRun,
    node: str | None = None,
    timeout_s: float = 30.0,
    force: bool = False,
    delete_emptydir_data: bool = False,
) -> dict[str, Any]:
    """Action: drain the worker with the most canary pods (or ``node``) through the Eviction API, watching
    the canary at 10 Hz; assert it never drops below its PDB, its pods come back elsewhere, the node is
    uncordoned. A PDB allowing no disruption makes the drill fail with "blocked by PDB <name>"."""
    canary = steps.require_canary(run)
    target = node or max(sorted(canary.pods_per_node().items()), key=lambda kv: kv[1])[0]
    run.begin_fault(f"drain {target} through the Eviction API")
    _drain_one(run, canary, target, DrainOptions(force, delete_emptydir_data, timeout_s=timeout_s))
    steps.settle(run)
    return {"drained": target, "metrics": run.metrics}


def rolling_drain(run: DrillRun, timeout_s: float = 30.0) -> dict[str, Any]:
    """Action: drain every worker one at a time, as maintenance would, availability asserted throughout."""
    canary = steps.require_canary(run)
    workers = steps.workers(run.cluster)
    start = run.begin_fault(f"drain {', '.join(workers)}, one at a time")
    for worker in workers:
        _drain_one(run, canary, worker, DrainOptions(timeout_s=timeout_s))
    run.metrics["rolling_drain_total_s"] = run.now() - start
    steps.settle(run)
    return {"drained": workers, "total_s": run.metrics["rolling_drain_total_s"]}


def plan_drain_node(cluster: Cluster, node: str | None = None, **_: Any) -> Plan:
    return Drain(cluster, node or steps.workers(cluster)[0]).plan()


def plan_rolling_drain(cluster: Cluster, **_: Any) -> Plan:
    return plan_drain_node(cluster)
