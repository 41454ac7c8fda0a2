//! The cooperative cancellation token a running job polls.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::job::Control;

/// Why a running job should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interrupted {
    /// The job was cancelled (or the pool is aborting).
    Cancelled,
    /// The job's deadline passed.
    DeadlineExceeded,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cancelled => "the job was cancelled",
            Self::DeadlineExceeded => "the job's deadline passed",
        })
    }
}

impl std::error::Error for Interrupted {}

impl From<Interrupted> for String {
    /// Lets a job write `token.check()?` in a closure returning `Result<T, String>`.
    fn from(i: Interrupted) -> String {
        i.to_string()
    }
}

const NOT_OBSERVED: u8 = 0;
const OBSERVED_CANCEL: u8 = 1;
const OBSERVED_DEADLINE: u8 = 2;

/// Handed to a running job: it tells the job whether it should stop.
///
/// Cancellation after start is cooperative: a job that sees
/// [`is_cancelled`](Self::is_cancelled) (or an `Err` from
/// [`check`](Self::check)) and then returns `Err` ends as `Cancelled` or
/// `TimedOut` instead of `Error`.
pub struct CancelToken {
    ctl: Arc<Control>,
    pool_stop: Arc<AtomicBool>,
    observed: AtomicU8,
}

impl CancelToken {
    pub(crate) fn new(ctl: Arc<Control>, pool_stop: Arc<AtomicBool>) -> Self {
        Self { ctl, pool_stop, observed: AtomicU8::new(NOT_OBSERVED) }
    }

    fn reason(&self) -> Option<Interrupted> {
        if self.ctl.state.cancel_requested() || self.pool_stop.load(Ordering::Relaxed) {
            Some(Interrupted::Cancelled)
        } else if self.ctl.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Interrupted::DeadlineExceeded)
        } else {
            None
        }
    }

    fn observe(&self) -> Option<Interrupted> {
        let r = self.reason();
        match r {
            Some(Interrupted::Cancelled) => self.observed.store(OBSERVED_CANCEL, Ordering::Relaxed),
            Some(Interrupted::DeadlineExceeded) => self.observed.store(OBSERVED_DEADLINE, Ordering::Relaxed),
            None => {}
        }
        r
    }

    /// True once the job was cancelled, the pool is aborting, or the deadline passed.
    pub fn is_cancelled(&self) -> bool {
        self.observe().is_some()
    }

    /// `Err` once the job should stop, saying why; use with `?`.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.observe() {
            Some(i) => Err(i),
            None => Ok(()),
        }
    }

    /// The job's absolute deadline, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.ctl.deadline
    }

    /// Time left before the deadline (zero once it passed); `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.ctl.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The id of the running job (the same as its handle's `id()`).
    pub fn job_id(&self) -> u64 {
        self.ctl.id
    }

    /// What the job saw last, if it saw an interruption.
    pub(crate) fn observed(&self) -> Option<Interrupted> {
        match self.observed.load(Ordering::Relaxed) {
            OBSERVED_CANCEL => Some(Interrupted::Cancelled),
            OBSERVED_DEADLINE => Some(Interrupted::DeadlineExceeded),
            _ => None,
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("job_id", &self.ctl.id)
            .field("deadline", &self.ctl.deadline)
            .finish_non_exhaustive()
    }
}
