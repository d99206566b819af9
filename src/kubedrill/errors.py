"""Every error kubedrill raises, in one tree.

::

    DrillError
    ├── ConfigError            bad input, raised before the cluster is touched
    ├── PreconditionFailed     steady state not met: nothing is injected
    │   ├── QuorumGuard        a fault would leave a minority of etcd members or API servers
    │   └── Declined           a person declined the injection at a game-day gate
    ├── BackendError           wraps ApiException / CalledProcessError / HTTP errors (``raise … from e``)
    │   └── ClusterUnreachable the API server, etcd or Prometheus did not answer at all
    ├── FaultInjectionError    the fault could not be injected, or did not take effect
    ├── RecoveryTimeout        the cluster did not come back in time; carries the last observed state
    ├── RollbackFailed         a revert failed; never swallowed, reported last
    └── LocalClusterError      the embedded cluster could not be built, started or stopped
    SloViolation(AssertionError)   a failed drill, not a broken one

Messages say what was expected, what was observed, where, and what to check next.
"""

from __future__ import annotations


class DrillError(Exception):
    """Base class of every error kubedrill raises on purpose."""


class ConfigError(DrillError):
    """Bad input (scenario, SLO profile, inventory, flag): raised before anything is touched."""

    def __init__(self, source: str, field: str, expected: str, got: object = None) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        self.got = got
        observed = "" if got is None else f", got {got!r}"
        super().__init__(f"{source}: {field}: expected {expected}{observed}")


class PreconditionFailed(DrillError):
    """Steady state did not hold before injection: nothing was injected."""


class QuorumGuard(PreconditionFailed):
    """A fault would take down more than (N-1)/2 etcd members or API servers in a drill not allowed to."""


class Declined(PreconditionFailed):
    """A person declined the injection at a game-day gate: the drill is skipped, nothing was injected."""


class BackendError(DrillError):
    """A call to the outside world (API, etcdctl, Prometheus, a node command) failed."""


class ClusterUnreachable(BackendError):
    """The API server, etcd or Prometheus did not answer at all."""


class FaultInjectionError(DrillError):
    """A fault could not be injected, or was injected and did not take effect."""


class RecoveryTimeout(DrillError):
    """The cluster did not recover within the allowed time."""

    def __init__(self, what: str, timeout_s: float, last_observed: object) -> None:
        self.what = what
        self.timeout_s = timeout_s
        self.last_observed = last_observed
        super().__init__(f"{what} not reached within {timeout_s:.1f} s; last observed: {last_observed}")


class RollbackFailed(DrillError):
    """One or more reverts failed. Carries every failure; never swallowed."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        lines = "; ".join(f"{what}: {err}" for what, err in failures)
        super().__init__(
            f"{len(failures)} rollback(s) failed: {lines}; run 'kubedrill recover' and check 'kubedrill status'"
        )


class LocalClusterError(DrillError):
    """The embedded cluster could not be built, started or stopped."""


class SloViolation(AssertionError):
    """The cluster broke a service-level objective during a drill: the drill failed, it did not break."""
