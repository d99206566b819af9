"""`kubedrill up --provider kind|embedded`: flags that do not apply to kind are refused before anything runs."""

from pathlib import Path

import pytest

from kubedrill import cli
from kubedrill.backends.prom import Target
from kubedrill.errors import ConfigError
from kubedrill.local import kind


def test_the_default_provider_is_the_embedded_cluster_of_3_and_3() -> None:
    args = cli.parser().parse_args(["up"])
    assert args.provider == "embedded"
    # None means "not given": the embedded cluster then takes 3 and 3, and kind can tell a flag was passed.
    assert (args.control_planes, args.workers) == (None, None)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["up", "--provider", "kind", "--workers", "2"], "--workers"),
        (["up", "--provider", "kind", "--control-planes", "5"], "--control-planes"),
        (["up", "--provider", "kind", "--control-planes", "3"], "--control-planes"),  # even the default, if given
        (["up", "--control-planes", "1", "--provider", "kind"], "--control-planes"),
    ],
)
def test_node_counts_are_refused_with_kind(argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"kubedrill up: error: kubedrill up --provider kind: {flag}: expected no --control-planes")
    assert "ci/kind-config.yaml" in line
    assert "Docker" not in line, "the flags must be refused before the Docker engine is even looked for"


def test_an_unknown_provider_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["up", "--provider", "podman"])
    assert exc.value.code == 2
    assert "invalid choice: 'podman'" in capsys.readouterr().err


def test_the_kind_files_are_found_in_this_checkout(tmp_path: Path) -> None:
    config, manifests = kind.ci_files()
    assert config.name == "kind-config.yaml"
    assert manifests.name == "prometheus"
    with pytest.raises(ConfigError, match=r"kind-config\.yaml: \(file\): expected kind's cluster config"):
        kind.ci_files(tmp_path)


def target(job: str, health: str = "up") -> Target:
    return Target(job=job, instance=f"{job}:1", health=health, last_error="", last_scrape="")


def test_prometheus_counts_as_ready_only_when_every_job_has_targets_and_all_are_up() -> None:
    every = [target(job) for job in kind.EXPECTED_JOBS]
    assert kind.targets_complete(every)
    assert not kind.targets_complete(every[1:]), "a job without targets (etcd not scraped) is not ready"
    assert not kind.targets_complete([*every, target("etcd", "down")])
    assert not kind.targets_complete([])


def test_the_no_engine_message_is_one_line_saying_what_to_do_instead() -> None:
    message = kind.no_engine_message("exit 1: Cannot connect to the Docker daemon")
    assert "\n" not in message
    assert message == (
        "no Docker engine: 'docker info' failed (exit 1: Cannot connect to the Docker daemon); kind needs one. "
        "Use the embedded cluster instead: kubedrill up"
    )
