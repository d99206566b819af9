"""The Allure 3 CLI (npm ``allure``, installed into ``node_modules`` by ``make deps``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from kubedrill.backends import shell
from kubedrill.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[3]


def binary() -> str:
    local = PROJECT / "node_modules" / ".bin" / "allure"
    if local.exists():
        return str(local)
    found = shutil.which("allure")
    if found is None:
        raise ConfigError("allure", "CLI", "the Allure 3 CLI: run 'make deps' (npm ci) or 'npm install allure'", None)
    return found


def generate(results: Path, output: Path, config: Path | None = None, single_file: bool = False) -> Path:
    """Render ``results`` into ``output``; returns the index.html path."""
    if not results.is_dir() or not any(results.iterdir()):
        raise ConfigError(str(results), "(directory)", "Allure results (run pytest with --alluredir)", "nothing there")
    argv = [binary(), "generate", str(results), "--output", str(output)]
    if config is not None and config.exists():
        argv += ["--config", str(config)]
    shell.run(argv, cwd=PROJECT, timeout_s=300)
    return output / "index.html"
