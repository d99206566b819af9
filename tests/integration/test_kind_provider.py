"""`kubedrill up --provider kind` on a machine without a Docker engine (this one): it must stop at once with one
clear line, before building kind or touching anything. Touches no cluster, embedded or kind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubedrill.backends import kind_cli
from kubedrill.local import build


def test_kind_without_a_docker_engine_stops_at_once_and_builds_nothing(tmp_path: Path) -> None:
    if kind_cli.docker_engine_problem() is None:
        pytest.skip("a Docker engine answers here: `kubedrill up --provider kind` would really create the cluster")
    cache = tmp_path / "cache"
    real_kind_builds = sorted((build.cache_root() / "bin").glob("kind-*"))
    env = {**os.environ, "KUBEDRILL_CACHE": str(cache)}

    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kubedrill.cli", "up", "--provider", "kind"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    elapsed = time.monotonic() - start

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout == "", "nothing may be built or created: no progress at all"
    (line,) = proc.stderr.splitlines()
    assert line.startswith("kubedrill up: error: no Docker engine: 'docker info' failed (")
    assert line.endswith("kind needs one. Use the embedded cluster instead: kubedrill up")
    assert elapsed < 10, f"took {elapsed:.1f} s: the engine check must come before any build"
    assert not list(cache.glob("bin/kind-*")), "the kind CLI was built although no engine answers"
    assert not cache.exists(), f"{cache} was created: something was built or cached"
    assert sorted((build.cache_root() / "bin").glob("kind-*")) == real_kind_builds
