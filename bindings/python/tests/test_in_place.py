"""Values are stored by value and short ones rewritten in place: a value
rewritten in place is never read back (through the table or the read
cache), and no reference to a stored object is kept (only the read cache
holds the objects reads returned, until the table is cleared or freed)."""

import operator
import random
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import ferrets


def fresh_int(n: int) -> int:
    """An int object of its own (not a constant shared with the test code)."""
    return int(str(n))


def fresh_str(s: str) -> str:
    """An equal str that is a different object."""
    return "".join(list(s))


def settle() -> None:
    """Lets the epoch collector free what was unlinked, and pyo3 run the
    decrefs it deferred (for objects released without the GIL)."""
    scratch = ferrets.Table()
    for i in range(5000):
        scratch[i % 7] = [i] * 10  # too long to rewrite in place: a new entry, the old one retired
        _ = scratch[i % 7]
    scratch.clear()
    assert len(scratch) == 0  # a call through pyo3's wrapper drains its queue


# A tuple key is not one the read cache keeps: the table holds no
# reference to its values at all.
KEY = ("key",)

# Short immutable values: the read cache's kind, rewritten in place.
ATOMS: list[Callable[[], Any]] = [
    lambda: fresh_int(10**9 + 7),
    lambda: fresh_int(-(2**62)),
    lambda: float(fresh_str("1.25")),
    lambda: fresh_str("short text"),
]


@pytest.mark.parametrize("make", ATOMS)
def test_no_reference_to_a_stored_value_is_kept(make: Callable[[], Any]) -> None:
    t = ferrets.Table()
    v = make()
    base = sys.getrefcount(v)
    t[KEY] = v
    t[KEY + KEY] = v
    assert t[KEY] == v and type(t[KEY]) is type(v)
    assert sys.getrefcount(v) == base
    t[KEY] = 5  # in place
    t[KEY] = "y" * 100  # a new entry
    del t[KEY]
    assert t.pop(KEY + KEY) == v
    t.update({KEY: v})
    assert sys.getrefcount(v) == base
    settle()
    assert sys.getrefcount(v) == base


def test_the_read_cache_releases_the_values_it_returned() -> None:
    # `str` keys go through the fast paths and the read cache, which keeps
    # the objects reads returned (and values written through it) until the
    # table is cleared or freed.
    t = ferrets.Table()
    v = fresh_int(10**9 + 9)
    base = sys.getrefcount(v)
    for i in range(100):
        t[f"k{i}"] = v  # new entries: nothing cached
    assert sys.getrefcount(v) == base
    for i in range(100):
        assert t[f"k{i}"] == v
        assert t[f"k{i}"] is t.get(f"k{i}")  # the cached object
    for i in range(100):
        t[f"k{i}"] = v  # in place, through the cache, which keeps `v`
    assert base < sys.getrefcount(v) <= base + 100
    for i in range(50):
        t[f"k{i}"] = i
    for i in range(50, 60):
        del t[f"k{i}"]
    assert t.pop("k60") == v
    for i in range(61, 70):
        t.incr(f"k{i}", 0)
    t.clear()
    settle()
    assert sys.getrefcount(v) == base
    for i in range(100):
        t[f"k{i}"] = v
        assert t[f"k{i}"] == v
        t[f"k{i}"] = v
    del t
    settle()
    assert sys.getrefcount(v) == base


def test_a_value_rewritten_in_place_is_never_returned() -> None:
    writes: list[Callable[[ferrets.Table, Any, Any], Any]] = [
        operator.setitem,  # the type's slot
        lambda t, k, v: t.__setitem__(k, v),  # pyo3's wrapper
        lambda t, k, v: t.update({k: v}),
    ]
    keys: list[Any] = ["k", 7, None, KEY, 2.5]
    values: list[Any] = [10**9 + 1, 3.5, "abc", True, None, -1, 1, 1.0, "x" * 40, (1, 2), 2**70, b"by"]
    rng = random.Random(5)
    for _ in range(3000):
        t = ferrets.Table()
        k = rng.choice(keys)
        old = rng.choice(values)
        new = rng.choice(values)
        write = rng.choice(writes)
        t[k] = old
        _ = t[k], t.get(k), k in t  # the read cache holds `old`
        write(t, k, new)
        for got in (t[k], t.get(k), t[k]):
            assert got == new and type(got) is type(new), (k, old, new)


def test_equal_keys_of_other_types_rewrite_the_same_entry() -> None:
    t = ferrets.Table()
    t[1] = 10**9
    assert t[1] == 10**9
    t[1.0] = "float key"
    assert t[1] == "float key" and t[True] == "float key"
    t[True] = 3
    assert t[1] == 3 and t.get(1.0) == 3
    t.incr(1.0)
    assert t[1] == 4 and t[1.0] == 4


def test_model_of_random_writes_and_reads() -> None:
    # Every read returns a value equal to and of the same type as the model's.
    rng = random.Random(11)
    t = ferrets.Table()
    model: dict[Any, Any] = {}
    keys: list[Any] = [f"k{i}" for i in range(20)] + list(range(10)) + [(i,) for i in range(5)]
    pool: list[Callable[[], Any]] = [
        lambda: fresh_int(rng.randrange(-(2**63), 2**63)),
        lambda: rng.randrange(1000),
        lambda: rng.random(),
        lambda: fresh_str("s" * rng.randrange(30)),
        lambda: rng.choice([True, False, None]),
        lambda: [rng.random()],
        lambda: 2**64 + rng.randrange(10),
    ]
    for _ in range(30_000):
        k = rng.choice(keys)
        op = rng.randrange(10)
        if op < 4:
            v = rng.choice(pool)()
            t[k] = v
            model[k] = v
        elif op == 4:
            assert t.pop(k, "absent") == model.pop(k, "absent")
        elif op == 5 and isinstance(model.get(k, 0), int) and not isinstance(model.get(k, 0), bool):
            model[k] = model.get(k, 0) + 1
            assert t.incr(k) == model[k]
        elif op == 6 and k in model:
            del t[k]
            del model[k]
        else:
            got = t.get(k, "absent")
            want = model.get(k, "absent")
            assert got == want and type(got) is type(want), (k, got, want)
    assert t.to_dict() == model


def test_threaded_writers_and_readers_never_see_a_stale_value() -> None:
    # One writer per key raises a sequence number through every write path
    # (in place as an int or a short str, a new entry as a long str, incr,
    # update with the GIL released); readers decode each value they see and
    # check that no key ever goes back.
    keys = [f"w{i}" for i in range(4)]
    t = ferrets.Table()
    t.update((k, 0) for k in keys)
    stop = threading.Event()
    errors: list[str] = []
    rounds = 3000

    def seq(v: Any) -> int:
        if isinstance(v, int):
            return v
        return int(v.lstrip("x"))

    def writer(k: str) -> None:
        n = 0
        for _ in range(rounds):
            n += 1
            t[k] = n  # an int, in place
            n += 1
            t[k] = str(n)  # a short str, in place
            n += 1
            t[k] = "x" * 40 + str(n)  # long: a new entry
            n += 1
            t[k] = n
            n = t.incr(k)  # in place
            if n % 97 == 0:
                n += 1
                t.update((kk, n) if kk == k else (("pad", i), i) for i, kk in enumerate(keys * 100))

    def reader() -> None:
        seen = dict.fromkeys(keys, 0)
        while not stop.is_set():
            for k in keys:
                s = seq(t[k])
                if s < seen[k]:
                    errors.append(f"{k}: read {s} after {seen[k]}")
                    return
                seen[k] = s

    writers = [threading.Thread(target=writer, args=(k,)) for k in keys]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for th in writers + readers:
            th.start()
        for th in writers:
            th.join()
        stop.set()
        for th in readers:
            th.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
