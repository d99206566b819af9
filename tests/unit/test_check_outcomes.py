"""No check in kubedrill's source has a fixed outcome: every ``Check(…)`` computes ``ok`` from what was
observed. A literal ``True`` is a check that cannot fail; a literal ``False`` one that cannot pass."""

from __future__ import annotations

import ast
from pathlib import Path

import kubedrill

SRC = Path(kubedrill.__file__).parent


def fixed_outcomes(source: str, filename: str) -> list[str]:
    """``file:line`` of every ``Check(…)`` call whose ``ok`` (4th positional or keyword) is a constant."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Check"):
            continue
        ok = node.args[3] if len(node.args) > 3 else next((k.value for k in node.keywords if k.arg == "ok"), None)
        if isinstance(ok, ast.Constant):
            found.append(f"{filename}:{node.lineno}: ok={ok.value!r}")
    return found


def test_the_scan_finds_literal_outcomes_positional_and_keyword() -> None:
    source = 'Check("a", "b", "c", True)\nmodel.Check(name="a", expected="b", observed="c", ok=False)\n'
    assert fixed_outcomes(source, "x.py") == ["x.py:1: ok=True", "x.py:2: ok=False"]
    assert fixed_outcomes('Check("a", "b", "c", n > 0)\nCheck(name="a", ok=seen)\n', "x.py") == []


def test_no_check_in_src_has_a_fixed_outcome() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50, f"kubedrill's source not found under {SRC}"
    found = [hit for f in files for hit in fixed_outcomes(f.read_text(), str(f.relative_to(SRC)))]
    assert found == []
