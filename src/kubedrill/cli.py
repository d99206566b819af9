"""The ``kubedrill`` command: the embedded cluster's lifecycle, and the operations around drills.

Every subcommand validates its input before touching anything and exits non-zero with one clear line
on error (no traceback for errors kubedrill expects: bad input, a missing tool, an unreachable cluster).
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from kubedrill.backends import kind_cli
from kubedrill.backends.embedded import Layout, default_state_dir
from kubedrill.backends.inventory import load_inventory
from kubedrill.config import read_yaml
from kubedrill.errors import ConfigError, DrillError
from kubedrill.local import build, engine, health, kind, lifecycle
from kubedrill.paths import ALLURERC
from kubedrill.settings import OPTIONS

# What `kubedrill gameday` takes and passes on to pytest: the settings' options with a value (not the flags:
# a game day neither dry-runs nor opens the quorum guard from the command line).
GAMEDAY_OPTIONS = [(o.flag, o) for o in OPTIONS if o.flag and o.shape != "flag"]


def _progress(msg: str) -> None:
    print(f"[kubedrill] {msg}", flush=True)


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else default_state_dir()


def cmd_engine(args: argparse.Namespace) -> int:
    """A Docker engine for kind: the one that answers, or one kubedrill starts (and later stops)."""
    if args.action == "up":
        print(engine.ensure(_progress))
    elif args.action == "down":
        print(engine.stop(_progress))
    else:
        record = engine.started()
        problem = kind_cli.docker_engine_problem()
        owner = f"started by kubedrill (pid {record.pid}, runtime {record.runtime})" if record else "not kubedrill's"
        print(f"Docker engine: {'answers' if problem is None else 'none: ' + problem}; {owner}")
        return 0 if problem is None else 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    paths = build.ensure_binaries(_progress)
    for name, path in sorted(paths.items()):
        print(f"{name}\t{path}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    if args.provider == "kind":
        # The kind cluster's shape is ci/kind-config.yaml's: refuse flags that would be silently ignored.
        for flag, value in (
            ("--control-planes", args.control_planes),
            ("--workers", args.workers),
            ("--load-balancers", args.load_balancers),
        ):
            if value is not None:
                raise ConfigError(
                    "kubedrill up --provider kind",
                    flag,
                    "no --control-planes/--workers/--load-balancers (ci/kind-config.yaml fixes the kind cluster's "
                    "nodes: 3 control planes, 3 workers, kind's one HAProxy; edit that file to change them)",
                    value,
                )
        exports = kind.up(_progress, wait_prometheus=args.wait_prometheus, node_image=args.node_image)
        print()
        for key, value in exports.items():
            print(f"export {key}={value if key == 'PATH' else shlex.quote(value)}")
        return 0
    if args.node_image is not None:
        raise ConfigError(
            "kubedrill up", "--node-image", "--provider kind (the embedded cluster has no images)", args.node_image
        )
    control_planes = 3 if args.control_planes is None else args.control_planes
    workers = 3 if args.workers is None else args.workers
    load_balancers = 1 if args.load_balancers is None else args.load_balancers
    layout = lifecycle.up(control_planes, workers, _state_dir(args), _progress, load_balancers=load_balancers)
    if args.wait_prometheus:
        health.wait_prometheus_targets_up(layout)
        _progress("every Prometheus target is up")
    print(f"\nexport KUBECONFIG={layout.admin_kubeconfig}   # or: eval $(kubedrill env)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if args.provider == "kind":
        for thing in kind.down(_progress) or ["nothing to remove: no kind cluster of kubedrill's"]:
            _progress(f"removed {thing}" if not thing.startswith(("nothing", "stopped")) else thing)
        return 0
    removed = lifecycle.down(_state_dir(args), _progress)
    if not removed:
        _progress("nothing to remove: no embedded cluster")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = health.status(_state_dir(args))
    if args.output == "json":
        print(json.dumps(st.to_json(), indent=2))
        return 0 if st.healthy else 1
    if not st.up and not st.components:
        print(st.problems[0])
        return 1
    print(f"embedded cluster: {'up' if st.up else 'DOWN'}, {st.control_planes} control planes, {st.workers} workers")
    print(f"API {st.api_url}   Prometheus {st.prometheus_url}   supervisor pid {st.supervisor_pid}")
    print(f"\n{'COMPONENT':32} {'NODE':8} {'PID':>8} {'STATE':8} {'RESTARTS':>8}  HEALTH")
    for c in st.components:
        verdict = "ok" if c.healthy else f"FAIL {c.detail[:60]}"
        print(f"{c.name:32} {c.node:8} {c.pid or '-':>8} {c.state:8} {c.restarts:>8}  {verdict}")
    print(f"\n{'ETCD MEMBER':12} {'ID':18} {'LEADER':6} {'REVISION':>9} {'TERM':>5}")
    for m in st.etcd_members:
        print(f"{m['name']:12} {m['id']:18} {'*' if m['leader'] else '':6} {m['revision']:>9} {m['raft_term']:>5}")
    up_count = sum(t["health"] == "up" for t in st.prometheus_targets)
    print(f"\nPrometheus targets: {up_count}/{len(st.prometheus_targets)} up")
    for p in st.problems:
        print(f"problem: {p}")
    return 0 if st.healthy else 1


def _print_exports(exports: dict[str, str], notes: Sequence[str] = ()) -> None:
    for key, value in exports.items():
        quoted = value if key == "PATH" else shlex.quote(value)
        print(f"export {key}={quoted}")
    for note in notes:
        print(f"# {note}")


def env_kind() -> tuple[dict[str, str], list[str]]:
    """What pytest and ``chaos run`` need for the kind cluster: its kubeconfig and context, the kind backend
    (nodes reached through the engine), its Prometheus. A kubeconfig without the context is an error."""
    config = kind.kubeconfig_path()
    contexts = []
    if config.is_file():
        data = read_yaml(config, "kubeconfig")
        listed = data.get("contexts") if isinstance(data, dict) else None
        contexts = [c.get("name") for c in listed or [] if isinstance(c, dict)]
    if kind.CONTEXT not in contexts:
        raise ConfigError(str(config), "contexts", f"context {kind.CONTEXT}: run 'kubedrill up --provider kind'",
                          ", ".join(map(str, contexts)) or "none")  # fmt: skip
    exports = {
        "KUBECONFIG": str(config),
        "KUBEDRILL_CONTEXT": kind.CONTEXT,
        "KUBEDRILL_BACKEND": "kind",
        "KUBEDRILL_PROMETHEUS_URL": kind.PROMETHEUS_URL,
    }
    return exports, []


def env_inventory(path: str) -> tuple[dict[str, str], list[str]]:
    """What pytest and ``chaos run`` need for real nodes over ssh: the inventory (validated here, so a bad
    one is an error now, not mid-drill) and the ssh backend; the cluster's kubeconfig, context and Prometheus
    are the user's to give, so they are named, not guessed."""
    inventory = load_inventory(path)
    exports = {"KUBEDRILL_BACKEND": "ssh", "KUBEDRILL_INVENTORY": str(Path(path).resolve())}
    notes = [
        f"inventory: {len(inventory.hosts)} nodes ({', '.join(inventory.hosts)}), runtime {inventory.runtime}; "
        f"{len(inventory.workers)} workers ({', '.join(inventory.workers) or 'the node-lost drill is skipped'})",
        "also set KUBECONFIG (and KUBEDRILL_CONTEXT) for this cluster and KUBEDRILL_PROMETHEUS_URL for its Prometheus",
        "destructive drills need the context allowed: export KUBEDRILL_ALLOW_CONTEXT=<its name>",
    ]
    return exports, notes


def cmd_env(args: argparse.Namespace) -> int:
    if args.inventory:
        _print_exports(*env_inventory(args.inventory))
        return 0
    if args.provider == "kind":
        _print_exports(*env_kind())
        return 0
    layout = Layout.load(_state_dir(args))
    if layout is None:
        print("no embedded cluster: run 'kubedrill up'", file=sys.stderr)
        return 1
    endpoints = ",".join(layout.etcd_client_url(n) for n in layout.nodes)
    exports = {
        "KUBECONFIG": str(layout.admin_kubeconfig),
        "ETCDCTL_ENDPOINTS": endpoints,
        "ETCDCTL_CACERT": str(layout.etcd_ca),
        "ETCDCTL_CERT": str(layout.etcd_client_cert),
        "ETCDCTL_KEY": str(layout.etcd_client_key),
        "KUBEDRILL_PROMETHEUS_URL": layout.prometheus_url,
    }
    try:
        bins = build.cached_binaries()
        exports["PATH"] = ":".join(sorted({str(p.parent) for p in bins.values()})) + ":$PATH"
    except DrillError:
        pass
    _print_exports(exports)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from kubedrill.report.render import render

    # Your own allurerc.mjs (in the working directory) wins over the one kubedrill ships.
    config = Path(args.config) if args.config else next((p for p in (Path("allurerc.mjs"),) if p.is_file()), ALLURERC)
    out = render(Path(args.results), Path(args.output), config)
    print(f"report: {out.first_page.resolve()}")
    if out.single_file.exists():
        print(f"single file (offline): {out.single_file.resolve()}")
    return 0


def cmd_gameday(args: argparse.Namespace) -> int:
    """Run a game-day plan with a person confirming each injection (see kubedrill.gameday)."""
    import datetime as dt

    from kubedrill import gameday

    root = Path.cwd()
    plan = gameday.load_plan(args.plan, root)  # bad plan: ConfigError before anything is touched
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    output = Path(args.output) if args.output else root / "reports" / "gameday" / stamp
    output.mkdir(parents=True, exist_ok=True)
    passthrough: list[str] = []
    for flag, o in GAMEDAY_OPTIONS:
        value = getattr(args, o.dest)
        if o.shape == "list":
            passthrough += [f"{flag}={v}" for v in value]
        elif value:
            passthrough.append(f"{flag}={value}")
    return gameday.run(plan, gameday.GameDayOptions(output, tuple(passthrough)))


def cmd_recover(args: argparse.Namespace) -> int:
    """Revert every fault the ledger holds as injected and not reverted (after a killed run), newest first,
    as the runner would have; then delete the namespaces dead drills left. Idempotent."""
    from kubedrill.backends.workloads import Workloads
    from kubedrill.drill import SUITE_LABEL, SUITE_VALUE
    from kubedrill.faults.fault_types import rebuild
    from kubedrill.faults.ledger import RollbackLedger
    from kubedrill.settings import RunSettings
    from kubedrill.waiting import wait_until

    ledger = RollbackLedger(Path(args.ledger) if args.ledger else None)
    pending = ledger.pending()
    if not pending:
        print(f"nothing to recover: no pending fault in {ledger.path}")
        return 0
    failed = 0
    clusters = {}
    for entry in reversed(pending):
        c = entry.cluster
        settings = RunSettings(
            kubeconfig=c.get("kubeconfig"),
            context=c.get("context"),
            backend=str(c.get("backend")) if c.get("backend") not in (None, "api") else "auto",
            inventory=c.get("inventory"),
            prometheus_url=c.get("prometheus_url"),
        )
        try:
            cluster = settings.connect(remembered=c)
            fault = rebuild(entry, cluster)
            how = fault.revert()
        except Exception as e:  # one fault that cannot be reverted must not stop the others
            failed += 1
            ledger.revert_failed(entry.id, str(e))
            print(f"FAILED to revert {entry.description} (drill {entry.drill}): {e}", file=sys.stderr)
            continue
        clusters[(cluster.kubeconfig, cluster.context)] = cluster
        ledger.reverted(entry.id, f"kubedrill recover: {how}")
        print(f"reverted {entry.description} (drill {entry.drill}): {how}")
    for cluster in clusters.values():
        kube = cluster.kube()
        try:
            w = Workloads(kube)
            # After a restore was undone the API servers are starting again: give them time to answer.
            left = wait_until(
                "the API answers (to delete the drills' namespaces)",
                functools.partial(w.namespaces, f"{SUITE_LABEL}={SUITE_VALUE}"),
                lambda _: True,
                timeout_s=90,
                interval_s=1.0,
            )
            for ns in left:
                w.delete_namespace(ns)
                print(f"deleted namespace {ns} left by a drill")
        except DrillError as e:
            print(f"could not delete the drills' namespaces: {e}", file=sys.stderr)
        finally:
            kube.close()
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubedrill", description="Chaos and disaster-recovery drills for Kubernetes.")
    p.add_argument(
        "--state-dir", help="embedded cluster state (default: $KUBEDRILL_STATE or ~/.local/state/kubedrill/local)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("engine", help="a Docker engine for kind: up (start one where none answers), down, status")
    s.add_argument("action", choices=("up", "down", "status"))
    s.set_defaults(func=cmd_engine)

    s = sub.add_parser("build", help="build (or reuse) the embedded cluster's binaries from their Go modules")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("up", help="start the embedded HA cluster (or, with --provider kind, the kind cluster of ci/)")
    _provider_arg(
        s, "embedded: the docker-free HA cluster (default); kind: ci/kind-config.yaml's cluster (needs Docker)"
    )
    s.add_argument(
        "--control-planes", type=int, choices=(1, 3, 5), default=None, help="control-plane nodes (default 3; embedded)"
    )
    s.add_argument("--workers", type=_workers, default=None, help="KWOK worker nodes, 0-50 (default 3; embedded)")
    s.add_argument(
        "--load-balancers",
        type=int,
        choices=(1, 2),
        default=None,
        help="1: one HAProxy in front of the API servers (seed 004, default); 2: two, behind a keepalived VIP "
        "(seed 002; embedded)",
    )
    s.add_argument(
        "--no-wait-prometheus",
        dest="wait_prometheus",
        action="store_false",
        help="return once the cluster is ready, without waiting for Prometheus' first scrapes",
    )
    s.add_argument(
        "--node-image",
        default=None,
        help=f"kind only: the node image to use instead of ci/kind-config.yaml's (or kubedrill's own, built when "
        f"that cannot be pulled); also ${kind.NODE_IMAGE_ENV}",
    )
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("down", help="stop the embedded cluster (or the kind cluster) and remove everything it made")
    _provider_arg(
        s, "kind: delete the kind cluster, kind's network, and the Docker engine kubedrill started (images stay)"
    )
    s.set_defaults(func=cmd_down)

    s = sub.add_parser("status", help="components, etcd members and Prometheus targets")
    s.add_argument("--output", "-o", choices=("text", "json"), default="text")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser(
        "env", help="print the exports pytest and 'chaos run' need: KUBECONFIG, context, backend, Prometheus, etcdctl"
    )
    _provider_arg(s, "the embedded cluster (default) or kind's")
    s.add_argument("--inventory", help="real nodes over ssh: this inventory (validated) and the ssh backend")
    s.set_defaults(func=cmd_env)

    s = sub.add_parser("recover", help="revert every fault a killed run left behind (from the rollback ledger)")
    s.add_argument("--ledger", help="rollback ledger (default: $KUBEDRILL_LEDGER or ~/.local/state/kubedrill/…)")
    s.set_defaults(func=cmd_recover)

    s = sub.add_parser(
        "gameday", help="run a game-day plan: a person confirms each injection, enters detection and mitigation"
    )
    s.add_argument("plan", help="the plan (e.g. scenarios/gameday/quarterly-dr.yaml)")
    s.add_argument("--output", help="where results, report and gameday.md go (default reports/gameday/<time>)")
    for flag, o in GAMEDAY_OPTIONS:
        if o.shape == "list":
            s.add_argument(flag, action="append", default=[], help=o.help)
        else:
            s.add_argument(flag, choices=o.choices, help=o.help)
    s.set_defaults(func=cmd_gameday)

    s = sub.add_parser("report", help="render the Allure HTML report from the results")
    s.add_argument("--results", default="reports/allure-results")
    s.add_argument("--output", default="reports/allure-report")
    s.add_argument("--config", help="allurerc (default: ./allurerc.mjs if there, else kubedrill's)")
    s.set_defaults(func=cmd_report)
    return p


def _provider_arg(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--provider embedded|kind``, as ``up`` and ``down`` take it."""
    parser.add_argument("--provider", choices=("embedded", "kind"), default="embedded", help=help_text)


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of worker nodes, got {value!r}") from None
    if not 0 <= n <= 50:
        raise argparse.ArgumentTypeError(f"expected 0 to 50 worker nodes, got {n}")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DrillError as e:
        print(f"kubedrill {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kubedrill {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kubedrill status | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
