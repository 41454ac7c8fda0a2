//! A shuttle model of the pool's exactly-once completion.
//!
//! The pool itself runs on std threads and a crossbeam channel, which shuttle
//! cannot schedule, so this models the part that decides outcomes — the job
//! state machine of `core/src/pool/job.rs` (`Control::claim`, `cancel`, the
//! handle's `take_or_expire`, `Slot::deliver`), the worker's `process` and
//! shutdown's `complete_unrun` — transition for transition, on shuttle's
//! atomics and mutexes. Shuttle then explores interleavings of completion,
//! cancel, deadline expiry (a "clock" thread making each deadline pass at a
//! random point) and an aborting shutdown for a few jobs on one or two
//! workers, and checks every job ends exactly once with a consistent outcome.
//!
//! `FERRETS_MODEL_ITERS` scales the iterations (default keeps it to seconds).

use std::collections::VecDeque;

use shuttle::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use shuttle::sync::{Arc, Mutex};
use shuttle::thread;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const CANCELLED: u8 = 3;
const EXPIRED: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Cancelled,
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelResult {
    NotStarted,
    Running,
    AlreadyFinished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Pending,
    Ready(Outcome),
    Taken,
}

/// One job: its control block, its slot, and what the model records.
struct Job {
    state: AtomicU8,
    cancel: AtomicBool,
    /// The job has a deadline and it has passed (monotonic, like `Instant`).
    past_deadline: AtomicBool,
    has_deadline: bool,
    slot: Mutex<SlotState>,
    /// Times the job's closure ran.
    ran: AtomicUsize,
    /// Times an outcome was counted in the metrics (`Sink::deliver`).
    counted: AtomicUsize,
    /// Outcomes the handle took.
    taken: Mutex<Vec<Outcome>>,
    /// What `cancel` returned, if it was called.
    cancel_result: Mutex<Option<CancelResult>>,
}

impl Job {
    fn new(has_deadline: bool) -> Self {
        Self {
            state: AtomicU8::new(QUEUED),
            cancel: AtomicBool::new(false),
            past_deadline: AtomicBool::new(false),
            has_deadline,
            slot: Mutex::new(SlotState::Pending),
            ran: AtomicUsize::new(0),
            counted: AtomicUsize::new(0),
            taken: Mutex::new(Vec::new()),
            cancel_result: Mutex::new(None),
        }
    }

    fn expired(&self) -> bool {
        self.has_deadline && self.past_deadline.load(Ordering::SeqCst)
    }

    /// `Control::claim`.
    fn claim(&self, to: u8) -> Result<(), u8> {
        self.state.compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire).map(|_| ())
    }

    /// `Slot::deliver`.
    fn deliver(&self, o: Outcome) {
        let mut g = self.slot.lock().unwrap();
        if *g == SlotState::Pending {
            *g = SlotState::Ready(o);
        }
    }

    /// `Sink::deliver`: count, then deliver (called once per queued item).
    fn sink(&self, o: Outcome) {
        self.counted.fetch_add(1, Ordering::SeqCst);
        self.deliver(o);
    }

    /// `JobHandle::cancel` (`Control::cancel` + settling the slot).
    fn cancel(&self) -> CancelResult {
        let r = match self.claim(CANCELLED) {
            Ok(()) => CancelResult::NotStarted,
            Err(RUNNING) => {
                self.cancel.store(true, Ordering::Relaxed);
                CancelResult::Running
            }
            Err(_) => CancelResult::AlreadyFinished,
        };
        if r == CancelResult::NotStarted {
            self.deliver(Outcome::Cancelled);
        }
        *self.cancel_result.lock().unwrap() = Some(r);
        r
    }

    /// `JobHandle::try_get` (`take_or_expire`).
    fn try_get(&self) -> Option<Outcome> {
        let mut g = self.slot.lock().unwrap();
        let got = match *g {
            SlotState::Ready(o) => {
                *g = SlotState::Taken;
                Some(o)
            }
            SlotState::Pending if self.expired() && self.claim(EXPIRED).is_ok() => {
                *g = SlotState::Taken;
                Some(Outcome::TimedOut)
            }
            _ => None,
        };
        drop(g);
        if let Some(o) = got {
            self.taken.lock().unwrap().push(o);
        }
        got
    }
}

/// The pool-wide flags and the queue.
struct Pool {
    queue: Mutex<VecDeque<usize>>,
    abort: AtomicBool,
    stop: AtomicBool,
    jobs: Vec<Job>,
}

impl Pool {
    fn pop(&self) -> Option<usize> {
        self.queue.lock().unwrap().pop_front()
    }

    /// The worker's `process`: decide, claim, run or skip, deliver.
    fn process(&self, i: usize) {
        let job = &self.jobs[i];
        let skip = if self.abort.load(Ordering::Acquire) {
            Some(Outcome::Cancelled)
        } else if job.expired() {
            Some(Outcome::TimedOut)
        } else {
            None
        };
        let skip = match job.claim(if skip.is_some() { FINISHED } else { RUNNING }) {
            Ok(()) => skip,
            Err(CANCELLED) => Some(Outcome::Cancelled),
            Err(EXPIRED) => Some(Outcome::TimedOut),
            Err(s) => panic!("job {i} claimed twice (state {s})"),
        };
        match skip {
            Some(o) => job.sink(o),
            None => {
                job.ran.fetch_add(1, Ordering::SeqCst);
                // The job polls its token once: cancelled or pool stopping -> Err.
                thread::yield_now();
                let cancelled = job.cancel.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed);
                job.state.store(FINISHED, Ordering::Release);
                job.sink(if cancelled { Outcome::Cancelled } else { Outcome::Ok });
            }
        }
    }

    /// Shutdown's `complete_unrun` for a job it took off the queue.
    fn complete_unrun(&self, i: usize) {
        let job = &self.jobs[i];
        let o = match job.claim(FINISHED) {
            Ok(()) => Outcome::Cancelled,
            Err(EXPIRED) => Outcome::TimedOut,
            Err(_) => Outcome::Cancelled,
        };
        job.sink(o);
    }
}

#[derive(Clone, Copy)]
struct Scenario {
    jobs: usize,
    workers: usize,
    /// Jobs with a deadline (a clock thread makes each pass at some point).
    deadlines: bool,
    /// A canceller thread cancels every odd job.
    cancels: bool,
    /// An aborting shutdown races the workers for the queue.
    abort: bool,
}

fn model(sc: Scenario) {
    let pool = Arc::new(Pool {
        queue: Mutex::new((0..sc.jobs).collect()),
        abort: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        jobs: (0..sc.jobs).map(|_| Job::new(sc.deadlines)).collect(),
    });
    let mut threads = Vec::new();
    for _ in 0..sc.workers {
        let p = pool.clone();
        threads.push(thread::spawn(move || {
            while let Some(i) = p.pop() {
                p.process(i);
            }
        }));
    }
    if sc.cancels {
        let p = pool.clone();
        threads.push(thread::spawn(move || {
            for i in (1..sc.jobs).step_by(2) {
                p.jobs[i].cancel();
            }
        }));
    }
    if sc.deadlines {
        let p = pool.clone();
        threads.push(thread::spawn(move || {
            for j in &p.jobs {
                j.past_deadline.store(true, Ordering::SeqCst);
                thread::yield_now();
            }
        }));
    }
    if sc.abort {
        let p = pool.clone();
        threads.push(thread::spawn(move || {
            p.abort.store(true, Ordering::Release);
            p.stop.store(true, Ordering::Release);
            while let Some(i) = p.pop() {
                p.complete_unrun(i);
            }
        }));
    }
    // The caller polls every handle while all that goes on (an expired wait
    // can settle a queued job here).
    {
        let p = pool.clone();
        threads.push(thread::spawn(move || {
            for j in &p.jobs {
                let _ = j.try_get();
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    for (i, j) in pool.jobs.iter().enumerate() {
        let _ = j.try_get();
        let taken = j.taken.lock().unwrap().clone();
        assert_eq!(taken.len(), 1, "job {i}: outcomes taken {taken:?} (exactly one expected)");
        let o = taken[0];
        assert_eq!(j.counted.load(Ordering::SeqCst), 1, "job {i}: counted in the metrics once");
        let ran = j.ran.load(Ordering::SeqCst);
        assert!(ran <= 1, "job {i} ran {ran} times");
        assert_ne!(j.state.load(Ordering::SeqCst), RUNNING, "job {i} left running");
        match *j.cancel_result.lock().unwrap() {
            Some(CancelResult::NotStarted) => {
                assert_eq!(o, Outcome::Cancelled, "job {i}: cancelled before start");
                assert_eq!(ran, 0, "job {i}: cancelled before start yet ran");
            }
            Some(CancelResult::Running) => assert_eq!(ran, 1, "job {i}: cancel saw it running"),
            _ => {}
        }
        match o {
            Outcome::Ok => assert_eq!(ran, 1, "job {i}: Ok without running"),
            Outcome::TimedOut => {
                assert!(sc.deadlines, "job {i}: timed out without a deadline");
                assert_eq!(ran, 0, "job {i}: timed out (unrun) yet ran");
            }
            Outcome::Cancelled => {
                assert!(sc.cancels || sc.abort, "job {i}: cancelled by no one");
            }
        }
        if !sc.abort && !sc.cancels && !sc.deadlines {
            assert_eq!(o, Outcome::Ok);
        }
    }
}

fn iterations(default: usize) -> usize {
    std::env::var("FERRETS_MODEL_ITERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(default, |scale| default.saturating_mul(scale).max(1))
}

fn check(sc: Scenario, n: usize) {
    shuttle::check_random(move || model(sc), iterations(n));
    shuttle::check_pct(move || model(sc), iterations(n), 3);
}

#[test]
fn completion_races_cancel_on_one_worker() {
    check(Scenario { jobs: 3, workers: 1, deadlines: false, cancels: true, abort: false }, 2_000);
}

#[test]
fn completion_races_cancel_and_deadlines_on_two_workers() {
    check(Scenario { jobs: 3, workers: 2, deadlines: true, cancels: true, abort: false }, 2_000);
}

#[test]
fn abort_races_workers_cancel_and_deadlines() {
    check(Scenario { jobs: 3, workers: 2, deadlines: true, cancels: true, abort: true }, 3_000);
    check(Scenario { jobs: 4, workers: 1, deadlines: false, cancels: false, abort: true }, 1_000);
}

#[test]
fn plain_completion_is_ok_exactly_once() {
    check(Scenario { jobs: 3, workers: 2, deadlines: false, cancels: false, abort: false }, 500);
}
