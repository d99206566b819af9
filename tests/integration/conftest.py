"""Integration tests run against the real embedded cluster, started here when it is not up.

The cluster is shared by the whole session (starting it takes ~10 s). Tests that stop or reshape it
(``test_lifecycle.py``) run last, and the session leaves the machine as it found it: a cluster that
was up before the run is up after it; one the run started is stopped.
"""

from __future__ import annotations

import csv
import functools
import http.server
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from kubedrill.backends.embedded import Layout
from kubedrill.local import configs, lifecycle

KUBEDRILL = [sys.executable, "-m", "kubedrill.cli"]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def kubedrill(*args: str, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    proc = subprocess.run([*KUBEDRILL, *args], capture_output=True, text=True, timeout=timeout, env=os.environ)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubedrill {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Lifecycle and load-balancer tests stop and reshape the cluster: run them after everything that shares it."""
    items.sort(key=lambda item: "test_lifecycle" in item.nodeid or "test_load_balancer" in item.nodeid)


def fail_open_backups(stats_url: str) -> dict[str, str]:
    """HAProxy's unchecked fail-open backups (``configs.fail_open_backups``) and their status, from its stats CSV
    (``no check``: in rotation should every check fail; ``MAINT (resolution)``: no address, never used)."""
    text = urllib.request.urlopen(f"{stats_url};csv", timeout=10).read().decode()
    rows = csv.DictReader(text.lstrip("# ").splitlines())
    return {r["svname"]: r["status"] for r in rows if r["svname"].endswith(configs.FAIL_OPEN_SUFFIX)}


def ensure_cluster(control_planes: int = 3, workers: int = 3, load_balancers: int = 1) -> Layout:
    layout = Layout.load()
    wanted = (control_planes, workers, load_balancers)
    if (
        layout is not None
        and lifecycle.is_up()
        and (layout.control_planes, layout.workers, layout.load_balancers) == wanted
    ):
        return layout
    if layout is not None:
        kubedrill("down", check=True)
    kubedrill("up", "--control-planes", str(control_planes), "--workers", str(workers),
              "--load-balancers", str(load_balancers), check=True)  # fmt: skip
    fresh = Layout.load()
    assert fresh is not None
    return fresh


@pytest.fixture(scope="session")
def cluster_was_up() -> Iterator[bool]:
    was_up = lifecycle.is_up()
    yield was_up
    layout = Layout.load()
    if was_up and (layout is None or not lifecycle.is_up() or (layout.control_planes, layout.load_balancers) != (3, 1)):
        kubedrill("down")
        kubedrill("up")
    elif not was_up and layout is not None:
        kubedrill("down")


@pytest.fixture
def embedded(cluster_was_up: bool) -> Layout:
    """The 3-control-plane, 3-worker embedded cluster, up and healthy."""
    return ensure_cluster()


@pytest.fixture
def admin_kubeconfig(embedded: Layout) -> Path:
    return embedded.admin_kubeconfig


@pytest.fixture(scope="module")
def docker_engine() -> Iterator[bool]:
    """A Docker engine for the module (`kubedrill engine up`); True when it is kubedrill's, which the module
    then stops again (`kubedrill engine down`), so the other tests see the machine as it was."""
    from kubedrill.backends import kind_cli

    ours = kind_cli.docker_engine_problem() is not None
    kubedrill("engine", "up", check=True, timeout=900)
    yield ours
    if ours:
        kubedrill("engine", "down", check=True)


# ---------------------------------------------------------------- the report, in a real browser


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail("Debian's chromium and chromium-driver are missing: run 'make deps'")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # Headless as root, and nothing that reaches for Google's services on a machine with no way out.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def serve() -> Iterator[functools.partial[str]]:
    """Serve a directory over HTTP on loopback (the interactive report fetches its data)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(root: Path, page: str) -> str:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_port}/{page}"

    yield functools.partial(start)
    for srv in servers:
        srv.shutdown()
