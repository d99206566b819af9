# ruff: noqa: E501  (the twins and the messages they fail with read best one per line)
"""The known-bad twin of every drill: how it is broken, and the failed check it must report (a regular
expression over the check's line, so expected and observed are both named). README.md's twin table is
this table; tests/integration/test_known_bad.py (and the kind test, for the NetworkPolicy drill) runs it."""

from __future__ import annotations

from dataclasses import dataclass

PROFILE = "scenarios/slo/known-bad.yaml"


@dataclass(frozen=True)
class Twin:
    how: str  # how the drill is broken
    fails: str  # a regular expression the failed check's line matches
    where: str  # the test that runs it


KNOWN_BAD = "tests/integration/test_known_bad.py"
KIND = "tests/integration/test_kind_cluster.py"
NODES = "tests/integration/test_node_drills.py"
LB = "tests/integration/test_load_balancer.py"

TWINS: dict[str, Twin] = {
    "etcd-leader-move": Twin("`etcd.leader_election_max_s: 0.001`",
                             r"etcd leader elected within the SLO: expected ≤ 0\.001 s, observed [0-9.]+ s", KNOWN_BAD),
    "etcd-leader-kill": Twin("`etcd.leader_election_max_s: 0.001`",
                             r"etcd leader elected within the SLO: expected ≤ 0\.001 s, observed [0-9.]+ s", KNOWN_BAD),
    "etcd-follower-kill": Twin("`etcd.member_catch_up_max_s: 0.001`",
                               r"etcd on \S+ caught up \(revision ≥ the others'\): expected ≤ 0\.001 s, observed",
                               KNOWN_BAD),
    "etcd-quorum-loss": Twin("`api.recovery_max_s: 0.001`, `api.stall_s: 0.001`",
                             r"API recovered after the fault: expected ≤ 0\.001 s, observed never", KNOWN_BAD),
    "etcd-quorum-loss-paged": Twin("`api.recovery_max_s: 0.001`, `api.stall_s: 0.001`",
                                   r"API recovered after the fault: expected ≤ 0\.001 s, observed never", KNOWN_BAD),
    "etcd-restore": Twin("`restore.rto_max_s: 1`",
                         r"RTO: disaster → first acknowledged write: expected ≤ 1 s, observed [0-9.]+ s", KNOWN_BAD),
    "cp-apiserver-kill": Twin("`control_plane.component_restart_max_s: 0.001`",
                              r"kube-apiserver on \S+ restarted \(new PID\): expected an id other than \S+ within "
                              r"0\.001 s, observed", KNOWN_BAD),
    "cp-controller-manager-kill": Twin("`control_plane.lease_handover_max_s: 1`",
                                       r"kube-controller-manager Lease handed over .*: expected ≤ 1 s, observed",
                                       KNOWN_BAD),
    "cp-scheduler-kill": Twin("`control_plane.lease_handover_max_s: 1`",
                              r"kube-scheduler Lease handed over .*: expected ≤ 1 s, observed", KNOWN_BAD),
    "cp-controller-manager-outage": Twin("`lease_handover_max_s` + `pods_rescheduled_max_s`: 1 s in all",
                                         r"canary Available again after every kube-controller-manager returned: "
                                         r"expected ≤ 1 s, observed", KNOWN_BAD),
    "cp-scheduler-outage": Twin("`lease_handover_max_s` + `pods_rescheduled_max_s`: 1 s in all",
                                r"canary Available again after every kube-scheduler returned: expected ≤ 1 s, observed",
                                KNOWN_BAD),
    "cp-scheduler-outage-pods": Twin("`lease_handover_max_s` + `pods_rescheduled_max_s`: 1 s in all",
                                     r"canary Available again after every kube-scheduler returned: expected ≤ 1 s, "
                                     r"observed", KNOWN_BAD),
    "net-isolate-leader": Twin("`etcd.leader_election_max_s: 0.001`",
                               r"the majority elected a new leader within the SLO: expected ≤ 0\.001 s, observed",
                               KNOWN_BAD),
    "net-isolate-follower": Twin("`etcd.member_catch_up_max_s: 0.001`",
                                 r"etcd on \S+ caught up \(revision ≥ the others'\): expected ≤ 0\.001 s, observed",
                                 KNOWN_BAD),
    "net-apiserver-etcd-cut": Twin("`api.unready_max_s: 0.5`",
                                   r"kube-apiserver on \S+ went unready without etcd: expected ≤ 0\.5 s, observed",
                                   KNOWN_BAD),
    "net-etcd-packet-loss": Twin("`api.latency_p99_max_s: 0.001`",
                                 r"API write latency during the fault: expected p99 ≤ 1 ms, observed p99", KNOWN_BAD),
    "net-policy-partition": Twin("real: the policy engine's DaemonSet deleted, so no node enforces NetworkPolicy",
                                 r"blocked clients cut off by the NetworkPolicy: expected ≤ 10 s, observed never",
                                 KIND),
    "nodes-drain": Twin("`nodes.pods_rescheduled_max_s: 0.001`",
                        r"canary scaled to \d+: new pod recreated and Ready on other nodes: expected ≤ 0\.001 s, "
                        r"observed", KNOWN_BAD),
    "nodes-rolling-drain": Twin("`nodes.pods_rescheduled_max_s: 0.001`",
                                r"canary scaled to \d+: new pod recreated and Ready on other nodes: "
                                r"expected ≤ 0\.001 s, observed", KNOWN_BAD),
    "nodes-lost": Twin("`nodes.not_ready_max_s: 1`",
                       r"\S+ NotReady in the API \(node lifecycle controller\): expected ≤ 1 s, observed [0-9.]+ s",
                       KNOWN_BAD),
    "nodes-lost-paged": Twin("`nodes.not_ready_max_s: 1`",
                             r"\S+ NotReady in the API \(node lifecycle controller\): expected ≤ 1 s, observed "
                             r"[0-9.]+ s", NODES),
    # Broken for real, not by a profile: the cluster itself cannot keep the SLO.
    "lb-lost": Twin("real: a single HAProxy (seed 004): the embedded cluster's default, kind's load balancer",
                    r"the API address served by another load balancer after HAProxy on host stopped: expected ≤ 3 s, "
                    r"observed never", LB),
    "nodes-drain-blocked-pdb": Twin("real: a PDB with `minAvailable` = replicas",
                                    r"drain of \S+ completed: expected every evictable pod evicted within \S+ s, "
                                    r"observed .*blocked by PDB", NODES),
    "nodes-lost-default-toleration": Twin("real: pods keep Kubernetes' default 300 s toleration",
                                          r"canary back to \d+ Ready pods off \S+ after it went NotReady: "
                                          r"expected ≤ 30 s, observed never", NODES),
    "nodes-drain-single-replica": Twin("real: one replica, no PDB",
                                       r"canary availability never dropped below its floor while draining \S+: "
                                       r"expected ≥ 1 Ready pods .*observed minimum 0", NODES),
}  # fmt: skip

# What each twin failed with in a run on the embedded cluster (kind for the NetworkPolicy drill): README's table.
EXAMPLES: dict[str, str] = {
    "etcd-leader-move": 'etcd leader elected within the SLO: expected ≤ 0.001 s, observed 0.193 s',
    "etcd-leader-kill": 'etcd leader elected within the SLO: expected ≤ 0.001 s, observed 1.156 s',
    "etcd-follower-kill": "etcd on cp-2 caught up (revision ≥ the others'): expected ≤ 0.001 s, observed 0.252 s",
    "etcd-quorum-loss": 'API recovered after the fault: expected ≤ 0.001 s, observed never',
    "etcd-quorum-loss-paged": 'API recovered after the fault: expected ≤ 0.001 s, observed never',
    "etcd-restore": 'RTO: disaster → first acknowledged write: expected ≤ 1 s, observed 6.555 s',
    "cp-apiserver-kill": 'kube-apiserver on cp-3 restarted (new PID): expected an id other than 18936 within 0.001 s, observed 23699 after 0.08 s',
    "cp-controller-manager-kill": 'kube-controller-manager Lease handed over (leaseDuration + retryPeriod): expected ≤ 1 s, observed 16.893 s',
    "cp-scheduler-kill": 'kube-scheduler Lease handed over (leaseDuration + retryPeriod): expected ≤ 1 s, observed 16.302 s',
    "cp-controller-manager-outage": 'canary Available again after every kube-controller-manager returned: expected ≤ 1 s, observed 17.432 s',
    "cp-scheduler-outage": 'canary Available again after every kube-scheduler returned: expected ≤ 1 s, observed 17.388 s',
    "cp-scheduler-outage-pods": 'canary Available again after every kube-scheduler returned: expected ≤ 1 s, observed 15.729 s',
    "net-isolate-leader": 'the majority elected a new leader within the SLO: expected ≤ 0.001 s, observed 1.801 s',
    "net-isolate-follower": "etcd on cp-1 caught up (revision ≥ the others'): expected ≤ 0.001 s, observed 1.514 s",
    "net-apiserver-etcd-cut": 'kube-apiserver on cp-3 went unready without etcd: expected ≤ 0.5 s, observed 5.104 s',
    "net-etcd-packet-loss": 'API write latency during the fault: expected p99 ≤ 1 ms, observed p99 716 ms',
    "net-policy-partition": 'blocked clients cut off by the NetworkPolicy: expected ≤ 10 s, observed never',
    "nodes-drain": 'canary scaled to 3: new pod recreated and Ready on other nodes: expected ≤ 0.001 s, observed 0.265 s',
    "nodes-rolling-drain": 'canary scaled to 3: new pod recreated and Ready on other nodes: expected ≤ 0.001 s, observed 0.401 s',
    "nodes-lost": "worker-1 NotReady in the API (node lifecycle controller): expected ≤ 1 s, observed 47.882 s",
    "nodes-lost-paged": "worker-1 NotReady in the API (node lifecycle controller): expected ≤ 1 s, observed 47.834 s",
    "nodes-lost-default-toleration": "canary back to 3 Ready pods off worker-1 after it went NotReady: expected ≤ 30 s, observed never",
    "lb-lost": "the API address served by another load balancer after HAProxy on host stopped: expected ≤ 3 s, observed never",
    "nodes-drain-blocked-pdb": "drain of worker-1 completed: expected every evictable pod evicted within 20 s, observed blocked by PDB kubedrill-nodes-drain-blocked-pdb-9550bd/canary: could not evict kubedrill-nodes-drain-blocked-pdb-9550bd/canary-86c6bd8458-zlngm",
    "nodes-drain-single-replica": "canary availability never dropped below its floor while draining worker-2: expected ≥ 1 Ready pods (PDB minAvailable 0) after every change (pod watch), observed minimum 0 over 8 changes",
}  # fmt: skip


def readme_table() -> str:
    rows = ["| drill | how it is broken | the failed check it reports (a real run) | run by |", "|---|---|---|---|"]
    for drill, twin in TWINS.items():
        rows.append(f"| `{drill}` | {twin.how} | {EXAMPLES.get(drill, '')} | `{twin.where.rsplit('/', 1)[-1]}` |")
    return "\n".join(rows) + "\n"
