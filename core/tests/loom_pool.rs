//! Loom models of the pool's exactly-once completion, on the real job state
//! word (`ferrets_core::pool::state`, public and hidden only under
//! `cfg(loom)`, where its atomics are loom's): the transitions a worker
//! (`start`, `finish`), a canceller (`cancel`), a handle whose deadline passed
//! (`expire`) and an aborting shutdown (`complete_unrun`) race on.
//!
//! The harness around them is what the pool does with each decision: it
//! counts the queue item's outcome once (`Sink::deliver`), and the handle's
//! slot keeps the first outcome delivered (`Slot::deliver`; `cancel` and an
//! expired wait settle it early). Every model checks that each job ends
//! exactly once, runs at most once, that the metrics and the handle agree on
//! its outcome, and that what `cancel` returned is consistent with it.
//! Run with `scripts/test-loom`.
#![cfg(loom)]

use std::collections::VecDeque;

use ferrets_core::pool::state::{JobState, Start};
use ferrets_core::pool::{CancelResult, OutcomeKind};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// One job: the real state word plus what the harness records.
#[derive(Default)]
struct Job {
    state: JobState,
    /// The handle's slot: the first outcome delivered wins.
    slot: Mutex<Option<OutcomeKind>>,
    /// Outcomes counted in the metrics (one per queue item expected).
    counted: Mutex<Vec<OutcomeKind>>,
    /// Times the job's closure ran.
    ran: AtomicUsize,
    /// What `cancel` returned, if it was called.
    cancelled: Mutex<Option<CancelResult>>,
}

impl Job {
    fn deliver(&self, kind: OutcomeKind) {
        let mut slot = self.slot.lock().unwrap();
        if slot.is_none() {
            *slot = Some(kind);
        }
    }

    /// `Sink::deliver`: count, then deliver.
    fn complete(&self, kind: OutcomeKind) {
        self.counted.lock().unwrap().push(kind);
        self.deliver(kind);
    }

    /// The worker's `process`, given the skip it decided from the clock and the pool's flags.
    fn process(&self, skip: Option<OutcomeKind>, stop: &AtomicBool) {
        match self.state.start(skip) {
            Start::Run => {
                self.ran.fetch_add(1, Ordering::SeqCst);
                // The job polls its token once: cancelled or the pool stopping -> Cancelled.
                let cancelled = self.state.cancel_requested() || stop.load(Ordering::Relaxed);
                self.state.finish();
                self.complete(if cancelled { OutcomeKind::Cancelled } else { OutcomeKind::Ok });
            }
            Start::Skip(kind) => self.complete(kind),
            Start::Taken => panic!("a job was started twice"),
        }
    }

    /// `JobHandle::cancel`: claim, and settle the slot if the job never started.
    fn cancel(&self) {
        let r = self.state.cancel();
        if r == CancelResult::NotStarted {
            self.deliver(OutcomeKind::Cancelled);
        }
        *self.cancelled.lock().unwrap() = Some(r);
    }

    /// The handle's `take_or_expire` once the deadline passed (under the slot lock).
    fn expire(&self) {
        let mut slot = self.slot.lock().unwrap();
        if slot.is_none() && self.state.expire() {
            *slot = Some(OutcomeKind::TimedOut);
        }
    }

    /// Every thread is done: checks the job ended exactly once, consistently
    /// (`aborting`: a shutdown may have cancelled it).
    fn check(&self, i: usize, aborting: bool) -> OutcomeKind {
        let outcome = self.slot.lock().unwrap().unwrap_or_else(|| panic!("job {i}: no outcome"));
        let counted = self.counted.lock().unwrap().clone();
        assert_eq!(counted, [outcome], "job {i}: the metrics count its one outcome");
        let ran = self.ran.load(Ordering::SeqCst);
        assert!(ran <= 1, "job {i} ran {ran} times");
        assert!(!self.state.is_queued(), "job {i} left queued");
        match outcome {
            OutcomeKind::Ok => assert_eq!(ran, 1, "job {i}: Ok without running"),
            OutcomeKind::TimedOut => assert_eq!(ran, 0, "job {i}: timed out in the queue yet ran"),
            OutcomeKind::Cancelled => {
                let by_cancel = matches!(
                    *self.cancelled.lock().unwrap(),
                    Some(CancelResult::NotStarted | CancelResult::Running)
                );
                assert!(aborting || by_cancel, "job {i}: cancelled by no one");
            }
            other => panic!("job {i}: unexpected outcome {other:?}"),
        }
        match *self.cancelled.lock().unwrap() {
            Some(CancelResult::NotStarted) => {
                assert_eq!(outcome, OutcomeKind::Cancelled, "job {i}: cancelled before start");
                assert_eq!(ran, 0, "job {i}: cancelled before start yet ran");
            }
            Some(CancelResult::Running) => assert_eq!(ran, 1, "job {i}: cancel saw it running"),
            Some(CancelResult::AlreadyFinished) | None => {}
        }
        outcome
    }
}

/// Takes the next job off the queue (the lock is released at once).
fn pop(queue: &Mutex<VecDeque<usize>>) -> Option<usize> {
    queue.lock().unwrap().pop_front()
}

/// A worker runs a job whose deadline it has not seen pass (`late`: it has)
/// while a canceller cancels it and its handle, past the deadline, expires it.
fn worker_cancel_and_expiry(late: bool) {
    loom::model(move || {
        let job = Arc::new(Job::default());
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let (job, stop) = (job.clone(), stop.clone());
            thread::spawn(move || job.process(late.then_some(OutcomeKind::TimedOut), &stop))
        };
        let canceller = {
            let job = job.clone();
            thread::spawn(move || job.cancel())
        };
        job.expire();
        worker.join().unwrap();
        canceller.join().unwrap();
        job.check(0, false);
    });
}

#[test]
fn completion_races_cancel_and_expiry() {
    worker_cancel_and_expiry(false);
}

#[test]
fn deadline_skip_races_cancel_and_expiry() {
    worker_cancel_and_expiry(true);
}

/// Two queued jobs: two workers take them while an aborting
/// shutdown raises its flags and completes what it takes off the queue
/// unrun; the caller cancels the second job and expires the first.
#[test]
fn abort_races_workers_cancel_and_expiry() {
    loom::model(|| {
        let jobs: Arc<[Job; 2]> = Arc::new(Default::default());
        let queue = Arc::new(Mutex::new(VecDeque::from([0, 1])));
        let abort = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (jobs, queue, abort, stop) = (jobs.clone(), queue.clone(), abort.clone(), stop.clone());
                thread::spawn(move || {
                    while let Some(i) = pop(&queue) {
                        let skip = abort.load(Ordering::Acquire).then_some(OutcomeKind::Cancelled);
                        jobs[i].process(skip, &stop);
                    }
                })
            })
            .collect();
        let shutdown = {
            let (jobs, queue, abort, stop) = (jobs.clone(), queue.clone(), abort.clone(), stop.clone());
            thread::spawn(move || {
                abort.store(true, Ordering::Release);
                stop.store(true, Ordering::Release);
                while let Some(i) = pop(&queue) {
                    jobs[i].complete(jobs[i].state.complete_unrun(OutcomeKind::Cancelled));
                }
            })
        };
        jobs[1].cancel();
        jobs[0].expire();
        for w in workers {
            w.join().unwrap();
        }
        shutdown.join().unwrap();
        for (i, job) in jobs.iter().enumerate() {
            job.check(i, true);
        }
    });
}

/// Two workers, two jobs, nobody interferes: each runs once and ends `Ok`.
#[test]
fn plain_completion_is_ok_exactly_once() {
    loom::model(|| {
        let jobs: Arc<[Job; 2]> = Arc::new(Default::default());
        let queue = Arc::new(Mutex::new(VecDeque::from([0, 1])));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (jobs, queue, stop) = (jobs.clone(), queue.clone(), stop.clone());
                thread::spawn(move || {
                    while let Some(i) = pop(&queue) {
                        jobs[i].process(None, &stop);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        for (i, job) in jobs.iter().enumerate() {
            assert_eq!(job.check(i, false), OutcomeKind::Ok);
        }
    });
}
