"""``kubedrill up --provider kind``: the nightly CI cluster on kind, 3 control planes and 3 workers, and
``kubedrill down --provider kind``.

The steps of ``up``, in this order:

1. ci/kind-config.yaml and ci/prometheus/ exist (nothing is touched otherwise);
2. a Docker engine answers, or kubedrill starts one (``local/engine.py``: as root on Debian only; elsewhere one
   line says what to do instead, and nothing is built);
3. the kind CLI is built from its Go module (the on-demand ``kind`` group of versions.toml, cached);
4. the node image: ``--node-image`` / ``$KUBEDRILL_KIND_NODE_IMAGE`` when given; else the one ci/kind-config.yaml
   pins, when present or pullable; else kubedrill's own (``local/nodeimage.py``), built here and cached. Its load
   balancer image likewise;
5. ``kind create cluster --name kubedrill`` with ci/kind-config.yaml, the node image in it, unless
   ``kind get clusters`` already lists the cluster (then it is reused). On kubedrill's own image, whose nodes
   have no kindnetd, kind's default CNI is off and kubedrill wires the pod network instead (``local/podnet.py``)
   and applies a NetworkPolicy engine from ci/cni/ (kube-network-policies, which kindnetd embeds, or where the
   kernel lacks nft's queue expression kube-router's iptables firewall), proven by its rules on every node;
6. kind's load balancer checks API servers the way the embedded cluster's HAProxy does (``tune_load_balancer``);
7. ``kubectl apply -f ci/prometheus/``; wait until Prometheus answers on http://127.0.0.1:19090 and every
   scrape target is up;
8. return the exports a drill run needs (context, Prometheus URL, where kind is).

The cluster's shape lives in ``ci/kind-config.yaml``, not in flags.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from kubedrill import paths
from kubedrill.backends import kind_cli, loadbalancers, shell
from kubedrill.backends.prom import Prometheus, Target
from kubedrill.errors import BackendError, ConfigError, LocalClusterError, RecoveryTimeout
from kubedrill.local import build, configs, engine, health, nodeimage, podnet
from kubedrill.waiting import wait_until

Progress = Callable[[str], None]

CLUSTER_NAME = "kubedrill"
LOAD_BALANCER = f"{CLUSTER_NAME}-external-load-balancer"  # kind's HAProxy container, in front of the API servers
CONTEXT = f"kind-{CLUSTER_NAME}"
PROMETHEUS_URL = "http://127.0.0.1:19090"  # kind-config.yaml maps NodePort 30090 to this host port
PROMETHEUS_HOST_PORT = 19090  # not 9090: the embedded cluster's Prometheus, which may run alongside
MONITORING_NAMESPACE = "monitoring"
DEPLOYMENTS = ("kube-state-metrics", "prometheus")
# The scrape jobs of ci/prometheus/20-prometheus-config.yaml; each must have targets, and all must be up.
EXPECTED_JOBS = ("etcd", "apiserver", "kube-controller-manager", "kube-scheduler", "kube-state-metrics")
NODES_WAIT = "120s"  # kind create cluster --wait: until the control plane reports Ready
READY_TIMEOUT_S = 300  # every node Ready (with kubedrill's pod network, once wired)
NODE_IMAGE_ENV = "KUBEDRILL_KIND_NODE_IMAGE"
# kind's server lines: "server <node> <node>:6443 check check-ssl verify none resolvers docker resolve-prefer ipv4"
SERVER_LINE = re.compile(r"^\s*server (\S+) (\S+) check check-ssl verify none(.*)$", re.MULTILINE)
LB_STATS_PORT = loadbalancers.KIND_STATS_PORT
TUNED_MARK = "# kubedrill: API servers checked as in the embedded cluster's HAProxy"
ROLLOUT_TIMEOUT_S = 600  # the first pull of Prometheus' and kube-state-metrics' images
TARGETS_TIMEOUT_S = 180.0

# ci/ of the kubedrill checkout this package runs from (src/kubedrill/local/kind.py → the repository root).
CI_DIR = paths.CI


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


def node_image_override() -> str | None:
    """``$KUBEDRILL_KIND_NODE_IMAGE``: the node image air-gapped CI brings (``--node-image`` wins over it)."""
    return os.environ.get(NODE_IMAGE_ENV) or None


def configured_image(config_text: str) -> str:
    """The node image ci/kind-config.yaml pins: one for every node, or ConfigError (pure)."""
    images = {str(node.get("image", "")) for node in yaml.safe_load(config_text).get("nodes", [])}
    if len(images) != 1 or "" in images:
        raise ConfigError("ci/kind-config.yaml", "nodes[].image", "one image for every node", sorted(images))
    return images.pop()


def node_count(config_text: str) -> int:
    """How many nodes the kind config asks for (pure): what the cluster has once every node has joined. A config
    that lists none gets kind's default, one control plane."""
    return len(yaml.safe_load(config_text).get("nodes", [])) or 1


def render_config(config_text: str, image: str, *, own_cni: bool) -> str:
    """ci/kind-config.yaml with ``image`` on every node, and kind's CNI off where kubedrill wires its own (pure)."""
    config = yaml.safe_load(config_text)
    for node in config["nodes"]:
        node["image"] = image
    if own_cni:
        config.setdefault("networking", {})["disableDefaultCNI"] = True
    return "# rendered by kubedrill from ci/kind-config.yaml\n" + yaml.safe_dump(config, sort_keys=False)


def choose_node_image(configured: str, override: str | None, progress: Progress) -> str:
    """The override, else the configured image when present or pullable, else kubedrill's own, built here."""
    wanted = override or configured
    if nodeimage.image_present(wanted):
        return wanted
    problem = kind_cli.pull(wanted)
    if problem is None:
        return wanted
    if override:
        raise LocalClusterError(f"node image {override} ({NODE_IMAGE_ENV} or --node-image): {problem}")
    progress(f"cannot pull {configured} ({problem}): using kubedrill's node image, built here from the same sources")
    return nodeimage.ensure_node(progress)


def tune_load_balancer(cfg: str) -> str:
    """kind's HAProxy configuration, checking API servers as the embedded cluster's does (pure).

    kind checks ``/healthz`` at HAProxy's defaults (every 2 s, out after 3 failures, a 5 s connect timeout): a
    dead or cut-off API server stays in rotation for 6 s and more. Here, as in ``configs.haproxy_cfg``:
    ``/readyz`` (false while the API server has lost etcd) every 500 ms, out after 2, and its sessions cut; and
    every server again as an unchecked backup for when all fail their checks at once (``configs.fail_open_backups``).
    """
    anchor = "  option httpchk GET /healthz\n"
    if TUNED_MARK not in cfg:
        if anchor not in cfg:
            raise LocalClusterError(
                "kind's load balancer configuration has no 'option httpchk GET /healthz': check kind"
            )
        tuned = (
            f"  {TUNED_MARK}\n"
            "  option httpchk GET /readyz\n"
            "  http-check expect status 200\n"
            f"  timeout check {configs.HAPROXY_CHECK_INTER_MS}ms\n"
            f"  default-server init-addr none inter {configs.HAPROXY_CHECK_INTER_MS} rise {configs.HAPROXY_RISE} "
            f"fall {configs.HAPROXY_FALL} on-marked-down shutdown-sessions\n"
        )
        cfg = cfg.replace(anchor, tuned)
    if configs.FAIL_OPEN_SUFFIX in cfg:
        return cfg  # tuned already (a reused cluster)
    servers = SERVER_LINE.findall(cfg)
    backend = re.search(r"^backend kube-apiservers\n", cfg, re.MULTILINE)
    if not servers or backend is None or re.search(r"^\S", cfg[backend.end() :], re.MULTILINE):
        raise LocalClusterError("kind's load balancer configuration does not end with its checked servers: check kind")
    # A backup resolves the same name to the same address as its checked twin, and HAProxy's resolver keeps two
    # servers of a backend off one address unless told otherwise: without allow-dup-ip every backup stayed in
    # resolution maintenance, no address ("show servers state" here: admin state 32, "0 backup servers").
    backups = [(name, address, f"{options} resolve-opts allow-dup-ip") for name, address, options in servers]
    # HAProxy's read-only stats page on kind's network (not published on this machine): which servers and backups
    # are in rotation, for tests and for whoever watches a drill.
    stats = f"\nfrontend stats\n  mode http\n  bind *:{LB_STATS_PORT}\n  stats enable\n  stats uri /stats\n"
    return cfg.rstrip("\n") + "\n" + configs.fail_open_backups(backups) + "\n" + stats


def up(
    progress: Progress, *, wait_prometheus: bool = True, ci_dir: Path = CI_DIR, node_image: str | None = None
) -> dict[str, str]:
    """Create (or reuse) the kind cluster with Prometheus in it; return the exports for a drill run."""
    config, manifests = ci_files(ci_dir)  # first: bad input, nothing touched
    config_text = config.read_text()
    configured = configured_image(config_text)
    progress(engine.ensure(progress))

    kind = build.ensure_group("kind", lambda m: progress(f"build: {m}"))["kind"]
    if CLUSTER_NAME in kind_cli.clusters(kind):
        progress(
            f"kind cluster {CLUSTER_NAME!r} already exists: reusing it ('kind delete cluster --name {CLUSTER_NAME}')"
        )
        kind_cli.export_kubeconfig(kind, CLUSTER_NAME)  # its context in this $KUBECONFIG too
    else:
        if shell.port_in_use("127.0.0.1", PROMETHEUS_HOST_PORT):
            raise LocalClusterError(
                f"expected 127.0.0.1:{PROMETHEUS_HOST_PORT} free for the kind cluster's Prometheus, observed it taken "
                "by another program (ss -ltnp shows which)"
            )
        start = time.monotonic()
        image = choose_node_image(configured, node_image or node_image_override(), progress)
        own_cni = nodeimage.is_built_here(image)
        nodeimage.ensure_load_balancer(progress)
        rendered = state_dir() / "kind-config.yaml"
        rendered.parent.mkdir(parents=True, exist_ok=True)
        rendered.write_text(render_config(config_text, image, own_cni=own_cni))
        progress(f"creating kind cluster {CLUSTER_NAME!r} from {config} with {image}")
        # Without a CNI the nodes cannot be Ready, so kind does not wait for them: kubedrill does, once wired.
        kind_cli.create_cluster(kind, CLUSTER_NAME, rendered, "0s" if own_cni else NODES_WAIT, progress)
        progress(f"kind created the cluster in {time.monotonic() - start:.0f} s")

    kubectl = kubectl_binary(progress)
    if not kind_cli.kubectl_ok(kubectl, CONTEXT, "-n", "kube-system", "get", "daemonset", "kindnet"):
        wire_pod_network(kubectl, progress, node_count(config_text))
    kind_cli.kubectl(kubectl, CONTEXT, "wait", "--for=condition=Ready", "node", "--all",
                     f"--timeout={READY_TIMEOUT_S}s", timeout_s=READY_TIMEOUT_S + 30)  # fmt: skip
    progress("every node is Ready")
    for workload in ("daemonset/kube-proxy", "deployment/coredns"):  # Services and DNS work for every pod
        kind_cli.kubectl(kubectl, CONTEXT, "-n", "kube-system", "rollout", "status", workload,
                         f"--timeout={READY_TIMEOUT_S}s", timeout_s=READY_TIMEOUT_S + 30)  # fmt: skip
    progress("kube-proxy and CoreDNS are up")
    tune_kinds_load_balancer(progress)

    progress(f"installing Prometheus and kube-state-metrics: kubectl apply -f {manifests}")
    kind_cli.kubectl(kubectl, CONTEXT, "apply", "-f", str(manifests))
    for deployment in DEPLOYMENTS:
        kind_cli.kubectl(kubectl, CONTEXT, "-n", MONITORING_NAMESPACE, "rollout", "status", f"deployment/{deployment}",
                         f"--timeout={ROLLOUT_TIMEOUT_S}s", timeout_s=ROLLOUT_TIMEOUT_S + 30)  # fmt: skip
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


def wire_pod_network(kubectl: str, progress: Progress, expected: int) -> None:
    """kindnetd's work, where it cannot run: CNI configuration, routes and masquerading on every node
    (``local/podnet.py``), then the NetworkPolicy engine this kernel can run (ci/cni/, ``policy_engine``).
    Every node of the config (``expected``), not those registered so far: a worker whose Node object came a moment
    after the others' once got no CNI configuration and stayed NotReady (a CI run's `kubedrill up` timed out)."""
    nodes = wait_until(
        f"all {expected} nodes registered, each with a podCIDR (the controller-manager assigns them)",
        lambda: _nodes(kubectl),
        lambda found: found is not None and len(found) >= expected,
        timeout_s=READY_TIMEOUT_S,
        interval_s=1.0,
        describe=lambda found: "not yet" if found is None else f"{len(found)} of {expected} nodes",
    )
    assert nodes is not None
    for node in nodes:
        kind_cli.docker_exec(node.name, "mkdir", "-p", str(Path(podnet.CONFLIST_PATH).parent))
        kind_cli.docker_exec(
            node.name, "cp", "/dev/stdin", podnet.CONFLIST_PATH, input_text=podnet.conflist(node.pod_cidr)
        )
        for command in podnet.node_commands(node, nodes):
            kind_cli.docker_exec(node.name, *command)
    progress(f"pod network wired on {len(nodes)} nodes: {', '.join(f'{n.name} {n.pod_cidr}' for n in nodes)}")
    engine_name = policy_engine(nodes[0].name)
    kind_cli.kubectl(kubectl, CONTEXT, "apply", "-f", str(CI_DIR / "cni" / f"{engine_name}.yaml"))
    kind_cli.kubectl(kubectl, CONTEXT, "-n", "kube-system", "rollout", "status", f"daemonset/{engine_name}",
                     f"--timeout={ROLLOUT_TIMEOUT_S}s", timeout_s=ROLLOUT_TIMEOUT_S + 30)  # fmt: skip
    if not all(policy_enforced(node.name, engine_name) for node in nodes):
        raise LocalClusterError(
            f"{engine_name} rolled out but did not install its rules on every node "
            f"(`kubectl --context {CONTEXT} -n kube-system logs daemonset/{engine_name}`)"
        )
    progress(f"{engine_name} enforces NetworkPolicy on every node")


# How each policy engine proves it took over a node: the table or chain it installs there.
POLICY_RULES = {
    "kube-network-policies": ("nft", "list", "table", "inet", "kube-network-policies"),
    "kube-router": ("iptables", "-t", "filter", "-S", "KUBE-ROUTER-FORWARD"),
}
# A table with one rule using nft's `queue` expression, added and deleted in one transaction: the kernel accepts
# it only when it has that expression (CONFIG_NFT_QUEUE), and nothing of it stays either way.
NFT_QUEUE_PROBE = """\
table inet kubedrill-probe {
  chain probe { type filter hook forward priority 0; policy accept; meta l4proto tcp queue num 65000 bypass; }
}
delete table inet kubedrill-probe
"""


def policy_engine(node: str) -> str:
    """Which NetworkPolicy engine this kernel can run: kube-network-policies (what kindnetd embeds) where nft's
    queue expression exists, else kube-router's iptables and ipset firewall (ci/cni/)."""
    try:
        kind_cli.docker_exec(node, "nft", "-f", "/dev/stdin", input_text=NFT_QUEUE_PROBE)
    except BackendError:
        return "kube-router"
    return "kube-network-policies"


def policy_enforced(node: str, engine_name: str, timeout_s: float = 60.0) -> bool:
    """Whether ``engine_name`` installed its rules on ``node`` (its proof of enforcement). Only that engine's:
    another's left behind (kube-router leaves its chains when stopped) proves nothing."""

    def rules() -> bool:
        try:
            return bool(kind_cli.docker_exec(node, *POLICY_RULES[engine_name]).strip())
        except BackendError:
            return False

    try:
        wait_until(f"{engine_name}'s rules on {node}", rules, bool, timeout_s=timeout_s, interval_s=1.0)
    except RecoveryTimeout:
        return False
    return True


def _nodes(kubectl: str) -> list[podnet.Node] | None:
    try:
        return podnet.nodes_from(json.loads(kind_cli.kubectl(kubectl, CONTEXT, "get", "nodes", "-o", "json")))
    except ValueError:
        return None


def tune_kinds_load_balancer(progress: Progress) -> None:
    container = LOAD_BALANCER
    path = "/usr/local/etc/haproxy/haproxy.cfg"
    if not kind_cli.container_exists(container):
        return  # one control plane: no load balancer
    current = kind_cli.docker_exec(container, "cp", path, "/dev/stdout")
    tuned = tune_load_balancer(current)
    if tuned != current:
        kind_cli.docker_exec(container, "cp", "/dev/stdin", path, input_text=tuned)
        kind_cli.docker_exec(container, "kill", "-s", "HUP", "1")
        progress(
            f"kind's load balancer checks /readyz every {configs.HAPROXY_CHECK_INTER_MS} ms (was /healthz every 2 s)"
        )


def state_dir() -> Path:
    return paths.state_home() / "kind"


def down(progress: Progress) -> list[str]:
    """Delete the kind cluster, kind's network once no container uses it, and the Docker engine kubedrill started
    once nothing runs in it. Node images stay: they are cached on purpose (``docker image rm`` them to free space)."""
    removed = []
    kind = build.cached_group("kind")
    if kind_cli.docker_engine_problem() is None:
        if kind is not None and CLUSTER_NAME in kind_cli.clusters(kind["kind"]):
            kind_cli.delete_cluster(kind["kind"], CLUSTER_NAME)
            removed.append(f"kind cluster {CLUSTER_NAME}")
        if kind_cli.remove_network_if_unused("kind"):
            removed.append("docker network kind")
        if engine.started() is not None and not kind_cli.containers():
            removed.append(engine.stop(progress))
    (state_dir() / "kind-config.yaml").unlink(missing_ok=True)
    return removed


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
