//! Helpers shared by the pool tests: a gate that blocks jobs until opened.
#![allow(dead_code)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use ferrets_core::pool::{Pool, PoolConfig};

/// Jobs `pass()` through it only once it is opened; `entered` counts arrivals.
#[derive(Clone, Default)]
pub struct Gate {
    inner: Arc<(Mutex<(bool, usize)>, Condvar)>,
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Blocks until the gate is open.
    pub fn pass(&self) {
        let (m, cv) = &*self.inner;
        let mut g = m.lock().unwrap();
        g.1 += 1;
        cv.notify_all();
        while !g.0 {
            g = cv.wait(g).unwrap();
        }
    }

    /// Records an arrival without waiting.
    pub fn arrive(&self) {
        let (m, cv) = &*self.inner;
        m.lock().unwrap().1 += 1;
        cv.notify_all();
    }

    /// Waits until `n` jobs have arrived at the gate (generous timeout).
    pub fn wait_entered(&self, n: usize) {
        let (m, cv) = &*self.inner;
        let g = m.lock().unwrap();
        let (g, t) = cv.wait_timeout_while(g, Duration::from_secs(20), |g| g.1 < n).unwrap();
        assert!(!t.timed_out(), "only {} of {n} jobs reached the gate", g.1);
    }

    pub fn open(&self) {
        let (m, cv) = &*self.inner;
        m.lock().unwrap().0 = true;
        cv.notify_all();
    }
}

pub fn pool(workers: usize, queue: usize) -> Pool {
    Pool::new(PoolConfig { workers, queue, name: "test".into() }).unwrap()
}

pub const LONG: Duration = Duration::from_secs(20);
