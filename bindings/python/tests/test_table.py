"""Basic behaviour of ferrets.Table."""

from collections.abc import MutableMapping

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


def test_missing_key_raises_key_error() -> None:
    t = ferrets.Table()
    with pytest.raises(KeyError):
        t["nope"]
    with pytest.raises(KeyError):
        del t["nope"]


def test_values_round_trip_with_their_type() -> None:
    t = ferrets.Table()
    for i, v in enumerate([None, True, False, 0, -7, 2.5, float("inf"), "é", b"\x00\xff"]):
        t[i] = v
        got = t[i]
        assert got == v and type(got) is type(v)


def test_equal_keys_collide_like_dict() -> None:
    t = ferrets.Table()
    t[1] = "one"
    assert t[True] == "one"
    assert t[1.0] == "one"
    assert len(t) == 1


def test_unsupported_types_raise_type_error_and_change_nothing() -> None:
    t = ferrets.Table()
    t["k"] = "v"
    with pytest.raises(TypeError, match="object"):
        t["k"] = object()
    with pytest.raises(TypeError, match="set"):
        t[frozenset()] = 1  # type: ignore[index]
    assert t["k"] == "v"
    assert len(t) == 1


def test_is_a_mutable_mapping() -> None:
    assert isinstance(ferrets.Table(), MutableMapping)
    assert isinstance(ferrets.__version__, str)
