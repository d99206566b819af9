"""Faults: one module per family (``etcd``, ``components``, ``network``, ``drain``, ``restore``), each with
its Fault classes (a pure plan, inject, a check that it took effect, an idempotent revert), the drill
steps the Chaos Toolkit activities of the same name run, and their ``plan_<activity>`` for --dry-run.
``steps`` holds the steps several families share; ``base`` (Fault, Plan, Rollbacks) and ``ledger`` are the
undo machinery: every fault is written to the on-disk rollback ledger before it is injected, and
``fault_types`` finds its type again by name for ``kubedrill recover``."""
