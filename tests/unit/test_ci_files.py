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
  kubedrill's alert rules, and a workflow that runs ``pytest drills/`` with JUnit output and always uploads
  the reports.

A negative case next to each validator shows it can fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubedrill.local import build, kind, nodeimage

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
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


def test_there_are_the_two_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["embedded.yaml", "nightly-kind.yaml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_validates_against_the_github_workflows_schema(workflow: Path) -> None:
    result = check_jsonschema("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    result = check_jsonschema("custom.github-workflows-require-timeout", workflow)
    assert result.returncode == 0, "every job needs timeout-minutes:\n" + result.stdout + result.stderr


def test_the_workflow_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "nightly-kind.yaml"
    text = NIGHTLY.read_text()
    assert "    runs-on: ubuntu-24.04\n" in text
    broken.write_text(text.replace("    runs-on: ubuntu-24.04\n", "    runs_on: ubuntu-24.04\n"))
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0, "a job without runs-on passed the schema check"
    assert "runs" in result.stdout + result.stderr


def test_every_action_is_pinned_to_a_major_version() -> None:
    for path in WORKFLOWS:
        for step in steps(load_workflow(path)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), f"{path.name}: {step['uses']}"


def test_nightly_runs_on_a_schedule_and_by_hand() -> None:
    on = load_workflow(NIGHTLY)["on"]
    assert set(on) == {"schedule", "workflow_dispatch"}
    assert on["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"], "expected a daily schedule"


def test_nightly_creates_the_kind_cluster_and_runs_every_drill_with_junit_output() -> None:
    workflow = load_workflow(NIGHTLY)
    runs = [step.get("run", "") for step in steps(workflow)]
    assert any(".venv/bin/kubedrill up --provider kind" in run for run in runs)
    drills = [run for run in runs if "pytest drills/" in run]
    assert len(drills) == 1, "expected one step running pytest drills/"
    argv = drills[0].split()
    for flag in ("--allow-quorum-loss", "--junitxml", "--alluredir", "--kube-context", "--prometheus-url"):
        assert flag in argv, f"pytest drills/ runs without {flag}"
    assert argv[argv.index("--junitxml") + 1] == "reports/junit.xml"
    assert workflow["env"]["KUBE_CONTEXT"] == "kind-kubedrill"
    assert workflow["env"]["PROMETHEUS_URL"] == "http://127.0.0.1:19090"


def test_nightly_always_renders_uploads_and_publishes_the_reports() -> None:
    all_steps = steps(load_workflow(NIGHTLY))
    report = [s for s in all_steps if "kubedrill report" in s.get("run", "")]
    assert report, "expected a kubedrill report step"
    assert report[0]["if"] == "always()"
    upload = [s for s in all_steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(upload) == 1
    assert upload[0]["if"] == "always()"
    assert upload[0]["with"]["path"] == "reports/"
    publish = [s for s in all_steps if "publish-unit-test-result-action" in s.get("uses", "")]
    assert publish, "expected the JUnit results to be published"
    assert publish[0]["if"].startswith("always()")
    assert publish[0]["with"]["files"] == "reports/junit.xml"


def test_nightly_keeps_the_report_history_across_runs() -> None:
    all_steps = steps(load_workflow(NIGHTLY))
    restore = next(
        s for s in all_steps if s.get("uses", "").startswith("actions/cache/restore@") and "history" in s["name"]
    )
    save = next(s for s in all_steps if s.get("uses", "").startswith("actions/cache/save@") and "history" in s["name"])
    assert "reports/history" in restore["with"]["path"]
    assert restore["with"]["path"] == save["with"]["path"], "restore and save must name the same paths"
    assert "github.run_id" in save["with"]["key"], "caches are immutable: one key per run"
    assert restore["with"]["restore-keys"] == "kubedrill-history-"
    assert save["if"] == "always()", "a failed night is the one whose history matters most"


def test_nightly_notifies_on_failure_and_skips_slack_without_a_webhook() -> None:
    workflow = load_workflow(NIGHTLY)
    all_steps = steps(workflow)
    slack = next(s for s in all_steps if "SLACK_WEBHOOK_URL" in s.get("run", ""))
    assert slack["if"] == "failure() && env.SLACK_WEBHOOK_URL != ''"
    assert workflow["jobs"]["drills"]["env"]["SLACK_WEBHOOK_URL"].startswith("${{ secrets.")
    issue = next(s for s in all_steps if "gh issue create" in s.get("run", ""))
    assert issue["if"] == "failure()"
    assert workflow["permissions"]["issues"] == "write"


def test_embedded_workflow_runs_the_projects_ci_script_within_90_minutes() -> None:
    workflow = load_workflow(EMBEDDED)
    assert {"push", "pull_request"} <= set(workflow["on"])
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert job["timeout-minutes"] == 90
    assert any(step.get("run") == "bash .ci/run" for step in job["steps"])
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"


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
