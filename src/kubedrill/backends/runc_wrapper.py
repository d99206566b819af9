"""A runc wrapper for dockerd on machines whose capability bounding set lacks capabilities.

``docker run --privileged`` asks runc for every capability the kernel knows. Where the machine's bounding
set lacks one (CAP_SYS_RESOURCE on the machines this project runs on), runc fails with "unable to apply
caps: operation not permitted", and kind's privileged node containers cannot start. Registered as
dockerd's default runtime, this wrapper removes from the OCI spec the capabilities the bounding set lacks
(``config.json`` of the bundle for ``create`` and ``run``, the ``--process`` file for ``exec``) and then
execs the real runc with the same arguments. Where nothing is missing it changes nothing.

Standalone on purpose (standard library only, no kubedrill import): ``kubedrill.local.engine`` writes this
file, with the real runc's path filled in, next to dockerd's pid file, and dockerd runs it for every
container.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

REAL_RUNC = "@REAL_RUNC@"  # filled in when kubedrill installs the wrapper

# Linux capabilities by number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def missing_capabilities(cap_bnd_hex: str, last_cap: int) -> list[str]:
    """The capabilities up to ``last_cap`` that the bounding set (``CapBnd`` of /proc/self/status) lacks."""
    mask = int(cap_bnd_hex, 16)
    return [CAPABILITIES[i] for i in range(min(last_cap, len(CAPABILITIES) - 1) + 1) if not mask >> i & 1]


def this_machines_missing() -> list[str]:
    with open("/proc/self/status") as f:
        cap_bnd = next(line.split()[1] for line in f if line.startswith("CapBnd:"))
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    return missing_capabilities(cap_bnd, last_cap)


def strip(process: dict[str, Any], missing: list[str]) -> bool:
    """Remove ``missing`` from every capability set of an OCI ``process``; True when anything was removed."""
    caps = process.get("capabilities") or {}
    changed = False
    for name in SETS:
        kept = [c for c in caps.get(name) or [] if c not in missing]
        if name in caps and caps[name] is not None and len(kept) != len(caps[name]):
            caps[name] = kept
            changed = True
    return changed


def spec_file(args: list[str]) -> tuple[str, str] | None:
    """Which file of this runc call holds an OCI process, and its form: (path, "config") for ``create`` and
    ``run`` (the bundle's config.json), (path, "process") for ``exec --process``; None for anything else."""
    commands = ("create", "run", "exec")
    i = 0
    while i < len(args) and args[i] not in commands:
        i += 1
    if i == len(args):
        return None
    command, rest = args[i], args[i + 1 :]

    def value(*flags: str) -> str | None:
        for j, a in enumerate(rest):
            for flag in flags:
                if a == flag and j + 1 < len(rest):
                    return rest[j + 1]
                if a.startswith(flag + "="):
                    return a.split("=", 1)[1]
        return None

    if command == "exec":
        process = value("--process", "-p")
        return (process, "process") if process else None
    bundle = value("--bundle", "-b") or os.getcwd()
    return (os.path.join(bundle, "config.json"), "config")


def rewrite(args: list[str], missing: list[str]) -> None:
    """Strip ``missing`` from the spec this call reads, in place; never fails the call (runc then says why)."""
    found = spec_file(args)
    if not found or not missing:
        return
    path, form = found
    try:
        with open(path) as f:
            spec = json.load(f)
        process = (spec.get("process") or {}) if form == "config" else spec
        if strip(process, missing):
            with open(path, "w") as f:
                json.dump(spec, f)
    except (OSError, ValueError):
        return


def main(argv: list[str]) -> None:
    rewrite(argv[1:], this_machines_missing())
    os.execv(REAL_RUNC, [REAL_RUNC, *argv[1:]])  # noqa: S606 - become runc, with its own argv: no shell


if __name__ == "__main__":
    main(sys.argv)
