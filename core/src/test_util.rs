//! Helpers of the crate's unit tests.

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

/// Runs `f` on another thread and fails the test with `hang` if it has not
/// returned within `secs` seconds, so that a livelock (a copy with nowhere
/// to go) fails the test instead of blocking the suite. A panic in `f`
/// fails the test too.
pub(crate) fn finishes_within(secs: u64, hang: &str, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => {}
        Err(RecvTimeoutError::Timeout) => panic!("{hang}"),
        Err(RecvTimeoutError::Disconnected) => {
            let _ = worker.join();
            panic!("the test's thread panicked (see above)");
        }
    }
}
