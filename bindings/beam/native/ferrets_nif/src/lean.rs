//! A leaner NIF entry for the hot per-key operations.
//!
//! rustler's `#[rustler::nif]` wrapper collects the arguments into a `Vec`
//! on every call: a malloc and a free, ~3% of an `insert` or an
//! `update_counter`. [`lean_nif!`] registers a function the same way (in
//! rustler's NIF inventory, so `rustler::init!` exports it) but hands the
//! arguments over as they are, and encodes a successful result directly.
//! Everything else is rustler's: panics are caught, and errors go through
//! its `handle_nif_result`, so a `badarg` or a panic ends exactly as with
//! `#[rustler::nif]`. One addition: a call that finds a long list insert
//! still being stored after helping for a while reschedules itself (see
//! [`crate::batch`]).

/// Registers `$f(env, arg0, arg1, ...)` as the normal-scheduler NIF `$name`
/// taking one argument per index listed (`0, 1` for arity 2); `$f` takes an
/// [`rustler::Env`] and one [`rustler::Term`] per argument and returns a
/// `NifResult` of something encodable.
macro_rules! lean_nif {
    ($name:literal => $f:path, $($i:literal),+) => {
        rustler::codegen_runtime::inventory::submit!(rustler::Nif {
            name: concat!($name, "\0").as_ptr().cast(),
            arity: <[usize]>::len(&[$($i),+]) as rustler::codegen_runtime::c_uint,
            flags: rustler::SchedulerFlags::Normal as rustler::codegen_runtime::c_uint,
            raw_func: {
                unsafe extern "C" fn raw(
                    env: *mut rustler::sys::ErlNifEnv,
                    argc: rustler::codegen_runtime::c_int,
                    argv: *const rustler::sys::ErlNifTerm,
                ) -> rustler::sys::ErlNifTerm {
                    let lifetime = ();
                    // SAFETY: the VM calls this with the process-bound
                    // environment of the call, alive until we return.
                    let env = unsafe { rustler::Env::new(&lifetime, env) };
                    // SAFETY: the VM passes `argc` terms of `env` at `argv`,
                    // as many as the arity this function is registered with.
                    let args = unsafe { std::slice::from_raw_parts(argv, argc as usize) };
                    let result = std::panic::catch_unwind(move || {
                        // SAFETY: the terms belong to `env`.
                        $f(env, $(unsafe { rustler::Term::new(env, args[$i]) }),+)
                    });
                    match result {
                        // A long list insert is being stored and this call
                        // helped as long as it may: yield, then run again.
                        Ok(Err(rustler::Error::RaiseAtom(a))) if a == crate::batch::BUSY => {
                            // SAFETY: `env` is this call's process-bound
                            // environment; `raw` has the NIF signature and
                            // takes the same `argc` arguments at `argv`, which
                            // the VM keeps for the rescheduled call.
                            unsafe {
                                rustler::sys::enif_consume_timeslice(env.as_c_arg(), 100);
                                rustler::sys::enif_schedule_nif(
                                    env.as_c_arg(),
                                    concat!($name, "\0").as_ptr().cast(),
                                    0,
                                    raw,
                                    argc,
                                    argv,
                                )
                            }
                        }
                        // The usual outcome, encoded directly (what rustler's
                        // `NifReturnable` does for it, minus two calls).
                        Ok(Ok(value)) => rustler::Encoder::encode(&value, env).as_c_arg(),
                        other => {
                            let returned = rustler::codegen_runtime::handle_nif_result(other, env);
                            // SAFETY: `env` is this call's environment.
                            unsafe { returned.apply(env) }
                        }
                    }
                }
                raw
            },
        });
    };
}

pub(crate) use lean_nif;
