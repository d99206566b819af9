"""The network family: iptables rules in a chain of their own on a node, with a TTL enforced on the node;
its drill steps (isolate a node, cut an API server from etcd, packet loss between peers) and plans; and pod
traffic cut by a NetworkPolicy (``PolicyPartition``), which needs a CNI that enforces policies.

Every partition lives in one chain ``KD-<id>`` in the node's ``filter`` table, jumped to first from
INPUT and OUTPUT, so reverting removes exactly those rules and nothing an operator wrote. When the
rules are installed, a timer is started *on the node* (``setsid -f sh -c 'sleep TTL; remove the chain'``):
if the runner and the API both disappear, the node heals by itself. Packet loss uses iptables'
``statistic`` match (delay would need ``tc netem``, which this project's kernels lack).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubedrill import slo
from kubedrill.backends.access import NodeAccess, Step, UntilFails, shell_argv, shell_script
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.workloads import Traffic, Workloads, policy_admitting_only
from kubedrill.drill import DrillRun
from kubedrill.errors import ConfigError, FaultInjectionError, PreconditionFailed, RecoveryTimeout
from kubedrill.faults import steps
from kubedrill.faults.base import Fault, Plan
from kubedrill.model import Check, Impact
from kubedrill.probes import etcd as etcd_probe
from kubedrill.waiting import wait_until

DEFAULT_TTL_S = 300  # a partition outlives no drill by more than this, runner or not
CHAIN_PREFIX = "KD-"


@dataclass(frozen=True)
class Cut:
    """Traffic to drop on one node: to/from ``peers`` (addresses), optionally one TCP port, optionally
    only on loopback, optionally only a share of packets (loss)."""

    peers: tuple[str, ...] = ()
    port: int | None = None
    loopback: bool = False
    probability: float | None = None  # None: drop everything that matches

    def __post_init__(self) -> None:
        if self.probability is not None and not 0 < self.probability <= 1:
            raise ConfigError("network fault", "probability", "a share of packets in (0, 1]", self.probability)
        if not self.peers and self.port is None:
            raise ConfigError("network fault", "cut", "peers or a port to cut", self)


def rules(chain: str, cut: Cut) -> list[list[str]]:
    """The iptables rules (argv after ``iptables``) that make ``cut`` in ``chain`` (pure)."""
    match: list[str] = []
    if cut.probability is not None:
        match = ["-m", "statistic", "--mode", "random", "--probability", f"{cut.probability:g}"]
    out: list[list[str]] = []
    if cut.loopback:
        port = ["-p", "tcp", "--dport", str(cut.port)] if cut.port else []
        out.append(["-A", chain, "-o", "lo", *port, *match, "-j", "DROP"])
        return out
    # With a port: connections either way use it on one side, so drop it as source and as destination port.
    ports = [["-p", "tcp", flag, str(cut.port)] for flag in ("--dport", "--sport")] if cut.port else [[]]
    # Loss is applied on the way out only: with a rule at both ends a packet would run the gauntlet twice
    # (30 % on each side is 51 % end to end).
    directions = ("-d",) if cut.probability is not None else ("-s", "-d")
    for peer in cut.peers:
        for direction in directions:
            for port in ports:
                out.append(["-A", chain, direction, peer, *port, *match, "-j", "DROP"])
    return out


def install_commands(chain: str, cut: Cut) -> list[list[str]]:
    """The chain, its rules, then the jumps to it (run as one script that stops at the first failure)."""
    return [
        ["iptables", "-N", chain],
        *(["iptables", *r] for r in rules(chain, cut)),
        ["iptables", "-I", "INPUT", "1", "-j", chain],
        ["iptables", "-I", "OUTPUT", "1", "-j", chain],
    ]


def remove_steps(chain: str) -> list[Step]:
    """Idempotent: every jump to the chain (however often it was inserted), then the chain; each step
    tolerates what is already gone, and the script always succeeds (removal is verified afterwards)."""
    return [
        UntilFails(("iptables", "-D", "INPUT", "-j", chain)),
        UntilFails(("iptables", "-D", "OUTPUT", "-j", chain)),
        ["iptables", "-F", chain],
        ["iptables", "-X", chain],
        ["true"],
    ]


def chains_on(access: NodeAccess, node: str) -> list[str]:
    out = access.run(node, ["iptables", "-S"], check=False).stdout
    return sorted({line.split()[1] for line in out.splitlines() if line.startswith(f"-N {CHAIN_PREFIX}")})


class Partition(Fault):
    """Drop traffic on ``node`` per ``cut``; healed by revert, or by the node's own timer after ``ttl_s``."""

    fault_type = "network.partition"

    def __init__(
        self, cluster: Cluster, node: str, cut: Cut, ttl_s: int = DEFAULT_TTL_S, chain: str | None = None
    ) -> None:
        super().__init__(cluster)
        self.node = node
        self.cut = cut
        self.ttl_s = ttl_s
        self.chain = chain or f"{CHAIN_PREFIX}{secrets.token_hex(4)}"

    def params(self) -> dict[str, Any]:
        c = self.cut
        return {
            "node": self.node,
            "chain": self.chain,
            "ttl_s": self.ttl_s,
            "cut": {"peers": list(c.peers), "port": c.port, "loopback": c.loopback, "probability": c.probability},
        }

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> Partition:
        c = params["cut"]
        cut = Cut(tuple(c["peers"]), c["port"], c["loopback"], c["probability"])
        return cls(cluster, params["node"], cut, params["ttl_s"], params["chain"])

    def describe(self) -> str:
        c = self.cut
        what = "loopback" if c.loopback else ",".join(c.peers)
        loss = f" {c.probability:.0%} loss" if c.probability else ""
        return f"partition {self.node} from {what}{f':{c.port}' if c.port else ''}{loss} ({self.chain})"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        """A full cut of a control-plane node from its peers takes its etcd member and API server out;
        a cut of the node's loopback etcd port takes its API server out; packet loss takes nothing down."""
        c = self.cut
        if c.probability is not None or self.node not in self.cluster.control_planes:
            return frozenset()
        if c.loopback:
            return frozenset({("kube-apiserver", self.node)})
        return frozenset({("etcd", self.node), ("kube-apiserver", self.node)})

    def _access(self) -> NodeAccess:
        if self.cluster.access is None:
            raise PreconditionFailed(self.cluster.missing or "network faults need node access")
        return self.cluster.access

    def _timer_steps(self) -> list[Step]:
        """The node's own heal: what runs there after ``ttl_s``."""
        return [["sleep", str(self.ttl_s)], *remove_steps(self.chain)]

    def _start_timer_argv(self) -> list[str]:
        # Detached from us entirely (own session, no inherited pipes), so it outlives this command.
        return shell_argv(*self._timer_steps(), detach=True)

    def plan(self) -> Plan:
        a = self._access()
        return Plan(
            fault=self.fault_type,
            targets={"node": self.node, "chain": self.chain, "ttl": f"{self.ttl_s} s"},
            actions=[
                a.describe(self.node, shell_argv(*install_commands(self.chain, self.cut), stop_on_failure=True)),
                a.describe(self.node, self._start_timer_argv()),
            ],
            revert=[a.describe(self.node, shell_argv(*remove_steps(self.chain)))],
        )

    def inject(self) -> str:
        a = self._access()
        # The timer first: if installing half-fails, the node still heals by itself.
        a.run(self.node, self._start_timer_argv())
        a.run(self.node, shell_argv(*install_commands(self.chain, self.cut), stop_on_failure=True))
        count = len(rules(self.chain, self.cut))
        return f"{count} rules in {self.chain} on {self.node}, healing by itself in {self.ttl_s} s"

    def confirm(self) -> str:
        if self.chain not in chains_on(self._access(), self.node):
            raise FaultInjectionError(f"chain {self.chain} is not on {self.node}: the partition did not take effect")
        return f"{self.chain} present on {self.node}"

    def revert(self) -> str:
        a = self._access()
        a.run(self.node, shell_argv(*remove_steps(self.chain)))
        # The node's timer has nothing left to do: stop it rather than leave it sleeping.
        a.run(self.node, ["pkill", "-f", shell_script(*self._timer_steps())], check=False)
        left = [c for c in chains_on(a, self.node) if c == self.chain]
        if left:
            raise FaultInjectionError(f"{self.chain} still on {self.node} after removal")
        return f"{self.chain} removed from {self.node} (verified with iptables -S)"


# ---------------------------------------------------------------- drill steps and dry-run plans


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


def isolate_node(run: DrillRun, role: str = "leader", hold_s: float = 5.0, ttl_s: int = 120) -> dict[str, Any]:
    """Action: cut the etcd ``role`` (leader or follower) node off from the other control-plane nodes and
    the load balancer (peer and client traffic) for ``hold_s``; then heal. The leader case: the majority
    elects a new leader within the SLO and the cut-off member reports no leader. The follower case:
    leadership does not change. After healing: rules gone (verified on the node), the member caught up."""
    members = etcd_probe.observe(run.cluster)
    leader, node = etcd_probe.member_for_role(members, role)
    fault = Partition(run.cluster, node, Cut(peers=_others(run.cluster, node)), ttl_s=ttl_s)
    with run.phase(f"inject: isolate the etcd {role}'s node {node}"):
        run.attachments["etcd members before"] = [m.__dict__ for m in members]
        start = run.begin_fault()
        run.evidence["partition"] = run.inject(fault)
        run.evidence["partition confirmed"] = fault.confirm()
    with run.phase("fault took effect: the majority carries on, the cut-off member is alone"):
        remaining, quorum = len(members) - 1, etcd_probe.quorum_of(len(members))
        if remaining < quorum:
            # One member (or two) cut off leaves no majority: this is an outage, and the drill says so.
            run.add(
                Check(
                    "a majority of etcd members remains to carry on",
                    f"≥ {quorum} of {len(members)} members on the other side",
                    f"{remaining} member(s) besides the cut-off one",
                    remaining >= quorum,
                    hint="a single control plane cannot survive losing its node: that is what this drill shows",
                    impact=Impact.USERS,
                )
            )
        elif role == "leader":
            try:
                elected = wait_until(
                    "the majority elects a new leader",
                    lambda: etcd_probe.leader_of(_observe_without(run, node)),
                    lambda m: m is not None and m.node != node,
                    timeout_s=max(30.0, run.profile.etcd.leader_election_max_s * 3),
                    interval_s=0.05,
                    describe=lambda m: f"leader {m.node if m else 'none'}",
                )
            except RecoveryTimeout as e:
                limit = run.profile.etcd.leader_election_max_s
                gave_up = f"no leader besides {node} within {e.timeout_s:g} s; last observed {e.last_observed}"
                run.add(slo.check_max("the majority elected a new leader within the SLO", None, limit, hint=gave_up))
                raise
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
                hint="a member that still believes in a leader it cannot reach can serve stale reads",
                impact=Impact.RECOVERY,
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
                    impact=Impact.RECOVERY,
                )
            )
    with run.phase("heal: remove the rules (verified on the node); the member rejoins and catches up"):
        run.evidence["heal"] = run.rollbacks.revert_one(fault)
        healed = run.now()
        steps.await_caught_up(run, node, healed)
        run.attachments["etcd members after"] = [m.__dict__ for m in etcd_probe.observe(run.cluster)]
        steps.settle(run)
    return {"isolated": node, "role": role, "metrics": run.metrics}


def cut_apiserver_from_etcd(run: DrillRun, node: str | None = None, hold_s: float = 8.0) -> dict[str, Any]:
    """Action: drop one API server's traffic to its etcd (stacked: 127.0.0.1:2379 on its node) for
    ``hold_s``: that API server goes unready, the load balancer takes it out, users see no outage."""
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
            limit = run.profile.api.unready_max_s
            gave_up = ""
            try:  # waited for past the SLO, so a slow detection is measured and judged, not cut off at the limit
                wait_until(
                    f"{url}/readyz failing",
                    lambda: kube.readyz(url),
                    lambda ok: not ok,
                    timeout_s=max(30.0, 3 * limit),
                    interval_s=0.2,
                    describe=lambda ok: "ready" if ok else "not ready",
                )
                unready_s: float | None = run.now() - start
            except RecoveryTimeout as e:
                unready_s, gave_up = None, f"still {e.last_observed} after {e.timeout_s:g} s"
            run.metrics["apiserver_unready_s"] = unready_s
            run.add(
                slo.check_max(f"kube-apiserver on {target} went unready without etcd", unready_s, limit, hint=gave_up)
            )
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
            steps.settle(run)
    finally:
        kube.close()
    return {"node": target, "metrics": run.metrics}


def etcd_peer_packet_loss(run: DrillRun, probability: float = 0.3, hold_s: float = 10.0) -> dict[str, Any]:
    """Action: drop ``probability`` of the packets between etcd peers (port 2380) on every member for
    ``hold_s``; leader changes and latency are reported, the API's SLO judged; then heal."""

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
        steps.settle(run)
    return {"probability": probability, "since_s": run.now() - start, "metrics": run.metrics}


def _who(m: etcd_probe.MemberView | None) -> str:
    return f"{m.node} (term {m.raft_term})" if m else "no leader"


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


# ---------------------------------------------------------------- pod traffic cut by a NetworkPolicy

SERVER_LABELS = {"app": "server"}
ALLOWED_LABELS = {"app": "client", "kubedrill.io/policy": "allowed"}
BLOCKED_LABELS = {"app": "client", "kubedrill.io/policy": "blocked"}
POLICY_NAME = "kubedrill-admit-allowed-clients-only"


class PolicyPartition(Fault):
    """A NetworkPolicy in the drill's namespace: its server admits only the allowed clients. Reverting deletes
    it (and the drill's namespace goes with the drill): nothing outside the namespace is touched."""

    fault_type = "network.policy"

    def __init__(self, cluster: Cluster, namespace: str, name: str = POLICY_NAME) -> None:
        super().__init__(cluster)
        self.namespace = namespace
        self.name = name

    def params(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name}

    @classmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> PolicyPartition:
        return cls(cluster, params["namespace"], params["name"])

    def describe(self) -> str:
        return f"NetworkPolicy {self.namespace}/{self.name}: the server admits only {ALLOWED_LABELS}"

    def body(self) -> dict[str, Any]:
        return policy_admitting_only(self.name, SERVER_LABELS, ALLOWED_LABELS)

    def plan(self) -> Plan:
        return Plan(
            fault=self.fault_type,
            targets={"namespace": self.namespace, "policy": self.name},
            actions=[f"create NetworkPolicy {self.namespace}/{self.name}: {self.body()['spec']}"],
            revert=[f"delete NetworkPolicy {self.namespace}/{self.name}"],
        )

    def inject(self) -> str:
        kube = self.cluster.kube()
        try:
            Traffic(kube).create_policy(self.namespace, self.body())
        finally:
            kube.close()
        return f"NetworkPolicy {self.namespace}/{self.name} created"

    def confirm(self) -> str:
        kube = self.cluster.kube()
        try:
            names = Traffic(kube).policy_names(self.namespace)
        finally:
            kube.close()
        if self.name not in names:
            raise FaultInjectionError(f"NetworkPolicy {self.namespace}/{self.name} is not there after creation")
        return f"NetworkPolicy {self.namespace}/{self.name} present"

    def revert(self) -> str:
        kube = self.cluster.kube()
        try:
            traffic = Traffic(kube)
            deleted = traffic.delete_policy(self.namespace, self.name)
            left = self.name in traffic.policy_names(self.namespace) if deleted else False
        finally:
            kube.close()
        if left:
            raise FaultInjectionError(f"NetworkPolicy {self.namespace}/{self.name} still there after deletion")
        return f"NetworkPolicy {self.namespace}/{self.name} {'deleted (verified)' if deleted else 'already gone'}"


def partition_workload_with_policy(
    run: DrillRun, replicas: int = 2, hold_s: float = 10.0, effect_max_s: float = 10.0
) -> dict[str, Any]:
    """Action: a server and two groups of clients in the drill's namespace; a NetworkPolicy admits only one
    group. The blocked clients must lose the server within ``effect_max_s`` (proof that the policy is enforced,
    measured by their readiness probes, which connect from inside each client pod), the allowed ones must keep
    it throughout, and after the policy is deleted the blocked ones must reach it again."""
    kube = run.cluster.kube(timeout_s=2.0)
    traffic, workloads = Traffic(kube), Workloads(kube)
    ns = run.namespace
    allowed, blocked = "clients-allowed", "clients-blocked"

    def ready(name: str) -> int:
        return workloads.deployment(ns, name).ready

    try:
        with run.phase("workload: a server and two groups of clients, every client connected"):
            image = traffic.static_pod_image("etcd")
            host = traffic.create_server(ns, "server", SERVER_LABELS, image)
            traffic.create_clients(ns, allowed, replicas, ALLOWED_LABELS, image, host)
            traffic.create_clients(ns, blocked, replicas, BLOCKED_LABELS, image, host)
            try:
                for name in (allowed, blocked):
                    wait_until(f"{name}: {replicas} clients connected (Ready)", partial(ready, name),
                               lambda r: r == replicas, timeout_s=120, interval_s=1.0)  # fmt: skip
            except RecoveryTimeout as e:
                refusal = PreconditionFailed(f"the clients never reached the server before the drill: {e}")
                raise run.refuse(refusal) from None
            run.evidence["workload"] = f"server ({image}) and {replicas}+{replicas} clients, every one connected"
        fault = PolicyPartition(run.cluster, ns)
        lowest_allowed = replicas
        with run.phase("inject: the NetworkPolicy admits only the allowed clients"):
            start = run.begin_fault()
            run.evidence["policy"] = run.inject(fault)
            run.evidence["policy confirmed"] = fault.confirm()
        with run.phase("fault took effect: the blocked clients lose the server, the allowed ones keep it"):
            effect_s: float | None = None
            while run.now() - start < max(hold_s, effect_max_s):
                lowest_allowed = min(lowest_allowed, ready(allowed))
                if effect_s is None and ready(blocked) == 0:
                    effect_s = run.now() - start
                if effect_s is not None and run.now() - start >= hold_s:
                    break
                time.sleep(0.5)
            run.metrics["policy_effect_s"] = effect_s
            run.metrics["allowed_clients_min_ready"] = lowest_allowed
            run.add(
                slo.check_max(
                    "blocked clients cut off by the NetworkPolicy", effect_s, effect_max_s, impact=Impact.USERS
                )
            )
            run.add(
                slo.check_at_least(
                    "allowed clients connected throughout (lowest Ready)", lowest_allowed, replicas, impact=Impact.USERS
                )
            )
        with run.phase("heal: delete the NetworkPolicy; the blocked clients reach the server again"):
            run.evidence["heal"] = run.rollbacks.revert_one(fault)
            healed = run.now()
            try:
                wait_until(f"{blocked}: {replicas} clients connected again", lambda: ready(blocked),
                           lambda r: r == replicas, timeout_s=60, interval_s=0.5)  # fmt: skip
                back_s: float | None = run.now() - healed
            except RecoveryTimeout:
                back_s = None
            run.metrics["reconnected_s"] = back_s
            run.add(slo.check_max("blocked clients reconnected after the heal", back_s, run.profile.api.recovery_max_s))
            steps.settle(run)
    finally:
        kube.close()
    return {"metrics": run.metrics}


def plan_partition_workload_with_policy(cluster: Cluster, **_: Any) -> Plan:
    return PolicyPartition(cluster, "<the drill's namespace>").plan()
