//! `safe_fixtable/2`: fixations by process, released when the process
//! unfixes or dies.
//!
//! Traversal by [`crate::iter`] already visits each key present throughout
//! exactly once, whatever is inserted or deleted meanwhile, so a fixation
//! changes one thing: `next/2` of a key deleted since it was returned gives
//! the key after it instead of `badarg`, as ETS does for a fixed table.

use rustler::{Encoder, Env, Error, LocalPid, NifResult, Term};

use crate::names;
use crate::table::{resolve, Access, TableResource};

/// `safe_fixtable(Tab, Fix)`; `mono` and `stamp` are the caller's
/// `erlang:monotonic_time()` and `erlang:timestamp()`, kept as the fixation
/// time when the table was not fixed yet.
#[rustler::nif]
fn safe_fixtable<'a>(
    env: Env<'a>,
    tab: Term<'a>,
    fix: Term<'a>,
    mono: i64,
    stamp: (i64, i64, i64),
) -> NifResult<Term<'a>> {
    let t = resolve(env, tab, Access::Read)?;
    let fix: bool = fix.decode()?;
    let pid = env.pid();
    let arc = names::by_id(t.id).ok_or(Error::BadArg)?;
    let mut fixes = t.fixes.lock().unwrap_or_else(|e| e.into_inner());
    let mine = fixes.by.iter().position(|(p, _, _)| *p == pid);
    match (fix, mine) {
        (true, Some(i)) => fixes.by[i].1 += 1,
        (true, None) => {
            let mon = env.monitor(&arc, &pid).ok_or(Error::BadArg)?;
            fixes.by.push((pid, 1, mon));
            fixes.since.get_or_insert((mono, stamp));
        }
        (false, Some(i)) => {
            fixes.by[i].1 -= 1;
            if fixes.by[i].1 == 0 {
                let (_, _, mon) = fixes.by.swap_remove(i);
                env.demonitor(&arc, &mon);
                if fixes.by.is_empty() {
                    fixes.since = None;
                }
            }
        }
        // Unfixing a table this process did not fix is a no-op, as in ETS.
        (false, None) => {}
    }
    Ok(true.encode(env))
}

/// A monitored process died: its fixations go.
pub fn fixer_down(t: &TableResource, pid: &LocalPid) {
    let mut fixes = t.fixes.lock().unwrap_or_else(|e| e.into_inner());
    fixes.by.retain(|(p, _, _)| p != pid);
    if fixes.by.is_empty() {
        fixes.since = None;
    }
}

/// Whether any process has the table fixed.
pub fn is_fixed(t: &TableResource) -> bool {
    !t.fixes.lock().unwrap_or_else(|e| e.into_inner()).by.is_empty()
}

/// `info(Tab, safe_fixed)` (`monotonic`: `safe_fixed_monotonic_time`):
/// `false`, or the fixation time and each fixing process with its count.
pub fn info<'a>(env: Env<'a>, t: &TableResource, monotonic: bool) -> Term<'a> {
    let fixes = t.fixes.lock().unwrap_or_else(|e| e.into_inner());
    let Some((mono, stamp)) = fixes.since.filter(|_| !fixes.by.is_empty()) else { return false.encode(env) };
    let by: Vec<(LocalPid, u64)> = fixes.by.iter().map(|(p, n, _)| (*p, *n)).collect();
    if monotonic {
        (mono, by).encode(env)
    } else {
        (stamp, by).encode(env)
    }
}
