"""README.md against the code: its options table is ``kubedrill.settings.OPTIONS``, its markers table the
plugin's MARKERS plus pyproject's own, its drill table names every drill file; each way round."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from kubedrill.pytest_plugin import DRILL_FAMILIES, MARKERS
from kubedrill.settings import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PROJECT_MARKERS = {
    line.split(":")[0]
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
}
ENV = re.compile(r"\b(?:KUBECONFIG|KUBEDRILL_[A-Z_]+)\b")


def table(header: str) -> list[list[str]]:
    """The rows (cells stripped) of the README table whose header row starts with ``| header |``; it ends at
    the first line that is not a table row, so a blank line inside a table cuts it short."""
    lines = README.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {header} |")), None)
    assert start is not None, f"README.md has no table headed {header!r}"
    rows = []
    for line in lines[start + 2 :]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_the_table_parser_splits_cells_but_not_escaped_bars() -> None:
    assert table("option")[1][0] == r"`--backend auto\|local\|kind\|ssh`"


def test_the_options_table_names_each_option_with_its_environment_variable() -> None:
    documented = set()
    for cells in table("option"):
        flags, envs = re.findall(r"--[a-z][a-z-]*", cells[0]), ENV.findall(cells[1])
        assert envs, f"README options row without an environment variable: {cells}"
        assert len(flags) in (0, len(envs)), f"README options row pairs flags with variables one to one: {cells}"
        documented |= set(zip(flags or [None] * len(envs), envs, strict=True))
    in_code = {(o.flag, o.env) for o in OPTIONS}
    assert documented - in_code == set(), "README.md names options the code does not have"
    assert in_code - documented == set(), "options missing from README.md's table"


def test_every_flag_of_the_table_is_registered_with_pytest(pytestconfig: pytest.Config) -> None:
    for o in OPTIONS:
        if o.flag is not None:
            pytestconfig.getoption(o.dest)  # raises ValueError for an option pytest does not know


def test_the_markers_table_names_every_marker_and_only_those() -> None:
    names = [cells[0] for cells in table("marker (`--strict-markers`)")]
    assert all(re.fullmatch(r"`\w+`", name) for name in names), names
    documented = {name.strip("`") for name in names}
    in_code = set(MARKERS) | PROJECT_MARKERS
    assert documented - in_code == set(), "README.md names markers nobody registers"
    assert in_code - documented == set(), "markers missing from README.md's table"


def test_each_marker_is_defined_once_and_registered(pytestconfig: pytest.Config) -> None:
    assert set(MARKERS) & PROJECT_MARKERS == set(), "the plugin's markers are the plugin's: not in pyproject.toml"
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(MARKERS) | PROJECT_MARKERS <= registered
    assert set(DRILL_FAMILIES) <= set(MARKERS)


def test_the_drill_table_is_one_table_naming_every_drill_file_with_known_markers() -> None:
    rows = table("drill (`drills/`)")
    named = {m for cells in rows for m in re.findall(r"test_\w+\.py", cells[0])}
    assert named == {p.name for p in (ROOT / "drills").glob("test_*.py")}
    used = {m.strip() for cells in rows for m in cells[1].split(",")}
    assert used - set(MARKERS) == set(), "README.md's drill table names markers the plugin does not define"
