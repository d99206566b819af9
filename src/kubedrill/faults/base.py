"""The fault contract, and the machinery that guarantees every fault is undone.

``Rollbacks`` is the drill's undo stack: ``inject(fault)`` writes the fault to the ledger, injects it,
and pushes its revert. ``close()`` runs every revert, newest first, even when an earlier one fails, with
SIGINT and SIGTERM blocked so a second Ctrl-C cannot skip a revert; failures are raised together as one
RollbackFailed at the end, after every other revert ran.
"""

from __future__ import annotations

import importlib
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubedrill.backends.cluster import Cluster
from kubedrill.errors import FaultInjectionError, RollbackFailed
from kubedrill.faults.ledger import Entry, RollbackLedger


@dataclass(frozen=True)
class Plan:
    """What a fault will do, resolved: the exact targets and commands. Printed by ``--dry-run``."""

    fault: str
    targets: dict[str, str]
    actions: list[str]
    revert: list[str]

    def render(self) -> str:
        lines = [f"fault {self.fault}"]
        lines += [f"  target {k}: {v}" for k, v in self.targets.items()]
        lines += [f"  inject: {a}" for a in self.actions]
        lines += [f"  revert: {a}" for a in self.revert]
        return "\n".join(lines)


class Fault(ABC):
    """One fault. Subclasses register a ``kind`` so ``kubedrill recover`` can rebuild them from the ledger."""

    kind: ClassVar[str]
    registry: ClassVar[dict[str, type[Fault]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "kind", None):
            Fault.registry[cls.kind] = cls

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """JSON-able parameters from which ``from_params`` rebuilds this fault (for the ledger)."""

    @classmethod
    @abstractmethod
    def from_params(cls, cluster: Cluster, params: dict[str, Any]) -> Fault: ...

    @abstractmethod
    def plan(self) -> Plan:
        """Resolve targets and commands (fixing them in ``params()``); changes nothing in the cluster."""

    @abstractmethod
    def inject(self) -> str:
        """Inject the fault; return evidence that it was sent (e.g. the PID that was killed)."""

    @abstractmethod
    def confirm(self) -> str:
        """Check the fault took effect; return the evidence or raise FaultInjectionError."""

    @abstractmethod
    def revert(self) -> str:
        """Undo the fault. Idempotent: reverting a reverted (or never injected) fault is a no-op."""

    def describe(self) -> str:
        return f"{self.kind} {self.params()}"


def cluster_record(cluster: Cluster, inventory: str | None = None) -> dict[str, Any]:
    return {
        "kubeconfig": cluster.kubeconfig,
        "context": cluster.context,
        "backend": cluster.backend,
        "inventory": inventory,
        "prometheus_url": cluster.prometheus_url,
    }


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Defer SIGINT/SIGTERM (delivered when the block ends): a revert must not be interrupted."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@dataclass
class Rollbacks:
    ledger: RollbackLedger
    drill: str
    cluster_info: dict[str, Any]
    on_event: Callable[[str], None] = print
    _stack: list[tuple[Fault, Entry]] = field(default_factory=list)
    failures: list[tuple[str, BaseException]] = field(default_factory=list)

    def inject(self, fault: Fault) -> str:
        """Resolve, record, inject, and remember to revert ``fault``. Raises FaultInjectionError if injection
        fails (the revert still runs at close: a half-injected fault is undone too).

        Targets are resolved *before* the ledger entry is written, so the entry names exactly what is about
        to be broken and ``kubedrill recover`` can undo it from the entry alone."""
        fault.plan()
        entry = self.ledger.begin(fault.kind, fault.params(), self.cluster_info, self.drill, fault.describe())
        self._stack.append((fault, entry))
        try:
            return fault.inject()
        except FaultInjectionError:
            raise
        except Exception as e:
            raise FaultInjectionError(f"injecting {fault.describe()} failed: {e}") from e

    def revert_one(self, fault: Fault) -> str:
        """Revert one fault early (e.g. to end the fault window) and drop it from the stack."""
        for i, (f, entry) in enumerate(self._stack):
            if f is fault:
                del self._stack[i]
                return self._revert(f, entry)
        return "not injected"

    def _revert(self, fault: Fault, entry: Entry) -> str:
        with signals_blocked():
            try:
                how = fault.revert()
            except Exception as e:
                self.ledger.revert_failed(entry.id, str(e))
                self.failures.append((fault.describe(), e))
                self.on_event(f"ROLLBACK FAILED {fault.describe()}: {e}")
                return f"failed: {e}"
            self.ledger.reverted(entry.id, how)
            self.on_event(f"reverted {fault.describe()}: {how}")
            return how

    def close(self) -> None:
        while self._stack:
            fault, entry = self._stack.pop()
            self._revert(fault, entry)
        if self.failures:
            failures, self.failures = self.failures, []
            raise RollbackFailed(failures)


FAULT_MODULES = (
    "kubedrill.faults.etcd",
    "kubedrill.faults.components",
    "kubedrill.faults.restore",
    "kubedrill.faults.network",
    "kubedrill.faults.drain",
)


def rebuild(entry: Entry, cluster: Cluster) -> Fault:
    for module in FAULT_MODULES:  # every fault kind registers itself when its module is imported
        importlib.import_module(module)
    try:
        cls = Fault.registry[entry.kind]
    except KeyError:
        raise FaultInjectionError(f"ledger entry {entry.id}: unknown fault kind {entry.kind!r}") from None
    return cls.from_params(cluster, entry.params)
