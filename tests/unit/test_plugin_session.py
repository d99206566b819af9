"""The plugin's session-level behaviour, run in a nested pytest against a fake cluster (nothing real is reached):
--dry-run touches nothing, not even the leftover namespaces a real run deletes first; and quorum_loss drills
that a ``-m`` expression selects without naming quorum_loss are reported as skipped, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubedrill.drill import SUITE_LABEL, SUITE_VALUE

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
# The nested sessions need neither a cache nor hypothesis (whose terminal summary costs a second each).
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
SUITE = f"{SUITE_LABEL}={SUITE_VALUE}"  # the label every drill namespace carries

# The nested session's conftest: kubedrill's plugin with the one seam to the outside world replaced. Every
# fixture a drill reaches the cluster through is faked, so a test that goes wrong still touches nothing.
CONFTEST = """
from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from kubedrill.settings import RunSettings

CALLS = []  # what the fake API server was asked, in order


class FakeCore:
    def list_namespace(self, label_selector, _request_timeout=None):
        CALLS.append(("list", label_selector))
        names = ["kubedrill-left-1", "kubedrill-left-2"]
        active = SimpleNamespace(phase="Active")
        return SimpleNamespace(items=[SimpleNamespace(metadata=SimpleNamespace(name=n), status=active) for n in names])

    def delete_namespace(self, name, _request_timeout=None):
        CALLS.append(("delete", name))


class FakeKube:
    core = FakeCore()
    timeouts = (1, 1)

    def close(self):
        pass

    def server_version(self):
        return "v0.0.0-fake"

    def nodes(self):
        return []


FAKE_CLUSTER = SimpleNamespace(
    backend="local", context="kubedrill-local", server="https://fake.invalid:6443", prometheus_url=None,
    control_planes=["cp-1", "cp-2", "cp-3"], node_level=True, missing=None, etcd=None, etcd_endpoint_of={},
    kube=FakeKube, touch_no_host=lambda: CALLS.append(("no host writes",)),
)


class FakeSettings(RunSettings):
    def connect(self, remembered=None):
        return FAKE_CLUSTER


@pytest.fixture(scope="session")
def kubedrill_settings():
    return FakeSettings()


@pytest.fixture
def require_control_planes():
    return lambda n: None


@pytest.fixture
def run_scenario(cluster):
    def run(name):
        CALLS.append(("run", name))
        return MagicMock(name="DrillRun")  # whatever the drill asks of its run, it gets

    return run


def pytest_sessionfinish(session):
    print("\\nfake API calls:", CALLS)
"""


@pytest.fixture
def nested(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config) -> pytest.Pytester:
    # Installed, the plugin comes through its pytest11 entry point; from a bare checkout, name it.
    if pytestconfig.pluginmanager.get_plugin("kubedrill") is None:
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p kubedrill.pytest_plugin")
    for o in ("KUBEDRILL_DRY_RUN", "KUBEDRILL_ALLOW_QUORUM_LOSS", "KUBEDRILL_ALLOW_CONTEXT"):
        monkeypatch.delenv(o, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(pytester.path / "no-such-kubeconfig"))
    pytester.makeconftest(CONFTEST)
    return pytester


def calls(result: pytest.RunResult) -> str:
    """The fake API server's calls, as the nested session printed them last."""
    lines = [line for line in result.stdout.lines if line.startswith("fake API calls: ")]
    assert lines, result.stdout.str()
    return lines[-1].removeprefix("fake API calls: ")


def test_a_real_run_deletes_the_namespaces_earlier_runs_left(nested: pytest.Pytester) -> None:
    nested.makepyfile(test_uses_cluster="def test_it(cluster):\n    pass\n")
    result = nested.runpytest_inprocess(*QUIET)
    result.assert_outcomes(passed=1)
    assert calls(result) == f"[('list', '{SUITE}'), ('delete', 'kubedrill-left-1'), ('delete', 'kubedrill-left-2')]"


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_dry_run_deletes_nothing_and_says_what_a_real_run_would(
    nested: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    nested.makepyfile(test_uses_cluster="def test_it(cluster):\n    pass\n")
    if how == "environment":
        monkeypatch.setenv("KUBEDRILL_DRY_RUN", "1")
    result = nested.runpytest_inprocess(*QUIET, "-s", *(["--dry-run"] if how == "flag" else []))
    result.assert_outcomes(passed=1)
    # Hosts are told first (no tool copied to them), then the API is only read.
    assert calls(result) == f"[('no host writes',), ('list', '{SUITE}')]", "a dry run may read, never write"
    assert (
        "[dry-run] a real run would first delete the namespaces earlier runs left: kubedrill-left-1, kubedrill-left-2"
        in result.stdout.lines
    )


@pytest.fixture
def restore_drill(nested: pytest.Pytester) -> pytest.Pytester:
    """drills/test_dr.py as it is, markers and all, against the fakes."""
    nested.makepyfile(test_dr=(ROOT / "drills" / "test_dr.py").read_text())
    return nested


def test_minus_m_dr_reports_the_restore_drill_skipped_with_the_reason(restore_drill: pytest.Pytester) -> None:
    result = restore_drill.runpytest_inprocess(*QUIET, "-m", "dr", "-rs")
    result.assert_outcomes(skipped=1)
    reason = (
        "quorum-loss drills run only when selected explicitly: -m quorum_loss, the drill's node id, "
        "or --allow-quorum-loss"
    )
    assert any(line.startswith("SKIPPED [1] test_dr.py:") and line.endswith(reason) for line in result.stdout.lines)
    # the run summary has the line too, with its verdict
    (row,) = [line for line in result.stdout.lines if line.startswith("etcd_restores_from_a_snapshot")]
    assert row.split()[-1] == "skipped"
    assert calls(result) == "[]", "a skipped drill reaches no cluster"


@pytest.mark.parametrize(
    "selection",
    [
        ["-m", "dr", "--allow-quorum-loss"],
        ["-m", "dr and quorum_loss"],
        ["test_dr.py::test_etcd_restores_from_a_snapshot_with_measured_rto_and_rpo"],
    ],
    ids=["allow-quorum-loss", "m-names-quorum_loss", "node-id"],
)
def test_the_restore_drill_runs_when_selected_explicitly(restore_drill: pytest.Pytester, selection: list[str]) -> None:
    result = restore_drill.runpytest_inprocess(*QUIET, *selection)
    result.assert_outcomes(passed=1)
    assert calls(result).endswith("('run', 'etcd-restore.yaml')]")
