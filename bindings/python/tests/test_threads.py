"""Many threads on one table: the results of a locked dict, nothing lost."""

import random
import threading
from collections.abc import Callable
from typing import Any

import ferrets

THREADS = 8


def run_threads(target: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return results


def test_incr_from_8_threads_loses_nothing() -> None:
    t = ferrets.Table()
    n = 5000

    def work(_: int) -> None:
        for i in range(n):
            t.incr("shared")
            t.incr(i % 10, 2)

    run_threads(work)
    assert t["shared"] == THREADS * n
    assert all(t[i] == THREADS * n * 2 // 10 for i in range(10))


def test_incr_beyond_64_bits_from_threads() -> None:
    t = ferrets.Table()
    t["big"] = 2**64

    def work(_: int) -> None:
        for _ in range(500):
            t.incr("big")

    run_threads(work)
    assert t["big"] == 2**64 + THREADS * 500


def test_insert_new_and_setdefault_have_one_winner() -> None:
    t = ferrets.Table()

    def work(i: int) -> tuple[list[bool], list[Any]]:
        won = [t.insert_new(k, i) for k in range(300)]
        got = [t.setdefault(("s", k), i) for k in range(300)]
        return won, got

    results = run_threads(work)
    for k in range(300):
        winners = [i for i, (won, _) in enumerate(results) if won[k]]
        assert len(winners) == 1 and t[k] == winners[0]
        assert {got[k] for _, got in results} == {t[("s", k)]}


def test_disjoint_writers_and_readers_match_a_locked_dict() -> None:
    t = ferrets.Table()
    d: dict[Any, Any] = {}
    lock = threading.Lock()

    def work(i: int) -> None:
        rng = random.Random(i)
        for j in range(2000):
            k = (i, rng.randrange(50))
            if rng.random() < 0.3:
                t.pop(k, None)
                with lock:
                    d.pop(k, None)
            else:
                t[k] = [i, j]
                with lock:
                    d[k] = [i, j]
            t.get((rng.randrange(THREADS), rng.randrange(50)))

    run_threads(work)
    assert t == d


def test_iteration_and_views_under_concurrent_writes() -> None:
    t = ferrets.Table()
    t.update((("stable", i), i) for i in range(1000))
    stop = threading.Event()

    def writer(i: int) -> None:
        rng = random.Random(i)
        while not stop.is_set():
            k = rng.randrange(500)
            t[k] = k
            t.pop(rng.randrange(500), None)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for w in writers:
        w.start()
    try:
        for _ in range(30):
            keys = list(t)
            # Entries present for the whole iteration are seen exactly once.
            stable = [k for k in keys if isinstance(k, tuple)]
            assert len(stable) == len(set(stable)) == 1000
            assert sum(1 for _ in t.items()) >= 1000
            assert len(list(t.values())) >= 1000
            assert len(t.to_dict()) >= 1000
    finally:
        stop.set()
        for w in writers:
            w.join()


def test_bulk_update_clear_and_memory_race_safely() -> None:
    t = ferrets.Table()

    def work(i: int) -> None:
        for round_ in range(20):
            t.update({(i, j): round_ for j in range(500)})
            t.memory()
            if i == 0 and round_ % 5 == 0:
                t.clear()

    run_threads(work, 4)
    t.clear()
    assert len(t) == 0


def test_named_table_opened_from_threads_is_the_same_table() -> None:
    t = ferrets.Table(name="threads-shared")
    try:

        def work(i: int) -> None:
            mine = ferrets.open("threads-shared")
            for _ in range(1000):
                mine.incr("n")
            mine[i] = i

        run_threads(work)
        assert t["n"] == THREADS * 1000 and len(t) == THREADS + 1
    finally:
        t.drop()


def test_creating_one_name_from_many_threads_has_one_winner() -> None:
    def work(i: int) -> bool:
        try:
            ferrets.Table(name="race")
            return True
        except ValueError:
            return False

    try:
        assert sum(run_threads(work)) == 1
    finally:
        ferrets.drop("race")


def test_pop_and_popitem_hand_each_entry_to_exactly_one_thread() -> None:
    t = ferrets.Table()
    t.update((i, i) for i in range(4000))

    def work(i: int) -> list[Any]:
        got = []
        for k in range(i, 2000, THREADS):
            got.append(t.pop(k, None))
        while True:
            try:
                got.append(t.popitem()[1])
            except KeyError:
                return got

    results = run_threads(work)
    popped = [v for r in results for v in r if v is not None]
    assert sorted(popped) == list(range(4000))
    assert len(t) == 0


def test_writers_of_different_sizes_and_readers_see_whole_values() -> None:
    # Values rewritten in place (short) and replaced by new entries (long),
    # from many threads: every read is one of the values written, whole.
    t = ferrets.Table()
    values: list[Any] = [7, "s" * 20, "l" * 300, 2.5, (1, 2), 2**80, None]
    keys = [f"k{j}" for j in range(16)]

    def work(i: int) -> int:
        rng = random.Random(i)
        reads = 0
        for _ in range(3000):
            k = rng.choice(keys)
            if rng.random() < 0.5:
                t[k] = rng.choice(values)
            else:
                v = t.get(k, None)
                assert v is None or v in values, v
                reads += 1
        return reads

    assert sum(run_threads(work)) > 0
    assert all(t[k] in values for k in keys if k in t)


def test_incr_set_and_pop_from_threads_lose_no_increment() -> None:
    # Counters are added to in place while other threads pop them: every
    # increment ends up in exactly one popped value or in the final count.
    t = ferrets.Table()

    def work(i: int) -> int:
        popped = 0
        for n in range(4000):
            if i == 0 and n % 50 == 0:
                popped += t.pop("c", 0)
            else:
                t.incr("c")
        return popped

    popped = sum(run_threads(work))
    adds = (THREADS - 1) * 4000 + 4000 - 4000 // 50
    assert popped + t.get("c", 0) == adds
