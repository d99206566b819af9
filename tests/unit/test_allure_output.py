"""`kubedrill report` empties its output first: only ever a report it wrote itself."""

from pathlib import Path

import pytest

from kubedrill.backends import allure_cli
from kubedrill.errors import ConfigError


def test_an_earlier_report_is_emptied(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / allure_cli.MARKER).write_text("")
    (out / "index.html").write_text("old")
    allure_cli.clear_output(out, tmp_path / "results")
    assert not out.exists()


def test_an_allure_report_written_before_the_marker_existed_is_emptied_too(tmp_path: Path) -> None:
    out = tmp_path / "report"
    (out / "widgets").mkdir(parents=True)
    (out / "index.html").write_text("old")
    allure_cli.clear_output(out, tmp_path / "results")
    assert not out.exists()


def test_a_missing_or_empty_output_is_fine(tmp_path: Path) -> None:
    allure_cli.clear_output(tmp_path / "new", tmp_path / "results")
    (tmp_path / "empty").mkdir()
    allure_cli.clear_output(tmp_path / "empty", tmp_path / "results")
    assert (tmp_path / "empty").is_dir()


def test_an_output_that_holds_anything_else_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "results"
    cases = [
        (tmp_path / "reports", tmp_path / "reports" / "allure-results", "not one holding the results"),
        (allure_cli.PROJECT.parent, elsewhere, "not one holding the project"),
        (Path.home(), elsewhere, "not one holding "),
    ]
    for output, results, message in cases:
        with pytest.raises(ConfigError, match=message):
            allure_cli.clear_output(output, results)


def test_a_directory_that_is_not_a_report_is_never_emptied(tmp_path: Path) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match="an empty directory or an earlier report"):
        allure_cli.clear_output(out, tmp_path / "results")
    assert (out / "notes.md").read_text() == "mine"
