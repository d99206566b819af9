"""The commands behind ``kubedrill up --provider kind``: ``docker info``, the kind CLI and kubectl.

Thin on purpose: each function runs one command through :mod:`kubedrill.backends.shell` and returns what
it printed. What to run when, and what a failure means, is decided in :mod:`kubedrill.local.kind`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from kubedrill.backends import shell
from kubedrill.errors import BackendError

DOCKER_INFO_TIMEOUT_S = 20.0  # a daemon that does not answer in that time is as good as none


def docker_engine_problem(docker: str = "docker") -> str | None:
    """None when a Docker engine answers ``docker info``; otherwise why not, in one line.

    ``docker info`` talks to the engine: with a client but no daemon it exits 1 ("Cannot connect to the
    Docker daemon …"), which is the situation on machines that run the embedded cluster instead.
    """
    try:
        result = shell.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], check=False, timeout_s=DOCKER_INFO_TIMEOUT_S
        )
    except BackendError as e:  # no docker client at all, or no answer in time
        return str(e)
    if result.ok and result.stdout.strip():
        return None
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    detail = lines[-1] if lines else "no output"
    return f"exit {result.returncode}: {detail}"


def clusters(kind: Path) -> list[str]:
    """Names of the kind clusters on this Docker engine (``kind get clusters``)."""
    out = shell.run([str(kind), "get", "clusters"], timeout_s=60)
    # kind prints "No kind clusters found." on stderr when there are none; stdout holds one name a line.
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def export_kubeconfig(kind: Path, name: str) -> None:
    """``kind export kubeconfig``: the cluster's context written to $KUBECONFIG (or ~/.kube/config), as ``kind
    create cluster`` does. A reused cluster needs it when this kubeconfig is not the one it was created into."""
    shell.run([str(kind), "export", "kubeconfig", "--name", name], timeout_s=60)


def create_cluster(kind: Path, name: str, config: Path, wait: str, progress: Callable[[str], None]) -> None:
    """``kind create cluster``, its progress lines passed on as they come (pulling the node image takes a while)."""

    class _Lines(io.StringIO):
        def write(self, text: str, /) -> int:
            if text.strip():
                progress(f"kind: {text.strip()}")
            return len(text)

    shell.stream(
        [str(kind), "create", "cluster", "--name", name, "--config", str(config), "--wait", wait],
        sink=_Lines(),
    )


def kubectl(kubectl_bin: str, context: str, *args: str, timeout_s: float = 300.0) -> str:
    """``kubectl --context CONTEXT ARGS…``; its stdout. Raises BackendError naming the command on failure."""
    return shell.run([kubectl_bin, "--context", context, *args], timeout_s=timeout_s).stdout


def kubectl_ok(kubectl_bin: str, context: str, *args: str) -> bool:
    """Whether ``kubectl --context CONTEXT ARGS…`` succeeds (a lookup: "is there a kindnet DaemonSet?")."""
    return shell.run([kubectl_bin, "--context", context, *args], check=False, timeout_s=60).ok


def pull(image: str) -> str | None:
    """``docker pull IMAGE``: None when pulled, else why not in one line (no registry reachable, say)."""
    result = shell.run(["docker", "pull", image], check=False, timeout_s=600)
    if result.ok:
        return None
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {result.returncode}"


def docker_exec(container: str, *argv: str, input_text: str | None = None, timeout_s: float = 60.0) -> str:
    """``docker exec [-i] CONTAINER ARGV…``; its stdout. Raises BackendError naming the command on failure."""
    interactive = ["-i"] if input_text is not None else []
    return shell.run(
        ["docker", "exec", *interactive, container, *argv], input_text=input_text, timeout_s=timeout_s
    ).stdout


def container_exists(name: str) -> bool:
    return shell.run(["docker", "container", "inspect", name], check=False, timeout_s=30).ok


def containers() -> list[str]:
    """Every container of the engine, running or not (by ID)."""
    return shell.run(["docker", "ps", "-a", "-q"], timeout_s=30).stdout.split()


def delete_cluster(kind: Path, name: str) -> None:
    shell.run([str(kind), "delete", "cluster", "--name", name], timeout_s=300)


def remove_network_if_unused(network: str) -> bool:
    """Remove a Docker network (kind's keeps a bridge on the host) when it exists and no container uses it."""
    if not shell.run(["docker", "network", "inspect", network], check=False, timeout_s=30).ok:
        return False
    if shell.run(["docker", "ps", "-a", "-q", "--filter", f"network={network}"], timeout_s=30).stdout.strip():
        return False
    return shell.run(["docker", "network", "rm", network], check=False, timeout_s=60).ok
