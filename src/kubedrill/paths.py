"""Where kubedrill keeps state and caches: XDG directories, each overridable by its own variable."""

from __future__ import annotations

import os
from pathlib import Path

# What the package ships beside its code (symlinks to the top-level directories in a checkout, copies in an
# installed wheel): the scenarios and the default SLO profile, ci/ (kind's configuration, manifests, inventory
# examples) and the report's allurerc.
PACKAGE = Path(__file__).parent
SCENARIOS = PACKAGE / "scenarios"
CI = PACKAGE / "ci"
ALLURERC = PACKAGE / "allurerc.mjs"
DEFAULT_PROFILE = SCENARIOS / "slo" / "default.yaml"


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
