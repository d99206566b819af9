"""Steady-state instruments: the API prober, workload and Lease watchers, etcd and Prometheus views."""
