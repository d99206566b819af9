"""Debian packages the kind path installs on demand (docker.io, debootstrap), as root with apt-get.

While apt installs, Debian's ``policy-rc.d`` (created here unless the machine has one) says no service may
start: maintainer scripts would otherwise start a dockerd that manages iptables (FORWARD set to DROP under
the embedded cluster's bridge) and cannot run privileged containers here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kubedrill.backends import shell

POLICY_RC_D = "/usr/sbin/policy-rc.d"  # Debian: exit 101 here means "do not start services now"
TIMEOUT_S = 900.0


def install(packages: list[str], progress: Callable[[str], None]) -> None:
    progress(f"installing {', '.join(packages)} (apt-get; no service starts during the install)")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    policy = Path(POLICY_RC_D)
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# kubedrill: no service starts while apt installs\nexit 101\n")
        policy.chmod(0o755)
    try:
        shell.run(["apt-get", "update", "-qq"], env=env, timeout_s=TIMEOUT_S)
        shell.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, timeout_s=TIMEOUT_S
        )
    finally:
        if ours:
            policy.unlink(missing_ok=True)
