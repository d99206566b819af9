"""The Allure 3 CLI (npm ``allure``, installed into ``node_modules`` by ``make deps``).

``allure generate`` never clears its output directory: a second run into the same one finds the old
files and stops flattening its layout, leaving the previous run's index.html in place. So the output is
removed first, and only when it is a report kubedrill wrote (a marker file says so). Every generated
page also embeds Google's tag manager (Allure's own analytics, on by default and without an option): a
drill report of a production cluster must not call anyone when it is opened, so those tags are stripped
and the report opens offline without a request leaving the machine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from kubedrill.backends import shell
from kubedrill.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[3]
ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>\s*'
    r"(<script>\s*window\.dataLayer.*?</script>)?",
    re.DOTALL,
)
# Where each plugin of the project's allurerc writes (a subdirectory per plugin id).
INTERACTIVE = "awesome/index.html"
SINGLE_FILE = "awesomeSingle/index.html"
DASHBOARD = "dashboard/index.html"


def binary() -> str:
    local = PROJECT / "node_modules" / ".bin" / "allure"
    if local.exists():
        return str(local)
    found = shutil.which("allure")
    if found is None:
        raise ConfigError("allure", "CLI", "the Allure 3 CLI: run 'make deps' (npm ci) or 'npm install allure'", None)
    return found


MARKER = ".kubedrill-report"  # in every output kubedrill report wrote: only such a directory is ever emptied


def clear_output(output: Path, results: Path) -> None:
    """Empty ``output`` for a fresh report, refusing anything that is not a report kubedrill wrote: a
    directory holding the results, the project, home or the working directory, or one without the marker."""
    out = output.resolve()
    for what, path in (("the project", PROJECT), ("home", Path.home()), ("cwd", Path.cwd()), ("the results", results)):
        if path.resolve().is_relative_to(out):
            raise ConfigError(str(output), "--output", f"a directory of its own, not one holding {what}", str(output))
    if not out.exists() or not any(out.iterdir()):
        return
    allure_made = (out / "index.html").exists() and any((out / x).exists() for x in ("test-results.json", "widgets"))
    if not (out / MARKER).exists() and not allure_made:  # an Allure report from before the marker existed
        raise ConfigError(
            str(output), "--output", f"an empty directory or an earlier report (it has no {MARKER})", "other files"
        )
    shutil.rmtree(out)


def require_results(results: Path) -> None:
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ConfigError(str(results), "(directory)", "Allure results (run pytest with --alluredir)", "none there")


def generate(results: Path, output: Path, config: Path | None = None, history: Path | None = None) -> Path:
    """Render ``results`` into a fresh ``output``; returns the interactive report's index.html. ``history``
    is the JSON-lines file Allure appends this run to and reads trends from (the allurerc honours it)."""
    require_results(results)
    clear_output(output, results)
    argv = [binary(), "generate", str(results.resolve()), "--output", str(output.resolve())]
    if config is not None and config.exists():
        argv += ["--config", str(config.resolve())]
    env = {"KUBEDRILL_ALLURE_HISTORY": str(history.resolve())} if history is not None else None
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
    result = shell.run(argv, cwd=PROJECT, timeout_s=600, env=env)
    for line in (result.stdout + result.stderr).splitlines():
        if re.search(r"plugin \S+ error", line):  # a crashed plugin does not fail the command: we do
            raise ConfigError("allure generate", "plugins", "every plugin to render", line.strip())
    for page in output.rglob("*.html"):
        text = page.read_text(errors="surrogateescape")
        clean = ANALYTICS.sub("", text)
        if clean != text:
            page.write_text(clean, errors="surrogateescape")
    (output / MARKER).write_text("written by kubedrill report; the next report into this directory replaces it\n")
    index = output / INTERACTIVE
    return index if index.exists() else output / "index.html"
