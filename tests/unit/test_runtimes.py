"""The exact commands each component runtime issues, pinned through a recording fake of node access.

Integration tests run the supervisor runtime against the embedded cluster; these pin what the static-pod
(kubeadm, kind) and systemd (binary install) runtimes send to a node for kill, stop, start, the proof of
a restart and running etcdctl where etcd runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubedrill.backends.access import HOST, DockerExecAccess
from kubedrill.backends.runtimes import (
    ContainerRuntime,
    Instance,
    StaticPodRuntime,
    SupervisorRuntime,
    SystemdRuntime,
)
from kubedrill.errors import FaultInjectionError
from tests.fakes import Answer, RecordingAccess

CRICTL_PS_ETCD = ["crictl", "ps", "--name", "^etcd$", "--state", "running", "-q"]
MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
HELD = "/etc/kubernetes/kubedrill-held/etcd.yaml"


class Containers:
    """What ``crictl ps -q`` answers, one container ID per call in turn (the last one repeats)."""

    def __init__(self, *ids: str) -> None:
        self.ids = list(ids)

    def __call__(self, node: str, argv: list[str]) -> Answer:
        if argv[:2] == ["crictl", "ps"]:
            return self.ids.pop(0) + "\n" if len(self.ids) > 1 else self.ids[0]
        return ""


# ---------------------------------------------------------------- static pods (kubeadm, kind)


def test_static_pod_kill_stops_the_running_container_at_once_by_its_id() -> None:
    node = RecordingAccess(Containers("4f2a9c"))
    killed = StaticPodRuntime(node).kill("etcd", "cp-1")
    assert killed == Instance("etcd", "cp-1", "4f2a9c")
    assert node.calls == [("cp-1", CRICTL_PS_ETCD), ("cp-1", ["crictl", "stop", "--timeout", "0", "4f2a9c"])]


def test_static_pod_restart_is_proven_by_a_new_container_id() -> None:
    node = RecordingAccess(Containers("4f2a9c", "", "b71e00"))
    rt = StaticPodRuntime(node)
    killed = rt.kill("etcd", "cp-2")
    assert rt.instance("etcd", "cp-2") is None  # the kubelet has not restarted it yet
    restarted = rt.instance("etcd", "cp-2")
    assert restarted is not None
    assert restarted.id != killed.id
    assert node.commands() == [
        CRICTL_PS_ETCD,
        ["crictl", "stop", "--timeout", "0", "4f2a9c"],
        CRICTL_PS_ETCD,
        CRICTL_PS_ETCD,
    ]


def test_static_pod_kill_of_nothing_running_is_refused_and_stops_nothing() -> None:
    node = RecordingAccess(Containers(""))
    with pytest.raises(FaultInjectionError, match="no running kube-scheduler container on cp-3"):
        StaticPodRuntime(node).kill("kube-scheduler", "cp-3")
    assert [argv[:2] for argv in node.commands()] == [["crictl", "ps"]]


def test_static_pod_stop_moves_the_manifest_out_and_start_moves_it_back() -> None:
    node = RecordingAccess()  # every `test -f` succeeds
    rt = StaticPodRuntime(node)
    rt.stop("etcd", "cp-1")
    rt.start("etcd", "cp-1")
    assert node.commands("cp-1") == [
        ["mkdir", "-p", "/etc/kubernetes/kubedrill-held"],
        ["test", "-f", MANIFEST],
        ["mv", MANIFEST, HELD],
        ["test", "-f", HELD],
        ["mv", HELD, "/etc/kubernetes/manifests/"],
    ]


def test_static_pod_stop_and_start_are_idempotent() -> None:
    node = RecordingAccess(lambda n, argv: (1, "") if argv[0] == "test" else "")  # nothing to move
    rt = StaticPodRuntime(node)
    rt.stop("kube-apiserver", "cp-1")
    rt.start("kube-apiserver", "cp-1")
    assert not [argv for argv in node.commands() if argv[0] == "mv"]


def test_static_pod_exec_runs_inside_the_component_container() -> None:
    node = RecordingAccess(Containers("e7cd01"))
    result = StaticPodRuntime(node).exec("etcd", "cp-1", ["etcdctl", "endpoint", "status"])
    assert result.ok
    assert node.commands() == [CRICTL_PS_ETCD, ["crictl", "exec", "e7cd01", "etcdctl", "endpoint", "status"]]


def test_static_pod_exec_without_a_container_answers_a_failure_instead_of_raising() -> None:
    node = RecordingAccess(Containers(""))
    result = StaticPodRuntime(node).exec("etcd", "cp-1", ["etcdctl", "endpoint", "status"])
    assert not result.ok
    assert "no running etcd container on cp-1" in result.stderr


def test_static_pod_kubelet_restart_is_systemctl() -> None:
    node = RecordingAccess()
    assert StaticPodRuntime(node).restart_kubelet("cp-2") == "kubelet on cp-2"
    assert node.calls == [("cp-2", ["systemctl", "restart", "kubelet"])]


# ---------------------------------------------------------------- systemd units (binary installs)


def main_pids(*pids: str) -> RecordingAccess:
    queue = list(pids)

    def answer(node: str, argv: list[str]) -> Answer:
        if argv[:2] == ["systemctl", "show"]:
            return (queue.pop(0) if len(queue) > 1 else queue[0]) + "\n"
        return ""

    return RecordingAccess(answer)


def test_systemd_kill_sends_sigkill_to_the_unit_named_in_the_inventory() -> None:
    node = main_pids("8123")
    rt = SystemdRuntime(node, units={"etcd": "etcd.service", "kube-apiserver": "kube-apiserver"})
    killed = rt.kill("etcd", "m1")
    assert killed == Instance("etcd", "m1", "8123")
    assert node.calls == [
        ("m1", ["systemctl", "show", "-p", "MainPID", "--value", "etcd.service"]),
        ("m1", ["systemctl", "kill", "-s", "SIGKILL", "etcd.service"]),
    ]


def test_systemd_restart_is_proven_by_a_new_main_pid() -> None:
    node = main_pids("8123", "0", "8190")
    rt = SystemdRuntime(node)
    killed = rt.kill("kube-apiserver", "m2")
    assert rt.instance("kube-apiserver", "m2") is None  # MainPID 0: the unit is between runs
    restarted = rt.instance("kube-apiserver", "m2")
    assert restarted is not None
    assert restarted.id == "8190" != killed.id


def test_systemd_kill_of_a_unit_without_main_pid_is_refused() -> None:
    node = main_pids("0")
    with pytest.raises(FaultInjectionError, match="unit kube-scheduler on m3 has no main PID"):
        SystemdRuntime(node).kill("kube-scheduler", "m3")
    assert not [argv for argv in node.commands() if argv[1] == "kill"]


def test_systemd_stop_start_exec_and_kubelet() -> None:
    node = RecordingAccess()
    rt = SystemdRuntime(node, units={"etcd": "etcd.service"})
    rt.stop("etcd", "m1")
    rt.start("etcd", "m1")
    rt.exec("etcd", "m1", ["etcdctl", "member", "list"])
    assert rt.restart_kubelet("m1") == "kubelet on m1"
    assert node.commands("m1") == [
        ["systemctl", "stop", "--no-block", "etcd.service"],
        ["systemctl", "start", "--no-block", "etcd.service"],
        ["etcdctl", "member", "list"],
        ["systemctl", "cat", "kubelet"],
        ["systemctl", "restart", "kubelet"],
    ]


def test_systemd_restarts_the_unit_playing_the_kubelet_only_where_the_host_has_one() -> None:
    """A binary install's control planes often run no kubelet: nothing is restarted there, and nothing is
    claimed; the inventory may name another unit (KWOK's) as the kubelet."""
    no_unit = RecordingAccess(lambda node, argv: (1, "") if argv[:2] == ["systemctl", "cat"] else "")
    rt = SystemdRuntime(no_unit, units={"kubelet": "kwok"})
    assert rt.restart_kubelet("m2") == ""
    assert no_unit.commands("m2") == [["systemctl", "cat", "kwok"]]
    with_unit = RecordingAccess()
    assert SystemdRuntime(with_unit, units={"kubelet": "kwok"}).restart_kubelet("m1") == "kwok on m1"
    assert with_unit.commands("m1")[-1] == ["systemctl", "restart", "kwok"]


def test_describe_shows_what_a_dry_run_would_send() -> None:
    node = RecordingAccess()
    assert SystemdRuntime(node).describe("kill", "etcd", "m1") == "on m1: systemctl kill -s SIGKILL etcd"
    assert StaticPodRuntime(node).describe("stop", "etcd", "cp-1") == (
        "on cp-1: mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/kubedrill-held/"
    )
    assert node.calls == []  # describing runs nothing


# ---------------------------------------------------------------- the embedded supervisor


def supervised(pid: int, state: str = "running", alive: bool = True) -> RecordingAccess:
    def answer(node: str, argv: list[str]) -> Answer:
        if argv[0] == "cat":
            return json.dumps({"pid": pid, "state": state, "restarts": 2})
        if argv[:2] == ["kill", "-0"]:
            return (0, "") if alive else (1, "")
        return ""

    return RecordingAccess(answer)


def test_supervisor_kill_reads_the_pid_from_its_status_file_and_checks_it_lives() -> None:
    node = supervised(4242)
    killed = SupervisorRuntime(node, Path("/run/kd")).kill("etcd", "cp-1")
    assert killed == Instance("etcd", "cp-1", "4242", restarts=2)
    assert node.commands() == [["cat", "/run/kd/etcd-cp-1.json"], ["kill", "-0", "4242"], ["kill", "-KILL", "4242"]]


def test_supervisor_stop_holds_then_kills_and_start_releases() -> None:
    node = supervised(77)
    rt = SupervisorRuntime(node, Path("/run/kd"))
    rt.stop("kube-apiserver", "cp-2")
    rt.start("kube-apiserver", "cp-2")
    assert node.commands() == [
        ["touch", "/run/kd/kube-apiserver-cp-2.hold"],
        ["cat", "/run/kd/kube-apiserver-cp-2.json"],
        ["kill", "-0", "77"],
        ["kill", "-KILL", "77"],
        ["rm", "-f", "/run/kd/kube-apiserver-cp-2.hold"],
    ]


def test_supervisor_sees_no_instance_in_backoff_or_when_the_pid_is_gone() -> None:
    assert SupervisorRuntime(supervised(5, state="backoff"), Path("/r")).instance("etcd", "cp-1") is None
    assert SupervisorRuntime(supervised(5, alive=False), Path("/r")).instance("etcd", "cp-1") is None


def test_supervisor_kubelet_is_kwok_on_the_host() -> None:
    node = supervised(31)
    assert SupervisorRuntime(node, Path("/r")).restart_kubelet(HOST) == "kwok"
    assert node.commands()[-1] == ["kill", "-KILL", "31"]
    assert node.commands()[0] == ["cat", "/r/kwok.json"]


# ---------------------------------------------------------------- a container's main process (kind's load balancer)

LB = "kubedrill-external-load-balancer"


def test_a_containers_main_process_is_stopped_and_started_with_its_container() -> None:
    rt = ContainerRuntime(DockerExecAccess())
    assert rt.describe("stop", "haproxy", LB) == f"docker stop --time 0 {LB}"
    assert rt.describe("start", "haproxy", LB) == f"docker start {LB}"
    # a hold needs no API server: the same stop and start
    assert rt.describe("hold", "haproxy", LB) == rt.describe("stop", "haproxy", LB)
    assert rt.describe("release", "haproxy", LB) == rt.describe("start", "haproxy", LB)


def test_a_containers_main_process_is_never_killed_alone() -> None:
    """Killed, the container's restart policy would decide what comes back: kubedrill stops and starts it."""
    rt = ContainerRuntime(DockerExecAccess(docker="/nonexistent/docker"))  # a kill that ran anything would fail
    with pytest.raises(FaultInjectionError, match=f"haproxy on {LB} is the main process of a container"):
        rt.kill("haproxy", LB)
    assert rt.describe("kill", "haproxy", LB).startswith("refused:")
