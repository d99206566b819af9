"""A Docker engine for kind where none answers: the first step of the kind path (``kubedrill engine up``).

- An engine that answers ``docker info`` is used as it is: kubedrill changes nothing of it, and
  ``kubedrill engine down`` leaves it running.
- Otherwise, on Debian as root, kubedrill installs Debian's ``docker.io`` if ``dockerd`` is missing and
  starts ``dockerd`` in the background with its own pid file and log under kubedrill's state directory
  (``$XDG_STATE_HOME/kubedrill/docker``). Anywhere else it stops with one line saying what to provide.
- Where the machine's capability bounding set lacks capabilities (CAP_SYS_RESOURCE here), ``docker run
  --privileged`` fails ("unable to apply caps"); the runc wrapper of ``backends/runc_wrapper.py``, installed
  next to the pid file with the real runc's path, becomes dockerd's default runtime and removes them from
  each container's spec. Where none is missing, plain runc is used.
- dockerd runs with ``--iptables=false``: its iptables management sets the FORWARD policy to DROP, which
  cuts the embedded cluster's bridge. kind does not need it here: its nodes talk over their own bridge,
  and the API server's 127.0.0.1 port mapping goes through docker-proxy. ``--bridge=none``: no
  ``docker0`` left on the host (kind makes its own network).
- ``stop`` ends only a dockerd kubedrill started (and the containerd it runs), and leaves nothing of its
  own behind but the log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from kubedrill import paths
from kubedrill.backends import kind_cli, runc_wrapper, shell
from kubedrill.errors import LocalClusterError, RecoveryTimeout
from kubedrill.local import apt
from kubedrill.waiting import wait_until

Progress = Callable[[str], None]

RUNTIME_NAME = "kubedrill-runc"
START_TIMEOUT_S = 60.0  # dockerd, then its own containerd, answering docker info
STOP_TIMEOUT_S = 30.0


def state_dir() -> Path:
    return paths.from_env("KUBEDRILL_ENGINE_STATE", paths.state_home() / "docker")


@dataclass(frozen=True)
class Started:
    """What ``ensure`` started, recorded on disk so that ``stop`` (another process, later) can end it."""

    pid: int
    log: str
    runtime: str  # the default runtime: kubedrill-runc (the wrapper) or runc
    missing_capabilities: tuple[str, ...]
    mounted_cgroups: tuple[str, ...] = ()  # hierarchies kubedrill mounted for kind's kubelets
    raised_sysctls: tuple[tuple[str, int], ...] = ()  # (path, value before kubedrill raised it)


# kind's known issue for clusters of several nodes: every kubelet, containerd and systemd in a node container
# takes inotify instances from the same (root) user; Debian's default of 128 is nearly used up by 6 nodes (113
# measured here), and a kubelet that cannot get one misses its manifests' changes. kind's advice, applied where
# lower and put back on stop.
INOTIFY_MINIMUMS = {"/proc/sys/fs/inotify/max_user_instances": 512, "/proc/sys/fs/inotify/max_user_watches": 524288}


def raise_inotify_limits() -> list[tuple[str, int]]:
    """Raise the inotify limits below kind's advice; returns what was raised, with the old values."""
    raised = []
    for path, minimum in INOTIFY_MINIMUMS.items():
        current = int(Path(path).read_text())
        if current < minimum:
            Path(path).write_text(f"{minimum}\n")
            raised.append((path, current))
    return raised


def unmounted_cgroups(proc_cgroups: str, mounted: set[str]) -> list[str]:
    """cgroup v1 controllers the kernel enables (/proc/cgroups) that no hierarchy under /sys/fs/cgroup holds,
    as mount option sets (``net_cls,net_prio`` share one, as systemd mounts them); pure."""
    enabled = [
        fields[0] for line in proc_cgroups.splitlines() if not line.startswith("#")
        if len(fields := line.split()) >= 4 and fields[3] == "1"
    ]  # fmt: skip
    wanted = []
    for controller in enabled:
        name = "net_cls,net_prio" if controller in ("net_cls", "net_prio") else controller
        held = any(controller in m.split(",") for m in mounted)
        if not held and name not in wanted:
            wanted.append(name)
    return wanted


def mount_missing_cgroups() -> list[str]:
    """kind's kubelets refuse to start when a hierarchy the kernel enables is not mounted (hugetlb,
    perf_event, net_cls,net_prio here): mount them, cgroup v1 only. Returns what was mounted."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():  # cgroup v2: one unified hierarchy, nothing to add
        return []
    mounted = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
    done = []
    for name in unmounted_cgroups(Path("/proc/cgroups").read_text(), mounted):
        target = root / name
        target.mkdir(exist_ok=True)
        shell.run(["mount", "-t", "cgroup", "-o", name, "cgroup", str(target)])
        done.append(name)
    return done


@dataclass(frozen=True)
class Plan:
    """What ``ensure`` will do on this machine (pure: decided from what was observed)."""

    use_existing: bool
    install: bool
    wrap_runc: bool
    refusal: str | None = None


def plan(engine_problem: str | None, is_root: bool, is_debian: bool, has_dockerd: bool, missing: list[str]) -> Plan:
    """An answering engine is used as it is; otherwise kubedrill starts one only as root on Debian."""
    if engine_problem is None:
        return Plan(use_existing=True, install=False, wrap_runc=False)
    if not is_root or not (is_debian or has_dockerd):
        return Plan(
            use_existing=False,
            install=False,
            wrap_runc=False,
            refusal=(
                f"no Docker engine: 'docker info' failed ({engine_problem}); kubedrill starts one only as root "
                "on Debian (apt's docker.io). Start a Docker engine, or use the embedded cluster: kubedrill up"
            ),
        )
    return Plan(use_existing=False, install=not has_dockerd, wrap_runc=bool(missing))


def dockerd_argv(pid_file: Path, wrapper: Path | None) -> list[str]:
    """dockerd as kubedrill runs it (pure)."""
    argv = ["dockerd", f"--pidfile={pid_file}", "--iptables=false", "--ip-masq=false", "--bridge=none"]
    if wrapper is not None:
        argv += [f"--add-runtime={RUNTIME_NAME}={wrapper}", f"--default-runtime={RUNTIME_NAME}"]
    return argv


def _record() -> Path:
    return state_dir() / "started.json"


def started() -> Started | None:
    """The dockerd kubedrill started, if it still runs."""
    try:
        data = json.loads(_record().read_text())
        record = Started(
            **{
                **data,
                "missing_capabilities": tuple(data["missing_capabilities"]),
                "mounted_cgroups": tuple(data.get("mounted_cgroups", ())),
                "raised_sysctls": tuple((str(p), int(v)) for p, v in data.get("raised_sysctls", ())),
            }
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return record if shell.pid_alive(record.pid) else None


def install_wrapper(directory: Path) -> Path:
    """Write the runc wrapper with this machine's real runc in it; run by a Python that outlives any venv."""
    runc = shutil.which("runc") or "/usr/sbin/runc"
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    source = Path(runc_wrapper.__file__).read_text().replace("@REAL_RUNC@", runc)
    wrapper = directory / RUNTIME_NAME
    wrapper.write_text(f"#!{python if python.exists() else sys.executable} -I\n{source}")
    wrapper.chmod(0o755)
    return wrapper


def ensure(progress: Progress) -> str:
    """A Docker engine answering ``docker info``: the one there is, or one kubedrill starts. Returns what it did."""
    problem = kind_cli.docker_engine_problem()
    missing = runc_wrapper.this_machines_missing()
    decided = plan(
        problem, os.geteuid() == 0, Path("/etc/debian_version").exists(), shutil.which("dockerd") is not None, missing
    )
    if decided.refusal:
        raise LocalClusterError(decided.refusal)
    if decided.use_existing:
        return "a Docker engine answers: using it as it is"
    if decided.install:
        apt.install(["docker.io"], progress)
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = install_wrapper(directory) if decided.wrap_runc else None
    log = directory / "dockerd.log"
    argv = dockerd_argv(directory / "dockerd.pid", wrapper)
    progress(
        f"starting {' '.join(argv[:1])} (log {log})" + (f"; runc wrapped: {', '.join(missing)}" if missing else "")
    )
    cgroups = mount_missing_cgroups()
    if cgroups:
        progress(f"mounted the cgroup hierarchies kind's kubelets need: {', '.join(cgroups)}")
    raised = raise_inotify_limits()
    if raised:
        progress("raised the inotify limits to kind's advice: " + ", ".join(Path(p).name for p, _ in raised))
    proc = shell.spawn(argv, log_path=log)
    record = Started(
        proc.pid, str(log), RUNTIME_NAME if wrapper else "runc", tuple(missing), tuple(cgroups), tuple(raised)
    )
    _record().write_text(json.dumps(asdict(record)))
    try:
        wait_until(
            "dockerd answering 'docker info'",
            lambda: kind_cli.docker_engine_problem() or "",
            lambda p: p == "",
            timeout_s=START_TIMEOUT_S,
            interval_s=0.5,
            describe=lambda p: p,
        )
    except RecoveryTimeout as e:
        stop(progress)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:]) if log.exists() else ""
        raise LocalClusterError(f"dockerd did not come up within {START_TIMEOUT_S:g} s: {e}\n{tail}") from e
    return f"started dockerd (pid {proc.pid}, default runtime {record.runtime})"


def stop(progress: Progress) -> str:
    """Stop the dockerd kubedrill started, if any; an engine kubedrill did not start is left alone."""
    record = started()
    if record is None:
        _record().unlink(missing_ok=True)
        return "no dockerd of kubedrill's runs"
    progress(f"stopping dockerd (pid {record.pid})")
    shell.kill_pid(record.pid, signal.SIGTERM)
    try:
        wait_until(
            f"dockerd (pid {record.pid}) gone",
            lambda: shell.pid_alive(record.pid),
            lambda alive: not alive,
            timeout_s=STOP_TIMEOUT_S,
            interval_s=0.2,
        )
    except RecoveryTimeout:  # a dockerd that ignores SIGTERM is killed
        shell.kill_pid(record.pid, signal.SIGKILL)
    for path, value in record.raised_sysctls:
        Path(path).write_text(f"{value}\n")
    for name in record.mounted_cgroups:  # empty once the kind nodes are gone; busy ones stay, said below
        if shell.run(["umount", f"/sys/fs/cgroup/{name}"], check=False).ok:
            Path(f"/sys/fs/cgroup/{name}").rmdir()
        else:
            progress(f"left /sys/fs/cgroup/{name} mounted: still in use")
    _record().unlink(missing_ok=True)
    for leftover in ("dockerd.pid", RUNTIME_NAME):
        (state_dir() / leftover).unlink(missing_ok=True)
    return f"stopped dockerd (pid {record.pid})"
