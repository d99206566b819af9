"""Chaos Toolkit integration: kubedrill's faults and probes as experiment activities, and the wrapper
that runs an experiment under pytest (rollback strategy ``always``, main thread, journal redacted)."""
