"""The Kubernetes API, through the official client. The only module that imports ``kubernetes``.

Methods return plain values (names, dicts, dataclasses) so nothing above this layer sees client types,
and every ApiException becomes a BackendError that names the call.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kubedrill.errors import BackendError, ClusterUnreachable

P = ParamSpec("P")
T = TypeVar("T")


def _wrap(fn: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            raise BackendError(f"Kubernetes API {fn.__name__}: HTTP {e.status} {e.reason}: {_body(e)}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ClusterUnreachable(f"Kubernetes API {fn.__name__}: {type(e).__name__}: {e}") from e

    return inner


def _body(e: ApiException) -> str:
    return str(e.body or "")[:300]


@dataclass(frozen=True)
class NodeInfo:
    name: str
    ready: bool
    unschedulable: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    provider_id: str


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    holder: str | None
    renewed_ago_s: float | None
    duration_s: float


@dataclass(frozen=True)
class ClusterTarget:
    """Which cluster a client talks to: what the context guard and the report show."""

    context: str
    server: str


def load_target(kubeconfig: str | None, context: str | None) -> ClusterTarget:
    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, FileNotFoundError, OSError) as e:
        raise ClusterUnreachable(f"cannot read kubeconfig {kubeconfig or '~/.kube/config'}: {e}") from e
    chosen = next((c for c in contexts if c["name"] == context), None) if context else active
    if chosen is None:
        names = ", ".join(c["name"] for c in contexts)
        raise ClusterUnreachable(f"context {context!r} not in kubeconfig {kubeconfig}; contexts: {names}")
    api = client.ApiClient(config.new_client_from_config(config_file=kubeconfig, context=chosen["name"]).configuration)
    return ClusterTarget(context=chosen["name"], server=str(api.configuration.host))


class Kube:
    """A client bound to one kubeconfig/context."""

    def __init__(self, kubeconfig: str | Path | None = None, context: str | None = None, timeout_s: float = 5.0):
        try:
            self.api_client = config.new_client_from_config(
                config_file=str(kubeconfig) if kubeconfig else None, context=context
            )
        except (config.ConfigException, FileNotFoundError, OSError) as e:
            raise ClusterUnreachable(f"cannot load kubeconfig {kubeconfig or '~/.kube/config'}: {e}") from e
        # A drill must notice an outage, not hide it behind retries.
        self.api_client.configuration.retries = 0
        self.timeout_s = timeout_s
        # (connect, read): the client applies a lone number only when it is an int, and silently drops a
        # float, which would let a request hang for as long as the server likes.
        self.timeouts = (timeout_s, timeout_s)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.policy = client.PolicyV1Api(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)
        self.version_api = client.VersionApi(self.api_client)

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    def readyz(self, server: str | None = None) -> bool:
        """GET /readyz on ``server`` (one API server, bypassing the load balancer) or the configured one."""
        saved = self.api_client.configuration.host
        if server:
            self.api_client.configuration.host = server
        try:
            self.api_client.call_api(
                "/readyz", "GET", auth_settings=["BearerToken"], _request_timeout=self.timeouts, _preload_content=False
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError):
            return False
        finally:
            self.api_client.configuration.host = saved
        return True

    def close(self) -> None:
        self.api_client.close()

    # ---- cluster ----
    @_wrap
    def server_version(self) -> str:
        return str(self.version_api.get_code(_request_timeout=self.timeouts).git_version)

    @_wrap
    def nodes(self) -> list[NodeInfo]:
        out = []
        for n in self.core.list_node(_request_timeout=self.timeouts).items:
            ready = any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
            out.append(
                NodeInfo(
                    name=n.metadata.name,
                    ready=ready,
                    unschedulable=bool(n.spec.unschedulable),
                    labels=dict(n.metadata.labels or {}),
                    annotations=dict(n.metadata.annotations or {}),
                    provider_id=n.spec.provider_id or "",
                )
            )
        return out

    @_wrap
    def internal_ips(self) -> dict[str, str]:
        out = {}
        for n in self.core.list_node(_request_timeout=self.timeouts).items:
            for a in n.status.addresses or []:
                if a.type == "InternalIP":
                    out[n.metadata.name] = a.address
        return out

    @_wrap
    def create_node(
        self,
        name: str,
        labels: dict[str, str],
        annotations: dict[str, str],
        status: dict[str, Any],
        taints: list[dict[str, str]] | None = None,
    ) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels, "annotations": annotations},
            "spec": {"taints": taints or []},
            "status": status,
        }
        try:
            self.core.create_node(body, _request_timeout=self.timeouts)
        except ApiException as e:
            if e.status != 409:
                raise

    @_wrap
    def apply_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
        try:
            self.core.create_namespaced_config_map(namespace, body, _request_timeout=self.timeouts)
        except ApiException as e:
            if e.status != 409:
                raise
            self.core.replace_namespaced_config_map(name, namespace, body, _request_timeout=self.timeouts)

    @_wrap
    def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = self.core.read_namespaced_config_map(name, namespace, _request_timeout=self.timeouts)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return dict(cm.data or {})

    @_wrap
    def events(self, namespace: str, since_unix: float) -> list[dict[str, str]]:
        """Events in ``namespace`` last seen after ``since_unix``, oldest first."""
        out = []
        for e in self.core.list_namespaced_event(namespace, _request_timeout=self.timeouts).items:
            seen = e.last_timestamp or e.event_time or e.metadata.creation_timestamp
            if seen is None or seen.timestamp() < since_unix:
                continue
            obj = e.involved_object
            out.append(
                {
                    "time": seen.isoformat(),
                    "type": e.type or "",
                    "reason": e.reason or "",
                    "object": f"{obj.kind}/{obj.name}",
                    "message": (e.message or "")[:300],
                    "count": str(e.count or 1),
                }
            )
        return sorted(out, key=lambda x: x["time"])

    @_wrap
    def lease(self, namespace: str, name: str) -> LeaseInfo | None:
        """A Lease's holder, how long ago (on this machine's clock) it was renewed, and its duration."""
        try:
            lease = self.coordination.read_namespaced_lease(name, namespace, _request_timeout=self.timeouts)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        spec = lease.spec
        renewed = spec.renew_time or spec.acquire_time
        age = None if renewed is None else time.time() - renewed.timestamp()
        return LeaseInfo(name, spec.holder_identity or None, age, float(spec.lease_duration_seconds or 0))

    def lease_holder(self, namespace: str, name: str) -> str | None:
        info = self.lease(namespace, name)
        return str(info.holder) if info and info.holder else None


@contextmanager
def kube_client(kubeconfig: str | Path | None, context: str | None = None) -> Iterator[Kube]:
    k = Kube(kubeconfig, context)
    try:
        yield k
    finally:
        k.close()


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

    @_wrap
    def create_namespace(self, name: str, labels: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        try:
            self.kube.core.create_namespace(body, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status != 409:
                raise

    @_wrap
    def delete_namespace(self, name: str) -> None:
        try:
            self.kube.core.delete_namespace(name, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status != 404:
                raise

    @_wrap
    def namespaces(self, label_selector: str) -> list[str]:
        items = self.kube.core.list_namespace(label_selector=label_selector, _request_timeout=self.kube.timeouts).items
        return [n.metadata.name for n in items if n.status.phase != "Terminating"]

    @_wrap
    def namespace_exists(self, name: str) -> bool:
        try:
            self.kube.core.read_namespace(name, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    @_wrap
    def create_deployment(
        self, namespace: str, name: str, replicas: int, labels: dict[str, str], node_selector: dict[str, str]
    ) -> None:
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "nodeSelector": node_selector,
                        "containers": [{"name": "canary", "image": "registry.k8s.io/pause:3.10"}],
                        "terminationGracePeriodSeconds": 1,
                    },
                },
            },
        }
        self.kube.apps.create_namespaced_deployment(namespace, body, _request_timeout=self.kube.timeouts)

    @_wrap
    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.kube.apps.patch_namespaced_deployment_scale(
            name, namespace, {"spec": {"replicas": replicas}}, _request_timeout=self.kube.timeouts
        )

    @_wrap
    def deployment(self, namespace: str, name: str) -> DeploymentState:
        d = self.kube.apps.read_namespaced_deployment(name, namespace, _request_timeout=self.kube.timeouts)
        s = d.status
        return DeploymentState(
            desired=int(d.spec.replicas or 0),
            available=int(s.available_replicas or 0),
            ready=int(s.ready_replicas or 0),
            updated=int(s.updated_replicas or 0),
        )

    @_wrap
    def create_pdb(self, namespace: str, name: str, min_available: int, labels: dict[str, str]) -> None:
        body = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}},
        }
        self.kube.policy.create_namespaced_pod_disruption_budget(namespace, body, _request_timeout=self.kube.timeouts)

    @_wrap
    def create_configmaps(self, namespace: str, names: list[str], labels: dict[str, str]) -> dict[str, int]:
        """Create one ConfigMap per name; return name → etcd revision (resourceVersion)."""
        out = {}
        for name in names:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}
            created = self.kube.core.create_namespaced_config_map(namespace, body, _request_timeout=self.kube.timeouts)
            out[name] = int(created.metadata.resource_version)
        return out

    @_wrap
    def configmap_names(self, namespace: str, label_selector: str) -> list[str]:
        items = self.kube.core.list_namespaced_config_map(
            namespace, label_selector=label_selector, _request_timeout=self.kube.timeouts
        ).items
        return sorted(c.metadata.name for c in items)

    @_wrap
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
    @_wrap
    def cordon(self, node: str, unschedulable: bool) -> None:
        self.kube.core.patch_node(node, {"spec": {"unschedulable": unschedulable}}, _request_timeout=self.kube.timeouts)

    @_wrap
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
            raise BackendError(f"evicting {namespace}/{name}: HTTP {e.status} {e.reason}: {_body(e)}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ClusterUnreachable(f"evicting {namespace}/{name}: {type(e).__name__}: {e}") from e
        return "evicted"

    @_wrap
    def delete_pod(self, namespace: str, name: str) -> None:
        try:
            self.kube.core.delete_namespaced_pod(name, namespace, _request_timeout=self.kube.timeouts)
        except ApiException as e:
            if e.status != 404:
                raise

    @_wrap
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


class ProbeApi:
    """The prober's view of the API: create a ConfigMap per write, GET an anchor ConfigMap per read.

    Reads go to etcd with quorum (a plain GET is a linearizable read), so they fail when etcd cannot serve.
    """

    LABEL = "kubedrill.io/probe"
    ANCHOR = "probe-anchor"

    def __init__(self, kubeconfig: str | Path | None, context: str | None, namespace: str, timeout_s: float = 1.0):
        self.kube = Kube(kubeconfig, context, timeout_s=timeout_s)
        self.namespace = namespace
        self.timeout_s = timeout_s

    def ensure_anchor(self) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": self.ANCHOR}, "data": {}}
        try:
            self.kube.core.create_namespaced_config_map(self.namespace, body, _request_timeout=(5.0, 5.0))
        except ApiException as e:
            if e.status != 409:
                raise BackendError(f"creating the prober's anchor ConfigMap: HTTP {e.status} {e.reason}") from e

    def write(self, key: str) -> int | None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": key, "labels": {self.LABEL: "write"}},
            "data": {"key": key},
        }
        created = self.kube.core.create_namespaced_config_map(self.namespace, body, _request_timeout=self.kube.timeouts)
        rv = created.metadata.resource_version
        return int(rv) if rv and rv.isdigit() else None

    def read(self, key: str | None) -> None:
        self.kube.core.read_namespaced_config_map(
            key or self.ANCHOR, self.namespace, _request_timeout=self.kube.timeouts
        )

    def classify(self, error: BaseException) -> str:
        if isinstance(error, ApiException):
            # A read of an acknowledged write that answers "not found" is a stale read.
            return "stale-read" if error.status == 404 else f"http-{error.status}"
        text = f"{type(error).__name__} {error}"
        for marker, name in (
            ("timed out", "timeout"),
            ("Timeout", "timeout"),
            ("Connection refused", "refused"),
            ("reset", "reset"),
            ("RemoteDisconnected", "disconnected"),
            ("EOF", "eof"),
            ("SSL", "tls"),
        ):
            if marker in text:
                return name
        return type(error).__name__

    def written_keys(self) -> list[str]:
        """Every probe write that is readable now (paged list, so thousands of writes are fine)."""
        keys: list[str] = []
        token = None
        while True:
            try:
                page = self.kube.core.list_namespaced_config_map(
                    self.namespace,
                    label_selector=f"{self.LABEL}=write",
                    limit=500,
                    _continue=token,
                    _request_timeout=(10.0, 10.0),
                )
            except ApiException as e:
                raise BackendError(f"listing the prober's writes: HTTP {e.status} {e.reason}") from e
            keys += [c.metadata.name for c in page.items]
            token = page.metadata._continue
            if not token:
                return keys

    def close(self) -> None:
        self.kube.close()
