//! The offload pool at the Rust level: raw throughput of tiny jobs and the
//! round-trip latency of one job, against a thread spawned per job.
//!
//! ```text
//! cargo bench -p ferrets-core --bench pool
//! FERRETS_BENCH_QUICK=1 cargo bench -p ferrets-core --bench pool   # smoke run
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrets_core::pool::{Outcome, Pool, PoolConfig, ShutdownMode, SubmitOptions};

fn quick() -> bool {
    std::env::var_os("FERRETS_BENCH_QUICK").is_some()
}

fn pct(v: &mut [Duration], q: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

fn pool(workers: usize, queue: usize) -> Pool {
    Pool::new(PoolConfig { workers, queue, name: "bench".into() }).expect("pool")
}

/// Submits `n` no-op jobs with completion callbacks (waiting for room when
/// the queue is full) and waits for the last callback.
fn throughput(workers: usize, queue: usize, n: u64) -> f64 {
    let p = pool(workers, queue);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    for i in 0..n {
        let d = done.clone();
        p.submit_with_blocking(
            SubmitOptions::default(),
            move |_| Ok::<_, String>(i),
            move |o: Outcome<u64>| {
                d.fetch_add(u64::from(o.is_ok()), Ordering::Relaxed);
            },
            Duration::from_secs(60),
        )
        .expect("accepted");
    }
    while done.load(Ordering::Relaxed) < n {
        std::thread::yield_now();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + Duration::from_secs(10) });
    rate
}

/// Submit one job and wait for its outcome through the handle, `n` times.
fn round_trip(n: usize) -> (Duration, Duration) {
    let p = pool(2, 64);
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let mut h = p.submit(SubmitOptions::default(), move |_| Ok::<_, String>(i)).expect("accepted");
        assert_eq!(h.wait(None), Some(Outcome::Ok(i)));
        v.push(t.elapsed());
    }
    p.shutdown(ShutdownMode::Abort);
    (pct(&mut v, 0.5), pct(&mut v, 0.99))
}

/// Submit one job whose callback flags its end while the submitter spins on
/// the flag, `n` times: the pool's own hop (submit -> worker -> callback)
/// without the submitter's wake-up, as a busy BEAM scheduler sees it.
/// `gap` is idle time between jobs (a caller doing other work).
fn round_trip_callback(n: usize, gap: Duration) -> (Duration, Duration) {
    let p = pool(2, 64);
    let done = Arc::new(AtomicU64::new(0));
    let mut v = Vec::with_capacity(n);
    for i in 0..n as u64 {
        if !gap.is_zero() {
            let until = Instant::now() + gap;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        let t = Instant::now();
        let d = done.clone();
        p.submit_with(
            SubmitOptions::default(),
            move |_| Ok::<_, String>(i),
            move |o: Outcome<u64>| {
                if let Outcome::Ok(i) = o {
                    d.store(i + 1, Ordering::Release);
                }
            },
        )
        .expect("accepted");
        while done.load(Ordering::Acquire) != i + 1 {
            std::hint::spin_loop();
        }
        v.push(t.elapsed());
    }
    p.shutdown(ShutdownMode::Abort);
    (pct(&mut v, 0.5), pct(&mut v, 0.99))
}

/// The same with a thread spawned and joined per job.
fn spawn_round_trip(n: usize) -> (Duration, Duration) {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let r = std::thread::spawn(move || i).join().expect("joined");
        assert_eq!(r, i);
        v.push(t.elapsed());
    }
    (pct(&mut v, 0.5), pct(&mut v, 0.99))
}

fn main() {
    let (n, rt) = if quick() { (100_000, 2_000) } else { (2_000_000, 50_000) };
    println!("## pool throughput: {n} no-op jobs with callbacks");
    for (workers, queue) in [(1, 1024), (2, 1024), (2, 65_536)] {
        let best = (0..3).map(|_| throughput(workers, queue, n)).fold(0.0, f64::max);
        println!("workers={workers} queue={queue:>6}: {best:>12.0} jobs/s (best of 3)");
    }
    println!("## round trip: submit + wait for one job, {rt} times");
    let (p50, p99) = round_trip(rt);
    println!("ferrets pool         p50 {p50:>10?}  p99 {p99:>10?}");
    for gap_us in [0, 10, 20, 200] {
        let (p50, p99) = round_trip_callback(rt, Duration::from_micros(gap_us));
        println!("pool, callback {gap_us:>3}µs gap p50 {p50:>10?}  p99 {p99:>10?}");
    }
    let (p50, p99) = spawn_round_trip(rt);
    println!("thread spawn + join  p50 {p50:>10?}  p99 {p99:>10?}");
}
