//! Drain and abort: no job lost, none completed twice, stragglers reported.
#![allow(clippy::unit_arg)] // `Ok(gate.pass())` reads well in tests

mod pool_common;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ferrets_core::pool::{Outcome, OutcomeKind, Pool, Rejected, ShutdownMode, SubmitOptions};
use pool_common::{pool, Gate, LONG};

/// Per-job completion counts and a tally by outcome kind.
struct Ledger {
    completions: Vec<AtomicU32>,
    by_kind: std::sync::Mutex<std::collections::HashMap<OutcomeKind, usize>>,
}

impl Ledger {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            completions: (0..n).map(|_| AtomicU32::new(0)).collect(),
            by_kind: Default::default(),
        })
    }
    fn record<T>(&self, i: usize, o: &Outcome<T>) {
        self.completions[i].fetch_add(1, Ordering::SeqCst);
        *self.by_kind.lock().unwrap().entry(o.kind()).or_default() += 1;
    }
    fn count(&self, k: OutcomeKind) -> usize {
        self.by_kind.lock().unwrap().get(&k).copied().unwrap_or(0)
    }
    /// Waits (generously) until `n` completions were recorded: on a very slow
    /// machine a job may outlive the shutdown grace and complete just after.
    fn wait_total(&self, n: usize) {
        let end = std::time::Instant::now() + LONG;
        while self.completions.iter().map(|c| c.load(Ordering::SeqCst) as usize).sum::<usize>() < n
            && std::time::Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn assert_each_once(&self, accepted: &[bool]) {
        for (i, c) in self.completions.iter().enumerate() {
            let want = u32::from(accepted[i]);
            assert_eq!(c.load(Ordering::SeqCst), want, "job {i} completed the wrong number of times");
        }
    }
}

#[test]
fn drain_runs_everything_queued_exactly_once() {
    let p = pool(2, 200);
    let n = 200;
    let ledger = Ledger::new(n);
    let ran = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    for i in 0..n {
        let (l, r, g) = (ledger.clone(), ran.clone(), gate.clone());
        p.submit_with(
            SubmitOptions::default(),
            move |_| {
                g.pass();
                r.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(i)
            },
            move |o| l.record(i, &o),
        )
        .unwrap();
    }
    gate.wait_entered(2);
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            gate.open();
        })
    };
    let report = p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
    opener.join().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.ran, report.joined), (n as u64, 2));
    assert_eq!(ran.load(Ordering::SeqCst), n);
    ledger.assert_each_once(&vec![true; n]);
    assert_eq!(ledger.count(OutcomeKind::Ok), n);
    let again = p.shutdown(ShutdownMode::Abort);
    assert!(again.already_shut_down);
    assert_eq!(
        p.submit(SubmitOptions::default(), |_| Ok::<_, String>(())).unwrap_err(),
        Rejected::ShuttingDown
    );
}

/// Submits `n` jobs that each arrive at `started` and then run until they are
/// cancelled; job `i`'s outcome goes to `ledger` slot `i`.
fn submit_until_cancelled(p: &Pool, n: usize, ledger: &Arc<Ledger>, started: &Gate) {
    for i in 0..n {
        let (l, s) = (ledger.clone(), started.clone());
        p.submit_with(
            SubmitOptions::default(),
            move |t| {
                s.arrive();
                while !t.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err::<(), _>("interrupted".to_string())
            },
            move |o| l.record(i, &o),
        )
        .unwrap();
    }
}

#[test]
fn abort_cancels_queued_and_running_jobs_exactly_once() {
    let p = pool(2, 64);
    let n = 50;
    let ledger = Ledger::new(n);
    let started = Gate::new();
    submit_until_cancelled(&p, n, &ledger, &started);
    started.wait_entered(2);
    let report = p.shutdown(ShutdownMode::Abort);
    ledger.wait_total(n);
    ledger.assert_each_once(&vec![true; n]);
    assert_eq!(ledger.count(OutcomeKind::Cancelled), n);
    if report.stragglers.is_empty() {
        assert_eq!(report.joined, 2);
        assert_eq!(report.cancelled, n as u64);
    }
    let m = p.metrics();
    assert_eq!((m.cancelled, m.finished(), m.submitted), (n as u64, n as u64, n as u64));
}

#[test]
fn drain_past_its_deadline_cancels_running_and_shuts_out_queued() {
    let p = pool(1, 16);
    let n = 6;
    let ledger = Ledger::new(n);
    let started = Gate::new();
    submit_until_cancelled(&p, n, &ledger, &started);
    started.wait_entered(1);
    let report = p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + Duration::from_millis(30) });
    ledger.wait_total(n);
    ledger.assert_each_once(&vec![true; n]);
    assert_eq!(ledger.count(OutcomeKind::Cancelled), 1, "the running job was asked to stop");
    assert_eq!(ledger.count(OutcomeKind::Shutdown), n - 1, "queued jobs never ran");
    // Exact unless a worker was still completing one when the report was taken.
    assert!(report.shut_down >= 1 && report.shut_down <= (n - 1) as u64, "{report:?}");
    assert!(!report.is_clean());
}

#[test]
fn a_job_that_ignores_cancellation_is_a_straggler_and_still_delivers() {
    let p = pool(1, 4);
    let gate = Gate::new();
    let g = gate.clone();
    let mut stuck = p.submit(SubmitOptions::default(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    let mut queued = p.submit(SubmitOptions::default(), |_| Ok::<_, String>(())).unwrap();
    let (tx, rx) = mpsc::channel();
    p.submit_with(
        SubmitOptions::default(),
        |_| Ok::<_, String>(()),
        move |o| tx.send((o, std::thread::current().id())).unwrap(),
    )
    .unwrap();
    let report = p.shutdown(ShutdownMode::Abort);
    let (o, callback_thread) = rx.recv_timeout(LONG).unwrap();
    assert_eq!(o, Outcome::Cancelled);
    assert_ne!(callback_thread, std::thread::current().id(), "callbacks never run on the caller's thread");
    assert_eq!(report.stragglers.len(), 1, "{report:?}");
    assert_eq!(report.stragglers[0].job, Some(stuck.id()));
    assert_eq!(queued.wait(Some(LONG)), Some(Outcome::Cancelled));
    gate.open();
    assert_eq!(stuck.wait(Some(LONG)), Some(Outcome::Ok(())));
}

#[test]
fn shutdown_from_a_worker_does_not_deadlock() {
    let p = pool(2, 4);
    let inner = p.clone();
    let mut h = p
        .submit(SubmitOptions::default(), move |_| {
            let r = inner.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
            Ok::<_, String>(r.stragglers.len())
        })
        .unwrap();
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::Ok(1)), "the calling worker is its own straggler");
}

#[test]
fn racing_submitters_and_shutdown_lose_nothing() {
    for _round in 0..5 {
        let p = pool(2, 16);
        let per = 2000;
        let threads = 3;
        let ledger = Ledger::new(per * threads);
        let (acc_tx, acc_rx) = mpsc::channel();
        let submitters: Vec<_> = (0..threads)
            .map(|t| {
                let (p, l, acc) = (p.clone(), ledger.clone(), acc_tx.clone());
                std::thread::spawn(move || {
                    let mut accepted = Vec::new();
                    for k in 0..per {
                        let i = t * per + k;
                        let l = l.clone();
                        let ok = p
                            .submit_with(
                                SubmitOptions::default(),
                                |_| Ok::<_, String>(()),
                                move |o| l.record(i, &o),
                            )
                            .is_ok();
                        accepted.push((i, ok));
                    }
                    acc.send(accepted).unwrap();
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(2));
        let report = p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
        for s in submitters {
            s.join().unwrap();
        }
        drop(acc_tx);
        let mut accepted = vec![false; per * threads];
        for batch in acc_rx {
            for (i, ok) in batch {
                accepted[i] = ok;
            }
        }
        assert!(report.is_clean(), "{report:?}");
        ledger.assert_each_once(&accepted);
        let m = p.metrics();
        let n_acc = accepted.iter().filter(|a| **a).count() as u64;
        assert_eq!(m.submitted, n_acc);
        assert_eq!(m.finished(), n_acc);
        assert_eq!(m.submitted + m.rejected, (per * threads) as u64);
    }
}

#[test]
fn dropping_the_last_pool_runs_what_is_queued() {
    let p = pool(1, 16);
    let handles: Vec<_> =
        (0..10).map(|i| p.submit(SubmitOptions::default(), move |_| Ok::<_, String>(i)).unwrap()).collect();
    drop(p);
    for (i, mut h) in handles.into_iter().enumerate() {
        assert_eq!(h.wait(Some(LONG)), Some(Outcome::Ok(i)));
    }
    let _ = Pool::new(Default::default()).unwrap(); // dropped at once, never blocks
}
