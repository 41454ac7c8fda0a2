//! Term and pid words: the raw machine word behind immediates (atoms, local
//! pids), which the tables store and compare directly.

use rustler::sys::{ErlNifPid, ErlNifTerm};
use rustler::LocalPid;

// Terms and local pids are one machine word on the 64-bit VMs we build for.
const _: () = assert!(size_of::<ErlNifTerm>() == size_of::<u64>());
const _: () = assert!(size_of::<ErlNifPid>() == size_of::<u64>());

/// The machine word of a term.
pub fn word(t: ErlNifTerm) -> u64 {
    // SAFETY: `ErlNifTerm` is a transparent wrapper around the term word.
    unsafe { std::mem::transmute::<ErlNifTerm, u64>(t) }
}

/// The term of a machine word (only meaningful for words from [`word`]).
pub fn term_of(w: u64) -> ErlNifTerm {
    // SAFETY: `ErlNifTerm` is a transparent wrapper around the term word.
    unsafe { std::mem::transmute::<u64, ErlNifTerm>(w) }
}

/// The word of a local pid.
pub fn pid_word(p: &LocalPid) -> u64 {
    // SAFETY: `ErlNifPid` is a C struct holding only the pid term word.
    unsafe { std::mem::transmute::<ErlNifPid, u64>(*p.as_c_arg()) }
}

/// The elements of a proper list; `badarg` for an improper list (rustler's
/// list iterator panics on an improper tail) or a non-list.
pub fn proper_list<'a>(list: rustler::Term<'a>) -> rustler::NifResult<Vec<rustler::Term<'a>>> {
    // `enif_get_list_length` fails on an improper list.
    list.list_length()?;
    list.decode()
}
