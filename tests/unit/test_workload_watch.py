import threading

from kubedrill.probes.workload import AvailabilityWatch


def test_the_minimum_is_taken_over_every_reported_change() -> None:
    def fake_watch(on_count, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
        for count in (3, 2, 3, 0, 1, 3):  # a 0 that a sampler might miss between two polls
            on_count(count)
        stop.wait(5)

    with AvailabilityWatch(fake_watch) as watch:
        while len(watch.samples) < 6:
            threading.Event().wait(0.01)
    assert watch.minimum == 0
    assert [v for _, v in watch.samples] == [3, 2, 3, 0, 1, 3]


def test_no_observation_is_no_minimum() -> None:
    with AvailabilityWatch(lambda on, stop: stop.wait(5)) as watch:
        pass
    assert watch.minimum is None
