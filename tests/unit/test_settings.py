"""RunSettings from the environment and from a Chaos Toolkit configuration, both read from settings.OPTIONS."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubedrill.chaos.activities import settings_from
from kubedrill.chaos.runner import configuration_for
from kubedrill.errors import ConfigError
from kubedrill.settings import OPTIONS, RunSettings

# Experiments (and people's `chaos run` configurations) use these keys: they must not change.
CONFIGURATION_KEYS = {
    "kubeconfig": "kubeconfig",
    "context": "kube_context",
    "backend": "kubedrill_backend",
    "inventory": "kubedrill_inventory",
    "prometheus_url": "prometheus_url",
    "slo_profile": "slo_profile",
    "ledger": "kubedrill_ledger",
    "allow_quorum_loss": "kubedrill_allow_quorum_loss",
    "allow_contexts": "kubedrill_allow_context",
    "probe_rate": "kubedrill_probe_rate",
}


@pytest.fixture(autouse=True)
def no_kubedrill_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for o in OPTIONS:
        monkeypatch.delenv(o.env, raising=False)


def test_the_configuration_keys_are_the_ones_experiments_use() -> None:
    assert {o.field: o.config_key for o in OPTIONS if o.field} == CONFIGURATION_KEYS


def test_nothing_set_gives_the_defaults() -> None:
    assert RunSettings.from_env() == RunSettings()
    assert settings_from(None) == RunSettings()
    assert configuration_for(RunSettings(), "run-1") == {"kubedrill_run_id": "run-1", "kubedrill_backend": "auto"}


def test_the_environment_is_read_by_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEDRILL_CONTEXT", "staging")
    monkeypatch.setenv("KUBEDRILL_BACKEND", "")
    monkeypatch.setenv("KUBEDRILL_ALLOW_QUORUM_LOSS", "yes")
    monkeypatch.setenv("KUBEDRILL_ALLOW_CONTEXT", "a-*, ,b")
    s = RunSettings.from_env()
    assert (s.context, s.backend, s.allow_quorum_loss, s.allow_contexts) == ("staging", "auto", True, ("a-*", "b"))


def test_a_configuration_overrides_the_environment_and_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEDRILL_CONTEXT", "from-env")
    monkeypatch.setenv("KUBEDRILL_LEDGER", "/tmp/ledger.jsonl")
    settings = RunSettings(
        kubeconfig="/k", context="c", backend="ssh", inventory="/i", prometheus_url="http://p", slo_profile="/s",
        ledger="/l", allow_quorum_loss=True, allow_contexts=("x-*", "y"), probe_rate="5",
    )  # fmt: skip
    configuration = configuration_for(settings, "run-2")
    assert configuration == {
        "kubedrill_run_id": "run-2",
        **{CONFIGURATION_KEYS[k]: v for k, v in vars(settings).items() if k not in ("allow_contexts",)},
        "kubedrill_allow_context": "x-*,y",
    }
    assert settings_from(configuration) == settings
    partial = settings_from({"kubedrill_backend": "kind", "kube_context": ""})  # empty: the environment's
    assert (partial.backend, partial.context, partial.ledger) == ("kind", "from-env", "/tmp/ledger.jsonl")


def test_kubedrill_gameday_takes_and_passes_on_every_option_with_a_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kubedrill import cli, gameday

    passed: list[tuple[str, ...]] = []
    monkeypatch.setattr(gameday, "load_plan", lambda plan, root: plan)
    monkeypatch.setattr(gameday, "run", lambda plan, options: passed.append(options.pytest_args) or 0)
    argv = ["gameday", "plan.yaml", "--output", str(tmp_path)]
    expected = []
    for o in OPTIONS:
        if o.flag is None or o.shape == "flag":
            continue
        value = "ssh" if o.choices else f"{o.dest}-value"
        argv += [o.flag, value]
        expected.append(f"{o.flag}={value}")
    assert cli.main(argv) == 0
    assert passed == [tuple(expected)]
    assert "--backend" in [e.split("=")[0] for e in expected]


@pytest.mark.parametrize("rate", ["4.9", "1", "21", "fast", "nan", "-3"])
def test_a_probe_rate_outside_5_to_20_per_second_is_refused_naming_the_option(rate: str) -> None:
    with pytest.raises(ConfigError, match=r"--probe-rate: probe rate: expected a number of requests per second "
                       rf"from 5 to 20, got '{rate}'"):  # fmt: skip
        RunSettings(probe_rate=rate).prober_settings()


def test_the_probe_rate_sets_the_probers_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RunSettings().prober_settings().interval_s == 0.1
    monkeypatch.setenv("KUBEDRILL_PROBE_RATE", "5")
    assert RunSettings.from_env().prober_settings().interval_s == 0.2
    assert settings_from({"kubedrill_probe_rate": "20"}).prober_settings().interval_s == 0.05


@pytest.mark.parametrize(
    ("text", "has"),
    [
        ("apiVersion: v1\nkind: Config\n", False),  # what `kind delete cluster` leaves behind
        ("apiVersion: v1\nkind: Config\ncontexts: []\n", False),
        ("apiVersion: v1\nkind: Config\ncontexts:\n- name: prod\n  context: {cluster: prod, user: me}\n", True),
        ("contexts: [unclosed\n", True),  # unreadable: the client says what is wrong, kubedrill guesses nothing
    ],
)
def test_a_default_kubeconfig_without_contexts_counts_as_none(tmp_path: Path, text: str, has: bool) -> None:
    """With no usable ~/.kube/config, drills use the embedded cluster; an empty one must not stop them."""
    from kubedrill.pytest_plugin import _has_contexts

    kubeconfig = tmp_path / "config"
    assert _has_contexts(kubeconfig) is False, "absent"
    kubeconfig.write_text(text)
    assert _has_contexts(kubeconfig) is has
