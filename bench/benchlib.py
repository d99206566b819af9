"""What the benchmark scripts share: the embedded cluster, a scratch namespace, a prober, process CPU.

The scripts measure kubedrill with kubedrill's own parts (the prober, the watcher, the backends) against
the embedded cluster, as a drill would; they print figures and assert nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml

from kubedrill.backends.cluster import Cluster
from kubedrill.backends.embedded import Layout
from kubedrill.backends.probe_api import ProbeApi
from kubedrill.backends.workloads import Workloads
from kubedrill.local import health, lifecycle
from kubedrill.probes.api import ApiProber, ProberSettings
from kubedrill.settings import RunSettings

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def layout() -> Layout:
    """The embedded cluster, started if it is not up, and healthy (a member a previous benchmark killed
    is back) before anything is measured."""
    if not lifecycle.is_up():
        subprocess.run([sys.executable, "-m", "kubedrill.cli", "up"], check=True)
    found = Layout.load()
    if found is None:
        sys.exit("no embedded cluster after 'kubedrill up'")
    deadline = time.monotonic() + 120
    while not (st := health.status(found.state_dir)).healthy:
        if time.monotonic() > deadline:
            sys.exit(f"the embedded cluster is not healthy: {'; '.join(st.problems)}")
        time.sleep(1)
    return found


def connect() -> Cluster:
    return RunSettings(kubeconfig=str(layout().admin_kubeconfig)).connect()


@contextmanager
def scratch_namespace(cluster: Cluster, name: str) -> Iterator[str]:
    """A namespace of the benchmark's own. Not labelled as the drill suite's: a drill session started
    meanwhile (bench_ctk runs one) deletes the suite's leftover namespaces, and this one is in use."""
    ns = f"kubedrill-bench-{name}-{secrets.token_hex(3)}"
    kube = cluster.kube()
    w = Workloads(kube)
    w.create_namespace(ns, {"kubedrill.io/bench": name})
    try:
        yield ns
    finally:
        w.delete_namespace(ns)
        kube.close()


def kubeconfig_for(cluster: Cluster, server: str) -> str:
    """A copy of the cluster's kubeconfig that talks to ``server`` directly, not through the load balancer."""
    assert cluster.kubeconfig is not None
    data = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in data["clusters"]:
        entry["cluster"]["server"] = server
    fd, path = tempfile.mkstemp(prefix="kubedrill-bench-", suffix=".kubeconfig")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f)
    return path


def prober(kubeconfig: str | None, context: str | None, ns: str, name: str = "probe") -> ApiProber:
    """A 10 Hz prober writing keys ``<name>-NNNNNN`` (two probers in one namespace need two names)."""
    anchor = ProbeApi(kubeconfig, context, ns)
    anchor.ensure_anchor()
    anchor.close()
    return ApiProber(lambda: ProbeApi(kubeconfig, context, ns), ProberSettings(key_prefix=name))


def pid_of(lay: Layout, component: str) -> int:
    """The supervisor's record of a component's PID (``kube-apiserver-cp-1``, ``etcd-cp-2``, ``haproxy``)."""
    status = json.loads((lay.run_dir / f"{component}.json").read_text())
    return int(status["pid"])


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU the processes have used so far (from /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def summary(values: Sequence[float], unit: str = "s", scale: float = 1.0) -> str:
    if not values:
        return "no values"
    v = [x * scale for x in values]
    return (
        f"median {statistics.median(v):.3f} {unit}, min {min(v):.3f}, max {max(v):.3f} (n={len(v)})"
        if unit
        else f"median {statistics.median(v):.3f}, min {min(v):.3f}, max {max(v):.3f} (n={len(v)})"
    )


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {sys.version.split()[0]}"


def settle(seconds: float) -> None:
    """Let the cluster run (the probers keep measuring)."""
    time.sleep(seconds)


def attachment(results: Path, result: dict, name: str) -> object | None:
    """The JSON attachment ``name`` of one Allure result (in its steps too), or None."""
    stack = [result]
    while stack:
        node = stack.pop()
        for a in node.get("attachments", []):
            if a["name"] == name:
                return json.loads((results / a["source"]).read_text())
        stack.extend(node.get("steps", []))
    return None
