"""`kubedrill up --provider kind` where no Docker engine answers and kubedrill may not start one (not root): it
must stop at once with one clear line, before building kind or touching anything. Run as the unprivileged
user `nobody`, so the refusal is real whether or not an engine runs on this machine (nobody cannot reach
Docker's socket either). Touches no cluster, embedded or kind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubedrill.local import build

NOBODY = 65534


def test_kind_without_an_engine_it_may_start_stops_at_once_and_builds_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("switching to the user nobody needs root")
    tmp_path.chmod(0o777)
    cache, home = tmp_path / "cache", tmp_path / "home"
    real_kind_builds = sorted((build.cache_root() / "bin").glob("kind-*"))
    env = {**os.environ, "KUBEDRILL_CACHE": str(cache), "HOME": str(home), "XDG_STATE_HOME": str(home / "state")}

    start = time.monotonic()
    proc = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-m", "kubedrill.cli", "up", "--provider", "kind"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - start

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout == "", "nothing may be built or created: no progress at all"
    (line,) = proc.stderr.splitlines()
    assert line.startswith("kubedrill up: error: no Docker engine: 'docker info' failed (")
    assert line.endswith(
        "kubedrill starts one only as root on Debian (apt's docker.io). "
        "Start a Docker engine, or use the embedded cluster: kubedrill up"
    )
    assert elapsed < 10, f"took {elapsed:.1f} s: the engine check must come before any build"
    assert not cache.exists(), f"{cache} was created: something was built or cached"
    assert not home.exists(), f"{home} was created: state was written"
    assert sorted((build.cache_root() / "bin").glob("kind-*")) == real_kind_builds
