"""kubedrill's pytest plugin, registered by the top-level ``conftest.py``: options, markers, fixtures, and the
run summary.

Its options, each with an environment fallback, are ``kubedrill.settings.OPTIONS``; its markers are ``MARKERS``
below (registered here, so the plugin works with --strict-markers outside this repository). README.md lists
both, and tests/unit/test_readme.py keeps it in step.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
import signal
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

from kubedrill import preflight
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.prom import Prometheus
from kubedrill.backends.workloads import Workloads
from kubedrill.chaos import runner
from kubedrill.config import SloProfile, load_profile
from kubedrill.drill import SUITE_LABEL, SUITE_VALUE, DrillRun
from kubedrill.errors import ConfigError, Declined, DrillError, PreconditionFailed, SloViolation
from kubedrill.paths import SCENARIOS
from kubedrill.report import allure_report, summary
from kubedrill.report.summary import DrillRow
from kubedrill.session import drill_environment, injection_gate, set_drill_environment, summary_rows
from kubedrill.settings import OPTIONS, Option, RunSettings, option

DESTRUCTIVE = "destructive"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubedrill", "kubedrill drills")
    for o in OPTIONS:
        if o.flag is None:  # environment (and experiment configuration) only
            continue
        help_text = f"{o.help} [env {o.env_help}]"
        if o.shape == "value":
            group.addoption(o.flag, default=None, help=help_text)
        elif o.shape == "flag":
            group.addoption(o.flag, action="store_true", default=False, help=help_text)
        else:
            group.addoption(o.flag, action="append", default=[], help=help_text)


DRILL_FAMILIES = ("etcd", "control_plane", "network", "nodes", "load_balancer", "dr")
MARKERS = {
    "etcd": "drills that act on etcd members (leader moves, member kills, restores)",
    "control_plane": "drills that kill kube-apiserver, controller-manager, scheduler or etcd instances",
    "network": "drills that partition or degrade the network between control-plane nodes",
    "nodes": "drills that cordon, drain and evict workloads from worker nodes",
    "load_balancer": "drills that take away a load balancer in front of the API servers",
    "dr": "disaster-recovery drills (etcd snapshot and restore)",
    "destructive": "injects a real fault into the cluster; needs an allowed context",
    "quorum_loss": "takes down a majority of etcd members; runs only when selected explicitly (-m quorum_loss)",
    "gameday": "part of the quarterly game-day plan; under `kubedrill gameday` a person confirms each injection",
    "slow": "takes more than a minute",
    "detection": "holds its fault until alerts fire in Prometheus (the rules' for:, a minute or more)",
}


@pytest.hookimpl(tryfirst=True)  # before pytest's junitxml plugin reads the option
def pytest_configure(config: pytest.Config) -> None:
    # Registered here (not in pyproject.toml), so the plugin works with --strict-markers outside this repository.
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    scenario_dirs(config)  # a --scenarios that is not a directory is a usage error before anything runs
    # JUnit XML for CI systems goes next to the Allure results unless asked for elsewhere.
    where = reports_dir(config)
    if where is not None and not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(where / "junit.xml")


def quorum_loss_selected(config: pytest.Config, item: pytest.Item) -> bool:
    """A quorum_loss drill runs only when selected explicitly: ``-m`` names quorum_loss, its node id is on
    the command line, or --allow-quorum-loss (KUBEDRILL_ALLOW_QUORUM_LOSS=1) is given."""
    if _flag(config, option("--allow-quorum-loss")):
        return True
    if "quorum_loss" in (config.getoption("markexpr", default="") or ""):
        return True
    return any(names_item(arg, item.nodeid) for arg in config.args)


def names_item(arg: str, nodeid: str) -> bool:
    """Whether a command-line argument names this test by node id (``path::test``, any path prefix)."""
    path, sep, name = arg.partition("::")
    item_path, _, item_name = nodeid.partition("::")
    return (
        bool(sep)
        and Path(path).name == Path(item_path).name
        and (item_name == name or item_name.startswith((name + "[", name + "::")))
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Quorum guard, first half: drills that take down a majority of etcd members or API servers are
    skipped unless selected explicitly (the second half is in Rollbacks, which refuses such a fault in any
    drill not marked quorum_loss)."""
    skip = pytest.mark.skip(
        reason="quorum-loss drills run only when selected explicitly: -m quorum_loss, the drill's node id, "
        "or --allow-quorum-loss"
    )
    for item in items:
        if item.get_closest_marker("quorum_loss") is not None and not quorum_loss_selected(config, item):
            item.add_marker(skip)


def _opt(config: pytest.Config, o: Option) -> str | None:
    """A value option: the flag, else its environment variable."""
    value = config.getoption(o.dest)
    return value if value else (os.environ.get(o.env) or None)


def scenario_dirs(config: pytest.Config) -> list[Path]:
    """Where ``run_scenario`` looks, in order: the user's directory (--scenarios / KUBEDRILL_SCENARIOS, else
    ``scenarios/`` under pytest's rootdir when there is one), then the scenarios kubedrill ships."""
    given = _opt(config, option("--scenarios"))
    if given is not None and not Path(given).is_dir():
        raise pytest.UsageError(f"--scenarios: expected a directory of scenario files, got {given!r} (not a directory)")
    mine = Path(given) if given else Path(str(config.rootpath)) / "scenarios"
    dirs = [mine] if mine.is_dir() else []
    return dirs + ([SCENARIOS] if all(d.resolve() != SCENARIOS.resolve() for d in dirs) else [])


def find_scenario(name: str, dirs: list[Path]) -> Path:
    """The first ``dirs/<name>`` that exists; a ConfigError naming every place looked in otherwise."""
    for d in dirs:
        if (d / name).is_file():
            return d / name
    raise ConfigError(name, "scenario", f"a file in one of {', '.join(str(d) for d in dirs)}", "not found")


def _flag(config: pytest.Config, o: Option) -> bool:
    """A flag option: given on the command line, or turned on in the environment."""
    return bool(config.getoption(o.dest)) or os.environ.get(o.env, "") in o.env_true


@pytest.fixture(scope="session")
def kubedrill_settings(pytestconfig: pytest.Config) -> RunSettings:
    # The value options; allow_contexts and allow_quorum_loss are set per drill (run_scenario).
    values: dict[str, Any] = {
        o.field: _opt(pytestconfig, o) for o in OPTIONS if o.flag and o.field and o.shape == "value"
    }
    if values["kubeconfig"] is None:
        values["kubeconfig"] = _embedded_kubeconfig()
    return RunSettings(**{k: v for k, v in values.items() if v is not None})  # unset: the field's default


def _embedded_kubeconfig() -> str | None:
    """With no kubeconfig at all, use the embedded cluster's, when it is up (the docker-free default). A
    ~/.kube/config without a single context counts as none: ``kind delete cluster`` leaves one behind."""
    if _has_contexts(Path.home().joinpath(".kube", "config")):
        return None
    from kubedrill.backends.embedded import Layout

    layout = Layout.load()
    return str(layout.admin_kubeconfig) if layout and layout.admin_kubeconfig.exists() else None


def _has_contexts(kubeconfig: Path) -> bool:
    """Whether a kubeconfig names any context; an unreadable one does (the client then says what is wrong)."""
    if not kubeconfig.exists():
        return False
    try:
        doc = yaml.safe_load(kubeconfig.read_text())
    except (OSError, yaml.YAMLError):
        return True
    return not isinstance(doc, dict) or bool(doc.get("contexts"))


@pytest.fixture(scope="session")
def slo_profile(kubedrill_settings: RunSettings) -> SloProfile:
    try:
        kubedrill_settings.prober_settings()  # a bad --probe-rate too
        return load_profile(kubedrill_settings.slo_profile)
    except ConfigError as e:  # before the cluster is touched: one line, exit 2
        pytest.exit(f"kubedrill: {e}", returncode=2)


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config, kubedrill_settings: RunSettings, slo_profile: SloProfile) -> Cluster:
    """The cluster under drill, detected once per session; leftovers of earlier runs are removed (under
    --dry-run only listed)."""
    try:
        found = kubedrill_settings.connect()
        if _flag(pytestconfig, option("--dry-run")):
            found.touch_no_host()
    except DrillError as e:  # bad kubeconfig/inventory/backend, or an API that does not answer
        pytest.exit(f"kubedrill: {e}; nothing was touched", returncode=2)
    kube = found.kube()
    try:
        w = Workloads(kube)
        leftovers = w.namespaces(f"{SUITE_LABEL}={SUITE_VALUE}")
        # Cleaning up is a write: only where destructive drills may run (the guard refuses them elsewhere),
        # and never under --dry-run, which touches nothing: it says what a real run would delete.
        allowed = preflight.context_allowed(
            found.context, preflight.allowed_contexts(user_allowed_contexts(pytestconfig))
        )
        if allowed and leftovers and _flag(pytestconfig, option("--dry-run")):
            print(f"\n[dry-run] a real run would first delete the namespaces earlier runs left: {', '.join(leftovers)}")
        elif allowed:
            for ns in leftovers:
                w.delete_namespace(ns)
    except DrillError as e:
        pytest.exit(f"kubedrill: the API of {found.server} does not answer: {e}", returncode=2)
    finally:
        kube.close()
    if found.prometheus_url:
        prom = Prometheus(found.prometheus_url, timeout_s=3)
        try:
            if not prom.ready():
                pytest.exit(
                    f"kubedrill: Prometheus at {found.prometheus_url} is not reachable or not ready; "
                    "check --prometheus-url / KUBEDRILL_PROMETHEUS_URL (nothing was touched)",
                    returncode=2,
                )
        finally:
            prom.close()
    return found


def user_allowed_contexts(config: pytest.Config) -> list[str]:
    """Context patterns the user allowed: --allow-context (repeatable) and KUBEDRILL_ALLOW_CONTEXT."""
    o = option("--allow-context")
    return [*(config.getoption(o.dest) or []), *os.environ.get(o.env, "").split(",")]


@pytest.fixture
def destructive_guard(request: pytest.FixtureRequest, cluster: Cluster) -> None:
    """Destructive drills run only against an allowed context; the refusal touches nothing."""
    if request.node.get_closest_marker(DESTRUCTIVE) is None:
        return
    refusal = preflight.context_refusal(
        cluster.context, cluster.server, preflight.allowed_contexts(user_allowed_contexts(request.config))
    )
    if refusal:
        pytest.fail(f"PreconditionFailed: {refusal}", pytrace=False)


@pytest.fixture
def require_control_planes(cluster: Cluster) -> Callable[[int], None]:
    """Skip, saying why, when the cluster has too few control planes or no node access."""

    def require(n: int) -> None:
        if not cluster.node_level:
            pytest.skip(cluster.missing or f"backend {cluster.backend} has no node access")
        if len(cluster.control_planes) < n:
            pytest.skip(
                f"needs ≥ {n} control-plane nodes (etcd members), the cluster has {len(cluster.control_planes)}: "
                "with a single member there is no follower to take over"
            )

    return require


@pytest.fixture
def require_kubelets(cluster: Cluster) -> Callable[[], None]:
    """Skip, saying why, where kubedrill cannot stop a worker's kubelet (the node-lost drills)."""

    def require() -> None:
        if cluster.kubelets is None:
            pytest.skip(
                f"backend {cluster.backend}: kubedrill cannot reach the workers' kubelets here "
                "(the embedded cluster and kind can; over ssh, list the workers under the inventory's workers)"
            )

    return require


@pytest.fixture
def require_vip(cluster: Cluster) -> Callable[[], None]:
    """Skip, saying why, unless the API is reached through a VIP kubedrill can fail over (the lb-lost drill)."""

    def require() -> None:
        lbs = cluster.load_balancers
        if lbs is None:
            pytest.skip(f"backend {cluster.backend}: kubedrill cannot stop this cluster's load balancer")
        if lbs.vip is None:
            pytest.skip(
                f"the API is behind {lbs.describe()}. {lbs.vip_shape}; losing the single HAProxy is the drill's "
                "known-bad twin (tests/integration/test_load_balancer.py)"
            )

    return require


@pytest.fixture
def require_pod_network(cluster: Cluster) -> Callable[[], None]:
    """Skip, saying why, where pods have no network: the embedded cluster's pods are KWOK's, never run."""

    def require() -> None:
        if cluster.backend == "local":
            pytest.skip(
                "the embedded cluster's pods are KWOK's: no network, and no CNI to enforce NetworkPolicy. "
                "Run on kind (make kind) or a real cluster"
            )

    return require


@pytest.fixture
def run_scenario(
    request: pytest.FixtureRequest, kubedrill_settings: RunSettings, cluster: Cluster, destructive_guard: None
) -> Callable[..., DrillRun]:
    """Run the scenario ``name`` (the user's scenarios/ first, then kubedrill's) through chaoslib (or, with
    --dry-run, print its plan and skip)."""

    def run(name: str) -> DrillRun:
        path = find_scenario(name, scenario_dirs(request.config))
        experiment = runner.load(path)
        if _flag(request.config, option("--dry-run")):
            from kubedrill.chaos import plans

            text = plans.render(experiment, cluster)
            print(f"\n[dry-run] {request.node.nodeid}\n{text}")
            allure_report.attach_text("dry-run plan", text)
            pytest.skip("dry run: plan printed, nothing touched")
        journal_dir = Path(str(request.config.rootpath)) / "reports" / "journals"
        # Only a drill marked quorum_loss (and so selected explicitly, or it would have been skipped) may
        # take down a majority; any other drill that tries is refused by the quorum guard.
        quorum_loss = request.node.get_closest_marker("quorum_loss") is not None
        settings = dataclasses.replace(
            kubedrill_settings,
            allow_quorum_loss=quorum_loss,
            allow_contexts=tuple(p for p in user_allowed_contexts(request.config) if p.strip()),
        )
        try:
            gate = injection_gate(request.config)  # a game day's: a person confirms each injection
            return runner.run(path, settings, journal_dir, on_finished=lambda d: _record(request, d), gate=gate)
        except Declined as e:  # a person said no at the game-day gate: nothing was injected
            pytest.skip(f"declined at the game-day gate: {e}")

    return run


# ---------------------------------------------------------------- the run summary


def reports_dir(config: pytest.Config) -> Path | None:
    """Where the report lives: the parent of --alluredir (``reports/`` for ``make drill``), if given."""
    alluredir = config.getoption("allure_report_dir", default=None)
    return Path(alluredir).resolve().parent if alluredir else None


def _record(request: pytest.FixtureRequest, drill: DrillRun) -> None:
    """Keep the drill's figures for the summary, and attach its trend across earlier runs."""
    row = drill.summary_row(request.node.nodeid)
    summary_rows(request.config)[row.nodeid] = row
    where = reports_dir(request.config)
    if where is None:
        return
    history = [*summary.load_history(summary.history_path(where)), {"run": "this run", **dataclasses.asdict(row)}]
    png = summary.trends_png(history, [row.drill], f"{row.drill}: key figures across runs")
    if png is not None:
        allure_report.attach_png("trend across runs.png", png)


def verdict_of(outcome: str, exc: BaseException | None) -> tuple[str, str]:
    """pytest's outcome and exception → the summary's verdict and reason (pure)."""
    if outcome == "passed":
        return "passed", ""
    if outcome == "skipped":
        return "skipped", str(exc or "")[:300]
    text = str(exc or "").strip().splitlines()[0][:300] if exc else ""
    if isinstance(exc, SloViolation):
        return "SLO violated", text
    if isinstance(exc, PreconditionFailed) or "PreconditionFailed" in text:
        return "not run", text
    return "broken", f"{type(exc).__name__}: {text}" if exc else "broken"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    rows = summary_rows(item.config)
    row = rows.get(item.nodeid)
    if row is None and not report.passed and any(item.get_closest_marker(m) for m in DRILL_FAMILIES):
        # A drill that never reached its experiment (skipped, refused by a guard) still has a line.
        row = rows[item.nodeid] = DrillRow(nodeid=item.nodeid, drill=item.name.removeprefix("test_"), title=item.name)
    if row is not None and report.when == "call" and report.passed:
        # A passing test keeps the drill's own verdict: a project test may expect the drill to fail.
        row.verdict = "passed" if row.verdict == "unknown" else row.verdict
    elif row is not None and not report.passed:
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, pytest.skip.Exception):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(exc)
            row.verdict, row.reason = "skipped", str(reason).removeprefix("Skipped: ")[:300]
        else:
            row.verdict, row.reason = verdict_of(report.outcome, exc)
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = list(summary_rows(config).values())
    if not rows:
        return
    terminalreporter.section("kubedrill run summary")
    # CI logs are not terminals: never squeeze the table below 160 columns there.
    terminalreporter.write_line(summary.text_table(rows, width=max(terminalreporter._tw.fullwidth, 160)))
    terminalreporter.write_line("")
    for line in summary.score_lines(rows):
        terminalreporter.write_line(line)
    where = reports_dir(config)
    if where is not None:
        terminalreporter.write_line(f"\nsummary: {where / 'summary.md'}; history: {summary.history_path(where)}")


# ---------------------------------------------------------------- session hooks


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt("SIGTERM")


def pytest_sessionstart(session: pytest.Session) -> None:
    # SIGTERM must unwind like Ctrl-C so every revert in a finally block runs.
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    alluredir = session.config.getoption("allure_report_dir", default=None)
    if not alluredir:
        return
    results = Path(alluredir)
    allure_report.write_categories(results)
    info = drill_environment(session.config)
    if info:
        allure_report.write_environment(results, info)
    rows = list(summary_rows(session.config).values())
    where = reports_dir(session.config)
    if not rows or where is None:
        return
    history_file = summary.history_path(where)
    summary.append_history(history_file, _run_id(), rows)
    title = f"kubedrill run summary ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)"
    history = summary.load_history(history_file)
    trend = summary.trends_png(
        history, list(dict.fromkeys(r.drill for r in rows)), "key figures across runs", with_score=True
    )
    trend_b64 = base64.b64encode(trend).decode() if trend else ""
    text = summary.markdown(rows, title, info)
    page = summary.html_page(rows, title, info, trend_b64)
    (where / "summary.md").write_text(text)
    (where / "summary.html").write_text(page)
    allure_report.write_run_summary(results, page, text, trend)
    allure_report.write_perf(results, summary.perf_metrics(rows))
    summary.save(results, rows, title, info, trend_b64)  # `kubedrill report` makes it the first page


def _run_id() -> str:
    """A CI run's id when there is one (GitHub Actions), else the time."""
    gh = os.environ.get("GITHUB_RUN_ID")
    if gh:  # a re-run of the same workflow run is a run of its own
        return f"gh-{gh}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def describe_environment(cluster: Cluster, profile: SloProfile) -> dict[str, str]:
    info = {
        "backend": cluster.backend,
        "context": cluster.context,
        "api.server": cluster.server,
        "control_plane.nodes": str(len(cluster.control_planes)),
        "slo.profile": profile.source,
    }
    kube = cluster.kube()
    try:
        info["kubernetes.version"] = kube.server_version()
        nodes = kube.nodes()
        info["nodes.total"] = str(len(nodes))
        info["nodes.ready"] = str(sum(n.ready for n in nodes))
    except DrillError as e:
        info["kubernetes.version"] = f"unknown ({e})"
    finally:
        kube.close()
    if cluster.etcd is not None:
        try:  # a dry run never puts etcdctl on a host that lacks it: then its version is not known
            result = cluster.etcd.run(["version"], check=False)
            info["etcdctl.version"] = result.stdout.splitlines()[0] if result.ok and result.stdout else "unknown"
        except DrillError as e:
            info["etcdctl.version"] = f"unknown ({e})"
        info["etcd.members"] = str(len(cluster.etcd_endpoint_of))
    if cluster.prometheus_url:
        info["prometheus.url"] = cluster.prometheus_url
    return info


@pytest.fixture(scope="session", autouse=True)
def _record_environment(request: pytest.FixtureRequest) -> None:
    if not any(item.get_closest_marker(DESTRUCTIVE) for item in request.session.items):
        return
    try:
        c: Cluster = request.getfixturevalue("cluster")
        p: SloProfile = request.getfixturevalue("slo_profile")
    except pytest.skip.Exception:
        return
    set_drill_environment(request.config, describe_environment(c, p))
