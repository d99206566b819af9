"""etcd member status over its HTTP gateway (``POST /v3/maintenance/status``), for watching at 10 Hz.

etcdctl costs a process start per reading (~30 ms of CPU here); at 10 readings a second that is a third
of a core taken from the cluster under drill. The gateway answers the same question over a kept-alive
TLS connection for ~1 ms of CPU per member. It needs the client certificates as files on this machine,
so the embedded cluster uses it; kind and ssh clusters, whose certificates live on the nodes, fall back
to etcdctl at the rate it can manage.

Members are asked in parallel with short timeouts, so a member that is cut off (packets dropped) costs
one timeout per reading, not one per member. A reading may also wait only ``wait_s``: a member slow to
answer (one restarting after a kill holds the request until it is ready, up to the read timeout) is left out
of that reading, and its request is not sent again while it is still in flight (a reading it ends during
counts its answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import requests

from kubedrill.backends.etcd import MemberStatus
from kubedrill.errors import BackendError

CONNECT_TIMEOUT_S = 0.3  # a member on a bridge answers a connect in < 1 ms; this is a dropped packet
READ_TIMEOUT_S = 0.5


@dataclass
class EtcdStatusHttp:
    """Status of every endpoint that answered; one that did not is left out (as ``etcdctl endpoint status``)."""

    endpoints: tuple[str, ...]
    cacert: Path
    cert: Path
    key: Path
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.endpoints)), thread_name_prefix="kubedrill-etcd")
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []
        self._in_flight: dict[str, Future[MemberStatus | None]] = {}

    def _session(self) -> requests.Session:
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(s)
        return s

    def _one(self, endpoint: str) -> MemberStatus | None:
        try:
            # verify/cert per request: a session's own would lose to $REQUESTS_CA_BUNDLE (requests' rule)
            r = self._session().post(
                f"{endpoint}/v3/maintenance/status",
                json={},
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
                verify=str(self.cacert),
                cert=(str(self.cert), str(self.key)),
            )
            r.raise_for_status()
            st = r.json()
        except (requests.RequestException, ValueError):
            return None
        return MemberStatus.from_status(endpoint, st)

    def endpoint_status(
        self, wait_s: float | None = None, enough: Callable[[list[MemberStatus]], bool] | None = None
    ) -> list[MemberStatus]:
        """Every member that answered; with ``wait_s``, every one that answered within it (see the module), and
        with ``enough``, those that had answered once ``enough`` says they settle the question asked."""
        with self._lock:
            for endpoint in self.endpoints:
                if endpoint not in self._in_flight or self._in_flight[endpoint].done():
                    self._in_flight[endpoint] = self._pool.submit(self._one, endpoint)
            futures = [self._in_flight[e] for e in self.endpoints]
        deadline = None if wait_s is None else time.monotonic() + wait_s
        answered: list[MemberStatus] = []
        pending = set(futures)
        while pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            if not done:
                break  # the deadline: the members still pending are left out of this reading
            answered += [s for f in done if (s := f.result()) is not None]
            if enough is not None and pending and enough(answered):
                break
        answered.sort(key=lambda s: self.endpoints.index(s.endpoint))
        if not answered:
            raise BackendError(f"no etcd member answered /v3/maintenance/status at {', '.join(self.endpoints)}")
        return answered

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)  # a reading in flight ends within its timeouts
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
