"""Where kubedrill keeps state and caches: XDG directories, each overridable by its own variable."""

from __future__ import annotations

import os
from pathlib import Path


def state_home() -> Path:
    """``$XDG_STATE_HOME/kubedrill``, else ``~/.local/state/kubedrill``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kubedrill"


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/kubedrill``, else ``~/.cache/kubedrill``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubedrill"


def from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else default
