//! Workers spin briefly after a job, then park: an idle pool burns no CPU.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use ferrets_core::pool::{Outcome, Pool, PoolConfig, ShutdownMode, SubmitOptions};

/// This process's user + system CPU time, in clock ticks (`/proc/self/stat`).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

#[test]
fn an_idle_pool_parks_its_workers() {
    let pool = Pool::new(PoolConfig { workers: 2, queue: 64, name: "idle".into() }).unwrap();
    // Busy for a while (workers are awake and spinning between jobs)...
    for i in 0..200u32 {
        let mut h = pool.submit(SubmitOptions::default(), move |_| Ok::<_, String>(i)).unwrap();
        assert_eq!(h.wait(None), Some(Outcome::Ok(i)));
    }
    // ...then idle: after their short spin the workers must park.
    std::thread::sleep(Duration::from_millis(50));
    let (t0, c0) = (Instant::now(), cpu_ticks());
    std::thread::sleep(Duration::from_millis(600));
    let (elapsed, used) = (t0.elapsed(), cpu_ticks() - c0);
    // Two spinning workers would use ~120 ticks (at 100 Hz) here; parked ones ~0.
    assert!(used <= 10, "idle pool used {used} CPU ticks in {elapsed:?}");
    // And a job after the idle spell is still picked up (a parked worker is woken).
    let mut h = pool.submit(SubmitOptions::default(), |_| Ok::<_, String>(7)).unwrap();
    assert_eq!(h.wait(Some(Duration::from_secs(5))), Some(Outcome::Ok(7)));
    assert!(pool.shutdown(ShutdownMode::Abort).is_clean());
}
