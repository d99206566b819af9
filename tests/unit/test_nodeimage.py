"""The kind node base image's pure parts: this machine's containerd fixes, the base runtime spec, the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubedrill.errors import LocalClusterError
from kubedrill.local import nodeimage

KIND_CONFIG = """version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = false
"""


def test_containerd_restricts_oom_scores_and_uses_kubeadms_pause() -> None:
    fixed = nodeimage.containerd_config(KIND_CONFIG)
    assert "restrict_oom_score_adj = true" in fixed
    assert "restrict_oom_score_adj = false" not in fixed
    assert 'sandbox_image = "registry.k8s.io/pause:3.10.1"' in fixed
    assert "tolerate_missing_hugepages_controller = true" in fixed  # the rest as kind wrote it


def test_a_kind_config_whose_lines_moved_is_refused_rather_than_silently_left_unfixed() -> None:
    with pytest.raises(LocalClusterError, match="no line 'restrict_oom_score_adj = false'"):
        nodeimage.containerd_config(KIND_CONFIG.replace("restrict_oom_score_adj = false", ""))


def test_the_base_runtime_spec_gets_kinds_hook_and_loses_rlimits() -> None:
    spec = {"process": {"args": ["sh"], "rlimits": [{"type": "RLIMIT_NOFILE"}]}, "hooks": {}}
    base = nodeimage.cri_base_spec(spec)
    assert base["hooks"] == {"createContainer": [{"path": "/kind/bin/mount-product-files.sh"}]}
    assert "rlimits" not in base["process"]  # type: ignore[operator]
    assert spec["process"]["rlimits"], "the input is not changed"


def kind_files(root: Path, entrypoint: str = "#!/bin/bash\n") -> Path:
    for rel in nodeimage.LAYOUT:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(entrypoint if rel.endswith("entrypoint") else rel)
    return root


def test_the_image_key_changes_with_any_input_and_only_then(tmp_path: Path) -> None:
    a = nodeimage.image_key(kind_files(tmp_path / "a"))
    assert nodeimage.image_key(kind_files(tmp_path / "b")) == a
    assert nodeimage.image_key(kind_files(tmp_path / "c", "#!/bin/bash\nset -e\n")) != a
    assert nodeimage.tag(a) == f"kubedrill/node-base:{a}"


KUBEADM_LIST = """registry.k8s.io/kube-apiserver:v1.34.4
registry.k8s.io/kube-controller-manager:v1.34.4
registry.k8s.io/kube-scheduler:v1.34.4
registry.k8s.io/kube-proxy:v1.34.4
registry.k8s.io/coredns/coredns:v1.12.1
registry.k8s.io/pause:3.10.1
registry.k8s.io/etcd:3.6.5-0
"""


def test_each_image_kubeadm_names_is_found_by_its_repository() -> None:
    images = nodeimage.images_for(KUBEADM_LIST)
    assert images["etcd"] == "registry.k8s.io/etcd:3.6.5-0"
    assert images["pause"] == "registry.k8s.io/pause:3.10.1"
    assert images["coredns"] == "registry.k8s.io/coredns/coredns:v1.12.1"
    assert set(nodeimage.COMPONENT_IMAGES) <= set(images), "every image kubedrill makes is one kubeadm asks for"


def test_the_node_key_follows_the_base_and_every_build_group(tmp_path: Path) -> None:
    groups = {g: {"x": tmp_path / f"{g}-v1-aaaa" / "x"} for g in nodeimage.NODE_GROUPS}
    key = nodeimage.node_key("kubedrill/node-base:1", groups)
    assert nodeimage.node_key("kubedrill/node-base:1", groups) == key
    assert nodeimage.node_key("kubedrill/node-base:2", groups) != key
    rebuilt = {**groups, "etcd": {"x": tmp_path / "etcd-v1-bbbb" / "x"}}
    assert nodeimage.node_key("kubedrill/node-base:1", rebuilt) != key


def test_kinds_load_balancer_image_is_read_from_kinds_source() -> None:
    const_go = 'package loadbalancer\n\nconst Image = "docker.io/kindest/haproxy:v20230606-42a2262b"\n'
    assert nodeimage.load_balancer_image(const_go) == "kindest/haproxy:v20230606-42a2262b"
    with pytest.raises(LocalClusterError, match="no `const Image"):
        nodeimage.load_balancer_image("package loadbalancer\n")


def test_the_libraries_ldd_lists_are_taken_by_path_without_the_vdso() -> None:
    ldd = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007f1)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)
"""
    assert nodeimage.libraries(ldd) == [
        "/lib/x86_64-linux-gnu/libcrypt.so.1",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]
