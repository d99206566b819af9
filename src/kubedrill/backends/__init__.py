"""The only layer that talks to the outside world: the Kubernetes API, etcd, Prometheus, node commands.

Everything above it (faults, probes, SLO maths, drills) calls the small interfaces in
``kubedrill.backends.base`` and never imports ``kubernetes``, ``subprocess`` or an HTTP client.
"""
