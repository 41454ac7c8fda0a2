"""ferrets.Table against dict, dict + Lock, cachetools and cachebox.

Run from the repository root after installing the package into .venv::

    .venv/bin/python -m pip install cachetools==8.* cachebox==6.*   # peers, benchmark only
    .venv/bin/python bindings/python/benchmarks/bench_table.py [--rounds N] [--quick]

Single-thread: get / set (overwrite) / in / incr on 1,000 str keys, each op
timed as thread CPU ns per op (so other load on the machine does not count;
the loop overhead is the same for everyone and included). Two threads: each
runs a 90% read / 10% write mix on shared keys; reported as process CPU ns and
wall-clock ns per op (both threads' ops counted). All cases run interleaved, round after round;
the medians are printed with the ratio to ferrets (>1: ferrets is faster).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import ferrets

try:
    import cachebox
    import cachetools
except ImportError:
    sys.exit("install the peers first: .venv/bin/python -m pip install cachetools==8.* cachebox==6.*")

N_KEYS = 1000
KEYS = [f"key:{i}" for i in range(N_KEYS)]
BIG = 1 << 30

# Each case is a loop body over `k` in KEYS, compiled once per subject.
OPS = {
    "get": {"plain": "m[k]", "locked": "with lock:\n        m[k]"},
    "set": {"plain": "m[k] = 1", "locked": "with lock:\n        m[k] = 1"},
    "in": {"plain": "k in m", "locked": "with lock:\n        k in m"},
    "incr": {
        "plain": "m[k] = m.get(k, 0) + 1",
        "locked": "with lock:\n        m[k] = m.get(k, 0) + 1",
        "ferrets": "m.incr(k)",
    },
}

# name -> (factory, style): "plain" is not thread-safe; "locked" adds a Lock.
SUBJECTS: dict[str, tuple[Callable[[], Any], str]] = {
    "ferrets.Table": (ferrets.Table, "plain"),
    "dict": (dict, "plain"),
    "dict+Lock": (dict, "locked"),
    "cachetools.LRUCache+Lock": (lambda: cachetools.LRUCache(maxsize=BIG), "locked"),
    "cachebox.LRUCache": (lambda: cachebox.LRUCache(maxsize=BIG), "plain"),
}
THREAD_SAFE = {"ferrets.Table", "dict+Lock", "cachetools.LRUCache+Lock", "cachebox.LRUCache"}


def compile_loop(body: str, reps: int) -> Callable[[Any, Any, list[str]], float]:
    src = (
        "def run(m, lock, keys):\n"
        "    t0 = clock()\n"
        f"    for _ in range({reps}):\n"
        "      for k in keys:\n"
        f"        {body.replace(chr(10), chr(10) + '  ')}\n"
        "    return (clock() - t0)\n"
    )
    ns: dict[str, Any] = {"clock": time.thread_time_ns}
    exec(src, ns)  # noqa: S102 - benchmark loops, generated from constants above
    return ns["run"]  # type: ignore[no-any-return]


def body_for(op: str, subject: str, style: str) -> str:
    bodies = OPS[op]
    if subject == "ferrets.Table" and "ferrets" in bodies:
        return bodies["ferrets"]
    if op == "incr" and subject == "cachebox.LRUCache":
        return bodies["locked"]  # read-modify-write needs a lock to be atomic
    return bodies[style]


def single_thread(rounds: int, reps: int) -> dict[tuple[str, str], list[float]]:
    results: dict[tuple[str, str], list[float]] = {}
    cases = []
    for op in OPS:
        for name, (factory, style) in SUBJECTS.items():
            m = factory()
            for k in KEYS:
                m[k] = 0
            cases.append((op, name, m, compile_loop(body_for(op, name, style), reps)))
    lock = threading.Lock()
    rng = random.Random(0)
    for _ in range(rounds):
        # A new order each round, so no case always runs right after another.
        rng.shuffle(cases)
        for op, name, m, run in cases:
            results.setdefault((op, name), []).append(run(m, lock, KEYS) / (reps * N_KEYS))
    return results


def two_threads(rounds: int, ops_per_thread: int) -> dict[str, list[float]]:
    def worker(m: Any, lock: Any, seed: int, barrier: threading.Barrier, locked: bool, native: bool) -> None:
        keys = KEYS[seed::2] + KEYS[: N_KEYS // 2]
        barrier.wait()
        i = 0
        for n in range(ops_per_thread):
            k = keys[i]
            i = i + 1 if i + 1 < len(keys) else 0
            if n % 10 == 0:
                if native:
                    m.incr(k)
                elif locked:
                    with lock:
                        m[k] = m.get(k, 0) + 1
                else:
                    m[k] = m.get(k, 0) + 1
            elif locked:
                with lock:
                    m.get(k)
            else:
                m.get(k)

    subjects = {"ferrets.Table": (ferrets.Table, False, True), "dict+Lock": (dict, True, False)}
    results: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, (factory, locked, native) in sorted(subjects.items(), reverse=r % 2 == 1):
            m = factory()
            for k in KEYS:
                m[k] = 0
            lock = threading.Lock()
            barrier = threading.Barrier(3)
            threads = [
                threading.Thread(target=worker, args=(m, lock, s, barrier, locked, native)) for s in range(2)
            ]
            for t in threads:
                t.start()
            barrier.wait()
            t0, c0 = time.perf_counter_ns(), time.process_time_ns()
            for t in threads:
                t.join()
            wall = (time.perf_counter_ns() - t0) / (2 * ops_per_thread)
            cpu = (time.process_time_ns() - c0) / (2 * ops_per_thread)
            results.setdefault(name, []).append(cpu)
            results.setdefault(name + " wall", []).append(wall)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    a = p.parse_args()
    reps, thread_ops = (5, 20_000) if a.quick else (40, 200_000)
    print(f"Python {sys.version.split()[0]}, ferrets {ferrets.__version__}, cachetools {cachetools.__version__}, "
          f"cachebox {cachebox.__version__}; medians of {a.rounds} interleaved rounds, ns/op")
    single = single_thread(a.rounds, reps)
    names = list(SUBJECTS)
    print("\n| op | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    worst_peer = float("inf")
    get_vs_dict = 0.0
    for op in OPS:
        ours = statistics.median(single[(op, "ferrets.Table")])
        cells = []
        for name in names:
            med = statistics.median(single[(op, name)])
            cells.append(f"{med:.0f}" if name == "ferrets.Table" else f"{med:.0f} ({med / ours:.2f}x)")
            if name in THREAD_SAFE and name != "ferrets.Table":
                worst_peer = min(worst_peer, med / ours)
            if name == "dict" and op == "get":
                get_vs_dict = ours / med
        print(f"| {op} | " + " | ".join(cells) + " |")
    threads = two_threads(a.rounds, thread_ops)
    ours = statistics.median(threads["ferrets.Table"])
    locked = statistics.median(threads["dict+Lock"])
    ours_wall = statistics.median(threads["ferrets.Table wall"])
    locked_wall = statistics.median(threads["dict+Lock wall"])
    print("\n| 2 threads, 90% get / 10% incr | ferrets.Table | dict+Lock |")
    print("|---|---:|---:|")
    print(f"| CPU ns/op | {ours:.0f} | {locked:.0f} ({locked / ours:.2f}x) |")
    print(f"| wall ns/op | {ours_wall:.0f} | {locked_wall:.0f} ({locked_wall / ours_wall:.2f}x) |")
    print(f"\n(x) = peer time / ferrets time. Slowest thread-safe peer ratio: {min(worst_peer, locked / ours):.2f}x; "
          f"ferrets get / dict get: {get_vs_dict:.2f}x")


if __name__ == "__main__":
    main()
