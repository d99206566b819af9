"""ci/: each file checked by the tool that owns its format, then for the facts the nightly drill run needs.

- GitHub workflows: SchemaStore's ``github-workflows`` schema, as vendored by check-jsonschema (pinned dev
  dependency), plus its rule that every job sets ``timeout-minutes``;
- the kind config: kind's own Go types at the pinned kind version (``gobuild/kind/validateconfig``, built
  here with Go against the committed go.sum), strict, as ``kind create cluster --config`` reads it;
- the Prometheus and kube-state-metrics manifests: the official Kubernetes client's models (generated from
  Kubernetes' OpenAPI), which drop any field Kubernetes does not define;
- Prometheus' configuration and rules: ``promtool`` (Debian's prometheus package, which ``make deps``
  installs);
- then what the drills depend on: 3 control planes + 3 workers on Kubernetes 1.34, Prometheus reachable on
  the runner's 127.0.0.1:19090, every etcd member / API server / kube-state-metrics scraped every 2 s with
  kubedrill's alert rules;
- the workflows against what they run: pytest's and the CLI's own parsers, the Makefile (``make drill``'s
  reports and quorum-guard settings, its targets and virtualenv), the plugin's report and history paths;
  cron, shell variables and untrusted input checked as GitHub and bash would see them;
- ci/README.md against ci/: every file described, every file cited present, the actions' versions listed.

A negative case next to each validator shows it can fail.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubedrill import cli
from kubedrill.local import build, kind, nodeimage
from kubedrill.report import summary

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
CI_README = (CI / "README.md").read_text()
MAKEFILE = ROOT / "Makefile"
KIND_CONFIG = CI / "kind-config.yaml"
PROMETHEUS_DIR = CI / "prometheus"
NIGHTLY = CI / "workflows" / "nightly-kind.yaml"
EMBEDDED = CI / "workflows" / "embedded.yaml"
WORKFLOWS = sorted((CI / "workflows").glob("*.yaml"))
RULES = ROOT / "src" / "kubedrill" / "local" / "rules.yml"
KIND_GROUP = build.load_groups(include_on_demand=True)["kind"]

PINNED_NODE_IMAGE = re.compile(r"^kindest/node:v1\.34\.\d+@sha256:[0-9a-f]{64}$")


# ---------------------------------------------------------------- helpers


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with one of its built-in schemas (vendored: no network)."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load_workflow(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True; GitHub reads it as "on".
    if True in doc:
        doc["on"] = doc.pop(True)
    return dict(doc)


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(PROMETHEUS_DIR.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def manifest(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name} in {PROMETHEUS_DIR}, found {len(found)}"
    return found[0]


def prometheus_config() -> dict[str, Any]:
    return dict(yaml.safe_load(manifest("ConfigMap", "prometheus-config")["data"]["prometheus.yml"]))


def scrape_job(name: str) -> dict[str, Any]:
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    assert name in jobs, f"expected a scrape job {name!r}, found {sorted(jobs)}"
    return dict(jobs[name])


# ---------------------------------------------------------------- GitHub workflows


def make_variables() -> dict[str, str]:
    """The Makefile's variables as ``make`` sets them with nothing overridden (``?=``, ``:=``, ``=``)."""
    found = re.findall(r"^([A-Z_]+)\s*(?:\?=|:=|=)[ \t]*(.*)$", MAKEFILE.read_text(), re.MULTILINE)
    return dict(found)


def make_expand(text: str) -> str:
    variables = make_variables()
    for _ in range(5):  # variables made of variables
        text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)
    return text


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", MAKEFILE.read_text(), re.MULTILINE))


def make_recipe(target: str) -> str:
    """``target``'s recipe, continuation lines joined, variables expanded."""
    text = MAKEFILE.read_text()
    m = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert m, f"the Makefile has no recipe for {target}"
    return make_expand(m.group(1).replace("\\\n", " "))


def step_env(workflow: dict[str, Any], job: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    return {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}


def shell_expand(text: str, env: dict[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` from ``env``; a GitHub expression (``${{ … }}``) is empty here, as an unset
    input is."""
    env = {k: re.sub(r"\$\{\{.*?\}\}", "", str(v)) for k, v in env.items()}
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda m: env.get(m.group(1), m.group(0)), text)


def run_commands(script: str) -> list[list[str]]:
    """The simple commands of a step's script (split at ``&&``, ``||``, ``|`` and ``;``)."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||[|;]", line):
            try:
                argv = shlex.split(part, comments=True)
            except ValueError:  # a quote opened on another line: not a command of ours
                continue
            if argv:
                out.append(argv)
    return out


def pytest_args(parser: Any, argv: list[str]) -> dict[str, Any]:
    """What pytest makes of ``argv`` (its own parser: pytest's, kubedrill's, allure's and junitxml's options)."""
    namespace, unknown = parser.parse_known_and_unknown_args(argv)
    assert [a for a in unknown if a.startswith("-")] == [], f"pytest does not know {unknown}: {argv}"
    return vars(namespace)


def nightly_drill_run(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The nightly `pytest drills/` step as pytest parses it, with the workflow's environment."""
    workflow = load_workflow(NIGHTLY)
    found = [
        (job, step, argv)
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for argv in run_commands(step.get("run", ""))
        if argv[0].endswith("pytest") and "drills/" in argv
    ]
    assert len(found) == 1, f"expected one step running pytest drills/, found {len(found)}"
    job, step, argv = found[0]
    env = step_env(workflow, job, step)
    # one word each, as quoted; a variable that expands to nothing is no argument (PYTEST_ARGS, unquoted, unset)
    expanded = [word for word in (shell_expand(arg, env) for arg in argv[1:]) if word]
    return pytest_args(pytestconfig._parser, expanded)


def ci_readme_first_column(header: str) -> list[str]:
    """The first cells of ci/README.md's table whose header row begins ``| header |``."""
    lines = CI_README.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2 :])
    return [row.split("|")[1].strip() for row in rows]


def test_ci_readme_describes_every_file_in_ci() -> None:
    described = {cell.strip("`") for cell in ci_readme_first_column("file")}
    present = {f"{p.name}/" for p in CI.iterdir() if p.is_dir() and p.name != "workflows"}
    present |= {p.name for p in CI.iterdir() if p.is_file() and p.name != "README.md"}
    present |= {f"workflows/{p.name}" for p in WORKFLOWS}
    assert described == present, "ci/README.md's table and ci/ disagree"


# Paths ci/README.md cites that are not in this repository, and why.
NOT_HERE = {
    ".github/workflows/": "where a user copies the workflows to",
    "pkg/apis/config/defaults/image.go": "a file of kind's Go module, where its default node image is",
}


def test_ci_readme_cites_only_files_that_exist() -> None:
    cited = {
        token
        for token in re.findall(r"`([\w./-]+)`", CI_README)
        if token.endswith("/") or re.search(r"\.(md|py|ya?ml|toml|sum|go|json|mjs)$", token) or token.startswith(".")
    }
    assert len(cited) > 10, f"the citation reader lost ci/README.md's files: {sorted(cited)}"
    missing = []
    for token in sorted(cited - set(NOT_HERE)):
        places = [ROOT / token, CI / token, ROOT / "src" / "kubedrill" / "local" / token]
        if "/" not in token.rstrip("/"):  # a bare file name: anywhere in tests/, src/ or ci/
            places += [p for top in ("tests", "src", "ci") for p in (ROOT / top).rglob(token)]
        if not any(p.exists() for p in places):
            missing.append(token)
    assert missing == [], f"ci/README.md cites files that do not exist: {missing}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_validates_against_the_github_workflows_schema(workflow: Path) -> None:
    result = check_jsonschema("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    result = check_jsonschema("custom.github-workflows-require-timeout", workflow)
    assert result.returncode == 0, "every job needs timeout-minutes:\n" + result.stdout + result.stderr


def test_the_workflow_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    workflow = load_workflow(NIGHTLY)
    job = next(iter(workflow["jobs"].values()))
    job["runs_on"] = job.pop("runs-on")  # a misspelt key: the job has no runner
    broken = tmp_path / "nightly-kind.yaml"
    broken.write_text(yaml.safe_dump(workflow))
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0, "a job without runs-on passed the schema check"
    assert "runs" in result.stdout + result.stderr


def test_every_action_is_pinned_to_a_major_version_and_listed_in_ci_readme() -> None:
    used = set()
    for path in WORKFLOWS:
        for step in steps(load_workflow(path)):
            if "uses" in step:
                m = re.fullmatch(r"([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@(v\d+)", step["uses"])
                assert m, f"{path.name}: {step['uses']} is not pinned to a major version"
                used.add(m.groups())
    row = next(line for line in CI_README.splitlines() if line.startswith("| GitHub Actions |"))
    listed = {
        (name if "/" in name else f"actions/{name}", version)
        for name, version in re.findall(r"`([\w./-]+)@(v\d+)`", row)
    }
    assert used == listed, "ci/README.md's pinned versions and the workflows' actions differ"


def cron_field(text: str, low: int, high: int) -> set[int]:
    """One field of a POSIX cron expression (numbers, ``*``, ranges, steps, lists) → the values it matches."""
    values: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if m is None:
            raise ValueError(f"{text!r}: not a cron field")
        start, end = (low, high) if m.group(1) == "*" else (int(m.group(2)), int(m.group(3) or m.group(2)))
        step = int(m.group(4) or 1)
        if not low <= start <= end <= high or step < 1:
            raise ValueError(f"{text!r}: outside {low}-{high}")
        values |= set(range(start, end + 1, step))
    return values


def cron_times_per_day(expression: str) -> int:
    """How many times a day a cron schedule fires, if it fires every day; ValueError otherwise."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r}: expected 5 fields")
    minutes, hours = cron_field(fields[0], 0, 59), cron_field(fields[1], 0, 23)
    days, months, weekdays = cron_field(fields[2], 1, 31), cron_field(fields[3], 1, 12), cron_field(fields[4], 0, 7)
    if len(days) < 31 or len(months) < 12 or not {0, 1, 2, 3, 4, 5, 6} <= weekdays | {0 if 7 in weekdays else 1}:
        raise ValueError(f"{expression!r}: not every day")
    return len(minutes) * len(hours)


def test_the_cron_reader() -> None:
    assert cron_times_per_day("17 2 * * *") == 1
    assert cron_times_per_day("0,30 */6 * * 0-7") == 8
    for bad in ("17 2 * *", "61 2 * * *", "17 24 * * *", "17 2 * * 1-5", "x 2 * * *", "17 2 1 * *"):
        with pytest.raises(ValueError):
            cron_times_per_day(bad)


def test_nightly_runs_once_every_night_and_by_hand() -> None:
    on = load_workflow(NIGHTLY)["on"]
    assert "workflow_dispatch" in on, "a failed night must be re-runnable by hand"
    assert [cron_times_per_day(entry["cron"]) for entry in on["schedule"]] == [1]
    assert set(on) == {"schedule", "workflow_dispatch"}, "the drills break the cluster: never on push"


def test_workflows_run_the_tools_make_installs() -> None:
    """Each step runs a Makefile target that exists, or a tool from the virtualenv the Makefile creates."""
    venv_bin = make_expand("$(VENV)") + "/bin/"
    for path in WORKFLOWS:
        for step in steps(load_workflow(path)):
            for argv in run_commands(step.get("run", "")):
                if argv[0] == "make":
                    assert set(argv[1:]) <= make_targets(), f"{path.name}: {argv}: the Makefile has no such target"
                elif "/bin/" in argv[0] and argv[0].startswith("."):
                    assert argv[0].startswith(venv_bin), f"{path.name}: {argv[0]} is not in the Makefile's {venv_bin}"


def test_every_kubedrill_command_of_the_workflows_is_one_the_cli_takes() -> None:
    seen = 0
    for path in WORKFLOWS:
        for step in steps(load_workflow(path)):
            for argv in run_commands(step.get("run", "")):
                if Path(argv[0]).name == "kubedrill":
                    seen += 1
                    try:
                        cli.parser().parse_args(argv[1:])  # parses only: nothing runs
                    except SystemExit:
                        pytest.fail(f"{path.name}, step {step.get('name')!r}: the CLI does not take {argv}")
    assert seen >= 4


def test_nightly_runs_the_drills_as_make_drill_does_against_the_kind_cluster(pytestconfig: pytest.Config) -> None:
    """Same reports, same quorum-guard setting as ``make drill``; the kind cluster ``kubedrill up --provider kind``
    makes, and its Prometheus."""
    (make_command,) = [argv for argv in run_commands(make_recipe("drill")) if argv[0].endswith("/pytest")]
    made = pytest_args(pytestconfig._parser, make_command[1:])
    defaults = pytest_args(pytestconfig._parser, [])
    nightly = nightly_drill_run(pytestconfig)
    set_by_make = {dest for dest, value in made.items() if value != defaults[dest] and dest != "file_or_dir"}
    assert {"allure_report_dir", "xmlpath", "allow_quorum_loss"} <= set_by_make
    assert {dest: nightly[dest] for dest in set_by_make} == {dest: made[dest] for dest in set_by_make}
    assert nightly["file_or_dir"] == made["file_or_dir"] == ["drills/"]
    assert (nightly["kube_context"], nightly["prometheus_url"]) == (kind.CONTEXT, kind.PROMETHEUS_URL)


def test_nightly_always_renders_uploads_and_publishes_the_reports_the_drills_wrote(
    pytestconfig: pytest.Config,
) -> None:
    run = nightly_drill_run(pytestconfig)
    all_steps = steps(load_workflow(NIGHTLY))
    (report,) = [
        s
        for s in all_steps
        if any(Path(a[0]).name == "kubedrill" and a[1] == "report" for a in run_commands(s.get("run", "")))
    ]
    (argv,) = [a for a in run_commands(report["run"]) if a[1] == "report"]
    rendered = cli.parser().parse_args(argv[1:])
    assert Path(rendered.results) == Path(run["allure_report_dir"]), "kubedrill report reads what pytest wrote"
    (upload,) = [s for s in all_steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    kept = Path(upload["with"]["path"])
    for path in (run["allure_report_dir"], run["xmlpath"], rendered.output):
        assert Path(path).is_relative_to(kept), f"{path} is not in the uploaded {kept}"
    (publish,) = [s for s in all_steps if "publish-unit-test-result-action" in s.get("uses", "")]
    assert Path(publish["with"]["files"]) == Path(run["xmlpath"])
    for step in (report, upload, publish):
        # a failed night is the one whose report matters: these run whatever happened before them
        assert step["if"].split(" && ")[0] == "always()", step["name"]


def test_nightly_keeps_the_report_history_the_plugin_writes(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(summary.HISTORY_ENV, raising=False)
    run = nightly_drill_run(pytestconfig)
    history = summary.history_path(Path(run["allure_report_dir"]).parent)  # the plugin's reports_dir
    all_steps = steps(load_workflow(NIGHTLY))
    (restore,) = [
        s for s in all_steps if s.get("uses", "").startswith("actions/cache/restore@") and "history" in s["name"]
    ]
    (save,) = [s for s in all_steps if s.get("uses", "").startswith("actions/cache/save@") and "history" in s["name"]]
    assert history.is_relative_to(Path(restore["with"]["path"])), f"{history} is not in the cached directory"
    assert restore["with"]["path"] == save["with"]["path"], "restore and save must name the same paths"
    assert "github.run_id" in save["with"]["key"], "caches are immutable: one key per run"
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"]), "restore must find what save wrote"
    assert save["if"] == "always()", "a failed night is the one whose history matters most"
    order = [s.get("name") for s in all_steps]
    drills = next(s["name"] for s in all_steps if "drills/" in s.get("run", ""))
    assert order.index(restore["name"]) < order.index(drills) < order.index(save["name"])


def test_every_variable_a_script_uses_is_set() -> None:
    for path in WORKFLOWS:
        workflow = load_workflow(path)
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                script = re.sub(r"\$\{\{.*?\}\}", "", step.get("run", ""))
                used = set(re.findall(r"\$\{?([A-Za-z_]\w*)", script))
                assigned = set(re.findall(r"(?:^|\s)([A-Za-z_]\w*)=", script))
                unset = {
                    v
                    for v in used - assigned - set(step_env(workflow, job, step))
                    if not v.startswith(("GITHUB_", "RUNNER_")) and v not in ("HOME", "PATH")
                }
                assert unset == set(), f"{path.name}, step {step.get('name')!r}: {sorted(unset)} are never set"


def test_no_script_pastes_untrusted_input() -> None:
    """Inputs and event data reach scripts through the environment, never pasted into the script's text, where
    a crafted value would run as shell."""
    for path in WORKFLOWS:
        for step in steps(load_workflow(path)):
            pasted = re.findall(r"\$\{\{([^}]*)\}\}", step.get("run", ""))
            assert [e for e in pasted if re.search(r"inputs\.|github\.event|github\.head_ref", e)] == [], step["name"]


def test_nightly_notifies_on_failure_and_skips_slack_without_a_webhook() -> None:
    workflow = load_workflow(NIGHTLY)
    all_steps = steps(workflow)
    slack = next(s for s in all_steps if "SLACK_WEBHOOK_URL" in s.get("run", ""))
    assert slack["if"] == "failure() && env.SLACK_WEBHOOK_URL != ''"
    assert workflow["jobs"]["drills"]["env"]["SLACK_WEBHOOK_URL"] == "${{ secrets.KUBEDRILL_SLACK_WEBHOOK_URL }}"
    assert "KUBEDRILL_SLACK_WEBHOOK_URL" in CI_README, "ci/README.md names the secret to set"
    issue = next(s for s in all_steps if "gh issue create" in s.get("run", ""))
    assert issue["if"] == "failure()"
    assert workflow["permissions"]["issues"] == "write"
    label = re.search(r"label=(\S+)", issue["run"])
    assert label is not None, "the issue step names its label"
    assert f"`{label.group(1)}`" in CI_README, "ci/README.md names the label a failed night's issue carries"


def test_embedded_workflow_runs_make_test_through_the_ci_script_as_ci_readme_says() -> None:
    workflow = load_workflow(EMBEDDED)
    assert {"push", "pull_request"} <= set(workflow["on"])
    (job,) = workflow["jobs"].values()
    runs = [argv for step in job["steps"] for argv in run_commands(step.get("run", ""))]
    assert ["bash", ".ci/run"] in runs
    ci_run = run_commands((ROOT / ".ci" / "run").read_text())
    assert ["make", "test"] in ci_run, ".ci/run runs `make test`"
    assert "test" in make_targets()
    assert "--privileged" in job["container"]["options"], "the embedded cluster needs network namespaces"
    minutes = re.search(r"`workflows/embedded.yaml` \|[^|]*?(\d+) min timeout", CI_README)
    assert minutes is not None, "ci/README.md gives the embedded workflow's timeout"
    assert int(minutes.group(1)) == job["timeout-minutes"], "ci/README.md's timeout is the workflow's"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert Path(make_expand("$(REPORTS)")) == Path(upload["with"]["path"]), "make test writes its reports there"


# ---------------------------------------------------------------- kind config, through kind's own types


@pytest.fixture(scope="module")
def validateconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build gobuild/kind/validateconfig against the committed go.sum (seconds with a warm Go cache)."""
    if shutil.which("go") is None:
        pytest.fail("Go >= 1.26 is needed to check ci/kind-config.yaml against kind's types (see README)")
    out = tmp_path_factory.mktemp("kind") / "validateconfig"
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -trimpath"}
    result = subprocess.run(
        ["go", "build", "-o", str(out), "./validateconfig"],
        cwd=KIND_GROUP.gomod_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"building the kind config validator failed:\n{result.stderr}"
    return out


def validate(validator: Path, config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(validator), *flags, str(config)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_validator_builds_against_the_pinned_kind_version() -> None:
    gomod = (KIND_GROUP.gomod_dir / "go.mod").read_text()
    assert f"sigs.k8s.io/kind {KIND_GROUP.version}" in gomod
    assert (KIND_GROUP.gomod_dir / "validateconfig" / "main.go").is_file()


def test_kind_config_decodes_strictly_into_kinds_types_with_3_control_planes_and_3_workers(
    validateconfig: Path,
) -> None:
    result = validate(validateconfig, KIND_CONFIG, "-control-planes", "3", "-workers", "3")
    assert result.returncode == 0, result.stderr
    cluster = json.loads(result.stdout)  # the config as kind decoded and defaulted it
    assert cluster["name"] == "kubedrill", "the context must be kind-kubedrill"
    roles = [node["role"] for node in cluster["nodes"]]
    assert roles == ["control-plane"] * 3 + ["worker"] * 3
    images = {node["image"] for node in cluster["nodes"]}
    assert len(images) == 1, f"every node on the same image, got {images}"
    (image,) = images
    assert PINNED_NODE_IMAGE.match(image), f"expected kindest/node:v1.34.x pinned by digest, got {image}"


def test_node_image_is_the_embedded_clusters_kubernetes_minor() -> None:
    kubernetes = build.load_groups()["kubernetes"].version  # v1.34.4
    minor = ".".join(kubernetes.split(".")[:2])
    assert f"kindest/node:{minor}." in KIND_CONFIG.read_text()


def test_prometheus_is_mapped_to_the_runners_port_19090(validateconfig: Path) -> None:
    cluster = json.loads(validate(validateconfig, KIND_CONFIG).stdout)
    first = cluster["nodes"][0]
    assert first["role"] == "control-plane"
    assert first["extraPortMappings"] == [
        {"containerPort": 30090, "hostPort": 19090, "listenAddress": "127.0.0.1", "protocol": "TCP"}
    ]
    service = manifest("Service", "prometheus")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30090, "the NodePort kind maps to host port 19090"
    # Prometheus runs on the node carrying the mapping (and a control plane: drains never evict it).
    selector = manifest("Deployment", "prometheus")["spec"]["template"]["spec"]["nodeSelector"]
    assert selector.items() <= first["labels"].items()


def test_control_plane_metrics_are_reachable_for_prometheus(validateconfig: Path) -> None:
    cluster = json.loads(validate(validateconfig, KIND_CONFIG).stdout)
    patches = {p["kind"]: p for p in (yaml.safe_load(text) for text in cluster["kubeadmConfigPatches"])}
    assert set(patches) == {"ClusterConfiguration", "KubeletConfiguration"}
    patch = patches["ClusterConfiguration"]
    assert patch["etcd"]["local"]["extraArgs"]["listen-metrics-urls"] == "http://0.0.0.0:2381"
    assert patch["controllerManager"]["extraArgs"]["bind-address"] == "0.0.0.0"
    assert patch["scheduler"]["extraArgs"]["bind-address"] == "0.0.0.0"


def test_kubelets_back_off_at_most_10_s_so_repeated_kills_measure_failover_not_backoff(validateconfig: Path) -> None:
    cluster = json.loads(validate(validateconfig, KIND_CONFIG).stdout)
    patches = {p["kind"]: p for p in (yaml.safe_load(text) for text in cluster["kubeadmConfigPatches"])}
    kubelet = patches["KubeletConfiguration"]
    assert kubelet["featureGates"] == {"KubeletCrashLoopBackOffMax": True}
    assert kubelet["crashLoopBackOff"] == {"maxContainerRestartPeriod": "10s"}


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("    extraPortMappings:\n", "    extraPortMapping:\n", "field extraPortMapping not found"),
        ("        hostPort: 19090\n", "        hostport: 19090\n", "field hostport not found"),
        ("        protocol: TCP\n", "        protocol: TPC\n", 'Unknown PortMappingProtocol: "TPC"'),
        ("apiVersion: kind.x-k8s.io/v1alpha4\n", "apiVersion: kind.x-k8s.io/v1alpha3\n", "apiVersion: expected"),
        ("  - role: worker\n", "  - role: workr\n", '"workr" is not a valid node role'),
    ],
    ids=["misspelt-node-field", "misspelt-port-field", "bad-protocol", "old-api-version", "bad-role"],
)
def test_a_broken_kind_config_is_rejected(validateconfig: Path, tmp_path: Path, old: str, new: str, error: str) -> None:
    text = KIND_CONFIG.read_text()
    assert old in text
    broken = tmp_path / "kind-config.yaml"
    broken.write_text(text.replace(old, new, 1))
    result = validate(validateconfig, broken)
    assert result.returncode == 1, f"{new.strip()!r} was accepted"
    assert error in result.stderr


def test_a_kind_config_of_another_shape_fails_the_role_count(validateconfig: Path) -> None:
    result = validate(validateconfig, KIND_CONFIG, "-control-planes", "3", "-workers", "2")
    assert result.returncode == 1
    assert "expected 2 worker nodes, got 3" in result.stderr


# ---------------------------------------------------------------- Prometheus and kube-state-metrics


def test_manifests_are_well_formed_and_in_one_namespace() -> None:
    docs = manifests()
    assert docs[0]["kind"] == "Namespace", "kubectl apply -f applies files in name order: the namespace first"
    namespace = docs[0]["metadata"]["name"]
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys()
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == namespace, f"{doc['kind']}/{doc['metadata']['name']}"


def roundtrip(doc: dict[str, Any]) -> Any:
    """``doc`` through the official client's model of its kind (generated from Kubernetes' OpenAPI) and back.
    The models keep only the fields Kubernetes defines: a misspelt field comes back missing."""
    from kubernetes.client import ApiClient

    class _Response:
        data = json.dumps(doc)

    assert doc["apiVersion"].split("/")[-1] == "v1", doc["apiVersion"]
    api = ApiClient()
    return api.sanitize_for_serialization(api.deserialize(_Response(), f"V1{doc['kind']}"))


def test_manifests_use_only_fields_kubernetes_defines() -> None:
    for doc in manifests():
        assert roundtrip(doc) == doc, f"{doc['kind']}/{doc['metadata']['name']} has fields Kubernetes does not define"


def test_a_misspelt_manifest_field_is_caught() -> None:
    deployment = manifest("Deployment", "prometheus")
    pod = deployment["spec"]["template"]["spec"]
    pod["nodeSelecter"] = pod.pop("nodeSelector")
    assert roundtrip(deployment) != deployment


def test_images_are_pinned() -> None:
    images = {
        c["name"]: c["image"]
        for d in manifests()
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert re.fullmatch(r"quay\.io/prometheus/prometheus:v3\.\d+\.\d+", images["prometheus"])
    ksm = build.load_groups()["kube-state-metrics"].version  # the embedded cluster's, v2.18.0
    assert images["kube-state-metrics"] == f"registry.k8s.io/kube-state-metrics/kube-state-metrics:{ksm}"


def test_deployments_select_their_own_pods() -> None:
    for doc in manifests():
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            assert selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()
            services = [
                d for d in manifests() if d["kind"] == "Service" and d["metadata"]["name"] == doc["metadata"]["name"]
            ]
            assert services, f"no Service for {doc['metadata']['name']}"
            assert services[0]["spec"]["selector"] == selector


def test_every_etcd_member_api_server_and_kube_state_metrics_is_scraped_every_2_s() -> None:
    config = prometheus_config()
    assert config["global"]["scrape_interval"] == "2s"
    assert config["global"]["scrape_timeout"] == "2s"
    assert config["global"]["evaluation_interval"] == "2s"
    for name, port in (
        ("etcd", 2381),
        ("apiserver", 6443),
        ("kube-controller-manager", 10257),
        ("kube-scheduler", 10259),
    ):
        job = scrape_job(name)
        assert "scrape_interval" not in job, f"{name}: the global 2 s applies"
        assert job["kubernetes_sd_configs"] == [{"role": "node"}], f"{name}: one target per node"
        keep, address, node = job["relabel_configs"]
        assert keep["action"] == "keep"
        assert keep["source_labels"] == ["__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_control_plane"]
        assert address == {
            "source_labels": ["__meta_kubernetes_node_address_InternalIP"],
            "target_label": "__address__",
            "replacement": f"${{1}}:{port}",
        }
        assert node["target_label"] == "node", "the embedded cluster labels each member with its node"
    assert scrape_job("apiserver")["scheme"] == "https"
    assert scrape_job("kube-state-metrics")["static_configs"] == [
        {"targets": ["kube-state-metrics.monitoring.svc:8080"]}
    ]


def test_kubedrill_up_waits_for_exactly_these_jobs_on_this_cluster(validateconfig: Path) -> None:
    assert set(kind.EXPECTED_JOBS) == {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    cluster = json.loads(validate(validateconfig, KIND_CONFIG).stdout)
    host_port = cluster["nodes"][0]["extraPortMappings"][0]["hostPort"]
    assert (f"kind-{cluster['name']}", f"http://127.0.0.1:{host_port}") == (kind.CONTEXT, kind.PROMETHEUS_URL)
    assert [d["metadata"]["name"] for d in manifests() if d["kind"] == "Deployment"] == list(kind.DEPLOYMENTS)


def test_alert_rules_are_the_embedded_clusters() -> None:
    rules = manifest("ConfigMap", "prometheus-rules")["data"]
    assert list(rules.values()) == [RULES.read_text()], (
        "ci/prometheus/21-prometheus-rules.yaml differs from src/kubedrill/local/rules.yml: paste rules.yml into it"
    )


def test_prometheus_mounts_its_config_and_rules_where_the_config_says() -> None:
    spec = manifest("Deployment", "prometheus")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert f"--config.file={mounts['config']}/prometheus.yml" in container["args"]
    assert volumes["config"]["configMap"]["name"] == "prometheus-config"
    assert volumes["rules"]["configMap"]["name"] == "prometheus-rules"
    (rule_glob,) = prometheus_config()["rule_files"]
    (rules_key,) = manifest("ConfigMap", "prometheus-rules")["data"]
    assert Path(rule_glob).parent == Path(mounts["rules"])
    assert Path(rules_key).match(Path(rule_glob).name)
    # Prometheus reads its service-account token to scrape the API servers.
    assert spec["serviceAccountName"] == "prometheus"


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool comes with Debian's prometheus package, which `make deps` installs"
)


@needs_promtool
def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    (name, text), *_ = manifest("ConfigMap", "prometheus-rules")["data"].items()
    (tmp_path / name).write_text(text)
    result = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(tmp_path / name)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_scrape_configuration(tmp_path: Path) -> None:
    """Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects
    kubernetes_sd_configs as unknown: the test above pins those blocks to exactly [{role: node}], and here
    each is swapped for a static target so promtool checks everything else (durations, scrape timeout within
    the interval, relabelling, TLS and authorization settings)."""
    config = prometheus_config()
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["192.0.2.1:1"]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [str(PROMTOOL), "check", "config", "--syntax-only", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # and it does fail a bad one
    config["global"]["scrape_timeout"] = "5s"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [str(PROMTOOL), "check", "config", "--syntax-only", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "scrape timeout greater than scrape interval" in result.stdout + result.stderr


def test_every_image_the_cluster_runs_is_one_the_built_node_image_preloads() -> None:
    """Where no registry answers, the node image built here must hold every image ci/ names, or a pod hangs."""
    cni = [doc for path in sorted((CI / "cni").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
    documents = [*manifests(), *cni]
    named = {
        c["image"]
        for d in documents
        if d and d["kind"] in ("Deployment", "DaemonSet")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert named == set(nodeimage.EXTRA_IMAGES)


def test_the_extra_images_come_from_build_groups_at_the_images_versions() -> None:
    groups = build.load_groups(include_on_demand=True)
    for image, (group, binary, _path, _change) in nodeimage.EXTRA_IMAGES.items():
        assert binary in groups[group].binaries, f"{image}: group {group} builds no {binary}"
        # Prometheus' Go module numbers release 3.x.y as v0.3xx.y.
        module_version = re.sub(r"^v0\.3(\d\d)\.", lambda m: f"v3.{int(m.group(1))}.", groups[group].version)
        assert image.rsplit(":", 1)[1] == module_version, f"{image} built from {group} {groups[group].version}"
