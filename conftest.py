"""kubedrill's pytest plugin (options, markers, fixtures) comes through its ``pytest11`` entry point, as it
does in a user's repository: ``make deps`` installs this checkout into .venv (``pip install -e``). Run from an
environment without kubedrill, pytest would fail on unknown markers and fixtures; this says why instead."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("kubedrill"):
        raise pytest.UsageError(
            "kubedrill's pytest plugin is not installed in this Python environment: run 'make deps' "
            "(pip install -e .) and use .venv/bin/pytest"
        )
