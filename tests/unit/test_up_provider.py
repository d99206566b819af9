"""`kubedrill up --provider kind|embedded`: flags that do not apply to kind are refused before anything runs."""

from pathlib import Path

import pytest
import yaml

from kubedrill import cli
from kubedrill.backends.prom import Target
from kubedrill.errors import ConfigError, LocalClusterError
from kubedrill.local import kind


def test_the_default_provider_is_the_embedded_cluster_of_3_and_3() -> None:
    args = cli.parser().parse_args(["up"])
    assert args.provider == "embedded"
    # None means "not given": the embedded cluster then takes 3 and 3, and kind can tell a flag was passed.
    assert (args.control_planes, args.workers) == (None, None)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["up", "--provider", "kind", "--workers", "2"], "--workers"),
        (["up", "--provider", "kind", "--control-planes", "5"], "--control-planes"),
        (["up", "--provider", "kind", "--control-planes", "3"], "--control-planes"),  # even the default, if given
        (["up", "--control-planes", "1", "--provider", "kind"], "--control-planes"),
    ],
)
def test_node_counts_are_refused_with_kind(argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"kubedrill up: error: kubedrill up --provider kind: {flag}: expected no --control-planes")
    assert "ci/kind-config.yaml" in line
    assert "Docker" not in line, "the flags must be refused before the Docker engine is even looked for"


def test_an_unknown_provider_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["up", "--provider", "podman"])
    assert exc.value.code == 2
    assert "invalid choice: 'podman'" in capsys.readouterr().err


def test_the_kind_files_are_found_in_this_checkout(tmp_path: Path) -> None:
    config, manifests = kind.ci_files()
    assert config.name == "kind-config.yaml"
    assert manifests.name == "prometheus"
    with pytest.raises(ConfigError, match=r"kind-config\.yaml: \(file\): expected kind's cluster config"):
        kind.ci_files(tmp_path)


def target(job: str, health: str = "up") -> Target:
    return Target(job=job, instance=f"{job}:1", health=health, last_error="", last_scrape="")


def test_prometheus_counts_as_ready_only_when_every_job_has_targets_and_all_are_up() -> None:
    every = [target(job) for job in kind.EXPECTED_JOBS]
    assert kind.targets_complete(every)
    assert not kind.targets_complete(every[1:]), "a job without targets (etcd not scraped) is not ready"
    assert not kind.targets_complete([*every, target("etcd", "down")])
    assert not kind.targets_complete([])


CONFIG = """kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: kubedrill
nodes:
  - role: control-plane
    image: kindest/node:v1.34.0@sha256:aaaa
    labels:
      kubedrill.io/prometheus-host: "true"
  - role: worker
    image: kindest/node:v1.34.0@sha256:aaaa
"""


def test_the_configured_node_image_is_the_one_every_node_names() -> None:
    assert kind.configured_image(CONFIG) == "kindest/node:v1.34.0@sha256:aaaa"
    mixed = CONFIG.replace("sha256:aaaa\n", "sha256:bbbb\n", 1)
    with pytest.raises(ConfigError, match=r"expected one image for every node"):
        kind.configured_image(mixed)


def test_the_rendered_config_puts_the_image_on_every_node_and_turns_kinds_cni_off_for_kubedrills_image() -> None:
    rendered = yaml.safe_load(kind.render_config(CONFIG, "kubedrill/node:abc", own_cni=True))
    assert [n["image"] for n in rendered["nodes"]] == ["kubedrill/node:abc"] * 2
    assert rendered["networking"] == {"disableDefaultCNI": True}
    assert rendered["nodes"][0]["labels"] == {"kubedrill.io/prometheus-host": "true"}, "the rest as written"
    official = yaml.safe_load(kind.render_config(CONFIG, "kindest/node:v1.34.0@sha256:aaaa", own_cni=False))
    assert "networking" not in official, "kindnet stays the CNI of an official node image"


KIND_HAPROXY = """backend kube-apiservers
  option httpchk GET /healthz
  # TODO: we should be verifying (!)

  server kubedrill-control-plane kubedrill-control-plane:6443 check check-ssl verify none resolvers docker
"""


def test_kinds_load_balancer_is_tuned_to_check_readyz_every_500_ms_once() -> None:
    tuned = kind.tune_load_balancer(KIND_HAPROXY)
    assert "option httpchk GET /healthz" not in tuned
    assert "option httpchk GET /readyz" in tuned
    assert "default-server init-addr none inter 500 rise 2 fall 2 on-marked-down shutdown-sessions" in tuned
    assert "server kubedrill-control-plane kubedrill-control-plane:6443 check" in tuned
    backup = (
        "server kubedrill-control-plane-failopen kubedrill-control-plane:6443 backup resolvers docker "
        "resolve-opts allow-dup-ip"
    )
    assert backup in tuned, "the unchecked backup HAProxy falls back to when every check fails, at its twin's address"
    assert tuned.index("option allbackups") > tuned.index("backend kube-apiservers")
    assert tuned.index("frontend stats") > tuned.index("option allbackups"), "after the servers, a stats page"


def test_a_cluster_tuned_before_the_fail_open_backups_gains_them() -> None:
    tuned = kind.tune_load_balancer(KIND_HAPROXY)
    earlier = tuned[: tuned.index("    option allbackups")]  # the checks tuned, no backups, no stats page
    assert kind.tune_load_balancer(earlier) == tuned
    assert kind.tune_load_balancer(tuned) == tuned, "tuning twice changes nothing (a reused cluster)"


def test_a_load_balancer_config_kubedrill_does_not_recognise_is_refused() -> None:
    with pytest.raises(LocalClusterError, match="no 'option httpchk GET /healthz'"):
        kind.tune_load_balancer(KIND_HAPROXY.replace("/healthz", "/livez"))
    with pytest.raises(LocalClusterError, match="does not end with its checked servers"):
        kind.tune_load_balancer(KIND_HAPROXY + "\nfrontend stats\n  bind *:8404\n")


def test_the_pod_network_waits_for_every_node_the_config_asks_for() -> None:
    """`kubedrill up` wires CNI on the nodes the config names (3 control planes, 3 workers), not on those that
    happened to be registered first."""
    config = (Path(__file__).resolve().parents[2] / "ci" / "kind-config.yaml").read_text()
    assert kind.node_count(config) == 6
    assert kind.node_count("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n") == 1  # kind's default
