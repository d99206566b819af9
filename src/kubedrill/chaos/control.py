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
- ``after_experiment_control`` redacts the journal in place, after everything else read it and before
  `chaos run` writes it to ``--journal-path``.
"""

from __future__ import annotations

import logging
from typing import Any

from kubedrill.chaos.runs import ensure_runs
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


def after_experiment_control(context: Any, state: Any = None, **_: Any) -> None:
    if isinstance(state, dict):
        for key in list(state):
            state[key] = redact(state[key], str(key))
