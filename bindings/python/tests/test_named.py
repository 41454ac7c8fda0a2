"""Named tables: create, open, drop, and their lifetime."""

import gc

import pytest

import ferrets


def test_open_returns_the_same_table() -> None:
    t = ferrets.Table(name="named-a")
    try:
        assert t.name == "named-a"
        assert repr(t) == "<ferrets.Table name='named-a' len=0>"
        u = ferrets.open("named-a")
        u["k"] = 1
        assert t["k"] == 1 and t == u and u.name == "named-a"
        assert "named-a" in ferrets.names()
    finally:
        t.drop()


def test_creating_an_existing_name_raises() -> None:
    t = ferrets.Table(name="named-b")
    try:
        with pytest.raises(ValueError, match="already exists"):
            ferrets.Table(name="named-b")
    finally:
        ferrets.drop("named-b")


def test_open_or_drop_a_missing_name_raises_key_error() -> None:
    with pytest.raises(KeyError, match="no table named"):
        ferrets.open("named-missing")
    with pytest.raises(KeyError, match="no table named"):
        ferrets.drop("named-missing")


def test_named_table_outlives_its_handles_until_dropped() -> None:
    t = ferrets.Table(name="named-c")
    t["kept"] = [1, 2]
    del t
    gc.collect()
    assert ferrets.open("named-c")["kept"] == [1, 2]
    ferrets.drop("named-c")
    with pytest.raises(KeyError):
        ferrets.open("named-c")
    assert "named-c" not in ferrets.names()


def test_handles_keep_working_after_drop_and_the_name_is_reusable() -> None:
    t = ferrets.Table(name="named-d")
    t["x"] = 1
    t.drop()
    t.drop()  # idempotent
    assert t["x"] == 1
    t["y"] = 2
    fresh = ferrets.Table(name="named-d")
    try:
        assert len(fresh) == 0
        t.drop()  # does not unregister the new table of the same name
        assert ferrets.open("named-d") == fresh
    finally:
        fresh.drop()


def test_anonymous_drop_is_a_no_op() -> None:
    t = ferrets.Table()
    t["a"] = 1
    t.drop()
    assert t["a"] == 1
