"""The API prober's loop, against a hand-written fake target that fails on cue."""

import threading

from kubedrill.probes.api import ApiProber, ProberSettings


class FlakyTarget:
    def __init__(self, failing: threading.Event) -> None:
        self.failing = failing

    revision = 0

    def write(self, key: str) -> int:
        if self.failing.is_set():
            raise ConnectionRefusedError("Connection refused")
        FlakyTarget.revision += 1
        return FlakyTarget.revision

    def read(self, key: str | None) -> None:
        if self.failing.is_set():
            raise TimeoutError("timed out")

    def classify(self, error: BaseException) -> str:
        return type(error).__name__

    def close(self) -> None:
        pass


def test_failures_are_recorded_with_their_class_and_only_acknowledged_writes_enter_the_ledger() -> None:
    failing = threading.Event()
    done = threading.Event()
    prober = ApiProber(lambda: FlakyTarget(failing), ProberSettings(interval_s=0.01))
    with prober:
        done.wait(0.1)
        failing.set()
        done.wait(0.1)
        failing.clear()
        done.wait(0.1)
    samples = prober.snapshot()
    writes = [s for s in samples if s.op == "write"]
    assert any(not s.ok and s.error == "ConnectionRefusedError" for s in writes)
    assert any(not s.ok and s.error == "TimeoutError" for s in samples if s.op == "read")
    assert len(prober.acknowledged_writes()) == sum(s.ok for s in writes)
    assert prober.acknowledged_writes() == sorted(prober.acknowledged_writes())
    assert not prober.running
    acked = prober.acknowledged_writes()
    assert prober.written_after(prober.revisions[acked[len(acked) // 2]]) == acked[len(acked) // 2 + 1 :]
