"""A seeded random sequence of operations gives the same results as a dict."""

import random
from typing import Any

import pytest

import ferrets

KEYS: list[Any] = [0, 1, True, 1.0, -0.0, 2, "a", "b", b"a", (1, "a"), (True, "a"), 2**70, None, ""]
VALUES: list[Any] = [None, 0, -1, 2**65, 1.5, "s", b"b", (1, 2), [1, [2]], {"k": [1]}, True]
MISSING = object()


def run(seed: int, steps: int) -> None:
    rng = random.Random(seed)
    t = ferrets.Table(partitions=rng.choice([None, 1, 4]))
    d: dict[Any, Any] = {}

    def same_outcome(f_t: Any, f_d: Any) -> None:
        try:
            expected: Any = ("ok", f_d())
        except Exception as e:  # noqa: BLE001 - compare the exception type
            expected = ("err", type(e))
        try:
            got: Any = ("ok", f_t())
        except Exception as e:  # noqa: BLE001
            got = ("err", type(e))
        assert got == expected

    for _ in range(steps):
        k, v = rng.choice(KEYS), rng.choice(VALUES)
        op = rng.randrange(13)
        if op == 0:
            t[k] = v
            d[k] = v
        elif op == 1:
            same_outcome(lambda: t[k], lambda: d[k])
        elif op == 2:
            same_outcome(lambda: t.__delitem__(k), lambda: d.__delitem__(k))
        elif op == 3:
            assert (k in t) == (k in d)
        elif op == 4:
            assert t.get(k, MISSING) == d.get(k, MISSING)
        elif op == 5:
            same_outcome(lambda: t.pop(k), lambda: d.pop(k))
        elif op == 6:
            assert t.setdefault(k, v) == d.setdefault(k, v)
        elif op == 7:
            new = {rng.choice(KEYS): rng.choice(VALUES) for _ in range(3)}
            t.update(new)
            d.update(new)
        elif op == 8:
            assert t.insert_new(k, v) == (k not in d)
            d.setdefault(k, v)
        elif op == 9:

            def incr_dict() -> Any:
                if k in d and (type(d[k]) is not int):
                    raise TypeError
                d[k] = d.get(k, 0) + 3
                return d[k]

            same_outcome(lambda: t.incr(k, 3), incr_dict)
        elif op == 10 and rng.random() < 0.2:
            if d:
                key, value = t.popitem()
                assert d.pop(key) == value
            else:
                same_outcome(t.popitem, d.popitem)
        elif op == 11 and rng.random() < 0.05:
            t.clear()
            d.clear()
        elif op == 12:
            assert len(t) == len(d)
        assert t == d
    # Iteration gives back the first-inserted key objects, as dict does.
    assert sorted(map(repr, t.items())) == sorted(map(repr, d.items()))
    assert sorted(map(repr, t)) == sorted(map(repr, d))


@pytest.mark.parametrize("seed", range(20))
def test_matches_dict(seed: int) -> None:
    run(seed, 400)
