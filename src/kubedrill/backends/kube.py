"""The Kubernetes API through the official client: the client itself (``Kube``), the cluster-wide reads
(nodes, Leases, events, version) and the error translation every API call goes through.

Only ``kubedrill.backends`` imports ``kubernetes``: this module, ``workloads`` (the objects drills create
and watch) and ``probe_api`` (the prober's reads and writes). Methods return plain values (names, dicts,
dataclasses) so nothing above this layer sees client types, and every ApiException becomes a BackendError
that names the call.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from kubedrill.errors import BackendError, ClusterUnreachable

P = ParamSpec("P")
T = TypeVar("T")


def api_call(fn: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(fn)
    def inner(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            raise BackendError(f"Kubernetes API {fn.__name__}: HTTP {e.status} {e.reason}: {error_body(e)}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ClusterUnreachable(f"Kubernetes API {fn.__name__}: {type(e).__name__}: {e}") from e

    return inner


def error_body(e: ApiException) -> str:
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


def set_default_kubeconfig(path: str) -> str:
    """Make ``path`` the kubeconfig the kubernetes client falls back to when given none (it reads $KUBECONFIG
    once, when first imported); returns the previous one. For a library that builds its client from the
    defaults, such as chaostoolkit-kubernetes: $KUBECONFIG set later is not enough."""
    previous = str(config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = path
    return previous


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
        self.networking = client.NetworkingV1Api(self.api_client)
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
    @api_call
    def server_version(self) -> str:
        return str(self.version_api.get_code(_request_timeout=self.timeouts).git_version)

    @api_call
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

    @api_call
    def internal_ips(self) -> dict[str, str]:
        out = {}
        for n in self.core.list_node(_request_timeout=self.timeouts).items:
            for a in n.status.addresses or []:
                if a.type == "InternalIP":
                    out[n.metadata.name] = a.address
        return out

    @api_call
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

    @api_call
    def apply_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
        try:
            self.core.create_namespaced_config_map(namespace, body, _request_timeout=self.timeouts)
        except ApiException as e:
            if e.status != 409:
                raise
            self.core.replace_namespaced_config_map(name, namespace, body, _request_timeout=self.timeouts)

    @api_call
    def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = self.core.read_namespaced_config_map(name, namespace, _request_timeout=self.timeouts)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return dict(cm.data or {})

    @api_call
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

    @api_call
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
