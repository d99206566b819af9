"""Faults: one module per family. Each has a pure plan, inject, a check that it took effect, and an
idempotent revert, and is written to the on-disk rollback ledger before it is injected."""
