//! The worker loop: take a job, decide whether it may still run, run it
//! under `catch_unwind`, deliver and count its outcome.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};

use super::job::{Work, CANCELLED, EXPIRED, FINISHED, RUNNING};
use super::outcome::OutcomeKind;
use super::token::CancelToken;
use super::{Msg, Shared};

/// How often an idle worker wakes to notice a shutdown it was not told
/// about with a stop message (a safety net: stop messages are the fast path).
const IDLE_POLL: Duration = Duration::from_millis(50);

thread_local! {
    /// `(pool id, worker index)` on a pool worker thread; pool ids start at 1.
    static WORKER: Cell<(u64, usize)> = const { Cell::new((0, 0)) };
}

/// The pool id and worker index if the current thread is a pool worker.
pub(crate) fn current_worker() -> Option<(u64, usize)> {
    let (pool, index) = WORKER.with(Cell::get);
    (pool != 0).then_some((pool, index))
}

/// Tells the pool a worker exited, even if it unwinds.
struct ExitSignal(Sender<usize>, usize);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

pub(crate) fn run(shared: Arc<Shared>, index: usize, exited: Sender<usize>) {
    WORKER.with(|w| w.set((shared.id, index)));
    let _exit = ExitSignal(exited, index);
    loop {
        let msg = match shared.rx.recv_timeout(IDLE_POLL) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                if shared.may_exit_idle() {
                    break;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Msg::Stop => break,
            Msg::Job(work) => {
                // A job or callback panic is caught inside; this is the last line of defence.
                let _ = catch_unwind(AssertUnwindSafe(|| process(&shared, index, work)));
            }
        }
    }
}

/// Runs or completes one job taken from the queue.
pub(crate) fn process(shared: &Shared, index: usize, work: Box<dyn Work>) {
    let ctl = work.control().clone();
    let popped = Instant::now();
    shared.queue_wait.record(popped.saturating_duration_since(ctl.enqueued));
    let skip = if shared.abort.load(Ordering::Acquire) {
        Some(OutcomeKind::Cancelled)
    } else if shared.drain_deadline.get().is_some_and(|d| popped >= *d) {
        Some(OutcomeKind::Shutdown)
    } else if ctl.deadline.is_some_and(|d| popped >= d) {
        Some(OutcomeKind::TimedOut)
    } else {
        None
    };
    let claimed = ctl.claim(if skip.is_some() { FINISHED } else { RUNNING });
    let skip = match claimed {
        Ok(()) => skip,
        Err(CANCELLED) => Some(OutcomeKind::Cancelled),
        Err(EXPIRED) => Some(OutcomeKind::TimedOut),
        // Cannot happen (only a worker claims RUNNING/FINISHED, once); never run twice.
        Err(_) => return,
    };
    let delivery = match skip {
        Some(kind) => work.skip(kind, &shared.counters),
        None => {
            let c = &shared.counters;
            c.in_flight.fetch_add(1, Ordering::Relaxed);
            shared.current[index].store(ctl.id, Ordering::Relaxed);
            let token = CancelToken::new(ctl, shared.stop.clone());
            let d = work.run(&token, c);
            shared.run_time.record(popped.elapsed());
            shared.current[index].store(0, Ordering::Relaxed);
            c.in_flight.fetch_sub(1, Ordering::Relaxed);
            d
        }
    };
    shared.account(&delivery);
}
