//! A bounded pool of worker threads for blocking work, with deadlines,
//! cancellation and back-pressure: the native counterpart of
//! `Task.Supervisor.async_nolink` with timeouts.
//!
//! - The queue is bounded: [`Pool::submit`] never blocks; it accepts the job
//!   or rejects it at once ([`Rejected::Overloaded`] when the queue is full,
//!   [`Rejected::ShuttingDown`] after shutdown started).
//! - Every accepted job ends exactly once with an [`Outcome`]: delivered to
//!   its [`JobHandle`], or to its completion callback on the worker thread.
//! - A job past its deadline in the queue never runs; a running job sees its
//!   deadline and cancellation through its [`CancelToken`].
//! - Panics in jobs and callbacks are caught; workers survive.
//!
//! ```
//! use ferrets_core::pool::{Outcome, Pool, PoolConfig, SubmitOptions};
//! let pool = Pool::new(PoolConfig { workers: 2, queue: 16, name: "doc".into() }).unwrap();
//! let mut h = pool.submit(SubmitOptions::default(), |_token| Ok::<_, String>(6 * 7)).unwrap();
//! assert_eq!(h.wait(None), Some(Outcome::Ok(42)));
//! ```

mod config;
mod job;
mod metrics;
mod outcome;
mod shutdown;
#[cfg(loom)]
#[doc(hidden)]
pub mod state;
#[cfg(not(loom))]
mod state;
mod token;
mod worker;

use std::fmt;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{JoinHandle as ThreadHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use crossbeam_utils::CachePadded;

pub use config::{PoolConfig, PoolError, SubmitOptions, MAX_QUEUE, MAX_WORKERS};
pub use job::{Canceller, JobHandle};
pub use metrics::{LatencySummary, PoolMetrics};
pub use outcome::{CancelResult, Outcome, OutcomeKind, Rejected};
pub use shutdown::{ShutdownMode, ShutdownReport, Straggler, ABORT_GRACE};
pub use token::{CancelToken, Interrupted};

use job::{make_job, Delivery, Work};
use metrics::{Counters, Histogram};

/// How long a blocking submit waits at a time before re-checking for shutdown.
const BLOCKING_SLICE: Duration = Duration::from_millis(10);

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) enum Msg {
    Job(Box<dyn Work>),
    Stop,
}

/// State shared by the pool handles and the workers.
pub(crate) struct Shared {
    id: u64,
    name: String,
    workers: usize,
    capacity: usize,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// Set once shutdown starts: submits are rejected from then on.
    shutting_down: AtomicBool,
    /// Abort: queued jobs complete as cancelled.
    abort: AtomicBool,
    /// Running jobs' tokens report cancellation (abort, or drain past its deadline).
    stop: Arc<AtomicBool>,
    /// Queued jobs taken after this instant complete as `Shutdown`.
    drain_deadline: OnceLock<Instant>,
    /// Submits between their shutdown check and their enqueue.
    active_submits: AtomicUsize,
    next_job: AtomicU64,
    counters: Counters,
    queue_wait: Histogram,
    run_time: Histogram,
    /// Id of the job each worker is running (0: idle).
    current: Box<[AtomicU64]>,
    /// Workers spinning on the queue: they take a new job without a wake-up.
    spinning: CachePadded<AtomicUsize>,
    /// Workers parked, or about to park after a last look at the queue.
    sleeping: CachePadded<AtomicUsize>,
    /// How each worker is woken.
    parkers: Box<[Parker]>,
    /// How long a worker looks at the queue before it parks.
    spin: Duration,
}

/// How a submit wakes a parked worker.
#[derive(Default)]
pub(crate) struct Parker {
    /// Set by the worker before its last look at the queue; cleared by whoever wakes it.
    parked: AtomicBool,
    /// The worker's thread, registered by the worker itself.
    thread: OnceLock<Thread>,
}

impl Parker {
    /// Wakes the worker if it is parked and no one else woke it; true if this call did.
    fn wake(&self) -> bool {
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::SeqCst) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
            return true;
        }
        false
    }
}

impl Shared {
    fn account(&self, d: &Delivery) {
        if d.dropped {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        if d.callback_panicked {
            self.counters.callback_panicked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An idle worker may exit: shutdown started, no submit can still enqueue, the queue is empty.
    fn may_exit_idle(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
            && self.active_submits.load(Ordering::SeqCst) == 0
            && self.rx.is_empty()
    }

    /// Waits until no submit is between its shutdown check and its enqueue
    /// (each is brief: a blocking submit re-checks every `BLOCKING_SLICE`).
    fn wait_for_submitters(&self) {
        let mut spins = 0u32;
        while self.active_submits.load(Ordering::SeqCst) != 0 {
            spins += 1;
            if spins < 100 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// Called after a job was queued: wakes a parked worker unless one is
    /// spinning on the queue (it takes the job without a wake-up, so the
    /// submitter skips the futex call and a second worker does not wake up
    /// for nothing). A spinner that then gives up takes a last look at the
    /// queue after announcing it sleeps (SeqCst, paired with the fence here),
    /// so the job is never left with every worker parked.
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) == 0 || self.spinning.load(Ordering::SeqCst) != 0 {
            return;
        }
        for p in self.parkers.iter() {
            if p.wake() {
                return;
            }
        }
    }

    /// Wakes every parked worker (shutdown: they find their stop message or exit).
    fn wake_all(&self) {
        fence(Ordering::SeqCst);
        for p in self.parkers.iter() {
            p.wake();
        }
    }

    fn reject(&self, why: Rejected) -> Rejected {
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        why
    }

    /// Enqueues `work`, waiting up to `wait` for room (`None`: never wait).
    fn enqueue(&self, work: Box<dyn Work>, wait: Option<Duration>) -> Result<(), Rejected> {
        let end = wait.map(|w| Instant::now().checked_add(w).unwrap_or_else(far_future));
        let mut msg = Msg::Job(work);
        loop {
            // Announce the submit before checking the flag: shutdown sets the
            // flag before waiting for announced submits to finish (SeqCst both).
            self.active_submits.fetch_add(1, Ordering::SeqCst);
            if self.shutting_down.load(Ordering::SeqCst) {
                self.active_submits.fetch_sub(1, Ordering::SeqCst);
                drop_msg(msg);
                return Err(self.reject(Rejected::ShuttingDown));
            }
            let sent = match end {
                None => self.tx.try_send(msg).map_err(|e| match e {
                    TrySendError::Full(m) | TrySendError::Disconnected(m) => (m, true),
                }),
                Some(end) => {
                    let now = Instant::now();
                    let slice = end.saturating_duration_since(now).min(BLOCKING_SLICE);
                    self.tx.send_timeout(msg, slice).map_err(|e| match e {
                        SendTimeoutError::Timeout(m) | SendTimeoutError::Disconnected(m) => {
                            (m, Instant::now() >= end)
                        }
                    })
                }
            };
            self.active_submits.fetch_sub(1, Ordering::SeqCst);
            match sent {
                Ok(()) => {
                    self.counters.submitted.fetch_add(1, Ordering::Relaxed);
                    self.notify();
                    return Ok(());
                }
                Err((m, true)) => {
                    drop_msg(m);
                    return Err(self.reject(Rejected::Overloaded));
                }
                Err((m, false)) => msg = m,
            }
        }
    }
}

fn far_future() -> Instant {
    // About 30 years: effectively forever, and far from overflowing.
    Instant::now() + Duration::from_secs(30 * 365 * 24 * 3600)
}

/// Drops a refused job (its closure's destructor may panic: contain it).
fn drop_msg(m: Msg) {
    job::drop_quietly(m);
}

/// Owns the workers; dropped with the last [`Pool`] clone.
pub(crate) struct PoolInner {
    shared: Arc<Shared>,
    threads: Mutex<Vec<ThreadHandle<()>>>,
    exited: Receiver<usize>,
}

impl Drop for PoolInner {
    /// The last `Pool` clone is gone without a shutdown: stop accepting work
    /// (no one can submit anyway), let the workers finish what is queued in
    /// the background and exit. Never blocks.
    fn drop(&mut self) {
        if !self.shared.shutting_down.swap(true, Ordering::SeqCst) {
            let n = self.shared.workers;
            for _ in 0..n {
                if self.shared.tx.try_send(Msg::Stop).is_err() {
                    break;
                }
            }
            self.shared.wake_all();
        }
    }
}

/// A bounded pool of worker threads. Cheap to clone (all clones share the
/// pool); `Send + Sync`.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

impl Pool {
    /// Starts `cfg.workers` threads with a queue of `cfg.queue` jobs.
    pub fn new(cfg: PoolConfig) -> Result<Pool, PoolError> {
        cfg.validate()?;
        let (tx, rx) = crossbeam_channel::bounded(cfg.queue);
        let (exited_tx, exited) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            name: cfg.name.clone(),
            workers: cfg.workers,
            capacity: cfg.queue,
            tx,
            rx,
            shutting_down: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            stop: Arc::new(AtomicBool::new(false)),
            drain_deadline: OnceLock::new(),
            active_submits: AtomicUsize::new(0),
            next_job: AtomicU64::new(1),
            counters: Counters::default(),
            queue_wait: Histogram::new(),
            run_time: Histogram::new(),
            current: (0..cfg.workers).map(|_| AtomicU64::new(0)).collect(),
            spinning: CachePadded::new(AtomicUsize::new(0)),
            sleeping: CachePadded::new(AtomicUsize::new(0)),
            parkers: (0..cfg.workers).map(|_| Parker::default()).collect(),
            spin: worker::spin_window(),
        });
        let mut threads = Vec::with_capacity(cfg.workers);
        for i in 0..cfg.workers {
            let (s, e) = (shared.clone(), exited_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{i}", cfg.name))
                .spawn(move || worker::run(s, i, e));
            match spawned {
                Ok(t) => threads.push(t),
                Err(err) => {
                    let inner = PoolInner { shared, threads: Mutex::new(threads), exited };
                    let _ = shutdown::shutdown(&inner, ShutdownMode::Abort);
                    return Err(PoolError::Spawn(err));
                }
            }
        }
        Ok(Pool { inner: Arc::new(PoolInner { shared, threads: Mutex::new(threads), exited }) })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.shared.name
    }

    /// Submits a job; never blocks. The job gets a [`CancelToken`] and
    /// returns `Ok(value)` or `Err(message)`; its outcome is taken from the
    /// returned handle.
    pub fn submit<T, F>(&self, opts: SubmitOptions, job: F) -> Result<JobHandle<T>, Rejected>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
    {
        self.submit_inner(opts, job, None::<fn(u64) -> fn(Outcome<T>)>, None)
    }

    /// Submits a job whose outcome goes to `on_complete`, called exactly once
    /// on a worker thread (panics in it are caught and counted). Keep it
    /// short: it occupies the worker. Never blocks. The returned handle can
    /// only cancel (`try_get`/`wait` return `None`). A rejected job's
    /// callback is never called.
    ///
    /// Callbacks only ever run on threads the pool owns: when a shutdown finds
    /// every worker stuck, it completes the still-queued jobs on a short-lived
    /// thread of its own, never on the thread that called `shutdown`.
    pub fn submit_with<T, F, C>(
        &self,
        opts: SubmitOptions,
        job: F,
        on_complete: C,
    ) -> Result<JobHandle<T>, Rejected>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
        C: FnOnce(Outcome<T>) + Send + 'static,
    {
        self.submit_inner(opts, job, Some(|_| on_complete), None)
    }

    /// Like [`submit`](Self::submit), but waits up to `timeout` for queue
    /// room before rejecting with `Overloaded`. For threads that may block
    /// (C and Python callers); from a pool worker thread it returns
    /// [`Rejected::WouldDeadlock`] at once.
    pub fn submit_blocking<T, F>(
        &self,
        opts: SubmitOptions,
        job: F,
        timeout: Duration,
    ) -> Result<JobHandle<T>, Rejected>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
    {
        self.submit_inner(opts, job, None::<fn(u64) -> fn(Outcome<T>)>, Some(timeout))
    }

    /// [`submit_with`](Self::submit_with) that waits up to `timeout` for
    /// queue room, like [`submit_blocking`](Self::submit_blocking).
    pub fn submit_with_blocking<T, F, C>(
        &self,
        opts: SubmitOptions,
        job: F,
        on_complete: C,
        timeout: Duration,
    ) -> Result<JobHandle<T>, Rejected>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
        C: FnOnce(Outcome<T>) + Send + 'static,
    {
        self.submit_inner(opts, job, Some(|_| on_complete), Some(timeout))
    }

    /// [`submit_with`](Self::submit_with) whose callback also gets the job's
    /// id (a job may end before `submit` returns its handle), waiting up to
    /// `wait` for queue room when it is `Some` (as
    /// [`submit_blocking`](Self::submit_blocking) does).
    pub fn submit_with_id<T, F, C>(
        &self,
        opts: SubmitOptions,
        job: F,
        on_complete: C,
        wait: Option<Duration>,
    ) -> Result<JobHandle<T>, Rejected>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
        C: FnOnce(u64, Outcome<T>) + Send + 'static,
    {
        self.submit_inner(opts, job, Some(|id| move |o| on_complete(id, o)), wait)
    }

    fn submit_inner<T, F, C, M>(
        &self,
        opts: SubmitOptions,
        job: F,
        callback: Option<M>,
        wait: Option<Duration>,
    ) -> Result<JobHandle<T>, Rejected>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, String> + Send + 'static,
        C: FnOnce(Outcome<T>) + Send + 'static,
        M: FnOnce(u64) -> C,
    {
        let shared = &self.inner.shared;
        if wait.is_some() && worker::current_worker().is_some() {
            return Err(shared.reject(Rejected::WouldDeadlock));
        }
        let id = shared.next_job.fetch_add(1, Ordering::Relaxed);
        let (work, handle) = make_job(id, opts.deadline, job, callback.map(|m| m(id)));
        shared.enqueue(work, wait)?;
        Ok(handle)
    }

    /// A snapshot of the pool's counters and latency percentiles.
    pub fn metrics(&self) -> PoolMetrics {
        let s = &self.inner.shared;
        let c = &s.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PoolMetrics {
            workers: s.workers,
            queue_capacity: s.capacity,
            queue_depth: s.rx.len(),
            in_flight: c.in_flight.load(Ordering::Relaxed),
            submitted: l(&c.submitted),
            rejected: l(&c.rejected),
            completed: l(&c.completed),
            failed: l(&c.failed),
            panicked: l(&c.panicked),
            cancelled: l(&c.cancelled),
            timed_out: l(&c.timed_out),
            shutdown: l(&c.shutdown),
            dropped: l(&c.dropped),
            callback_panicked: l(&c.callback_panicked),
            queue_wait: s.queue_wait.summary(),
            run_time: s.run_time.summary(),
        }
    }

    /// True once shutdown has started (submits are rejected).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shared.shutting_down.load(Ordering::SeqCst)
    }

    /// True when the current thread is one of this pool's workers.
    pub fn is_worker_thread(&self) -> bool {
        worker::current_worker().is_some_and(|(p, _)| p == self.inner.shared.id)
    }

    /// Shuts the pool down (see [`ShutdownMode`]) and joins its workers;
    /// returns what happened. Blocks until the workers exit, or up to the
    /// drain deadline (or [`ABORT_GRACE`]) plus [`ABORT_GRACE`]. Called from
    /// one of the pool's own workers, that worker is reported as a straggler.
    /// A second call returns at once with `already_shut_down`; an `Abort`
    /// during a `Drain` escalates it.
    pub fn shutdown(&self, mode: ShutdownMode) -> ShutdownReport {
        shutdown::shutdown(&self.inner, mode)
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.shared;
        f.debug_struct("Pool")
            .field("name", &s.name)
            .field("workers", &s.workers)
            .field("queue", &s.capacity)
            .field("shutting_down", &self.is_shutting_down())
            .finish()
    }
}
