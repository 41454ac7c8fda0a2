"""ferrets.Pool: futures, back-pressure, deadlines, cancellation, asyncio, shutdown.

Workers are blocked with threading.Event (never with sleeps), so the tests are
deterministic on a busy machine; every wait has a generous timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import ferrets

LONG = 20.0


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    ev = threading.Event()
    yield ev
    ev.set()  # never leave a worker blocked


def block(pool: ferrets.Pool, gate: threading.Event) -> cf.Future[bool]:
    """Occupies one worker until `gate` is set; returns once it is running."""
    started = threading.Event()

    def blocker() -> bool:
        started.set()
        return gate.wait(LONG)

    fut = pool.submit(blocker)
    assert started.wait(LONG)
    return fut


def test_submit_returns_a_future_with_the_result() -> None:
    with ferrets.Pool(workers=2, queue=8) as pool:
        fut = pool.submit(lambda a, b=0: a + b, 40, b=2)
        assert isinstance(fut, cf.Future)
        assert fut.result(LONG) == 42
        assert pool.workers == 2 and pool.queue == 8 and pool.name == "ferrets-pool"
        assert "ferrets.Pool" in repr(pool)


def test_the_job_exception_reaches_the_future() -> None:
    class Boom(Exception):
        pass

    def fail() -> None:
        raise Boom("no")

    with ferrets.Pool(workers=1, queue=4) as pool:
        fut = pool.submit(fail)
        with pytest.raises(Boom, match="no"):
            fut.result(LONG)
        assert pool.submit(lambda: "alive").result(LONG) == "alive"
    m = pool.metrics()
    assert m["failed"] == 1 and m["completed"] == 1


def test_a_full_queue_raises_overloaded_at_once(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=2)
    blocker = block(pool, gate)
    queued = [pool.submit(lambda i=i: i) for i in range(2)]
    with pytest.raises(ferrets.Overloaded):
        pool.submit(lambda: None)
    assert pool.metrics()["queue_depth"] == 2
    gate.set()
    assert blocker.result(LONG) is True
    assert [f.result(LONG) for f in queued] == [0, 1]
    m = pool.metrics()
    assert m["rejected"] == 1 and m["submitted"] == 3
    pool.shutdown()


def test_a_deadline_passing_in_the_queue_fails_without_running(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=4)
    block(pool, gate)
    ran = threading.Event()
    fut = pool.submit(ran.set, timeout=0.01)
    threading.Event().wait(0.05)  # let the deadline pass while the worker is busy
    gate.set()
    with pytest.raises(TimeoutError):
        fut.result(LONG)
    pool.shutdown()
    assert not ran.is_set()
    assert pool.metrics()["timed_out"] == 1
    with pytest.raises(ValueError):
        pool.submit(print, timeout=-1.0)


def test_cancelling_the_future_cancels_the_job(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=4)
    block(pool, gate)
    ran = threading.Event()
    fut = pool.submit(ran.set)
    assert fut.cancel()
    done, _ = cf.wait([fut], timeout=0)
    assert fut in done
    gate.set()
    report = pool.shutdown()
    assert report is not None and report["stragglers"] == 0
    assert not ran.is_set()
    assert pool.metrics()["cancelled"] == 1


def test_as_completed_sees_every_future() -> None:
    with ferrets.Pool(workers=2, queue=64) as pool:
        futs = [pool.submit(pow, i, 2) for i in range(50)]
        assert sorted(f.result() for f in cf.as_completed(futs, timeout=LONG)) == [i * i for i in range(50)]


def test_shutdown_drains_then_rejects() -> None:
    pool = ferrets.Pool(workers=2, queue=100)
    futs = [pool.submit(lambda i=i: i) for i in range(100)]
    report = pool.shutdown()
    assert report is not None and report["joined"] == 2 and report["stragglers"] == 0
    assert [f.result(0) for f in futs] == list(range(100))
    with pytest.raises(ferrets.ShuttingDown):
        pool.submit(print)
    assert isinstance(ferrets.ShuttingDown("x"), RuntimeError)
    again = pool.shutdown()
    assert again is not None and again["already_shut_down"]


def test_shutdown_with_cancel_futures_cancels_what_is_queued(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=8)
    blocker = block(pool, gate)
    queued = [pool.submit(lambda: 1) for _ in range(5)]
    threading.Timer(0.05, gate.set).start()
    report = pool.shutdown(cancel_futures=True)
    assert report is not None and report["cancelled"] == 5
    assert all(f.cancelled() for f in queued)
    assert blocker.result(LONG) is True


def test_shutdown_without_waiting_returns_none() -> None:
    pool = ferrets.Pool(workers=1, queue=8)
    fut = pool.submit(lambda: 7)
    assert pool.shutdown(wait=False) is None
    assert fut.result(LONG) == 7


def test_blocking_submit_waits_for_room(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=1)
    block(pool, gate)
    pool.submit(lambda: None)
    with pytest.raises(ferrets.Overloaded):
        pool.submit_blocking(lambda: None, wait=0.02)
    threading.Timer(0.05, gate.set).start()
    assert pool.submit_blocking(lambda x: x, 5, wait=LONG).result(LONG) == 5
    pool.shutdown()


def test_blocking_submit_from_a_worker_is_refused() -> None:
    with ferrets.Pool(workers=1, queue=4) as pool:

        def nested() -> str:
            try:
                pool.submit_blocking(lambda: None, wait=1.0)
            except RuntimeError as e:
                return str(e)
            return "accepted"

        assert "deadlock" in pool.submit(nested).result(LONG)


def test_many_threads_submit_at_once() -> None:
    with ferrets.Pool(workers=2, queue=10_000) as pool:
        results: list[int] = []
        lock = threading.Lock()

        def producer(base: int) -> None:
            futs = [pool.submit(lambda i=i: base + i) for i in range(500)]
            total = sum(f.result(LONG) for f in futs)
            with lock:
                results.append(total)

        threads = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == sorted(sum(k * 1000 + i for i in range(500)) for k in range(4))


def test_metrics_keys() -> None:
    with ferrets.Pool(workers=1, queue=4) as pool:
        pool.submit(lambda: None).result(LONG)
        m = pool.metrics()
    for key in ("submitted", "rejected", "completed", "failed", "cancelled", "timed_out", "dropped"):
        assert isinstance(m[key], int)
    assert m["queue_wait_p50"] >= 0.0 and m["run_time_max"] >= m["run_time_p50"]


def test_submit_async_awaits_the_result() -> None:
    pool = ferrets.Pool(workers=2, queue=16)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(pool.submit_async(pow, i, 3) for i in range(10))))

    assert asyncio.run(main()) == [i**3 for i in range(10)]
    with pytest.raises(RuntimeError):
        pool.submit_async(print)  # no running loop
    pool.shutdown()


def test_cancelling_the_awaitable_cancels_the_job(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=4)
    block(pool, gate)
    ran = threading.Event()

    async def main() -> None:
        afut = pool.submit_async(ran.set)
        afut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await afut

    asyncio.run(main())
    gate.set()
    pool.shutdown()
    assert not ran.is_set()
    assert pool.metrics()["cancelled"] == 1


def test_a_result_after_the_loop_closed_is_dropped_safely(gate: threading.Event) -> None:
    pool = ferrets.Pool(workers=1, queue=4)
    block(pool, gate)
    box: list[asyncio.Future[int]] = []

    async def main() -> None:
        box.append(pool.submit_async(lambda: 1))

    asyncio.run(main())  # returns (and closes its loop) with the job still queued
    gate.set()
    report = pool.shutdown()
    assert report is not None and report["stragglers"] == 0
    assert pool.metrics()["completed"] == 2
    assert not box[0].done()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        ferrets.Pool(workers=0)
    with pytest.raises(ValueError):
        ferrets.Pool(queue=0)
    with pytest.raises(OverflowError):
        ferrets.Pool(workers=-1)


def test_racing_cancels_and_completions_settle_every_future_once() -> None:
    pool = ferrets.Pool(workers=2, queue=4096)
    futs = [pool.submit(pow, i, 2) for i in range(3000)]

    def canceller() -> None:
        for f in futs[::2]:
            f.cancel()

    threads = [threading.Thread(target=canceller) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = pool.shutdown()
    assert report is not None and report["stragglers"] == 0
    done, pending = cf.wait(futs, timeout=LONG)
    assert not pending
    for i, f in enumerate(futs):
        assert f.cancelled() or f.result(0) == i * i
    m = pool.metrics()
    assert m["submitted"] == 3000
    assert m["completed"] + m["cancelled"] + m["failed"] == 3000
    assert m["completed"] == sum(1 for f in futs if not f.cancelled())


def cooperative(started: threading.Event) -> str:
    """Runs until the pool says stop, then raises (as a well-behaved job does)."""
    started.set()
    while not ferrets.cancelled():
        threading.Event().wait(0.001)
    raise InterruptedError("stopped")


def test_a_running_job_sees_its_deadline() -> None:
    assert not ferrets.cancelled()  # outside a job
    with ferrets.Pool(workers=1, queue=4) as pool:
        fut = pool.submit(cooperative, threading.Event(), timeout=0.03)
        with pytest.raises(InterruptedError):
            fut.result(LONG)
    assert pool.metrics()["timed_out"] == 1


def test_cancelling_the_awaitable_of_a_running_job_asks_it_to_stop() -> None:
    pool = ferrets.Pool(workers=1, queue=4)
    started = threading.Event()

    async def main() -> None:
        afut = pool.submit_async(cooperative, started)
        while not started.is_set():
            await asyncio.sleep(0.001)
        afut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await afut

    asyncio.run(main())
    report = pool.shutdown()
    assert report is not None and report["stragglers"] == 0
    assert pool.metrics()["cancelled"] == 1


def test_abort_asks_running_jobs_to_stop() -> None:
    pool = ferrets.Pool(workers=1, queue=4)
    started = threading.Event()
    fut = pool.submit(cooperative, started)
    assert started.wait(LONG)
    report = pool.shutdown(cancel_futures=True)
    assert report is not None and report["stragglers"] == 0
    with pytest.raises(InterruptedError):
        fut.result(LONG)
    assert pool.metrics()["cancelled"] == 1
