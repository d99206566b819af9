"""README.md against the code, so a reader never trips on it.

- Its tables are whole: every run of ``|`` lines is one table with a header and a ``|---|`` line, each row
  with as many cells as its header (a blank line inside a table splits it and renders the rest as text).
- The options table is ``kubedrill.settings.OPTIONS``; the markers table the plugin's ``MARKERS`` plus
  pyproject's own; each way round.
- The drill table names every drill in ``drills/`` exactly once (one per row, or a file's "(N drills)"), each
  reference resolves to exactly one test function, and its markers column is what the code applies: ``name``
  on every drill of the row, ``name (k of N)`` on k of them. The drills are read with ``ast``, not imported.
- Every ``pytest`` and ``kubedrill`` command it shows parses (flags pytest and the CLI know, markers registered),
  every ``make`` target exists, every ``KUBEDRILL_*`` variable is read somewhere.
"""

from __future__ import annotations

import ast
import itertools
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubedrill import cli
from kubedrill.pytest_plugin import DRILL_FAMILIES, MARKERS
from kubedrill.settings import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, ROOT / "ci" / "README.md"]  # the two this test keeps whole
PROJECT_MARKERS = {
    line.split(":")[0]
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
}
ENV = re.compile(r"\b(?:KUBECONFIG|KUBEDRILL_[A-Z_]+)\b")
# Markers pytest and its plugins define, which the drill table leaves out.
PYTEST_MARKERS = {"skip", "skipif", "xfail", "usefixtures", "filterwarnings", "timeout"}


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    line: int  # of the header row, 1-based
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line, cells)


def cells(line: str) -> list[str]:
    """A table row's cells, stripped; ``\\|`` is a bar inside a cell."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def parse_tables(text: str) -> tuple[list[Table], list[str]]:
    """Every table outside code blocks, and what is wrong with them (a run of rows without a header and
    ``|---|`` line is what a blank line inside a table leaves behind)."""
    runs: list[list[tuple[int, str]]] = []
    fenced = False
    previous = -1
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("|"):
            continue
        if number != previous + 1:
            runs.append([])
        runs[-1].append((number, line))
        previous = number
    tables, problems = [], []
    for run in runs:
        (first, header), *body = run
        if not body or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", body[0][1].strip()):
            problems.append(
                f"line {first}: table rows without a header and |---| line (is a blank line splitting a table "
                f"above?): {header[:80]!r}"
            )
            continue
        head = cells(header)
        rows = [(n, cells(line)) for n, line in body[1:]]
        for n, row in [(body[0][0], cells(body[0][1])), *rows]:
            if len(row) != len(head):
                problems.append(f"line {n}: {len(row)} cells, its table's header (line {first}) has {len(head)}")
        tables.append(Table(first, head, rows))
    return tables, problems


def table(header: str) -> Table:
    """README.md's one table whose first header cell is ``header``."""
    found = [t for t in parse_tables(README.read_text())[0] if t.header[0] == header]
    assert len(found) == 1, f"README.md has {len(found)} tables headed {header!r}, expected 1"
    return found[0]


def test_the_table_parser_finds_a_table_split_by_a_blank_line() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"
    tables, problems = parse_tables(text)
    assert [t.rows for t in tables] == [[(3, ["1", "2"])]]
    assert problems == [
        "line 5: table rows without a header and |---| line (is a blank line splitting a table above?): '| 3 | 4 |'"
    ]


def test_the_table_parser_counts_cells_and_keeps_escaped_bars_and_code_blocks_out() -> None:
    text = "| a | b |\n|:--|--:|\n| `x\\|y` | 2 |\n| 3 |\n```\n| not | a | table |\n```\n"
    tables, problems = parse_tables(text)
    assert tables[0].rows[0] == (3, [r"`x\|y`", "2"])
    assert problems == ["line 4: 1 cells, its table's header (line 1) has 2"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_is_whole(doc: Path) -> None:
    tables, problems = parse_tables(doc.read_text())
    assert tables, f"{doc.name}: no tables found"
    assert problems == [], f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


# ---------------------------------------------------------------- options and markers


def test_the_options_table_names_each_option_with_its_environment_variable() -> None:
    documented = set()
    for n, row in table("option").rows:
        flags, envs = re.findall(r"--[a-z][a-z-]*", row[0]), ENV.findall(row[1])
        assert envs, f"README.md line {n}: an options row without an environment variable: {row[:2]}"
        assert len(flags) in (0, len(envs)), f"README.md line {n}: flags and variables go one to one: {row[:2]}"
        documented |= set(zip(flags or [None] * len(envs), envs, strict=True))
    in_code = {(o.flag, o.env) for o in OPTIONS}
    assert documented - in_code == set(), "README.md names options the code does not have"
    assert in_code - documented == set(), "options missing from README.md's table"


def test_every_flag_of_the_table_is_registered_with_pytest(pytestconfig: pytest.Config) -> None:
    for o in OPTIONS:
        if o.flag is not None:
            pytestconfig.getoption(o.dest)  # raises ValueError for an option pytest does not know


def test_the_markers_table_names_every_marker_and_only_those() -> None:
    names = [row[0] for _, row in table("marker (`--strict-markers`)").rows]
    assert all(re.fullmatch(r"`\w+`", name) for name in names), names
    documented = {name.strip("`") for name in names}
    in_code = set(MARKERS) | PROJECT_MARKERS
    assert documented - in_code == set(), "README.md names markers nobody registers"
    assert in_code - documented == set(), "markers missing from README.md's table"


def test_each_marker_is_defined_once_and_registered(pytestconfig: pytest.Config) -> None:
    assert set(MARKERS) & PROJECT_MARKERS == set(), "the plugin's markers are the plugin's: not in pyproject.toml"
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(MARKERS) | PROJECT_MARKERS <= registered
    assert set(DRILL_FAMILIES) <= set(MARKERS)


def test_every_kubedrill_environment_variable_it_names_is_read_somewhere() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "src" / "kubedrill").rglob("*.py"))
    code += "\n".join(p.read_text() for p in (ROOT / "ci" / "workflows").glob("*.yaml"))
    named = set(re.findall(r"\bKUBEDRILL_[A-Z_]*[A-Z]\b", README.read_text()))
    assert named, "README.md names no KUBEDRILL_ variable"
    assert {v for v in named if v not in code} == set(), "README.md names variables nothing reads"


# ---------------------------------------------------------------- the drills, read from drills/ with ast


@dataclass(frozen=True)
class Drill:
    file: str  # test_etcd.py
    name: str
    line: int
    cases: tuple[frozenset[str], ...]  # the markers of each case pytest collects (one per parametrize combination)


def mark_name(node: ast.expr) -> str | None:
    """``pytest.mark.NAME`` or ``pytest.mark.NAME(...)`` → NAME."""
    if isinstance(node, ast.Call):
        node = node.func
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "pytest"
    ):
        return node.attr
    return None


def marks_in(node: ast.expr, where: str) -> set[str]:
    """The marker names of a mark, or of a list or tuple of them."""
    items = node.elts if isinstance(node, ast.List | ast.Tuple) else [node]
    names = {mark_name(item) for item in items}
    assert None not in names, f"{where}: cannot read the marks {ast.unparse(node)!r}"
    return {n for n in names if n is not None}


def parametrize_cases(call: ast.Call, where: str) -> list[set[str]]:
    """One set of marks per case of ``@pytest.mark.parametrize(names, values)`` (``pytest.param(marks=…)``)."""
    values = call.args[1] if len(call.args) > 1 else next(k.value for k in call.keywords if k.arg == "argvalues")
    assert isinstance(values, ast.List | ast.Tuple), f"{where}: count the cases of {ast.unparse(values)!r} by hand"
    cases = []
    for value in values.elts:
        marks: set[str] = set()
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "pytest.param":
            for keyword in value.keywords:
                if keyword.arg == "marks":
                    marks = marks_in(keyword.value, where)
        cases.append(marks)
    return cases


def read_drills(path: Path) -> list[Drill]:
    tree = ast.parse(path.read_text(), str(path))
    module_marks: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            module_marks = marks_in(node.value, f"{path.name}: pytestmark")
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        where = f"{path.name}::{node.name}"
        marks = set(module_marks)
        dimensions: list[list[set[str]]] = []
        for decorator in node.decorator_list:
            name = mark_name(decorator)
            assert name is not None, f"{where}: cannot read the decorator {ast.unparse(decorator)!r}"
            if name == "parametrize":
                assert isinstance(decorator, ast.Call)
                dimensions.append(parametrize_cases(decorator, where))
            else:
                marks.add(name)
        cases = tuple(frozenset(marks.union(*combo)) for combo in itertools.product(*dimensions))
        out.append(Drill(path.name, node.name, node.lineno, cases))
    return out


DRILLS = [d for path in sorted((ROOT / "drills").glob("test_*.py")) for d in read_drills(path)]


def test_the_drill_reader_counts_cases_and_their_marks(tmp_path: Path) -> None:
    source = tmp_path / "test_x.py"
    source.write_text(
        "import pytest\n"
        "pytestmark = [pytest.mark.network, pytest.mark.destructive]\n"
        "@pytest.mark.slow\n"
        "@pytest.mark.parametrize('role', [pytest.param('leader', marks=pytest.mark.gameday), 'follower'])\n"
        "@pytest.mark.parametrize('n', [1, 2])\n"
        "def test_a(role, n): ...\n"
        "def test_b(): ...\n"
        "def helper(): ...\n"
    )
    a, b = read_drills(source)
    assert (a.name, len(a.cases), b.name, b.cases) == ("test_a", 4, "test_b", (frozenset({"network", "destructive"}),))
    assert sorted(len(c) for c in a.cases) == [3, 3, 4, 4]  # gameday on the two leader cases only
    assert all({"network", "destructive", "slow"} <= c for c in a.cases)


def test_every_marker_a_drill_carries_is_registered() -> None:
    used = {m for d in DRILLS for case in d.cases for m in case}
    assert used - set(MARKERS) - PYTEST_MARKERS == set()
    for d in DRILLS:
        for case in d.cases:
            assert case & set(DRILL_FAMILIES), f"{d.file}::{d.name} belongs to no drill family {DRILL_FAMILIES}"


@dataclass
class Row:
    line: int
    ref: str
    markers: str
    drills: list[Drill]
    claimed_count: int | None  # "(N drills)"
    problems: list[str]


def resolve(ref: str, current_file: str | None) -> tuple[list[Drill], int | None, str | None, list[str]]:
    """A drill table reference → the drills it names, the count it claims, the file later ``…`` rows continue,
    and what is wrong with it."""
    if m := re.fullmatch(r"`(test_\w+\.py)::(test_\w+)`", ref):
        found = [d for d in DRILLS if (d.file, d.name) == m.groups()]
        return found, None, m.group(1), [] if found else [f"no test function {m.group(1)}::{m.group(2)} in drills/"]
    if m := re.fullmatch(r"`…(\w+?)(…)?`", ref):
        text, middle = m.group(1), bool(m.group(2))
        found = [d for d in DRILLS if (text in d.name if middle else d.name.endswith(text))]
        problems = [] if len(found) == 1 else [f"{ref} matches {len(found)} drills: {[d.name for d in found]}"]
        if len(found) == 1 and found[0].file != current_file:
            problems.append(f"{ref} is in {found[0].file}, not in {current_file}, the file of the row above")
        return found, None, current_file, problems
    if m := re.fullmatch(r"`(test_\w+\.py)` \((\d+) drills?\)", ref):
        found = [d for d in DRILLS if d.file == m.group(1)]
        return found, int(m.group(2)), None, [] if found else [f"no drills/{m.group(1)}"]
    expected = "`test_x.py::test_name`, `…name_end`, `…middle…` or `test_x.py` (N drills)"
    return [], None, current_file, [f"{ref!r}: expected {expected}"]


def drill_rows() -> list[Row]:
    rows, current = [], None
    for line, row in table("drill (`drills/`)").rows:
        found, count, current, problems = resolve(row[0], current)
        rows.append(Row(line, row[0], row[1], found, count, problems))
    return rows


def test_every_drill_reference_of_the_table_names_exactly_one_function_or_file() -> None:
    problems = [f"README.md line {r.line}: {p}" for r in drill_rows() for p in r.problems]
    assert problems == [], "\n".join(problems)


def test_a_files_drill_count_is_the_number_of_drills_pytest_collects_from_it() -> None:
    for r in drill_rows():
        if r.claimed_count is not None:
            cases = sum(len(d.cases) for d in r.drills)
            assert r.claimed_count == cases, f"README.md line {r.line}: {r.ref} says {r.claimed_count}, it has {cases}"


def test_every_drill_is_in_the_table_once() -> None:
    covered = [(d.file, d.name) for r in drill_rows() for d in r.drills]
    missing = [f"{d.file}::{d.name}" for d in DRILLS if (d.file, d.name) not in covered]
    assert missing == [], f"drills missing from README.md's drill table: {missing}"
    twice = sorted({f"{f}::{n}" for f, n in covered if covered.count((f, n)) > 1})
    assert twice == [], f"drills README.md's drill table names twice (a file's row and its own): {twice}"


def test_every_drill_node_id_anywhere_in_the_readme_is_a_drill() -> None:
    """Outside the table too: a node id a reader copies onto the command line must select one drill."""
    drill_files = {d.file for d in DRILLS}
    text = README.read_text()
    ids = re.findall(r"(?:drills/)?(test_\w+\.py)::(test_\w+)", text)
    assert ids, "the README names no drill by node id"
    wrong = [f"{f}::{n}" for f, n in ids if f in drill_files and not any((d.file, d.name) == (f, n) for d in DRILLS)]
    assert wrong == [], f"README.md names drills that do not exist: {wrong}"
    files = set(re.findall(r"drills/(test_\w+\.py)", text))
    assert files <= drill_files, f"README.md names drill files that do not exist: {sorted(files - drill_files)}"


def expected_markers(drills: list[Drill]) -> dict[str, str]:
    """marker → how the table writes it for these drills: ``name``, or ``name (k of N)``."""
    cases = [case for d in drills for case in d.cases]
    order = [*MARKERS, *sorted(PYTEST_MARKERS)]
    out = {}
    for marker in sorted({m for c in cases for m in c} - PYTEST_MARKERS, key=order.index):
        k = sum(marker in c for c in cases)
        out[marker] = marker if k == len(cases) else f"{marker} ({k} of {len(cases)})"
    return out


def test_the_markers_column_is_what_the_code_applies() -> None:
    wrong = []
    for r in drill_rows():
        if not r.drills:
            continue  # reported by the reference test
        expected = expected_markers(r.drills)
        written = {entry.strip() for entry in r.markers.split(",")}
        if written != set(expected.values()):
            wrong.append(
                f"README.md line {r.line}, {r.ref}: markers {r.markers!r}, expected {', '.join(expected.values())!r}"
            )
    assert wrong == [], "\n".join(wrong)


def test_markers_column_notation() -> None:
    one = Drill("test_x.py", "test_a", 1, (frozenset({"etcd", "destructive", "slow"}),))
    two = Drill(
        "test_x.py", "test_b", 2, (frozenset({"etcd", "destructive", "gameday"}), frozenset({"etcd", "destructive"}))
    )
    assert list(expected_markers([one, two]).values()) == ["etcd", "destructive", "gameday (1 of 3)", "slow (1 of 3)"]


def test_quorum_loss_drills_are_marked_so_in_the_table_and_the_code() -> None:
    """The quorum guard skips a quorum_loss drill unless it is selected explicitly: a reader of the table must see
    the marker on every drill that takes down a majority, the restore (every member) included."""
    marked = {d.name for d in DRILLS if any("quorum_loss" in c for c in d.cases)}
    assert "test_etcd_restores_from_a_snapshot_with_measured_rto_and_rpo" in marked
    assert "test_api_refuses_writes_without_quorum_and_recovers_when_members_return" in marked


# ---------------------------------------------------------------- the commands it shows


@dataclass(frozen=True)
class Command:
    line: int
    argv: list[str]
    whole: bool  # from a ```bash block and not abbreviated with "…": it must run as written

    def parses(self, parse: Callable[[list[str]], object]) -> bool:
        """Whether ``parse`` accepts the arguments; a mention in the text (`kubedrill gameday`) only needs to
        once its positional argument (or a flag's value) is filled in."""
        for args in [self.argv[1:]] if self.whole else [self.argv[1:], [*self.argv[1:], "X"]]:
            try:
                parse(args)
            except (SystemExit, pytest.UsageError):
                continue
            return True
        return False


def commands(text: str) -> Iterator[Command]:
    """Every command in ```bash blocks and in inline code, split at ``&&``, ``|`` and ``;``, ``$(…)`` taken as a
    command of its own; argv without comments and placeholders (``…``)."""
    lines = text.splitlines()
    pieces: list[tuple[int, str]] = []
    fence: str | None = None
    pending = ""
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence == "bash":
            pending += line.removesuffix("\\") + " "
            if not line.endswith("\\"):
                pieces.append((number, pending))
                pending = ""
        elif fence is None:
            pieces += [(number, f"`{span}") for span in re.findall(r"`((?:kubedrill|pytest|make) [^`]*)`", line)]
    for number, piece in pieces:
        inline = piece.startswith("`")
        piece = re.sub(r"\$\((.*?)\)", r"; \1 ;", piece.removeprefix("`"))
        for part in re.split(r"&&|\|\||[|;]", piece):
            argv = shlex.split(part, comments=True)
            if argv:
                whole = not inline and "…" not in argv
                yield Command(number, [a for a in argv if a != "…"], whole)


def test_every_pytest_command_it_shows_uses_only_flags_pytest_knows(pytestconfig: pytest.Config) -> None:
    parser = pytestconfig._parser  # the session's own: pytest's, kubedrill's, allure's and junitxml's options

    def parse(args: list[str]) -> None:
        _, unknown = parser.parse_known_and_unknown_args(args)
        if any(a.startswith("-") for a in unknown):
            raise pytest.UsageError(f"unknown {unknown}")

    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    seen = 0
    for doc in DOCS:
        for c in commands(doc.read_text()):
            if c.argv[0] != "pytest":
                continue
            seen += 1
            assert c.parses(parse), f"{doc.name} line {c.line}: pytest does not take `{shlex.join(c.argv)}`"
            for i, arg in enumerate(c.argv[:-1]):
                if arg == "-m":
                    names = set(re.findall(r"\w+", c.argv[i + 1])) - {"and", "or", "not"}
                    assert names <= registered, (
                        f"{doc.name} line {c.line}: -m names unknown markers {names - registered}"
                    )
    assert seen >= 5, "the command reader lost README.md's pytest commands"


def test_every_kubedrill_command_it_shows_parses() -> None:
    seen = 0
    for doc in DOCS:
        for c in commands(doc.read_text()):
            if c.argv[0] != "kubedrill":
                continue
            seen += 1
            # parse_args only parses: nothing runs
            assert c.parses(cli.parser().parse_args), f"{doc.name} line {c.line}: not a kubedrill command: {c.argv}"
    assert seen >= 10, "the command reader lost README.md's kubedrill commands"


def test_every_make_target_it_shows_exists() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    for doc in DOCS:
        for c in commands(doc.read_text()):
            if c.argv[0] == "make":
                missing = [t for t in c.argv[1:] if not t.startswith("-") and "=" not in t and t not in targets]
                assert missing == [], f"{doc.name} line {c.line}: the Makefile has no target {missing}"


def test_the_command_reader_finds_bash_blocks_inline_code_and_substitutions() -> None:
    text = (
        "run `kubedrill up --provider kind` then\n"
        "```bash\neval $(kubedrill env)   # exports\npytest drills/ -m etcd \\\n  --dry-run && kubedrill report\n```\n"
        "```\nkubedrill up: error: …\n```\n"
    )
    assert list(commands(text)) == [
        Command(1, ["kubedrill", "up", "--provider", "kind"], whole=False),
        Command(3, ["eval"], whole=True),
        Command(3, ["kubedrill", "env"], whole=True),
        Command(5, ["pytest", "drills/", "-m", "etcd", "--dry-run"], whole=True),
        Command(5, ["kubedrill", "report"], whole=True),
    ]
    # a command shown whole must run as written; a mention in the text may leave out what it takes
    assert not Command(1, ["kubedrill", "gameday"], whole=True).parses(cli.parser().parse_args)
    assert Command(1, ["kubedrill", "gameday"], whole=False).parses(cli.parser().parse_args)
    assert not Command(1, ["kubedrill", "gamedya"], whole=False).parses(cli.parser().parse_args)
