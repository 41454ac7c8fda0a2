//! The metrics add up: every accepted job is counted once, by outcome.
#![allow(clippy::unit_arg)] // `Ok(gate.pass())` reads well in tests

mod pool_common;

use std::time::{Duration, Instant};

use ferrets_core::pool::{Outcome, Rejected, ShutdownMode, SubmitOptions};
use pool_common::{pool, Gate, LONG};

#[test]
fn counts_and_latencies_add_up() {
    let p = pool(1, 4);
    let gate = Gate::new();
    let g = gate.clone();
    let _blocker = p.submit(SubmitOptions::default(), move |_| Ok::<_, String>(g.pass())).unwrap();
    gate.wait_entered(1);
    let m = p.metrics();
    assert_eq!((m.in_flight, m.queue_depth, m.workers, m.queue_capacity), (1, 0, 1, 4));
    let mut cancel_me = p.submit(SubmitOptions::default(), |_| Ok::<_, String>(())).unwrap();
    let _err = p.submit(SubmitOptions::default(), |_| Err::<(), _>("e".to_string())).unwrap();
    let _boom = p.submit(SubmitOptions::default(), |_| -> Result<(), String> { panic!("p") }).unwrap();
    let expired =
        p.submit(SubmitOptions { deadline: Some(Instant::now()) }, |_| Ok::<_, String>(())).unwrap();
    assert_eq!(
        p.submit(SubmitOptions::default(), |_| Ok::<_, String>(())).unwrap_err(),
        Rejected::Overloaded
    );
    assert_eq!(p.metrics().queue_depth, 4);
    cancel_me.cancel();
    assert_eq!(cancel_me.wait(Some(LONG)), Some(Outcome::Cancelled));
    drop(expired); // its TimedOut outcome is dropped with the handle gone
    gate.open();
    let report = p.shutdown(ShutdownMode::Drain { deadline: Instant::now() + LONG });
    assert!(report.is_clean(), "{report:?}");
    let m = p.metrics();
    assert_eq!(m.submitted, 5);
    assert_eq!(m.rejected, 1);
    assert_eq!((m.completed, m.failed, m.panicked, m.cancelled, m.timed_out), (1, 1, 1, 1, 1));
    assert_eq!(m.finished(), m.submitted);
    assert_eq!(m.dropped, 1);
    assert_eq!((m.in_flight, m.queue_depth), (0, 0));
    assert_eq!(m.queue_wait.count, 5);
    assert_eq!(m.run_time.count, 3, "only jobs that ran are timed");
    assert!(m.run_time.max >= m.run_time.p50);
    assert!(m.queue_wait.max >= Duration::ZERO);
}
