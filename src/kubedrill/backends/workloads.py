"""Namespaces, Deployments, PDBs, pods and drains through the official client: the objects drills create,
watch and evict (``Workloads``, on a ``Kube`` client)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import watch
from kubernetes.client.rest import ApiException

from kubedrill.backends.kube import Kube, api_call, error_body
from kubedrill.errors import BackendError, ClusterUnreachable

# The canary runs the sandbox image of kubeadm v1.34 (containerd's sandbox_image on its nodes): every kubelet
# already holds it, so a canary never waits on a registry (none answers in air-gapped CI).
CANARY_IMAGE = "registry.k8s.io/pause:3.10.1"


def deployment_body(name: str, replicas: int, labels: dict[str, str], pod_spec: dict[str, Any]) -> dict[str, Any]:
    """A Deployment of ``replicas`` pods labelled ``labels`` (pure); its pods stop within 1 s when deleted."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {**pod_spec, "terminationGracePeriodSeconds": 1},
            },
        },
    }


@dataclass(frozen=True)
class PodInfo:
    name: str
    node: str | None
    phase: str
    ready: bool
    deleting: bool


@dataclass(frozen=True)
class PodOnNode:
    namespace: str
    name: str
    owner_kind: str | None  # ReplicaSet, DaemonSet, … or None for an unmanaged pod
    mirror: bool  # a static pod's mirror: nothing to evict
    empty_dir: bool  # has emptyDir volumes, whose data an eviction loses
    deleting: bool
    labels: dict[str, str]


@dataclass(frozen=True)
class DeploymentState:
    desired: int
    available: int
    ready: int
    updated: int


def _pod_info(p: Any) -> PodInfo:
    ready = any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    return PodInfo(
        name=p.metadata.name,
        node=p.spec.node_name,
        phase=p.status.phase or "",
        ready=ready,
        deleting=p.metadata.deletion_timestamp is not None,
    )


class Workloads:
    """Namespaces, Deployments and PDBs: the canary workloads drills create and watch."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    @api_call
    def create_namespace(self, name: str, labels: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        try:
            self.kube.core.create_namespace(body, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status != 409:
                raise

    @api_call
    def delete_namespace(self, name: str) -> None:
        try:
            self.kube.core.delete_namespace(name, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status != 404:
                raise

    @api_call
    def namespaces(self, label_selector: str, terminating: bool = False) -> list[str]:
        """Namespaces with these labels: the live ones, or (``terminating``) those being deleted."""
        items = self.kube.core.list_namespace(label_selector=label_selector, _request_timeout=self.kube.timeouts).items
        return [n.metadata.name for n in items if (n.status.phase == "Terminating") == terminating]

    @api_call
    def create_deployment(
        self,
        namespace: str,
        name: str,
        replicas: int,
        labels: dict[str, str],
        node_selector: dict[str, str],
        tolerations: list[dict[str, object]] | None = None,
    ) -> None:
        canary = {"name": "canary", "image": CANARY_IMAGE, "imagePullPolicy": "IfNotPresent"}
        spec: dict[str, Any] = {"nodeSelector": node_selector, "containers": [canary]}
        if tolerations:
            spec["tolerations"] = tolerations
        body = deployment_body(name, replicas, labels, spec)
        self.kube.apps.create_namespaced_deployment(namespace, body, _request_timeout=self.kube.timeouts)

    @api_call
    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.kube.apps.patch_namespaced_deployment_scale(
            name, namespace, {"spec": {"replicas": replicas}}, _request_timeout=self.kube.timeouts
        )

    @api_call
    def deployment(self, namespace: str, name: str) -> DeploymentState:
        d = self.kube.apps.read_namespaced_deployment(name, namespace, _request_timeout=self.kube.timeouts)
        s = d.status
        return DeploymentState(
            desired=int(d.spec.replicas or 0),
            available=int(s.available_replicas or 0),
            ready=int(s.ready_replicas or 0),
            updated=int(s.updated_replicas or 0),
        )

    @api_call
    def create_pdb(self, namespace: str, name: str, min_available: int, labels: dict[str, str]) -> None:
        body = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}},
        }
        self.kube.policy.create_namespaced_pod_disruption_budget(namespace, body, _request_timeout=self.kube.timeouts)

    @api_call
    def create_configmaps(self, namespace: str, names: list[str], labels: dict[str, str]) -> dict[str, int]:
        """Create one ConfigMap per name; return name → etcd revision (resourceVersion)."""
        out = {}
        for name in names:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}
            created = self.kube.core.create_namespaced_config_map(namespace, body, _request_timeout=self.kube.timeouts)
            out[name] = int(created.metadata.resource_version)
        return out

    @api_call
    def configmap_names(self, namespace: str, label_selector: str) -> list[str]:
        items = self.kube.core.list_namespaced_config_map(
            namespace, label_selector=label_selector, _request_timeout=self.kube.timeouts
        ).items
        return sorted(c.metadata.name for c in items)

    @api_call
    def pods(self, namespace: str, label_selector: str = "") -> list[PodInfo]:
        items = self.kube.core.list_namespaced_pod(
            namespace, label_selector=label_selector, _request_timeout=self.kube.timeouts
        ).items
        return [_pod_info(p) for p in items]

    def watch_ready_pods(
        self, namespace: str, label_selector: str, on_count: Callable[[int], None], stop: threading.Event
    ) -> None:
        """Call ``on_count`` with the number of Ready, non-terminating pods after every change, from a
        watch (every event, not a sample), until ``stop`` is set. Reconnects when the stream ends."""
        while not stop.is_set():
            w = watch.Watch()
            try:
                # List first (the whole state at one revision), then watch from that revision: counting the
                # ADDED events a bare watch starts with would report false dips while the list trickles in.
                listed = self.kube.core.list_namespaced_pod(
                    namespace, label_selector=label_selector, _request_timeout=self.kube.timeouts
                )
                ready = {p.metadata.name: _pod_info(p).ready and not _pod_info(p).deleting for p in listed.items}
                on_count(sum(ready.values()))
                for event in w.stream(
                    self.kube.core.list_namespaced_pod,
                    namespace,
                    label_selector=label_selector,
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=2,
                    _request_timeout=(5.0, 10.0),
                ):
                    pod = event["object"]
                    info = _pod_info(pod)
                    if event["type"] == "DELETED":
                        ready.pop(info.name, None)
                    else:
                        ready[info.name] = info.ready and not info.deleting
                    on_count(sum(ready.values()))
                    if stop.is_set():
                        break
            except (ApiException, urllib3.exceptions.HTTPError, OSError):
                stop.wait(0.2)  # the API blinked: reconnect; the list restarts from the current state
            finally:
                w.stop()

    # ---- drains ----
    @api_call
    def cordon(self, node: str, unschedulable: bool) -> None:
        self.kube.core.patch_node(node, {"spec": {"unschedulable": unschedulable}}, _request_timeout=self.kube.timeouts)

    @api_call
    def pods_on_node(self, node: str) -> list[PodOnNode]:
        items = self.kube.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={node}", _request_timeout=self.kube.timeouts
        ).items
        out = []
        for p in items:
            owners = p.metadata.owner_references or []
            out.append(
                PodOnNode(
                    namespace=p.metadata.namespace,
                    name=p.metadata.name,
                    owner_kind=owners[0].kind if owners else None,
                    mirror="kubernetes.io/config.mirror" in (p.metadata.annotations or {}),
                    empty_dir=any(v.empty_dir is not None for v in (p.spec.volumes or [])),
                    deleting=p.metadata.deletion_timestamp is not None,
                    labels=dict(p.metadata.labels or {}),
                )
            )
        return out

    def evict(self, namespace: str, name: str) -> str:
        """Evict through the Eviction API. Returns "evicted", "gone" or "blocked" (429: a PDB says no)."""
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        try:
            self.kube.core.create_namespaced_pod_eviction(name, namespace, body, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status == 429:
                return "blocked"
            if e.status == 404:
                return "gone"
            if e.status == 403 and "being terminated" in str(e.body):
                return "gone"  # its namespace is being deleted: the pod goes anyway (kubectl drain does the same)
            raise BackendError(f"evicting {namespace}/{name}: HTTP {e.status} {e.reason}: {error_body(e)}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ClusterUnreachable(f"evicting {namespace}/{name}: {type(e).__name__}: {e}") from e
        return "evicted"

    @api_call
    def delete_pod(self, namespace: str, name: str) -> None:
        try:
            self.kube.core.delete_namespaced_pod(name, namespace, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status != 404:
                raise

    @api_call
    def pdbs_selecting(self, namespace: str, labels: dict[str, str]) -> list[str]:
        items = self.kube.policy.list_namespaced_pod_disruption_budget(
            namespace, _request_timeout=self.kube.timeouts
        ).items
        out = []
        for pdb in items:
            want = (pdb.spec.selector.match_labels or {}) if pdb.spec.selector else {}
            if want and all(labels.get(k) == v for k, v in want.items()):
                out.append(pdb.metadata.name)
        return out


# ---------------------------------------------------------------- pod-to-pod traffic and NetworkPolicy

# A server and its clients made of the cluster's own etcd image (every kubeadm node holds it: nothing is
# pulled): the server is a single-member etcd on the pod network; each client's readiness probe is an
# `etcdctl endpoint health` against it, run by the kubelet inside the client's container, so a client is Ready
# exactly while its pod can open a connection to the server. The client's own process is a throwaway etcd on
# loopback: the only long-running program the image has.
SERVER_PORT = 2379


def _etcd(name: str, listen: str, advertise: str, peer_port: int) -> list[str]:
    """A single-member etcd with its data in the pod's emptyDir."""
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        "etcd",
        f"--name={name}",
        "--data-dir=/data/etcd",
        f"--listen-client-urls={listen}",
        f"--advertise-client-urls={advertise}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
    ]


def server_container(image: str) -> dict[str, Any]:
    return {
        "name": "server",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": _etcd("server", f"http://0.0.0.0:{SERVER_PORT}", f"http://127.0.0.1:{SERVER_PORT}", 2380),
        "ports": [{"containerPort": SERVER_PORT}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }


def client_container(image: str, server_host: str, period_s: int = 1) -> dict[str, Any]:
    return {
        "name": "client",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": _etcd("client", "http://127.0.0.1:12379", "http://127.0.0.1:12379", 12380),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "readinessProbe": {
            "exec": {
                "command": [
                    "etcdctl",
                    f"--endpoints=http://{server_host}:{SERVER_PORT}",
                    "--dial-timeout=1s",
                    "--command-timeout=1s",
                    "endpoint",
                    "health",
                ],
            },
            "periodSeconds": period_s,
            "timeoutSeconds": 2,
            "failureThreshold": 1,
            "successThreshold": 1,
        },
    }


def policy_admitting_only(name: str, server_labels: dict[str, str], allowed_labels: dict[str, str]) -> dict[str, Any]:
    """A NetworkPolicy: the server's pods accept connections only from pods labelled ``allowed_labels`` (pure)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubedrill"}},
        "spec": {
            "podSelector": {"matchLabels": server_labels},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": allowed_labels}}], "ports": [{"port": SERVER_PORT}]}],
        },
    }


class Traffic:
    """The server, its Service and client Deployments of a NetworkPolicy drill, and the policy itself."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    @api_call
    def create_server(self, namespace: str, name: str, labels: dict[str, str], image: str) -> str:
        """The server Deployment and a Service in front of it; returns the Service's DNS name."""
        self._deployment(namespace, name, 1, labels, server_container(image))
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": labels, "ports": [{"port": SERVER_PORT, "targetPort": SERVER_PORT}]},
        }
        self.kube.core.create_namespaced_service(namespace, service, _request_timeout=self.kube.timeouts)
        return f"{name}.{namespace}.svc.cluster.local"

    @api_call
    def create_clients(
        self, namespace: str, name: str, replicas: int, labels: dict[str, str], image: str, server_host: str
    ) -> None:
        self._deployment(namespace, name, replicas, labels, client_container(image, server_host))

    def _deployment(
        self, namespace: str, name: str, replicas: int, labels: dict[str, str], container: dict[str, Any]
    ) -> None:
        pod = {"containers": [container], "volumes": [{"name": "data", "emptyDir": {}}]}
        body = deployment_body(name, replicas, labels, pod)
        self.kube.apps.create_namespaced_deployment(namespace, body, _request_timeout=self.kube.timeouts)

    @api_call
    def static_pod_image(self, component: str) -> str:
        """The image a control-plane component's static pod runs (its mirror pod's), e.g. kubeadm's etcd."""
        pods = self.kube.core.list_namespaced_pod(
            "kube-system", label_selector=f"component={component}", _request_timeout=self.kube.timeouts
        ).items
        if not pods:
            raise BackendError(f"no {component} static pod in kube-system (label component={component})")
        return str(pods[0].spec.containers[0].image)

    @api_call
    def create_policy(self, namespace: str, body: dict[str, Any]) -> None:
        self.kube.networking.create_namespaced_network_policy(namespace, body, _request_timeout=self.kube.timeouts)

    def delete_policy(self, namespace: str, name: str) -> bool:
        """Delete the policy; False when it (or its namespace) is already gone."""
        try:
            self.kube.networking.delete_namespaced_network_policy(name, namespace, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status == 404:
                return False
            raise BackendError(f"deleting NetworkPolicy {namespace}/{name}: {error_body(e)}") from e
        except urllib3.exceptions.HTTPError as e:
            raise ClusterUnreachable(f"deleting NetworkPolicy {namespace}/{name}: {e}") from e
        return True

    @api_call
    def policy_names(self, namespace: str) -> list[str]:
        items = self.kube.networking.list_namespaced_network_policy(
            namespace, _request_timeout=self.kube.timeouts
        ).items
        return [p.metadata.name for p in items]
