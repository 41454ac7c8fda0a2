"""Keys and values round-trip exactly; equal keys are one key, as in a dict."""

import math
from typing import Any

import pytest

import ferrets

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
    2**200,
    -(2**200),
    255,
    -256,
    2.5,
    -0.0,
    0.0,
    float("inf"),
    float("-inf"),
    1e300,
    "",
    "é",
    "x" * 1000,
    "\ud800 lone surrogate",
    "😀",
    b"",
    b"\x00\xff",
    b"y" * 100,
    (),
    (1,),
    (1, "a", (2.5, None)),
    [],
    [1, [2, [3, []]]],
    {},
    {"a": 1, 2: [3, {"b": (4,)}], (1, 2): None, True: b"x"},
    [True, 1, 1.0],
]


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type, recursively (and -0.0 / nan exactly)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b))
    return bool(a == b)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_round_trip_with_their_type(value: Any) -> None:
    t = ferrets.Table()
    t["k"] = value
    assert same(t["k"], value)
    assert same(t.get("k"), value)
    assert same(list(t.values())[0], value)
    assert same(t.pop("k"), value)


def test_nan_value_round_trips() -> None:
    t = ferrets.Table()
    t["nan"] = float("nan")
    assert math.isnan(t["nan"])


@pytest.mark.parametrize("key", [v for v in VALUES if not isinstance(v, (list, dict))], ids=repr)
def test_hashable_values_round_trip_as_keys(key: Any) -> None:
    t = ferrets.Table()
    t[key] = "v"
    assert t[key] == "v"
    assert key in t
    (got,) = list(t)
    assert same(got, key)


def test_str_and_int_keys_round_trip_at_every_encoded_length() -> None:
    # Common keys are encoded on a fast path with cases by length (word
    # windows up to 16 bytes, a copy up to 64, the general encoder beyond):
    # each length must find its key, and read back the same str or int.
    keys: list[Any] = []
    for n in range(80):
        keys += ["".join(chr(48 + j % 75) for j in range(n)), "\u00e9" * n, "a" + "\u20ac" * n, "\U0001f600" * n]
    keys += [sign * (2**b + d) for b in range(0, 70, 7) for d in (-1, 0, 1) for sign in (1, -1)]
    t = ferrets.Table()
    expected: dict[Any, int] = {}
    for i, k in enumerate(keys):
        t[k] = i
        expected[k] = i
    assert len(t) == len(expected)
    for k, i in expected.items():
        assert k in t
        assert t[k] == t.get(k) == i
    assert t == expected
    assert sorted(map(repr, t)) == sorted(map(repr, expected))
    for k in expected:
        del t[k]
    assert len(t) == 0


def test_stored_by_value() -> None:
    t = ferrets.Table()
    v = [1, {"a": [2]}]
    t["k"] = v
    v[1]["a"].append(3)  # type: ignore[index]
    assert t["k"] == [1, {"a": [2]}]
    got = t["k"]
    got.append("mutated")
    assert t["k"] == [1, {"a": [2]}]


@pytest.mark.parametrize(
    "equal_keys",
    [
        [1, True, 1.0],
        [0, False, 0.0, -0.0],
        [2**70, float(2**70)],
        [-(2**63), float(-(2**63))],
        [(1, 2), (True, 2.0)],
        [((0,), "a"), ((False,), "a"), ((-0.0,), "a")],
    ],
    ids=repr,
)
def test_equal_keys_are_one_key_like_dict(equal_keys: list[Any]) -> None:
    t = ferrets.Table()
    d: dict[Any, Any] = {}
    for i, k in enumerate(equal_keys):
        t[k] = i
        d[k] = i
    assert len(t) == 1
    for k in equal_keys:
        assert t[k] == len(equal_keys) - 1
        assert k in t
    # Iteration gives back the first-inserted key object, as dict does.
    assert same(list(t)[0], list(d)[0])
    assert t == d


def test_unequal_keys_stay_apart() -> None:
    t = ferrets.Table()
    keys: list[Any] = [1, "1", b"1", 1.5, (1,), None, 2**64, 2.0**64 + 4096, "", b"", ()]
    for i, k in enumerate(keys):
        t[k] = i
    assert len(t) == len(keys)
    for i, k in enumerate(keys):
        assert t[k] == i


def test_nan_keys_are_one_key() -> None:
    # Documented difference from dict: a dict matches nan keys by identity
    # only; a table stores a copy, so every nan is the same key.
    t = ferrets.Table()
    t[float("nan")] = 1
    t[float("nan")] = 2
    assert len(t) == 1 and t[float("nan")] == 2
    assert math.isnan(list(t)[0])


def test_subclasses_are_rejected() -> None:
    class MyStr(str):
        pass

    class MyInt(int):
        pass

    t = ferrets.Table()
    with pytest.raises(TypeError, match="'MyStr'"):
        t[MyStr("a")] = 1
    with pytest.raises(TypeError, match="'MyInt'"):
        t["a"] = MyInt(1)
    assert len(t) == 0


def test_too_deep_or_self_referencing_raises_value_error() -> None:
    t = ferrets.Table()
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested more than"):
        t["k"] = loop
    deep: Any = 1
    for _ in range(300):
        deep = (deep,)
    with pytest.raises(ValueError, match="nested more than"):
        t[deep] = 1
    ok: Any = 1
    for _ in range(150):
        ok = [ok]
    t["ok"] = ok
    assert t["ok"] == ok
    assert list(t) == ["ok"]
