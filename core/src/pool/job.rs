//! A job's control block, its result slot, the handle callers hold, and the
//! type-erased unit of work the queue carries.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::metrics::Counters;
use super::outcome::{CancelResult, Outcome, OutcomeKind};
use super::state::JobState;
use super::token::{CancelToken, Interrupted};

/// The part of a job every party shares: its state word (who may start it,
/// see [`JobState`]) and its deadline.
pub(crate) struct Control {
    pub(crate) id: u64,
    pub(crate) state: JobState,
    pub(crate) deadline: Option<Instant>,
    pub(crate) enqueued: Instant,
}

impl Control {
    pub(crate) fn new(id: u64, deadline: Option<Instant>) -> Self {
        Self { id, state: JobState::new(), deadline, enqueued: Instant::now() }
    }
}

enum SlotState<T> {
    /// No outcome yet; the handle is alive.
    Pending,
    /// The outcome, waiting for the handle to take it.
    Ready(Outcome<T>),
    /// The handle took the outcome.
    Taken,
    /// The handle is gone and no outcome was delivered yet.
    Abandoned,
    /// The handle is gone and the outcome was delivered or dropped.
    Closed,
}

/// Where the outcome of a job submitted without a callback waits for its handle.
pub(crate) struct Slot<T> {
    state: Mutex<SlotState<T>>,
    ready: Condvar,
}

impl<T> Slot<T> {
    fn new() -> Self {
        Self { state: Mutex::new(SlotState::Pending), ready: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the outcome unless one was stored already. Returns true when
    /// the handle is gone, so the outcome was dropped.
    fn deliver(&self, outcome: Outcome<T>) -> bool {
        let mut g = self.lock();
        match *g {
            SlotState::Pending => {
                *g = SlotState::Ready(outcome);
                drop(g);
                self.ready.notify_all();
                false
            }
            SlotState::Abandoned => {
                *g = SlotState::Closed;
                drop(g);
                drop_quietly(outcome);
                true
            }
            // Settled early by cancel or an expired wait: already delivered.
            SlotState::Ready(_) | SlotState::Taken | SlotState::Closed => false,
        }
    }
}

/// Settles a handle's slot early (after `cancel` claimed a queued job).
pub(crate) trait SettleCancelled: Send + Sync {
    fn settle_cancelled(&self);
}

impl<T: Send> SettleCancelled for Slot<T> {
    fn settle_cancelled(&self) {
        let _ = self.deliver(Outcome::Cancelled);
    }
}

/// Drops a value, containing a panic from its destructor.
pub(crate) fn drop_quietly<V>(v: V) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(v)));
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_string())
}

/// The handle to an accepted job: its outcome (unless it was submitted with
/// a completion callback) and a way to cancel it.
///
/// Dropping the handle does not cancel the job; its outcome is then dropped
/// (counted as `dropped` in the metrics if the job ends after the handle).
pub struct JobHandle<T> {
    ctl: Arc<Control>,
    slot: Option<Arc<Slot<T>>>,
}

impl<T: Send + 'static> JobHandle<T> {
    /// The job's id, unique within its pool (the same as `CancelToken::job_id`).
    pub fn id(&self) -> u64 {
        self.ctl.id
    }

    /// The outcome if the job has ended, taking it; `None` while it has not,
    /// once the outcome was taken, and always for a job submitted with a
    /// completion callback (the callback gets the outcome).
    pub fn try_get(&mut self) -> Option<Outcome<T>> {
        let slot = self.slot.as_ref()?;
        let mut g = slot.lock();
        take_or_expire(&self.ctl, &mut g)
    }

    /// Waits for the outcome at most `timeout` (`None`: no limit) and takes
    /// it. `None` on timeout, once the outcome was taken, and always for a
    /// job submitted with a completion callback (it returns at once).
    ///
    /// A job whose deadline passes while it is still queued ends as
    /// `TimedOut` here at the deadline, without waiting for a worker.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Option<Outcome<T>> {
        let slot = self.slot.as_ref()?;
        let end = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut g = slot.lock();
        loop {
            if let Some(o) = take_or_expire(&self.ctl, &mut g) {
                return Some(o);
            }
            if !matches!(*g, SlotState::Pending) {
                return None;
            }
            let now = Instant::now();
            if end.is_some_and(|e| now >= e) {
                return None;
            }
            let queued = self.ctl.state.is_queued();
            let wake = match (end, self.ctl.deadline.filter(|_| queued)) {
                (Some(e), Some(d)) => Some(e.min(d)),
                (e, d) => e.or(d),
            };
            g = match wake {
                Some(w) => {
                    slot.ready
                        .wait_timeout(g, w.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => slot.ready.wait(g).unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    /// Cancels the job: for sure if it has not started (it ends as
    /// `Cancelled` and never runs), cooperatively if it is running (its
    /// token reports cancellation). Callable from any thread.
    pub fn cancel(&self) -> CancelResult {
        cancel(&self.ctl, self.slot.as_ref().map(|s| s.clone() as Arc<dyn SettleCancelled>).as_deref())
    }

    /// A cloneable, thread-safe handle that can only cancel this job.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            ctl: self.ctl.clone(),
            slot: self.slot.as_ref().map(|s| s.clone() as Arc<dyn SettleCancelled>),
        }
    }

    /// True for a job submitted with a completion callback (its handle never
    /// yields the outcome).
    pub fn has_callback(&self) -> bool {
        self.slot.is_none()
    }
}

fn cancel(ctl: &Control, slot: Option<&dyn SettleCancelled>) -> CancelResult {
    let r = ctl.state.cancel();
    if r == CancelResult::NotStarted {
        if let Some(slot) = slot {
            slot.settle_cancelled();
        }
    }
    r
}

fn take_or_expire<T>(ctl: &Control, g: &mut SlotState<T>) -> Option<Outcome<T>> {
    match g {
        SlotState::Ready(_) => match std::mem::replace(g, SlotState::Taken) {
            SlotState::Ready(o) => Some(o),
            _ => None,
        },
        SlotState::Pending => {
            let expired = ctl.deadline.is_some_and(|d| Instant::now() >= d);
            if expired && ctl.state.expire() {
                *g = SlotState::Taken;
                Some(Outcome::TimedOut)
            } else {
                None
            }
        }
        _ => None,
    }
}

impl<T> Drop for JobHandle<T> {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            let mut g = slot.lock();
            let next =
                if matches!(*g, SlotState::Pending) { SlotState::Abandoned } else { SlotState::Closed };
            let old = std::mem::replace(&mut *g, next);
            drop(g);
            drop_quietly(old);
        }
    }
}

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle").field("id", &self.ctl.id).finish_non_exhaustive()
    }
}

/// Cancels one job; cloneable and usable from any thread (see `JobHandle::canceller`).
#[derive(Clone)]
pub struct Canceller {
    ctl: Arc<Control>,
    slot: Option<Arc<dyn SettleCancelled>>,
}

impl Canceller {
    /// Same as [`JobHandle::cancel`].
    pub fn cancel(&self) -> CancelResult {
        cancel(&self.ctl, self.slot.as_deref())
    }

    /// The job's id.
    pub fn id(&self) -> u64 {
        self.ctl.id
    }
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canceller").field("id", &self.ctl.id).finish_non_exhaustive()
    }
}

/// How a job's delivery went, for the metrics (its kind is counted before delivery).
pub(crate) struct Delivery {
    pub(crate) dropped: bool,
    pub(crate) callback_panicked: bool,
}

/// A queued job with its type erased.
pub(crate) trait Work: Send {
    fn control(&self) -> &Arc<Control>;
    /// Runs the job (the caller claimed it: state `RUNNING`) and delivers its outcome.
    fn run(self: Box<Self>, token: &CancelToken, counters: &Counters) -> Delivery;
    /// Delivers an outcome without running the job.
    fn skip(self: Box<Self>, kind: OutcomeKind, counters: &Counters) -> Delivery;
}

enum Sink<T, C> {
    Slot(Arc<Slot<T>>),
    Callback(C),
}

impl<T, C: FnOnce(Outcome<T>)> Sink<T, C> {
    /// Counts the outcome, then delivers it (so whoever receives it sees the metrics include it).
    fn deliver(self, outcome: Outcome<T>, counters: &Counters) -> Delivery {
        counters.count(outcome.kind());
        match self {
            Sink::Slot(slot) => Delivery { dropped: slot.deliver(outcome), callback_panicked: false },
            Sink::Callback(cb) => {
                let callback_panicked = catch_unwind(AssertUnwindSafe(move || cb(outcome))).is_err();
                Delivery { dropped: false, callback_panicked }
            }
        }
    }
}

struct TypedJob<T, F, C> {
    ctl: Arc<Control>,
    job: F,
    sink: Sink<T, C>,
}

impl<T, F, C> Work for TypedJob<T, F, C>
where
    T: Send + 'static,
    F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
    C: FnOnce(Outcome<T>) + Send + 'static,
{
    fn control(&self) -> &Arc<Control> {
        &self.ctl
    }

    fn run(self: Box<Self>, token: &CancelToken, counters: &Counters) -> Delivery {
        let TypedJob { ctl, job, sink } = *self;
        let result = catch_unwind(AssertUnwindSafe(move || job(token)));
        ctl.state.finish();
        let outcome = match result {
            Ok(Ok(v)) => Outcome::Ok(v),
            Ok(Err(e)) => match token.observed() {
                Some(Interrupted::Cancelled) => Outcome::Cancelled,
                Some(Interrupted::DeadlineExceeded) => Outcome::TimedOut,
                None => Outcome::Error(e),
            },
            Err(payload) => {
                let msg = panic_message(&*payload);
                drop_quietly(payload);
                Outcome::Panicked(msg)
            }
        };
        sink.deliver(outcome, counters)
    }

    fn skip(self: Box<Self>, kind: OutcomeKind, counters: &Counters) -> Delivery {
        let TypedJob { ctl: _, job, sink } = *self;
        drop_quietly(job);
        let outcome = match kind {
            OutcomeKind::TimedOut => Outcome::TimedOut,
            OutcomeKind::Shutdown => Outcome::Shutdown,
            _ => Outcome::Cancelled,
        };
        sink.deliver(outcome, counters)
    }
}

/// Builds the queue item and the handle for a job.
pub(crate) fn make_job<T, F, C>(
    id: u64,
    deadline: Option<Instant>,
    job: F,
    callback: Option<C>,
) -> (Box<dyn Work>, JobHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
    C: FnOnce(Outcome<T>) + Send + 'static,
{
    let ctl = Arc::new(Control::new(id, deadline));
    let (sink, slot) = match callback {
        Some(cb) => (Sink::Callback(cb), None),
        None => {
            let slot = Arc::new(Slot::new());
            (Sink::Slot(slot.clone()), Some(slot))
        }
    };
    let work = Box::new(TypedJob { ctl: ctl.clone(), job, sink });
    (work, JobHandle { ctl, slot })
}
