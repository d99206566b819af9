"""kind's node image, built on this machine: no container registry is reachable, so ``kindest/node`` cannot
be pulled, and kind's own Dockerfile cannot run (it clones repositories and pulls a base image).

Built so far: the node *base*, kind's node model without Kubernetes yet.

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

Still to come (issue 15): kubelet, kubeadm and crictl, the control-plane, etcd, CoreDNS and pause images,
a CNI that enforces NetworkPolicy, Prometheus' images.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kubedrill.backends import shell
from kubedrill.errors import LocalClusterError
from kubedrill.local import build

Progress = Callable[[str], None]

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "containerd", "runc", "containernetworking-plugins",
    "conntrack", "iptables", "nftables", "iproute2", "ethtool", "socat", "util-linux", "mount", "kmod",
    "libseccomp2", "pigz", "e2fsprogs", "bash", "ca-certificates", "jq", "procps",
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
REPOSITORY = "kubedrill/node-base"
ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]'
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
    digest.update(json.dumps([SUITE, MIRROR, BASE_PACKAGES, CONTAINERD_FIXES, ENTRYPOINT]).encode())
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
        progress("installing debootstrap (apt-get)")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        shell.run(["apt-get", "update", "-qq"], env=env, timeout_s=600)
        shell.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"], env=env, timeout_s=600)
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
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()


def image_present(image: str) -> bool:
    return shell.run(["docker", "image", "inspect", image], check=False, timeout_s=60).ok


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
            shell.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], timeout_s=600)
            partial.rename(tarball)
        progress(f"node base root filesystem built in {time.monotonic() - start:.0f} s: {tarball}")
    shell.run(
        ["docker", "import",
         "--change", "ENV container=docker",
         "--change", f"ENTRYPOINT {ENTRYPOINT}",
         str(tarball), image],
        timeout_s=600,
    )  # fmt: skip
    progress(f"imported {image}")
    return image
