"""SLO profiles: what a drill must keep true, with units in every name. Loaded from YAML, validated strictly.

A profile file::

    api:                       # the API prober, through the endpoint users use
      availability_min: 0.95   # fraction of successful probes inside the fault window
      longest_outage_max_s: 3
      latency_p99_max_s: 1.0
      recovery_max_s: 10       # from the fault's end to a stable API
      window_min_s: 10         # availability is judged over at least this long from injection
      stall_s: 0.5             # an answer later than this counts as unavailable
      unready_max_s: 10        # an API server cut off from etcd fails /readyz
    etcd:
      leader_election_max_s: 5
      member_catch_up_max_s: 30
    drills:                    # per-drill overrides, by drill id (see each drill's docstring)
      etcd-leader-move:
        etcd: {leader_election_max_s: 2}

Every value is checked: an unknown key, a string where a number belongs or a fraction above 1 is a
ConfigError naming the file, the field and what was expected, raised before any cluster is touched.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kubedrill.errors import ConfigError
from kubedrill.paths import DEFAULT_PROFILE


@dataclass(frozen=True)
class ApiSlo:
    availability_min: float = 0.95  # 10 Hz over 5-20 s windows: a few probes in flight on a dying server
    longest_outage_max_s: float = 3.0  # HAProxy needs ≤ 2 s (fall 2 × inter 1 s) to drop a dead backend
    latency_p99_max_s: float = 1.0  # seed 004's p99 < 800 ms for API servers, plus leeway for 2 cores
    recovery_max_s: float = 10.0
    # Availability is a share of probes, so it needs enough of them: a window that closed 2 s after a kill
    # holds ~20 probes and one hung request moves the figure by 5-10 %. The drill keeps observing until
    # the window spans this long from injection (100 probes at 10 Hz), however fast the cluster recovered.
    window_min_s: float = 10.0
    # A request answered after this long counts as unavailable, like a failed one: its user was stalled.
    # It makes outages independent of the client's 1 s timeout (a 1 s freeze with a 1 s timeout fails no
    # request); normal answers take 10-50 ms here, 160 ms at p99 under 30 % packet loss.
    stall_s: float = 0.5
    # An API server cut off from etcd must fail /readyz (its etcd check times out) so the load balancer drops
    # it: 4.7 s measured on the embedded cluster.
    unready_max_s: float = 10.0


@dataclass(frozen=True)
class EtcdSlo:
    leader_election_max_s: float = 5.0  # etcd's default election timeout is 1 s; 5 elections' worth
    member_catch_up_max_s: float = 30.0  # a restarted member's revision equals the others'


@dataclass(frozen=True)
class ControlPlaneSlo:
    # client-go's leader election, kube defaults (leaseDuration 15 s, retryPeriod 2 s, JitterFactor 1.2): a standby
    # tries every wait.Jitter(2 s, 1.2), i.e. 2 to 4.4 s apart. It sees the holder's last renewal up to 4.4 s after
    # it, waits leaseDuration from then, and takes the Lease at its next try, up to 4.4 s later: 23.8 s after the
    # kill at worst, + 2 s for its API round trips. (22 s, from reading the jitter as 2.4 s in all, failed a kind run
    # in CI at 22.5 s: a legitimate handover.)
    lease_handover_max_s: float = 26.0
    component_restart_max_s: float = 30.0  # a killed component back and healthy


@dataclass(frozen=True)
class NodesSlo:
    pods_rescheduled_max_s: float = 30.0  # evicted pods recreated and Ready elsewhere
    # kubelet stopped → node NotReady. Its last Lease renewal (every 10 s) is at or before the stop; the node
    # lifecycle controller sees it at its next check (every 5 s), and marks the node NotReady at the first check
    # more than --node-monitor-grace-period (50 s) after that: 60 s after the stop at worst, + 2 s for the API.
    not_ready_max_s: float = 62.0
    evicted_pods_ready_max_s: float = 30.0  # node NotReady → its pods Ready elsewhere (their toleration included)
    node_ready_again_max_s: float = 30.0  # kubelet back → node Ready


@dataclass(frozen=True)
class LoadBalancerSlo:
    # keepalived's VRRP, as the embedded cluster configures it: HAProxy checked every 1 s; a failed check puts the
    # holder in FAULT, which sends a priority-0 advertisement, and the backup takes the VIP after its skew time.
    failover_max_s: float = 3.0  # the serving HAProxy stopped → another load balancer holds the API address


@dataclass(frozen=True)
class RestoreSlo:
    rto_max_s: float = 120.0  # disaster → first acknowledged write after the restore


@dataclass(frozen=True)
class PromTargets:
    """Which series are etcd's and the API servers' in the Prometheus a drill queries: label matchers put in
    place of ``{etcd}`` and ``{apiserver}`` in PromQL (``etcd_server_has_leader{etcd}``). Another Prometheus
    names its jobs otherwise: kube-prometheus-stack scrapes etcd as ``job="kube-etcd"``."""

    etcd: str = 'job="etcd"'
    apiserver: str = 'job="apiserver"'

    def render(self, expr: str) -> str:
        return expr.replace("{etcd}", "{" + self.etcd + "}").replace("{apiserver}", "{" + self.apiserver + "}")


# Named sets of matchers: the embedded and kind clusters' own Prometheus (ci/prometheus/), and the
# kube-prometheus-stack Helm chart's defaults (its ServiceMonitors' job names).
PROM_PRESETS = {
    "kubedrill": PromTargets(),
    "kube-prometheus-stack": PromTargets(etcd='job="kube-etcd"', apiserver='job="apiserver"'),
}
# One or more label matchers: name="value", name!="value", name=~"regex", name!~"regex", comma-separated.
_MATCHER = r'\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
MATCHERS = re.compile(rf"{_MATCHER}(,{_MATCHER})*,?\s*")


def parse_prom_targets(data: object, source: str, key: str) -> PromTargets:
    """``prometheus:`` of an SLO profile or an inventory: ``preset: kube-prometheus-stack`` (default: kubedrill's),
    and/or ``etcd:`` and ``apiserver:`` label matchers (``job="kube-etcd"``) over it, each checked before
    anything runs."""
    if not isinstance(data, dict):
        raise ConfigError(source, key, "a mapping with preset, etcd or apiserver", data)
    for name, value in data.items():
        if name not in ("preset", "etcd", "apiserver"):
            raise ConfigError(source, f"{key}.{name}", "one of preset, etcd, apiserver", name)
        if name == "preset" and value not in PROM_PRESETS:
            raise ConfigError(source, f"{key}.{name}", f"one of {', '.join(PROM_PRESETS)}", value)
        if name != "preset" and (not isinstance(value, str) or not MATCHERS.fullmatch(value)):
            raise ConfigError(source, f"{key}.{name}", 'PromQL label matchers such as job="kube-etcd"', value)
    matchers = {name: data[name] for name in ("etcd", "apiserver") if name in data}
    return dataclasses.replace(PROM_PRESETS[data.get("preset", "kubedrill")], **matchers)


@dataclass(frozen=True)
class SloProfile:
    source: str = "built-in defaults"
    api: ApiSlo = field(default_factory=ApiSlo)
    etcd: EtcdSlo = field(default_factory=EtcdSlo)
    control_plane: ControlPlaneSlo = field(default_factory=ControlPlaneSlo)
    nodes: NodesSlo = field(default_factory=NodesSlo)
    load_balancer: LoadBalancerSlo = field(default_factory=LoadBalancerSlo)
    restore: RestoreSlo = field(default_factory=RestoreSlo)
    prometheus: PromTargets = field(default_factory=PromTargets)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_drill(self, drill_id: str) -> SloProfile:
        """This profile with the drill's overrides applied (the overrides were validated on load)."""
        override = self.overrides.get(drill_id)
        if not override:
            return self
        return _merge(self, override, f"{self.source}: drills.{drill_id}")


_SECTIONS: dict[str, type[Any]] = {
    "api": ApiSlo,
    "etcd": EtcdSlo,
    "control_plane": ControlPlaneSlo,
    "nodes": NodesSlo,
    "load_balancer": LoadBalancerSlo,
    "restore": RestoreSlo,
}
_FRACTIONS = {"availability_min"}

S = TypeVar("S")


def _section(cls: type[S], data: object, where: str, base: S | None = None) -> S:
    if not isinstance(data, dict):
        raise ConfigError(where.split(":")[0], where.split(": ", 1)[-1], "a mapping", data)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, float] = {}
    for key, value in data.items():
        path = f"{where}.{key}"
        if key not in known:
            raise ConfigError(path.split(":")[0], path.split(": ", 1)[-1], f"one of {sorted(known)}", key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path.split(":")[0], path.split(": ", 1)[-1], "a number", value)
        if value < 0 or value != value:  # negative or NaN
            raise ConfigError(path.split(":")[0], path.split(": ", 1)[-1], "a number ≥ 0", value)
        if key in _FRACTIONS and value > 1:
            raise ConfigError(path.split(":")[0], path.split(": ", 1)[-1], "a fraction from 0 to 1", value)
        values[key] = float(value)
    return dataclasses.replace(base or cls(), **values)  # type: ignore[type-var]


def _merge(profile: SloProfile, data: dict[str, Any], where: str) -> SloProfile:
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _SECTIONS:
            file, _, fld = where.partition(": ")
            raise ConfigError(file, f"{fld}.{key}".lstrip("."), f"one of {sorted(_SECTIONS)}", key)
        changes[key] = _section(_SECTIONS[key], value, f"{where}.{key}".replace(": .", ": "), getattr(profile, key))
    return dataclasses.replace(profile, **changes)


def parse_profile(data: object, source: str) -> SloProfile:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", "a mapping of sections (api, etcd, …, drills)", type(data).__name__)
    drills = data.get("drills", {}) or {}
    top = {k: v for k, v in data.items() if k not in ("drills", "prometheus")}
    profile = _merge(SloProfile(source=source), top, f"{source}: ")
    if "prometheus" in data:
        profile = dataclasses.replace(profile, prometheus=parse_prom_targets(data["prometheus"], source, "prometheus"))
    if not isinstance(drills, dict):
        raise ConfigError(source, "drills", "a mapping of drill id → overrides", drills)
    for drill_id, override in drills.items():
        if not isinstance(override, dict):
            raise ConfigError(source, f"drills.{drill_id}", "a mapping of sections", override)
        _merge(profile, override, f"{source}: drills.{drill_id}")  # validate now, apply per drill
    return dataclasses.replace(profile, overrides={str(k): v for k, v in drills.items()})


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file; an unreadable file or bad syntax is a ConfigError naming the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(str(p), "(file)", f"a readable {what}", e.strerror) from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(str(p), "(syntax)", "valid YAML", str(e).splitlines()[0]) from e


def load_profile(path: str | Path | None) -> SloProfile:
    """The profile at ``path``, or the default profile kubedrill ships (``scenarios/slo/default.yaml``)."""
    if path is None:
        path = DEFAULT_PROFILE
    return parse_profile(read_yaml(path, "SLO profile"), str(path))
