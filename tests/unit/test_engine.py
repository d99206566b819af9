"""The Docker engine's pure decisions, and the runc wrapper's rewrite of OCI specs (no engine needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kubedrill.backends import runc_wrapper
from kubedrill.backends.runc_wrapper import CAPABILITIES, missing_capabilities, rewrite, spec_file, strip
from kubedrill.local import engine

THIS_KIND_OF_MACHINE = "000001fffeffffff"  # every capability up to 40 but CAP_SYS_RESOURCE (24)


def test_the_bounding_set_of_this_kind_of_machine_lacks_only_cap_sys_resource() -> None:
    assert missing_capabilities(THIS_KIND_OF_MACHINE, 40) == ["CAP_SYS_RESOURCE"]
    assert missing_capabilities("000001ffffffffff", 40) == []
    assert missing_capabilities("0000000000000000", 2) == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"]
    assert len(CAPABILITIES) == 41
    assert CAPABILITIES[24] == "CAP_SYS_RESOURCE"


def privileged_process() -> dict:
    every = list(CAPABILITIES)
    return {"args": ["/sbin/init"], "capabilities": {s: list(every) for s in ("bounding", "effective", "permitted")}}


def test_strip_removes_the_missing_capability_from_every_set_and_keeps_the_rest() -> None:
    process = privileged_process()
    assert strip(process, ["CAP_SYS_RESOURCE"]) is True
    for name in ("bounding", "effective", "permitted"):
        assert "CAP_SYS_RESOURCE" not in process["capabilities"][name]
        assert len(process["capabilities"][name]) == 40
    assert strip(process, ["CAP_SYS_RESOURCE"]) is False  # nothing left to remove: the file is not rewritten


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--root", "/run/r", "--log", "l.json", "create", "--bundle", "/b/1", "c1"], ("/b/1/config.json", "config")),
        (["create", "-b=/b/2", "c2"], ("/b/2/config.json", "config")),
        (["--systemd-cgroup", "run", "--bundle", "/b/3", "c3"], ("/b/3/config.json", "config")),
        (["exec", "--process", "/tmp/p.json", "--detach", "c1"], ("/tmp/p.json", "process")),
        (["exec", "-p", "/tmp/q.json", "c1"], ("/tmp/q.json", "process")),
        (["exec", "c1", "ls"], None),  # an exec without a process file carries no capabilities to fix
        (["--root", "/run/r", "state", "c1"], None),
        (["delete", "--force", "c1"], None),
    ],
)
def test_the_spec_file_runc_reads_is_found_in_each_call_form(args: list[str], expected: tuple[str, str] | None) -> None:
    assert spec_file(args) == expected


def test_rewrite_edits_a_bundle_config_in_place(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"ociVersion": "1.0.2", "process": privileged_process()}))
    rewrite(["create", "--bundle", str(tmp_path), "node"], ["CAP_SYS_RESOURCE"])
    caps = json.loads(config.read_text())["process"]["capabilities"]
    assert all("CAP_SYS_RESOURCE" not in caps[s] for s in caps)
    assert json.loads(config.read_text())["ociVersion"] == "1.0.2"


def test_rewrite_of_an_exec_process_file_and_of_nothing_to_fix(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(json.dumps(privileged_process()))
    rewrite(["exec", "--process", str(process), "node"], ["CAP_SYS_RESOURCE"])
    assert "CAP_SYS_RESOURCE" not in json.loads(process.read_text())["capabilities"]["effective"]
    untouched = tmp_path / "untouched.json"
    untouched.write_text(json.dumps(privileged_process()))
    before = untouched.stat().st_mtime_ns
    rewrite(["exec", "--process", str(untouched), "node"], [])  # a machine that lacks nothing
    assert untouched.stat().st_mtime_ns == before


def test_a_broken_spec_is_left_for_runc_to_refuse(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    rewrite(["create", "--bundle", str(tmp_path), "node"], ["CAP_SYS_RESOURCE"])  # does not raise
    assert (tmp_path / "config.json").read_text() == "{not json"


def test_an_answering_engine_is_used_as_it_is_whoever_runs_it() -> None:
    assert engine.plan(None, is_root=False, is_debian=False, has_dockerd=False, missing=["CAP_SYS_RESOURCE"]) == (
        engine.Plan(use_existing=True, install=False, wrap_runc=False)
    )


def test_without_an_engine_kubedrill_starts_one_as_root_installing_docker_io_on_debian() -> None:
    on_debian = engine.plan("exit 1: Cannot connect", True, True, False, ["CAP_SYS_RESOURCE"])
    assert on_debian == engine.Plan(use_existing=False, install=True, wrap_runc=True)
    installed = engine.plan("exit 1: Cannot connect", True, False, True, [])
    assert installed == engine.Plan(use_existing=False, install=False, wrap_runc=False)


@pytest.mark.parametrize(("root", "debian", "dockerd"), [(False, True, True), (True, False, False)])
def test_anywhere_else_it_refuses_in_one_line_naming_what_to_do(root: bool, debian: bool, dockerd: bool) -> None:
    refused = engine.plan("exit 1: Cannot connect", root, debian, dockerd, [])
    assert refused.refusal is not None
    assert refused.refusal.startswith("no Docker engine: 'docker info' failed (exit 1: Cannot connect)")
    assert "kubedrill up" in refused.refusal
    assert "\n" not in refused.refusal


def test_dockerd_runs_without_iptables_and_with_the_wrapper_only_when_given(tmp_path: Path) -> None:
    plain = engine.dockerd_argv(tmp_path / "d.pid", None)
    assert plain == ["dockerd", f"--pidfile={tmp_path}/d.pid", "--iptables=false", "--ip-masq=false", "--bridge=none"]
    wrapped = engine.dockerd_argv(tmp_path / "d.pid", tmp_path / "kubedrill-runc")
    assert wrapped[-2:] == [
        f"--add-runtime=kubedrill-runc={tmp_path}/kubedrill-runc",
        "--default-runtime=kubedrill-runc",
    ]


def test_the_installed_wrapper_names_the_real_runc_and_a_python_outside_any_venv(tmp_path: Path) -> None:
    wrapper = engine.install_wrapper(tmp_path)
    text = wrapper.read_text()
    first = text.splitlines()[0]
    assert first.startswith("#!/")
    assert first.endswith(" -I")
    assert "@REAL_RUNC@" not in text
    assert 'REAL_RUNC = "/' in text
    assert wrapper.stat().st_mode & 0o111
    real_runc = shutil.which("runc") or "/usr/sbin/runc"
    assert text.split("\n", 1)[1] == Path(runc_wrapper.__file__).read_text().replace("@REAL_RUNC@", real_runc)


PROC_CGROUPS = """#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t2\t1
cpu\t1\t2\t1
memory\t4\t62\t1
net_cls\t12\t2\t1
perf_event\t11\t2\t1
net_prio\t12\t2\t1
hugetlb\t10\t2\t1
rdma\t0\t1\t0
"""


def test_the_cgroup_hierarchies_kind_needs_and_this_machine_lacks_are_found() -> None:
    mounted = {"cpuset", "cpu", "cpuacct", "memory", "systemd", "unified"}
    assert engine.unmounted_cgroups(PROC_CGROUPS, mounted) == ["net_cls,net_prio", "perf_event", "hugetlb"]
    assert engine.unmounted_cgroups(PROC_CGROUPS, {*mounted, "net_cls,net_prio", "perf_event", "hugetlb"}) == []
    assert engine.unmounted_cgroups(PROC_CGROUPS, {"cpu,cpuacct", "cpuset", "memory"}) == [
        "net_cls,net_prio", "perf_event", "hugetlb"
    ]  # fmt: skip
