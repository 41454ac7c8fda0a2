//! Every outcome a job can end with, and every way a submit can be refused.
#![allow(clippy::unit_arg)] // `Ok(gate.pass())` reads well in tests

mod pool_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ferrets_core::pool::{CancelResult, Outcome, Rejected, ShutdownMode, SubmitOptions};
use pool_common::{pool, Gate, LONG};

fn none() -> SubmitOptions {
    SubmitOptions::default()
}

#[test]
fn ok_error_and_panic_outcomes_and_the_worker_survives() {
    let p = pool(1, 8);
    let mut ok = p.submit(none(), |_| Ok::<_, String>(7)).unwrap();
    let mut err = p.submit(none(), |_| Err::<u8, _>("nope".to_string())).unwrap();
    let mut boom = p.submit(none(), |_| -> Result<u8, String> { panic!("kaboom") }).unwrap();
    let mut after = p.submit(none(), |_| Ok::<_, String>("still alive")).unwrap();
    assert_eq!(ok.wait(Some(LONG)), Some(Outcome::Ok(7)));
    assert_eq!(err.wait(Some(LONG)), Some(Outcome::Error("nope".into())));
    match boom.wait(Some(LONG)) {
        Some(Outcome::Panicked(msg)) => assert!(msg.contains("kaboom"), "{msg}"),
        other => panic!("expected a panic outcome, got {other:?}"),
    }
    assert_eq!(after.wait(Some(LONG)), Some(Outcome::Ok("still alive")));
    assert_eq!(ok.try_get(), None, "an outcome is taken once");
    let m = p.metrics();
    assert_eq!((m.completed, m.failed, m.panicked), (2, 1, 1));
}

#[test]
fn a_full_queue_rejects_at_once_with_overloaded() {
    let p = pool(1, 2);
    let gate = Gate::new();
    let g = gate.clone();
    let mut blocker = p.submit(none(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    let mut queued: Vec<_> = (0..2).map(|i| p.submit(none(), move |_| Ok::<_, String>(i)).unwrap()).collect();
    let start = Instant::now();
    assert_eq!(p.submit(none(), |_| Ok::<_, String>(9)).unwrap_err(), Rejected::Overloaded);
    assert!(start.elapsed() < Duration::from_secs(5), "submit must not block");
    assert_eq!(p.metrics().queue_depth, 2);
    gate.open();
    assert_eq!(blocker.wait(Some(LONG)), Some(Outcome::Ok(())));
    for (i, h) in queued.iter_mut().enumerate() {
        assert_eq!(h.wait(Some(LONG)), Some(Outcome::Ok(i)));
    }
    let m = p.metrics();
    assert_eq!((m.submitted, m.rejected), (3, 1));
    assert_eq!(Rejected::Overloaded.to_string(), "the pool is overloaded: its queue is full");
}

#[test]
fn a_deadline_that_passes_in_the_queue_times_out_without_running() {
    let p = pool(1, 8);
    let gate = Gate::new();
    let g = gate.clone();
    let _blocker = p.submit(none(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    let ran = Arc::new(AtomicBool::new(false));
    let (r1, r2) = (ran.clone(), ran.clone());
    let opts = SubmitOptions::timeout(Duration::from_millis(30));
    let mut polled = p.submit(opts, move |_| Ok::<_, String>(r1.store(true, Ordering::SeqCst))).unwrap();
    let (tx, rx) = mpsc::channel();
    p.submit_with(
        opts,
        move |_| Ok::<_, String>(r2.store(true, Ordering::SeqCst)),
        move |o| tx.send(o).unwrap(),
    )
    .unwrap();
    // The handle reports the timeout at the deadline, while the worker is still blocked.
    assert_eq!(polled.wait(Some(LONG)), Some(Outcome::TimedOut));
    gate.open();
    // The callback job is completed when a worker reaches it.
    assert_eq!(rx.recv_timeout(LONG).unwrap(), Outcome::TimedOut);
    p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
    assert!(!ran.load(Ordering::SeqCst), "an expired job must never run");
    assert_eq!(p.metrics().timed_out, 2);
}

#[test]
fn a_running_job_sees_its_deadline() {
    let p = pool(1, 8);
    let opts = SubmitOptions::timeout(Duration::from_millis(20));
    let mut h = p
        .submit(opts, |t| {
            assert!(t.deadline().is_some());
            loop {
                t.check()?;
                std::thread::sleep(Duration::from_millis(1));
            }
            #[allow(unreachable_code)]
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::TimedOut));
}

#[test]
fn cancel_before_start_is_guaranteed() {
    let p = pool(1, 8);
    let gate = Gate::new();
    let g = gate.clone();
    let _blocker = p.submit(none(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let mut h = p.submit(none(), move |_| Ok::<_, String>(r.store(true, Ordering::SeqCst))).unwrap();
    let (tx, rx) = mpsc::channel();
    let r = ran.clone();
    let cb = p
        .submit_with(
            none(),
            move |_| Ok::<_, String>(r.store(true, Ordering::SeqCst)),
            move |o| tx.send(o).unwrap(),
        )
        .unwrap();
    assert_eq!(h.cancel(), CancelResult::NotStarted);
    assert_eq!(cb.canceller().cancel(), CancelResult::NotStarted);
    assert_eq!(h.cancel(), CancelResult::AlreadyFinished);
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::Cancelled), "settled at once, before a worker is free");
    gate.open();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), Outcome::Cancelled);
    p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(p.metrics().cancelled, 2);
}

#[test]
fn cancel_while_running_is_cooperative() {
    let p = pool(1, 8);
    let (started_tx, started) = mpsc::channel();
    let mut h = p
        .submit(none(), move |t| {
            started_tx.send(()).unwrap();
            while !t.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err::<(), _>("stopped".to_string())
        })
        .unwrap();
    started.recv_timeout(LONG).unwrap();
    assert_eq!(h.cancel(), CancelResult::Running);
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::Cancelled));
    assert_eq!(h.cancel(), CancelResult::AlreadyFinished);

    // A job that ignores the request finishes normally.
    let (started_tx, started) = mpsc::channel();
    let gate = Gate::new();
    let g = gate.clone();
    let mut h = p
        .submit(none(), move |_| {
            started_tx.send(()).unwrap();
            g.pass();
            Ok::<_, String>(5)
        })
        .unwrap();
    started.recv_timeout(LONG).unwrap();
    assert_eq!(h.cancel(), CancelResult::Running);
    gate.open();
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::Ok(5)));
}

#[test]
fn a_panicking_callback_is_contained() {
    let p = pool(1, 8);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut h = p
        .submit_with(
            none(),
            |_| Ok::<_, String>(1),
            move |_| {
                c.fetch_add(1, Ordering::SeqCst);
                panic!("callback boom")
            },
        )
        .unwrap();
    assert!(h.has_callback());
    assert_eq!(h.try_get(), None, "a callback job's handle never yields the outcome");
    assert_eq!(h.wait(Some(Duration::from_millis(1))), None);
    let mut after = p.submit(none(), |_| Ok::<_, String>(2)).unwrap();
    assert_eq!(after.wait(Some(LONG)), Some(Outcome::Ok(2)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let m = p.metrics();
    assert_eq!((m.completed, m.callback_panicked), (2, 1));
}

#[test]
fn a_dropped_handle_drops_the_result_and_counts_it() {
    let p = pool(1, 8);
    let gate = Gate::new();
    let g = gate.clone();
    let h = p.submit(none(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    drop(h);
    gate.open();
    let r = p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
    assert!(r.is_clean());
    let m = p.metrics();
    assert_eq!((m.completed, m.dropped), (1, 1));
}

#[test]
fn blocking_submit_waits_for_room_or_times_out() {
    let p = pool(1, 1);
    let gate = Gate::new();
    let g = gate.clone();
    let _blocker = p.submit(none(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    let _filler = p.submit(none(), |_| Ok::<_, String>(())).unwrap();
    let start = Instant::now();
    let r = p.submit_blocking(none(), |_| Ok::<_, String>(()), Duration::from_millis(30));
    assert_eq!(r.unwrap_err(), Rejected::Overloaded);
    assert!(start.elapsed() >= Duration::from_millis(30));
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            gate.open();
        })
    };
    let mut h = p.submit_blocking(none(), |_| Ok::<_, String>(3), LONG).unwrap();
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::Ok(3)));
    opener.join().unwrap();
}

#[test]
fn blocking_submit_from_a_worker_would_deadlock() {
    let p = pool(1, 4);
    let inner = p.clone();
    let mut h = p
        .submit(none(), move |_| {
            assert!(inner.is_worker_thread());
            let r = inner.submit_blocking(SubmitOptions::default(), |_| Ok::<_, String>(()), LONG);
            // A plain submit from a worker is fine: it never blocks.
            let plain = inner.submit(SubmitOptions::default(), |_| Ok::<_, String>(()));
            Ok::<_, String>((r.err(), plain.is_ok()))
        })
        .unwrap();
    assert_eq!(h.wait(Some(LONG)), Some(Outcome::Ok((Some(Rejected::WouldDeadlock), true))));
    assert!(!p.is_worker_thread());
}

#[test]
fn bad_configs_are_errors_not_panics() {
    use ferrets_core::pool::{Pool, PoolConfig};
    for (workers, queue) in [(0, 1), (1, 0), (1_000_000, 1), (1, usize::MAX)] {
        let e = Pool::new(PoolConfig { workers, queue, name: "x".into() }).unwrap_err();
        assert!(e.to_string().starts_with("invalid pool configuration"), "{e}");
    }
    assert!(Pool::new(PoolConfig { name: "a\0b".into(), ..PoolConfig::default() }).is_err());
    let d = PoolConfig::default();
    assert!(d.workers >= 1 && d.queue == 1024);
}
