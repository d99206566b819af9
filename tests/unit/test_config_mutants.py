"""SLO profile errors, whole: every refusal names the file, the exact field and what was expected.

Written against mutation testing (``make mutation``): the messages are compared whole (they are what a user
reads), the error's parts (source, field, expected, got) are checked one by one, and the boundaries of the
values a profile accepts are pinned.
"""

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from kubedrill.config import (
    DEFAULT_PROFILE,
    PROM_PRESETS,
    ApiSlo,
    EtcdSlo,
    PromTargets,
    SloProfile,
    load_profile,
    parse_profile,
    parse_prom_targets,
    read_yaml,
)
from kubedrill.errors import ConfigError

SECTIONS = "['api', 'control_plane', 'etcd', 'load_balancer', 'nodes', 'restore']"
API_KEYS = str(sorted(f.name for f in fields(ApiSlo)))
ETCD_KEYS = str(sorted(f.name for f in fields(EtcdSlo)))
MATCHERS = 'PromQL label matchers such as job="kube-etcd"'


def refusal(data: object, source: str = "p.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        parse_profile(data, source)
    return exc.value


@pytest.mark.parametrize(
    ("data", "field", "expected", "got"),
    [
        ([1, 2], "(top level)", "a mapping of sections (api, etcd, …, drills)", "list"),
        ("fast", "(top level)", "a mapping of sections (api, etcd, …, drills)", "str"),
        ({"apii": {}}, "apii", f"one of {SECTIONS}", "apii"),
        ({"Xapi.": {}}, "Xapi.", f"one of {SECTIONS}", "Xapi."),  # named whole, whatever it starts or ends with
        ({"etcd": [1, 2]}, "etcd", "a mapping", [1, 2]),
        ({"api": {"outage": 1}}, "api.outage", f"one of {API_KEYS}", "outage"),
        ({"api": {"availability_min": "high"}}, "api.availability_min", "a number", "high"),
        ({"api": {"availability_min": True}}, "api.availability_min", "a number", True),
        ({"api": {"longest_outage_max_s": -1}}, "api.longest_outage_max_s", "a number ≥ 0", -1),
        ({"api": {"availability_min": 1.5}}, "api.availability_min", "a fraction from 0 to 1", 1.5),
        ({"etcd": {"leader_election_max_s": -0.5}}, "etcd.leader_election_max_s", "a number ≥ 0", -0.5),
        ({"drills": [1]}, "drills", "a mapping of drill id → overrides", [1]),
        ({"drills": {"x": 3}}, "drills.x", "a mapping of sections", 3),
        ({"drills": {"x": {"apii": {}}}}, "drills.x.apii", f"one of {SECTIONS}", "apii"),
        ({"drills": {"x": {"etcd": 5}}}, "drills.x.etcd", "a mapping", 5),
        ({"drills": {"x": {"etcd": {"term": 1}}}}, "drills.x.etcd.term", f"one of {ETCD_KEYS}", "term"),
        (
            {"drills": {"x": {"etcd": {"leader_election_max_s": "soon"}}}},
            "drills.x.etcd.leader_election_max_s",
            "a number",
            "soon",
        ),
        (
            {"drills": {"x": {"api": {"availability_min": 2}}}},
            "drills.x.api.availability_min",
            "a fraction from 0 to 1",
            2,
        ),
        ({"prometheus": "kube-etcd"}, "prometheus", "a mapping with preset, etcd or apiserver", "kube-etcd"),
        ({"prometheus": {"job": "etcd"}}, "prometheus.job", "one of preset, etcd, apiserver", "job"),
        ({"prometheus": {"preset": "nope"}}, "prometheus.preset", f"one of {', '.join(PROM_PRESETS)}", "nope"),
        ({"prometheus": {"etcd": "job=etcd"}}, "prometheus.etcd", MATCHERS, "job=etcd"),
        ({"prometheus": {"apiserver": 3}}, "prometheus.apiserver", MATCHERS, 3),
    ],
)
def test_each_refusal_names_file_field_expectation_and_value(
    data: object, field: str, expected: str, got: object
) -> None:
    e = refusal(data)
    assert (e.source, e.field, e.expected, e.got) == ("p.yaml", field, expected, got)
    assert str(e) == f"p.yaml: {field}: expected {expected}, got {got!r}"


def test_nan_is_not_a_number_a_profile_accepts() -> None:
    e = refusal({"api": {"stall_s": float("nan")}})
    assert str(e) == "p.yaml: api.stall_s: expected a number ≥ 0, got nan"


def test_a_path_with_spaces_and_a_drill_id_with_a_colon_are_named_whole() -> None:
    source = "my profiles/p.yaml"
    e = refusal({"drills": {"a: b": {"etcd": {"leader_election_max_s": -1}}}}, source)
    assert (e.source, e.field) == (source, "drills.a: b.etcd.leader_election_max_s")
    for data, field in [
        ({"drills": {"a: b": {"apii": {}}}}, "drills.a: b.apii"),
        ({"drills": {"a: b": {"etcd": 5}}}, "drills.a: b.etcd"),
        ({"drills": {"a: b": {"etcd": {"term": 1}}}}, "drills.a: b.etcd.term"),
        ({"drills": {"a: b": {"etcd": {"leader_election_max_s": "x"}}}}, "drills.a: b.etcd.leader_election_max_s"),
        ({"drills": {"a: b": {"api": {"availability_min": 2}}}}, "drills.a: b.api.availability_min"),
        ({"api": {"stall_s": -1}}, "api.stall_s"),
        ({"api": {"availability_min": 2}}, "api.availability_min"),
        ({"api": {"stall_s": "x"}}, "api.stall_s"),
        ({"api": {"stall": 1}}, "api.stall"),
        ({"api": 1}, "api"),
    ]:
        e = refusal(data, source)
        assert (e.source, e.field) == (source, field), data


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0])
def test_a_fraction_may_be_0_or_1(value: float) -> None:
    profile = parse_profile({"api": {"availability_min": value}}, "p.yaml")
    assert profile.api.availability_min == float(value)
    assert isinstance(profile.api.availability_min, float)


def test_zero_is_a_valid_maximum() -> None:
    assert parse_profile({"restore": {"rto_max_s": 0}}, "p.yaml").restore.rto_max_s == 0.0


def test_an_empty_file_is_the_built_in_defaults_from_that_source() -> None:
    assert parse_profile(None, "p.yaml") == SloProfile(source="p.yaml")
    assert parse_profile({"drills": None}, "p.yaml") == SloProfile(source="p.yaml")


def test_the_profile_keeps_its_source_and_its_overrides_by_drill_id() -> None:
    override = {"etcd": {"leader_election_max_s": 2}}
    p = parse_profile({"drills": {"etcd-leader-move": override, 7: {}}}, "p.yaml")
    assert p.source == "p.yaml"
    assert p.overrides == {"etcd-leader-move": override, "7": {}}


def test_a_drill_override_applies_over_the_profile_not_over_the_built_in_defaults() -> None:
    p = parse_profile(
        {"api": {"availability_min": 0.8, "stall_s": 0.25}, "drills": {"d": {"api": {"stall_s": 1}}}}, "p.yaml"
    )
    d = p.for_drill("d")
    assert (d.api.availability_min, d.api.stall_s) == (0.8, 1.0)
    assert d.etcd == p.etcd
    assert p.for_drill("other") is p


def test_an_override_built_in_code_is_checked_when_applied_naming_the_drill() -> None:
    profile = SloProfile(source="code", overrides={"d": {"api": {"stall_s": -1}}})
    with pytest.raises(ConfigError) as exc:
        profile.for_drill("d")
    assert str(exc.value) == "code: drills.d.api.stall_s: expected a number ≥ 0, got -1"


def test_prometheus_matchers_go_over_the_preset() -> None:
    p = parse_profile({"prometheus": {"preset": "kube-prometheus-stack"}}, "p.yaml")
    assert p.prometheus == PromTargets(etcd='job="kube-etcd"', apiserver='job="apiserver"')
    p = parse_profile({"prometheus": {"apiserver": 'job="kas", env!~"dev.*"'}}, "p.yaml")
    assert p.prometheus == PromTargets(etcd='job="etcd"', apiserver='job="kas", env!~"dev.*"')
    assert parse_profile({}, "p.yaml").prometheus == PromTargets()


def test_prometheus_errors_name_the_key_they_were_read_under() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_prom_targets({"etcd": "job"}, "inventory.yaml", "cluster.prometheus")
    assert str(exc.value) == f"inventory.yaml: cluster.prometheus.etcd: expected {MATCHERS}, got 'job'"
    with pytest.raises(ConfigError) as exc:
        parse_prom_targets([], "inventory.yaml", "cluster.prometheus")
    assert (exc.value.source, exc.value.field) == ("inventory.yaml", "cluster.prometheus")


def test_prom_targets_put_their_matchers_in_place_of_the_placeholders() -> None:
    targets = PromTargets(etcd='job="kube-etcd"', apiserver='job="kas"')
    expr = "sum(up{etcd}) + sum(up{apiserver}) + up{etcd}"
    assert targets.render(expr) == 'sum(up{job="kube-etcd"}) + sum(up{job="kas"}) + up{job="kube-etcd"}'


def test_a_missing_file_is_named_with_the_os_reason(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as exc:
        read_yaml(path, "inventory")
    e = exc.value
    assert (e.source, e.field, e.expected, e.got) == (
        str(path),
        "(file)",
        "a readable inventory",
        "No such file or directory",
    )
    assert isinstance(e.__cause__, FileNotFoundError)


def test_bad_yaml_is_named_by_the_parser_s_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("api: [unclosed")
    with pytest.raises(ConfigError) as exc:
        read_yaml(path, "SLO profile")
    e = exc.value
    assert (e.source, e.field, e.expected, e.got) == (
        str(path),
        "(syntax)",
        "valid YAML",
        "while parsing a flow sequence",
    )
    assert isinstance(e.__cause__, yaml.YAMLError)


def test_a_profile_file_is_its_own_source(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("api: {stall_s: 0.25}\n")
    profile = load_profile(path)
    assert (profile.source, profile.api.stall_s) == (str(path), 0.25)
    assert load_profile(str(path)).source == str(path)


def test_no_path_is_the_shipped_default_profile() -> None:
    profile = load_profile(None)
    assert profile.source == str(DEFAULT_PROFILE)
    assert profile == load_profile(DEFAULT_PROFILE)
