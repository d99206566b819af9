"""Disaster recovery: restore etcd from a snapshot and measure what comes back, what is lost, and how long."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubedrill.drill import DrillRun


@pytest.mark.etcd
@pytest.mark.dr
@pytest.mark.destructive
@pytest.mark.quorum_loss
@pytest.mark.slow
@pytest.mark.gameday
def test_etcd_restores_from_a_snapshot_with_measured_rto_and_rpo(
    require_control_planes: Callable[[int], None], run_scenario: Callable[[str], DrillRun]
) -> None:
    """Runbook (scenarios/etcd-restore.yaml), as seeds 000/003 do it by hand. A restore stops every member
    and API server, so it is a quorum_loss drill: it runs only when selected explicitly.

    1. steady state: marker ConfigMaps and a canary Deployment; the prober writes at 10 Hz;
    2. ``etcdctl snapshot save``, verified (``etcdutl snapshot status`` and a trial restore);
    3. post-snapshot ConfigMaps: what the restore must lose;
    4. disaster: every API server, then every etcd member stopped; data dirs moved aside;
    5. restore: ``etcdutl snapshot restore`` per member (new token, ``--bump-revision``,
       ``--mark-compacted``); etcd started, then the API servers;
    6. verify: markers back, post-snapshot objects gone (the exact RPO set, with every prober write
       acknowledged after the snapshot revision), one leader, members in step, revisions past the
       snapshot's, the canary scaled and Available (controllers reconcile); RTO within the SLO;
    7. rollback: if the restore was not proven, the old data dirs are put back; everything started.
    """
    require_control_planes(1)
    drill = run_scenario("etcd-restore.yaml")
    assert all(c.ok for c in drill.judged("RTO: disaster", "post-snapshot objects absent", "marker objects restored"))
