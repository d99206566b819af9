"""What one pytest session shares between kubedrill's pytest plugin and a game day, kept in the
session's own ``config.stash`` (never in module globals): the run summary's rows, the environment the
drills ran against, and the injection gate a game day installs so that a person confirms each fault.

Neutral ground: ``kubedrill.gameday`` runs pytest in-process with its own plugin and reads these, and
``kubedrill.pytest_plugin`` writes and reads them, without either importing the other.
"""

from __future__ import annotations

import pytest

from kubedrill.drill import InjectionGate
from kubedrill.report.summary import DrillRow

SUMMARY_KEY = pytest.StashKey[dict[str, DrillRow]]()
GATE_KEY = pytest.StashKey[InjectionGate]()
ENVIRONMENT_KEY = pytest.StashKey[dict[str, str]]()


def summary_rows(config: pytest.Config) -> dict[str, DrillRow]:
    """The run summary's rows by node id, filled in as drills finish."""
    return config.stash.setdefault(SUMMARY_KEY, {})


def set_injection_gate(config: pytest.Config, gate: InjectionGate) -> None:
    """Every drill of this session calls ``gate(drill, what)`` right before its fault window opens."""
    config.stash[GATE_KEY] = gate


def injection_gate(config: pytest.Config) -> InjectionGate | None:
    return config.stash.get(GATE_KEY, None)


def set_drill_environment(config: pytest.Config, environment: dict[str, str]) -> None:
    """What the drills ran against (cluster, versions, profile), for the report's environment section."""
    config.stash[ENVIRONMENT_KEY] = environment


def drill_environment(config: pytest.Config) -> dict[str, str]:
    return config.stash.get(ENVIRONMENT_KEY, {})
