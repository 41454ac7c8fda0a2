//! How a job ends, why a submit is refused, and what a cancel achieved.

use std::fmt;

/// How an accepted job ended. Every accepted job ends exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The job ran and returned `Ok`.
    Ok(T),
    /// The job ran and returned `Err` with this message.
    Error(String),
    /// The job panicked; the panic message. The worker survived.
    Panicked(String),
    /// Cancelled: before it started, or it stopped early (returned `Err`
    /// after its token reported cancellation), or the pool was aborted.
    Cancelled,
    /// Its deadline passed: in the queue (it never ran) or while running
    /// (it returned `Err` after its token reported the deadline).
    TimedOut,
    /// Still queued when a draining shutdown reached its deadline; never ran.
    Shutdown,
}

/// The kind of an [`Outcome`], without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// [`Outcome::Ok`].
    Ok,
    /// [`Outcome::Error`].
    Error,
    /// [`Outcome::Panicked`].
    Panicked,
    /// [`Outcome::Cancelled`].
    Cancelled,
    /// [`Outcome::TimedOut`].
    TimedOut,
    /// [`Outcome::Shutdown`].
    Shutdown,
}

impl<T> Outcome<T> {
    /// The kind of this outcome.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Self::Ok(_) => OutcomeKind::Ok,
            Self::Error(_) => OutcomeKind::Error,
            Self::Panicked(_) => OutcomeKind::Panicked,
            Self::Cancelled => OutcomeKind::Cancelled,
            Self::TimedOut => OutcomeKind::TimedOut,
            Self::Shutdown => OutcomeKind::Shutdown,
        }
    }

    /// True for [`Outcome::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }

    /// The value of an `Ok` outcome.
    pub fn ok(self) -> Option<T> {
        match self {
            Self::Ok(v) => Some(v),
            _ => None,
        }
    }

    /// Applies `f` to the value of an `Ok` outcome.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Ok(v) => Outcome::Ok(f(v)),
            Self::Error(e) => Outcome::Error(e),
            Self::Panicked(e) => Outcome::Panicked(e),
            Self::Cancelled => Outcome::Cancelled,
            Self::TimedOut => Outcome::TimedOut,
            Self::Shutdown => Outcome::Shutdown,
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Panicked => "panicked",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed out",
            Self::Shutdown => "shut down before it ran",
        })
    }
}

/// Why `submit` refused a job. A refused job is dropped unrun and its
/// completion callback (if any) is never called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejected {
    /// The queue is full.
    Overloaded,
    /// The pool is shutting down or has shut down.
    ShuttingDown,
    /// A blocking submit was attempted from a pool worker thread, where
    /// waiting for queue room could deadlock the pool.
    WouldDeadlock,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Overloaded => "the pool is overloaded: its queue is full",
            Self::ShuttingDown => "the pool is shutting down",
            Self::WouldDeadlock => {
                "a blocking submit from a pool worker thread could deadlock the pool; use submit instead"
            }
        })
    }
}

impl std::error::Error for Rejected {}

/// What a cancel request achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelResult {
    /// The job had not started: it never will, and ends as `Cancelled`.
    NotStarted,
    /// The job is running: cancellation was requested through its token;
    /// it ends as `Cancelled` only if it stops early.
    Running,
    /// The job had already finished (or was already cancelled); nothing changed.
    AlreadyFinished,
}
