"""Fuzzing the parsers of user input with hypothesis: inventories, experiments and backends either parse into
exactly what was written (defaults filled in, nothing dropped or coerced) or raise ConfigError naming the file
and the field; no other exception, no traceback, nothing touched (none of these functions reach a cluster)."""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubedrill.backends.cluster import BACKENDS, detect
from kubedrill.backends.inventory import RUNTIMES, Inventory, parse_inventory
from kubedrill.chaos import runner
from kubedrill.errors import ClusterUnreachable, ConfigError
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
# Values an inventory could hold, so that a good share of the replaced documents parse and the parsed
# inventory is checked against them, not only the errors.
plausible = st.text(min_size=1, max_size=12) | st.integers(1, 65535) | st.sampled_from(["systemd", "static-pod"])


def assert_inventory_is_the_document(doc: dict[str, Any], inv: Inventory) -> None:
    """What parse_inventory accepted it kept as written, defaults filled in: nothing dropped, nothing coerced."""
    nodes = doc["nodes"]
    assert list(inv.hosts) == [str(name) for name in nodes]
    for name, spec in nodes.items():
        host = inv.hosts[str(name)]
        assert (host.address, host.user, host.port) == (spec["address"], spec.get("user", "root"), spec.get("port", 22))
        assert host.become is spec.get("become", doc.get("become", False))
        assert 1 <= host.port <= 65535
    assert inv.runtime == doc["runtime"]
    assert inv.runtime in RUNTIMES
    assert inv.etcd_endpoints == doc["etcd"]["endpoints"]
    assert set(inv.etcd_endpoints) <= set(inv.hosts), "an endpoint for a node that is not listed"
    assert all(url.startswith(("https://", "http://")) for url in inv.etcd_endpoints.values())
    assert (inv.etcd_cacert, inv.etcd_cert, inv.etcd_key) == tuple(doc["etcd"][k] for k in ("cacert", "cert", "key"))


def assert_names_the_field(e: ConfigError, source: str) -> None:
    """A ConfigError reads ``<source>: <field>: expected <what>[, got <value>]``."""
    assert e.source == source
    assert e.field
    assert e.expected
    assert str(e).startswith(f"{source}: {e.field}: expected {e.expected}")


@FUZZ
@given(st.sampled_from(INVENTORY_PATHS), yaml_values | plausible)
def test_an_inventory_with_any_field_replaced_parses_as_written_or_names_the_field(
    path: tuple[Any, ...], value: Any
) -> None:
    doc = mutate(GOOD, path, value)
    inv = parsed_or_error(lambda: parse_inventory(doc, "inventory.yaml"))
    if isinstance(inv, ConfigError):
        assert_names_the_field(inv, "inventory.yaml")
        mutated = ".".join(map(str, path))
        # the replaced field, one inside it or the one holding it; or, with the nodes changed, an etcd
        # endpoint that now names a node not listed
        assert (
            inv.field == mutated
            or inv.field.startswith(mutated + ".")
            or mutated.startswith(inv.field + ".")
            or (path[0] == "nodes" and inv.field.startswith("etcd.endpoints."))
        ), f"replacing {mutated} was reported at {inv.field}"
    else:
        assert_inventory_is_the_document(doc, inv)


def test_the_inventory_fuzz_sees_both_outcomes() -> None:
    assert_inventory_is_the_document(GOOD, parse_inventory(GOOD, "inventory.yaml"))
    changed = mutate(GOOD, ("nodes", "cp-2", "port"), 2200)
    assert_inventory_is_the_document(changed, parse_inventory(changed, "inventory.yaml"))
    with pytest.raises(ConfigError) as exc:
        parse_inventory(mutate(GOOD, ("nodes", "cp-2", "port"), "2200"), "inventory.yaml")
    assert exc.value.field == "nodes.cp-2.port"


@FUZZ
@given(yaml_values)
def test_any_yaml_document_as_an_inventory_parses_as_written_or_raises_config_error(doc: Any) -> None:
    result = parsed_or_error(lambda: parse_inventory(doc, "inventory.yaml"))
    if isinstance(result, ConfigError):
        assert_names_the_field(result, "inventory.yaml")
    else:
        assert_inventory_is_the_document(doc, result)


SCENARIO = yaml.safe_load((ROOT / "scenarios" / "etcd-leader-move.yaml").read_text())
SCENARIO_PATHS = paths(SCENARIO)


def same_document(a: Any, b: Any) -> bool:
    """Equal as YAML documents (NaN equal to NaN, as YAML writes both .nan)."""
    return bool(yaml.safe_dump(a, sort_keys=True) == yaml.safe_dump(b, sort_keys=True))


def assert_every_activity_can_be_called(experiment: dict[str, Any]) -> None:
    """What a loaded experiment promises: every Python activity names a function that takes its arguments."""
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    for activity in [*hypothesis.get("probes", []), *experiment["method"], *experiment.get("rollbacks", [])]:
        provider = activity["provider"]
        if provider["type"] != "python":
            continue
        func = getattr(importlib.import_module(provider["module"]), provider["func"])
        inspect.signature(func).bind_partial(**(provider.get("arguments") or {}))


@FUZZ
@given(st.sampled_from(SCENARIO_PATHS), yaml_values)
def test_an_experiment_with_any_field_replaced_loads_as_written_or_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], value: Any
) -> None:
    f = tmp_path_factory.mktemp("exp") / "experiment.yaml"
    doc = mutate(SCENARIO, path, value)
    f.write_text(yaml.safe_dump(doc))
    experiment = parsed_or_error(lambda: runner.load(f))
    if isinstance(experiment, ConfigError):
        assert_names_the_field(experiment, str(f))
        assert experiment.field == "(experiment)", "a YAML mapping that fails is chaoslib's refusal"
        assert experiment.got, "chaoslib's reason is kept"
    else:
        assert same_document(experiment, doc), "load returns the experiment as the file has it"
        assert_every_activity_can_be_called(experiment)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_an_experiment_loads_as_written_or_is_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    f = tmp_path_factory.mktemp("exp") / "experiment.yaml"
    f.write_text(text)
    result = parsed_or_error(lambda: runner.load(f))
    if isinstance(result, ConfigError):
        assert_names_the_field(result, str(f))
        assert result.field in ("(syntax)", "(top level)", "(experiment)")
    else:
        assert same_document(result, yaml.safe_load(text))
        assert_every_activity_can_be_called(result)


def test_the_experiment_fuzz_sees_both_outcomes(tmp_path: Path) -> None:
    f = tmp_path / "experiment.yaml"
    f.write_text(yaml.safe_dump(SCENARIO))
    loaded = runner.load(f)
    assert same_document(loaded, SCENARIO)
    assert_every_activity_can_be_called(loaded)
    f.write_text(yaml.safe_dump(mutate(SCENARIO, ("method", 1, "provider", "func"), "no_such_activity")))
    with pytest.raises(ConfigError) as exc:
        runner.load(f)
    assert exc.value.field == "(experiment)"


@FUZZ
@given(st.sampled_from(BACKENDS) | st.text(max_size=20))
def test_a_backend_is_accepted_only_if_known(backend: str) -> None:
    if backend in BACKENDS:
        # accepted: detect goes on to the kubeconfig, which does not exist
        with pytest.raises(ClusterUnreachable, match="cannot read kubeconfig /nonexistent/kubeconfig"):
            detect("/nonexistent/kubeconfig", None, backend)
    else:
        with pytest.raises(ConfigError) as exc:
            detect("/nonexistent/kubeconfig", None, backend)  # refused before the kubeconfig is even read
        assert str(exc.value) == f"--backend: backend: expected one of {', '.join(BACKENDS)}, got {backend!r}"


def test_settings_from_an_experiment_configuration_keep_their_types() -> None:
    s = RunSettings.from_env({"allow_contexts": "staging-*, qa-*", "allow_quorum_loss": True})
    assert s.allow_contexts == ("staging-*", "qa-*")
    assert s.allow_quorum_loss is True
