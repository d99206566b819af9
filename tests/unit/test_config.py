"""SLO profiles: strict parsing, clear errors, per-drill overrides; fuzzed with hypothesis."""

import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubedrill.config import SloProfile, load_profile, parse_profile
from kubedrill.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_profiles_load() -> None:
    default = load_profile(ROOT / "scenarios" / "slo" / "default.yaml")
    assert default.api.availability_min == 0.95
    assert default.for_drill("etcd-leader-kill").api.availability_min == 0.9
    # Writes wait for a new leader: where the leader is lost, the outage has the election's bound, not less.
    for drill in ("etcd-leader-kill", "net-isolate-leader"):
        assert default.for_drill(drill).api.longest_outage_max_s == default.etcd.leader_election_max_s
    assert default.for_drill("etcd-follower-kill").api.longest_outage_max_s == 3.0
    impossible = load_profile(ROOT / "scenarios" / "slo" / "impossible.yaml")
    assert impossible.etcd.leader_election_max_s == 0.0


def test_unset_values_keep_their_defaults() -> None:
    p = parse_profile({"api": {"longest_outage_max_s": 1}}, "p.yaml")
    assert p.api.longest_outage_max_s == 1.0
    assert p.api.availability_min == SloProfile().api.availability_min


def test_drill_overrides_apply_only_to_that_drill() -> None:
    p = parse_profile({"drills": {"etcd-leader-move": {"etcd": {"leader_election_max_s": 2}}}}, "p.yaml")
    assert p.for_drill("etcd-leader-move").etcd.leader_election_max_s == 2.0
    assert p.for_drill("other").etcd.leader_election_max_s == SloProfile().etcd.leader_election_max_s


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"api": {"availability_min": "high"}}, "p.yaml: api.availability_min: expected a number, got 'high'"),
        ({"api": {"availability_min": 1.5}}, "api.availability_min: expected a fraction from 0 to 1"),
        ({"api": {"longest_outage_max_s": -1}}, "expected a number ≥ 0"),
        ({"api": {"outage": 1}}, "api.outage: expected one of"),
        ({"apii": {}}, "apii: expected one of ['api'"),
        ({"etcd": [1, 2]}, "etcd: expected a mapping"),
        ({"api": {"availability_min": True}}, "expected a number, got True"),
        ({"drills": {"x": {"etcd": {"leader_election_max_s": "soon"}}}}, "drills.x.etcd.leader_election_max_s"),
        ([1, 2], "(top level): expected a mapping"),
    ],
)
def test_bad_profiles_name_the_file_the_field_and_what_was_expected(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_profile(data, "p.yaml")
    assert message in str(exc.value)


def test_a_missing_or_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="readable SLO profile"):
        load_profile(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("api: [unclosed")
    with pytest.raises(ConfigError, match="valid YAML"):
        load_profile(bad)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=10,
)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.dictionaries(st.sampled_from(["api", "etcd", "drills", "restore", "x"]), yaml_values, max_size=3))
def test_any_input_either_parses_or_raises_config_error(data: dict[str, object]) -> None:
    try:
        profile = parse_profile(data, "fuzz.yaml")
    except ConfigError:
        return
    assert 0 <= profile.api.availability_min <= 1


@FUZZ
@given(st.text(max_size=200))
def test_any_text_file_either_parses_or_raises_config_error(text: str) -> None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    with contextlib.suppress(ConfigError):
        parse_profile(data, "fuzz.yaml")
