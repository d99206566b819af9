"""The NetworkPolicy drill's objects (pure): what the policy admits, how a client proves it is connected."""

from __future__ import annotations

from kubedrill.backends.workloads import SERVER_PORT, client_container, policy_admitting_only, server_container
from kubedrill.faults.network import ALLOWED_LABELS, BLOCKED_LABELS, SERVER_LABELS


def test_the_policy_selects_the_server_and_admits_only_the_allowed_clients_on_its_port() -> None:
    policy = policy_admitting_only("p", SERVER_LABELS, ALLOWED_LABELS)
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "server"}}
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": ALLOWED_LABELS}}]
    assert rule["ports"] == [{"port": SERVER_PORT}]


def test_the_two_client_groups_differ_only_in_the_label_the_policy_reads() -> None:
    assert ALLOWED_LABELS.keys() == BLOCKED_LABELS.keys()
    assert {k for k in ALLOWED_LABELS if ALLOWED_LABELS[k] != BLOCKED_LABELS[k]} == {"kubedrill.io/policy"}
    assert not set(SERVER_LABELS.items()) <= set(ALLOWED_LABELS.items()), "a client must not match the server"


def test_a_client_is_ready_only_while_it_reaches_the_server_from_inside_its_pod() -> None:
    client = client_container("registry.k8s.io/etcd:3.6.5-0", "server.ns.svc.cluster.local")
    probe = client["readinessProbe"]
    assert probe["exec"]["command"][:2] == ["etcdctl", f"--endpoints=http://server.ns.svc.cluster.local:{SERVER_PORT}"]
    assert probe["exec"]["command"][-2:] == ["endpoint", "health"]
    assert probe["failureThreshold"] == 1
    assert probe["periodSeconds"] == 1
    # The client's own etcd listens on loopback only, on ports of its own: it is never what the probe reaches.
    assert "--listen-client-urls=http://127.0.0.1:12379" in client["command"]


def test_the_server_listens_on_the_pod_network() -> None:
    server = server_container("registry.k8s.io/etcd:3.6.5-0")
    assert f"--listen-client-urls=http://0.0.0.0:{SERVER_PORT}" in server["command"]
    assert server["ports"] == [{"containerPort": SERVER_PORT}]
