"""Disaster and restore of etcd from a snapshot, as seeds 000/003 do it by hand, for every runtime.

1. ``take_snapshot``: ``etcdctl snapshot save``, fetched to this machine and verified (``etcdutl snapshot
   status``, then a trial ``etcdutl snapshot restore`` into a scratch dir, which checks the hash): a
   corrupted or truncated snapshot is refused before anything is stopped.
2. ``EtcdRestore.inject`` (the disaster): stop every API server, then every etcd member (supervisor
   holds, static-pod manifests moved out, systemd units stopped); move each data dir aside (never deleted
   until the restore is proven).
3. ``EtcdRestore.restore``: copy the snapshot to every member, ``etcdutl snapshot restore`` with the
   member's name and peer URL, a new cluster token, ``--bump-revision`` and ``--mark-compacted`` (watchers
   must not see revisions go backwards); start etcd, then the API servers.
4. ``EtcdRestore.prove``: once the restored cluster is verified, delete the aside data dirs.

``revert`` decides from the nodes themselves: where an aside dir still exists the restore was not proven,
so the restored dir is removed and the old one put back; then everything is started. ``kubedrill recover``
can therefore undo a restore interrupted at any step.
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kubedrill import slo
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.etcd import Etcdutl
from kubedrill.backends.workloads import Workloads
from kubedrill.drill import DrillRun
from kubedrill.errors import ConfigError, FaultInjectionError, PreconditionFailed, RecoveryTimeout
from kubedrill.faults import steps
from kubedrill.faults.base import Fault, Plan
from kubedrill.faults.components import runtime_of
from kubedrill.model import Check, Impact
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes.workload import Canary
from kubedrill.waiting import wait_until

ASIDE_SUFFIX = ".kubedrill-aside"
# A kubelet takes a while to stop a static pod whose manifest moved; systemd's stop of an API server whose clients
# hold connections through the load balancer took 60.0 s on the binary-install hosts (its HTTP server's shutdown
# runs into the 60 s --request-timeout). Longer than systemd's own 90 s stop timeout, after which it kills.
STOP_TIMEOUT_S = 100.0
REVISION_BUMP = 1_000_000_000  # etcd's own recommendation: more than the writes a snapshot can be behind


@dataclass(frozen=True)
class SnapshotInfo:
    path: str  # on this machine
    hash: int
    revision: int
    total_keys: int
    total_size: int
    taken_at: float  # unix seconds


@dataclass(frozen=True)
class RestoreMember:
    node: str
    name: str
    peer_url: str
    data_dir: str


def verify_snapshot(etcdutl_local: str, path: str, scratch: Path, taken_at: float | None = None) -> SnapshotInfo:
    """Refuse a snapshot that ``etcdutl`` cannot read or whose integrity hash does not match. ``taken_at`` is
    when ``snapshot save`` began (the snapshot's point in time, what RPO is measured from)."""
    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        raise PreconditionFailed(f"snapshot {path} is missing or empty: refusing to restore from it")
    etcdutl = Etcdutl(etcdutl_local)
    status = etcdutl.snapshot_status(path)
    if not status.ok:
        raise PreconditionFailed(
            f"snapshot {path} is unreadable (etcdutl snapshot status: {status.stderr.strip()[-300:]}): "
            "refusing to stop anything"
        )
    data = json.loads(status.stdout)
    restored = etcdutl.trial_restore(path, scratch)
    if not restored.ok:
        raise PreconditionFailed(
            f"snapshot {path} failed a trial restore ({restored.stderr.strip()[-300:]}): refusing to stop anything"
        )
    return SnapshotInfo(
        path=path,
        hash=int(data.get("hash", 0)),
        revision=int(data.get("revision", 0)),
        total_keys=int(data.get("totalKey", 0)),
        total_size=int(data.get("totalSize", 0)),
        taken_at=time.time() if taken_at is None else taken_at,
    )


def take_snapshot(cluster: Cluster, local_dir: Path, etcdutl_local: str) -> SnapshotInfo:
    """``etcdctl snapshot save`` (from a healthy member), fetched here and verified."""
    if cluster.etcd is None or cluster.access is None:
        raise PreconditionFailed(cluster.missing or "a restore needs etcd and node access")
    name = f"kubedrill-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}.db"
    remote = f"{cluster.etcd_data.snapshot_dir}/{name}"
    first = cluster.control_planes[0]
    local_dir.mkdir(parents=True, exist_ok=True)
    # etcdctl takes a snapshot from exactly one member: the leader, which has every committed write.
    statuses = cluster.etcd.endpoint_status()
    leader = next((s for s in statuses if s.is_leader), None)
    if leader is None:
        raise PreconditionFailed(f"no etcd leader to take a snapshot from: {[s.endpoint for s in statuses]}")
    taken_at = time.time()  # the snapshot holds what was committed when save began
    local = str(local_dir / name)
    if cluster.etcd_certs_local:  # etcdctl runs here: it writes the snapshot here
        cluster.etcd.run(["snapshot", "save", local], endpoints=[leader.endpoint])
    else:  # etcdctl runs on a node (or in its etcd container): save there, then fetch from that same node
        node = cluster.node_of_endpoint(leader.endpoint) or first
        cluster.access.run(node, ["mkdir", "-p", cluster.etcd_data.snapshot_dir])
        cluster.etcd_via(node).run(["snapshot", "save", remote], endpoints=[leader.endpoint])
        cluster.access.copy_from(node, remote, local)
    return verify_snapshot(etcdutl_local, local, local_dir, taken_at)


def minor(version: str) -> str:
    """Major.minor of an etcd version (3.6.16 → 3.6): etcd's data format may change between minor releases,
    never within one."""
    return ".".join(version.split(".")[:2])


def check_uploaded_etcdutl(cluster: Cluster, members: list[RestoreMember], local_version: Callable[[], str]) -> str:
    """Find etcdutl on every member's host before anything stops (kubedrill's build is uploaded where a host
    has none), and refuse to restore with an uploaded etcdutl of another minor release than the members run:
    the restored data must be what the cluster's own etcd writes."""
    tool = cluster.etcd_data.etcdutl_on_hosts
    if tool is None or cluster.etcd is None:
        return ""
    for m in members:
        tool.on(m.node)
    uploaded = [m.node for m in members if tool.uploaded_to(m.node)]
    if not uploaded:
        return f"etcdutl on every host: {tool.configured}"
    running = sorted({s.version for s in cluster.etcd.endpoint_status() if s.version})
    uploaded_version = local_version()  # only now: running the local etcdutl is needed only for an upload
    if not uploaded_version or any(minor(v) != minor(uploaded_version) for v in running):
        raise PreconditionFailed(
            f"etcdutl: the members run etcd {', '.join(running) or '(unknown)'}, kubedrill's etcdutl is "
            f"{uploaded_version or '(unknown)'}, and {', '.join(uploaded)} have no etcdutl of their own: install the "
            "cluster's etcdutl there and name it as etcd.etcdutl in the inventory"
        )
    return f"etcdutl {uploaded_version} uploaded to {', '.join(uploaded)} (members run {', '.join(running)})"


def restore_members(cluster: Cluster) -> list[RestoreMember]:
    """Each member's etcd name and peer URL (from ``member list``) and data dir, by node."""
    if cluster.etcd is None:
        raise PreconditionFailed(cluster.missing or "no etcd access")
    members = cluster.etcd.member_list()
    out = []
    for m in members:
        node = next(
            (n for n, url in cluster.etcd_endpoint_of.items() if url in m.client_urls or m.name == n),
            None,
        )
        if node is None or node not in cluster.etcd_data.data_dir_of:
            raise PreconditionFailed(
                f"etcd member {m.name} ({m.client_urls}) is not one of {sorted(cluster.etcd_data.data_dir_of)}"
            )
        if not m.peer_urls:
            raise PreconditionFailed(f"etcd member {m.name} has no peer URL")
        out.append(RestoreMember(node, m.name, m.peer_urls[0], cluster.etcd_data.data_dir_of[node]))
    return sorted(out, key=lambda r: r.node)


def restore_argv(
    etcdutl: str, snapshot: str, member: RestoreMember, members: list[RestoreMember], token: str
) -> list[str]:
    """The ``etcdutl snapshot restore`` command for one member (pure; shown by --dry-run)."""
    initial = ",".join(f"{m.name}={m.peer_url}" for m in members)
    return [
        etcdutl, "snapshot", "restore", snapshot,
        f"--name={member.name}",
        f"--initial-cluster={initial}",
        f"--initial-cluster-token={token}",
        f"--initial-advertise-peer-urls={member.peer_url}",
        f"--data-dir={member.data_dir}",
        f"--bump-revision={REVISION_BUMP}",
        "--mark-compacted",
    ]  # fmt: skip


class EtcdRestore(Fault):
    """The disaster (everything stopped, data moved aside) and the restore; revert puts the old data back
    unless the restore was proven."""

    fault_type = "etcd.restore"

    def __init__(
        self,
        cluster: Cluster,
        snapshot: str,
        members: list[RestoreMember] | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__(cluster)
        self.snapshot = snapshot
        self.members = members or []
        self.token = token or f"kubedrill-restore-{secrets.token_hex(4)}"

    def params(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "members": [asdict(m) for m in self.members], "token": self.token}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> EtcdRestore:
        return cls(cluster, params["snapshot"], [RestoreMember(**m) for m in params["members"]], params["token"])

    def describe(self) -> str:
        return f"etcd restore of {len(self.members)} members from {Path(self.snapshot).name}"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        """Every member and every API server: a restore is a planned total outage."""
        return frozenset(
            {("etcd", m.node) for m in self.members} | {("kube-apiserver", n) for n in self.cluster.control_planes}
        )

    def _remote_snapshot(self) -> str:
        return f"{self.cluster.etcd_data.snapshot_dir}/{Path(self.snapshot).name}"

    def plan(self) -> Plan:
        if not self.members:
            self.members = restore_members(self.cluster)
        rt = runtime_of(self.cluster)
        actions = [rt.describe("stop", "kube-apiserver", n) for n in self.cluster.control_planes]
        actions += [rt.describe("stop", "etcd", m.node) for m in self.members]
        access = self.cluster.access
        remote = self._remote_snapshot()

        def on(node: str, argv: list[str]) -> str:  # the exact command (ssh's argv on real hosts)
            return access.describe(node, argv) if access is not None else f"on {node}: {shlex.join(argv)}"

        actions += [on(m.node, ["mv", m.data_dir, m.data_dir + ASIDE_SUFFIX]) for m in self.members]
        etcdutl = self.cluster.etcd_data.etcdutl
        actions += [on(m.node, restore_argv(etcdutl, remote, m, self.members, self.token)) for m in self.members]
        actions += [rt.describe("start", "etcd", m.node) for m in self.members]
        actions += [rt.describe("start", "kube-apiserver", n) for n in self.cluster.control_planes]
        return Plan(
            fault=self.fault_type,
            targets={m.node: f"member {m.name}, data {m.data_dir}" for m in self.members},
            actions=actions,
            revert=[f"if {m.data_dir}{ASIDE_SUFFIX} exists on {m.node}: put it back" for m in self.members]
            + ["start etcd on every member, then every API server"],
        )

    def _node_run(self, node: str, argv: list[str], timeout_s: float = 60.0) -> str:
        access = self.cluster.access
        if access is None:
            raise PreconditionFailed(self.cluster.missing or "no node access")
        return access.run(node, argv, timeout_s=timeout_s).stdout

    def _exists(self, node: str, path: str) -> bool:
        access = self.cluster.access
        assert access is not None
        return access.run(node, ["test", "-e", path], check=False).ok

    def _stop_everything(self) -> None:
        """API servers, then etcd members, stopped; returns once no member runs. A stop takes effect
        asynchronously (a kubelet notices a moved manifest; a killed process is reaped), and a member's data
        dir must never be moved while it runs: its open WAL would keep writing into whatever lands there."""
        rt = runtime_of(self.cluster)
        for node in self.cluster.control_planes:
            rt.stop("kube-apiserver", node)
        for m in self.members:
            rt.stop("etcd", m.node)
        # Under a kubelet the API servers stop after their graceful shutdown, seconds after their manifest moved:
        # the disaster is confirmed only once none of them (and no member) runs.
        stopped = [("etcd", m.node) for m in self.members] + [
            ("kube-apiserver", n) for n in self.cluster.control_planes
        ]
        for component, node in stopped:
            try:
                wait_until(
                    f"{component} on {node} stopped",
                    partial(rt.instance, component, node),
                    lambda inst: inst is None,
                    timeout_s=STOP_TIMEOUT_S,
                    interval_s=0.1,
                )
            except RecoveryTimeout as e:
                if component == "etcd":
                    raise FaultInjectionError(f"etcd on {node} still runs after stop: not moving its data ({e})") from e
                raise FaultInjectionError(f"{component} on {node} still runs after stop ({e})") from e

    def inject(self) -> str:
        """The disaster: API servers, then etcd members, stopped; data dirs moved aside."""
        self._stop_everything()
        for m in self.members:
            if not self._exists(m.node, m.data_dir + ASIDE_SUFFIX):
                self._node_run(m.node, ["mv", m.data_dir, m.data_dir + ASIDE_SUFFIX])
        apis, members = len(self.cluster.control_planes), len(self.members)
        return f"stopped {apis} API servers and {members} etcd members; data moved aside"

    def confirm(self) -> str:
        rt = runtime_of(self.cluster)
        running = [f"{k} on {n}" for n in self.cluster.control_planes for k in ("kube-apiserver", "etcd")
                   if rt.instance(k, n) is not None]  # fmt: skip
        if running:
            raise FaultInjectionError(f"still running after the disaster: {', '.join(running)}")
        return "no API server and no etcd member running"

    def restore(self) -> str:
        """Restore every member from the snapshot with a new token and bumped revisions, then start etcd."""
        access = self.cluster.access
        if access is None:
            raise PreconditionFailed("no node access")
        remote = self._remote_snapshot()
        rt = runtime_of(self.cluster)
        data = self.cluster.etcd_data
        for m in self.members:
            self._node_run(m.node, ["mkdir", "-p", data.snapshot_dir])
            access.copy_to(m.node, self.snapshot, remote)
            if data.etcdutl_upload:
                access.copy_to(m.node, data.etcdutl_upload, data.etcdutl)
            etcdutl = data.etcdutl_on(m.node)
            self._node_run(m.node, ["rm", "-rf", m.data_dir])
            self._node_run(m.node, restore_argv(etcdutl, remote, m, self.members, self.token), 300)
            if data.owner:
                self._node_run(m.node, ["chown", "-R", f"{data.owner}:{data.owner}", m.data_dir])
        for m in self.members:
            rt.start("etcd", m.node)
        return f"restored {len(self.members)} members with token {self.token}; etcd started"

    def start_api_servers(self) -> None:
        rt = runtime_of(self.cluster)
        for node in self.cluster.control_planes:
            rt.start("kube-apiserver", node)

    def restart_dependents(self) -> str:
        """Restart controller-managers, schedulers and kubelets, as Kubernetes' restore guide says: their
        caches hold objects newer than the restored data, and some (KWOK's lease controller, seen here)
        never recover from the update conflicts that follow."""
        rt = runtime_of(self.cluster)
        done = []
        for node in self.cluster.control_planes:
            for component in ("kube-controller-manager", "kube-scheduler"):
                if rt.instance(component, node) is not None:
                    rt.kill(component, node)
                    done.append(f"{component}-{node}")
        for node in self.cluster.kubelet_nodes:
            restarted = rt.restart_kubelet(node)
            if restarted:
                done.append(restarted)
        return "restarted " + ", ".join(done)

    def prove(self) -> str:
        """The restore is verified: the old data dirs are no longer needed."""
        for m in self.members:
            self._node_run(m.node, ["rm", "-rf", m.data_dir + ASIDE_SUFFIX])
        return "old data dirs removed"

    def revert(self) -> str:
        rt = runtime_of(self.cluster)
        put_back = [m for m in self.members if self._exists(m.node, m.data_dir + ASIDE_SUFFIX)]
        if put_back:
            # API servers first: their watch caches may hold the restored (bumped) revisions, and must not
            # outlive the swap back to older data, or they serve stale objects and watches never resume.
            self._stop_everything()
            for m in put_back:
                self._node_run(m.node, ["rm", "-rf", m.data_dir])
                self._node_run(m.node, ["mv", m.data_dir + ASIDE_SUFFIX, m.data_dir])
        for m in self.members:
            rt.start("etcd", m.node)
        self.start_api_servers()
        if put_back:
            self.restart_dependents()  # they saw the restored data, which is gone again
            return f"restore not proven: old data put back on {', '.join(m.node for m in put_back)}; all started"
        return "every etcd member and API server started"


# ---------------------------------------------------------------- drill steps and dry-run plans


SETTLED_STABLE_S = 5.0  # writes acknowledged without a failure this long (kind flapped for ≤ 1.1 s at a time)
SETTLE_TIMEOUT_S = 180.0


def check_restore_args(markers: object, post_snapshot: object) -> None:
    for name, value in (("markers", markers), ("post_snapshot", post_snapshot)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 1000:
            raise ConfigError("experiment", f"restore_etcd_from_snapshot.{name}", "a whole number 1-1000", value)


def restore_etcd_from_snapshot(run: DrillRun, markers: int = 5, post_snapshot: int = 5) -> dict[str, Any]:
    """Action: the DR drill. Seed markers and a canary → snapshot (verified) → post-snapshot objects →
    disaster (every API server and etcd member stopped, data aside) → restore every member → assert the
    markers are back, the post-snapshot objects are gone (the exact RPO set), one leader, members in step,
    revisions moved forward, controllers reconcile; RTO from disaster to the first acknowledged write."""
    check_restore_args(markers, post_snapshot)
    cluster = run.cluster
    prober = run.prober
    if prober is None:
        raise PreconditionFailed("restore_etcd_from_snapshot needs the prober: start_drill first")
    etcdutl_local = run.etcdutl_local or cluster.etcd_data.etcdutl
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
            info = take_snapshot(cluster, run.work_dir / "snapshots", etcdutl_local)
            run.attachments["snapshot"] = info.__dict__
            run.evidence["snapshot"] = (
                f"{Path(info.path).name}: revision {info.revision}, {info.total_keys} keys, hash {info.hash}"
            )
        with run.phase("write post-snapshot objects: what the restore must lose"):
            post_names = [f"post-snapshot-{i:03d}" for i in range(post_snapshot)]
            w.create_configmaps(ns, post_names, {label: "post-snapshot"})
        fault = EtcdRestore(cluster, info.path, restore_members(cluster))
        tools = check_uploaded_etcdutl(cluster, fault.members, Etcdutl(etcdutl_local).version)
        if tools:
            run.evidence["etcdutl"] = tools
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
        with run.phase("settle: the restarted kubelets and components; the API steady, every API server ready"):
            # Restarting the kubelets (as the restore guide says) took kind's API servers away again for up to
            # 45 s right after the first acknowledged write: the restore is verified once the API is steady.
            restarted = run.now()
            steps.timed_check(
                run,
                f"API steady for {SETTLED_STABLE_S:g} s after the kubelets restarted",
                "api_settled_s",
                SETTLE_TIMEOUT_S,
                restarted,
                lambda: wait_until(
                    "the API steady after the kubelets restarted",
                    lambda: slo.time_to_recover_s(
                        [s for s in prober.snapshot() if s.op == "write"], restarted, SETTLED_STABLE_S
                    ),
                    lambda ttr: ttr is not None,
                    timeout_s=SETTLE_TIMEOUT_S + SETTLED_STABLE_S,
                    interval_s=0.2,
                ),
            )
            steps.await_apiservers_ready(run, "every API server answers /readyz after the restore", SETTLE_TIMEOUT_S)
        with run.phase("verify: markers back, post-snapshot objects gone, members in step, controllers reconcile"):
            # Catch-up is timed from here, once the cluster settled: restarting the kubelets (kubeadm) restarts the
            # etcd static pods too, so timing it from the restore would time the settling (kind: 30.3 s vs 30).
            settled = run.now()
            present = set(w.configmap_names(ns, label))
            missing_markers = [m for m in marker_names if m not in present]
            run.add(
                Check(
                    "marker objects restored",
                    f"all {len(marker_names)} markers written before the snapshot",
                    f"{len(marker_names) - len(missing_markers)} present"
                    + (f"; missing {missing_markers}" if missing_markers else ""),
                    not missing_markers,
                    impact=Impact.USERS,
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
                    impact=Impact.USERS,
                )
            )
            run.allowed_lost = tuple(prober.written_after(info.revision))
            members = etcd_probe.observe(cluster)
            min_rev = min(m.revision for m in members)
            run.add(
                Check(
                    "revisions moved forward past the snapshot (no time travel for watchers)",
                    f"every member's revision > {info.revision} + {REVISION_BUMP}",
                    f"lowest revision {min_rev}",
                    min_rev > info.revision + REVISION_BUMP,
                    hint="a watcher resuming from a revision the restore went back past misses changes",
                    impact=Impact.USERS,
                )
            )
            for m in members:
                steps.await_caught_up(run, m.node, settled)
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
                    impact=Impact.RECOVERY,
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


def plan_restore_etcd_from_snapshot(cluster: Cluster, **_: Any) -> Plan:
    return EtcdRestore(cluster, f"{cluster.etcd_data.snapshot_dir}/<snapshot taken by the drill>.db").plan()
