"""ferrets.Pool vs concurrent.futures.ThreadPoolExecutor.

    python bindings/python/benchmarks/bench_pool.py              # everything
    python bindings/python/benchmarks/bench_pool.py throughput   # or: flood, overload

- throughput: tiny jobs (``pow(i, 2)``), submit N then wait for all; jobs/s.
- flood: 1M submits while every worker is blocked; RSS growth (each pool runs
  in a fresh subprocess). ferrets stays flat at its queue bound and counts the
  rejections; ThreadPoolExecutor queues everything.
- overload: open-loop arrivals at 50 %, 110 %, 150 % of measured capacity
  (jobs sleep 2 ms, releasing the GIL); latency from the *scheduled* arrival
  to completion (p50/p99 of accepted jobs) and, for ferrets, the share
  rejected and the time a rejected submit took.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import ferrets

WORKERS = 2


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- throughput -------------------------------------------------------------


def throughput(n: int = 200_000, rounds: int = 3) -> None:
    print(f"## throughput: {n} tiny jobs, {WORKERS} workers (best of {rounds})")
    results: dict[str, float] = {}
    for name in ("ThreadPoolExecutor", "ferrets.Pool"):
        best = 0.0
        for _ in range(rounds):
            if name == "ferrets.Pool":
                pool: Any = ferrets.Pool(workers=WORKERS, queue=n)
            else:
                pool = cf.ThreadPoolExecutor(max_workers=WORKERS)
            t0 = time.perf_counter()
            futs = [pool.submit(pow, i, 2) for i in range(n)]
            for f in futs:
                f.result()
            dt = time.perf_counter() - t0
            pool.shutdown()
            best = max(best, n / dt)
        results[name] = best
        print(f"{name:>20}: {best:>10,.0f} jobs/s")
    print(f"{'ratio':>20}: {results['ferrets.Pool'] / results['ThreadPoolExecutor']:.2f}x")


# --- flood ------------------------------------------------------------------

FLOOD_CHILD = r"""
import concurrent.futures as cf, os, sys, threading, time
import ferrets
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
kind, n = sys.argv[1], int(sys.argv[2])
gate = threading.Event()
pool = ferrets.Pool(workers=2, queue=1024) if kind == "ferrets" else cf.ThreadPoolExecutor(max_workers=2)
for _ in range(2):
    pool.submit(gate.wait)
time.sleep(0.1)
before = rss()
accepted = rejected = 0
t0 = time.perf_counter()
keep = []
for i in range(n):
    try:
        keep.append(pool.submit(pow, i, 2))
        accepted += 1
    except ferrets.Overloaded:
        rejected += 1
dt = time.perf_counter() - t0
after = rss()
gate.set()
pool.shutdown(wait=True)
print(f"{before:.1f} {after:.1f} {accepted} {rejected} {dt:.3f}")
"""


def flood(n: int = 1_000_000) -> None:
    print(f"## flood: {n:,} submits while both workers are blocked (fresh process each)")
    for kind, label in (("tpe", "ThreadPoolExecutor"), ("ferrets", "ferrets.Pool(queue=1024)")):
        out = subprocess.run(
            [sys.executable, "-c", FLOOD_CHILD, kind, str(n)], capture_output=True, text=True, check=True
        ).stdout.split()
        before, after, acc, rej, dt = float(out[0]), float(out[1]), int(out[2]), int(out[3]), float(out[4])
        print(
            f"{label:>26}: RSS {before:7.1f} -> {after:7.1f} MiB (+{after - before:7.1f}), "
            f"accepted {acc:>9,}, rejected {rej:>9,}, {n / dt:>10,.0f} submits/s"
        )


# --- overload ---------------------------------------------------------------

SERVICE = 0.002  # seconds per job (time.sleep releases the GIL)


def measure_capacity(rounds: int = 3) -> float:
    """Best of `rounds` closed-loop runs (nominal: WORKERS / SERVICE)."""
    best = 0.0
    with ferrets.Pool(workers=WORKERS, queue=10_000) as pool:
        for _ in range(rounds):
            n = 1000
            t0 = time.perf_counter()
            futs = [pool.submit(time.sleep, SERVICE) for _ in range(n)]
            for f in futs:
                f.result()
            best = max(best, n / (time.perf_counter() - t0))
    return best


def open_loop(make: Callable[[], Any], rate: float, duration: float) -> dict[str, Any]:
    pool = make()
    lat: list[float] = []
    lock = threading.Lock()
    rejects: list[float] = []
    accepted = 0
    n = int(rate * duration)
    start = time.perf_counter() + 0.05
    futs = []
    for i in range(n):
        sched = start + i / rate
        now = time.perf_counter()
        if sched > now:
            time.sleep(sched - now)

        def done(_f: cf.Future[Any], sched: float = sched) -> None:
            t = time.perf_counter()
            with lock:
                lat.append(t - sched)

        t0 = time.perf_counter()
        try:
            f = pool.submit(time.sleep, SERVICE)
        except ferrets.Overloaded:
            rejects.append(time.perf_counter() - t0)
            continue
        accepted += 1
        f.add_done_callback(done)
        futs.append(f)
    for f in futs:
        f.result()
    pool.shutdown()
    return {"n": n, "accepted": accepted, "lat": lat, "rejects": rejects}


def overload(duration: float = 3.0) -> None:
    cap = measure_capacity()
    print(f"## overload: open loop, jobs sleep {SERVICE * 1000:.0f} ms, {WORKERS} workers, capacity ~{cap:,.0f}/s")
    print(f"{'load':>5} {'pool':>26} {'accepted':>9} {'p50 ms':>9} {'p99 ms':>9} {'reject p50 us':>14} {'reject p99 us':>14}")
    for load in (0.5, 1.1, 1.5):
        rate = cap * load
        for label, make in (
            ("ThreadPoolExecutor", lambda: cf.ThreadPoolExecutor(max_workers=WORKERS)),
            ("ferrets.Pool(queue=64)", lambda: ferrets.Pool(workers=WORKERS, queue=64)),
        ):
            r = open_loop(make, rate, duration)
            acc = r["accepted"] / r["n"] * 100
            rj = r["rejects"]
            rj50 = f"{pct(rj, 0.5) * 1e6:14.1f}" if rj else f"{'-':>14}"
            rj99 = f"{pct(rj, 0.99) * 1e6:14.1f}" if rj else f"{'-':>14}"
            print(
                f"{load * 100:4.0f}% {label:>26} {acc:8.1f}% {pct(r['lat'], 0.5) * 1e3:9.1f} "
                f"{pct(r['lat'], 0.99) * 1e3:9.1f} {rj50} {rj99}"
            )


if __name__ == "__main__":
    which = sys.argv[1:] or ["throughput", "flood", "overload"]
    print(f"python {sys.version.split()[0]}, ferrets {ferrets.__version__}, {os.cpu_count()} cpus")
    for w in which:
        {"throughput": throughput, "flood": flood, "overload": overload}[w]()
        print()
