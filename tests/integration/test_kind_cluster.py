"""`kubedrill up --provider kind` for real: the 3 control-plane + 3 worker kind cluster of ci/, from images
built here, with the pod network and Prometheus inside; drills run against it through `pytest drills/`; then
`kubedrill down --provider kind` leaves no container, network, engine or kernel setting of kubedrill's.

The kubeconfig goes to a file of the test's own ($KUBECONFIG), never ~/.kube/config, which the embedded
cluster's tests would otherwise pick up. The embedded cluster may run alongside: kind's Prometheus is mapped to
host port 19090, the embedded one listens on 9090."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubedrill.backends import kind_cli
from kubedrill.local import engine, kind

pytestmark = [pytest.mark.integration, pytest.mark.kind]

ROOT = Path(__file__).resolve().parents[2]
# Drills that exercise each kind-specific path: a static pod killed under a real kubelet (proven by a new
# container ID), etcd's leader moved and read at 10 Hz through etcdctl here, a node's kubelet evicting real
# pods, and the NetworkPolicy drill with a real CNI.
DRILLS = (
    "test_the_lease_moves_on_and_work_continues_when_the_leader_is_killed and scheduler",
    "test_api_stays_available_when_etcd_leader_is_moved",
    "test_canary_stays_above_its_pdb_when_a_worker_is_drained",
    "test_a_network_policy_cuts_off_exactly_the_pods_it_does_not_admit",
)


def run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def kind_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a drill run against the kind cluster, brought up for this module and taken down."""
    work = tmp_path_factory.mktemp("kind-cluster")
    env = {
        **os.environ,
        "KUBECONFIG": str(work / "kubeconfig"),
        "KUBECACHEDIR": str(work / "kube-cache"),  # kubectl's discovery cache: not in ~/.kube either
        "KUBEDRILL_LEDGER": str(work / "ledger.jsonl"),
    }
    engine_was_running = kind_cli.docker_engine_problem() is None
    limits_before = {path: Path(path).read_text() for path in engine.INOTIFY_MINIMUMS}
    start = time.monotonic()
    up = run([sys.executable, "-m", "kubedrill.cli", "up", "--provider", "kind"], env, timeout=2400)
    print(f"\nkubedrill up --provider kind: {time.monotonic() - start:.0f} s")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    yield {**env, "KUBEDRILL_CONTEXT": kind.CONTEXT, "KUBEDRILL_PROMETHEUS_URL": kind.PROMETHEUS_URL}
    down = run([sys.executable, "-m", "kubedrill.cli", "down", "--provider", "kind"], env, timeout=600)
    assert down.returncode == 0, down.stdout + down.stderr
    if not engine_was_running:
        assert engine.started() is None, "the Docker engine kubedrill started for kind still runs"
        assert {path: Path(path).read_text() for path in limits_before} == limits_before, "inotify limits left raised"
    else:
        assert not run(
            ["docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster=kubedrill"], env, 60
        ).stdout
        assert run(["docker", "network", "inspect", "kind"], env, 60).returncode != 0, "kind's network left behind"


def test_every_node_is_ready_with_pod_network_dns_and_prometheus_targets_up(kind_env: dict[str, str]) -> None:
    kubectl = kind.kubectl_binary(print)
    nodes = run([kubectl, "--context", kind.CONTEXT, "get", "nodes", "--no-headers"], kind_env, 60).stdout
    assert len(nodes.splitlines()) == 6
    assert all(" Ready " in line for line in nodes.splitlines()), nodes
    # `up` returned only once kube-proxy, CoreDNS, Prometheus and every scrape target were up: check it holds.
    kind.wait_targets_up(kind.PROMETHEUS_URL, timeout_s=60)


def test_drills_pass_on_kind_and_the_network_policy_drill_fails_where_policies_are_not_enforced(
    kind_env: dict[str, str], tmp_path: Path
) -> None:
    argv = [sys.executable, "-m", "pytest", "drills/", "-p", "no:cacheprovider", "-v", "-rs",
            "--alluredir", str(tmp_path / "allure"), "-k", " or ".join(f"({d})" for d in DRILLS)]  # fmt: skip
    proc = run(argv, kind_env, timeout=1800)
    out = proc.stdout
    enforced = kind.policy_tables_present("kubedrill-worker", timeout_s=5)
    outcome = re.findall(r"(\d+) (passed|failed|skipped)", out.splitlines()[-1] if out else "")
    counts = {word: int(n) for n, word in outcome}
    if enforced:
        assert proc.returncode == 0, out[-5000:]
        assert counts == {"passed": 4}, out[-3000:]
    else:
        # This kernel lacks nft's queue expression: kube-network-policies cannot install its table, so the
        # policy is not enforced, and the drill must say so (a fault that did not take effect fails the drill).
        assert counts == {"passed": 3, "failed": 1}, out[-5000:]
        assert "blocked clients cut off by the NetworkPolicy: expected ≤ 10 s, observed never" in out
