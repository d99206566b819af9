"""Chaos Toolkit activities for bench/ctk/leader-kill-plain.yaml: what a team would write for Chaos
Toolkit alone. Every hypothesis probe appends (unix time, ok) to $CTK_PROBE_LOG so the benchmark can see
when chaoslib checked and what it saw."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from kubedrill.backends.embedded import Layout
from kubedrill.backends.kube import Kube
from kubedrill.probes import etcd as etcd_probe
from kubedrill.settings import RunSettings

NAMESPACE = os.environ.get("CTK_NAMESPACE", "default")


def api_accepts_a_write() -> bool:
    """One ConfigMap write through the load balancer ($CTK_KUBECONFIG's server if set), 1 s timeout (as
    kubedrill's prober)."""
    layout = Layout.load()
    assert layout is not None
    kube = Kube(os.environ.get("CTK_KUBECONFIG") or layout.admin_kubeconfig, None, timeout_s=1.0)
    start = time.time()
    try:
        kube.core.create_namespaced_config_map(
            NAMESPACE,
            {"metadata": {"generateName": "ctk-probe-"}, "data": {"at": str(start)}},
            _request_timeout=kube.timeouts,
        )
        ok = True
    except Exception:
        ok = False
    finally:
        kube.close()
    log = os.environ.get("CTK_PROBE_LOG")
    if log:
        with Path(log).open("a") as f:
            f.write(json.dumps({"t": start, "ok": ok}) + "\n")
    return ok


def kill_etcd_leader() -> str:
    layout = Layout.load()
    assert layout is not None
    cluster = RunSettings(kubeconfig=str(layout.admin_kubeconfig)).connect()
    leader = etcd_probe.leader_of(etcd_probe.observe(cluster))
    assert leader is not None, "no etcd leader to kill"
    pid = int(json.loads((layout.run_dir / f"etcd-{leader.node}.json").read_text())["pid"])
    os.kill(pid, signal.SIGKILL)
    Path(os.environ.get("CTK_KILL_LOG", os.devnull)).write_text(json.dumps({"t": time.time(), "node": leader.node}))
    return f"SIGKILL etcd on {leader.node} (pid {pid})"
