"""Build the embedded cluster's binaries from their official Go modules, and cache them.

Versions live in ``versions.toml`` beside this file. For every group there (kubernetes, etcd, kwok,
kube-state-metrics, kind) a ``gobuild/<group>/`` directory holds a go.mod/go.sum that require the official
modules at exactly that version, plus a ``tools.go`` importing the main packages, so the build is
``go build`` against pinned, checksummed sources from the Go module proxy: nothing comes from release
pages.

Each group is built into ``<cache>/bin/<group>-<version>-<key>/``; ``key`` hashes the go.mod, go.sum,
ldflags and Go version, so any change rebuilds. A build goes into a ``.partial`` directory and is renamed
into place only after every binary exists and a ``.complete`` manifest is written: a partial or failed
build is never used, and is redone.

A group marked ``on_demand`` (kind: only the nightly kind cluster needs it) is not part of the default set:
``kubedrill build``, ``ensure_binaries()`` and ``cached_binaries()`` leave it alone, so no run of the
embedded cluster or of the tests pays for its build; ``ensure_group(name)`` builds it when asked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kubedrill import paths
from kubedrill.backends import shell
from kubedrill.errors import LocalClusterError

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.toml"
GOBUILD_DIR = HERE / "gobuild"
MANIFEST = ".complete"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Group:
    """One ``[section]`` of versions.toml: a set of binaries built from one go.mod."""

    name: str
    version: str
    modules: tuple[str, ...]
    binaries: Mapping[str, str]
    ldflags: str = ""
    staging_replaces: bool = False
    assets: tuple[str, ...] = ()  # files copied from the first module's source into the cache dir
    on_demand: bool = False  # built only when asked for by name (ensure_group), never by default

    @property
    def gomod_dir(self) -> Path:
        return GOBUILD_DIR / self.name

    def resolved_ldflags(self) -> str:
        m = re.match(r"v(\d+)\.(\d+)\.(\d+)", self.version)
        major, minor = (m.group(1), m.group(2)) if m else ("0", "0")
        flags = self.ldflags.format(version=self.version, major=major, minor=minor)
        return ("-s -w " + flags).strip()


def cache_root() -> Path:
    """``$KUBEDRILL_CACHE``, else ``$XDG_CACHE_HOME/kubedrill``, else ``~/.cache/kubedrill``."""
    return paths.from_env("KUBEDRILL_CACHE", paths.cache_home())


def load_groups(path: Path = VERSIONS_FILE, *, include_on_demand: bool = False) -> dict[str, Group]:
    """The groups of ``versions.toml``: the default set, plus the on-demand ones with ``include_on_demand``."""
    data = tomllib.loads(path.read_text())
    groups = {}
    for name, spec in data.items():
        on_demand = spec.get("on_demand", False)
        if not isinstance(on_demand, bool):
            raise LocalClusterError(f"{path}: [{name}] on_demand: expected true or false, got {on_demand!r}")
        if on_demand and not include_on_demand:
            continue
        groups[name] = Group(
            name=name,
            version=spec["version"],
            modules=tuple(spec["modules"]),
            binaries=dict(spec["binaries"]),
            ldflags=spec.get("ldflags", ""),
            staging_replaces=bool(spec.get("staging_replaces", False)),
            assets=tuple(spec.get("assets", ())),
            on_demand=on_demand,
        )
    return groups


def _go_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "CGO_ENABLED": "0",
        # Use the Go on this machine; never try to download a toolchain (no network for that).
        "GOTOOLCHAIN": "local",
        # go.sum is committed: -mod=readonly fails on any module it does not pin.
        "GOFLAGS": "-mod=readonly -trimpath",
    }
    env.update(extra or {})
    return env


def go_version() -> str:
    try:
        return shell.run(["go", "env", "GOVERSION"], env=_go_env()).stdout.strip()
    except Exception as e:
        raise LocalClusterError(
            "Go is needed to build the embedded cluster's binaries and was not found: install Go >= 1.26"
        ) from e


def cache_key(group: Group, go: str) -> str:
    h = hashlib.sha256()
    for part in (
        group.version,
        group.resolved_ldflags(),
        go,
        *group.assets,
        (group.gomod_dir / "go.mod").read_text(),
        (group.gomod_dir / "go.sum").read_text(),
    ):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def group_dir(group: Group, go: str) -> Path:
    return cache_root() / "bin" / f"{group.name}-{group.version}-{cache_key(group, go)}"


def is_complete(path: Path, group: Group) -> bool:
    """A cached build counts only if its manifest lists every binary with the size on disk."""
    manifest = path / MANIFEST
    try:
        sizes = json.loads(manifest.read_text())["sizes"]
    except (OSError, ValueError, KeyError):
        return False
    for name in group.binaries:
        binary = path / name
        if name not in sizes or not binary.is_file() or binary.stat().st_size != sizes[name]:
            return False
    return all((path / "assets" / rel).is_file() for rel in group.assets)


def build_group(group: Group, progress: Progress, go: str | None = None) -> Path:
    """Return the directory holding ``group``'s binaries, building them if the cache lacks them."""
    go = go or go_version()
    final = group_dir(group, go)
    if is_complete(final, group):
        return final
    if final.exists():
        progress(f"{group.name} {group.version}: cached build at {final} is incomplete; rebuilding")
        shutil.rmtree(final)
    partial = final.with_name(final.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    packages = list(group.binaries.values())
    progress(f"{group.name} {group.version}: building {', '.join(group.binaries)} with {go} (first time only)")
    start = time.monotonic()
    compiled = 0

    class _Counter:
        def write(self, line: str) -> None:
            nonlocal compiled
            compiled += 1
            if compiled % 200 == 0:
                progress(f"{group.name}: {compiled} packages compiled, {time.monotonic() - start:.0f} s")

        def flush(self) -> None:
            pass

    try:
        # One invocation per group so shared packages are compiled once. -v lists packages as they build.
        shell.stream(
            ["go", "build", "-v", "-ldflags", group.resolved_ldflags(), "-o", str(partial) + "/", *packages],
            env=_go_env(),
            cwd=group.gomod_dir,
            sink=_Counter(),  # type: ignore[arg-type]
        )
        _rename_main_binaries(group, partial)
        _copy_assets(group, partial)
        sizes = {name: (partial / name).stat().st_size for name in group.binaries}
        (partial / MANIFEST).write_text(json.dumps({"version": group.version, "go": go, "sizes": sizes}))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(final)
    for stale in final.parent.glob(f"{group.name}-v*"):
        if stale != final and not stale.name.endswith(f".partial-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)  # older versions or keys of this group
    progress(f"{group.name} {group.version}: built in {time.monotonic() - start:.0f} s ({compiled} packages)")
    return final


def _rename_main_binaries(group: Group, out: Path) -> None:
    """``go build -o dir/`` names each binary after the last path element; give them their real names."""
    for name, pkg in group.binaries.items():
        produced = out / _default_binary_name(pkg)
        if produced.name != name:
            if not produced.exists():
                raise LocalClusterError(f"go build of {pkg} produced no {produced.name} in {out}")
            produced.rename(out / name)
        if not (out / name).is_file():
            raise LocalClusterError(f"go build of {pkg} produced no binary {name} in {out}")


def _copy_assets(group: Group, out: Path) -> None:
    if not group.assets:
        return
    module = group.modules[0]
    source = shell.run(["go", "list", "-m", "-f", "{{.Dir}}", module], env=_go_env(), cwd=group.gomod_dir)
    root = Path(source.stdout.strip())
    for rel in group.assets:
        target = out / "assets" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)


def _default_binary_name(pkg: str) -> str:
    last = pkg.rstrip("/").split("/")[-1]
    if re.fullmatch(r"v\d+", last):  # major-version suffix: go names the binary after the element before it
        last = pkg.rstrip("/").split("/")[-2]
    return last


def select_groups(only: list[str] | None = None) -> list[Group]:
    """The groups to build: those named in ``only`` (on-demand ones included), else the default set."""
    if not only:
        return list(load_groups().values())
    every = load_groups(include_on_demand=True)
    unknown = sorted(set(only) - set(every))
    if unknown:
        raise LocalClusterError(f"unknown binary group(s) {unknown}; {VERSIONS_FILE.name} has {sorted(every)}")
    return [group for name, group in every.items() if name in only]


def ensure_binaries(progress: Progress, only: list[str] | None = None) -> dict[str, Path]:
    """Build (or reuse) the default groups, or exactly those in ``only``; return binary name → path."""
    go = go_version()
    paths: dict[str, Path] = {}
    for group in select_groups(only):
        directory = build_group(group, progress, go)
        paths.update({name: directory / name for name in group.binaries})
    return paths


def ensure_group(name: str, progress: Progress) -> dict[str, Path]:
    """Build (or reuse) one group, on-demand ones included; return its binary name → path."""
    return ensure_binaries(progress, [name])


def cached_group(name: str) -> dict[str, Path] | None:
    """Binary name → path of one group when a complete build of it is cached; None when it is not."""
    group = load_groups(include_on_demand=True)[name]
    directory = group_dir(group, go_version())
    if not is_complete(directory, group):
        return None
    return {binary: directory / binary for binary in group.binaries}


def cached_binaries() -> dict[str, Path]:
    """Binary name → path for groups already built; raises naming what is missing."""
    go = go_version()
    paths: dict[str, Path] = {}
    missing = []
    for group in load_groups().values():
        directory = group_dir(group, go)
        if not is_complete(directory, group):
            missing.append(f"{group.name} {group.version}")
            continue
        paths.update({name: directory / name for name in group.binaries})
    if missing:
        raise LocalClusterError(
            f"binaries not built yet: {', '.join(missing)}; run 'kubedrill build' (or 'make drill')"
        )
    return paths


# ---- maintainer tool: regenerate gobuild/<group>/{go.mod,go.sum,tools.go} from versions.toml ----


def _staging_replaces(module: str, version: str) -> list[str]:
    info = json.loads(
        shell.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            env=_go_env({"GOFLAGS": "", "GOSUMDB": "off"}),
            timeout_s=600,
        ).stdout
    )
    gomod = Path(info["GoMod"]).read_text()
    staging_version = re.sub(r"^v1\.", "v0.", version)
    lines = []
    for m in re.finditer(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", gomod, re.M):
        lines.append(f"\t{m.group(1)} => {m.group(1)} {staging_version}")
    return lines


def regenerate(group: Group, progress: Progress) -> None:
    directory = group.gomod_dir
    directory.mkdir(parents=True, exist_ok=True)
    requires = "\n".join(f"\t{m} {group.version}" for m in group.modules)
    text = (
        "// Generated by `python -m kubedrill.local.build --regen` from versions.toml. Do not edit.\n"
        f"module kubedrill.invalid/gobuild/{group.name}\n\ngo 1.26\n\nrequire (\n{requires}\n)\n"
    )
    if group.staging_replaces:
        for module in group.modules:
            text += "\nreplace (\n" + "\n".join(_staging_replaces(module, group.version)) + "\n)\n"
    (directory / "go.mod").write_text(text)
    (directory / "go.sum").write_text("")
    imports = "\n".join(f'\t_ "{pkg}"' for pkg in group.binaries.values())
    (directory / "tools.go").write_text(
        "//go:build tools\n\n// Package tools pins the main packages built from this module.\n"
        f"package tools\n\nimport (\n{imports}\n)\n"
    )
    progress(f"{group.name}: go mod tidy (downloads modules)")
    # The checksum database is not reachable from every machine; go.sum written here is then committed,
    # and every later build verifies against it.
    shell.run(["go", "mod", "tidy"], env=_go_env({"GOFLAGS": "", "GOSUMDB": "off"}), cwd=directory, timeout_s=1800)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubedrill.local.build", description=__doc__.split("\n")[0])
    parser.add_argument("--regen", action="store_true", help="regenerate go.mod/go.sum from versions.toml")
    parser.add_argument(
        "groups", nargs="*", help="only these groups (default: all but the on-demand ones; with --regen: all)"
    )
    args = parser.parse_args(argv)

    def progress(msg: str) -> None:
        print(f"[build] {msg}", flush=True)

    groups = load_groups(include_on_demand=True)
    unknown = set(args.groups) - set(groups)
    if unknown:
        parser.error(f"unknown group(s) {sorted(unknown)}; known: {sorted(groups)}")
    # --regen without names keeps every go.mod in step, on-demand groups included; a build without names
    # builds the default set, as `kubedrill build` does.
    if args.groups:
        selected = [g for g in groups.values() if g.name in args.groups]
    else:
        selected = [g for g in groups.values() if args.regen or not g.on_demand]
    if args.regen:
        for group in selected:
            regenerate(group, progress)
        return 0
    start = time.monotonic()
    paths = ensure_binaries(progress, [g.name for g in selected])
    progress(f"{len(paths)} binaries ready in {time.monotonic() - start:.0f} s under {cache_root() / 'bin'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
