"""The only layer that talks to the outside world: the Kubernetes API, etcd, Prometheus, node commands.

Everything above it (faults, probes, SLO maths, drills) calls the small protocols in
``kubedrill.backends.access`` (``NodeAccess``: run a command on a node) and
``kubedrill.backends.runtimes`` (``ComponentRuntime``: kill, stop, start a component), composed per
cluster by ``kubedrill.backends.cluster.detect``, and never imports ``kubernetes``, ``subprocess`` or an
HTTP client itself.
"""
