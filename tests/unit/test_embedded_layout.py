"""The embedded cluster's layout, configuration and supervisor decisions: pure, no cluster."""

from pathlib import Path

import pytest
import yaml

from kubedrill.backends.embedded import Layout, Ports
from kubedrill.local import configs
from kubedrill.local.supervisor import BACKOFF_CAP_S, backoff_delay


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(state_dir=tmp_path, control_planes=3, workers=2)


def test_nodes_get_their_own_addresses_on_the_bridge(layout: Layout) -> None:
    assert layout.nodes == ["cp-1", "cp-2", "cp-3"]
    assert [layout.node_ip(n) for n in layout.nodes] == ["10.251.0.11", "10.251.0.12", "10.251.0.13"]
    assert layout.bridge_ip == "10.251.0.1"
    assert layout.node_of_ip("10.251.0.12") == "cp-2"
    assert layout.node_of_ip("10.251.0.99") is None


def test_components_are_named_like_kubeadm_static_pods(layout: Layout) -> None:
    assert "kube-apiserver-cp-2" in layout.components
    assert layout.split_component("kube-controller-manager-cp-3") == ("kube-controller-manager", "cp-3")
    assert layout.split_component("haproxy") == ("haproxy", "host")
    with pytest.raises(ValueError, match="not a component"):
        layout.split_component("kubelet-cp-1")  # the control planes' kubelets are one shared KWOK, "kwok"
    with pytest.raises(ValueError, match="not a component"):
        layout.split_component("kubelet-worker-3")  # 2 workers here
    assert layout.split_component("kubelet-worker-2") == ("kubelet", "worker-2")
    assert layout.components[-2:] == ["kubelet-worker-1", "kubelet-worker-2"]
    assert len(layout.components) == 3 * 4 + 4 + 2


def test_each_worker_has_a_kubelet_of_its_own_and_the_shared_kwok_leaves_the_workers_alone(layout: Layout) -> None:
    from kubedrill.local.lifecycle import component_specs, worker_node_body

    bins = {name: Path(f"/bin/{name}") for name in ("etcd", "kube-apiserver", "kube-controller-manager",
                                                     "kube-scheduler", "kwok", "kube-state-metrics")}  # fmt: skip
    specs = {s.name: s.argv for s in component_specs(layout, bins)}
    assert sorted(specs) == sorted(layout.components)
    for i, worker in enumerate(("worker-1", "worker-2"), start=1):
        argv = specs[f"kubelet-{worker}"]
        assert argv[0] == "/bin/kwok"
        assert f"--manage-single-node={worker}" in argv
        assert f"--server-address=127.0.0.1:{10270 + i}" in argv
        assert f"--cidr=10.244.{i}.0/24" in argv  # its own pod CIDR: pod IPs never repeat across nodes
        assert not any(a.startswith("--manage-nodes-with-annotation-selector") for a in argv)
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in specs["kwok"]
    # The shared KWOK selects by that annotation: a worker's node must not carry it, or two KWOKs would play it.
    assert worker_node_body(layout, "cp-1", True)["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert worker_node_body(layout, "worker-1", False)["annotations"]["kwok.x-k8s.io/node"] != "fake"
    # Prometheus scrapes each worker's kubelet, labelled with its node: a lost one reads up == 0.
    jobs = {j["job_name"]: j for j in yaml.safe_load(configs.prometheus_yml(layout, Path("/r.yml")))["scrape_configs"]}
    assert jobs["kubelet"]["static_configs"] == [
        {"targets": ["127.0.0.1:10271"], "labels": {"node": "worker-1"}},
        {"targets": ["127.0.0.1:10272"], "labels": {"node": "worker-2"}},
    ]


def test_layout_survives_a_round_trip_through_state_json(layout: Layout) -> None:
    layout.save()
    again = Layout.load(layout.state_dir)
    assert again == layout


def test_no_state_means_no_cluster(tmp_path: Path) -> None:
    assert Layout.load(tmp_path) is None


def test_etcd_members_know_every_peer_and_use_tls(layout: Layout) -> None:
    argv = configs.etcd_argv(layout, "cp-2", Path("/bin/etcd"))
    joined = " ".join(argv)
    assert (
        "--initial-cluster=cp-1=https://10.251.0.11:2380,cp-2=https://10.251.0.12:2380,cp-3=https://10.251.0.13:2380"
        in argv
    )
    assert "--client-cert-auth=true" in argv
    assert "--peer-client-cert-auth=true" in argv
    assert "--advertise-client-urls=https://10.251.0.12:2379" in argv
    assert "server-cp-2.crt" in joined


def test_api_servers_talk_to_their_local_etcd_member_like_kubeadm(layout: Layout) -> None:
    argv = configs.apiserver_argv(layout, "cp-1", Path("/bin/kube-apiserver"))
    assert "--etcd-servers=https://127.0.0.1:2379" in argv
    assert "--authorization-mode=Node,RBAC" in argv


def test_components_run_in_their_node_namespace_with_the_node_hostname(layout: Layout) -> None:
    argv = configs.on_node(layout, "cp-3", ["/bin/kube-scheduler", "--leader-elect=true"])
    assert argv[:4] == ["ip", "netns", "exec", "kd-cp-3"]
    assert argv[-3:] == ["cp-3", "/bin/kube-scheduler", "--leader-elect=true"]


def test_haproxy_balances_every_api_server_with_readyz_checks(layout: Layout) -> None:
    cfg = configs.haproxy_cfg(layout)
    for n in layout.nodes:
        assert f"server {n} {layout.node_ip(n)}:6443 check" in cfg
        # and unchecked, for when every check fails at once (etcd slow for all): fail open, not a total outage
        assert f"server {n}-failopen {layout.node_ip(n)}:6443 backup\n" in cfg
    assert "option allbackups" in cfg
    assert "option httpchk GET /readyz" in cfg
    assert f"bind 127.0.0.1:{layout.ports.api}" in cfg
    assert "\\\n" not in cfg  # HAProxy has no line continuation


def test_prometheus_scrapes_every_member_every_api_server_and_the_host_services(layout: Layout) -> None:
    doc = yaml.safe_load(configs.prometheus_yml(layout, Path("/x/rules.yml")))
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert set(jobs) == {"etcd", "apiserver", "haproxy", "kwok", "kubelet", "kube-state-metrics"}
    etcd_targets = [t for sc in jobs["etcd"]["static_configs"] for t in sc["targets"]]
    assert etcd_targets == ["10.251.0.11:2381", "10.251.0.12:2381", "10.251.0.13:2381"]
    assert doc["global"]["scrape_interval"] == "1s"
    assert jobs["apiserver"]["scrape_interval"] in ("1s", "2s")


def test_custom_ports_reach_the_configs(tmp_path: Path) -> None:
    layout = Layout(state_dir=tmp_path, ports=Ports(api=16443, prometheus=19090))
    assert layout.api_url == "https://127.0.0.1:16443"
    assert "bind 127.0.0.1:16443" in configs.haproxy_cfg(layout)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (12, BACKOFF_CAP_S)],
)
def test_restart_backoff_doubles_up_to_the_cap(failures: int, delay: float) -> None:
    assert backoff_delay(failures) == delay


def test_the_vip_shape_puts_two_haproxies_behind_keepalived_and_clients_on_the_vip(tmp_path: Path) -> None:
    single = Layout(state_dir=tmp_path, control_planes=3, workers=0)
    assert (single.lbs, single.vip, single.api_url) == ([], None, "https://127.0.0.1:6443")
    assert "haproxy" in single.components
    assert single.haproxy_monitor_urls == {"host": f"http://127.0.0.1:{single.ports.haproxy_stats}/healthz"}

    vip = Layout(state_dir=tmp_path, control_planes=3, workers=0, load_balancers=2)
    assert vip.lbs == ["lb-1", "lb-2"]
    assert (vip.lb_ip("lb-1"), vip.lb_ip("lb-2"), vip.vip) == ("10.251.0.21", "10.251.0.22", "10.251.0.100")
    assert vip.api_url == "https://10.251.0.100:6443"
    assert "haproxy" not in vip.components  # the host's single HAProxy gives way to one per load balancer
    assert {"haproxy-lb-1", "keepalived-lb-1", "haproxy-lb-2", "keepalived-lb-2"} <= set(vip.components)
    assert vip.split_component("keepalived-lb-2") == ("keepalived", "lb-2")
    assert vip.lb_addresses == ["10.251.0.21", "10.251.0.22", "10.251.0.1"]  # partitions keep the host's too

    conf = configs.keepalived_conf(vip, "lb-1", tmp_path / "check.sh")
    assert "unicast_src_ip 10.251.0.21" in conf
    assert "    10.251.0.22\n" in conf
    assert "    10.251.0.21\n" not in conf.split("unicast_peer", 1)[1]
    assert "10.251.0.100/24 dev eth0" in conf
    assert "nopreempt" in conf
    assert f'script "{tmp_path / "check.sh"}"' in conf
    assert "bind 0.0.0.0:6443" in configs.haproxy_cfg(vip, "lb-1")


def test_keepalived_script_security_is_checked_on_the_state_dirs_way_from_root(tmp_path: Path) -> None:
    from kubedrill.local.lifecycle import _writable_by_others

    state = tmp_path / "a" / "b"
    state.mkdir(parents=True)
    (tmp_path / "a").chmod(0o755)
    assert _writable_by_others(state) is None  # /tmp is sticky (1777): keepalived accepts it, as tried here
    (tmp_path / "a").chmod(0o777)
    assert _writable_by_others(state) == tmp_path / "a"
    (tmp_path / "a").chmod(0o1777)
    assert _writable_by_others(state) is None
    assert _writable_by_others(tmp_path / "not-yet") is None  # what we create, we create as root
