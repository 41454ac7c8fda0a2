//! A job's state word: the atomic transitions that decide which outcome a
//! job takes (completion, cancel, deadline expiry in the queue, shutdown
//! completing it unrun), and that it takes exactly one.
//!
//! Everything that races on a job goes through [`JobState`]; the rest of the
//! pool only acts on what these functions decide. Its atomics come from
//! `crate::primitive`, so under `--cfg loom` they are loom's and
//! `core/tests/loom_pool.rs` model-checks this very code (the module is public,
//! hidden, only under `cfg(loom)`).

use super::outcome::{CancelResult, OutcomeKind};
use crate::primitive::{AtomicBool, AtomicU8, Ordering};

/// Waiting in the queue; anyone may claim it.
const QUEUED: u8 = 0;
/// A worker claimed it and is running it.
const RUNNING: u8 = 1;
/// A worker (or shutdown) finished it: ran it or completed it unrun.
const FINISHED: u8 = 2;
/// Claimed by `cancel` before it started; a worker completes it as `Cancelled`.
const CANCELLED: u8 = 3;
/// Claimed by a waiting handle once its deadline passed in the queue; a
/// worker completes it as `TimedOut`.
const EXPIRED: u8 = 4;

/// What the party that took a job off the queue does with it ([`JobState::start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Run it (the state is now running; call [`JobState::finish`] after).
    Run,
    /// Complete it unrun with this outcome.
    Skip(OutcomeKind),
    /// Someone already started or finished it: do nothing (cannot happen,
    /// only the one party holding the queue item starts it).
    Taken,
}

/// The shared state word and cancel flag of one job.
pub struct JobState {
    state: AtomicU8,
    cancel: AtomicBool,
}

impl Default for JobState {
    fn default() -> Self {
        Self::new()
    }
}

impl JobState {
    /// A queued job, not cancelled.
    pub fn new() -> Self {
        Self { state: AtomicU8::new(QUEUED), cancel: AtomicBool::new(false) }
    }

    /// Moves a queued job to `to`; returns the state found on failure.
    fn claim(&self, to: u8) -> Result<(), u8> {
        self.state.compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire).map(|_| ())
    }

    /// A worker took the job off the queue: it runs it, unless `skip` says
    /// it should complete unrun (abort, drain deadline, own deadline) or a
    /// canceller or an expired wait claimed it first.
    pub fn start(&self, skip: Option<OutcomeKind>) -> Start {
        match self.claim(if skip.is_some() { FINISHED } else { RUNNING }) {
            Ok(()) => skip.map_or(Start::Run, Start::Skip),
            Err(CANCELLED) => Start::Skip(OutcomeKind::Cancelled),
            Err(EXPIRED) => Start::Skip(OutcomeKind::TimedOut),
            Err(_) => Start::Taken,
        }
    }

    /// Shutdown took the job off the queue and completes it unrun: with
    /// `kind` unless an expired wait claimed it first (`TimedOut`), else `Cancelled`.
    pub fn complete_unrun(&self, kind: OutcomeKind) -> OutcomeKind {
        match self.claim(FINISHED) {
            Ok(()) => kind,
            Err(EXPIRED) => OutcomeKind::TimedOut,
            Err(_) => OutcomeKind::Cancelled,
        }
    }

    /// The job that was running returned.
    pub fn finish(&self) {
        self.state.store(FINISHED, Ordering::Release);
    }

    /// Cancels the job: claims it if still queued (`NotStarted`: it will
    /// complete as `Cancelled` and never run), raises the cancel flag its
    /// token reports if running (`Running`), else `AlreadyFinished`.
    pub fn cancel(&self) -> CancelResult {
        match self.claim(CANCELLED) {
            Ok(()) => CancelResult::NotStarted,
            Err(RUNNING) => {
                self.cancel.store(true, Ordering::Relaxed);
                CancelResult::Running
            }
            Err(_) => CancelResult::AlreadyFinished,
        }
    }

    /// A waiting handle saw the job's deadline pass: true if it claimed the
    /// still-queued job, which then ends as `TimedOut` without running.
    pub fn expire(&self) -> bool {
        self.claim(EXPIRED).is_ok()
    }

    /// The job still waits in the queue, unclaimed.
    pub fn is_queued(&self) -> bool {
        self.state.load(Ordering::Acquire) == QUEUED
    }

    /// `cancel` found the job running (what its token reports).
    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}
