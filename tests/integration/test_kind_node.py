"""A kind cluster from the node image built here: kubeadm's control plane as static pods under a real
kubelet, and the static-pod runtime against it for real (a kill proven by a new container ID, etcdctl in
the etcd container). One control plane and no CNI yet: the node stays NotReady, the static pods run."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubedrill.backends.access import DockerExecAccess
from kubedrill.backends.runtimes import StaticPodRuntime
from kubedrill.local import build, nodeimage
from kubedrill.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.kind]

CLUSTER = "kubedrill-test"
NODE = f"{CLUSTER}-control-plane"
CONFIG = """kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
nodes:
- role: control-plane
"""
STATIC_PODS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
PKI = "/etc/kubernetes/pki/etcd"


def run(*argv: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def kind_cluster(docker_engine: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The cluster's kubeconfig; the cluster is deleted afterwards, and nothing of it may remain."""
    image = nodeimage.ensure_node(print)
    kind = build.ensure_group("kind", print)["kind"]
    work = tmp_path_factory.mktemp("kind")
    (work / "kind.yaml").write_text(CONFIG)
    kubeconfig = work / "kubeconfig"
    run(kind, "delete", "cluster", "--name", CLUSTER)  # a run killed earlier
    created = run(kind, "create", "cluster", "--name", CLUSTER, "--image", image, "--config", work / "kind.yaml",
                  "--kubeconfig", kubeconfig)  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    yield kubeconfig
    run(kind, "delete", "cluster", "--name", CLUSTER, "--kubeconfig", kubeconfig)
    left = run("docker", "ps", "-a", "-q", "--filter", f"label=io.x-k8s.kind.cluster={CLUSTER}").stdout
    assert left.strip() == "", f"kind left containers behind: {left}"
    # kind keeps its network (and so a bridge on the host) for the next cluster: this test made it, so it goes.
    if not run("docker", "ps", "-a", "-q", "--filter", "network=kind").stdout.strip():
        run("docker", "network", "rm", "kind")


def static_pods(kubeconfig: Path) -> dict[str, str]:
    kubectl = build.ensure_group("kubernetes", print)["kubectl"]
    cache = kubeconfig.parent / "kubectl-cache"  # not ~/.kube/cache: the test leaves nothing in the home
    argv = [kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cache, "-n", "kube-system", "get", "pods", "-o", "json"]
    out = run(*argv, timeout=30)
    if out.returncode != 0:
        return {}
    return {p["metadata"]["name"]: p["status"].get("phase", "") for p in json.loads(out.stdout)["items"]}


def test_kubeadms_control_plane_runs_as_static_pods_under_a_real_kubelet(kind_cluster: Path) -> None:
    expected = {f"{component}-{NODE}" for component in STATIC_PODS}
    pods = wait_until(
        "the four static pods Running",
        lambda: static_pods(kind_cluster),
        lambda p: all(p.get(name) == "Running" for name in expected),
        timeout_s=120,
        interval_s=1.0,
    )
    assert expected <= set(pods)
    kubelet = run("docker", "exec", NODE, "systemctl", "is-active", "kubelet").stdout.strip()
    assert kubelet == "active"


def test_a_static_pod_kill_is_proven_by_a_new_container_id_from_the_kubelet(kind_cluster: Path) -> None:
    runtime = StaticPodRuntime(DockerExecAccess())
    before = wait_until("kube-scheduler running", lambda: runtime.instance("kube-scheduler", NODE), bool, timeout_s=120)
    assert before is not None
    killed = runtime.kill("kube-scheduler", NODE)
    assert killed.id == before.id
    after = wait_until(
        "the kubelet restarts kube-scheduler",
        lambda: runtime.instance("kube-scheduler", NODE),
        lambda inst: inst is not None and inst.id != killed.id,
        timeout_s=90,
        interval_s=0.5,
    )
    assert after is not None
    assert after.id != killed.id


def test_etcdctl_answers_inside_the_etcd_container(kind_cluster: Path) -> None:
    runtime = StaticPodRuntime(DockerExecAccess())
    status = runtime.exec(
        "etcd", NODE,
        ["etcdctl", "--endpoints=https://127.0.0.1:2379", f"--cacert={PKI}/ca.crt",
         f"--cert={PKI}/healthcheck-client.crt", f"--key={PKI}/healthcheck-client.key",
         "endpoint", "status", "-w", "json"],
    )  # fmt: skip
    assert status.ok, status.stderr
    (member,) = json.loads(status.stdout)
    assert member["Status"]["leader"] == member["Status"]["header"]["member_id"], "a single member leads"
