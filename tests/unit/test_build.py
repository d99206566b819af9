"""The binary build's pure decisions: versions file, binary names, cache keys, partial builds."""

import json
from pathlib import Path

import pytest

from kubedrill.errors import LocalClusterError
from kubedrill.local import build


def test_versions_file_pins_every_component() -> None:
    groups = build.load_groups()
    binaries = {b for g in groups.values() for b in g.binaries}
    assert binaries == {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubectl",
        "etcd",
        "etcdctl",
        "etcdutl",
        "kwok",
        "kube-state-metrics",
    }
    etcd = groups["etcd"]
    assert etcd.version.startswith(("v3.5.", "v3.6.")), "a current 3.5.x/3.6.x etcd, not the 3.5.1 wheel"


def test_every_group_has_a_committed_go_mod_and_go_sum_matching_its_version() -> None:
    for group in build.load_groups().values():
        gomod = (group.gomod_dir / "go.mod").read_text()
        assert (group.gomod_dir / "go.sum").stat().st_size > 0, group.name
        for module in group.modules:
            assert f"{module} {group.version}" in gomod, f"{group.name}: go.mod does not require {module}"


def test_kubernetes_staging_modules_are_mapped_to_published_versions() -> None:
    group = build.load_groups()["kubernetes"]
    gomod = (group.gomod_dir / "go.mod").read_text()
    staging = "v0." + group.version.split(".", 1)[1]
    assert f"k8s.io/client-go => k8s.io/client-go {staging}" in gomod
    assert "./staging" not in gomod


@pytest.mark.parametrize(
    ("pkg", "name"),
    [
        ("k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver"),
        ("go.etcd.io/etcd/server/v3", "server"),
        ("k8s.io/kube-state-metrics/v2", "kube-state-metrics"),
    ],
)
def test_go_build_default_binary_names(pkg: str, name: str) -> None:
    assert build._default_binary_name(pkg) == name


def test_ldflags_stamp_the_version() -> None:
    flags = build.load_groups()["kubernetes"].resolved_ldflags()
    assert "gitVersion=v1.34.4" in flags
    assert "gitMinor=34" in flags


def test_cache_key_changes_with_the_version() -> None:
    group = build.load_groups()["kwok"]
    other = build.Group(**{**group.__dict__, "version": "v9.9.9"})
    assert build.cache_key(group, "go1.26.8") != build.cache_key(other, "go1.26.8")
    assert build.cache_key(group, "go1.26.8") != build.cache_key(group, "go1.27.0")


def test_a_partial_build_is_never_taken_as_complete(tmp_path: Path) -> None:
    group = build.load_groups()["etcd"]
    assert not build.is_complete(tmp_path, group)  # no manifest
    for name in group.binaries:
        (tmp_path / name).write_bytes(b"x" * 10)
    (tmp_path / build.MANIFEST).write_text(json.dumps({"sizes": dict.fromkeys(group.binaries, 10)}))
    assert build.is_complete(tmp_path, group)
    (tmp_path / "etcdutl").write_bytes(b"x" * 3)  # truncated binary
    assert not build.is_complete(tmp_path, group)


def test_on_demand_groups_are_left_out_of_the_default_build() -> None:
    """kind is built only when asked for: `kubedrill build`, the embedded cluster and CI never pay for it."""
    assert "kind" not in build.load_groups()
    assert [g.name for g in build.select_groups()] == list(build.load_groups())
    every = build.load_groups(include_on_demand=True)
    assert every["kind"].on_demand
    assert every["kind"].binaries == {"kind": "sigs.k8s.io/kind"}
    assert not any(g.on_demand for g in build.load_groups().values())
    assert [g.name for g in build.select_groups(["kind"])] == ["kind"]
    with pytest.raises(LocalClusterError, match="unknown binary group"):
        build.select_groups(["kindd"])


def test_on_demand_is_read_from_the_versions_file(tmp_path: Path) -> None:
    versions = tmp_path / "versions.toml"
    versions.write_text(
        '[always]\nversion = "v1.0.0"\nmodules = ["example.com/a"]\nbinaries = { a = "example.com/a" }\n'
        '[asked]\nversion = "v1.0.0"\nmodules = ["example.com/b"]\nbinaries = { b = "example.com/b" }\n'
        "on_demand = true\n"
    )
    assert list(build.load_groups(versions)) == ["always"]
    assert list(build.load_groups(versions, include_on_demand=True)) == ["always", "asked"]
    versions.write_text(versions.read_text().replace("on_demand = true", 'on_demand = "yes"'))
    with pytest.raises(LocalClusterError, match=r"\[asked\] on_demand: expected true or false"):
        build.load_groups(versions, include_on_demand=True)


def test_missing_binaries_never_name_an_on_demand_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEDRILL_CACHE", str(tmp_path))  # an empty cache: nothing is built
    with pytest.raises(LocalClusterError) as missing:
        build.cached_binaries()
    assert "kubernetes v1.34.4" in str(missing.value)
    assert "kind" not in str(missing.value)
    assert build.cached_group("kind") is None


def test_on_demand_groups_have_a_committed_go_mod_and_go_sum_matching_their_version() -> None:
    for group in build.load_groups(include_on_demand=True).values():
        if not group.on_demand:
            continue
        gomod = (group.gomod_dir / "go.mod").read_text()
        assert (group.gomod_dir / "go.sum").stat().st_size > 0, group.name
        assert (group.gomod_dir / "tools.go").is_file(), group.name
        for module in group.modules:
            assert f"{module} {group.version}" in gomod, f"{group.name}: go.mod does not require {module}"
