"""kind's node image, built on this machine: no container registry is reachable, so ``kindest/node`` cannot
be pulled, and kind's own Dockerfile cannot run (it clones repositories and pulls a base image).

Built in two layers: the node *base* (kind's node model without Kubernetes), then the *node*.

1. A Debian root filesystem from ``debootstrap`` (Debian's mirror is reachable), with systemd as PID 1,
   containerd, runc, the CNI plugins and the tools kubeadm's pre-flight wants (``BASE_PACKAGES``).
2. kind's own base files, taken from kind's Go module at the version kubedrill pins (the ``kind`` group's
   assets in versions.toml): the entrypoint, the containerd, kubelet and sysctl configuration, the systemd
   units and ``/kind/bin`` scripts.
3. What this kind of machine needs on top (the project's notes on kind here): containerd's CRI with
   ``restrict_oom_score_adj = true`` (a negative OOM score needs CAP_SYS_RESOURCE, which is missing), the
   sandbox image kubeadm v1.34 names (pause:3.10.1), Debian's containerd where kind's unit expects it.
4. ``docker import`` as ``kubedrill/node-base:<key>``, with kind's entrypoint and ``container=docker``
   (``docker import`` takes no STOPSIGNAL: kind and kubedrill remove nodes with ``docker rm -f``). The key
   hashes every input (suite, mirror, packages, kind's files, these fixes), so the image is rebuilt only
   when one changes; the root filesystem's tarball is kept in kubedrill's cache, so a new engine (or
   ``docker image rm``) costs an import, not a debootstrap (measured here: 50 s to build, 10 s to import).

5. The node (``ensure_node``): on the base, kubelet, kubeadm, kubectl and crictl built from their Go modules,
   and the images ``kubeadm config images list`` names, made here from the same binaries (pause from a static
   C program) and preloaded into containerd, as ``kind build node-image`` would; committed as
   ``kubedrill/node:<key>``. ``kind create cluster --image`` then runs kubeadm's control plane as static
   pods under a real kubelet.

Still to come (issue 15): CoreDNS's image, a CNI that enforces NetworkPolicy, Prometheus' images.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kubedrill.backends import kind_cli, shell
from kubedrill.errors import LocalClusterError
from kubedrill.local import apt, build
from kubedrill.waiting import wait_until

Progress = Callable[[str], None]

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "containerd", "runc", "containernetworking-plugins",
    "conntrack", "iptables", "nftables", "iproute2", "ethtool", "socat", "util-linux", "mount", "kmod",
    "libseccomp2", "pigz", "e2fsprogs", "bash", "ca-certificates", "jq", "procps",
    # For the ssh backend's tests only (issue 16): a node reached as a real host. Not started at boot, and
    # with no host keys in the image: whoever starts sshd makes the node's own keys first (ssh-keygen -A).
    "openssh-server", "sudo",
)  # fmt: skip
KIND_FILES = "images/base/files"  # in kind's module: the kind group's assets (versions.toml)
# kind's files: where each goes in the image, and its mode.
LAYOUT = {
    "usr/local/bin/entrypoint": 0o755,
    "etc/containerd/config.toml": 0o644,
    "etc/crictl.yaml": 0o644,
    "etc/default/kubelet": 0o644,
    "etc/sysctl.d/10-network-magic.conf": 0o644,
    "etc/sysctl.d/10-network-security.conf": 0o644,
    "etc/systemd/system/containerd.service": 0o644,
    "etc/systemd/system/kubelet.service": 0o644,
    "etc/systemd/system/kubelet.slice": 0o644,
    "etc/systemd/system/undo-mount-hacks.service": 0o644,
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf": 0o644,
    "etc/systemd/system/kubelet.service.d/11-kind.conf": 0o644,
    "kind/bin/create-kubelet-cgroup-v2.sh": 0o755,
    "kind/bin/mount-product-files.sh": 0o755,
    "kind/bin/undo-mount-hacks.sh": 0o755,
}
# containerd's CRI settings this machine needs, as (kind's line, ours).
CONTAINERD_FIXES = (
    ("restrict_oom_score_adj = false", "restrict_oom_score_adj = true"),
    ('sandbox_image = "registry.k8s.io/pause:3.10"', 'sandbox_image = "registry.k8s.io/pause:3.10.1"'),
)
# containerd's CRI looks for CNI plugins in /opt/cni/bin (kind's image puts them there); Debian installs them
# in /usr/lib/cni.
CNI_BIN_LINK = ("opt/cni/bin", "/usr/lib/cni")
REPOSITORY = "kubedrill/node-base"
ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]'
# On every image kubedrill builds: what `kubedrill down --provider kind` may remove (docker image ls --filter).
BUILT_LABEL = "io.kubedrill.built"
DEBOOTSTRAP_TIMEOUT_S = 1800.0


def kind_files(progress: Progress) -> Path:
    """kind's base files, from its Go module (building the kind CLI the first time, as ``up --provider kind``)."""
    group = build.ensure_group("kind", progress)
    root = group["kind"].parent / "assets" / KIND_FILES
    missing = [rel for rel in LAYOUT if not (root / rel).is_file()]
    if missing:
        raise LocalClusterError(f"kind's module lacks {missing} under {root}: check the kind group's assets")
    return root


def image_key(files: Path) -> str:
    """What the image is made of, hashed: change any input and the tag changes."""
    digest = hashlib.sha256()
    digest.update(json.dumps([SUITE, MIRROR, BASE_PACKAGES, CONTAINERD_FIXES, CNI_BIN_LINK, ENTRYPOINT]).encode())
    for rel in sorted(LAYOUT):
        digest.update(rel.encode() + b"\0" + (files / rel).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def tag(key: str) -> str:
    return f"{REPOSITORY}:{key}"


def cache_dir() -> Path:
    return build.cache_root() / "images"


def containerd_config(kind_config: str) -> str:
    """kind's containerd config with this machine's fixes; refuses a config whose lines have moved (pure)."""
    text = kind_config
    for theirs, ours in CONTAINERD_FIXES:
        if theirs not in text:
            raise LocalClusterError(f"kind's containerd config.toml has no line {theirs!r} to change: update the fixes")
        text = text.replace(theirs, ours)
    return text


def cri_base_spec(oci_spec: dict[str, object]) -> dict[str, object]:
    """containerd's base runtime spec as kind makes it: ``ctr oci spec`` plus kind's product-files hook,
    without rlimits (pure)."""
    spec = json.loads(json.dumps(oci_spec))
    hooks = spec.setdefault("hooks", {})
    hooks.setdefault("createContainer", []).append({"path": "/kind/bin/mount-product-files.sh"})
    spec.get("process", {}).pop("rlimits", None)
    return dict(spec)


def _debootstrap(rootfs: Path, progress: Progress) -> None:
    if shutil.which("debootstrap") is None:
        apt.install(["debootstrap"], progress)
    progress(f"debootstrap {SUITE} with {len(BASE_PACKAGES)} packages from {MIRROR} (first time only)")
    shell.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs), MIRROR],
        timeout_s=DEBOOTSTRAP_TIMEOUT_S,
    )


def _configure(rootfs: Path, files: Path) -> None:
    """kind's files and this machine's fixes into the root filesystem; systemd's units as kind enables them."""
    for rel, mode in LAYOUT.items():
        target = rootfs / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files / rel, target)
        target.chmod(mode)
    config = rootfs / "etc/containerd/config.toml"
    config.write_text(containerd_config(config.read_text()))
    # kind's containerd unit runs /usr/local/bin/containerd; Debian installs it in /usr/bin.
    (rootfs / "usr/local/bin/containerd").symlink_to("/usr/bin/containerd")
    cni_bin, cni_plugins = CNI_BIN_LINK
    (rootfs / cni_bin).parent.mkdir(parents=True, exist_ok=True)
    (rootfs / cni_bin).symlink_to(cni_plugins)
    spec = json.loads(shell.run(["chroot", str(rootfs), "ctr", "oci", "spec"]).stdout)
    (rootfs / "etc/containerd/cri-base.json").write_text(json.dumps(cri_base_spec(spec), indent=2))
    # Only what a node needs starts at boot: kind removes every other unit's wants.
    for wants in ("lib/systemd/system/multi-user.target.wants", "etc/systemd/system/multi-user.target.wants",
                  "lib/systemd/system/local-fs.target.wants", "lib/systemd/system/basic.target.wants"):  # fmt: skip
        for link in (rootfs / wants).glob("*"):
            link.unlink()
    tmpfiles = rootfs / "lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service"
    tmpfiles.unlink(missing_ok=True)
    shell.run(["chroot", str(rootfs), "systemctl", "enable", "containerd.service", "undo-mount-hacks.service"])
    shell.run(["chroot", str(rootfs), "systemctl", "mask", "systemd-binfmt.service"])
    with (rootfs / "etc/systemd/journald.conf").open("a") as journald:
        journald.write("ReadKMsg=no\n")
    (rootfs / "etc/kubernetes/manifests").mkdir(parents=True, exist_ok=True)
    for host_key in (rootfs / "etc/ssh").glob("ssh_host_*"):  # every node would share the image's keys
        host_key.unlink()
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()


def _tar(rootfs: Path, tarball: Path) -> None:
    """A root filesystem as one layer, owners kept by number (the image's users are not this machine's)."""
    shell.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], timeout_s=600)


def _docker_import(tarball: Path, image: str, *changes: str) -> None:
    """``docker import`` with Dockerfile-style ``changes`` (ENV, ENTRYPOINT; docker import refuses STOPSIGNAL)."""
    shell.run(["docker", "import", *(a for c in changes for a in ("--change", c)), str(tarball), image], timeout_s=600)


def image_present(image: str) -> bool:
    return shell.run(["docker", "image", "inspect", image], check=False, timeout_s=60).ok


def is_built_here(image: str) -> bool:
    """Whether ``image`` is one kubedrill built (its label), rather than one pulled from a registry."""
    out = shell.run(["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{BUILT_LABEL}"}}}}', image],
                    check=False, timeout_s=60)  # fmt: skip
    return out.ok and out.stdout.strip() == "true"


def ensure_base(progress: Progress) -> str:
    """The node base image in the engine: present, imported from the cached tarball, or built. Returns its tag."""
    files = kind_files(progress)
    image = tag(image_key(files))
    if image_present(image):
        return image
    tarball = cache_dir() / f"node-base-{image.split(':')[1]}.tar"
    if not tarball.is_file():
        start = time.monotonic()
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kubedrill-rootfs-", dir=cache_dir()) as work:
            rootfs = Path(work) / "rootfs"
            _debootstrap(rootfs, progress)
            _configure(rootfs, files)
            partial = tarball.with_suffix(".partial")
            _tar(rootfs, partial)
            partial.rename(tarball)
        progress(f"node base root filesystem built in {time.monotonic() - start:.0f} s: {tarball}")
    _docker_import(tarball, image, "ENV container=docker", f"LABEL {BUILT_LABEL}=true", f"ENTRYPOINT {ENTRYPOINT}")
    progress(f"imported {image}")
    return image


# ---------------------------------------------------------------- the node: Kubernetes on the base

NODE_REPOSITORY = "kubedrill/node"
KUBERNETES_VERSION = "v1.34.4"  # the kubernetes groups' version (versions.toml): what /kind/version says
# A sandbox's pause process: sleeps until told to stop. Built here (gcc -static) as kubeadm's pause image.
PAUSE_C = """#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; exit(0); }
int main(void) { signal(SIGINT, stop); signal(SIGTERM, stop); for (;;) pause(); }
"""
# Each image kubeadm v1.34 runs, by repository: from which build group, which binaries, and the entrypoint
# (kubeadm's static pod manifests and kube-proxy's DaemonSet call the binary by name, so /usr/local/bin on
# PATH is all those images need; CoreDNS's Deployment passes only arguments).
COMPONENT_IMAGES: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "kube-apiserver": ("kubernetes", ("kube-apiserver",), None),
    "kube-controller-manager": ("kubernetes", ("kube-controller-manager",), None),
    "kube-scheduler": ("kubernetes", ("kube-scheduler",), None),
    "kube-proxy": ("kubernetes-node", ("kube-proxy",), None),
    "etcd": ("etcd", ("etcd", "etcdctl", "etcdutl"), None),
    "coredns": ("coredns", ("coredns",), '["/usr/local/bin/coredns"]'),
}
# Images the cluster runs besides kubeadm's, under the names their manifests give (ci/prometheus/ and
# ci/cni/), each built from the same release as the official image: image → (group, binary, path, and the
# official image's ENTRYPOINT or CMD: kube-network-policies' manifest names the binary in its args).
# tests/unit/test_ci_files.py checks that every image those manifests name is here.
EXTRA_IMAGES: dict[str, tuple[str, str, str, str]] = {
    "registry.k8s.io/networking/kube-network-policies:v0.8.0": (
        "kube-network-policies", "netpol", "bin/netpol", 'CMD ["/bin/netpol"]'),
    "docker.io/cloudnativelabs/kube-router:v2.1.0": (
        "kube-router", "kube-router", "usr/local/bin/kube-router", 'ENTRYPOINT ["/usr/local/bin/kube-router"]'),
    "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.18.0": (
        "kube-state-metrics", "kube-state-metrics", "kube-state-metrics", 'ENTRYPOINT ["/kube-state-metrics"]'),
    "quay.io/prometheus/prometheus:v3.13.5": (
        "prometheus", "prometheus", "bin/prometheus", 'ENTRYPOINT ["/bin/prometheus"]'),
}  # fmt: skip
# kube-proxy and kube-router program the node's iptables: their official images carry iptables (nft and legacy,
# with a wrapper choosing the node's). Here they get the node image's own: Debian's iptables in nf_tables mode,
# the mode kind's entrypoint selects on these nodes (more nft rules than legacy ones), its extensions (loaded
# with dlopen, so not in ldd's list), and each the tools it calls (conntrack; ipset), staged from this machine's
# Debian packages (installed on demand).
XTABLES_IMAGES = {"kube-proxy": ("xtables-nft-multi", "conntrack"), "kube-router": ("xtables-nft-multi", "ipset")}
KUBE_PROXY_IPTABLES = (
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
)
XTABLES_EXTENSIONS = Path("/usr/lib/x86_64-linux-gnu/xtables")
NODE_GROUPS = ("kubernetes", "kubernetes-node", "etcd", "cri-tools", "coredns", "kube-network-policies",
               "kube-router", "kube-state-metrics", "prometheus")  # fmt: skip
BOOT_TIMEOUT_S = 120.0


def images_for(kubeadm_list: str) -> dict[str, str]:
    """``kubeadm config images list`` → {repository basename: full image name} (pure)."""
    out = {}
    for line in kubeadm_list.split():
        name = line.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        out[name] = line
    return out


def _binaries(progress: Progress) -> dict[str, dict[str, Path]]:
    return {group: build.ensure_group(group, progress) for group in NODE_GROUPS}


def node_key(base: str, binaries: dict[str, dict[str, Path]]) -> str:
    """The base image's key, the build groups' cache keys (their directories' names) and this recipe (this
    file: the images it makes and how it stages binaries into them)."""
    digest = hashlib.sha256(base.encode() + Path(__file__).read_bytes())
    for group in sorted(binaries):
        digest.update(next(iter(binaries[group].values())).parent.name.encode())
    return digest.hexdigest()[:12]


def _import_image(rootfs: Path, name: str, *changes: str) -> None:
    (rootfs / "tmp").mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    )
    (rootfs / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    tarball = rootfs.with_suffix(".tar")
    _tar(rootfs, tarball)
    _docker_import(tarball, name, f"LABEL {BUILT_LABEL}=true", *changes)


def _stage_iptables(rootfs: Path, repository: str, progress: Progress) -> None:
    multi = _stage(rootfs, XTABLES_IMAGES[repository], f"{repository}'s image", progress)["xtables-nft-multi"]
    for name in KUBE_PROXY_IPTABLES:
        (rootfs / "usr/sbin" / name).symlink_to(multi.name)
    for extension in sorted(XTABLES_EXTENSIONS.glob("*.so")):  # with their own libraries (libm, libnetfilter_*)
        _stage_file(rootfs, extension)


def _component_images(binaries: dict[str, dict[str, Path]], work: Path, progress: Progress) -> list[str]:
    """The images kubeadm pulls, made here from the binaries kubedrill builds; returns their names."""
    listed = shell.run(
        [str(binaries["kubernetes-node"]["kubeadm"]), "config", "images", "list",
         f"--kubernetes-version={KUBERNETES_VERSION}"],
    ).stdout  # fmt: skip
    wanted = images_for(listed)
    made = []
    for repository, (group, names, entrypoint) in COMPONENT_IMAGES.items():
        rootfs = work / repository
        (rootfs / "usr/local/bin").mkdir(parents=True)
        for name in names:
            shutil.copy2(binaries[group][name], rootfs / "usr/local/bin" / name)
        if repository in XTABLES_IMAGES:
            _stage_iptables(rootfs, repository, progress)
        _import_image(rootfs, wanted[repository], *([f"ENTRYPOINT {entrypoint}"] if entrypoint else []))
        made.append(wanted[repository])
    for image, (group, name, path, change) in EXTRA_IMAGES.items():
        repository = image.rsplit("/", 1)[-1].split(":")[0]
        rootfs = work / repository
        (rootfs / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binaries[group][name], rootfs / path)
        if repository in XTABLES_IMAGES:
            _stage_iptables(rootfs, repository, progress)
        _import_image(rootfs, image, change)
        made.append(image)
    pause = work / "pause"
    pause.mkdir()
    (work / "pause.c").write_text(PAUSE_C)
    shell.run(["gcc", "-static", "-O2", "-o", str(pause / "pause"), str(work / "pause.c")], timeout_s=120)
    _import_image(pause, wanted["pause"], 'ENTRYPOINT ["/pause"]')
    made.append(wanted["pause"])
    return made


def ensure_node(progress: Progress) -> str:
    """kind's node image with Kubernetes: the base, kubelet, kubeadm, kubectl and crictl, and the control
    plane's images preloaded in containerd (what ``kind build node-image`` does, without a registry)."""
    base = ensure_base(progress)
    binaries = _binaries(progress)
    image = f"{NODE_REPOSITORY}:{node_key(base, binaries)}"
    if image_present(image):
        return image
    start = time.monotonic()
    builder = f"kubedrill-node-build-{image.split(':')[1]}"
    with tempfile.TemporaryDirectory(prefix="kubedrill-images-", dir=cache_dir()) as work:
        images = _component_images(binaries, Path(work), progress)
        archive = Path(work) / "images.tar"
        shell.run(["docker", "save", "-o", str(archive), *images], timeout_s=600)
        shell.run(["docker", "rm", "-f", builder], check=False)
        # No /var volume here, unlike a node: containerd's store under /var must end up in the image.
        shell.run(["docker", "run", "-d", "--name", builder, "--privileged", "--cgroupns=private",
                   "--tmpfs", "/tmp", "--tmpfs", "/run", "-v", "/lib/modules:/lib/modules:ro", base])  # fmt: skip
        try:
            wait_running(builder)
            for name, target in (("kubelet", "/usr/bin/"), ("kubeadm", "/usr/bin/")):
                shell.run(["docker", "cp", str(binaries["kubernetes-node"][name]), f"{builder}:{target}"])
            shell.run(["docker", "cp", str(binaries["kubernetes"]["kubectl"]), f"{builder}:/usr/bin/"])
            shell.run(["docker", "cp", str(binaries["cri-tools"]["crictl"]), f"{builder}:/usr/local/bin/"])
            shell.run(["docker", "cp", str(archive), f"{builder}:/kind/images.tar"], timeout_s=300)
            node = ["docker", "exec", builder]
            shell.run([*node, "ctr", "-n", "k8s.io", "images", "import", "--no-unpack", "/kind/images.tar"],
                      timeout_s=600)  # fmt: skip
            shell.run([*node, "rm", "/kind/images.tar"])
            shell.run([*node, "systemctl", "enable", "kubelet.service"])
            version = Path(work) / "version"
            version.write_text(KUBERNETES_VERSION + "\n")  # what kind reads to generate kubeadm's config
            shell.run(["docker", "cp", str(version), f"{builder}:/kind/version"])
            shell.run(["docker", "kill", builder], check=False)
            shell.run(["docker", "commit", builder, image], timeout_s=600)
        finally:
            shell.run(["docker", "rm", "-f", "-v", builder], check=False)
            shell.run(["docker", "rmi", *images], check=False, timeout_s=300)
    progress(f"node image {image} built in {time.monotonic() - start:.0f} s")
    return image


def wait_running(container: str) -> None:
    """systemd in ``container`` up: containerd must answer before images are imported into it."""
    wait_until(
        f"systemd running in {container}",
        lambda: shell.run(["docker", "exec", container, "systemctl", "is-system-running"], check=False).stdout.strip(),
        lambda state: state == "running",
        timeout_s=BOOT_TIMEOUT_S,
        interval_s=0.5,
    )


# ---------------------------------------------------------------- kind's load balancer: HAProxy

# kind v0.30.0 puts a load balancer container in front of several control planes, from an image whose name is
# a constant in its source (pkg/cluster/internal/loadbalancer/const.go). Where that image cannot be pulled it
# is built here the way kind's own recipe builds it (images/haproxy/ in kind's module): Debian's haproxy with
# the binaries kind runs in the container (mkdir and cp to write the configuration, kill to make HAProxy reload
# it) and their libraries, kind's starting haproxy.cfg, and HAProxy in master-worker mode as the entrypoint.
# One change to the recipe: kind's configuration asks for `maxconn 100000`, which needs 200,028 open files, and
# on a machine whose hard limit is lower and that lacks CAP_SYS_RESOURCE (this one: 20,000) HAProxy refuses to
# start. A file read before kind's sets it lower: HAProxy keeps the first `maxconn` it reads (and logs that it
# ignores kind's), so kind's configuration, rewritten by kind and reloaded, stays untouched.
LB_BINARIES = ("haproxy", "mkdir", "cp", "kill")
LB_CONFIG = "usr/local/etc/haproxy/haproxy.cfg"
LB_LIMITS = "usr/local/etc/haproxy/limits.cfg"
LB_LIMITS_CFG = (
    "# kubedrill: kind's maxconn 100000 needs more open files than this machine allows\nglobal\n    maxconn 4000\n"
)
LB_ENTRYPOINT = (
    '["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/limits.cfg", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'
)
LB_IMAGE_CONST = "pkg/cluster/internal/loadbalancer/const.go"  # in kind's module (a kind group asset)
LB_CONFIG_ASSET = "images/haproxy/haproxy.cfg"


def load_balancer_image(const_go: str) -> str:
    """The image kind runs as its load balancer, read from kind's source (pure), without ``docker.io/``."""
    match = re.search(r'^const Image = "([^"]+)"', const_go, re.MULTILINE)
    if match is None:
        raise LocalClusterError('kind\'s loadbalancer/const.go has no `const Image = "…"`: check the kind version')
    return match.group(1).removeprefix("docker.io/")


def libraries(ldd_output: str) -> list[str]:
    """The shared objects ``ldd`` lists, by absolute path, without the kernel's vDSO (pure)."""
    out = []
    for line in ldd_output.splitlines():
        path = line.split("=>")[-1].strip().split(" (")[0].strip()
        if path.startswith("/"):
            out.append(path)
    return out


# The Debian package of each binary staged into an image, installed when missing.
STAGED_PACKAGES = {"haproxy": "haproxy", "xtables-nft-multi": "iptables", "conntrack": "conntrack", "ipset": "ipset"}


def _stage(rootfs: Path, names: tuple[str, ...], needed_by: str, progress: Progress) -> dict[str, Path]:
    """This machine's (Debian's) ``names`` into ``rootfs`` at their real paths, with the libraries ``ldd`` lists,
    as kind's recipes stage binaries into distroless images. Returns where each went (its resolved path)."""
    missing = [STAGED_PACKAGES[n] for n in names if shutil.which(n) is None and n in STAGED_PACKAGES]
    if missing:
        apt.install(missing, progress)
    staged = {}
    for name in names:
        binary = shutil.which(name)
        if binary is None:
            raise LocalClusterError(f"{name} not found: {needed_by} needs it (Debian's package of it)")
        resolved = Path(binary).resolve()
        _stage_file(rootfs, resolved)
        staged[name] = resolved
    return staged


def _stage_file(rootfs: Path, path: Path) -> None:
    """One binary or shared object into ``rootfs`` at its path, with the libraries ``ldd`` lists for it."""
    for each in [str(path), *libraries(shell.run(["ldd", str(path)], check=False).stdout)]:
        target = rootfs / each.lstrip("/")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(each, target)  # follows symlinks: the library's file under the name ldd gave


def ensure_load_balancer(progress: Progress) -> str:
    """kind's load balancer image in the engine: present, pulled, or built from Debian's haproxy. Returns its name."""
    assets = build.ensure_group("kind", progress)["kind"].parent / "assets"
    image = load_balancer_image((assets / LB_IMAGE_CONST).read_text())
    if image_present(image):
        return image
    problem = kind_cli.pull(image)  # where a registry answers
    if problem is None:
        return image
    progress(f"cannot pull {image} ({problem}): building it from Debian's haproxy")
    with tempfile.TemporaryDirectory(prefix="kubedrill-lb-") as work:
        rootfs = Path(work) / "haproxy"
        _stage(rootfs, LB_BINARIES, "kind's load balancer image", progress)
        (rootfs / LB_CONFIG).parent.mkdir(parents=True)
        shutil.copyfile(assets / LB_CONFIG_ASSET, rootfs / LB_CONFIG)
        (rootfs / LB_LIMITS).write_text(LB_LIMITS_CFG)
        _import_image(rootfs, image, f"ENTRYPOINT {LB_ENTRYPOINT}")
    progress(f"built {image} from Debian's haproxy ({shell.run(['haproxy', '-v']).stdout.splitlines()[0]})")
    return image
