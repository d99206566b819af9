"""The Chaos Toolkit control every scenario declares: it keeps secrets out of what ``chaos run`` writes,
and gives the run its registry of drills.

chaoslib copies an experiment's configuration and secrets into its journal verbatim, and `chaos run`
dumps that journal (and its log) as is. Every scenario in ``scenarios/`` declares this control::

    controls:
      - name: kubedrill-redaction
        provider: {type: python, module: kubedrill.chaos.control}

- ``configure_control`` creates the run's registry of drills (``kubedrill.chaos.runs``) in the run's
  configuration, so that ``start_drill`` can hand its drill to the activities after it; and adds a
  filter to the ``chaostoolkit`` logger and its handlers that redacts PEM blocks, bearer tokens and JWTs
  in every log record (console and chaostoolkit.log);
- ``before_activity_control`` hands what the drill has started to the activities after it: their
  arguments may say ``${kubedrill_namespace}``, ``${kubedrill_canary}`` (the canary Deployment) and
  ``${kubedrill_canary_selector}``, which exist only at run time; and since chaostoolkit-kubernetes reads its
  cluster from the environment (``KUBECONFIG``, ``KUBERNETES_CONTEXT``), it points those at the drill's;
- ``after_experiment_control`` redacts the journal in place, after everything else read it and before
  `chaos run` writes it to ``--journal-path``; ``cleanup_control``, called however the run ended, puts the
  environment back.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from kubedrill.backends.kube import set_default_kubeconfig
from kubedrill.chaos.runs import ensure_runs, run_id, runs_of
from kubedrill.redact import redact, redact_text

LOGGER = "chaostoolkit"


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


_FILTER = RedactingFilter()


def install_log_filter() -> None:
    """Idempotent: one filter on the chaostoolkit logger and on each of its handlers."""
    logger = logging.getLogger(LOGGER)
    for target in (logger, *logger.handlers):
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


def configure_control(configuration: dict[str, Any] | None = None, **_: Any) -> None:
    """Called once, before the first activity, with the run's own configuration (activities get copies):
    the place to create the run registry under plain ``chaos run`` (the pytest runner brings its own)."""
    install_log_filter()
    if configuration is not None:
        ensure_runs(configuration)


_SAVED_ENV: dict[str, str | None] = {}  # what before_activity_control replaced, for cleanup_control
_SAVED_DEFAULT: list[str] = []  # the kubernetes client's default kubeconfig before it


def _set_env(key: str, value: str) -> None:
    _SAVED_ENV.setdefault(key, os.environ.get(key))
    os.environ[key] = value


def before_activity_control(context: Any, configuration: dict[str, Any] | None = None, **_: Any) -> None:
    """Before each activity, with the run's own configuration (which chaoslib substitutes ``${...}`` in the
    activity's arguments from): the started drill's namespace and canary, and its cluster for chaosk8s."""
    runs = runs_of(configuration)
    drill = runs.get(run_id(configuration)) if runs is not None and configuration is not None else None
    if drill is None or configuration is None:
        return
    configuration["kubedrill_namespace"] = drill.namespace
    if drill.canary is not None:
        configuration["kubedrill_canary"] = drill.canary.name
        configuration["kubedrill_canary_selector"] = ",".join(f"{k}={v}" for k, v in drill.canary.labels.items())
    _set_env("KUBERNETES_CONTEXT", drill.cluster.context)
    if drill.cluster.kubeconfig:
        _set_env("KUBECONFIG", drill.cluster.kubeconfig)
        # chaosk8s checks $KUBECONFIG exists, then loads the client's default, fixed when it was imported
        previous = set_default_kubeconfig(drill.cluster.kubeconfig)
        if not _SAVED_DEFAULT:
            _SAVED_DEFAULT.append(previous)


def cleanup_control(**_: Any) -> None:
    """Called last, however the run ended: the environment and the client's default as they were."""
    for key, value in _SAVED_ENV.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _SAVED_ENV.clear()
    if _SAVED_DEFAULT:
        set_default_kubeconfig(_SAVED_DEFAULT.pop())


def after_experiment_control(context: Any, state: Any = None, **_: Any) -> None:
    if isinstance(state, dict):
        for key in list(state):
            state[key] = redact(state[key], str(key))
