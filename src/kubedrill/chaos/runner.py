"""Run a Chaos Toolkit experiment from a pytest drill: through chaoslib, with kubedrill's guarantees.

- rollback strategy ``always``: chaoslib's default skips rollbacks on interrupt;
- the main thread only: chaoslib installs signal handlers;
- the journal is redacted (it copies configuration and secrets in plain text) before it is attached;
- afterwards the drill's own Rollbacks run again (idempotent), so nothing is left even if chaoslib's
  rollbacks were skipped; then the outcome becomes kubedrill's: SloViolation, FaultInjectionError,
  RollbackFailed or KeyboardInterrupt;
- a probe of the method from another extension (chaostoolkit-kubernetes's ``pods_in_phase``, say) is one
  of the drill's checks (``extension_checks``): these probes raise when the state is not as expected, so a
  failed one is a finding, while a failed action (or a kubedrill activity) means the drill measured nothing.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.types import Strategy

from kubedrill.chaos.runs import RUNS_KEY, Runs
from kubedrill.config import read_yaml
from kubedrill.drill import DrillRun, InjectionGate
from kubedrill.errors import (
    ConfigError,
    Declined,
    FaultInjectionError,
    PreconditionFailed,
    RollbackFailed,
    SloViolation,
)
from kubedrill.model import Check, Impact
from kubedrill.redact import redact
from kubedrill.report import allure_report
from kubedrill.settings import RunSettings

CHAOS_SETTINGS = {"runtime": {"rollbacks": {"strategy": "always"}}}


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    experiment = read_yaml(p, "Chaos Toolkit experiment")
    if not isinstance(experiment, dict):
        raise ConfigError(str(p), "(top level)", "an experiment mapping", type(experiment).__name__)
    try:
        ensure_experiment_is_valid(experiment)
    except Exception as e:  # chaoslib raises InvalidExperiment (and friends) with the reason
        raise ConfigError(str(p), "(experiment)", "a valid Chaos Toolkit experiment", str(e)) from e
    return experiment


def configuration_for(settings: RunSettings, run_id: str) -> dict[str, Any]:
    return {"kubedrill_run_id": run_id, **settings.to_configuration()}


def _is_extension_probe(activity: dict[str, Any]) -> bool:
    module = str((activity.get("provider") or {}).get("module", ""))
    return activity.get("type") == "probe" and not module.startswith("kubedrill.")


def _failed_actions(journal: dict[str, Any]) -> list[str]:
    return [
        f"{r['activity']['name']}: {r.get('exception') and ''.join(r['exception'])[-600:]}"
        for r in journal.get("run", [])
        if r.get("status") == "failed"
        and not (_is_extension_probe(r["activity"]) and _probe_finding(r.get("exception")) is not None)
    ]


def _last_line(exception: Any) -> str:
    text = "".join(exception) if isinstance(exception, list) else str(exception or "")
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return lines[-1] if lines else ""


_ACTIVITY_FAILED = "chaoslib.exceptions.ActivityFailed: "


def _probe_finding(exception: Any) -> str | None:
    """What a probe said when it raised ActivityFailed itself (the state was not as expected); None when
    something else failed it (no client, the API unreachable). chaoslib wraps every exception an activity
    raises in ActivityFailed, so the probe's own reads as two."""
    line = _last_line(exception).removeprefix(_ACTIVITY_FAILED)
    return line.removeprefix(_ACTIVITY_FAILED)[:300] if line.startswith(_ACTIVITY_FAILED) else None


def extension_checks(journal: dict[str, Any]) -> list[Check]:
    """One check per probe of the method that another extension provides, in run order: it held (returned)
    or found the state not as expected, in the extension's own words; a probe that failed for another reason
    is a broken drill (``_failed_actions``), not a finding. What it protects is the workload state it reads
    (users)."""
    out = []
    for r in journal.get("run", []):
        activity = r.get("activity") or {}
        if not _is_extension_probe(activity):
            continue
        provider = activity.get("provider") or {}
        held = r.get("status") == "succeeded"
        finding = _probe_finding(r.get("exception"))
        if not held and finding is None:
            continue
        observed = f"held (returned {str(r.get('output'))[:120]})" if held else f"failed: {finding}"
        out.append(
            Check(
                f"{activity.get('name')} ({provider.get('module')}.{provider.get('func')})",
                "the probe holds (it raises when the state is not as expected)",
                observed,
                ok=held,
                hint=f"the probe's arguments: {json.dumps(provider.get('arguments') or {}, default=str)}",
                impact=Impact.USERS,
            )
        )
    return out


def run(
    path: str | Path,
    settings: RunSettings,
    journal_dir: Path | None = None,
    on_finished: Callable[[DrillRun], None] | None = None,
    gate: InjectionGate | None = None,
) -> DrillRun:
    """Run the experiment at ``path``; return the drill run (measurements, verdict) or raise its failure.

    ``on_finished`` sees the drill once it is reverted and reported, whatever the outcome (the run
    summary collects its figures there). ``gate`` (a game day's) is asked before every injection."""
    if threading.current_thread() is not threading.main_thread():
        raise PreconditionFailed("chaoslib's run_experiment must run in the main thread")
    experiment = load(path)
    run_id = f"pytest-{uuid.uuid4().hex[:8]}"
    experiment.setdefault("configuration", {}).update(configuration_for(settings, run_id))
    # This run's own registry, for its activities only. chaoslib takes a configuration value from
    # experiment_vars only for a key the experiment declares: the placeholder is what the journal shows.
    runs = Runs(gate=gate)
    experiment["configuration"][RUNS_KEY] = "the run's drills (given by kubedrill's pytest runner)"
    journal: dict[str, Any] = {}
    drill: DrillRun | None = None
    try:
        journal = run_experiment(
            experiment, settings=CHAOS_SETTINGS, experiment_vars=({RUNS_KEY: runs}, None), strategy=Strategy.DEFAULT
        )
    finally:
        drill = runs.pop(run_id)
        refusal = runs.pop_refusal(run_id)
        rollback_error: RollbackFailed | None = None
        if drill is not None:
            for check in extension_checks(journal):
                drill.add(check)
            try:
                drill.rollbacks.close()  # a no-op when chaoslib's rollbacks already reverted everything
            except RollbackFailed as e:
                rollback_error = e
            finally:
                drill.collect_events()
                drill.teardown()
                drill.report()
                if on_finished is not None:
                    on_finished(drill)
        if journal:
            safe = redact(journal)
            allure_report.attach_json("chaos toolkit journal (redacted)", safe)
            if journal_dir is not None:
                journal_dir.mkdir(parents=True, exist_ok=True)
                (journal_dir / f"journal-{run_id}.json").write_text(json.dumps(safe, indent=2, default=str))
    status = journal.get("status")
    if status == "interrupted":
        if rollback_error is not None:  # still an interrupt (the run must stop), but never a silent one
            raise KeyboardInterrupt(f"experiment {path} interrupted; {rollback_error}")
        raise KeyboardInterrupt(f"experiment {path} interrupted; rollbacks were played")
    if rollback_error is not None:
        raise rollback_error
    rollback_failures = [r for r in journal.get("rollbacks", []) if r.get("status") == "failed"]
    if rollback_failures:
        raise RollbackFailed(
            [(r["activity"]["name"], RuntimeError(str(r.get("exception", ""))[-300:])) for r in rollback_failures]
        )
    if refusal is not None:
        raise PreconditionFailed(f"PreconditionFailed: {refusal}")
    if drill is None:
        raise FaultInjectionError(f"experiment {path} never started a drill: {_failed_actions(journal)}")
    if isinstance(drill.refused, Declined):  # a person said no at the game-day gate
        raise drill.refused
    if drill.refused is not None:  # steady state did not hold, or the quorum guard refused: nothing injected
        raise PreconditionFailed(f"PreconditionFailed in {drill.drill_id}: {drill.refused}")
    failed = _failed_actions(journal)
    if failed:  # a fault that was not injected, or did not take effect, measured nothing: not an SLO verdict
        raise FaultInjectionError(f"experiment {path}: {'; '.join(failed)}")
    drill.assert_slos()
    if journal.get("deviated"):
        raise SloViolation(f"experiment {path}: the steady-state hypothesis deviated after the method")
    return drill
