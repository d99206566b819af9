"""Bad CLI input is refused before anything is touched: exit 2, and one line on stderr that names the command,
the argument or file and field, what was expected and what was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubedrill import cli
from kubedrill.errors import ConfigError
from kubedrill.local import kind, lifecycle


@pytest.fixture(autouse=True)
def nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad input must stop the CLI before it builds, starts or stops anything."""

    def touched(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("bad input reached a command that changes the machine")

    for module, name in ((lifecycle, "up"), (lifecycle, "down"), (kind, "up"), (kind, "down")):
        monkeypatch.setattr(module, name, touched)


# (id, argv, what argparse says after "kubedrill <command>: error: ")
BAD_FLAGS = [
    ("even-control-planes", "up --control-planes 2",
     "argument --control-planes: invalid choice: 2 (choose from 1, 3, 5)"),
    ("words-for-control-planes", "up --control-planes three",
     "argument --control-planes: invalid int value: 'three'"),
    ("negative-workers", "up --workers -1",
     "argument --workers: expected 0 to 50 worker nodes, got -1"),
    ("words-for-workers", "up --workers many",
     "argument --workers: expected a whole number of worker nodes, got 'many'"),
    ("unknown-output", "status --output yaml",
     "argument --output/-o: invalid choice: 'yaml' (choose from 'text', 'json')"),
    ("gameday-without-plan", "gameday",
     "the following arguments are required: plan"),
    ("unknown-backend", "gameday plan.yaml --backend docker",
     "argument --backend: invalid choice: 'docker' (choose from 'auto', 'local', 'kind', 'ssh')"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        *(pytest.param(argv.split(), f"kubedrill {argv.split()[0]}: error: {m}", id=i) for i, argv, m in BAD_FLAGS),
        pytest.param(["up", "--bogus"], "kubedrill: error: unrecognized arguments: --bogus", id="unknown-flag"),
    ],
)
def test_a_bad_flag_exits_2_naming_the_flag_and_what_it_takes(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    usage, last = err.rstrip("\n").rsplit("\n", 1)
    assert usage.startswith("usage: kubedrill"), "argparse shows the usage above the error"
    assert last == message


def test_an_unknown_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    last = capsys.readouterr().err.rstrip("\n").rsplit("\n", 1)[-1]
    commands = cli.parser()._subparsers._group_actions[0].choices
    assert last == (
        "kubedrill: error: argument COMMAND: invalid choice: 'frobnicate' "
        f"(choose from {', '.join(repr(c) for c in commands)})"
    )
    assert {"up", "down", "status", "gameday", "recover", "report"} <= set(commands)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["up", "--provider", "kind", "--workers", "2"],
            "kubedrill up: error: kubedrill up --provider kind: --workers: expected no "
            "--control-planes/--workers/--load-balancers (ci/kind-config.yaml fixes the kind cluster's nodes: "
            "3 control planes, 3 workers, kind's one HAProxy; edit that file to change them), got 2",
        ),
        (
            ["up", "--node-image", "foo"],
            "kubedrill up: error: kubedrill up: --node-image: expected --provider kind (the embedded cluster has no "
            "images), got 'foo'",
        ),
    ],
    ids=["kind-with-workers", "node-image-without-kind"],
)
def test_flags_that_do_not_go_together_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    assert capsys.readouterr() == ("", message + "\n")


@pytest.mark.parametrize(
    ("content", "field", "expected"),
    [
        ("drills: 5\n", "name", "expected the game day's name"),
        ("a: [\n", "(syntax)", "expected valid YAML, got 'while parsing a flow node'"),
        (None, "(file)", "expected a readable game-day plan, got 'No such file or directory'"),
    ],
    ids=["no-name", "bad-yaml", "missing-file"],
)
def test_a_bad_game_day_plan_exits_2_naming_the_file_and_field_before_anything_is_written(
    content: str | None,
    field: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    if content is not None:
        Path("plan.yaml").write_text(content)
    before = sorted(tmp_path.rglob("*"))
    assert cli.main(["gameday", "plan.yaml"]) == 2
    assert capsys.readouterr() == ("", f"kubedrill gameday: error: plan.yaml: {field}: {expected}\n")
    assert sorted(tmp_path.rglob("*")) == before, "no reports/gameday/ directory for a plan that was refused"


@pytest.mark.parametrize(
    ("control_planes", "workers", "message"),
    [
        (4, 3, "--control-planes: control-planes: expected 1, 3 or 5 (an odd etcd membership), got 4"),
        (3, 51, "--workers: workers: expected a number of KWOK worker nodes from 0 to 50, got 51"),
        (3, -1, "--workers: workers: expected a number of KWOK worker nodes from 0 to 50, got -1"),
    ],
)
def test_the_clusters_shape_is_validated_before_anything_else(control_planes: int, workers: int, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        lifecycle.validate_shape(control_planes, workers)
    assert str(exc.value) == message


@pytest.mark.parametrize(("control_planes", "workers"), [(1, 0), (3, 3), (5, 50)])
def test_every_shape_the_flags_allow_is_valid(control_planes: int, workers: int) -> None:
    lifecycle.validate_shape(control_planes, workers)  # raises on a shape it refuses
