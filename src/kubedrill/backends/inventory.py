"""The inventory file: a real cluster's control-plane nodes (and, optionally, workers), how to reach them, how
their components run.

Parsed and checked before anything is touched: every mistake is a ConfigError naming the file, the key,
what was expected and what was found. See ``ci/inventory.example.yaml``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubedrill.backends.access import SshHost
from kubedrill.config import PromTargets, parse_prom_targets, read_yaml
from kubedrill.errors import ConfigError

RUNTIMES = ("static-pod", "systemd", "supervisor")
# What `units` may rename: the control plane's components, and what plays the kubelet (restarted after a restore)
UNIT_COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")
TOP_KEYS = {"nodes", "workers", "become", "known_hosts", "runtime", "supervisor_run_dir", "units", "lb_addresses",
            "prometheus", "etcd"}  # fmt: skip
NODE_KEYS = {"address", "user", "port", "identity_file", "become", "host_key"}
# "<type> <base64>", as in a known_hosts line or `ssh-keyscan`'s output without the host name
HOST_KEY = re.compile(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-\S+) [A-Za-z0-9+/]+={0,2}")


@dataclass(frozen=True)
class Inventory:
    hosts: dict[str, SshHost]  # the control-plane nodes
    runtime: str  # static-pod | systemd | supervisor
    etcd_endpoints: dict[str, str]
    etcd_cacert: str
    etcd_cert: str
    etcd_key: str
    etcdctl: str = "etcdctl"
    etcdutl: str = "etcdutl"
    etcd_data_dir: str = "/var/lib/etcd"
    etcd_owner: str | None = None  # chown the restored data dir to this user (seed 000: etcd:etcd)
    supervisor_run_dir: str | None = None
    known_hosts: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    lb_addresses: tuple[str, ...] = ()  # API load balancers: cut too when a node is isolated
    prometheus: PromTargets | None = None  # the cluster's Prometheus job matchers (else the SLO profile's)
    # Workers kubedrill may reach: their kubelet, a systemd unit (``units.kubelet``), is what the node-lost
    # drill stops. Optional: without them that drill is skipped, saying so.
    workers: dict[str, SshHost] = field(default_factory=dict)

    @property
    def every_host(self) -> dict[str, SshHost]:
        return {**self.hosts, **self.workers}


def _req(data: dict[str, Any], key: str, source: str, where: str, expected_type: type, expected: str) -> Any:
    if key not in data:
        raise ConfigError(source, f"{where}{key}", expected, "(missing)")
    value = data[key]
    if not isinstance(value, expected_type) or (isinstance(value, bool) and expected_type is not bool):
        raise ConfigError(source, f"{where}{key}", expected, value)
    return value


def _host(spec: object, where: str, default_become: bool, source: str) -> SshHost:
    """One host of ``nodes`` or ``workers``: how ssh reaches it."""
    if not isinstance(spec, dict):
        raise ConfigError(source, where, "a mapping with address, user, port", spec)
    unknown = set(spec) - NODE_KEYS
    if unknown:
        raise ConfigError(source, where, f"only {', '.join(sorted(NODE_KEYS))}", sorted(unknown))
    where = f"{where}."
    port = spec.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(source, f"{where}port", "a TCP port from 1 to 65535", port)
    user = spec.get("user", "root")
    if not isinstance(user, str) or not user:
        raise ConfigError(source, f"{where}user", "a user name", user)
    identity = spec.get("identity_file")
    if identity is not None and not isinstance(identity, str):
        raise ConfigError(source, f"{where}identity_file", "a path", identity)
    become = spec.get("become", default_become)
    if not isinstance(become, bool):
        raise ConfigError(source, f"{where}become", "true or false (run commands through sudo -n)", become)
    host_key = spec.get("host_key")
    if host_key is not None and not (isinstance(host_key, str) and HOST_KEY.fullmatch(host_key.strip())):
        raise ConfigError(
            source,
            f"{where}host_key",
            "a public host key like 'ssh-ed25519 AAAA…' (ssh-keyscan prints it)",
            host_key,
        )
    address = _req(spec, "address", source, where, str, "a host name or IP address")
    if not address.strip():
        raise ConfigError(source, f"{where}address", "a host name or IP address", address)
    return SshHost(
        address=address,
        user=user,
        port=port,
        identity_file=os.path.expanduser(identity) if identity else None,
        become=become,
        host_key=host_key.strip() if host_key else None,
    )


def parse_inventory(data: object, source: str) -> Inventory:
    """An inventory file: which control-plane nodes exist, how to reach them, how components run."""
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", "a mapping with nodes, runtime and etcd", type(data).__name__)
    unknown = set(data) - TOP_KEYS
    if unknown:  # a misspelt key (``worker:``) would otherwise be ignored without a word
        raise ConfigError(source, "(top level)", f"only {', '.join(sorted(TOP_KEYS))}", sorted(map(str, unknown)))
    nodes = _req(data, "nodes", source, "", dict, "a mapping of node name → {address, user, port}")
    if not nodes:
        raise ConfigError(source, "nodes", "at least one control-plane node", nodes)
    default_become = data.get("become", False)
    if not isinstance(default_become, bool):
        raise ConfigError(source, "become", "true or false (every node's default)", default_become)
    hosts = {str(name): _host(spec, f"nodes.{name}", default_become, source) for name, spec in nodes.items()}
    workers_spec = data.get("workers", {}) or {}
    if not isinstance(workers_spec, dict):
        raise ConfigError(source, "workers", "a mapping of worker node name → {address, user, port}", workers_spec)
    workers = {}
    for name, spec in workers_spec.items():
        if str(name) in hosts:
            raise ConfigError(source, f"workers.{name}", "a worker not also listed under nodes", name)
        workers[str(name)] = _host(spec, f"workers.{name}", default_become, source)
    runtime = _req(data, "runtime", source, "", str, "static-pod, systemd or supervisor")
    if runtime not in RUNTIMES:
        raise ConfigError(source, "runtime", "static-pod, systemd or supervisor", runtime)
    etcd = _req(data, "etcd", source, "", dict, "a mapping with endpoints, cacert, cert, key")
    endpoints = _req(etcd, "endpoints", source, "etcd.", dict, "a mapping of node name → https://host:2379")
    if not endpoints:
        raise ConfigError(source, "etcd.endpoints", "at least one member: node name → https://host:2379", endpoints)
    for node, url in endpoints.items():
        if node not in hosts:
            raise ConfigError(source, f"etcd.endpoints.{node}", f"a node listed under nodes ({sorted(hosts)})", node)
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigError(source, f"etcd.endpoints.{node}", "an URL like https://10.0.0.1:2379", url)
    run_dir = data.get("supervisor_run_dir")
    if runtime == "supervisor" and not isinstance(run_dir, str):
        raise ConfigError(source, "supervisor_run_dir", "the supervisor's run directory (runtime: supervisor)", run_dir)
    units = data.get("units", {}) or {}
    if not isinstance(units, dict) or not all(isinstance(v, str) for v in units.values()):
        raise ConfigError(source, "units", "a mapping of component → systemd unit name", units)
    for component in units:
        if component not in UNIT_COMPONENTS:
            raise ConfigError(source, f"units.{component}", f"one of {', '.join(UNIT_COMPONENTS)}", component)
    lbs = data.get("lb_addresses", []) or []
    if not isinstance(lbs, list) or not all(isinstance(x, str) for x in lbs):
        raise ConfigError(source, "lb_addresses", "a list of load-balancer addresses", lbs)
    known_hosts = data.get("known_hosts")
    if known_hosts is not None and not isinstance(known_hosts, str):
        raise ConfigError(source, "known_hosts", "a path", known_hosts)
    if known_hosts:
        known_hosts = os.path.expanduser(known_hosts)
    return Inventory(
        hosts=hosts,
        workers=workers,
        runtime=runtime,
        etcd_endpoints={str(k): str(v) for k, v in endpoints.items()},
        etcd_cacert=_req(etcd, "cacert", source, "etcd.", str, "a path on the nodes"),
        etcd_cert=_req(etcd, "cert", source, "etcd.", str, "a path on the nodes"),
        etcd_key=_req(etcd, "key", source, "etcd.", str, "a path on the nodes"),
        etcdctl=str(etcd.get("etcdctl", "etcdctl")),
        etcdutl=str(etcd.get("etcdutl", "etcdutl")),
        etcd_data_dir=str(etcd.get("data_dir", "/var/lib/etcd")),
        etcd_owner=str(etcd["owner"]) if etcd.get("owner") else None,
        supervisor_run_dir=run_dir,
        known_hosts=known_hosts,
        units={str(k): str(v) for k, v in units.items()},
        lb_addresses=tuple(lbs),
        prometheus=parse_prom_targets(data["prometheus"], source, "prometheus") if "prometheus" in data else None,
    )


def load_inventory(path: str | Path) -> Inventory:
    return parse_inventory(read_yaml(path, "inventory file"), str(path))
