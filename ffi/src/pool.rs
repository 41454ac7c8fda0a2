//! `ferrets_pool_*`, `ferrets_job_*`, `ferrets_token_*`: the bounded offload
//! pool over the C ABI.
//!
//! A C job is a function pointer and a `void *` argument. It runs on a pool
//! worker thread, polls its cancel token, returns a status (0 = success) and
//! may store an opaque result pointer. The outcome reaches C either through a
//! completion callback (run on the worker) or by polling a job handle.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrets_core::pool::{
    CancelResult, CancelToken, Canceller, JobHandle, Outcome, Pool, PoolConfig, Rejected, ShutdownMode,
    ShutdownReport, SubmitOptions,
};

use crate::guard::{guard, Error};
use crate::status::ferrets_status_t::{self, *};

/// Pass as a wait timeout to wait without a limit.
pub const FERRETS_WAIT_FOREVER: u64 = u64::MAX;
/// `ferrets_pool_shutdown` mode: run what is queued, up to a deadline.
pub const FERRETS_SHUTDOWN_DRAIN: u32 = 0;
/// `ferrets_pool_shutdown` mode: complete what is queued as cancelled and
/// ask running jobs to stop.
pub const FERRETS_SHUTDOWN_ABORT: u32 = 1;

/// An opaque bounded pool of worker threads. Create with `ferrets_pool_new`,
/// release with `ferrets_pool_free`. A `const ferrets_pool_t *` may be used
/// from any number of threads at once.
#[allow(non_camel_case_types)]
pub struct ferrets_pool_t {
    pool: Pool,
}

/// The cancel token a running job polls. Valid only during the job call;
/// never store it.
#[allow(non_camel_case_types)]
pub struct ferrets_token_t {
    _opaque: [u8; 0],
}

/// An opaque handle to a submitted job. Release with `ferrets_job_free`.
/// `ferrets_job_cancel` and `ferrets_job_id` may be called from any thread;
/// `ferrets_job_try_get` and `ferrets_job_wait` serialise on the handle.
#[allow(non_camel_case_types)]
pub struct ferrets_job_t {
    handle: Mutex<HandleState>,
    canceller: Canceller,
    cjob: Arc<CJob>,
    id: u64,
}

struct HandleState {
    handle: JobHandle<()>,
    taken: bool,
}

/// Settings for `ferrets_pool_new`. Zero-initialise for the defaults.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrets_pool_options_t {
    /// Worker threads; 0 = one per available core.
    pub workers: usize,
    /// Queue capacity; 0 = 1024. A submit that finds it full fails with
    /// `FERRETS_ERR_OVERLOADED`.
    pub queue: usize,
    /// NUL-terminated UTF-8 name (threads are named `name-N`), borrowed for
    /// the call; NULL = "ferrets-pool".
    pub name: *const c_char,
}

/// A job body. Runs on a worker thread with the `arg` given at submit and a
/// token valid for this call only (poll it with `ferrets_token_is_cancelled`).
/// Returns 0 on success, any other value on failure; it may store a result
/// pointer in `*out_value` (initially NULL) whatever it returns. The library
/// never dereferences that pointer: it passes it to whoever receives the
/// outcome, or to the job's `free_value` if nobody does.
#[allow(non_camel_case_types)]
pub type ferrets_job_fn = Option<
    unsafe extern "C" fn(arg: *mut c_void, token: *const ferrets_token_t, out_value: *mut *mut c_void) -> i32,
>;

/// A completion callback: called exactly once per accepted job, on a worker
/// thread, with the job's `arg` and its result (valid during the call only;
/// the callback owns `result->value`). It must be fast (it occupies the
/// worker) and must not call `ferrets_pool_submit_blocking` on the same pool
/// (that fails with `FERRETS_ERR_WOULD_DEADLOCK`); `ferrets_pool_submit` is fine.
#[allow(non_camel_case_types)]
pub type ferrets_job_done_fn =
    Option<unsafe extern "C" fn(arg: *mut c_void, result: *const ferrets_job_result_t)>;

/// Frees a job's result pointer that nobody received (handle freed first, or
/// fire-and-forget). May run on any thread.
#[allow(non_camel_case_types)]
pub type ferrets_value_free_fn = Option<unsafe extern "C" fn(value: *mut c_void)>;

/// What to run and how to report it (`ferrets_pool_submit`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrets_job_spec_t {
    /// The job body (required).
    pub run: ferrets_job_fn,
    /// Passed to `run` and `on_done`; owned by the caller, who keeps it valid
    /// until the job has ended (its callback ran, or its result was received).
    /// It may be used from another thread.
    pub arg: *mut c_void,
    /// Deadline, relative to the submit, in milliseconds; 0 = none. A job
    /// still queued at its deadline ends as `FERRETS_OUTCOME_TIMED_OUT`
    /// without running; a running one sees it through its token.
    pub timeout_ms: u64,
    /// Optional completion callback. When set, the outcome goes there and a
    /// job handle (if requested) can only cancel.
    pub on_done: ferrets_job_done_fn,
    /// Optional destructor for a result pointer nobody received.
    pub free_value: ferrets_value_free_fn,
}

/// How a job ended.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrets_outcome_t {
    /// The job returned 0.
    FERRETS_OUTCOME_OK = 0,
    /// The job returned a non-zero status (in `code`).
    FERRETS_OUTCOME_ERROR = 1,
    /// The job panicked (cannot happen for a C function; kept for completeness).
    FERRETS_OUTCOME_PANICKED = 2,
    /// Cancelled before it started, or it returned non-zero after its token
    /// reported cancellation, or the pool was aborted.
    FERRETS_OUTCOME_CANCELLED = 3,
    /// Its deadline passed in the queue (never ran) or it returned non-zero
    /// after its token reported the deadline.
    FERRETS_OUTCOME_TIMED_OUT = 4,
    /// Still queued when a draining shutdown reached its deadline; never ran.
    FERRETS_OUTCOME_SHUTDOWN = 5,
}

/// The outcome of a job.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ferrets_job_result_t {
    /// How the job ended.
    pub outcome: ferrets_outcome_t,
    /// What the job function returned (0 if it never ran).
    pub code: i32,
    /// The pointer the job stored in `*out_value` (NULL if none or it never
    /// ran). Owned by the receiver from now on.
    pub value: *mut c_void,
    /// The job's id.
    pub job_id: u64,
}

/// What `ferrets_job_cancel` achieved.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ferrets_cancel_result_t {
    /// It had not started: it never will, and ends as cancelled.
    FERRETS_CANCEL_NOT_STARTED = 0,
    /// It is running: its token now reports cancellation (cooperative).
    FERRETS_CANCEL_RUNNING = 1,
    /// It had already ended (or was already cancelled).
    FERRETS_CANCEL_ALREADY_FINISHED = 2,
}

/// A snapshot of a pool's counters (`ferrets_pool_metrics`). Latencies are
/// in nanoseconds, each percentile within 12.5 %.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ferrets_pool_metrics_t {
    /// Worker threads.
    pub workers: u64,
    /// Queue capacity.
    pub queue_capacity: u64,
    /// Jobs waiting in the queue now.
    pub queue_depth: u64,
    /// Jobs running now.
    pub in_flight: u64,
    /// Jobs accepted.
    pub submitted: u64,
    /// Submits refused (overloaded, shutting down, would deadlock).
    pub rejected: u64,
    /// Jobs that returned 0.
    pub completed: u64,
    /// Jobs that returned non-zero.
    pub failed: u64,
    /// Jobs that panicked.
    pub panicked: u64,
    /// Jobs that ended cancelled.
    pub cancelled: u64,
    /// Jobs that ended timed out.
    pub timed_out: u64,
    /// Jobs that ended as shut down (never ran).
    pub shutdown: u64,
    /// Results dropped because their handle was freed first.
    pub dropped: u64,
    /// Median time from submit to start.
    pub queue_wait_p50_ns: u64,
    /// 99th percentile time from submit to start.
    pub queue_wait_p99_ns: u64,
    /// Longest time from submit to start.
    pub queue_wait_max_ns: u64,
    /// Median run time.
    pub run_time_p50_ns: u64,
    /// 99th percentile run time.
    pub run_time_p99_ns: u64,
    /// Longest run time.
    pub run_time_max_ns: u64,
}

/// What `ferrets_pool_shutdown` did.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ferrets_shutdown_report_t {
    /// The pool had already been shut down; nothing else was done.
    pub already_shut_down: bool,
    /// Jobs that ran to an end during shutdown.
    pub ran: u64,
    /// Jobs that ended cancelled during shutdown.
    pub cancelled: u64,
    /// Jobs that ended timed out during shutdown.
    pub timed_out: u64,
    /// Queued jobs that never ran because the drain deadline passed.
    pub shut_down: u64,
    /// Worker threads joined.
    pub joined: u64,
    /// Workers still busy in a job when shutdown returned (detached; each
    /// exits when its job returns, and that job's outcome is still delivered).
    pub stragglers: u64,
    /// How long shutdown took, in nanoseconds.
    pub elapsed_ns: u64,
}

/// A raw pointer the caller allows to cross threads (see `ferrets_job_spec_t`).
#[derive(Clone, Copy)]
struct SendPtr(*mut c_void);

// SAFETY: the C contract of `ferrets_job_spec_t::arg` and of result values
// says they may be used from another thread; the library never dereferences them.
unsafe impl Send for SendPtr {}
// SAFETY: as above; the library only copies the pointer value.
unsafe impl Sync for SendPtr {}

/// The C side of one job, shared by its closure, its callback and its handle.
struct CJob {
    arg: SendPtr,
    free_value: ferrets_value_free_fn,
    code: AtomicI32,
    /// The job's result pointer until someone receives it.
    value: AtomicPtr<c_void>,
}

impl CJob {
    fn result(&self, outcome: &Outcome<()>, job_id: u64) -> ferrets_job_result_t {
        use ferrets_outcome_t::*;
        ferrets_job_result_t {
            outcome: match outcome {
                Outcome::Ok(()) => FERRETS_OUTCOME_OK,
                Outcome::Error(_) => FERRETS_OUTCOME_ERROR,
                Outcome::Panicked(_) => FERRETS_OUTCOME_PANICKED,
                Outcome::Cancelled => FERRETS_OUTCOME_CANCELLED,
                Outcome::TimedOut => FERRETS_OUTCOME_TIMED_OUT,
                Outcome::Shutdown => FERRETS_OUTCOME_SHUTDOWN,
            },
            code: self.code.load(Ordering::Acquire),
            value: self.value.swap(std::ptr::null_mut(), Ordering::AcqRel),
            job_id,
        }
    }
}

impl Drop for CJob {
    fn drop(&mut self) {
        let v = *self.value.get_mut();
        if let (false, Some(free)) = (v.is_null(), self.free_value) {
            // SAFETY: `v` is the job's own result pointer, received by nobody;
            // the caller supplied `free` to release exactly such pointers.
            unsafe { free(v) };
        }
    }
}

fn out<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller guarantees a non-NULL out-parameter is valid for writes.
    unsafe { p.as_mut() }.ok_or_else(|| Error::null(name))
}

unsafe fn pool<'a>(p: *const ferrets_pool_t) -> Result<&'a Pool, Error> {
    // SAFETY: the caller guarantees a non-NULL `p` came from ferrets_pool_new and is not freed.
    unsafe { p.as_ref() }.map(|p| &p.pool).ok_or_else(|| Error::null("pool"))
}

unsafe fn job<'a>(j: *const ferrets_job_t) -> Result<&'a ferrets_job_t, Error> {
    // SAFETY: the caller guarantees a non-NULL `j` came from a submit and is not freed.
    unsafe { j.as_ref() }.ok_or_else(|| Error::null("job"))
}

fn rejected(r: Rejected) -> Error {
    let status = match r {
        Rejected::Overloaded => FERRETS_ERR_OVERLOADED,
        Rejected::ShuttingDown => FERRETS_ERR_SHUTTING_DOWN,
        Rejected::WouldDeadlock => FERRETS_ERR_WOULD_DEADLOCK,
    };
    Error::new(status, r.to_string())
}

fn millis(ms: u64) -> Option<Duration> {
    (ms != FERRETS_WAIT_FOREVER).then(|| Duration::from_millis(ms))
}

/// Returns the default pool options (all zero: cores, 1024, "ferrets-pool").
#[no_mangle]
pub extern "C" fn ferrets_pool_options_default() -> ferrets_pool_options_t {
    ferrets_pool_options_t { workers: 0, queue: 0, name: std::ptr::null() }
}

/// Starts a pool and stores its handle in `*out_pool`. `options` may be NULL
/// for the defaults. The caller owns the handle and releases it with
/// `ferrets_pool_free`. Fails with `FERRETS_ERR_INVALID_ARGUMENT` for out-of-range
/// sizes or a name that is not UTF-8.
#[no_mangle]
pub unsafe extern "C" fn ferrets_pool_new(
    options: *const ferrets_pool_options_t,
    out_pool: *mut *mut ferrets_pool_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: the caller guarantees a non-NULL `options` points to a valid struct.
        let o = unsafe { options.as_ref() }.copied().unwrap_or_else(|| ferrets_pool_options_default());
        let out_pool = out(out_pool, "out_pool")?;
        let mut cfg = PoolConfig::default();
        if o.workers != 0 {
            cfg.workers = o.workers;
        }
        if o.queue != 0 {
            cfg.queue = o.queue;
        }
        if !o.name.is_null() {
            // SAFETY: the caller guarantees `name` is a NUL-terminated string.
            let name = unsafe { CStr::from_ptr(o.name) };
            cfg.name = name
                .to_str()
                .map_err(|_| Error::new(FERRETS_ERR_INVALID_ARGUMENT, "pool name is not valid UTF-8"))?
                .to_string();
        }
        let pool = Pool::new(cfg).map_err(|e| Error::new(FERRETS_ERR_INVALID_ARGUMENT, e.to_string()))?;
        *out_pool = Box::into_raw(Box::new(ferrets_pool_t { pool }));
        Ok(())
    })
}

/// Frees a pool. NULL is a no-op. If it was not shut down, this aborts it
/// first (see `ferrets_pool_shutdown` with `FERRETS_SHUTDOWN_ABORT`): queued
/// jobs end cancelled, running ones are asked to stop. Job handles stay valid.
/// No other call on this pool may be running or start afterwards.
#[no_mangle]
pub unsafe extern "C" fn ferrets_pool_free(pool: *mut ferrets_pool_t) {
    if pool.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: per the contract, `pool` came from ferrets_pool_new and is freed once.
        let p = unsafe { Box::from_raw(pool) };
        if !p.pool.is_shutting_down() {
            p.pool.shutdown(ShutdownMode::Abort);
        }
        drop(p);
        Ok(())
    });
}

unsafe fn submit(
    pool: *const ferrets_pool_t,
    spec: *const ferrets_job_spec_t,
    wait: Option<Duration>,
    out_job: *mut *mut ferrets_job_t,
) -> Result<(), Error> {
    // SAFETY: forwarded caller contract.
    let p = unsafe { self::pool(pool)? };
    // SAFETY: the caller guarantees a non-NULL `spec` points to a valid struct.
    let spec = unsafe { spec.as_ref() }.copied().ok_or_else(|| Error::null("spec"))?;
    let run = spec.run.ok_or_else(|| Error::null("spec->run"))?;
    let opts = if spec.timeout_ms == 0 {
        SubmitOptions::default()
    } else {
        SubmitOptions { deadline: Instant::now().checked_add(Duration::from_millis(spec.timeout_ms)) }
    };
    let cjob = Arc::new(CJob {
        arg: SendPtr(spec.arg),
        free_value: spec.free_value,
        code: AtomicI32::new(0),
        value: AtomicPtr::new(std::ptr::null_mut()),
    });
    let c = cjob.clone();
    let body = move |token: &CancelToken| -> Result<(), String> {
        let mut value = std::ptr::null_mut();
        let token = (token as *const CancelToken).cast::<ferrets_token_t>();
        // SAFETY: the caller supplied `run` and `arg` for exactly this call;
        // `token` stays valid for the call; `value` is a valid out-pointer.
        let code = unsafe { run(c.arg.0, token, &mut value) };
        c.value.store(value, Ordering::Release);
        c.code.store(code, Ordering::Release);
        if code == 0 {
            Ok(())
        } else {
            Err(format!("job returned status {code}"))
        }
    };
    let handle = match spec.on_done {
        Some(done) => {
            let c = cjob.clone();
            let on_done = move |id: u64, o: Outcome<()>| {
                let result = c.result(&o, id);
                // SAFETY: the caller supplied `done` and `arg`; `result` lives for the call.
                unsafe { done(c.arg.0, &result) };
            };
            p.submit_with_id(opts, body, on_done, wait)
        }
        None => match wait {
            Some(w) => p.submit_blocking(opts, body, w),
            None => p.submit(opts, body),
        },
    }
    .map_err(rejected)?;
    if let Some(out_job) = (!out_job.is_null()).then_some(out_job) {
        let id = handle.id();
        let canceller = handle.canceller();
        let j =
            ferrets_job_t { handle: Mutex::new(HandleState { handle, taken: false }), canceller, cjob, id };
        // SAFETY: checked non-NULL; the caller guarantees it is valid for writes.
        unsafe { *out_job = Box::into_raw(Box::new(j)) };
    }
    Ok(())
}

/// Submits a job; never blocks. Fails at once with `FERRETS_ERR_OVERLOADED`
/// when the queue is full, `FERRETS_ERR_SHUTTING_DOWN` after shutdown started;
/// then nothing was called and `spec->arg` is still the caller's alone.
///
/// `out_job` may be NULL: the outcome then goes only to `spec->on_done` (or
/// nowhere: fire and forget, the result pointer going to `spec->free_value`).
/// Otherwise `*out_job` receives a handle the caller releases with
/// `ferrets_job_free`.
#[no_mangle]
pub unsafe extern "C" fn ferrets_pool_submit(
    pool: *const ferrets_pool_t,
    spec: *const ferrets_job_spec_t,
    out_job: *mut *mut ferrets_job_t,
) -> ferrets_status_t {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { submit(pool, spec, None, out_job) })
}

/// Like `ferrets_pool_submit`, but waits up to `wait_ms` milliseconds
/// (`FERRETS_WAIT_FOREVER`: no limit) for queue room before failing with
/// `FERRETS_ERR_OVERLOADED`. From a pool worker thread (a job or a completion
/// callback) it fails at once with `FERRETS_ERR_WOULD_DEADLOCK`.
#[no_mangle]
pub unsafe extern "C" fn ferrets_pool_submit_blocking(
    pool: *const ferrets_pool_t,
    spec: *const ferrets_job_spec_t,
    wait_ms: u64,
    out_job: *mut *mut ferrets_job_t,
) -> ferrets_status_t {
    let wait = millis(wait_ms).unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { submit(pool, spec, Some(wait), out_job) })
}

fn take(
    state: &mut HandleState,
    cjob: &CJob,
    id: u64,
    timeout: Option<Duration>,
) -> Result<ferrets_job_result_t, Error> {
    if state.handle.has_callback() {
        return Err(Error::new(
            FERRETS_ERR_INVALID_ARGUMENT,
            "this job was submitted with a completion callback: its result goes there",
        ));
    }
    if state.taken {
        return Err(Error::new(FERRETS_ERR_INVALID_ARGUMENT, "this job's result was already taken"));
    }
    let o = match timeout {
        Some(t) if t.is_zero() => state.handle.try_get(),
        t => state.handle.wait(t),
    };
    let o = o.ok_or_else(|| Error::new(FERRETS_ERR_TIMEOUT, "the job has not finished yet"))?;
    state.taken = true;
    Ok(cjob.result(&o, id))
}

unsafe fn take_result(
    job: *mut ferrets_job_t,
    timeout: Option<Duration>,
    out_result: *mut ferrets_job_result_t,
) -> Result<(), Error> {
    // SAFETY: forwarded caller contract.
    let j = unsafe { self::job(job)? };
    let out_result = out(out_result, "out_result")?;
    let mut state = j.handle.lock().unwrap_or_else(PoisonError::into_inner);
    *out_result = take(&mut state, &j.cjob, j.id, timeout)?;
    Ok(())
}

/// Stores the job's result in `*out_result` if it has ended; the caller then
/// owns `out_result->value`. Fails with `FERRETS_ERR_TIMEOUT` if it has not
/// ended yet, and with `FERRETS_ERR_INVALID_ARGUMENT` if the result was
/// already taken or goes to a completion callback.
#[no_mangle]
pub unsafe extern "C" fn ferrets_job_try_get(
    job: *mut ferrets_job_t,
    out_result: *mut ferrets_job_result_t,
) -> ferrets_status_t {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { take_result(job, Some(Duration::ZERO), out_result) })
}

/// Like `ferrets_job_try_get`, but waits up to `timeout_ms` milliseconds
/// (`FERRETS_WAIT_FOREVER`: no limit) for the job to end.
#[no_mangle]
pub unsafe extern "C" fn ferrets_job_wait(
    job: *mut ferrets_job_t,
    timeout_ms: u64,
    out_result: *mut ferrets_job_result_t,
) -> ferrets_status_t {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { take_result(job, millis(timeout_ms), out_result) })
}

/// Cancels the job: for sure if it has not started (it ends cancelled and
/// never runs), cooperatively if it is running (its token reports
/// cancellation). Stores what happened in `*out_result` (may be NULL).
/// Safe from any thread, concurrently with other calls on the handle.
#[no_mangle]
pub unsafe extern "C" fn ferrets_job_cancel(
    job: *const ferrets_job_t,
    out_result: *mut ferrets_cancel_result_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let j = unsafe { self::job(job)? };
        let r = match j.canceller.cancel() {
            CancelResult::NotStarted => ferrets_cancel_result_t::FERRETS_CANCEL_NOT_STARTED,
            CancelResult::Running => ferrets_cancel_result_t::FERRETS_CANCEL_RUNNING,
            CancelResult::AlreadyFinished => ferrets_cancel_result_t::FERRETS_CANCEL_ALREADY_FINISHED,
        };
        if let Some(o) = (!out_result.is_null()).then_some(out_result) {
            // SAFETY: checked non-NULL; the caller guarantees it is valid for writes.
            unsafe { *o = r };
        }
        Ok(())
    })
}

/// The job's id (unique within its pool); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn ferrets_job_id(job: *const ferrets_job_t) -> u64 {
    // SAFETY: the caller guarantees a non-NULL `job` is a live handle.
    unsafe { job.as_ref() }.map_or(0, |j| j.id)
}

/// Releases a job handle. NULL is a no-op. Does not cancel the job; a result
/// not taken yet (now or when the job ends) is passed to the job's
/// `free_value`, if any.
#[no_mangle]
pub unsafe extern "C" fn ferrets_job_free(job: *mut ferrets_job_t) {
    if job.is_null() {
        return;
    }
    let _ = guard(|| {
        // SAFETY: per the contract, `job` came from a submit and is freed once.
        drop(unsafe { Box::from_raw(job) });
        Ok(())
    });
}

/// True once the running job should stop: it was cancelled, the pool is
/// aborting, or its deadline passed. `token` is the one passed to the job
/// function (NULL gives false).
#[no_mangle]
pub unsafe extern "C" fn ferrets_token_is_cancelled(token: *const ferrets_token_t) -> bool {
    // SAFETY: the caller passes the token its job function received, valid during that call.
    let t = unsafe { token.cast::<CancelToken>().as_ref() };
    catch_unwind(AssertUnwindSafe(|| t.is_some_and(CancelToken::is_cancelled))).unwrap_or(false)
}

/// Milliseconds left before the running job's deadline (0 once it passed;
/// `FERRETS_WAIT_FOREVER` without a deadline or for NULL).
#[no_mangle]
pub unsafe extern "C" fn ferrets_token_remaining_ms(token: *const ferrets_token_t) -> u64 {
    // SAFETY: the caller passes the token its job function received, valid during that call.
    let t = unsafe { token.cast::<CancelToken>().as_ref() };
    t.and_then(CancelToken::remaining)
        .map_or(FERRETS_WAIT_FOREVER, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1))
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Stores a snapshot of the pool's counters in `*out_metrics`.
#[no_mangle]
pub unsafe extern "C" fn ferrets_pool_metrics(
    pool: *const ferrets_pool_t,
    out_metrics: *mut ferrets_pool_metrics_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let p = unsafe { self::pool(pool)? };
        let out_metrics = out(out_metrics, "out_metrics")?;
        let m = p.metrics();
        *out_metrics = ferrets_pool_metrics_t {
            workers: m.workers as u64,
            queue_capacity: m.queue_capacity as u64,
            queue_depth: m.queue_depth as u64,
            in_flight: m.in_flight as u64,
            submitted: m.submitted,
            rejected: m.rejected,
            completed: m.completed,
            failed: m.failed,
            panicked: m.panicked,
            cancelled: m.cancelled,
            timed_out: m.timed_out,
            shutdown: m.shutdown,
            dropped: m.dropped,
            queue_wait_p50_ns: ns(m.queue_wait.p50),
            queue_wait_p99_ns: ns(m.queue_wait.p99),
            queue_wait_max_ns: ns(m.queue_wait.max),
            run_time_p50_ns: ns(m.run_time.p50),
            run_time_p99_ns: ns(m.run_time.p99),
            run_time_max_ns: ns(m.run_time.max),
        };
        Ok(())
    })
}

/// Shuts the pool down and joins its workers; new submits fail with
/// `FERRETS_ERR_SHUTTING_DOWN` from the start.
///
/// `mode` is `FERRETS_SHUTDOWN_DRAIN` (run what is queued; jobs still queued
/// after `drain_timeout_ms` end as `FERRETS_OUTCOME_SHUTDOWN`, running ones
/// are then asked to stop; `FERRETS_WAIT_FOREVER`: no limit) or
/// `FERRETS_SHUTDOWN_ABORT` (queued jobs end cancelled, running ones are
/// asked to stop; `drain_timeout_ms` is ignored). Waits up to 500 ms more for
/// running jobs to return; workers still busy are reported as stragglers.
/// Completion callbacks never run on the calling thread (only on threads the
/// library owns). `out_report` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn ferrets_pool_shutdown(
    pool: *const ferrets_pool_t,
    mode: u32,
    drain_timeout_ms: u64,
    out_report: *mut ferrets_shutdown_report_t,
) -> ferrets_status_t {
    guard(|| {
        // SAFETY: forwarded caller contract.
        let p = unsafe { self::pool(pool)? };
        let mode = match mode {
            FERRETS_SHUTDOWN_DRAIN => {
                let far = || Instant::now() + Duration::from_secs(30 * 365 * 24 * 3600);
                let deadline =
                    millis(drain_timeout_ms).and_then(|d| Instant::now().checked_add(d)).unwrap_or_else(far);
                ShutdownMode::Drain { deadline }
            }
            FERRETS_SHUTDOWN_ABORT => ShutdownMode::Abort,
            other => {
                return Err(Error::new(
                    FERRETS_ERR_INVALID_ARGUMENT,
                    format!("unknown shutdown mode {other}"),
                ))
            }
        };
        let r: ShutdownReport = p.shutdown(mode);
        if let Some(o) = (!out_report.is_null()).then_some(out_report) {
            let report = ferrets_shutdown_report_t {
                already_shut_down: r.already_shut_down,
                ran: r.ran,
                cancelled: r.cancelled,
                timed_out: r.timed_out,
                shut_down: r.shut_down,
                joined: r.joined as u64,
                stragglers: r.stragglers.len() as u64,
                elapsed_ns: ns(r.elapsed),
            };
            // SAFETY: checked non-NULL; the caller guarantees it is valid for writes.
            unsafe { *o = report };
        }
        Ok(())
    })
}
