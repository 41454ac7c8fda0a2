"""Typical use of ferrets, type-checked with ``mypy --strict`` by test_typing.py."""

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import ferrets


def count_words(words: list[str]) -> ferrets.Table:
    """Count words in a shared table."""
    t = ferrets.Table(partitions=8, capacity=len(words))
    for w in words:
        n: int = t.incr(w)
        assert n >= 1
    return t


def as_mapping(m: Mapping[Any, Any]) -> int:
    """A table is a Mapping."""
    return len(m)


def as_mutable(m: MutableMapping[Any, Any]) -> None:
    """A table is a MutableMapping."""
    m["k"] = 1


def main() -> None:
    """Exercise the whole API with its declared types."""
    t = count_words(["a", "b", "a"])
    as_mapping(t)
    as_mutable(t)
    t[(1, "x")] = [1, {"nested": b"bytes"}]
    value: Any = t[(1, "x")]
    maybe: Any | None = t.get("missing")
    other: Any = t.get("missing", 0)
    popped: Any = t.pop("k")
    default: Any = t.pop("gone", None)
    key, val = t.popitem() if t else (None, None)
    stored: Any = t.setdefault("s", 1)
    t.update({"u": 1})
    t.update([("v", 2)], w=3)
    t.update(x=4)
    new: bool = t.insert_new("y", 5)
    mem: int = t.memory()
    keys: list[Any] = list(t.keys())
    values: list[Any] = list(t.values())
    items: list[tuple[Any, Any]] = list(t.items())
    it: Iterator[Any] = iter(t)
    snapshot: dict[Any, Any] = t.to_dict()
    equal: bool = t == snapshot
    named = ferrets.Table(name="typing-usage")
    same: ferrets.Table = ferrets.open("typing-usage")
    name: str | None = same.name
    listed: list[str] = ferrets.names()
    named.drop()
    version: str = ferrets.__version__
    t.clear()
    print(value, maybe, other, popped, default, key, val, stored, new, mem, keys, values, items, it)
    print(equal, name, listed, version)


if __name__ == "__main__":
    main()
