"""Registers kubedrill's pytest plugin for drills/ and tests/ (options, markers, fixtures)."""

pytest_plugins = ["kubedrill.pytest_plugin"]
