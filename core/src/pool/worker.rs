//! The worker loop: take a job, decide whether it may still run, run it
//! under `catch_unwind`, deliver and count its outcome.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TryRecvError};
use crossbeam_utils::Backoff;

use super::job::Work;
use super::outcome::OutcomeKind;
use super::state::Start;
use super::token::CancelToken;
use super::{Msg, Shared};

/// How often an idle worker wakes to notice a shutdown it was not told
/// about with a stop message (a safety net: stop messages are the fast path).
const IDLE_POLL: Duration = Duration::from_millis(50);

/// How long a worker that just finished a job (or was woken for one) keeps
/// looking at the queue before it parks. A job submitted within this window
/// is taken without a thread wake-up (a futex call for the submitter and a
/// reschedule of the worker, 10-20 µs on a loaded VM), which is what a caller
/// submitting one job after another sees. Bounded: an idle worker spins at
/// most this long after its last job, then parks (0 % CPU when idle). Kept
/// short: on an oversubscribed machine (2 cores, BEAM schedulers plus
/// workers) a 50 µs window cost ~10 % of throughput with many jobs in flight.
/// `FERRETS_POOL_SPIN_US` (read when a pool starts) overrides it; `0` parks
/// right after the short spin-then-yield backoff, as before spinning existed.
pub(crate) const SPIN: Duration = Duration::from_micros(20);

/// The spin window for a new pool: [`SPIN`] unless `FERRETS_POOL_SPIN_US` says otherwise.
pub(crate) fn spin_window() -> Duration {
    std::env::var("FERRETS_POOL_SPIN_US")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(SPIN, |us| Duration::from_micros(us.min(10_000)))
}

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
    let _ = shared.parkers[index].thread.set(std::thread::current());
    let mut spin = true;
    while let Some(msg) = next_msg(&shared, index, &mut spin) {
        match msg {
            Msg::Stop => break,
            Msg::Job(work) => {
                // More queued behind this one and a worker parked: make sure one is on it.
                if shared.sleeping.load(Ordering::Relaxed) != 0 && !shared.rx.is_empty() {
                    shared.notify();
                }
                // A job or callback panic is caught inside; this is the last line of defence.
                let _ = catch_unwind(AssertUnwindSafe(|| process(&shared, index, work)));
                spin = true;
            }
        }
    }
}

/// The next message for worker `index`, or `None` when it should exit.
/// Spins for up to the pool's spin window when `spin` (after a job, or woken for one),
/// then parks until a submit wakes it or [`IDLE_POLL`] passes.
fn next_msg(shared: &Shared, index: usize, spin: &mut bool) -> Option<Msg> {
    let me = &shared.parkers[index];
    loop {
        let got = if *spin { spin_recv(shared) } else { shared.rx.try_recv() };
        match got {
            Ok(msg) => return Some(msg),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        if shared.may_exit_idle() {
            return None;
        }
        // Announce the sleep, then take a last look (pairs with `Shared::notify`).
        me.parked.store(true, Ordering::SeqCst);
        shared.sleeping.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let got = shared.rx.try_recv();
        if matches!(got, Err(TryRecvError::Empty)) {
            std::thread::park_timeout(IDLE_POLL);
        }
        shared.sleeping.fetch_sub(1, Ordering::SeqCst);
        // Still set: nobody woke this worker (timeout, spurious wake-up, or a job found above).
        let woken = !me.parked.swap(false, Ordering::SeqCst);
        match got {
            Ok(msg) => return Some(msg),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        // Spin again only when woken for a job; a poll timeout just looks once.
        *spin = woken;
    }
}

/// Looks at the queue for up to the pool's spin window, backing off (spin hints, then
/// yields) so a busy machine loses little; counted in `spinning` so submits
/// skip waking a parked worker meanwhile.
fn spin_recv(shared: &Shared) -> Result<Msg, TryRecvError> {
    // A busy queue: take the next job without touching the shared counter.
    match shared.rx.try_recv() {
        Err(TryRecvError::Empty) => {}
        got => return got,
    }
    // At most half the workers (at least one) spin for the whole window; the
    // others only back off briefly, so spinning takes at most half the CPUs
    // the pool was given from the threads that submit.
    let long = shared.spinning.fetch_add(1, Ordering::SeqCst) < shared.workers.div_ceil(2);
    let backoff = Backoff::new();
    let start = Instant::now();
    let got = loop {
        match shared.rx.try_recv() {
            Err(TryRecvError::Empty) => {}
            got => break got,
        }
        if backoff.is_completed() {
            if !long || start.elapsed() >= shared.spin {
                break Err(TryRecvError::Empty);
            }
            std::thread::yield_now();
        } else {
            backoff.snooze();
        }
    };
    shared.spinning.fetch_sub(1, Ordering::SeqCst);
    got
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
    let skip = match ctl.state.start(skip) {
        Start::Run => None,
        Start::Skip(kind) => Some(kind),
        // Cannot happen (only the worker holding the queue item starts it); never run twice.
        Start::Taken => return,
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
