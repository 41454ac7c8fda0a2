//! Stopping a pool: drain (run what is queued, until a deadline) or abort
//! (complete what is queued as cancelled); join the workers; report stragglers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::job::Work;
use super::outcome::OutcomeKind;
use super::{Msg, PoolInner, Shared};

/// How long `Abort` (and `Drain` past its deadline) waits for running jobs
/// to notice cancellation before reporting their workers as stragglers.
pub const ABORT_GRACE: Duration = Duration::from_millis(500);

/// How to shut a pool down. Either way new submits are rejected with
/// `ShuttingDown` from the moment shutdown starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Run every queued job. Jobs still queued at `deadline` complete as
    /// `Shutdown` without running; jobs still running then see cancellation
    /// through their token and get [`ABORT_GRACE`] more to stop.
    Drain {
        /// When to stop waiting for the queue to empty.
        deadline: Instant,
    },
    /// Complete every queued job as `Cancelled` without running it, request
    /// cancellation of the running ones, and wait [`ABORT_GRACE`] for them.
    Abort,
}

/// A worker that had not exited when shutdown returned; it was detached
/// and exits once its job returns (the job's outcome is still delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Straggler {
    /// Index of the worker (its thread is named `{name}-{index}`).
    pub worker: usize,
    /// Id of the job it was running, if any.
    pub job: Option<u64>,
}

/// What a shutdown did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// The pool was already shut down (or another shutdown is in progress);
    /// this call did nothing else.
    pub already_shut_down: bool,
    /// Jobs that ended having run (ok, error or panicked) during shutdown.
    pub ran: u64,
    /// Jobs that ended as `Cancelled` during shutdown.
    pub cancelled: u64,
    /// Jobs that ended as `TimedOut` during shutdown.
    pub timed_out: u64,
    /// Queued jobs completed as `Shutdown` (drain deadline passed).
    pub shut_down: u64,
    /// Worker threads joined.
    pub joined: usize,
    /// Workers still busy when shutdown returned.
    pub stragglers: Vec<Straggler>,
    /// How long shutdown took.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// Every worker was joined and no queued job was abandoned.
    pub fn is_clean(&self) -> bool {
        self.stragglers.is_empty() && self.shut_down == 0
    }
}

fn totals(inner: &PoolInner) -> [u64; 4] {
    let c = &inner.shared.counters;
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    [l(&c.completed) + l(&c.failed) + l(&c.panicked), l(&c.cancelled), l(&c.timed_out), l(&c.shutdown)]
}

pub(crate) fn shutdown(inner: &PoolInner, mode: ShutdownMode) -> ShutdownReport {
    let start = Instant::now();
    let shared = &inner.shared;
    let before = totals(inner);
    shared.shutting_down.store(true, Ordering::SeqCst);
    let drain_deadline = match mode {
        ShutdownMode::Drain { deadline } => deadline,
        ShutdownMode::Abort => {
            shared.abort.store(true, Ordering::Release);
            shared.stop.store(true, Ordering::Release);
            start
        }
    };
    let _ = shared.drain_deadline.set(drain_deadline);
    let threads = std::mem::take(&mut *inner.threads.lock().unwrap_or_else(|e| e.into_inner()));
    if threads.is_empty() {
        return ShutdownReport { already_shut_down: true, elapsed: start.elapsed(), ..Default::default() };
    }
    shared.wait_for_submitters();
    // Stop messages queue up behind every job: a worker taking one exits.
    for _ in 0..threads.len() {
        if shared.tx.try_send(Msg::Stop).is_err() {
            break; // no room; idle workers notice the shutdown by polling
        }
    }
    shared.wake_all();
    let own = super::worker::current_worker().filter(|(pool, _)| *pool == shared.id).map(|(_, i)| i);
    let mut exited = vec![false; threads.len()];
    let mut remaining = threads.len() - usize::from(own.is_some());
    let mut wait = |until: Instant, remaining: &mut usize| {
        while *remaining > 0 {
            match inner.exited.recv_deadline(until) {
                Ok(i) if i < exited.len() && !exited[i] => {
                    exited[i] = true;
                    *remaining -= 1;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    };
    let first_wait = match mode {
        ShutdownMode::Drain { deadline } => deadline,
        ShutdownMode::Abort => start + ABORT_GRACE,
    };
    wait(first_wait, &mut remaining);
    if remaining > 0 {
        if let ShutdownMode::Drain { .. } = mode {
            // Deadline passed: running jobs are asked to stop.
            shared.stop.store(true, Ordering::Release);
            wait(Instant::now() + ABORT_GRACE, &mut remaining);
        }
    }
    if remaining > 0 {
        // Every live worker is stuck in a job: complete what is still queued here.
        let kind = if mode == ShutdownMode::Abort { OutcomeKind::Cancelled } else { OutcomeKind::Shutdown };
        let mut left = Vec::new();
        while let Ok(msg) = shared.rx.try_recv() {
            if let Msg::Job(work) = msg {
                left.push(work);
            }
        }
        if !left.is_empty() {
            complete_on_pool_thread(shared, left, kind);
        }
        for _ in 0..remaining {
            if shared.tx.try_send(Msg::Stop).is_err() {
                break;
            }
        }
        shared.wake_all();
    }
    let mut report = ShutdownReport::default();
    for (i, t) in threads.into_iter().enumerate() {
        if exited[i] {
            let _ = t.join();
            report.joined += 1;
        } else {
            let job = shared.current[i].load(Ordering::Relaxed);
            report.stragglers.push(super::Straggler { worker: i, job: (job != 0).then_some(job) });
        }
    }
    let after = totals(inner);
    report.ran = after[0] - before[0];
    report.cancelled = after[1] - before[1];
    report.timed_out = after[2] - before[2];
    report.shut_down = after[3] - before[3];
    report.elapsed = start.elapsed();
    report
}

/// Completes jobs taken off the queue by shutdown on a short-lived thread of
/// the pool's own, so completion callbacks never run on the caller's thread
/// (a BEAM scheduler, say); inline only if that thread cannot be started.
fn complete_on_pool_thread(shared: &Arc<Shared>, jobs: Vec<Box<dyn Work>>, kind: OutcomeKind) {
    let jobs = Arc::new(Mutex::new(jobs));
    let complete = {
        let (shared, jobs) = (shared.clone(), jobs.clone());
        move || {
            let left = std::mem::take(&mut *jobs.lock().unwrap_or_else(PoisonError::into_inner));
            for work in left {
                complete_unrun(&shared, work, kind);
            }
        }
    };
    let spawned = std::thread::Builder::new().name(format!("{}-shutdown", shared.name)).spawn(complete);
    match spawned {
        Ok(t) => {
            let _ = t.join();
        }
        Err(_) => {
            let left = std::mem::take(&mut *jobs.lock().unwrap_or_else(PoisonError::into_inner));
            for work in left {
                complete_unrun(shared, work, kind);
            }
        }
    }
}

/// Completes a job taken off the queue by shutdown, without running it.
fn complete_unrun(shared: &Shared, work: Box<dyn Work>, kind: OutcomeKind) {
    let kind = work.control().state.complete_unrun(kind);
    let d = work.skip(kind, &shared.counters);
    // A panicking callback is contained inside `skip`; this is the last line of defence.
    shared.account(&d);
}
