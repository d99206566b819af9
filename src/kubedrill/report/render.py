"""``kubedrill report``: the Allure HTML (interactive, single file, trends dashboard) and, as its first
page, the run summary with links into them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubedrill.backends import allure_cli
from kubedrill.report import summary
from kubedrill.report.allure_report import write_categories


@dataclass(frozen=True)
class Rendered:
    first_page: Path  # the run summary, or Allure's own index when the results carry no kubedrill summary
    interactive: Path
    single_file: Path
    dashboard: Path


def render(results: Path, output: Path, config: Path | None) -> Rendered:
    """Allure's history goes next to kubedrill's own (``<output>/../history/``), which CI keeps between runs."""
    allure_cli.require_results(results)  # before anything is written into it
    write_categories(results)
    history = output.resolve().parent / "history" / "allure.jsonl"
    interactive = allure_cli.generate(results, output, config, history)
    single, dashboard = output / allure_cli.SINGLE_FILE, output / allure_cli.DASHBOARD
    first = output / "index.html"
    saved = summary.load(results)
    if saved is not None:
        rows, title, environment, trend = saved
        links = [
            (text, str(path.relative_to(output)))
            for text, path in (
                ("interactive report (steps, plots, attachments)", interactive),
                ("single-file report (opens offline)", single),
                ("trends dashboard", dashboard),
            )
            if path.exists()
        ]
        first.write_text(summary.html_page(rows, title, environment, trend, links))
    elif not first.exists():
        first = interactive
    return Rendered(first, interactive, single, dashboard)
