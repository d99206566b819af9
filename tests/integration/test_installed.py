"""kubedrill installed, not cloned: ``pip install`` into a fresh virtualenv outside the checkout, then a user's
own repository (its own ``drills/`` and ``scenarios/``, no conftest.py, no pyproject) drills the embedded
cluster. The plugin comes through its ``pytest11`` entry point, the default SLO profile and the scenarios
the user does not have from the package data; ``--scenarios`` / ``KUBEDRILL_SCENARIOS`` pick another
directory of scenarios."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kubedrill.backends.embedded import Layout

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

USER_DRILL = """\
import pytest


@pytest.mark.etcd
@pytest.mark.destructive
def test_my_leader_move(run_scenario):
    drill = run_scenario("my-leader-move.yaml")  # the user's scenarios/
    assert all(c.ok for c in drill.judged("etcd leader elected within the SLO"))


@pytest.mark.etcd
@pytest.mark.destructive
def test_a_follower_kill_from_the_package(run_scenario):
    drill = run_scenario("etcd-follower-kill.yaml")  # not in the user's scenarios/: kubedrill's own
    assert all(c.ok for c in drill.judged("etcd leadership did not change"))
"""


def run(
    argv: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with kubedrill installed from the checkout as a wheel (not editable), with the pins
    of requirements.lock, as a user installs it."""
    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120)
    pip = [where / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    proc = run([*pip, "-c", ROOT / "requirements.lock", ROOT], cwd=where, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return where


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """A user's repository: drills/ and scenarios/ of its own, nothing else."""
    repo = tmp_path / "my-drills"
    (repo / "drills").mkdir(parents=True)
    (repo / "scenarios").mkdir()
    (repo / "drills" / "test_mine.py").write_text(USER_DRILL)
    shipped = (ROOT / "scenarios" / "etcd-leader-move.yaml").read_text()
    mine = re.sub(r"(?m)^title: .*$", "title: my leader move", shipped).replace(
        "drill_id: etcd-leader-move", "drill_id: my-leader-move"
    )
    assert "title: my leader move" in mine
    assert "drill_id: my-leader-move" in mine
    (repo / "scenarios" / "my-leader-move.yaml").write_text(mine)
    return repo


def user_env(venv: Path, tmp_path: Path) -> dict[str, str]:
    """The user's environment: the venv first on PATH, nothing of the checkout importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KUBECONFIG", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["KUBEDRILL_LEDGER"] = str(tmp_path / "ledger.jsonl")
    return env


def test_the_installed_package_is_the_wheel_with_its_data(venv: Path, tmp_path: Path) -> None:
    probe = (
        "import kubedrill, kubedrill.paths as p; print(kubedrill.__file__); "
        "print(p.DEFAULT_PROFILE.is_file(), len(list(p.SCENARIOS.glob('*.yaml'))), "
        "(p.CI / 'kind-config.yaml').is_file())"
    )
    proc = run([venv / "bin" / "python", "-c", probe], cwd=tmp_path, env=user_env(venv, tmp_path))
    assert proc.returncode == 0, proc.stderr
    where, data = proc.stdout.splitlines()
    assert Path(where).is_relative_to(venv), f"kubedrill imported from {where}, not the virtualenv"
    shipped = len(list((ROOT / "scenarios").glob("*.yaml")))
    assert data == f"True {shipped} True"


def test_a_users_repository_drills_the_cluster_with_the_installed_plugin(
    embedded: Layout, venv: Path, user_repo: Path, tmp_path: Path
) -> None:
    env = user_env(venv, tmp_path)
    proc = run(["pytest", "drills/", "--strict-markers", "-p", "no:cacheprovider", "-v"], cwd=user_repo, env=env)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
    assert "my-leader-move" in proc.stdout  # the user's scenario ran under its own drill id
    assert (user_repo / "reports" / "journals").is_dir()  # journals land in the user's repository


def test_scenarios_come_from_the_directory_the_option_or_environment_names(
    embedded: Layout, venv: Path, user_repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "team-scenarios"
    elsewhere.mkdir()
    text = (user_repo / "scenarios" / "my-leader-move.yaml").read_text()
    (elsewhere / "my-leader-move.yaml").write_text(text.replace("title: my leader move", "title: team leader move"))
    env = user_env(venv, tmp_path)
    dry = ["pytest", "drills/test_mine.py::test_my_leader_move", "-p", "no:cacheprovider", "-s", "--dry-run"]
    by_option = run([*dry, "--scenarios", elsewhere], cwd=user_repo, env=env, timeout=300)
    by_env = run(dry, cwd=user_repo, env={**env, "KUBEDRILL_SCENARIOS": str(elsewhere)}, timeout=300)
    for proc in (by_option, by_env):
        assert "1 skipped" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "experiment: team leader move" in proc.stdout
    missing = run([*dry, "--scenarios", tmp_path / "nowhere"], cwd=user_repo, env=env, timeout=300)
    assert missing.returncode == 4, missing.stdout[-2000:]  # pytest's usage error, before anything runs
    assert f"--scenarios: expected a directory of scenario files, got '{tmp_path / 'nowhere'}'" in missing.stderr


def test_kubedrill_env_gives_what_chaos_run_needs(embedded: Layout, venv: Path, tmp_path: Path) -> None:
    env = user_env(venv, tmp_path)
    proc = run(["kubedrill", "env"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"export KUBECONFIG={embedded.admin_kubeconfig}" in proc.stdout.splitlines()
    inventory = run(["kubedrill", "env", "--inventory", ROOT / "ci" / "inventory.example.yaml"], cwd=tmp_path, env=env)
    assert "export KUBEDRILL_BACKEND=ssh" in inventory.stdout.splitlines()
    kind = run(["kubedrill", "env", "--provider", "kind"], cwd=tmp_path, env={**env, "KUBECONFIG": str(tmp_path / "k")})
    assert kind.returncode == 2
    assert "contexts: expected context kind-kubedrill: run 'kubedrill up --provider kind'" in kind.stderr
