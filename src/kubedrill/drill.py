"""The drill engine: one ``DrillRun`` per drill, shared by the pytest drills and the Chaos Toolkit activities.

A run follows the runbook: steady state → inject → the fault took effect → recover → SLO verdict →
rollback. ``phase()`` records each step (an Allure step and a timestamp on the drill's clock); the API
prober runs through all of them; ``Rollbacks`` guarantees every injected fault is reverted; the
verdict collects ``Check``s and ``assert_slos`` raises SloViolation naming expected and observed values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubedrill import preflight, slo
from kubedrill.backends.cluster import Cluster
from kubedrill.backends.etcd_http import EtcdStatusHttp
from kubedrill.backends.kube import Kube
from kubedrill.backends.probe_api import ProbeApi
from kubedrill.backends.prom import Prometheus, Target
from kubedrill.backends.workloads import Workloads
from kubedrill.config import SloProfile, load_profile
from kubedrill.errors import Declined, DrillError, PreconditionFailed, RecoveryTimeout, SloViolation
from kubedrill.faults.base import Fault, Rollbacks, cluster_record
from kubedrill.faults.ledger import RollbackLedger
from kubedrill.model import Check, Impact, PhaseRecord, Sample, Verdict, Window
from kubedrill.probes import etcd as etcd_probe
from kubedrill.probes import prometheus as promchecks
from kubedrill.probes.api import ApiProber, ProberSettings
from kubedrill.probes.control_plane import ON_NODE, ControlPlaneWatcher, WatchSettings
from kubedrill.probes.workload import Canary
from kubedrill.report import allure_report, drill_report, score
from kubedrill.report.summary import DrillRow
from kubedrill.settings import RunSettings, local_etcdutl
from kubedrill.waiting import wait_until

SUITE_LABEL = "app.kubernetes.io/created-by"
SUITE_VALUE = "kubedrill"
DRILL_LABEL = "kubedrill.io/drill"
PROMETHEUS_LOOKBEHIND_S = 2.0  # two scrape intervals of the embedded Prometheus (1 s): the least look-behind


def lookbehind(targets: list[Target]) -> float:
    """How far before the fault PromQL looks: two scrape intervals of the slowest target Prometheus reports
    (kube-prometheus-stack scrapes every 30 s, the embedded Prometheus every 1-2 s), never less than 2 s."""
    return max([PROMETHEUS_LOOKBEHIND_S, *(2 * t.scrape_interval_s for t in targets)])


RECOVERY_STABLE_S = 1.0  # the API counts as recovered once it answers without a failure for this long
TEARDOWN_TIMEOUT_S = 120.0  # the API must be back this long after a drill to delete its namespace
NAMESPACE_GONE_TIMEOUT_S = 90.0  # its pods (grace 1 s) must be gone by then, or the next drill trips over them


# The injection gate: during a game day a person confirms each injection. ``gate(drill, what)`` is called
# right before the fault window opens; it may raise Declined (skip) or KeyboardInterrupt (abort).
InjectionGate = Callable[["DrillRun", str], None]


@dataclass
class DrillRun:
    drill_id: str
    title: str
    cluster: Cluster
    profile: SloProfile
    ledger: RollbackLedger
    inventory: str | None = None
    log: Callable[[str], None] = print
    namespace: str = ""
    prober: ApiProber | None = None
    watcher: ControlPlaneWatcher | None = None
    phases: list[PhaseRecord] = field(default_factory=list)
    fault_window: Window | None = None
    fault_open: bool = False  # begun and not ended: the fault action did not complete
    allowed_lost: tuple[str, ...] = ()  # acknowledged writes a restore is expected to lose (its RPO set)
    etcdutl_local: str | None = None  # etcdutl on this machine (verifies snapshots)
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "kubedrill")
    canary: Canary | None = None
    allow_quorum_loss: bool = False
    prober_settings: ProberSettings = field(default_factory=ProberSettings)  # the grid (--probe-rate)
    refused: PreconditionFailed | None = None  # why the drill did not start (steady state, quorum guard)
    gate: InjectionGate | None = None  # a game day's: a person confirms each injection
    verdict: Verdict = field(init=False)
    evidence: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    prom_results: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, object]] = field(default_factory=list)  # alert coverage: fault, alert, fired_s, budget_s
    attachments: dict[str, Any] = field(default_factory=dict)
    rollbacks: Rollbacks = field(init=False)
    _probe_api: ProbeApi | None = None
    _watch_kube: Kube | None = None
    _watch_etcd: EtcdStatusHttp | None = None
    _t0: float = field(default_factory=time.monotonic)
    _wall0: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.drill_id)
        self.rollbacks = Rollbacks(
            self.ledger,
            self.drill_id,
            cluster_record(self.cluster, self.inventory),
            self.log,
            sizes={
                "etcd": len(self.cluster.etcd_endpoint_of) or len(self.cluster.control_planes),
                "kube-apiserver": len(self.cluster.control_planes),
            },
            allow_quorum_loss=self.allow_quorum_loss,
        )
        if not self.namespace:
            self.namespace = f"kubedrill-{self.drill_id[:30]}-{secrets.token_hex(3)}".lower()

    # ---- construction ----
    @classmethod
    def start(
        cls,
        drill_id: str,
        title: str,
        settings: RunSettings,
        log: Callable[[str], None] = print,
        gate: InjectionGate | None = None,
    ) -> DrillRun:
        profile = load_profile(settings.slo_profile).for_drill(drill_id)  # bad profile: error before connecting
        prober_settings = settings.prober_settings()  # a bad --probe-rate, likewise
        cluster = settings.connect()
        # The context guard, for every way in (pytest checks it too, before any fixture touches the cluster).
        refusal = preflight.context_refusal(
            cluster.context, cluster.server, preflight.allowed_contexts(settings.allow_contexts)
        )
        if refusal:
            raise PreconditionFailed(refusal)
        ledger = RollbackLedger(None if settings.ledger is None else Path(settings.ledger))
        return cls(
            drill_id,
            title,
            cluster,
            profile,
            ledger,
            inventory=settings.inventory,
            log=log,
            etcdutl_local=local_etcdutl(),
            allow_quorum_loss=settings.allow_quorum_loss,
            gate=gate,
            prober_settings=prober_settings,
        )

    # ---- the pre-flight gate ----
    def preflight(self) -> list[str]:
        """Steady state before anything is created or injected (``preflight.check``); what was checked."""
        return preflight.check(self.cluster, self.ledger, self.drill_id)

    # ---- the drill's clock ----
    def now(self) -> float:
        return time.monotonic()

    def hold(self, seconds: float) -> None:
        """Let the cluster run (the prober keeps measuring) for ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)

    def wall_of(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._wall0 + (t - self._t0), dt.UTC)

    # ---- phases ----
    @contextmanager
    def phase(self, name: str) -> Iterator[PhaseRecord]:
        rec = PhaseRecord(name, self.now(), wall=time.time())
        self.phases.append(rec)
        self.log(f"[{self.drill_id}] {name}")
        with allure_report.step(name):
            try:
                yield rec
            except BaseException as e:
                rec.outcome = type(e).__name__
                raise
            finally:
                rec.end = self.now()

    # ---- workload and prober ----
    def setup_namespace(self) -> None:
        kube = self.cluster.kube()
        try:
            Workloads(kube).create_namespace(self.namespace, {SUITE_LABEL: SUITE_VALUE, DRILL_LABEL: self.drill_id})
        finally:
            kube.close()

    def start_prober(self, settings: ProberSettings | None = None) -> ApiProber:
        self._probe_api = ProbeApi(self.cluster.kubeconfig, self.cluster.context, self.namespace)
        self._probe_api.ensure_anchor()
        cluster = self.cluster
        ns = self.namespace
        self.prober = ApiProber(
            lambda: ProbeApi(cluster.kubeconfig, cluster.context, ns), settings or self.prober_settings
        )
        return self.prober.start()

    def start_watcher(self, settings: WatchSettings | None = None) -> ControlPlaneWatcher:
        """Watch the etcd leader (where etcd is reachable) and the controller Lease holders until the
        prober stops, for the report's leader and Lease timelines."""
        cluster = self.cluster
        read_etcd: Callable[[], tuple[str | None, int | None]] | None = None
        if cluster.etcd is not None:
            http = self._watch_etcd = cluster.etcd_status_http()  # None: etcdctl on a node, paced (ON_NODE)
            read_etcd = functools.partial(etcd_probe.leader_now, cluster, http)
            if http is None and settings is None:
                settings = ON_NODE

        kube = cluster.kube(timeout_s=2.0)  # used by the watcher's Lease thread only; closed in stop_watcher

        def read_holder(name: str) -> str | None:
            return kube.lease_holder("kube-system", name)

        self._watch_kube = kube
        self.watcher = ControlPlaneWatcher(read_etcd, read_holder, preflight.LEADER_LEASES, settings or WatchSettings())
        return self.watcher.start()

    def stop_watcher(self) -> None:
        if self.watcher is not None and self.watcher.running:
            self.watcher.stop()
        kube, self._watch_kube = self._watch_kube, None
        if kube is not None:
            kube.close()
        http, self._watch_etcd = self._watch_etcd, None
        if http is not None:
            http.close()

    def await_recovery(self, op: str = "write") -> float | None:
        """Keep probing past the fault until the API is steady (time to recover) or the SLO runs out."""
        if self.prober is None or self.fault_window is None:
            raise PreconditionFailed("await_recovery() needs a running prober and a fault window")
        prober, end = self.prober, self.fault_window.end
        deadline = end + self.profile.api.recovery_max_s + RECOVERY_STABLE_S
        try:
            return wait_until(
                "the API steady after the fault",
                lambda: slo.time_to_recover_s(
                    [s for s in prober.snapshot() if s.op == op],
                    end,
                    RECOVERY_STABLE_S,
                    self.profile.api.stall_s,
                    steady_since=self._steady_since(),
                ),
                lambda ttr: ttr is not None,
                timeout_s=max(0.0, deadline - self.now()) + 0.5,
                interval_s=0.1,
            )
        except RecoveryTimeout:
            return None

    def _steady_since(self) -> float | None:
        """Where the proof of recovery may begin: the window's last RECOVERY_STABLE_S, which SETTLE_S keeps
        past the fault's own recovery (issue 19: a second of runner overhead per drill otherwise)."""
        w = self.fault_window
        return None if w is None else max(w.start, w.end - RECOVERY_STABLE_S)

    def stop_prober(self) -> list[Sample]:
        self.stop_watcher()
        if self.prober is None:
            return []
        self.prober.stop()
        return self.prober.snapshot()

    def collect_events(self) -> None:
        """Events from kube-system and the drill's namespace since the drill began (for the report)."""
        kube = self.cluster.kube()
        try:
            for ns in ("kube-system", self.namespace):
                try:
                    self.attachments[f"events in {ns}"] = kube.events(ns, self._wall0 - 5)
                except DrillError as e:
                    self.attachments[f"events in {ns}"] = [{"error": str(e)}]
        finally:
            kube.close()

    def teardown(self) -> None:
        """Stop the prober and the watcher, and delete the drill's namespace. Safe to call twice."""
        self.stop_watcher()
        if self.prober is not None and self.prober.running:
            self.prober.stop()
        if self._probe_api is not None:
            self._probe_api.close()
            self._probe_api = None
        if self.canary is not None:
            # Its ReplicaSet ends its pods now (grace 1 s), as a scale-down does; left to the namespace
            # controller they linger ~5 s, and the next drill that places pods waits for them.
            with contextlib.suppress(DrillError):  # the API may still be coming back: the namespace takes them
                self.canary.workloads.scale_deployment(self.namespace, self.canary.name, 0)
            self.canary.workloads.kube.close()
        kube = self.cluster.kube()
        try:
            # After a disaster drill the API may still be coming back: wait for it rather than leak the namespace.
            wait_until(
                f"namespace {self.namespace} deleted",
                lambda: Workloads(kube).delete_namespace(self.namespace),
                lambda _: True,
                timeout_s=TEARDOWN_TIMEOUT_S,
                interval_s=0.5,
            )
            # Deletion is asynchronous (the namespace controller takes ~6 s here, pods or not), and not waited
            # for: the drills with a canary (drains, a lost node) wait for earlier drills' pods to be gone before theirs
            # (await_earlier_pods_gone), so the others do not pay for it (issue 19).
        finally:
            kube.close()

    def await_earlier_pods_gone(self) -> None:
        """Wait until no pod is left in an earlier drill's namespace that is being deleted: a drain or a lost
        node would find that drill's pods still on its nodes. Pods go in the namespace controller's first pass
        (grace 1 s); the namespace itself lingers ~5 s more for its second, which nothing here needs."""
        kube = self.cluster.kube()
        try:
            w = Workloads(kube)
            wait_until(
                "earlier drills' pods gone",
                lambda: [
                    f"{ns}/{p.name}"
                    for ns in w.namespaces(f"{SUITE_LABEL}={SUITE_VALUE}", terminating=True)
                    for p in w.pods(ns)
                ],
                lambda left: not left,
                timeout_s=NAMESPACE_GONE_TIMEOUT_S,
                interval_s=0.25,
                describe=lambda left: f"still there: {', '.join(left[:5])}",
            )
        finally:
            kube.close()

    # ---- faults ----
    def refuse(self, e: PreconditionFailed) -> PreconditionFailed:
        """Remember why the drill did not (fully) start, so the runner reports a precondition failure."""
        self.refused = self.refused or e
        return e

    def inject(self, fault: Fault) -> str:
        try:
            evidence = self.rollbacks.inject(fault)
        except PreconditionFailed as e:  # quorum guard, or a target that is not there: nothing was injected
            raise self.refuse(e) from None
        self.evidence[f"{fault.fault_type} injected"] = evidence
        return evidence

    def begin_fault(self, what: str = "") -> float:
        """The fault window opens now, right before the first injection. Under a game day a person
        confirms it first (the gate may raise Declined, or KeyboardInterrupt to abort the game day)."""
        if self.gate is not None:
            try:
                self.gate(self, what or (self.phases[-1].name if self.phases else self.title))
            except Declined as e:
                raise self.refuse(e) from None
        t = self.now()
        self.fault_window = Window(t, t)
        self.fault_open = True
        return t

    def end_fault(self) -> Window:
        if self.fault_window is None:
            raise PreconditionFailed("end_fault() without begin_fault()")
        self.fault_window = Window(self.fault_window.start, self.now())
        self.fault_open = False
        return self.fault_window

    # ---- SLO checks ----
    def add(self, check: Check) -> Check:
        self.verdict.checks.append(check)
        self.log(f"[{self.drill_id}] {check.line()}")
        return check

    def api_checks(self, samples: list[Sample], op: str = "write", expect_outage: bool = False) -> None:
        """Availability, longest outage and p99 latency inside the fault window, and time to recover after it.

        With ``expect_outage`` (quorum loss) the outage is the point: it is measured and reported, and only
        the recovery after the fault is held to the SLO."""
        if self.fault_window is None:
            raise PreconditionFailed("no fault window recorded")
        api = self.profile.api
        w = self.fault_window
        inside = slo.in_window(samples, w, op)
        stall = api.stall_s
        self.metrics["availability"] = slo.availability(inside, stall)
        self.metrics["longest_outage_s"] = slo.longest_outage_s(inside, w.end, stall)
        self.metrics["latency_p99_s"] = slo.latency_percentile_s(inside, 99)
        self.metrics["fault_window_s"] = w.duration_s
        if not expect_outage:
            self.add(
                slo.check_availability(f"API {op} availability during the fault", inside, api.availability_min, stall)
            )
            self.add(
                slo.check_longest_outage(f"longest API {op} outage", inside, api.longest_outage_max_s, w.end, stall)
            )
            self.add(slo.check_latency(f"API {op} latency during the fault", inside, 99, api.latency_p99_max_s))
        if self.allowed_lost:
            # A restore goes back to its snapshot: reads of the writes it lost find nothing, by design.
            self.metrics["reads_of_lost_writes"] = sum(s.op == "read" and s.error == "stale-read" for s in samples)
        else:
            self.add(slo.check_no_stale_reads(samples))
        ttr = slo.time_to_recover_s(
            [s for s in samples if s.op == op], w.end, RECOVERY_STABLE_S, stall, steady_since=self._steady_since()
        )
        self.metrics["time_to_recover_s"] = ttr
        self.add(slo.check_max("API recovered after the fault", ttr, api.recovery_max_s))

    def ledger_check(self, allowed_lost: tuple[str, ...] = ()) -> slo.LedgerResult:
        if self.prober is None or self._probe_api is None:
            raise PreconditionFailed("the ledger needs the API prober: start_prober() first")
        allowed = allowed_lost or self.allowed_lost
        # Read back through the load balancer, which may still be putting API servers back (after a quorum
        # loss they turn ready one by one): an unreachable API is retried, a wrong answer is not.
        written = wait_until(
            "the prober's writes read back", self._probe_api.written_keys, lambda _: True, timeout_s=30, interval_s=1.0
        )
        result = slo.check_ledger(self.prober.acknowledged_writes(), written, allowed)
        self.metrics["writes_lost_as_expected"] = len(result.expected_lost)
        self.metrics["acknowledged_writes"] = result.acknowledged
        self.add(slo.check_ledger_result(result))
        return result

    def prometheus_url_or_check(self, name: str, expected: str) -> str | None:
        """The cluster's Prometheus URL; without one, a failed check ``name`` saying none is configured."""
        url = self.cluster.prometheus_url
        if not url:
            self.add(
                Check(
                    name,
                    expected,
                    "none configured",
                    bool(url),
                    hint="give --prometheus-url or KUBEDRILL_PROMETHEUS_URL",
                    impact=Impact.SIGNAL,
                )
            )
        return url or None

    def prometheus_checks(
        self, checks: list[promchecks.PromCheck], alerts: list[promchecks.AlertRule] | None = None
    ) -> None:
        if self.fault_window is None:
            raise PreconditionFailed("no fault window recorded")
        url = self.prometheus_url_or_check(
            "Prometheus checks", f"a Prometheus to query for {len(checks)} checks and {len(alerts or [])} alerts"
        )
        if not url:
            return
        prom = Prometheus(url)
        targets = self.cluster.prom_targets or self.profile.prometheus
        try:
            # Evaluated from two scrapes before the fault (so a counter or a process start time has a value from
            # before it) to now, once every target was scraped after the window's end, which runs SETTLE_S past
            # recovery (a member that restarted is only scraped after it came back). By the time the verdict
            # begins that scrape has usually happened: the wait is for one after the window, not one after
            # "now" (issue 19: 1-2 s of runner overhead), and nothing scraped since is left out.
            lookbehind_s = lookbehind(prom.targets())
            self.metrics["prometheus_lookbehind_s"] = lookbehind_s
            start = self.wall_of(self.fault_window.start) - dt.timedelta(seconds=lookbehind_s)
            window_end = self.wall_of(self.now() if self.fault_open else self.fault_window.end)
            promchecks.wait_for_scrape(prom, window_end, timeout_s=max(30.0, 3 * lookbehind_s))
            end = self.wall_of(self.now())
            results = [promchecks.evaluate(prom, c, start, end, targets) for c in checks]
            results += [promchecks.evaluate_alert(prom, a, start, end, targets=targets) for a in alerts or []]
        finally:
            prom.close()
        for r in results:
            self.add(r.check)
            self.prom_results.append({"check": r.check.name, "query": r.query, "result": r.values, "ok": r.check.ok})

    # ---- verdict and report ----
    def report(self) -> None:
        """Attach the timeline (CSV and PNG), evidence, PromQL results and the phase timeline to Allure."""
        drill_report.attach(
            self.title,
            samples=self.prober.snapshot() if self.prober else [],
            clock_start=self._t0,
            fault_window=self.fault_window,
            phases=self.phases,
            stall_s=self.profile.api.stall_s,
            observations=self.watcher.snapshot() if self.watcher else [],
            leases=preflight.LEADER_LEASES,
            metrics=self.metrics,
            rto_max_s=self.profile.restore.rto_max_s,
            evidence=self.evidence,
            prom_results=self.prom_results,
            attachments=self.attachments,
            verdict=self.verdict.summary() or "no checks were made",
        )

    def summary_row(self, nodeid: str) -> DrillRow:
        """This drill's line in the run summary (the verdict is filled in from pytest's outcome)."""
        return DrillRow(
            nodeid=nodeid,
            drill=self.drill_id,
            title=self.title,
            faults=list(self.rollbacks.injected),
            metrics=dict(self.metrics),
            failed_checks=[c.line() for c in self.verdict.failed],
            checks=[score.record(c) for c in self.verdict.checks],
            alerts=list(self.alerts),
            # The drill's own verdict; pytest's outcome refines it (a test may expect a drill to fail).
            verdict="SLO violated" if self.verdict.failed else "passed" if self.verdict.checks else "unknown",
            reason=str(self.refused) if self.refused else "",
            started=self._wall0,
            duration_s=round(self.now() - self._t0, 3),
        )

    def judged(self, *fragments: str) -> list[Check]:
        """The checks whose names contain one of ``fragments``; a fragment that names no judged check is an
        SloViolation, so a drill whose key SLO went unjudged (a scenario edit dropped it) cannot pass."""
        unjudged = [f for f in fragments if not any(f in c.name for c in self.verdict.checks)]
        if unjudged:
            names = "; ".join(c.name for c in self.verdict.checks) or "none"
            raise SloViolation(f"{self.drill_id}: expected checks named {unjudged} to be judged, observed: {names}")
        return [c for c in self.verdict.checks if any(f in c.name for f in fragments)]

    def assert_slos(self) -> None:
        if not self.verdict.checks:
            raise SloViolation(f"{self.drill_id}: no SLO was checked: a drill that asserts nothing cannot pass")
        if not self.verdict.ok:
            lines = "\n".join(c.line() for c in self.verdict.failed)
            raise SloViolation(f"SloViolation in {self.drill_id} ({len(self.verdict.failed)} of "
                               f"{len(self.verdict.checks)} checks failed):\n{lines}")  # fmt: skip
