"""Reads and writes that do not repeat: random keys over a big table.

The read cache of ``ferrets.Table`` pays when keys repeat; here they mostly
do not (200,000 random picks among N keys), so this shows what a cache miss
costs. Run from the repository root::

    .venv/bin/python bindings/python/benchmarks/bench_cold.py [--distinct] [--zipf S] [N ...]   # default: 100000 1000000

Prints, per table size, the median thread CPU ns per op over 5 passes.
Every key holds the same int object by default (a mapping that stores
objects hands that one hot object back on every read); ``--distinct`` gives
each key its own int, so reading one back touches that object's memory too.
``--zipf S`` picks keys with Zipf-skewed odds instead of uniformly: the key
of rank r (from 1) with odds proportional to 1 / r**S (S = 1: the classic
skew of caches and word counts, a few hot keys and a long cold tail). The
ranks are dealt to the keys by a seeded shuffle, so the hot keys are spread
over the key space (and the table) rather than being the first ones
inserted.
"""

from __future__ import annotations

import bisect
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import ferrets

try:
    import cachebox
except ImportError:
    sys.exit("install the peer first: .venv/bin/python -m pip install cachebox==6.*")

PICKS = 200_000
OPS = {"get": "m[k]", "set": "m[k] = 7", "in": "k in m"}


def compile_loop(body: str) -> Callable[[Any, list[str]], int]:
    src = f"def run(m, keys):\n    t0 = clock()\n    for k in keys:\n        {body}\n    return clock() - t0\n"
    ns: dict[str, Any] = {"clock": time.thread_time_ns}
    exec(src, ns)  # noqa: S102 - benchmark loops, generated from constants above
    return ns["run"]  # type: ignore[no-any-return]


def picks_of(keys: list[str], zipf: float | None, rng: random.Random) -> list[str]:
    """`PICKS` keys drawn uniformly, or Zipf-skewed with exponent `zipf`."""
    n = len(keys)
    if zipf is None:
        return [keys[rng.randrange(n)] for _ in range(PICKS)]
    ranked = keys[:]
    rng.shuffle(ranked)  # rank r's key: ranked[r - 1]
    cumulative = list(itertools.accumulate(1.0 / (r + 1) ** zipf for r in range(n)))
    total = cumulative[-1]
    return [ranked[min(bisect.bisect(cumulative, rng.random() * total), n - 1)] for _ in range(PICKS)]


def main() -> None:
    args = sys.argv[1:]
    distinct = "--distinct" in args
    zipf = None
    if "--zipf" in args:
        i = args.index("--zipf")
        if i + 1 == len(args):
            sys.exit("--zipf needs an exponent, e.g. --zipf 1")
        zipf = float(args[i + 1])
        del args[i : i + 2]
    sizes = [int(a) for a in args if a != "--distinct"] or [100_000, 1_000_000]
    subjects: dict[str, Callable[[], Any]] = {
        "ferrets.Table": ferrets.Table,
        "cachebox.LRUCache": lambda: cachebox.LRUCache(maxsize=1 << 30),
        "dict": dict,
    }
    how = "uniform" if zipf is None else f"Zipf s={zipf:g}"
    print(f"{PICKS:,} {how} picks, {'distinct' if distinct else 'one shared'} int value(s)\n")
    print("| keys | op | " + " | ".join(subjects) + " |")
    print("|---:|---|" + "---:|" * len(subjects))
    for n in sizes:
        keys = [f"key:{i}" for i in range(n)]
        picks = picks_of(keys, zipf, random.Random(1))
        tables = {}
        for name, factory in subjects.items():
            m = factory()
            for i, k in enumerate(keys):
                # Above 256, so ints are not CPython's shared small ones.
                m[k] = 1000 + i if distinct else 12345
            tables[name] = m
        for op, body in OPS.items():
            run = compile_loop(body)
            cells = []
            for name, m in tables.items():
                cells.append(f"{statistics.median(run(m, picks) / PICKS for _ in range(5)):.0f}")
            print(f"| {n:,} | {op} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
