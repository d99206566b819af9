"""kubedrill's pytest plugin (registered by the top-level conftest.py). Filled in by the drill engine."""
