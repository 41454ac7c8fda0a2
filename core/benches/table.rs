//! Side-by-side benchmark of the ferrets tables against dashmap, papaya,
//! scc::HashMap and `RwLock<HashMap>`, at 1 and 2 threads. `ferrets` is the
//! inline [`ferrets_core::WordTable`]; `ferrets (boxed)` is the generic
//! [`ferrets_core::Table`], shown for comparison and left out of the ratio.
//!
//! ```text
//! cargo bench -p ferrets-core --bench table                 # default: a few minutes on 2 cores
//! FERRETS_BENCH_QUICK=1 cargo bench -p ferrets-core --bench table   # smoke run, seconds
//! ```
//! Knobs: `FERRETS_BENCH_ROUNDS` (default 3; medians are reported),
//! `FERRETS_BENCH_BITS` (log2 of the big key space, default 24),
//! `FERRETS_BENCH_OPS` (operations per thread per run, default 2M),
//! `FERRETS_BENCH_ONLY` (comma-separated workload numbers),
//! `FERRETS_BENCH_WHO` (comma-separated contenders, e.g. `ferrets,scc` or
//! `ferrets,ferrets (boxed)`).
//!
//! Every contender hashes with foldhash and stores `u64 -> u64`. Contenders
//! are interleaved (the order rotates every round) so that noise from other
//! processes hits them alike. Bytes per entry come from a counting allocator
//! (per-thread counters, so it adds no shared write).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Barrier, RwLock};
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;

// ---------------------------------------------------------------------------
// Allocation counting.

struct Counting;

thread_local! {
    static ALLOCATED: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the thread-local counter has a
// const initializer and no destructor, so touching it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCATED.with(|c| c.set(c.get() + l.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCATED.with(|c| c.set(c.get() + l.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ALLOCATED.with(|c| c.set(c.get() - l.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCATED.with(|c| c.set(c.get() + new as isize - l.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated() -> isize {
    ALLOCATED.with(Cell::get)
}

// ---------------------------------------------------------------------------
// Contenders.

trait Map: Send + Sync + Sized + 'static {
    const NAME: &'static str;
    fn with_capacity(cap: usize) -> Self;
    fn get(&self, k: u64) -> bool;
    fn insert(&self, k: u64, v: u64);
    fn remove(&self, k: u64);
    /// Increments the value of an existing key.
    fn update(&self, k: u64);
    /// Counter add with default 0.
    fn add(&self, k: u64);
    fn len(&self) -> usize;
}

type Words = ferrets_core::WordTable<u64, u64, RandomState>;

impl Map for Words {
    const NAME: &'static str = "ferrets";
    fn with_capacity(cap: usize) -> Self {
        ferrets_core::WordTable::with_options_and_hasher(
            ferrets_core::TableOptions { partitions: None, capacity: cap },
            RandomState::default(),
        )
    }
    fn get(&self, k: u64) -> bool {
        ferrets_core::WordTable::get(self, k).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        ferrets_core::WordTable::insert(self, k, v);
    }
    fn remove(&self, k: u64) {
        ferrets_core::WordTable::remove(self, k);
    }
    fn update(&self, k: u64) {
        self.compute(k, |old| match old {
            Some(v) => ferrets_core::Compute::Insert(v + 1, ()),
            None => ferrets_core::Compute::Keep(()),
        });
    }
    fn add(&self, k: u64) {
        self.counter_add(k, 1, 0);
    }
    fn len(&self) -> usize {
        ferrets_core::WordTable::len(self)
    }
}

type Ferrets = ferrets_core::Table<u64, i64, RandomState>;

impl Map for Ferrets {
    const NAME: &'static str = "ferrets (boxed)";
    fn with_capacity(cap: usize) -> Self {
        ferrets_core::Table::with_options_and_hasher(
            ferrets_core::TableOptions { partitions: None, capacity: cap },
            RandomState::default(),
        )
    }
    fn get(&self, k: u64) -> bool {
        self.get_with(&k, |v| *v).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        ferrets_core::Table::insert(self, k, v as i64);
    }
    fn remove(&self, k: u64) {
        ferrets_core::Table::remove(self, &k);
    }
    fn update(&self, k: u64) {
        self.compute(k, |old| match old {
            Some(v) => ferrets_core::Compute::Insert(v + 1, ()),
            None => ferrets_core::Compute::Keep(()),
        });
    }
    fn add(&self, k: u64) {
        self.counter_add(k, 1, 0).unwrap();
    }
    fn len(&self) -> usize {
        ferrets_core::Table::len(self)
    }
}

type Dash = dashmap::DashMap<u64, u64, RandomState>;

impl Map for Dash {
    const NAME: &'static str = "dashmap";
    fn with_capacity(cap: usize) -> Self {
        dashmap::DashMap::with_capacity_and_hasher(cap, RandomState::default())
    }
    fn get(&self, k: u64) -> bool {
        dashmap::DashMap::get(self, &k).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        dashmap::DashMap::insert(self, k, v);
    }
    fn remove(&self, k: u64) {
        dashmap::DashMap::remove(self, &k);
    }
    fn update(&self, k: u64) {
        if let Some(mut v) = self.get_mut(&k) {
            *v += 1;
        }
    }
    fn add(&self, k: u64) {
        *self.entry(k).or_insert(0) += 1;
    }
    fn len(&self) -> usize {
        dashmap::DashMap::len(self)
    }
}

type Papaya = papaya::HashMap<u64, u64, RandomState>;

impl Map for Papaya {
    const NAME: &'static str = "papaya";
    fn with_capacity(cap: usize) -> Self {
        papaya::HashMap::with_capacity_and_hasher(cap, RandomState::default())
    }
    fn get(&self, k: u64) -> bool {
        self.pin().get(&k).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        self.pin().insert(k, v);
    }
    fn remove(&self, k: u64) {
        self.pin().remove(&k);
    }
    fn update(&self, k: u64) {
        self.pin().update(k, |v| v + 1);
    }
    fn add(&self, k: u64) {
        self.pin().update_or_insert(k, |v| v + 1, 1);
    }
    fn len(&self) -> usize {
        papaya::HashMap::len(self)
    }
}

type Scc = scc::HashMap<u64, u64, RandomState>;

impl Map for Scc {
    const NAME: &'static str = "scc";
    fn with_capacity(cap: usize) -> Self {
        scc::HashMap::with_capacity_and_hasher(cap, RandomState::default())
    }
    fn get(&self, k: u64) -> bool {
        self.read_sync(&k, |_, v| *v).is_some()
    }
    fn insert(&self, k: u64, v: u64) {
        self.upsert_sync(k, v);
    }
    fn remove(&self, k: u64) {
        self.remove_sync(&k);
    }
    fn update(&self, k: u64) {
        self.update_sync(&k, |_, v| *v += 1);
    }
    fn add(&self, k: u64) {
        self.entry_sync(k).and_modify(|v| *v += 1).or_insert(1);
    }
    fn len(&self) -> usize {
        scc::HashMap::len(self)
    }
}

type Locked = RwLock<HashMap<u64, u64, RandomState>>;

impl Map for Locked {
    const NAME: &'static str = "RwLock<HashMap>";
    fn with_capacity(cap: usize) -> Self {
        RwLock::new(HashMap::with_capacity_and_hasher(cap, RandomState::default()))
    }
    fn get(&self, k: u64) -> bool {
        self.read().unwrap().contains_key(&k)
    }
    fn insert(&self, k: u64, v: u64) {
        self.write().unwrap().insert(k, v);
    }
    fn remove(&self, k: u64) {
        self.write().unwrap().remove(&k);
    }
    fn update(&self, k: u64) {
        if let Some(v) = self.write().unwrap().get_mut(&k) {
            *v += 1;
        }
    }
    fn add(&self, k: u64) {
        *self.write().unwrap().entry(k).or_insert(0) += 1;
    }
    fn len(&self) -> usize {
        self.read().unwrap().len()
    }
}

// ---------------------------------------------------------------------------
// Workloads.

const GET: u64 = 0;
const INSERT: u64 = 1;
const REMOVE: u64 = 2;
const UPDATE: u64 = 3;
const ADD: u64 = 4;
const OP_SHIFT: u32 = 60;

/// Key `i` of a key space: scrambled so no map sees sequential keys.
fn key(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & ((1 << OP_SHIFT) - 1)
}

/// A stream of (op, key index) for one thread: `mix` is cumulative percent
/// thresholds for get / insert / remove / update.
fn stream(seed: u64, n: usize, keys: u64, mix: [u8; 4]) -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let p = rng.u8(0..100);
            let op = (0..4).find(|&i| p < mix[i]).unwrap_or(0) as u64;
            op << OP_SHIFT | key(rng.u64(0..keys))
        })
        .collect()
}

/// Zipf(s = 1) over `keys` keys, as counter adds.
fn zipf_stream(seed: u64, n: usize, keys: u64) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(keys as usize);
    let mut acc = 0.0;
    for i in 1..=keys {
        acc += 1.0 / i as f64;
        cdf.push(acc);
    }
    // Key words by rank, so the hot loop is a table lookup.
    let words: Vec<u64> = (0..keys).map(|i| ADD << OP_SHIFT | key(i)).collect();
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let x = rng.f64() * acc;
            words[cdf.partition_point(|&c| c < x).min(keys as usize - 1)]
        })
        .collect()
}

#[inline]
fn apply<M: Map>(m: &M, word: u64) {
    let k = word & ((1 << OP_SHIFT) - 1);
    match word >> OP_SHIFT {
        GET => {
            std::hint::black_box(m.get(k));
        }
        INSERT => m.insert(k, k),
        REMOVE => m.remove(k),
        UPDATE => m.update(k),
        _ => m.add(k),
    }
}

/// Runs one stream per thread; returns Mop/s over the slowest thread.
fn run<M: Map>(m: &M, streams: &[Vec<u64>]) -> f64 {
    let barrier = Barrier::new(streams.len());
    let slowest = std::thread::scope(|s| {
        let handles: Vec<_> = streams
            .iter()
            .map(|ops| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for &w in ops {
                        apply(m, w);
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).max().unwrap()
    });
    let total: usize = streams.iter().map(Vec::len).sum();
    total as f64 / slowest.as_secs_f64() / 1e6
}

/// Inserts keys `0..n` of the key space using `threads` threads.
fn prefill<M: Map>(m: &M, n: u64, threads: u64) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut i = t;
                while i < n {
                    m.insert(key(i), i);
                    i += threads;
                }
            });
        }
    });
}

struct Grow {
    mops: f64,
    max: Duration,
    p999: Duration,
    bytes_per_entry: f64,
}

/// Inserts `n` fresh keys from empty, timing every insert.
fn grow<M: Map>(n: u64, threads: u64) -> Grow {
    flush_garbage();
    let before = allocated();
    let m = M::with_capacity(0);
    let barrier = Barrier::new(threads as usize);
    let results: Vec<(Duration, Vec<u32>, isize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (m, barrier) = (&m, &barrier);
                s.spawn(move || {
                    let mut lat = Vec::with_capacity((n / threads + 1) as usize);
                    let a0 = allocated();
                    barrier.wait();
                    let start = Instant::now();
                    let mut i = t;
                    while i < n {
                        let t0 = Instant::now();
                        m.insert(key(i), i);
                        lat.push(t0.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                        i += threads;
                    }
                    let took = start.elapsed();
                    let a1 = allocated();
                    let own = (lat.capacity() * 4) as isize;
                    (took, lat, a1 - a0 - own)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let held = allocated() - before + results.iter().map(|r| r.2).sum::<isize>();
    assert_eq!(m.len() as u64, n, "{} lost entries", M::NAME);
    let slowest = results.iter().map(|r| r.0).max().unwrap();
    let mut lat: Vec<u32> = results.into_iter().flat_map(|r| r.1).collect();
    let max = *lat.iter().max().unwrap();
    let idx = (lat.len() as f64 * 0.999) as usize;
    let idx = idx.min(lat.len() - 1);
    let p999 = *lat.select_nth_unstable(idx).1;
    drop(m);
    Grow {
        mops: n as f64 / slowest.as_secs_f64() / 1e6,
        max: Duration::from_nanos(max as u64),
        p999: Duration::from_nanos(p999 as u64),
        bytes_per_entry: held as f64 / n as f64,
    }
}

fn flush_garbage() {
    for _ in 0..256 {
        ferrets_core::flush_retired();
    }
}

// ---------------------------------------------------------------------------
// Driver.

struct Config {
    rounds: usize,
    bits: u32,
    ops: usize,
    only: Vec<u32>,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn config() -> Config {
    let quick = std::env::var("FERRETS_BENCH_QUICK").is_ok_and(|v| v != "0");
    let only = std::env::var("FERRETS_BENCH_ONLY")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|_| vec![1, 2, 3, 4, 5]);
    Config {
        rounds: env("FERRETS_BENCH_ROUNDS", if quick { 1 } else { 3 }),
        bits: env("FERRETS_BENCH_BITS", if quick { 18 } else { 24 }),
        ops: env("FERRETS_BENCH_OPS", if quick { 200_000 } else { 2_000_000 }),
        only,
    }
}

/// Median of several rounds' samples per (row, contender).
#[derive(Default)]
struct Samples(HashMap<(String, &'static str), Vec<f64>>);

impl Samples {
    fn add(&mut self, row: &str, who: &'static str, x: f64) {
        self.0.entry((row.to_string(), who)).or_default().push(x);
    }
    fn median(&self, row: &str, who: &str) -> Option<f64> {
        let v = self.0.iter().find(|((r, w), _)| r == row && *w == who)?.1;
        let mut v = v.clone();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }
}

/// `ferrets` is the inline `WordTable`; the boxed `Table` runs as an extra
/// column and, like `ferrets`, is not a peer in the ratio.
const NAMES: [&str; 6] = ["ferrets", "dashmap", "papaya", "scc", "RwLock<HashMap>", "ferrets (boxed)"];
/// Columns `1..PEERS` are the peers the ratio compares against.
const PEERS: usize = 5;

/// Whether `FERRETS_BENCH_WHO` (comma-separated contender names; default all) includes `name`.
fn wanted(name: &str) -> bool {
    std::env::var("FERRETS_BENCH_WHO").map_or(true, |who| who.split(',').any(|w| w.trim() == name))
}

/// Runs `f::<M>()` for every contender, starting at a different one each round.
macro_rules! each {
    ($round:expr, $f:ident ( $($arg:expr),* )) => {{
        for i in 0..NAMES.len() {
            let which = ($round + i) % NAMES.len();
            if !wanted(NAMES[which]) {
                continue;
            }
            match which {
                0 => $f::<Words>($($arg),*),
                1 => $f::<Dash>($($arg),*),
                2 => $f::<Papaya>($($arg),*),
                3 => $f::<Scc>($($arg),*),
                4 => $f::<Locked>($($arg),*),
                _ => $f::<Ferrets>($($arg),*),
            }
        }
    }};
}

fn mix_rows<M: Map>(s: &mut Samples, name: &str, cap: usize, fill: u64, streams: &[Vec<Vec<u64>>; 2]) {
    let m = M::with_capacity(cap);
    prefill(&m, fill, 2);
    for (threads, st) in [1usize, 2].iter().zip(streams) {
        debug_assert_eq!(st.len(), *threads);
        let mops = run(&m, st);
        s.add(&format!("{name} | {threads}"), M::NAME, mops);
    }
    drop(m);
    flush_garbage();
}

fn grow_rows<M: Map>(s: &mut Samples, n: u64) {
    for threads in [1u64, 2] {
        let g = grow::<M>(n, threads);
        s.add(&format!("4. grow Mop/s | {threads}"), M::NAME, g.mops);
        s.add(&format!("4. grow p99.9 µs | {threads}"), M::NAME, g.p999.as_secs_f64() * 1e6);
        s.add(&format!("4. grow max ms | {threads}"), M::NAME, g.max.as_secs_f64() * 1e3);
        if threads == 2 {
            s.add("4. bytes/entry after grow | 2", M::NAME, g.bytes_per_entry);
        }
    }
    flush_garbage();
}

fn main() {
    let c = config();
    let big = 1u64 << c.bits;
    let small = 1u64 << 16;
    let ops = c.ops;
    eprintln!(
        "rounds {} | big key space 2^{} | {} ops per thread | {} CPUs",
        c.rounds,
        c.bits,
        ops,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let two = |seed: u64, keys: u64, mix: [u8; 4]| {
        [
            vec![stream(seed, ops, keys, mix)],
            vec![stream(seed + 1, ops, keys, mix), stream(seed + 2, ops, keys, mix)],
        ]
    };
    // get / insert / remove / update cumulative thresholds.
    let read_heavy = [98, 99, 100, 100];
    let exchange = [10, 50, 90, 100];
    let on = |w: u32| c.only.contains(&w);
    let none = || [Vec::new(), Vec::new()];
    let w1 = if on(1) { two(1, small, read_heavy) } else { none() };
    let w2 = if on(2) { two(11, big, read_heavy) } else { none() };
    let w3 = if on(3) { two(21, small, exchange) } else { none() };
    let w5 = if on(5) {
        [vec![zipf_stream(31, ops, small)], vec![zipf_stream(32, ops, small), zipf_stream(33, ops, small)]]
    } else {
        none()
    };
    let mut s = Samples::default();
    let mut rows: Vec<String> = Vec::new();
    let mut row = |r: &str| {
        if !rows.iter().any(|x| x == r) {
            rows.push(r.to_string());
        }
    };
    for name in ["1. read-heavy 98/1/1, 2^16 keys 75% full", "2. read-heavy 98/1/1, big presized 75% full"] {
        for t in [1, 2] {
            row(&format!("{name} | {t}"));
        }
    }
    for t in [1, 2] {
        row(&format!("3. exchange 10/40/40/10, 2^16 keys | {t}"));
    }
    for m in ["4. grow Mop/s", "4. grow p99.9 µs", "4. grow max ms"] {
        for t in [1, 2] {
            row(&format!("{m} | {t}"));
        }
    }
    row("4. bytes/entry after grow | 2");
    for t in [1, 2] {
        row(&format!("5. counters, Zipf(1) over 2^16 keys | {t}"));
    }
    let started = Instant::now();
    for round in 0..c.rounds {
        eprintln!("round {} ({:.0?} so far)", round + 1, started.elapsed());
        if c.only.contains(&1) {
            each!(round, mix_rows(&mut s, "1. read-heavy 98/1/1, 2^16 keys 75% full", 0, small * 3 / 4, &w1));
        }
        if c.only.contains(&2) {
            each!(
                round,
                mix_rows(
                    &mut s,
                    "2. read-heavy 98/1/1, big presized 75% full",
                    big as usize,
                    big * 3 / 4,
                    &w2
                )
            );
        }
        if c.only.contains(&3) {
            each!(round, mix_rows(&mut s, "3. exchange 10/40/40/10, 2^16 keys", 0, small / 2, &w3));
        }
        if c.only.contains(&4) {
            each!(round, grow_rows(&mut s, big));
        }
        if c.only.contains(&5) {
            each!(round, mix_rows(&mut s, "5. counters, Zipf(1) over 2^16 keys", 0, 0, &w5));
        }
    }
    println!();
    println!("| workload | threads | {} | ferrets / best peer |", NAMES.join(" | "));
    println!("|---|---|{}---|", "---|".repeat(NAMES.len()));
    for r in &rows {
        let vals: Vec<Option<f64>> = NAMES.iter().map(|n| s.median(r, n)).collect();
        if vals.iter().all(Option::is_none) {
            continue;
        }
        let (name, threads) = r.split_once(" | ").unwrap();
        // Throughput: higher is better; latency and bytes: lower is better.
        let lower_better = name.contains("µs") || name.contains("ms") || name.contains("bytes");
        let peers = vals[1..PEERS].iter().flatten().copied();
        let best = if lower_better { peers.fold(f64::MAX, f64::min) } else { peers.fold(0.0, f64::max) };
        let ratio = vals[0].map(|f| if lower_better { best / f } else { f / best });
        let cells: Vec<String> = vals.iter().map(|v| v.map_or("-".into(), |x| format!("{x:.2}"))).collect();
        println!(
            "| {name} | {threads} | {} | {} |",
            cells.join(" | "),
            ratio.map_or("-".into(), |x| format!("{x:.2}"))
        );
    }
    println!();
    println!("(Mop/s unless noted; medians of {} rounds; ratio > 1 means ferrets is better,", c.rounds);
    println!(" for latency and bytes it is best-peer / ferrets.) Total {:.0?}.", started.elapsed());
    let _ = RandomState::default().hash_one(0u8);
}
