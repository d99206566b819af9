"""The API prober's reads and writes through the official client (``ProbeApi``)."""

from __future__ import annotations

from pathlib import Path

import urllib3
from kubernetes.client.rest import ApiException

from kubedrill.backends.kube import Kube
from kubedrill.errors import BackendError, ClusterUnreachable


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
            except (urllib3.exceptions.HTTPError, OSError) as e:  # a load balancer with no server ready yet
                raise ClusterUnreachable(f"listing the prober's writes: {type(e).__name__}: {e}") from e
            keys += [c.metadata.name for c in page.items]
            token = page.metadata._continue
            if not token:
                return keys

    def close(self) -> None:
        self.kube.close()
