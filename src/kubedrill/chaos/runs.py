"""The drills of one experiment run, handed from activity to activity through chaoslib's configuration.

chaoslib gives every Python activity its own shallow copy of the run's configuration
(``configuration.copy()`` in ``chaoslib.provider.python``), so an activity cannot add a key the next one
sees; a *value* already in the configuration, though, is the same object for every activity of the run.
``Runs`` is that value, under ``RUNS_KEY``:

- under pytest, ``kubedrill.chaos.runner`` creates one per experiment run (with the game day's
  injection gate, if any), passes it in through ``experiment_vars`` (so the live object never enters
  the experiment, and so never the journal) and reads the drill back from it afterwards;
- under plain ``chaos run``, the ``kubedrill.chaos.control`` control every scenario declares creates one
  in the run's configuration when the run is configured, before the first activity.

A run is named by ``kubedrill_run_id`` in the configuration (``chaos-run`` without one).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubedrill.errors import PreconditionFailed

if TYPE_CHECKING:
    from kubedrill.drill import DrillRun, InjectionGate

RUNS_KEY = "kubedrill_runs"
DEFAULT_RUN_ID = "chaos-run"
NOT_STARTED = "no drill started: the experiment's method must begin with start_drill"
NO_REGISTRY = (
    f"kubedrill's run registry ({RUNS_KEY}) is not in the experiment's configuration: declare the "
    "kubedrill.chaos.control control (every experiment in scenarios/ does) or run the experiment through "
    "kubedrill's pytest runner"
)

Configuration = dict[str, Any] | None


@dataclass(eq=False, repr=False)
class Runs:
    """Drills by run id, and the runs refused before a DrillRun existed (the context guard)."""

    gate: InjectionGate | None = None  # a game day's: every drill started here asks a person first
    _runs: dict[str, DrillRun] = field(default_factory=dict, init=False)
    _refused: dict[str, PreconditionFailed] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __repr__(self) -> str:  # what a journal or a log line could show: never the drills themselves
        return f"<kubedrill run registry: {len(self._runs)} drill(s)>"

    def add(self, run_id: str, run: DrillRun) -> None:
        with self._lock:
            self._runs[run_id] = run

    def refuse(self, run_id: str, refusal: PreconditionFailed) -> None:
        with self._lock:
            self._refused[run_id] = refusal

    def get(self, run_id: str) -> DrillRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def refusal(self, run_id: str) -> PreconditionFailed | None:
        with self._lock:
            return self._refused.get(run_id)

    def current(self, run_id: str) -> DrillRun:
        """The run's drill, ready for its next step; PreconditionFailed if none was started or it was refused."""
        run = self.get(run_id)
        if run is None:
            raise PreconditionFailed(NOT_STARTED)
        if run.refused is not None:
            # chaoslib runs the next activity after a failed one: a refused drill must inject nothing further.
            raise PreconditionFailed(f"not run: the drill was refused before any fault: {run.refused}")
        return run

    def pop(self, run_id: str) -> DrillRun | None:
        with self._lock:
            return self._runs.pop(run_id, None)

    def pop_refusal(self, run_id: str) -> PreconditionFailed | None:
        with self._lock:
            return self._refused.pop(run_id, None)


def run_id(configuration: Configuration) -> str:
    return str((configuration or {}).get("kubedrill_run_id", DEFAULT_RUN_ID))


def runs_of(configuration: Configuration) -> Runs | None:
    """The registry this experiment run was given (None: neither the runner nor the control made one)."""
    runs = (configuration or {}).get(RUNS_KEY)
    return runs if isinstance(runs, Runs) else None


def ensure_runs(configuration: dict[str, Any]) -> Runs:
    """The run's registry, created in ``configuration`` (the run's own, not an activity's copy) if missing."""
    runs = runs_of(configuration)
    if runs is None:
        runs = configuration[RUNS_KEY] = Runs()
    return runs


def current(configuration: Configuration) -> DrillRun:
    """The drill of the run ``configuration`` belongs to (the same PreconditionFailed as ever without one)."""
    runs = runs_of(configuration)
    if runs is None:
        raise PreconditionFailed(NOT_STARTED)
    return runs.current(run_id(configuration))
