"""Table.save / Table.load: crash-safe snapshots in the format the BEAM binding uses."""

import os
from pathlib import Path

import pytest

import ferrets


def _filled() -> ferrets.Table:
    t = ferrets.Table()
    t[True] = "first key object is True"
    t["text"] = {"nested": [1, 2.5, None, (b"\x00", -(10**40))]}
    t[10**30] = float("-inf")
    for i in range(1000):
        t[("k", i)] = i * i
    return t


def test_round_trip_restores_every_entry_and_key_object(tmp_path: Path) -> None:
    src = _filled()
    path = tmp_path / "t.snap"
    assert src.save(path) == len(src)
    dst = ferrets.Table()
    assert dst.load(str(path)) == len(src)
    assert dst == src.to_dict()
    assert any(k is True for k in dst), "the first-inserted key object comes back"
    assert os.listdir(tmp_path) == ["t.snap"], "no temporary file is left behind"


def test_load_merges_like_update(tmp_path: Path) -> None:
    path = tmp_path / "t.snap"
    src = ferrets.Table()
    src.update({"a": 1, "b": 2})
    src.save(path)
    dst = ferrets.Table()
    dst.update({"b": "old", "c": 3})
    assert dst.load(path) == 2
    assert dst.to_dict() == {"a": 1, "b": 2, "c": 3}


def test_truncated_or_corrupt_files_raise_value_error_and_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.snap"
    _filled().save(path)
    good = path.read_bytes()
    dst = ferrets.Table()
    dst["keep"] = "me"
    cases = {
        "truncated": good[: len(good) // 2],
        "one byte short": good[:-1],
        "flipped byte": good[:100] + bytes([good[100] ^ 0xFF]) + good[101:],
        "not a snapshot": b"hello world, definitely not a snapshot file",
        "empty": b"",
    }
    for name, data in cases.items():
        path.write_bytes(data)
        with pytest.raises(ValueError, match="truncated|corrupt"):
            dst.load(path)
        assert dst.to_dict() == {"keep": "me"}, name


def test_io_errors_raise_os_error(tmp_path: Path) -> None:
    t = ferrets.Table()
    with pytest.raises(FileNotFoundError):
        t.load(tmp_path / "missing.snap")
    with pytest.raises(OSError):
        t.save(tmp_path / "no-such-dir" / "t.snap")
    with pytest.raises(TypeError):
        t.save(42)  # type: ignore[arg-type]
