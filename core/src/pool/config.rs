//! Pool and submission settings, and the error `Pool::new` can return.

use std::fmt;
use std::time::{Duration, Instant};

/// The most worker threads a pool may have.
pub const MAX_WORKERS: usize = 4096;
/// The largest queue capacity a pool may have (the queue is allocated up front).
pub const MAX_QUEUE: usize = 1 << 22;

/// How a [`Pool`](super::Pool) is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Number of worker threads (at least 1, at most [`MAX_WORKERS`]).
    pub workers: usize,
    /// Capacity of the job queue (at least 1, at most [`MAX_QUEUE`]); a
    /// submit that finds it full is rejected with `Overloaded`.
    pub queue: usize,
    /// Name of the pool; worker threads are named `{name}-{index}`.
    pub name: String,
}

impl Default for PoolConfig {
    /// One worker per available core, a queue of 1024, named `ferrets-pool`.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Self { workers, queue: 1024, name: "ferrets-pool".to_string() }
    }
}

impl PoolConfig {
    pub(crate) fn validate(&self) -> Result<(), PoolError> {
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(PoolError::InvalidConfig(format!(
                "workers must be between 1 and {MAX_WORKERS}, got {}",
                self.workers
            )));
        }
        if self.queue == 0 || self.queue > MAX_QUEUE {
            return Err(PoolError::InvalidConfig(format!(
                "queue must be between 1 and {MAX_QUEUE}, got {}",
                self.queue
            )));
        }
        if self.name.contains('\0') {
            return Err(PoolError::InvalidConfig("name must not contain a NUL byte".to_string()));
        }
        Ok(())
    }
}

/// Per-job settings for `submit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Absolute deadline. A job still queued at its deadline completes as
    /// `TimedOut` without running; a running job sees it through its
    /// [`CancelToken`](super::CancelToken). `None`: no deadline.
    pub deadline: Option<Instant>,
}

impl SubmitOptions {
    /// Options with a deadline `timeout` from now (no deadline if that
    /// overflows the clock).
    pub fn timeout(timeout: Duration) -> Self {
        Self { deadline: Instant::now().checked_add(timeout) }
    }
}

/// Why a pool could not be created.
#[derive(Debug)]
pub enum PoolError {
    /// The configuration is out of range (the message says which field).
    InvalidConfig(String),
    /// The operating system refused to start a worker thread.
    Spawn(std::io::Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(msg) => write!(f, "invalid pool configuration: {msg}"),
            Self::Spawn(e) => write!(f, "could not start a pool worker thread: {e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn(e) => Some(e),
            Self::InvalidConfig(_) => None,
        }
    }
}
