//! Pool counters and fixed-size latency histograms (no unbounded memory).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use super::outcome::OutcomeKind;

/// Sub-buckets per power of two: 2^3 = 8, so a bucket spans at most 12.5 %.
const SUB_BITS: u32 = 3;
const SUBS: usize = 1 << SUB_BITS;
/// Enough buckets for every `u64` nanosecond value.
const BUCKETS: usize = 64 * SUBS;

/// A log-linear histogram of nanosecond durations: 512 atomic buckets
/// (4 KiB), recorded lock-free.
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    max: AtomicU64,
}

fn bucket_of(ns: u64) -> usize {
    if ns < SUBS as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // >= SUB_BITS
    let sub = (ns >> (exp - SUB_BITS)) as usize & (SUBS - 1);
    (exp - SUB_BITS + 1) as usize * SUBS + sub
}

/// The largest value that falls in bucket `i`.
fn bucket_upper(i: usize) -> u64 {
    if i < SUBS {
        return i as u64;
    }
    let exp = (i / SUBS) as u32 + SUB_BITS - 1;
    let sub = (i % SUBS) as u64;
    let shift = exp - SUB_BITS;
    let lower = (SUBS as u64 + sub) << shift;
    lower.saturating_add((1u64 << shift) - 1)
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Self { buckets: [const { AtomicU64::new(0) }; BUCKETS], max: AtomicU64::new(0) }
    }

    pub(crate) fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(ns)].fetch_add(1, Relaxed);
        self.max.fetch_max(ns, Relaxed);
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        let max = self.max.load(Relaxed);
        let pct = |q: f64| -> Duration {
            if count == 0 {
                return Duration::ZERO;
            }
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_nanos(bucket_upper(i).min(max));
                }
            }
            Duration::from_nanos(max)
        };
        LatencySummary {
            count,
            p50: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
            max: Duration::from_nanos(max),
        }
    }
}

/// Percentiles of a latency distribution (each within 12.5 % of the true value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample (exact).
    pub max: Duration,
}

/// Monotonic event counters, updated by submitters and workers.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) submitted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) shutdown: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) callback_panicked: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
}

impl Counters {
    pub(crate) fn count(&self, kind: OutcomeKind) {
        let c = match kind {
            OutcomeKind::Ok => &self.completed,
            OutcomeKind::Error => &self.failed,
            OutcomeKind::Panicked => &self.panicked,
            OutcomeKind::Cancelled => &self.cancelled,
            OutcomeKind::TimedOut => &self.timed_out,
            OutcomeKind::Shutdown => &self.shutdown,
        };
        c.fetch_add(1, Relaxed);
    }
}

/// A snapshot of a pool's state and counters (see `Pool::metrics`).
///
/// Every accepted job is counted exactly once in one of `completed`,
/// `failed`, `panicked`, `cancelled`, `timed_out`, `shutdown` once it has
/// ended, so `submitted == finished() + queue + in flight` at rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolMetrics {
    /// Worker threads the pool started.
    pub workers: usize,
    /// Queue capacity.
    pub queue_capacity: usize,
    /// Jobs waiting in the queue now.
    pub queue_depth: usize,
    /// Jobs running now.
    pub in_flight: usize,
    /// Jobs accepted by `submit`.
    pub submitted: u64,
    /// Submits refused (overloaded, shutting down, would deadlock).
    pub rejected: u64,
    /// Jobs that returned `Ok`.
    pub completed: u64,
    /// Jobs that returned `Err` (not because of cancellation or deadline).
    pub failed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs that ended as `Cancelled`.
    pub cancelled: u64,
    /// Jobs that ended as `TimedOut`.
    pub timed_out: u64,
    /// Jobs that ended as `Shutdown` (never ran: drain deadline passed).
    pub shutdown: u64,
    /// Results discarded because their handle was dropped before the job ended.
    pub dropped: u64,
    /// Completion callbacks that panicked (caught; the worker survived).
    pub callback_panicked: u64,
    /// Time from submit to a worker picking the job up.
    pub queue_wait: LatencySummary,
    /// Time jobs spent running (jobs that actually ran).
    pub run_time: LatencySummary,
}

impl PoolMetrics {
    /// Jobs that have ended, whatever the outcome.
    pub fn finished(&self) -> u64 {
        self.completed + self.failed + self.panicked + self.cancelled + self.timed_out + self.shutdown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_u64() {
        let mut last = 0;
        for ns in (0..10_000u64).chain([u64::MAX / 2, u64::MAX - 1, u64::MAX]) {
            let b = bucket_of(ns);
            assert!(b >= last && b < BUCKETS, "{ns} -> {b}");
            assert!(bucket_upper(b) >= ns, "{ns} above its bucket {b}");
            last = b;
        }
    }

    #[test]
    fn percentiles_are_close() {
        let h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        let p50 = s.p50.as_micros() as f64;
        assert!((500.0..=563.0).contains(&p50), "{s:?}");
        assert_eq!(s.max, Duration::from_micros(1000));
        assert!(s.p99 <= s.max);
    }
}
