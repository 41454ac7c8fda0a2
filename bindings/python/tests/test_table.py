"""ferrets.Table as a MutableMapping: every method and every error path."""

from collections.abc import Mapping, MutableMapping
from typing import Any

import pytest

import ferrets


def test_set_get_delete_len_contains() -> None:
    t = ferrets.Table()
    t["a"] = 1
    t[b"b"] = "two"
    t[3] = None
    assert t["a"] == 1
    assert t[b"b"] == "two"
    assert t[3] is None
    assert len(t) == 3
    assert "a" in t and "missing" not in t
    del t["a"]
    assert "a" not in t
    assert len(t) == 2
    t[3] = "replaced"
    assert t[3] == "replaced" and len(t) == 2


def test_missing_key_raises_key_error_with_the_key() -> None:
    t = ferrets.Table()
    with pytest.raises(KeyError) as err:
        t["nope"]
    assert err.value.args == ("nope",)
    with pytest.raises(KeyError):
        del t["nope"]


def test_is_a_mutable_mapping_and_unhashable() -> None:
    t = ferrets.Table()
    assert isinstance(t, MutableMapping) and isinstance(t, Mapping)
    with pytest.raises(TypeError):
        hash(t)
    assert isinstance(ferrets.__version__, str) and ferrets.__version__.count(".") == 2


def test_get_pop_setdefault() -> None:
    t = ferrets.Table()
    t["k"] = [1, 2]
    assert t.get("k") == [1, 2]
    assert t.get("missing") is None
    sentinel = object()
    assert t.get("missing", sentinel) is sentinel
    assert t.pop("k") == [1, 2]
    assert "k" not in t
    assert t.pop("k", sentinel) is sentinel
    assert t.pop("k", None) is None
    with pytest.raises(KeyError):
        t.pop("k")
    with pytest.raises(TypeError, match="at most 2 arguments"):
        t.pop("k", 1, 2)  # type: ignore[call-overload]
    assert t.setdefault("s", 5) == 5
    assert t.setdefault("s", 6) == 5
    assert t.setdefault("n") is None and t["n"] is None
    default = [1]
    assert t.setdefault("list", default) is default
    default.append(2)
    assert t["list"] == [1]  # stored by value


def test_setdefault_on_present_key_ignores_unsupported_default() -> None:
    t = ferrets.Table()
    t["k"] = 1
    assert t.setdefault("k", object()) == 1
    with pytest.raises(TypeError, match="'object'"):
        t.setdefault("other", object())
    assert "other" not in t


def test_popitem() -> None:
    t = ferrets.Table()
    t.update({i: str(i) for i in range(100)})
    seen = {}
    while t:
        k, v = t.popitem()
        seen[k] = v
    assert seen == {i: str(i) for i in range(100)}
    with pytest.raises(KeyError, match="empty"):
        t.popitem()


def test_popitem_gives_back_the_original_key() -> None:
    t = ferrets.Table()
    t[True] = "x"
    assert t.popitem() == (True, "x")


def test_update_forms() -> None:
    t = ferrets.Table()
    t.update({"a": 1})
    pairs: list[Any] = [("b", 2), ["c", 3]]
    t.update(pairs)
    t.update(d=4)
    t.update({"e": 5}, f=6)
    t.update()

    class KeysOnly:
        def keys(self) -> list[str]:
            return ["g"]

        def __getitem__(self, key: str) -> int:
            return 7

    t.update(KeysOnly())
    other = ferrets.Table()
    other[True] = "h"
    t.update(other)
    assert t == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, True: "h"}
    assert list(k for k in t if k == 1) == [True]


def test_update_many_items_releases_nothing_on_failure() -> None:
    t = ferrets.Table()
    items: list[tuple[Any, Any]] = [(i, i) for i in range(1000)]
    items.append(("bad", object()))
    with pytest.raises(TypeError):
        t.update(items)
    assert len(t) == 0
    t.update(items[:-1])
    assert len(t) == 1000 and t[999] == 999


def test_update_error_paths() -> None:
    t = ferrets.Table()
    with pytest.raises(ValueError, match="element #1 has length 3; 2 is required"):
        bad: list[Any] = [("a", 1), ("b", 2, 3)]
        t.update(bad)
    with pytest.raises(TypeError, match="element #0 to a sequence"):
        t.update([1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        t.update(5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not iterable"):
        t.update(None)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="at most 1 argument, got 2"):
        t.update({}, {})  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unhashable"):
        t.update([([1], 2)])
    assert len(t) == 0


def test_clear_and_len() -> None:
    t = ferrets.Table()
    t.update((i, i) for i in range(5000))
    assert len(t) == 5000
    t.clear()
    assert len(t) == 0 and not t
    t["again"] = 1
    assert t == {"again": 1}


def test_views_and_iteration() -> None:
    t = ferrets.Table()
    t.update({"a": 1, "b": 2})
    assert sorted(t) == ["a", "b"]
    keys: Any = {"a", "b"}
    assert t.keys() == keys
    assert t.keys() & {"a", "z"} == {"a"}
    assert "a" in t.keys() and "z" not in t.keys()
    assert sorted(t.values()) == [1, 2]
    assert 2 in t.values() and 3 not in t.values()
    items: Any = {("a", 1), ("b", 2)}
    assert t.items() == items
    assert ("a", 1) in t.items() and ("a", 2) not in t.items() and ("z", 1) not in t.items()
    assert len(t.keys()) == len(t.values()) == len(t.items()) == 2
    it = iter(t)
    assert iter(it) is it
    assert it.__length_hint__() == 2
    assert sorted(it) == ["a", "b"]
    assert dict(t) == {"a": 1, "b": 2}
    assert t.to_dict() == {"a": 1, "b": 2}


def test_iterating_while_writing_never_raises() -> None:
    t = ferrets.Table()
    t.update((i, i) for i in range(2000))
    for k in t:
        del t[k]
        t[k + 10_000] = k
    for k, v in t.items():
        t.pop(k)
    for v in t.values():
        t.clear()


def test_equality() -> None:
    t = ferrets.Table()
    t.update({"a": [1], 1: None})
    assert t == {"a": [1], 1: None}
    assert t == {"a": [1], True: None}
    assert not (t != {"a": [1], 1: None})
    assert t != {"a": [1]}
    assert t != {"a": [2], 1: None}
    u = ferrets.Table()
    u.update(t)
    assert t == u and t == t
    u["x"] = 0
    assert t != u
    assert t != [("a", [1]), (1, None)]
    assert t != 5

    class M(Mapping[str, int]):
        def __getitem__(self, k: str) -> int:
            return {"a": 1}[k]

        def __iter__(self) -> Any:
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    v = ferrets.Table()
    v["a"] = 1
    assert v == M()


def test_insert_new() -> None:
    t = ferrets.Table()
    assert t.insert_new("k", 1) is True
    assert t.insert_new("k", 2) is False
    assert t["k"] == 1
    with pytest.raises(TypeError):
        t.insert_new("j", object())
    assert "j" not in t


def test_incr() -> None:
    t = ferrets.Table()
    assert t.incr("c") == 1
    assert t.incr("c") == 2
    assert t.incr("c", 10) == 12
    assert t.incr("c", by=-20) == -8
    assert t.incr("d", default=100) == 101
    assert t.incr("e", 0, 5) == 5
    assert t["c"] == -8 and type(t["c"]) is int


def test_incr_beyond_64_bits() -> None:
    t = ferrets.Table()
    t["c"] = 2**63 - 1
    assert t.incr("c") == 2**63
    assert t.incr("c") == 2**63 + 1
    assert t.incr("c", -(2**64)) == 2**63 + 1 - 2**64
    assert t.incr("big", 2**100) == 2**100
    assert t.incr("big") == 2**100 + 1
    assert t.incr("other", default=-(2**100)) == 1 - 2**100
    assert t.incr("other", 2**100) == 1 and type(t["other"]) is int
    assert t.incr("neg", -(2**63), -1) == -(2**63) - 1


def test_incr_error_paths_change_nothing() -> None:
    t = ferrets.Table()
    t["s"] = "text"
    t[True] = 1.5
    with pytest.raises(TypeError, match="stored value is a 'str'"):
        t.incr("s")
    with pytest.raises(TypeError, match="stored value is a 'float'"):
        t.incr(1)
    t["b"] = 2**70
    t["x"] = 1
    with pytest.raises(TypeError, match="'by' must be an int, not 'float'"):
        t.incr("x", 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'by' must be an int, not 'bool'"):
        t.incr("x", True)
    with pytest.raises(TypeError, match="'default' must be an int, not 'str'"):
        t.incr("x", 1, "0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unhashable"):
        t.incr([1])
    t["bs"] = "s"
    with pytest.raises(TypeError, match="stored value is a 'str'"):
        t.incr("bs", 2**70)
    assert t == {"s": "text", True: 1.5, "b": 2**70, "x": 1, "bs": "s"}


def test_incr_keeps_the_original_key() -> None:
    t = ferrets.Table()
    t[True] = 1
    t.incr(1)
    t.incr(1.0, 2**80)
    assert list(t.items()) == [(True, 2 + 2**80)]


def test_memory_grows_with_content() -> None:
    t = ferrets.Table()
    empty = t.memory()
    assert empty > 0
    t.update((i, "x" * 100) for i in range(1000))
    assert t.memory() > empty + 100 * 1000
    t.clear()
    assert t.memory() < empty + 100 * 1000


def test_a_bulk_update_leaves_no_resize_half_done() -> None:
    # One partition, so the growth steps follow the count alone: a load of
    # 10,970 keys stops just after a resize started. Writers finish resizes
    # as they write and readers never do, so without `update` finishing it
    # the table kept both arrays until later writes (here: the overwrite
    # pass) copied the rest.
    for n in (10_970, 21_937):
        t = ferrets.Table(partitions=1)
        t.update((i, i) for i in range(n))
        after_update = t.memory()
        for i in range(n):
            del t[i]
            t[i] = i
        assert t.memory() == after_update, n
        assert len(t) == n and t[n - 1] == n - 1


def test_options_and_repr() -> None:
    t = ferrets.Table(partitions=1, capacity=100)
    t["a"] = 1
    assert repr(t) == "<ferrets.Table len=1>"
    assert t.name is None
    assert len(ferrets.Table(None, 3)) == 0
    for bad in [0, -1, 2**17]:
        with pytest.raises(ValueError, match="partitions"):
            ferrets.Table(partitions=bad)
    for bad in [-1, 2**40]:
        with pytest.raises(ValueError, match="capacity"):
            ferrets.Table(capacity=bad)
    with pytest.raises(TypeError):
        ferrets.Table(partitions="4")  # type: ignore[arg-type]


def test_unsupported_types_raise_type_error_and_change_nothing() -> None:
    t = ferrets.Table()
    t["k"] = "v"
    with pytest.raises(TypeError, match="'object'"):
        t["k"] = object()
    with pytest.raises(TypeError, match="'frozenset'"):
        t[frozenset()] = 1
    with pytest.raises(TypeError, match="'set'"):
        t["k"] = {1}
    with pytest.raises(TypeError, match="'set'"):
        t["k"] = [1, {"a": {2}}]
    with pytest.raises(TypeError, match="unhashable type: 'list'"):
        t[[1]] = 1
    with pytest.raises(TypeError, match="unhashable type: 'dict'"):
        t[(1, {})] = 1
    with pytest.raises(TypeError, match="unhashable"):
        t[[1]]
    with pytest.raises(TypeError, match="unhashable"):
        [1] in t  # noqa: B015
    with pytest.raises(TypeError, match="unhashable"):
        del t[[1]]
    with pytest.raises(TypeError, match="unhashable"):
        t.get([1])
    with pytest.raises(TypeError, match="unhashable"):
        t.pop([1], None)
    assert t == {"k": "v"}


def test_copy_is_an_independent_snapshot() -> None:
    t = ferrets.Table(name="copy-source")
    try:
        t.update({i: [i] for i in range(1000)})
        t[True] = "first key kept"
        c = t.copy()
        assert c == t and c.name is None
        assert [k for k in c if k == 1] == [True]
        c["new"] = 1
        del t[0]
        assert "new" not in t and 0 in c
        small = ferrets.Table()
        small["a"] = 1
        assert small.copy() == {"a": 1}
    finally:
        t.drop()


def test_pickle_and_copy_module_are_refused() -> None:
    import copy
    import pickle

    t = ferrets.Table()
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(t)
    with pytest.raises(TypeError, match="pickle"):
        copy.copy(t)


def test_version_comes_from_the_workspace_crate_version() -> None:
    import tomllib
    from pathlib import Path

    workspace = Path(__file__).resolve().parents[3] / "Cargo.toml"
    version = tomllib.loads(workspace.read_text())["workspace"]["package"]["version"]
    assert ferrets.__version__ == version


def test_dropping_a_large_table_frees_it_in_the_background() -> None:
    t = ferrets.Table()
    t.update((i, i) for i in range(70_000))
    it = iter(t)
    u = t.copy()
    del t  # the last handle of a large table: freed on a helper thread
    assert sum(1 for _ in it) == 70_000
    assert len(u) == 70_000 and u[69_999] == 69_999


# Values short enough to be rewritten in place (an int, a float, a str of up
# to 22 ASCII chars...) and long ones (stored in a new entry), in every order.
SIZES: list[Any] = [
    1, -(2**63), 2**63 - 1, 2**70, 2.5, float("inf"), None, True, False, "", "x" * 22, "x" * 23,
    "é" * 3, "😀", b"", b"b" * 21, b"b" * 40, (), (1, "a"), [1, [2]], {"k": (None,)}, "y" * 500,
]


def test_overwriting_between_short_and_long_values_round_trips() -> None:
    t = ferrets.Table()
    for before in SIZES:
        for after in SIZES:
            t["k"] = before
            t["k"] = after
            got = t["k"]
            assert got == after and type(got) is type(after), (before, after)
            assert t.get("k") == after and "k" in t
    assert len(t) == 1


def test_in_place_overwrites_keep_the_first_key_and_the_memory_count() -> None:
    t = ferrets.Table()
    t[True] = "short"
    t[1] = 0  # the first write through the read cache allocates its slots
    used = t.memory()
    for v in [2, 3.5, "abc", None]:
        t[1] = v
        assert t.memory() == used
    assert list(t.items()) == [(True, None)]


def test_incr_after_overwrites_and_pop_after_incr() -> None:
    t = ferrets.Table()
    t["c"] = "text"
    with pytest.raises(TypeError, match="stored value is a 'str'"):
        t.incr("c")
    assert t["c"] == "text"
    t["c"] = 5
    assert t.incr("c") == 6 and t.incr("c", -10) == -4
    t["c"] = 2**63 - 1
    assert t.incr("c") == 2**63
    t["c"] = 7
    assert t.incr("c") == 8
    assert t.pop("c") == 8 and "c" not in t
    assert t.incr("c") == 1, "a popped counter starts again from the default"


def test_fast_get_and_incr_hand_unusual_calls_to_the_full_signature() -> None:
    import inspect

    t = ferrets.Table()
    t["a"] = 1
    assert t.get("a", 0) == 1 and t.get("b", 0) == 0
    assert ferrets.Table.get(t, "a") == 1
    assert ferrets.Table.__getitem__(t, "a") == 1 and ferrets.Table.__contains__(t, "a")
    with pytest.raises(TypeError):
        t.get()  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        t.get("a", 1, 2)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        t.get("a", default=1)  # type: ignore[call-overload]
    assert t.incr("a") == 2 and t.incr("a", 3) == 5 and t.incr(key="a", by=2, default=0) == 7
    with pytest.raises(TypeError):
        t.incr()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        t.incr("a", 1, 0, 9)  # type: ignore[call-arg]
    assert str(inspect.signature(ferrets.Table.get)) == "(self, key, default=None, /)"
    assert str(inspect.signature(ferrets.Table.incr)) == "(self, /, key, by=1, default=0)"
    assert "default" in (ferrets.Table.get.__doc__ or "")
    with pytest.raises(TypeError, match="unhashable"):
        t.get([1])
    with pytest.raises(TypeError, match="cannot store"):
        t[object()] = 1
    with pytest.raises(TypeError, match="cannot store"):
        t["a"] = object()
    with pytest.raises(TypeError, match="unhashable"):
        [1] in t  # noqa: B015 - the lookup is the test
    assert t["a"] == 7


def test_fast_entry_points_release_references_at_once() -> None:
    import sys

    # Errors and unusual keys take pyo3's path from the direct entry points;
    # references they drop must be released then, not at pyo3's next call.
    t = ferrets.Table()
    t["x"] = "v"
    for k in [2**70 + 12345, "x" * 100, (1, "a"), 1.5, "x"]:
        # A first round warms the read cache, which keeps a reference to "x".
        assert (k in t) == (k == "x")
        t.get(k)
        before = sys.getrefcount(k)
        for _ in range(50):
            with pytest.raises(KeyError):
                t[k + k if k == "x" else k]  # absent
            assert (k in t) == (k == "x")
            t.get(k)
            t.get(k, None)
        with pytest.raises(TypeError):
            t.incr("x")
        assert sys.getrefcount(k) == before, k


def test_fast_set_get_and_incr_of_new_and_long_entries() -> None:
    t = ferrets.Table()
    t["n"] = 1  # inserted by the fast path
    t["s"] = "short"
    t["l"] = "l" * 100
    t[7] = None
    assert t.get("missing", 5) == 5 and t.get("missing") is None
    assert t["l"] == "l" * 100 and t.get("l") == "l" * 100
    assert t.incr("new") == 1 and t.incr("new") == 2
    t["l"] = 3  # a long value replaced by a short one...
    assert t.incr("l") == 4  # ...which is then added to in place
    assert t == {"n": 1, "s": "short", "l": 4, 7: None, "new": 2}


def test_iteration_walks_the_live_table_and_sees_stable_entries_once() -> None:
    t = ferrets.Table()
    t.update((i, i) for i in range(5000))
    it = iter(t)
    assert it.__length_hint__() == 5000
    seen: list[Any] = []
    deleted: set[Any] = set()
    added: set[Any] = set()
    for n, k in enumerate(it):
        seen.append(k)
        if n == 0:
            assert it.__length_hint__() == 4999
        if n % 10 == 0:
            # Delete entries (maybe ahead of the cursor), add others (which
            # the cursor may or may not reach).
            deleted.add(4999 - n)
            t.pop(4999 - n, None)
            added.add(f"new{n}")
            t[f"new{n}"] = n
    stable = set(range(5000)) - deleted
    assert len(seen) == len(set(seen)), "no entry twice"
    assert stable <= set(seen), "every entry present throughout"
    assert set(seen) <= stable | deleted | added
    items = list(t.items())
    assert len(list(t.values())) == len(items) == len(t) == 5000 - len(deleted & set(range(5000))) + len(added)
    assert dict(items) == t.to_dict()


def test_iteration_copies_a_batch_at_a_time_not_the_table() -> None:
    t = ferrets.Table()
    t.update((i, i) for i in range(5000))
    it = iter(t)
    next(it)
    t.clear()
    rest = list(it)  # at most what the cursor had already copied
    assert len(rest) < 1000
    assert len(rest) == len(set(rest))
