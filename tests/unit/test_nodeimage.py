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
