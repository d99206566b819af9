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
