"""The fault contract, and the machinery that guarantees every fault is undone.

``Rollbacks`` is the drill's undo stack: ``inject(fault)`` checks the quorum guard, writes the fault to
the ledger, injects it, and pushes its revert. ``close()`` runs every revert, newest first, even when an
earlier one fails, with SIGINT and SIGTERM blocked for the whole loop so a second (or third) Ctrl-C cannot
skip a revert; failures are raised together as one RollbackFailed at the end, after every other revert ran.

The quorum guard: faults declare what they take down (``takes_down``: etcd members and API servers, by
node). No drill may have more than (N-1)/2 of either down at once unless it was marked ``quorum_loss``
and selected explicitly (``allow_quorum_loss``); the refusal comes before the ledger and the injection.
"""

from __future__ import annotations

import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, ClassVar

from kubedrill.backends.cluster import Cluster
from kubedrill.errors import FaultInjectionError, QuorumGuard, RollbackFailed
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
    """One fault. Each type names its ``fault_type``, the key under which the ledger records it and
    ``kubedrill.faults.fault_types.FAULT_TYPES`` finds it again for ``kubedrill recover``."""

    fault_type: ClassVar[str]

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
        return f"{self.fault_type} {self.params()}"

    def takes_down(self) -> frozenset[tuple[str, str]]:
        """What this fault makes unavailable until it is reverted, as (component, node) pairs; only
        ``etcd`` and ``kube-apiserver`` count for the quorum guard. Called after ``plan()``."""
        return frozenset()


GUARDED = ("etcd", "kube-apiserver")


def quorum_budget(n: int) -> int:
    """How many of ``n`` members may be down at once with a majority left: (N-1)/2."""
    return (n - 1) // 2


def quorum_violations(down: frozenset[tuple[str, str]], sizes: dict[str, int]) -> list[str]:
    """Which guarded components ``down`` takes below a majority (pure; empty when the budget holds)."""
    out = []
    for component in GUARDED:
        nodes = sorted(n for c, n in down if c == component)
        total = sizes.get(component, 0)
        if nodes and not total:
            out.append(f"{component} on {', '.join(nodes)} of a cluster whose size is unknown (fails closed)")
        elif nodes and len(nodes) > quorum_budget(total):
            out.append(
                f"{len(nodes)} of {total} {component} ({', '.join(nodes)}); "
                f"at most {quorum_budget(total)} = (N-1)/2 may be down at once"
            )
    return out


def cluster_record(cluster: Cluster, inventory: str | None = None) -> dict[str, Any]:
    return {
        "kubeconfig": cluster.kubeconfig,
        "context": cluster.context,
        "backend": cluster.backend,
        "inventory": inventory,
        "prometheus_url": cluster.prometheus_url,
        # How to reach the nodes without the API (a restore stops every API server):
        "control_planes": list(cluster.control_planes),
        "address_of": dict(cluster.address_of),
        "state_dir": str(cluster.layout.state_dir) if cluster.layout is not None else None,
    }


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends (then deliver the first one once): a revert must not be
    interrupted, and no number of Ctrl-Cs may skip one.

    Python handlers, not the thread's signal mask: with the prober's threads running, the kernel hands a
    signal masked in the main thread to another thread, and Python still raises it in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set in the main thread, where signals are raised anyway
        return
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])


@dataclass
class Rollbacks:
    ledger: RollbackLedger
    drill: str
    cluster_info: dict[str, Any]
    on_event: Callable[[str], None] = print
    sizes: dict[str, int] = field(default_factory=dict)  # guarded component → instances (N)
    allow_quorum_loss: bool = False
    _stack: list[tuple[Fault, Entry]] = field(default_factory=list)
    failures: list[tuple[str, BaseException]] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)  # every fault recorded, in order (for the run summary)

    def inject(self, fault: Fault) -> str:
        """Resolve, record, inject, and remember to revert ``fault``. Raises FaultInjectionError if injection
        fails (the revert still runs at close: a half-injected fault is undone too).

        Targets are resolved *before* the ledger entry is written, so the entry names exactly what is about
        to be broken and ``kubedrill recover`` can undo it from the entry alone."""
        fault.plan()
        self.check_quorum(fault)
        entry = self.ledger.begin(fault.fault_type, fault.params(), self.cluster_info, self.drill, fault.describe())
        self._stack.append((fault, entry))
        self.injected.append(fault.describe())
        try:
            return fault.inject()
        except FaultInjectionError:
            raise
        except Exception as e:
            raise FaultInjectionError(f"injecting {fault.describe()} failed: {e}") from e

    def __post_init__(self) -> None:
        if not self.sizes and self.cluster_info.get("control_planes"):
            n = len(self.cluster_info["control_planes"])  # stacked etcd: a member and an API server per node
            self.sizes = dict.fromkeys(GUARDED, n)

    def down(self) -> frozenset[tuple[str, str]]:
        """What the faults on the stack (injected, not yet reverted) hold down."""
        return frozenset().union(*(f.takes_down() for f, _ in self._stack))

    def check_quorum(self, fault: Fault) -> None:
        """The quorum guard: refuse, before anything is recorded or touched, a fault that would leave a
        minority of etcd members or API servers, unless the drill is an explicitly selected quorum_loss one."""
        if self.allow_quorum_loss:
            return
        violations = quorum_violations(self.down() | fault.takes_down(), self.sizes)
        if violations:
            raise QuorumGuard(
                f"quorum guard: refusing {fault.describe()}: it would take down {'; '.join(violations)}. "
                "Only drills marked quorum_loss and selected explicitly may (pytest -m quorum_loss, the drill's "
                "node id, or --allow-quorum-loss / KUBEDRILL_ALLOW_QUORUM_LOSS=1); nothing was touched"
            )

    def open_faults(self) -> list[Fault]:
        """The faults injected and not yet reverted, oldest first."""
        return [f for f, _ in self._stack]

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
        # Blocked for the whole loop, not only inside each revert: a Ctrl-C between two reverts would
        # otherwise end the loop with faults still in place.
        with signals_blocked():
            while self._stack:
                fault, entry = self._stack.pop()
                self._revert(fault, entry)
        if self.failures:
            failures, self.failures = self.failures, []
            raise RollbackFailed(failures)
