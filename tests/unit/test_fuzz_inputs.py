"""Fuzzing the parsers of user input with hypothesis: inventories, experiments and plugin settings either
parse or raise ConfigError naming the file and the field; no other exception, no traceback, nothing touched
(none of these functions reach a cluster)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubedrill.backends.inventory import parse_inventory
from kubedrill.chaos import runner
from kubedrill.errors import ConfigError
from kubedrill.settings import RunSettings

from .test_inventory import GOOD

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=10,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a nested mapping (where a mutation can land)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def parsed_or_error(parse: Callable[[], Any]) -> Any:
    """The parse result, or the ConfigError it raised (any other exception fails the test)."""
    try:
        return parse()
    except ConfigError as e:
        return e


def mutate(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


INVENTORY_PATHS = paths(GOOD)


@FUZZ
@given(st.sampled_from(INVENTORY_PATHS), yaml_values)
def test_an_inventory_with_any_field_replaced_parses_or_names_the_field(path: tuple[Any, ...], value: Any) -> None:
    inv = parsed_or_error(lambda: parse_inventory(mutate(GOOD, path, value), "inventory.yaml"))
    if isinstance(inv, ConfigError):
        assert str(inv).startswith("inventory.yaml: ")
        assert " expected " in str(inv)
    else:
        assert inv.hosts
        assert all(1 <= h.port <= 65535 for h in inv.hosts.values())


@FUZZ
@given(yaml_values)
def test_any_yaml_document_as_an_inventory_parses_or_raises_config_error(doc: Any) -> None:
    result = parsed_or_error(lambda: parse_inventory(doc, "inventory.yaml"))
    if isinstance(result, ConfigError):
        assert str(result).startswith("inventory.yaml: ")


SCENARIO = yaml.safe_load((ROOT / "scenarios" / "etcd-leader-move.yaml").read_text())
SCENARIO_PATHS = paths(SCENARIO)


@FUZZ
@given(st.sampled_from(SCENARIO_PATHS), yaml_values)
def test_an_experiment_with_any_field_replaced_loads_or_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], value: Any
) -> None:
    f = tmp_path_factory.mktemp("exp") / "experiment.yaml"
    f.write_text(yaml.safe_dump(mutate(SCENARIO, path, value)))
    experiment = parsed_or_error(lambda: runner.load(f))
    if isinstance(experiment, ConfigError):
        assert str(experiment).startswith(f"{f}: ")
    else:
        assert isinstance(experiment, dict)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_an_experiment_loads_or_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    f = tmp_path_factory.mktemp("exp") / "experiment.yaml"
    f.write_text(text)
    result = parsed_or_error(lambda: runner.load(f))
    if isinstance(result, ConfigError):
        assert str(result).startswith(f"{f}: ")


@FUZZ
@given(st.text(max_size=20))
def test_any_backend_name_is_accepted_only_if_known(backend: str) -> None:
    from kubedrill.backends.cluster import BACKENDS, detect

    if backend in BACKENDS:
        return
    with pytest.raises(ConfigError, match="--backend: backend: expected one of"):
        detect("/nonexistent/kubeconfig", None, backend)  # refused before the kubeconfig is even read


def test_settings_from_an_experiment_configuration_keep_their_types() -> None:
    s = RunSettings.from_env({"allow_contexts": "staging-*, qa-*", "allow_quorum_loss": True})
    assert s.allow_contexts == ("staging-*", "qa-*")
    assert s.allow_quorum_loss is True
