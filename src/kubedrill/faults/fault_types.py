"""Every fault type by the type name the ledger records it under, in one immutable mapping.

``kubedrill recover`` rebuilds a pending fault from its ledger entry alone (``rebuild``), so a type name, once
written to a ledger, must keep it here. A new fault type is added to ``FAULT_TYPES`` by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from kubedrill.backends.cluster import Cluster
from kubedrill.errors import FaultInjectionError
from kubedrill.faults.base import Fault
from kubedrill.faults.components import KillComponent, StopComponent
from kubedrill.faults.drain import Drain
from kubedrill.faults.etcd import MoveLeader
from kubedrill.faults.ledger import Entry
from kubedrill.faults.network import Partition, PolicyPartition
from kubedrill.faults.node_lost import StopKubelet
from kubedrill.faults.restore import EtcdRestore

FAULT_TYPES: Mapping[str, type[Fault]] = MappingProxyType(
    {
        cls.fault_type: cls
        for cls in (
            MoveLeader,
            KillComponent,
            StopComponent,
            EtcdRestore,
            Partition,
            PolicyPartition,
            Drain,
            StopKubelet,
        )
    }
)


def rebuild(entry: Entry, cluster: Cluster) -> Fault:
    """The fault a ledger entry records, ready to ``revert()``."""
    try:
        cls = FAULT_TYPES[entry.fault_type]
    except KeyError:
        raise FaultInjectionError(f"ledger entry {entry.id}: unknown fault type {entry.fault_type!r}") from None
    return cls.from_params(cluster, entry.params)
