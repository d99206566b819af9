"""kind's node model from an image built here: a privileged container whose PID 1 is systemd, running
containerd, as kind runs its nodes (``--privileged --cgroupns=private``, tmpfs /run and /tmp, /var a volume).

The image is built the first time (debootstrap, minutes) and cached by a key of its inputs afterwards.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from kubedrill.local import nodeimage

pytestmark = [pytest.mark.integration, pytest.mark.kind]

NODE = "kubedrill-node-test"
BOOT_TIMEOUT_S = 120.0


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def test_the_node_base_boots_systemd_and_containerd_as_a_kind_node(docker_engine: bool) -> None:
    image = nodeimage.ensure_base(print)
    assert nodeimage.image_present(image)
    docker("rm", "-f", "-v", NODE, check=False)
    docker(
        "run", "-d", "--name", NODE, "--hostname", NODE,
        "--privileged", "--cgroupns=private", "--tmpfs", "/tmp", "--tmpfs", "/run", "--volume", "/var",
        "--volume", "/lib/modules:/lib/modules:ro", image,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        state = ""
        while time.monotonic() < deadline:
            state = docker("exec", NODE, "systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        failed = docker("exec", NODE, "systemctl", "--failed", "--no-legend", check=False).stdout.strip()
        assert state == "running", f"systemd in the node says {state!r}; failed units: {failed or 'none'}"
        assert docker("exec", NODE, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        assert docker("exec", NODE, "systemctl", "is-active", "containerd").stdout.strip() == "active"
        version = docker("exec", NODE, "ctr", "version").stdout
        assert "Server:" in version, f"containerd in the node does not answer ctr: {version}"
        cri = docker("exec", NODE, "cat", "/etc/containerd/config.toml").stdout
        assert "restrict_oom_score_adj = true" in cri
    finally:
        docker("rm", "-f", "-v", NODE, check=False)
    assert docker("ps", "-a", "--filter", f"name={NODE}", "-q").stdout.strip() == ""
