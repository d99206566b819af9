"""How to reach the cluster under drill and judge it (``RunSettings``), and every option that sets it.

``OPTIONS`` is the one table of those options: each row names a setting's pytest flag, environment
variable, ``RunSettings`` field and Chaos Toolkit configuration key. Everything else is driven by it:
the pytest plugin registers and reads its options from it, ``RunSettings.from_env`` and
``RunSettings.from_configuration`` (``chaos run``) read it, ``RunSettings.to_configuration`` (the pytest
drill handing its settings to chaoslib) writes it. README.md's options table is checked against it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any, Literal

from kubedrill import preflight
from kubedrill.backends.cluster import BACKENDS, Cluster, detect
from kubedrill.errors import ConfigError, DrillError
from kubedrill.local import build
from kubedrill.probes.api import ProberSettings

Shape = Literal["value", "flag", "list"]
TRUE_WORDS = ("1", "true", "yes")
# An outage is measured from the first failed probe, up to one interval after it began, and judged against
# limits set for 100 ms (longest_outage_max_s, stall_s 0.5 s): below 5 per second that error would be a
# large part of them. Above 20 the prober is the load it is meant to measure (each request costs the API
# servers ~2–4 ms of CPU: BENCHMARKS.md §5).
MIN_PROBE_RATE, MAX_PROBE_RATE = 5.0, 20.0


@dataclass(frozen=True)
class Option:
    """One setting. ``shape``: value (a string), flag (on or off) or list (repeatable; comma-separated in
    the environment and in a configuration)."""

    flag: str | None  # pytest's command-line flag; None: environment (and configuration) only
    env: str
    field: str | None  # the RunSettings field it sets; None: read by the pytest plugin itself
    config_key: str | None  # the key in a Chaos Toolkit experiment's configuration
    shape: Shape
    help: str
    env_true: tuple[str, ...] = TRUE_WORDS  # for a flag: the environment values that turn it on
    choices: tuple[str, ...] | None = None  # checked by `kubedrill gameday`'s parser (pytest leaves it to detect)

    @property
    def dest(self) -> str:
        """The attribute pytest stores the flag's value under (``--kube-context`` → ``kube_context``)."""
        return (self.flag or "").lstrip("-").replace("-", "_")

    @property
    def env_help(self) -> str:
        """How the environment fallback is written in ``--help``."""
        return {"value": self.env, "flag": f"{self.env}=1", "list": f"{self.env}, comma-separated"}[self.shape]

    def from_env(self) -> Any:
        """This setting from the environment: a value or None, a flag's bool, a list's patterns."""
        text = os.environ.get(self.env)
        if self.shape == "flag":
            return (text or "") in self.env_true
        if self.shape == "list":
            return _patterns(text or "")
        return text or None


OPTIONS: tuple[Option, ...] = (
    Option(
        "--kubeconfig", "KUBECONFIG", "kubeconfig", "kubeconfig", "value",
        "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    ),
    Option(
        "--kube-context", "KUBEDRILL_CONTEXT", "context", "kube_context", "value",
        "kubeconfig context (default: the current one)",
    ),
    Option(
        "--backend", "KUBEDRILL_BACKEND", "backend", "kubedrill_backend", "value",
        "how to reach nodes: auto, local, kind or ssh (default auto)", choices=BACKENDS,
    ),
    Option(
        "--inventory", "KUBEDRILL_INVENTORY", "inventory", "kubedrill_inventory", "value",
        "inventory YAML: control-plane nodes, ssh access, runtime, etcd",
    ),
    Option(
        "--prometheus-url", "KUBEDRILL_PROMETHEUS_URL", "prometheus_url", "prometheus_url", "value",
        "Prometheus base URL for PromQL SLO checks",
    ),
    Option(
        "--slo-profile", "KUBEDRILL_SLO_PROFILE", "slo_profile", "slo_profile", "value",
        "SLO profile YAML (default scenarios/slo/default.yaml)",
    ),
    Option(
        "--scenarios", "KUBEDRILL_SCENARIOS", None, None, "value",
        "directory of your own scenarios, searched before kubedrill's (default: scenarios/ under pytest's rootdir)",
    ),
    Option(
        None, "KUBEDRILL_LEDGER", "ledger", "kubedrill_ledger", "value",
        "rollback ledger file (default ~/.local/state/kubedrill/rollback-ledger.jsonl)",
    ),
    Option(
        "--allow-context", "KUBEDRILL_ALLOW_CONTEXT", "allow_contexts", "kubedrill_allow_context", "list",
        "context pattern destructive drills may run against, repeatable "
        f"(default {', '.join(preflight.DEFAULT_ALLOWED_CONTEXTS)})",
    ),
    Option(
        "--dry-run", "KUBEDRILL_DRY_RUN", None, None, "flag",
        "resolve and print each drill's targets and commands, then skip it; nothing is touched",
        env_true=("1",),  # only 1, as it has always been (the other flags also take true and yes)
    ),
    Option(
        "--probe-rate", "KUBEDRILL_PROBE_RATE", "probe_rate", "kubedrill_probe_rate", "value",
        "API prober writes (and reads) per second, 5 to 20 (default 10: outages measured to 100 ms); lower it to "
        "load the API servers less, at a coarser grain",
    ),
    Option(
        "--allow-quorum-loss", "KUBEDRILL_ALLOW_QUORUM_LOSS", "allow_quorum_loss", "kubedrill_allow_quorum_loss",
        "flag",
        "also run drills marked quorum_loss (a majority of etcd members or API servers down: quorum loss, "
        "restore); without it they run only when -m names quorum_loss or their node id is given",
    ),
)  # fmt: skip


def option(flag: str) -> Option:
    """The row of ``OPTIONS`` for a pytest flag."""
    return next(o for o in OPTIONS if o.flag == flag)


@dataclass(frozen=True)
class RunSettings:
    """How to reach the cluster and judge it: from pytest options, env vars, or an experiment's configuration."""

    kubeconfig: str | None = None
    context: str | None = None
    backend: str = "auto"
    inventory: str | None = None
    prometheus_url: str | None = None
    slo_profile: str | None = None
    ledger: str | None = None
    allow_quorum_loss: bool = False  # only for drills marked quorum_loss and selected explicitly
    allow_contexts: tuple[str, ...] = ()  # context patterns allowed beyond the embedded cluster and kind-*
    probe_rate: str | None = None  # requests per second of each of the prober's two loops (default 10)

    def prober_settings(self) -> ProberSettings:
        """The prober's grid from ``probe_rate``; a rate outside 5–20 per second is refused, naming the option."""
        if self.probe_rate is None:
            return ProberSettings()
        try:
            rate = float(self.probe_rate)
        except ValueError:
            rate = float("nan")
        if not MIN_PROBE_RATE <= rate <= MAX_PROBE_RATE:
            raise ConfigError(
                "--probe-rate",
                "probe rate",
                f"a number of requests per second from {MIN_PROBE_RATE:g} to {MAX_PROBE_RATE:g}",
                self.probe_rate,
            )
        return ProberSettings(interval_s=1.0 / rate)

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None) -> RunSettings:
        """Every setting from the environment, unless ``overrides`` (field → value) gives a non-empty one."""
        values: dict[str, Any] = {o.field: o.from_env() for o in OPTIONS if o.field}
        values.update({k: v for k, v in (overrides or {}).items() if v not in (None, "") and k in values})
        if isinstance(values["allow_contexts"], str):  # from an experiment's configuration: comma-separated
            values["allow_contexts"] = _patterns(values["allow_contexts"])
        return cls(**{k: v for k, v in values.items() if v is not None})  # unset: the field's default

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any] | None) -> RunSettings:
        """From a Chaos Toolkit experiment's configuration, falling back on the environment."""
        c = configuration or {}
        return cls.from_env({o.field: c.get(o.config_key) for o in OPTIONS if o.field and o.config_key})

    def to_configuration(self) -> dict[str, Any]:
        """The configuration keys ``from_configuration`` reads back; unset settings are left out."""
        out: dict[str, Any] = {}
        for o in OPTIONS:
            if o.field is None or o.config_key is None:
                continue
            value = getattr(self, o.field)
            if o.shape == "list":
                value = ",".join(value) or None
            elif o.shape == "flag":
                value = value or None
            if value is not None:
                out[o.config_key] = value
        return out

    def connect(self, remembered: dict[str, Any] | None = None) -> Cluster:
        return detect(
            self.kubeconfig,
            self.context,
            self.backend,
            self.inventory,
            self.prometheus_url,
            local_etcdutl(),
            remembered=remembered,
            etcdctl_local=local_etcd_tool("etcdctl"),
        )


def _patterns(text: str) -> tuple[str, ...]:
    """Comma-separated context patterns → a tuple (blanks dropped)."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def local_etcdutl() -> str | None:
    """etcdutl on this machine (kubedrill's own build), to verify snapshots and to upload to kind nodes."""
    return local_etcd_tool("etcdutl")


def local_etcd_tool(name: str) -> str | None:
    """etcdctl or etcdutl on this machine: kubedrill's own build, else the one on PATH."""
    try:
        return str(build.cached_binaries()[name])
    except (DrillError, KeyError):
        return shutil.which(name)
