"""A game day hands its injection gate to the pytest session it runs, never to a global (no cluster)."""

from types import SimpleNamespace
from typing import Any, cast

import pytest

from kubedrill import gameday
from kubedrill.session import injection_gate, summary_rows


def config() -> pytest.Config:
    return cast(pytest.Config, SimpleNamespace(stash=pytest.Stash()))


def test_the_game_day_plugin_puts_its_gate_in_its_own_session_only() -> None:
    plan = gameday.Plan("p.yaml", "p", "", ())
    day = gameday.GameDay(plan, cast(Any, None))
    mine, other = config(), config()
    day.pytest_configure(mine)
    assert injection_gate(mine) == day.gate
    assert injection_gate(other) is None  # a session without a game day injects without asking


def test_the_summary_rows_belong_to_their_session() -> None:
    a, b = config(), config()
    summary_rows(a)["x"] = cast(Any, "row")
    assert summary_rows(a) == {"x": "row"}
    assert summary_rows(b) == {}
