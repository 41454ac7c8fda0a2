//! The Rust half of `make -C tests/c bench`: the same workload as
//! `tests/c/bench.c` (same keys, values, table options and operation order),
//! calling `ferrets_core` directly instead of through the C ABI.
//!
//! Prints one `op ns_per_op` line per operation (best of ROUNDS rounds).

use std::hint::black_box;

use ferrets_core::BytesTable;

/// Keys in the table (must match bench.c).
const KEYS: usize = 10_000;
/// Operations per round (must match bench.c).
const OPS: usize = 200_000;
/// Rounds per operation; the best one is reported (must match bench.c).
const ROUNDS: usize = 15;
/// Value size in bytes (must match bench.c).
const VALUE_LEN: usize = 32;
/// Stride through the keys, co-prime with KEYS (must match bench.c).
const STRIDE: usize = 7919;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// Linux `CLOCK_THREAD_CPUTIME_ID`: this thread's CPU time, so time spent
/// descheduled by other load on the machine is not counted (as in bench.c).
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// Nanoseconds of CPU time this thread has used.
fn cpu_ns() -> f64 {
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

fn best(mut round: impl FnMut() -> f64) -> f64 {
    (0..ROUNDS).map(|_| round()).fold(f64::INFINITY, f64::min)
}

fn main() {
    // One contiguous array of 16-byte keys, like bench.c's. Lengths are
    // runtime values (`black_box`), as they are for a C caller: otherwise
    // the compiler would specialise copies to the constant sizes.
    let key_len = black_box(16usize);
    let mut keys = Vec::with_capacity(KEYS * key_len);
    for i in 0..KEYS {
        keys.extend_from_slice(format!("key:{i:012}").as_bytes());
    }
    assert_eq!(keys.len(), KEYS * key_len);
    let value = vec![0xabu8; black_box(VALUE_LEN)];
    let table = BytesTable::new();
    let order = |i: usize| {
        let at = (i * STRIDE) % KEYS * key_len;
        &keys[at..at + key_len]
    };
    for k in keys.chunks_exact(key_len) {
        table.insert(k.into(), value.as_slice().into());
    }

    let put = best(|| {
        let start = cpu_ns();
        for i in 0..OPS {
            let k = order(i);
            black_box(table.insert(k.into(), value.as_slice().into()));
        }
        (cpu_ns() - start) / OPS as f64
    });
    let mut buf = [0u8; 64];
    let get_into = best(|| {
        let start = cpu_ns();
        for i in 0..OPS {
            let k = order(i);
            let n = table.get_with(k, |v| {
                buf[..v.len()].copy_from_slice(v);
                v.len()
            });
            black_box((n, &buf));
        }
        (cpu_ns() - start) / OPS as f64
    });
    let get = best(|| {
        let start = cpu_ns();
        for i in 0..OPS {
            let k = order(i);
            black_box(table.get(k));
        }
        (cpu_ns() - start) / OPS as f64
    });
    let contains = best(|| {
        let start = cpu_ns();
        for i in 0..OPS {
            black_box(table.contains_key(order(i)));
        }
        (cpu_ns() - start) / OPS as f64
    });
    println!("put {put:.1}");
    println!("get_into {get_into:.1}");
    println!("get {get:.1}");
    println!("contains {contains:.1}");
}
