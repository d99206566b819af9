"""Another extension's activities in a scenario (chaostoolkit-kubernetes's): its probes become the drill's
checks, its failed actions stay errors, and kubedrill's control gives its arguments the drill's namespace
and canary and its client the drill's cluster. The real run is drills/test_control_plane.py's
cp-scheduler-outage-pods against the embedded cluster."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import chaosk8s
import pytest
from chaoslib import substitute
from kubernetes.config import kube_config

from kubedrill.chaos import control, runner
from kubedrill.chaos.runs import RUNS_KEY, Runs


def entry(kind: str, module: str, func: str, status: str, **kw: Any) -> dict[str, Any]:
    activity = {"type": kind, "name": f"{func}-step", "provider": {"type": "python", "module": module, "func": func}}
    if "arguments" in kw:
        activity["provider"]["arguments"] = kw.pop("arguments")
    return {"activity": activity, "status": status, **kw}


JOURNAL = {
    "run": [
        entry("action", "kubedrill.chaos.activities", "start_drill", "succeeded"),
        entry("action", "chaosk8s.pod.actions", "terminate_pods", "succeeded", output=None),
        entry(
            "probe",
            "chaosk8s.pod.probes",
            "pods_in_phase",
            "failed",
            arguments={"phase": "Pending", "ns": "kubedrill-x"},
            # as chaoslib journals it: its own ActivityFailed around the one the probe raised
            exception=[
                "Traceback (most recent call last):\n",
                '  File "chaosk8s/pod/probes.py", line 136, in pods_in_phase\n',
                "chaoslib.exceptions.ActivityFailed: pod 'app=kubedrill-canary' is in phase 'Running' but should be "
                "'Pending'\n",
                "\nThe above exception was the direct cause of the following exception:\n\n",
                "Traceback (most recent call last):\n",
                "chaoslib.exceptions.ActivityFailed: chaoslib.exceptions.ActivityFailed: pod 'app=kubedrill-canary' is "
                "in phase 'Running' but should be 'Pending'\n",
            ],
        ),
        entry("probe", "chaosk8s.deployment.probes", "deployment_available_and_healthy", "succeeded", output=True),
        entry("probe", "kubedrill.chaos.activities", "judge_fault_window", "succeeded", output={}),
    ]
}


def test_each_extension_probe_is_a_check_in_its_own_words() -> None:
    failed, held = runner.extension_checks(JOURNAL)
    assert failed.name == "pods_in_phase-step (chaosk8s.pod.probes.pods_in_phase)"
    assert not failed.ok
    assert failed.observed == "failed: pod 'app=kubedrill-canary' is in phase 'Running' but should be 'Pending'"
    assert failed.hint == 'the probe\'s arguments: {"phase": "Pending", "ns": "kubedrill-x"}'
    assert failed.impact == "users"
    assert (held.ok, held.observed) == (True, "held (returned True)")


def test_a_failed_extension_probe_is_a_finding_but_a_failed_action_is_still_an_error() -> None:
    assert runner._failed_actions(JOURNAL) == []
    broken = {"run": [*JOURNAL["run"], entry("action", "chaosk8s.pod.actions", "terminate_pods", "failed",
                                             exception=["ActivityFailed: no pods"])]}  # fmt: skip
    assert runner._failed_actions(broken) == ["terminate_pods-step: ActivityFailed: no pods"]
    # a probe that could not look (no client, no API) measured nothing: an error, not a finding
    blind = entry("probe", "chaosk8s.pod.probes", "pods_in_phase", "failed",
                  exception=["chaoslib.exceptions.ActivityFailed: kubernetes.config.config_exception.ConfigException: "
                             "Invalid kube-config file. No configuration found.\n"])  # fmt: skip
    assert runner.extension_checks({"run": [blind]}) == []
    assert runner._failed_actions({"run": [blind]}) == [
        "pods_in_phase-step: chaoslib.exceptions.ActivityFailed: kubernetes.config.config_exception.ConfigException: "
        "Invalid kube-config file. No configuration found.\n"
    ]
    ours = {"run": [entry("probe", "kubedrill.chaos.activities", "judge_fault_window", "failed", exception=["x"])]}
    assert runner._failed_actions(ours) == ["judge_fault_window-step: x"]
    assert runner.extension_checks(ours) == []


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/home/me/.kube/config")
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.9.8.7:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: kind-kubedrill, context: {cluster: c, user: u}}]
current-context: kind-kubedrill
"""


def test_the_control_gives_later_activities_the_drill_s_namespace_canary_and_cluster(
    clean_env: None, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kind.kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    default_before = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    runs = Runs()
    configuration: dict[str, Any] = {RUNS_KEY: runs, "kubedrill_run_id": "r1"}
    control.before_activity_control({}, configuration=configuration)  # no drill yet: nothing to give
    assert set(configuration) == {RUNS_KEY, "kubedrill_run_id"}
    drill = SimpleNamespace(
        namespace="kubedrill-cp-x-1a2b3c",
        canary=SimpleNamespace(name="canary", labels={"app": "kubedrill-canary"}),
        cluster=SimpleNamespace(context="kind-kubedrill", kubeconfig=str(kubeconfig)),
    )
    runs.add("r1", drill)  # type: ignore[arg-type]
    control.before_activity_control({}, configuration=configuration)
    args = {
        "label_selector": "${kubedrill_canary_selector}",
        "ns": "${kubedrill_namespace}",
        "name": "${kubedrill_canary}",
    }
    assert substitute(args, configuration, {}) == {
        "label_selector": "app=kubedrill-canary",
        "ns": "kubedrill-cp-x-1a2b3c",
        "name": "canary",
    }
    # chaosk8s builds its client from the environment: the drill's cluster, put back after the experiment
    assert (os.environ["KUBECONFIG"], os.environ["KUBERNETES_CONTEXT"]) == (str(kubeconfig), "kind-kubedrill")
    # ... and the kubernetes client's default, which it read from $KUBECONFIG once, at import
    assert chaosk8s.create_k8s_api_client().configuration.host == "https://10.9.8.7:6443"
    control.before_activity_control({}, configuration=configuration)  # again: the first saved values stay
    control.cleanup_control()
    assert os.environ["KUBECONFIG"] == "/home/me/.kube/config"
    assert "KUBERNETES_CONTEXT" not in os.environ
    assert default_before == kube_config.KUBE_CONFIG_DEFAULT_LOCATION
