"""``kubedrill up --provider kind``: the nightly CI cluster on kind, on a machine with a Docker engine.

The steps, in this order:

1. a Docker engine answers ``docker info``; without one, stop at once with a one-line error: nothing is
   built, created or changed (kind cannot run without an engine; the embedded cluster can);
2. the kind CLI is built from its Go module (the on-demand ``kind`` group of versions.toml, cached);
3. ``kind create cluster --name kubedrill --config ci/kind-config.yaml --wait 120s``, unless
   ``kind get clusters`` already lists it (then it is reused);
4. ``kubectl apply -f ci/prometheus/``: Prometheus and kube-state-metrics inside the cluster;
5. wait until both roll out, Prometheus answers on http://127.0.0.1:9090 and every scrape target is up;
6. return the exports a drill run needs (context, Prometheus URL, where kind is).

The cluster's shape and node image live in ``ci/kind-config.yaml``, not in flags.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from kubedrill.backends import kind_cli, shell
from kubedrill.backends.prom import Prometheus, Target
from kubedrill.errors import ConfigError, LocalClusterError
from kubedrill.local import build, health
from kubedrill.waiting import wait_until

Progress = Callable[[str], None]

CLUSTER_NAME = "kubedrill"
CONTEXT = f"kind-{CLUSTER_NAME}"
PROMETHEUS_URL = "http://127.0.0.1:9090"  # kind-config.yaml maps NodePort 30090 to this host port
PROMETHEUS_HOST_PORT = 9090
MONITORING_NAMESPACE = "monitoring"
DEPLOYMENTS = ("kube-state-metrics", "prometheus")
# The scrape jobs of ci/prometheus/20-prometheus-config.yaml; each must have targets, and all must be up.
EXPECTED_JOBS = ("etcd", "apiserver", "kube-controller-manager", "kube-scheduler", "kube-state-metrics")
NODES_WAIT = "120s"  # kind create cluster --wait: until the control plane reports Ready
ROLLOUT_TIMEOUT_S = 600  # the first pull of Prometheus' and kube-state-metrics' images
TARGETS_TIMEOUT_S = 180.0

# ci/ of the kubedrill checkout this package runs from (src/kubedrill/local/kind.py → the repository root).
CI_DIR = Path(__file__).resolve().parents[3] / "ci"


def no_engine_message(problem: str) -> str:
    return (
        f"no Docker engine: 'docker info' failed ({problem}); kind needs one. "
        "Use the embedded cluster instead: kubedrill up"
    )


def require_docker_engine() -> None:
    """Raise LocalClusterError, in one line, unless a Docker engine answers. Touches nothing."""
    problem = kind_cli.docker_engine_problem()
    if problem is not None:
        raise LocalClusterError(no_engine_message(problem))


def ci_files(ci_dir: Path = CI_DIR) -> tuple[Path, Path]:
    """The kind config and the Prometheus manifests directory; ConfigError naming what is missing."""
    config = ci_dir / "kind-config.yaml"
    manifests = ci_dir / "prometheus"
    if not config.is_file():
        raise ConfigError(str(config), "(file)", "kind's cluster config: run from a kubedrill checkout", "missing")
    if not manifests.is_dir() or not any(manifests.glob("*.yaml")):
        raise ConfigError(str(manifests), "(directory)", "the Prometheus manifests for kind", "missing or empty")
    return config, manifests


def kubectl_binary(progress: Progress) -> str:
    """kubectl to apply the manifests with: kubedrill's own build (Kubernetes v1.34, the node image's minor)
    when it is cached, else the one on PATH, else built now from k8s.io/kubernetes (minutes)."""
    cached = build.cached_group("kubernetes")
    if cached is not None:
        return str(cached["kubectl"])
    on_path = shutil.which("kubectl")
    if on_path is not None:
        return on_path
    progress("no kubectl cached or on PATH: building it from k8s.io/kubernetes (first time only)")
    return str(build.ensure_group("kubernetes", progress)["kubectl"])


def kubeconfig_path() -> Path:
    """Where kind writes the context: the first file of $KUBECONFIG, else ~/.kube/config (as kind does)."""
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


def up(progress: Progress, *, wait_prometheus: bool = True, ci_dir: Path = CI_DIR) -> dict[str, str]:
    """Create (or reuse) the kind cluster with Prometheus in it; return the exports for a drill run."""
    require_docker_engine()  # first: no engine, nothing else happens
    config, manifests = ci_files(ci_dir)

    kind = build.ensure_group("kind", lambda m: progress(f"build: {m}"))["kind"]
    if CLUSTER_NAME in kind_cli.clusters(kind):
        progress(
            f"kind cluster {CLUSTER_NAME!r} already exists: reusing it ('kind delete cluster --name {CLUSTER_NAME}')"
        )
    else:
        if shell.port_in_use("127.0.0.1", PROMETHEUS_HOST_PORT):
            raise LocalClusterError(
                f"expected 127.0.0.1:{PROMETHEUS_HOST_PORT} free for the kind cluster's Prometheus, observed it taken "
                "(the embedded cluster's Prometheus? 'kubedrill down' stops it)"
            )
        progress(f"creating kind cluster {CLUSTER_NAME!r} from {config} (pulls the node image the first time)")
        kind_cli.create_cluster(kind, CLUSTER_NAME, config, NODES_WAIT, progress)

    kubectl = kubectl_binary(progress)
    progress(f"installing Prometheus and kube-state-metrics: kubectl apply -f {manifests}")
    kind_cli.kubectl(kubectl, CONTEXT, "apply", "-f", str(manifests))
    for deployment in DEPLOYMENTS:
        kind_cli.kubectl(
            kubectl,
            CONTEXT,
            "-n",
            MONITORING_NAMESPACE,
            "rollout",
            "status",
            f"deployment/{deployment}",
            f"--timeout={ROLLOUT_TIMEOUT_S}s",
            timeout_s=ROLLOUT_TIMEOUT_S + 30,
        )
        progress(f"{deployment} rolled out")
    wait_prometheus_ready(PROMETHEUS_URL)
    progress(f"Prometheus answers on {PROMETHEUS_URL}")
    if wait_prometheus:
        wait_targets_up(PROMETHEUS_URL)
        progress(f"every Prometheus target is up ({', '.join(EXPECTED_JOBS)})")
    return {
        "KUBECONFIG": str(kubeconfig_path()),
        "KUBEDRILL_CONTEXT": CONTEXT,
        "KUBEDRILL_PROMETHEUS_URL": PROMETHEUS_URL,
        "PATH": f"{kind.parent}:$PATH",
    }


def wait_prometheus_ready(url: str, timeout_s: float = 60.0) -> None:
    prom = Prometheus(url, timeout_s=3)
    try:
        wait_until(
            f"Prometheus ready at {url} (NodePort 30090 mapped to the host by kind)",
            prom.ready,
            bool,
            timeout_s=timeout_s,
            interval_s=1.0,
            describe=lambda ok: "ready" if ok else "not answering /-/ready",
        )
    finally:
        prom.close()


def targets_complete(targets: list[Target]) -> bool:
    """Every expected job has targets, and every target is up."""
    jobs = {t.job for t in targets}
    return all(job in jobs for job in EXPECTED_JOBS) and all(t.health == "up" for t in targets)


def wait_targets_up(url: str, timeout_s: float = TARGETS_TIMEOUT_S) -> None:
    health.wait_targets(
        url, targets_complete, f"every Prometheus target up (jobs {', '.join(EXPECTED_JOBS)})", timeout_s, 1.0
    )
