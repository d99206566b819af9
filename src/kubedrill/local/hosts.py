"""Real hosts on this machine for the ssh backend: the seeds' binary install (seed 003) as three systemd hosts.

Quarterly game days run against real clusters reached over ssh, and a user's real cluster is one of the two
installs the seed documents describe. The kubeadm one is kind's node (static pods under a real kubelet); this
module builds the other, the way an operator following seed 003 lays it out:

- three hosts ``master-1`` … ``master-3``: containers of the node base image (Debian with systemd as PID 1,
  the kind node model), each with its own address on the ``kubedrill-hosts`` network and its own sshd;
- on each, etcd, kube-apiserver, kube-controller-manager and kube-scheduler as systemd units
  (``/usr/lib/systemd/system/<unit>.service``, options in ``/opt/<etcd|kubernetes>/cfg/``, binaries in
  ``/opt/<etcd|kubernetes>/bin``, certificates as cfssl names them in ``/opt/<etcd|kubernetes>/ssl``); etcd
  members are named ``etcd-1`` … as in the seed's restore commands, their data in ``/var/lib/etcd/default.etcd``;
- HAProxy in front of the three API servers (seed 004), on a host of its own (kind's load-balancer image);
- no kubelets: KWOK, a unit on ``master-1`` named in the inventory as what plays the kubelet, keeps fake
  worker Nodes Ready and runs their pods' status, as on the embedded cluster;
- a Prometheus on this machine scraping etcd and the API servers (jobs ``etcd`` and ``apiserver``).

Every host is reached by the drills through ``--backend ssh --inventory`` only: a non-root user with
passwordless sudo (``become``), the first host's key pinned in the inventory, the others trusted on first
use. ``docker exec`` is how the hosts are *built* (the test's job), never how a drill reaches them.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubedrill import paths
from kubedrill.backends import shell
from kubedrill.backends.access import DockerExecAccess
from kubedrill.backends.prom import Prometheus, Target
from kubedrill.errors import LocalClusterError
from kubedrill.local import build, configs, health, nodeimage, pki
from kubedrill.waiting import wait_until

Progress = Callable[[str], None]

NETWORK = "kubedrill-hosts"
LABEL = "io.kubedrill.hosts=binary-install"
HOSTS = ("master-1", "master-2", "master-3")
CONTAINER_PREFIX = "kubedrill-host-"
LB_CONTAINER = f"{CONTAINER_PREFIX}lb"
ETCD_NAME = {h: f"etcd-{i}" for i, h in enumerate(HOSTS, start=1)}  # seed 003's member names
ETCD_TOKEN = "etcd-cluster"  # noqa: S105 (seed 003's cluster token, not a secret)
ETCD_DATA_DIR = "/var/lib/etcd/default.etcd"
CONTEXT = "kubedrill-binary"
WORKERS = ("worker-1", "worker-2", "worker-3")
SSH_USER = "kd-ops"
KUBELET_UNIT = "kwok"  # what plays the kubelet, on the first host only
UNITS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
READY_TIMEOUT_S = 180.0
PROMETHEUS_PORT = 19091  # on this machine; kind's Prometheus is on 19090, the embedded cluster's on 9090


def container(host: str) -> str:
    return f"{CONTAINER_PREFIX}{host}"


# ---------------------------------------------------------------- what goes on a host (pure)


def etcd_conf(host: str, address_of: dict[str, str]) -> str:
    """``/opt/etcd/cfg/etcd.conf``, seed 003's variables; etcd reads ``ETCD_*`` from its environment."""
    ip = address_of[host]
    initial = ",".join(f"{ETCD_NAME[h]}=https://{address_of[h]}:2380" for h in HOSTS)
    return f"""#[Member]
ETCD_NAME="{ETCD_NAME[host]}"
ETCD_DATA_DIR="{ETCD_DATA_DIR}"
ETCD_LISTEN_PEER_URLS="https://{ip}:2380"
ETCD_LISTEN_CLIENT_URLS="https://{ip}:2379,https://127.0.0.1:2379"
ETCD_LISTEN_METRICS_URLS="http://{ip}:2381"
#[Clustering]
ETCD_INITIAL_ADVERTISE_PEER_URLS="https://{ip}:2380"
ETCD_ADVERTISE_CLIENT_URLS="https://{ip}:2379"
ETCD_INITIAL_CLUSTER="{initial}"
ETCD_INITIAL_CLUSTER_TOKEN="{ETCD_TOKEN}"
ETCD_INITIAL_CLUSTER_STATE="new"
"""


def unit(description: str, exec_start: str, env_file: str | None, notify: bool = False) -> str:
    """A seed-style unit. Restart=on-failure brings a killed component back with a new MainPID (how a kill is
    proven); no start limit, or a drill killing one component several times would leave it failed. No
    LimitNOFILE: raising the hard limit needs CAP_SYS_RESOURCE, which this kind of machine lacks."""
    env = f"EnvironmentFile={env_file}\n" if env_file else ""
    return f"""[Unit]
Description={description}
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type={"notify" if notify else "simple"}
{env}ExecStart={exec_start}
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
"""


ETCD_SSL = "/opt/etcd/ssl"
K8S_SSL = "/opt/kubernetes/ssl"
K8S_CFG = "/opt/kubernetes/cfg"


def etcd_unit() -> str:
    flags = [
        f"--cert-file={ETCD_SSL}/server.pem", f"--key-file={ETCD_SSL}/server-key.pem",
        f"--peer-cert-file={ETCD_SSL}/server.pem", f"--peer-key-file={ETCD_SSL}/server-key.pem",
        f"--trusted-ca-file={ETCD_SSL}/ca.pem", f"--peer-trusted-ca-file={ETCD_SSL}/ca.pem",
        "--client-cert-auth", "--peer-client-cert-auth", "--logger=zap",
    ]  # fmt: skip
    return unit("Etcd Server", " ".join(["/opt/etcd/bin/etcd", *flags]), "/opt/etcd/cfg/etcd.conf", notify=True)


def apiserver_opts(host: str, address_of: dict[str, str]) -> list[str]:
    etcd_servers = ",".join(f"https://{address_of[h]}:2379" for h in HOSTS)  # seed 003 lists every member
    return [
        "--v=1",
        f"--etcd-servers={etcd_servers}",
        f"--etcd-cafile={ETCD_SSL}/ca.pem", f"--etcd-certfile={ETCD_SSL}/server.pem",
        f"--etcd-keyfile={ETCD_SSL}/server-key.pem",
        "--secure-port=6443", f"--advertise-address={address_of[host]}",
        "--allow-privileged=true", f"--service-cluster-ip-range={configs.SERVICE_CIDR}",
        "--enable-admission-plugins=NodeRestriction", "--authorization-mode=RBAC,Node",
        f"--client-ca-file={K8S_SSL}/ca.pem",
        f"--tls-cert-file={K8S_SSL}/server.pem", f"--tls-private-key-file={K8S_SSL}/server-key.pem",
        f"--service-account-key-file={K8S_SSL}/sa.pub", f"--service-account-signing-key-file={K8S_SSL}/sa.key",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--profiling=false",
    ]  # fmt: skip


def controller_manager_opts() -> list[str]:
    conf = f"{K8S_CFG}/kube-controller-manager.kubeconfig"
    return [
        "--v=1", f"--kubeconfig={conf}", f"--authentication-kubeconfig={conf}", f"--authorization-kubeconfig={conf}",
        "--leader-elect=true", "--cluster-name=kubernetes",
        f"--cluster-signing-cert-file={K8S_SSL}/ca.pem", f"--cluster-signing-key-file={K8S_SSL}/ca-key.pem",
        f"--root-ca-file={K8S_SSL}/ca.pem", f"--service-account-private-key-file={K8S_SSL}/sa.key",
        "--use-service-account-credentials=true",
    ]  # fmt: skip


def scheduler_opts() -> list[str]:
    conf = f"{K8S_CFG}/kube-scheduler.kubeconfig"
    return ["--v=1", f"--kubeconfig={conf}", f"--authentication-kubeconfig={conf}",
            f"--authorization-kubeconfig={conf}", "--leader-elect=true"]  # fmt: skip


def opts_file(variable: str, opts: list[str]) -> str:
    """``/opt/kubernetes/cfg/<component>.conf``: the seed's ``KUBE_…_OPTS="…"`` for ``$KUBE_…_OPTS``."""
    return f'{variable}="{" ".join(opts)}"\n'


def k8s_unit(component: str, variable: str) -> str:
    return unit(
        f"Kubernetes {component}", f"/opt/kubernetes/bin/{component} ${variable}", f"{K8S_CFG}/{component}.conf"
    )


def haproxy_cfg(address_of: dict[str, str]) -> str:
    """Seed 004's HAProxy (TCP round robin over the three API servers), checked as kubedrill's other load
    balancers are: ``/readyz`` every 500 ms, out after 2 failures, sessions cut (the seed's plain TCP check every
    2 s, out after 3, keeps a dead API server in rotation for 6 s), and every server again as an unchecked backup
    for when all fail their checks at once (``configs.fail_open_backups``)."""
    servers = "\n".join(f"    server {h} {address_of[h]}:6443 check check-ssl verify none" for h in HOSTS)
    servers += "\n" + configs.fail_open_backups([(h, f"{address_of[h]}:6443", "") for h in HOSTS])
    return f"""global
    maxconn 4000

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check {configs.HAPROXY_CHECK_INTER_MS}ms
    retries 2
    option redispatch

frontend k8s-api
    bind *:6443
    default_backend k8s-api-servers

backend k8s-api-servers
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {configs.HAPROXY_CHECK_INTER_MS} rise {configs.HAPROXY_RISE} fall {configs.HAPROXY_FALL} \
on-marked-down shutdown-sessions
{servers}
"""


def from_example(
    example: dict[str, Any],
    address_of: dict[str, str],
    lb: str,
    identity_file: str,
    host_key: str,
    known_hosts: str,
    user: str = SSH_USER,
    worker_address_of: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An example inventory (``ci/inventory*.example.yaml``) made to describe hosts started here (pure): the
    example's nodes, in order, become ``address_of``'s (renamed where the names differ), reached as ``user`` with
    ``identity_file``, the first with its ``host_key`` pinned and the others trusted on first use into
    ``known_hosts``; its workers become ``worker_address_of``'s likewise, or are left out without it. Everything
    else (runtime, units, etcd's paths and data dir, become, Prometheus' job matchers) is the example's own: what
    the tests run is what the examples show."""
    names = list(address_of)
    if len(example["nodes"]) != len(names):
        raise LocalClusterError(f"the example describes {len(example['nodes'])} nodes, {len(names)} were started")
    nodes: dict[str, dict[str, Any]] = {}
    for i, (name, spec) in enumerate(zip(names, example["nodes"].values(), strict=True)):
        nodes[name] = {**spec, "address": address_of[name], "user": user, "identity_file": identity_file}
        nodes[name].pop("host_key", None)
        if i == 0:
            nodes[name]["host_key"] = host_key
    etcd = {**example["etcd"], "endpoints": {n: f"https://{address_of[n]}:2379" for n in names}}
    inventory = {**example, "nodes": nodes, "known_hosts": known_hosts, "lb_addresses": [lb], "etcd": etcd}
    inventory.pop("workers", None)
    if worker_address_of:  # the example's workers, likewise: in order, trusted on first use
        if len(example.get("workers", {})) != len(worker_address_of):
            raise LocalClusterError(f"the example describes {len(example.get('workers', {}))} workers, "
                                    f"{len(worker_address_of)} were started")  # fmt: skip
        inventory["workers"] = {
            name: {**spec, "address": worker_address_of[name], "user": user, "identity_file": identity_file}
            for name, spec in zip(worker_address_of, example["workers"].values(), strict=True)
        }
    return inventory


# ---------------------------------------------------------------- building the hosts


def docker(*argv: str, timeout_s: float = 120.0, check: bool = True) -> shell.Result:
    return shell.run(["docker", *argv], timeout_s=timeout_s, check=check)


def exec_script(name: str, script: str, timeout_s: float = 120.0) -> str:
    return docker("exec", name, "sh", "-c", script, timeout_s=timeout_s).stdout


def open_ssh(name: str, public_key: str, user: str = SSH_USER) -> str:
    """sshd on container ``name`` with host keys of its own, and ``user`` (passwordless sudo) logging in with
    ``public_key``. Returns the host's ed25519 key as ``type base64`` (what an inventory pins)."""
    script = (
        f"ssh-keygen -A >/dev/null && (id {user} >/dev/null 2>&1 || useradd -m -s /bin/sh {user}) && "
        f"echo '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{user} && "
        f"install -d -m 700 -o {user} /home/{user}/.ssh && "
        f"echo {shlex.quote(public_key)} > /home/{user}/.ssh/authorized_keys && "
        f"chown {user} /home/{user}/.ssh/authorized_keys && systemctl start ssh && "
        "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub"
    )
    return exec_script(name, script).strip()


def close_ssh(name: str, user: str = SSH_USER) -> None:
    """Undo ``open_ssh``: sshd stopped, the user and its sudo rule gone, the host keys removed."""
    script = (
        f"systemctl stop ssh; userdel -r {user} 2>/dev/null; rm -f /etc/sudoers.d/{user} /etc/ssh/ssh_host_*; "
        "rm -rf /var/lib/kubedrill"
    )
    docker("exec", name, "sh", "-c", script, check=False)


def _pki(directory: Path, address_of: dict[str, str], lb: str) -> None:
    """cfssl's file names as seed 003 uses them: ``ca.pem``/``ca-key.pem``, ``server.pem``/``server-key.pem``."""
    etcd_dir, k8s_dir = directory / "etcd", directory / "kubernetes"
    ips = tuple(address_of[h] for h in HOSTS)
    etcd_ca = pki.Authority.create(etcd_dir, "ca", "etcd-ca")
    etcd_ca.issue(etcd_dir / "server", "etcd", server=True, client=True, dns=("localhost", *HOSTS),
                  ips=(*ips, "127.0.0.1"))  # fmt: skip
    ca = pki.Authority.create(k8s_dir, "ca", "kubernetes")
    # The server's CN must differ from the CA's: OpenSSL takes a certificate whose subject is its issuer's name
    # for a self-signed one and refuses it (Go's TLS, kubectl's, does not).
    names = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", *HOSTS)  # fmt: skip
    server_ips = (*ips, lb, "127.0.0.1", configs.SERVICE_IP)
    ca.issue(k8s_dir / "server", "kube-apiserver", server=True, dns=names, ips=server_ips)
    ca.issue(k8s_dir / "admin", "admin", org="system:masters", client=True)
    ca.issue(k8s_dir / "kube-controller-manager", "system:kube-controller-manager", client=True)
    ca.issue(k8s_dir / "kube-scheduler", "system:kube-scheduler", client=True)
    ca.issue(k8s_dir / "kwok", "kwok-controller", org="system:masters", client=True)
    ca.issue(k8s_dir / "prometheus", "prometheus", org="system:monitoring", client=True)
    pki.service_account_keys(k8s_dir)


def _pem_name(path: Path) -> str:
    """``server.crt`` → ``server.pem``, ``server.key`` → ``server-key.pem`` (cfssl's names)."""
    return (
        f"{path.stem}.pem" if path.suffix == ".crt" else f"{path.stem}-key.pem" if path.suffix == ".key" else path.name
    )


def _stage_host(
    host: str, address_of: dict[str, str], lb: str, pki_dir: Path, bins: dict[str, Path], work: Path
) -> Path:
    """The host's files as a tree (root: ``/``) in ``work``: binaries, certificates, options, units."""
    root = work / host
    for d in ("opt/etcd/bin", "opt/etcd/cfg", "opt/etcd/ssl", "opt/kubernetes/bin", "opt/kubernetes/cfg",
              "opt/kubernetes/ssl", "usr/lib/systemd/system", "var/lib/etcd"):  # fmt: skip
        (root / d).mkdir(parents=True, exist_ok=True)
    for name in ("etcd", "etcdctl", "etcdutl"):
        shutil.copy2(bins[name], root / "opt/etcd/bin" / name)
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        shutil.copy2(bins[name], root / "opt/kubernetes/bin" / name)
    for f in (pki_dir / "etcd").iterdir():
        shutil.copy2(f, root / "opt/etcd/ssl" / _pem_name(f))
    for f in (pki_dir / "kubernetes").iterdir():
        if f.name in ("sa.key", "sa.pub"):
            shutil.copy2(f, root / "opt/kubernetes/ssl" / f.name)
        else:
            shutil.copy2(f, root / "opt/kubernetes/ssl" / _pem_name(f))
    ip = address_of[host]
    ca = f"{K8S_SSL}/ca.pem"
    for component in ("kube-controller-manager", "kube-scheduler"):
        cert, key = f"{K8S_SSL}/{component}.pem", f"{K8S_SSL}/{component}-key.pem"
        (root / f"opt/kubernetes/cfg/{component}.kubeconfig").write_text(
            configs.kubeconfig(f"https://{ip}:6443", Path(ca), Path(cert), Path(key), f"system:{component}")
        )
    (root / "opt/etcd/cfg/etcd.conf").write_text(etcd_conf(host, address_of))
    systemd = root / "usr/lib/systemd/system"
    (systemd / "etcd.service").write_text(etcd_unit())
    for component, variable, opts in (
        ("kube-apiserver", "KUBE_APISERVER_OPTS", apiserver_opts(host, address_of)),
        ("kube-controller-manager", "KUBE_CONTROLLER_MANAGER_OPTS", controller_manager_opts()),
        ("kube-scheduler", "KUBE_SCHEDULER_OPTS", scheduler_opts()),
    ):
        (root / f"opt/kubernetes/cfg/{component}.conf").write_text(opts_file(variable, opts))
        (systemd / f"{component}.service").write_text(k8s_unit(component, variable))
    if host == HOSTS[0]:
        _stage_kwok(root, lb, bins)
    return root


def _stage_kwok(root: Path, lb: str, bins: dict[str, Path]) -> None:
    (root / "opt/kwok/stages").mkdir(parents=True, exist_ok=True)
    shutil.copy2(bins["kwok"], root / "opt/kwok/kwok")
    stages = bins["kwok"].parent / "assets" / "kustomize" / "stage"
    files = ["node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
             "pod/fast/pod-ready.yaml", "pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"]  # fmt: skip
    for i, f in enumerate(files):
        shutil.copy2(stages / f, root / f"opt/kwok/stages/{i}-{Path(f).name}")
    conf = "/opt/kwok/kwok.kubeconfig"
    (root / conf.lstrip("/")).write_text(
        configs.kubeconfig(
            f"https://{lb}:6443",
            Path(f"{K8S_SSL}/ca.pem"),
            Path(f"{K8S_SSL}/kwok.pem"),
            Path(f"{K8S_SSL}/kwok-key.pem"),
            "kwok",
        )
    )
    argv = ["/opt/kwok/kwok", f"--kubeconfig={conf}",
            *(f"--config=/opt/kwok/stages/{i}-{Path(f).name}" for i, f in enumerate(files)),
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds=40", "--cidr=10.244.0.0/16"]  # fmt: skip
    (root / f"usr/lib/systemd/system/{KUBELET_UNIT}.service").write_text(
        unit("KWOK: plays the workers' kubelets", " ".join(argv), None)
    )


@dataclass(frozen=True)
class BinaryInstall:
    """The binary-install cluster, up: what a drill run against it needs."""

    work: Path
    address_of: dict[str, str]
    lb: str
    kubeconfig: Path
    inventory: Path
    prometheus_url: str
    identity_file: Path

    def env(self) -> dict[str, str]:
        """What ``pytest drills/`` is given to run against this cluster through ssh."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "KUBEDRILL_CONTEXT": CONTEXT,
            "KUBEDRILL_BACKEND": "ssh",
            "KUBEDRILL_INVENTORY": str(self.inventory),
            "KUBEDRILL_PROMETHEUS_URL": self.prometheus_url,
            "KUBEDRILL_ALLOW_CONTEXT": CONTEXT,
        }


def _start(name: str, image: str, hostname: str) -> None:
    docker("run", "-d", "--name", name, "--hostname", hostname, "--network", NETWORK, "--label", LABEL,
           "--privileged", "--cgroupns=private", "--tmpfs", "/tmp", "--tmpfs", "/run",
           "-v", "/lib/modules:/lib/modules:ro", image)  # fmt: skip


def up(work: Path, example: dict[str, Any], progress: Progress = print) -> BinaryInstall:
    """Build and start the three hosts, the load balancer and Prometheus, described by ``example`` (an example
    inventory, see ``from_example``); return once every API server is ready, the workers are Ready and
    Prometheus scrapes every target."""
    start = time.monotonic()
    down()
    base = nodeimage.ensure_base(progress)
    lb_image = nodeimage.ensure_load_balancer(progress)
    bins = {**build.ensure_group("etcd", progress), **build.ensure_group("kubernetes", progress),
            **build.ensure_group("kwok", progress)}  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    docker("network", "create", "--label", LABEL, NETWORK)
    for host in HOSTS:
        _start(container(host), base, host)
    docker("create", "--name", LB_CONTAINER, "--hostname", "lb", "--network", NETWORK, "--label", LABEL, lb_image)
    access = DockerExecAccess()
    address_of = {h: access.container_address(container(h)) or "" for h in HOSTS}
    for host in HOSTS:
        nodeimage.wait_running(container(host))
    (work / "haproxy.cfg").write_text(haproxy_cfg(address_of))
    docker("cp", str(work / "haproxy.cfg"), f"{LB_CONTAINER}:/{nodeimage.LB_CONFIG}")
    docker("start", LB_CONTAINER)
    lb = access.container_address(LB_CONTAINER) or ""
    pki_dir = work / "pki"
    _pki(pki_dir, address_of, lb)
    with tempfile.TemporaryDirectory(prefix="kubedrill-hosts-") as staging:
        for host in HOSTS:
            root = _stage_host(host, address_of, lb, pki_dir, bins, Path(staging))
            archive = Path(staging) / f"{host}.tar"  # to /var/tmp: docker cp cannot write into the /tmp tmpfs
            shell.run(["tar", "-C", str(root), "-cf", str(archive), "."], timeout_s=300)
            docker("cp", str(archive), f"{container(host)}:/var/tmp/host.tar", timeout_s=300)
            exec_script(container(host), "tar -C / --no-same-owner -xf /var/tmp/host.tar && rm /var/tmp/host.tar "
                        "&& chmod 600 /opt/etcd/ssl/*-key.pem /opt/kubernetes/ssl/*-key.pem /opt/kubernetes/ssl/sa.key "
                        "&& systemctl daemon-reload")  # fmt: skip
    progress(f"hosts {', '.join(f'{h} {address_of[h]}' for h in HOSTS)}, load balancer {lb}")
    # etcd's members wait for each other (Type=notify): start all three without waiting, then the rest.
    for host in HOSTS:
        exec_script(container(host), "systemctl enable etcd kube-apiserver kube-controller-manager kube-scheduler "
                    "&& systemctl start --no-block etcd && systemctl start --no-block kube-apiserver "
                    "kube-controller-manager kube-scheduler")  # fmt: skip
    kubeconfig = work / "kubeconfig"
    k8s = pki_dir / "kubernetes"
    kubeconfig.write_text(
        configs.kubeconfig(
            f"https://{lb}:6443", k8s / "ca.crt", k8s / "admin.crt", k8s / "admin.key", "admin", context=CONTEXT
        )
    )
    kubeconfig.chmod(0o600)
    _wait_api(kubeconfig)
    _register_nodes(kubeconfig, address_of)
    exec_script(container(HOSTS[0]), f"systemctl enable --now {KUBELET_UNIT}")
    identity = work / "id_ed25519"
    if not identity.exists():
        shell.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(identity)])
    public = (work / "id_ed25519.pub").read_text().strip()
    keys = {h: open_ssh(container(h), public) for h in HOSTS}
    inv = work / "inventory.yaml"
    inv.write_text(
        yaml.safe_dump(
            from_example(example, address_of, lb, str(identity), keys[HOSTS[0]], str(work / "known_hosts")),
            sort_keys=False,
        )
    )
    prometheus_url = _start_prometheus(work, address_of, k8s)
    cluster = BinaryInstall(work, address_of, lb, kubeconfig, inv, prometheus_url, identity)
    _wait_ready(cluster)
    progress(f"binary-install cluster up in {time.monotonic() - start:.0f} s")
    return cluster


def _kubectl(kubeconfig: Path, *args: str, timeout_s: float = 60.0, check: bool = True) -> shell.Result:
    kubectl = build.ensure_group("kubernetes", print)["kubectl"]
    return shell.run([str(kubectl), f"--kubeconfig={kubeconfig}", *args], timeout_s=timeout_s, check=check)


def _wait_api(kubeconfig: Path) -> None:
    wait_until(
        "the binary-install API answering through HAProxy",
        lambda: _kubectl(kubeconfig, "get", "--raw", "/readyz", check=False).ok,
        bool,
        timeout_s=READY_TIMEOUT_S,
        interval_s=1.0,
    )


def _register_nodes(kubeconfig: Path, address_of: dict[str, str]) -> None:
    """Node objects for the three hosts (control planes, tainted) and the fake workers KWOK keeps Ready."""
    items = []
    for name, cp in [(h, True) for h in HOSTS] + [(w, False) for w in WORKERS]:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}
        if cp:
            labels["node-role.kubernetes.io/control-plane"] = ""
        addresses = [{"type": "Hostname", "address": name}]
        if cp:
            addresses.insert(0, {"type": "InternalIP", "address": address_of[name]})
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
                     if cp else []},
            "status": {"addresses": addresses,
                       "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"}},
        })  # fmt: skip
    manifest = kubeconfig.parent / "nodes.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    _kubectl(kubeconfig, "apply", "-f", str(manifest))


def prometheus_yml(address_of: dict[str, str], k8s: Path, rules: Path) -> str:
    """Jobs ``etcd`` (each member's metrics URL) and ``apiserver`` (each API server, with a client cert)."""
    doc = {
        "global": {"scrape_interval": f"{configs.SCRAPE_INTERVAL_S}s",
                   "evaluation_interval": f"{configs.SCRAPE_INTERVAL_S}s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": "etcd",
             "static_configs": [{"targets": [f"{address_of[h]}:2381"], "labels": {"node": h}} for h in HOSTS]},
            {"job_name": "apiserver", "scheme": "https",
             "scrape_interval": f"{configs.APISERVER_SCRAPE_INTERVAL_S}s",
             "scrape_timeout": f"{configs.APISERVER_SCRAPE_INTERVAL_S}s",
             "tls_config": {"ca_file": str(k8s / "ca.crt"), "cert_file": str(k8s / "prometheus.crt"),
                            "key_file": str(k8s / "prometheus.key")},
             "static_configs": [{"targets": [f"{address_of[h]}:6443"], "labels": {"node": h}} for h in HOSTS]},
        ],
    }  # fmt: skip
    return yaml.safe_dump(doc, sort_keys=False)


def _start_prometheus(work: Path, address_of: dict[str, str], k8s: Path) -> str:
    rules = work / "rules.yml"
    shutil.copyfile(Path(__file__).parent / "rules.yml", rules)
    (work / "prometheus.yml").write_text(prometheus_yml(address_of, k8s, rules))
    port = PROMETHEUS_PORT
    argv = ["prometheus", f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]  # fmt: skip
    spawned = shell.spawn(argv, log_path=work / "prometheus.log")
    prometheus_pid_file().parent.mkdir(parents=True, exist_ok=True)
    prometheus_pid_file().write_text(str(spawned.pid))
    return f"http://127.0.0.1:{port}"


def targets_complete(targets: list[Target]) -> bool:
    """Both jobs scraped on every host, every target up."""
    jobs = [t.job for t in targets]
    return all(jobs.count(j) == len(HOSTS) for j in ("etcd", "apiserver")) and all(t.health == "up" for t in targets)


def _wait_ready(cluster: BinaryInstall) -> None:
    def workers_ready() -> bool:
        out = _kubectl(cluster.kubeconfig, "get", "nodes", "--no-headers", check=False).stdout
        return len([line for line in out.splitlines() if " Ready " in line]) == len(HOSTS) + len(WORKERS)

    wait_until("every Node Ready (KWOK)", workers_ready, bool, timeout_s=READY_TIMEOUT_S, interval_s=1.0)
    prom = Prometheus(cluster.prometheus_url, timeout_s=3)
    try:
        wait_until(f"Prometheus ready at {cluster.prometheus_url}", prom.ready, bool, timeout_s=60, interval_s=1.0)
    finally:
        prom.close()
    health.wait_targets(cluster.prometheus_url, targets_complete, "etcd and API servers scraped on every host",
                        READY_TIMEOUT_S, 1.0)  # fmt: skip


def prometheus_pid_file() -> Path:
    """One place for every run's Prometheus (it listens on one fixed port), whichever work directory it used."""
    return paths.state_home() / "hosts" / "prometheus.pid"


def down() -> list[str]:
    """Remove every container and the network this module made, and stop its Prometheus. The work directory is
    kept: it holds the logs, the inventory and the certificates a failed test leaves for reading."""
    removed = []
    pid_file = prometheus_pid_file()
    if pid_file.exists():
        shell.run(["kill", pid_file.read_text().strip()], check=False)
        pid_file.unlink()
        removed.append("prometheus")
    names = docker("ps", "-a", "-q", "--filter", f"label={LABEL}", check=False).stdout.split()
    if names:
        docker("rm", "-f", "-v", *names, timeout_s=300)
        removed += names
    if docker("network", "inspect", NETWORK, check=False).ok:
        docker("network", "rm", NETWORK)
        removed.append(NETWORK)
    return removed
