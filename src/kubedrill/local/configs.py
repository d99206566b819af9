"""Configuration files and command lines of the embedded cluster's components.

Pure functions of the Layout and the binaries' paths: easy to read next to kubeadm's manifests and to
test without starting anything. Flags follow kubeadm's static pod manifests (stacked etcd: every
API server talks to its own node's etcd member on 127.0.0.1:2379).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kubedrill.backends.embedded import Layout

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
CLUSTER_NAME = "kubedrill"
CONTEXT_NAME = "kubedrill-local"

# HAProxy health checks. Seed 004 checks TCP every 2 s (rise 2, fall 3): a dead API server stays in rotation
# for up to 6 s, and one that lost etcd (still accepting TCP) forever. kubedrill checks /readyz every 500 ms
# with fall 2 (and a 500 ms check timeout, for a server cut off the network): out in about 1-1.5 s. With
# 1 s checks the isolate-the-leader drill measured outages of 2.2-3.3 s against its 3 s objective.
HAPROXY_CHECK_INTER_MS = 500
HAPROXY_RISE = 2
HAPROXY_FALL = 2
# A check that tight fails on every API server at once when etcd is slow for all of them (/readyz waits on etcd
# for up to 2 s): on kind, under a drill's load, HAProxy marked all three down and cut every session, a 2.1 s
# total outage of a healthy control plane. So each server is listed twice: checked, and as an unchecked backup
# HAProxy falls back to only when no checked server is up (Envoy's panic threshold). A dead server still costs
# nothing there (refused, then redispatched); a server that only answered its check slowly keeps serving.
FAIL_OPEN_SUFFIX = "-failopen"


def fail_open_backups(servers: list[tuple[str, str, str]]) -> str:
    """HAProxy ``server`` lines of the unchecked backups, one per ``(name, address, options)`` (pure), and the
    ``option allbackups`` that spreads the traffic over all of them rather than the first."""
    lines = ["    option allbackups"]
    lines += [f"    server {name}{FAIL_OPEN_SUFFIX} {address} backup{options}" for name, address, options in servers]
    return "\n".join(lines)


SCRAPE_INTERVAL_S = 1  # etcd, HAProxy, KWOK, kube-state-metrics
APISERVER_SCRAPE_INTERVAL_S = 2  # /metrics of an API server is large; 2 s keeps the 2 cores for the cluster


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str, context: str = CONTEXT_NAME) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": context, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def on_node(layout: Layout, node: str, argv: list[str]) -> list[str]:
    """Run ``argv`` inside the node's network namespace with the node's own hostname (a UTS namespace),
    so leader-election identities read ``cp-2_<uuid>`` as on a real control plane."""
    return [
        "ip",
        "netns",
        "exec",
        layout.netns(node),
        "unshare",
        "--uts",
        "--",
        "sh",
        "-c",
        'hostname "$0" && exec "$@"',
        node,
        *argv,
    ]


def etcd_argv(layout: Layout, node: str, etcd: Path) -> list[str]:
    ip = layout.node_ip(node)
    pki = layout.pki / "etcd"
    initial = ",".join(f"{n}={layout.etcd_peer_url(n)}" for n in layout.nodes)
    return [
        str(etcd),
        f"--name={node}",
        f"--data-dir={layout.etcd_data_dir(node)}",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{ip}:2379",
        f"--advertise-client-urls=https://{ip}:2379",
        f"--listen-peer-urls=https://{ip}:2380",
        f"--initial-advertise-peer-urls=https://{ip}:2380",
        f"--initial-cluster={initial}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token={layout.cluster_token}",
        f"--listen-metrics-urls=http://{ip}:2381",
        "--client-cert-auth=true",
        f"--trusted-ca-file={pki / 'ca.crt'}",
        f"--cert-file={pki / f'server-{node}.crt'}",
        f"--key-file={pki / f'server-{node}.key'}",
        "--peer-client-cert-auth=true",
        f"--peer-trusted-ca-file={pki / 'ca.crt'}",
        f"--peer-cert-file={pki / f'peer-{node}.crt'}",
        f"--peer-key-file={pki / f'peer-{node}.key'}",
        "--snapshot-count=10000",
        # info, as kubeadm runs etcd: elections ("became leader at term N") are in the log with etcd's own
        # timestamps, what the leader-detection benchmark and an operator reading a drill's logs compare with.
        "--log-level=info",
    ]


def apiserver_argv(layout: Layout, node: str, binary: Path) -> list[str]:
    pki = layout.pki
    return [
        str(binary),
        f"--advertise-address={layout.node_ip(node)}",
        "--secure-port=6443",
        "--etcd-servers=https://127.0.0.1:2379",
        f"--etcd-cafile={pki / 'etcd' / 'ca.crt'}",
        f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
    ]


def controller_manager_argv(layout: Layout, node: str, binary: Path) -> list[str]:
    conf = layout.node_dir(node) / "controller-manager.conf"
    pki = layout.pki
    return [
        str(binary),
        f"--kubeconfig={conf}",
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        "--leader-elect=true",
        "--secure-port=10257",
        f"--tls-cert-file={pki / 'kube-controller-manager-server.crt'}",
        f"--tls-private-key-file={pki / 'kube-controller-manager-server.key'}",
        f"--cluster-name={CLUSTER_NAME}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        "--use-service-account-credentials=true",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--v=1",
    ]


def scheduler_argv(layout: Layout, node: str, binary: Path) -> list[str]:
    conf = layout.node_dir(node) / "scheduler.conf"
    return [
        str(binary),
        f"--kubeconfig={conf}",
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        "--leader-elect=true",
        "--secure-port=10259",
        f"--tls-cert-file={layout.pki / 'kube-scheduler-server.crt'}",
        f"--tls-private-key-file={layout.pki / 'kube-scheduler-server.key'}",
        "--v=1",
    ]


def haproxy_cfg(layout: Layout, lb: str | None = None) -> str:
    """The single HAProxy on this machine (``lb`` None), or the one in load balancer ``lb``'s namespace, which
    listens on every address there: the VIP when keepalived gives it that one, its own address otherwise."""
    if lb is None:
        binds = f"    bind 127.0.0.1:{layout.ports.api}\n    bind {layout.bridge_ip}:{layout.ports.api}"
        stats, sock = f"127.0.0.1:{layout.ports.haproxy_stats}", layout.run_dir / "haproxy.sock"
    else:
        binds = f"    bind 0.0.0.0:{layout.ports.api}"
        stats, sock = f"0.0.0.0:{layout.ports.haproxy_stats}", layout.run_dir / f"haproxy-{lb}.sock"
    servers = "\n".join(f"    server {n} {layout.node_ip(n)}:6443 check check-ssl verify none" for n in layout.nodes)
    servers += "\n" + fail_open_backups([(n, f"{layout.node_ip(n)}:6443", "") for n in layout.nodes])
    default_server = (
        f"default-server inter {HAPROXY_CHECK_INTER_MS} rise {HAPROXY_RISE} fall {HAPROXY_FALL}"
        " on-marked-down shutdown-sessions"
    )
    return f"""# Seed 004's L4 design: TCP round-robin over every API server, health-checked.
global
    maxconn 4000
    stats socket {sock} mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check {HAPROXY_CHECK_INTER_MS}ms
    retries 2
    option redispatch

frontend kube-apiserver
{binds}
    default_backend kube-apiserver

backend kube-apiserver
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    {default_server}
{servers}

frontend stats
    mode http
    bind {stats}
    monitor-uri /healthz
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats
"""


KEEPALIVED_ROUTER_ID = 51
KEEPALIVED_ADVERT_S = 1  # VRRP advertisements every second; a backup takes over after 3 missed (+ skew)
KEEPALIVED_CHECK_S = 1  # the HAProxy check: every second, out after one failure


def haproxy_check_script(layout: Layout, python: str) -> str:
    """What keepalived runs every second in a load balancer's namespace: exit 0 while HAProxy accepts
    connections on the API frontend there (within 0.5 s). Python without site packages (``-I -S``) and only
    the socket module starts in ~10 ms: a check that cost a full interpreter and urllib every second could
    itself time out on 2 busy cores and move the VIP with nothing wrong."""
    return f"""#!/bin/sh
# kubedrill: does this namespace's HAProxy accept on the API frontend? (keepalived's vrrp_script haproxy_serves)
exec {python} -I -S -c 'import socket; socket.create_connection(("127.0.0.1", {layout.ports.api}), 0.5).close()'
"""


def keepalived_conf(layout: Layout, lb: str, check_script: Path) -> str:
    """Seed 002's health-checked VIP: keepalived on each load balancer, VRRP over unicast between their
    addresses (no multicast needed on the bridge). lb-1 starts with the higher priority. A failed HAProxy check
    puts the instance in FAULT: it resigns (a priority-0 advertisement) and its peer takes the VIP at once
    (0.9-1.9 s measured here). ``nopreempt``: lb-1 healthy again does not take the VIP back, which would cut
    every connection open through lb-2 a second time. The check connects to
    HAProxy's API frontend in this namespace, so it fails when HAProxy does not listen, not only when its
    process is gone."""
    index = int(lb.rsplit("-", 1)[1])
    peers = "\n".join(f"    {layout.lb_ip(p)}" for p in layout.lbs if p != lb)
    return f"""# keepalived on {lb}: the VIP {layout.vip} in front of the API servers' load balancers.
global_defs {{
  router_id kubedrill-{lb}
  script_user root
  enable_script_security
}}

vrrp_script haproxy_serves {{
  script "{check_script}"
  interval {KEEPALIVED_CHECK_S}
  timeout 2
  fall 1
  rise 1
}}

vrrp_instance kube_apiserver {{
  state BACKUP
  interface eth0
  virtual_router_id {KEEPALIVED_ROUTER_ID}
  priority {110 - 10 * index}
  advert_int {KEEPALIVED_ADVERT_S}
  nopreempt
  unicast_src_ip {layout.lb_ip(lb)}
  unicast_peer {{
{peers}
  }}
  virtual_ipaddress {{
    {layout.vip}/24 dev eth0
  }}
  track_script {{
    haproxy_serves
  }}
}}
"""


def keepalived_argv(layout: Layout, lb: str) -> list[str]:
    run = layout.run_dir
    return [
        "keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
        f"--use-file={layout.state_dir / f'keepalived-{lb}.conf'}",
        f"--pid={run / f'keepalived-{lb}.pid'}", f"--vrrp_pid={run / f'keepalived-{lb}-vrrp.pid'}",
    ]  # fmt: skip


def prometheus_yml(layout: Layout, rules_file: Path) -> str:
    pki = layout.pki
    client = pki / "prometheus"

    def per_node(port: int) -> list[dict[str, object]]:
        return [{"targets": [f"{layout.node_ip(n)}:{port}"], "labels": {"node": n}} for n in layout.nodes]

    doc = {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S}s", "evaluation_interval": f"{SCRAPE_INTERVAL_S}s"},
        "rule_files": [str(rules_file)],
        "scrape_configs": [
            {"job_name": "etcd", "static_configs": per_node(2381)},
            {
                "job_name": "apiserver",
                "scheme": "https",
                "scrape_interval": f"{APISERVER_SCRAPE_INTERVAL_S}s",
                "scrape_timeout": f"{APISERVER_SCRAPE_INTERVAL_S}s",
                "tls_config": {
                    "ca_file": str(pki / "ca.crt"),
                    "cert_file": str(client.with_suffix(".crt")),
                    "key_file": str(client.with_suffix(".key")),
                },
                "static_configs": per_node(6443),
            },
            {
                "job_name": "haproxy",
                "static_configs": [
                    {"targets": [f"{layout.lb_ip(lb)}:{layout.ports.haproxy_stats}"], "labels": {"lb": lb}}
                    for lb in layout.lbs
                ]
                or [{"targets": [f"127.0.0.1:{layout.ports.haproxy_stats}"]}],
            },
            {"job_name": "kwok", "static_configs": [{"targets": [f"127.0.0.1:{layout.ports.kwok}"]}]},
            {
                "job_name": "kubelet",  # each worker's own KWOK: down while the node-lost drill stops it
                "static_configs": [
                    {"targets": [f"127.0.0.1:{layout.worker_kubelet_port(w)}"], "labels": {"node": w}}
                    for w in layout.workers_names
                ],
            },
            {"job_name": "kube-state-metrics", "static_configs": [{"targets": [f"127.0.0.1:{layout.ports.ksm}"]}]},
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)
