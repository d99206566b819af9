"""The known-bad twin table (tests/twins.py) covers every drill, agrees with scenarios/slo/known-bad.yaml, and
is the table README.md shows; its example messages are what its patterns match."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kubedrill.config import load_profile
from tests.twins import EXAMPLES, PROFILE, TWINS, readme_table

ROOT = Path(__file__).resolve().parents[2]


def drill_ids() -> set[str]:
    ids = set()
    for path in (ROOT / "scenarios").glob("*.yaml"):
        found = re.findall(r"drill_id: ([a-z0-9-]+)", path.read_text())
        assert len(found) == 1, f"{path.name}: expected one drill_id, found {found}"
        ids |= set(found)
    return ids


def test_every_drill_has_a_twin() -> None:
    assert len(drill_ids()) >= 19
    assert sorted(drill_ids() - set(TWINS)) == []
    assert sorted(set(TWINS) - drill_ids()) == []


def test_the_known_bad_profile_breaks_exactly_the_profile_twins() -> None:
    overrides = yaml.safe_load((ROOT / PROFILE).read_text())["drills"]
    by_profile = {d for d, t in TWINS.items() if not t.how.startswith("real:")}
    assert set(overrides) == by_profile
    profile = load_profile(ROOT / PROFILE)  # valid, and each override names a real SLO field
    for drill, sections in overrides.items():
        tuned = profile.for_drill(drill)
        for section, fields in sections.items():
            for key, value in fields.items():
                assert getattr(getattr(tuned, section), key) == value
                assert key in TWINS[drill].how, f"{drill}: the table says {TWINS[drill].how}, the profile sets {key}"


def test_each_example_message_is_one_its_pattern_matches() -> None:
    assert set(EXAMPLES) == set(TWINS)
    for drill, twin in TWINS.items():
        assert re.search(twin.fails, EXAMPLES[drill]), f"{drill}: {EXAMPLES[drill]!r} does not match {twin.fails!r}"


def test_readme_shows_the_table() -> None:
    assert readme_table() in (ROOT / "README.md").read_text()
