//! The offload pool as the BEAM sees it (`Ferrets.Pool`, `Ferrets.Async`).
//!
//! A NIF submits a job to a `ferrets_core::pool::Pool` and returns at once:
//! `{ok, Job}` or `{error, overloaded | shutting_down}`. The job runs on a
//! worker thread; its completion callback sends `{Tag, Result}` to the caller
//! with `OwnedEnv::send_and_clear` (allowed there: worker threads are not
//! VM threads). `Result` is `{ok, Value}` or `{error, Reason}`.
//!
//! The caller is monitored through the job's [`JobResource`]: if it dies
//! first, the job is cancelled (queued jobs never run; running ones see it on
//! their token) and its result is dropped and counted (`dead_caller_drops`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ferrets_core::pool::{
    CancelResult, CancelToken, Canceller, LatencySummary, Outcome, Pool, PoolConfig, PoolError, Rejected,
    ShutdownMode, ShutdownReport, SubmitOptions,
};
use rustler::env::{OwnedEnv, SavedTerm};
use rustler::{Atom, Encoder, Env, Error, LocalPid, Monitor, NifResult, Resource, ResourceArc, Term};

/// Atoms of the pool NIFs.
pub mod atoms {
    rustler::atoms! {
        ok,
        error,
        overloaded,
        shutting_down,
        would_deadlock,
        cancelled,
        timeout,
        shutdown,
        panicked,
        failed,
        not_started,
        running,
        already_finished,
        abort,
        drain,
        infinity,
        sleep_ms,
        spin_ms,
        echo,
        panic,
        fail,
        noop,
        invalid_config,
        spawn,
    }
}

/// Locks `m`, ignoring poisoning (every critical section here leaves its
/// data consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters the BEAM side adds to the pool's own metrics.
#[derive(Default)]
pub struct BeamStats {
    /// Results dropped because their caller had died.
    pub dead_caller_drops: AtomicU64,
}

/// A pool, as the resource `Ferrets.Pool.start/3` returns.
pub struct PoolResource {
    /// The pool (dropping the last clone lets the workers finish in the background).
    pub pool: Pool,
    /// BEAM-side counters, shared with the completion callbacks.
    pub stats: Arc<BeamStats>,
}

#[rustler::resource_impl]
impl Resource for PoolResource {}

/// What a job's monitor and completion agree on.
struct Watch {
    canceller: Option<Canceller>,
    monitor: Option<Monitor>,
    done: bool,
    caller_down: bool,
}

/// One submitted job: lets the caller cancel it, and watches the caller.
pub struct JobResource {
    watch: Mutex<Watch>,
}

#[rustler::resource_impl]
impl Resource for JobResource {
    /// The caller died before the job completed: cancel it; its completion
    /// then drops the result and counts it.
    fn down<'a>(&'a self, _env: Env<'a>, _pid: LocalPid, _monitor: Monitor) {
        let mut w = lock(&self.watch);
        w.monitor = None;
        if !w.done {
            w.caller_down = true;
            if let Some(c) = &w.canceller {
                c.cancel();
            }
        }
    }
}

/// Where a job's result goes: the caller's pid and tag, and the environment
/// the result term is built in.
pub struct Reply {
    /// The environment the result (and any saved arguments) live in. Jobs
    /// build into it but must never clear it (that would invalidate `tag`).
    pub env: OwnedEnv,
    pid: LocalPid,
    tag: SavedTerm,
}

impl Reply {
    /// A reply to the calling process of `env`, tagged with a copy of `tag`.
    pub fn new(env: Env<'_>, tag: Term<'_>) -> Self {
        let owned = OwnedEnv::new();
        let tag = owned.save(tag);
        Reply { env: owned, pid: env.pid(), tag }
    }
}

/// The reply, shared by the job (which builds its result in it) and the
/// completion callback (which sends it).
pub type Ctx = Arc<Mutex<Reply>>;

/// Runs `f` in the reply environment of `ctx` and saves the term it builds.
pub fn build(ctx: &Ctx, f: impl for<'a> FnOnce(Env<'a>) -> Term<'a>) -> SavedTerm {
    let r = lock(ctx);
    r.env.run(|env| {
        let t = f(env);
        r.env.save(t)
    })
}

/// `{ok, Value}` in `env`.
pub fn ok_tuple<'a>(env: Env<'a>, v: impl Encoder) -> Term<'a> {
    (atoms::ok(), v).encode(env)
}

/// `{error, Reason}` in `env`.
pub fn error_tuple<'a>(env: Env<'a>, reason: impl Encoder) -> Term<'a> {
    (atoms::error(), reason).encode(env)
}

fn rejected_atom(r: Rejected) -> Atom {
    match r {
        Rejected::Overloaded => atoms::overloaded(),
        Rejected::ShuttingDown => atoms::shutting_down(),
        Rejected::WouldDeadlock => atoms::would_deadlock(),
    }
}

/// The result term for a job's outcome.
fn outcome_term<'a>(env: Env<'a>, outcome: Outcome<SavedTerm>) -> Term<'a> {
    match outcome {
        Outcome::Ok(saved) => saved.load(env),
        Outcome::Error(msg) => error_tuple(env, (atoms::failed(), msg)),
        Outcome::Panicked(msg) => error_tuple(env, (atoms::panicked(), msg)),
        Outcome::Cancelled => error_tuple(env, atoms::cancelled()),
        Outcome::TimedOut => error_tuple(env, atoms::timeout()),
        Outcome::Shutdown => error_tuple(env, atoms::shutdown()),
    }
}

/// The completion callback: runs once per accepted job, on a worker thread
/// (or the thread a shutdown runs on, never a VM thread).
fn complete(ctx: &Ctx, job: &ResourceArc<JobResource>, stats: &BeamStats, outcome: Outcome<SavedTerm>) {
    let (dead, monitor) = {
        let mut w = lock(&job.watch);
        w.done = true;
        w.canceller = None;
        (w.caller_down, w.monitor.take())
    };
    if let Some(m) = monitor {
        job.demonitor(None, &m);
    }
    if dead {
        stats.dead_caller_drops.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut guard = lock(ctx);
    let Reply { env, pid, tag } = &mut *guard;
    let sent = env.send_and_clear(pid, |e| (tag.load(e), outcome_term(e, outcome)).encode(e));
    if sent.is_err() {
        // The caller died after the check above.
        stats.dead_caller_drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Decodes a timeout in milliseconds (`infinity`: none) into a deadline.
pub fn deadline(timeout: Term<'_>) -> NifResult<Option<Instant>> {
    if let Ok(a) = timeout.decode::<Atom>() {
        return if a == atoms::infinity() { Ok(None) } else { Err(Error::BadArg) };
    }
    let ms: u64 = timeout.decode()?;
    Ok(Instant::now().checked_add(Duration::from_millis(ms)))
}

/// Submits `job` to `pool`, replying to the caller of `env`; returns
/// `{ok, Job}` or `{error, Reason}` at once.
pub fn submit<'a, F>(
    env: Env<'a>,
    pool: &PoolResource,
    reply: Reply,
    deadline: Option<Instant>,
    job: F,
) -> Term<'a>
where
    F: FnOnce(&CancelToken, &Ctx) -> Result<SavedTerm, String> + Send + 'static,
{
    let ctx: Ctx = Arc::new(Mutex::new(reply));
    let res = ResourceArc::new(JobResource {
        watch: Mutex::new(Watch { canceller: None, monitor: None, done: false, caller_down: false }),
    });
    let monitor = env.monitor(&res, &env.pid());
    lock(&res.watch).monitor = monitor;
    let job_ctx = ctx.clone();
    let run = move |tok: &CancelToken| job(tok, &job_ctx);
    let (cb_res, stats) = (res.clone(), pool.stats.clone());
    let on_complete = move |o: Outcome<SavedTerm>| complete(&ctx, &cb_res, &stats, o);
    match pool.pool.submit_with(SubmitOptions { deadline }, run, on_complete) {
        Ok(handle) => {
            let mut w = lock(&res.watch);
            if !w.done {
                w.canceller = Some(handle.canceller());
            }
            drop(w);
            ok_tuple(env, res)
        }
        Err(r) => {
            if let Some(m) = lock(&res.watch).monitor.take() {
                env.demonitor(&res, &m);
            }
            error_tuple(env, rejected_atom(r))
        }
    }
}

/// `Ferrets.Pool.start/3`: `{ok, Pool}` or `{error, {invalid_config | spawn, Message}}`.
#[rustler::nif]
fn pool_start(env: Env<'_>, workers: usize, queue: usize, name: String) -> Term<'_> {
    match Pool::new(PoolConfig { workers, queue, name }) {
        Ok(pool) => ok_tuple(env, ResourceArc::new(PoolResource { pool, stats: Arc::default() })),
        Err(PoolError::InvalidConfig(m)) => error_tuple(env, (atoms::invalid_config(), m)),
        Err(e) => error_tuple(env, (atoms::spawn(), e.to_string())),
    }
}

/// A blocking-work job for demos and tests.
enum Spec {
    /// Sleep this many ms, checking the cancel token every millisecond.
    Sleep(u64),
    /// Busy-loop this many ms, checking the token.
    Spin(u64),
    /// Return the saved term.
    Echo(SavedTerm),
    /// Panic with this message.
    Panic(String),
    /// Return `Err` with this message.
    Fail(String),
    /// Return `{ok, ok}` at once.
    Noop,
}

fn parse_spec(spec: Term<'_>, reply: &Reply) -> NifResult<Spec> {
    if let Ok(a) = spec.decode::<Atom>() {
        return if a == atoms::noop() { Ok(Spec::Noop) } else { Err(Error::BadArg) };
    }
    let (tag, arg): (Atom, Term<'_>) = spec.decode()?;
    Ok(match tag {
        t if t == atoms::sleep_ms() => Spec::Sleep(arg.decode()?),
        t if t == atoms::spin_ms() => Spec::Spin(arg.decode()?),
        t if t == atoms::echo() => Spec::Echo(reply.env.save(arg)),
        t if t == atoms::panic() => Spec::Panic(arg.decode()?),
        t if t == atoms::fail() => Spec::Fail(arg.decode()?),
        _ => return Err(Error::BadArg),
    })
}

/// Waits `ms` (sleeping, or spinning when `spin`), returning early with
/// `Err` once the token reports cancellation or the deadline.
fn wait(tok: &CancelToken, ms: u64, spin: bool) -> Result<(), String> {
    let end = Instant::now() + Duration::from_millis(ms);
    loop {
        tok.check()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        if spin {
            std::hint::spin_loop();
        } else {
            std::thread::sleep((end - now).min(Duration::from_millis(1)));
        }
    }
}

fn run_spec(spec: Spec, tok: &CancelToken, ctx: &Ctx) -> Result<SavedTerm, String> {
    match spec {
        Spec::Sleep(ms) | Spec::Spin(ms) => {
            wait(tok, ms, matches!(spec, Spec::Spin(_)))?;
            Ok(build(ctx, |e| ok_tuple(e, ms)))
        }
        Spec::Echo(saved) => Ok(build(ctx, |e| ok_tuple(e, saved.load(e)))),
        // A real panic, without the panic hook's report on stderr.
        Spec::Panic(msg) => std::panic::resume_unwind(Box::new(msg)),
        Spec::Fail(msg) => Err(msg),
        Spec::Noop => Ok(build(ctx, |e| ok_tuple(e, atoms::ok()))),
    }
}

/// `Ferrets.Pool.run/3`: submits a demo job (`{sleep_ms, N}`, `{spin_ms, N}`,
/// `{echo, Term}`, `{panic, Msg}`, `{fail, Msg}`, `noop`).
#[rustler::nif]
fn pool_run<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    spec: Term<'a>,
    timeout: Term<'a>,
) -> NifResult<Term<'a>> {
    let deadline = deadline(timeout)?;
    let reply = Reply::new(env, tag);
    let spec = parse_spec(spec, &reply)?;
    Ok(submit(env, &pool, reply, deadline, move |tok, ctx| run_spec(spec, tok, ctx)))
}

/// `Ferrets.Async.cancel/1`: `not_started`, `running` or `already_finished`.
#[rustler::nif]
fn pool_cancel(job: ResourceArc<JobResource>) -> Atom {
    let w = lock(&job.watch);
    match w.canceller.as_ref().map(Canceller::cancel) {
        Some(CancelResult::NotStarted) => atoms::not_started(),
        Some(CancelResult::Running) => atoms::running(),
        _ => atoms::already_finished(),
    }
}

fn put<'a>(map: Term<'a>, env: Env<'a>, key: &str, value: impl Encoder) -> NifResult<Term<'a>> {
    map.map_put(Atom::from_str(env, key)?.encode(env), value.encode(env))
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

fn latency<'a>(env: Env<'a>, l: &LatencySummary) -> NifResult<Term<'a>> {
    let m = Term::map_new(env);
    let m = put(m, env, "count", l.count)?;
    let m = put(m, env, "p50_us", micros(l.p50))?;
    let m = put(m, env, "p90_us", micros(l.p90))?;
    let m = put(m, env, "p99_us", micros(l.p99))?;
    put(m, env, "max_us", micros(l.max))
}

/// `Ferrets.Pool.metrics/1`: a map of counters and latency summaries.
#[rustler::nif]
fn pool_metrics(env: Env<'_>, pool: ResourceArc<PoolResource>) -> NifResult<Term<'_>> {
    let m = pool.pool.metrics();
    let mut t = Term::map_new(env);
    for (k, v) in [
        ("workers", m.workers as u64),
        ("queue_capacity", m.queue_capacity as u64),
        ("queue_depth", m.queue_depth as u64),
        ("in_flight", m.in_flight as u64),
        ("submitted", m.submitted),
        ("rejected", m.rejected),
        ("completed", m.completed),
        ("failed", m.failed),
        ("panicked", m.panicked),
        ("cancelled", m.cancelled),
        ("timed_out", m.timed_out),
        ("shutdown", m.shutdown),
        ("dropped", m.dropped),
        ("callback_panicked", m.callback_panicked),
        ("dead_caller_drops", pool.stats.dead_caller_drops.load(Ordering::Relaxed)),
    ] {
        t = put(t, env, k, v)?;
    }
    t = put(t, env, "queue_wait", latency(env, &m.queue_wait)?)?;
    put(t, env, "run_time", latency(env, &m.run_time)?)
}

fn report_term<'a>(env: Env<'a>, r: &ShutdownReport) -> NifResult<Term<'a>> {
    let mut t = Term::map_new(env);
    for (k, v) in [
        ("ran", r.ran),
        ("cancelled", r.cancelled),
        ("timed_out", r.timed_out),
        ("shut_down", r.shut_down),
        ("joined", r.joined as u64),
        ("stragglers", r.stragglers.len() as u64),
        ("elapsed_us", micros(r.elapsed)),
    ] {
        t = put(t, env, k, v)?;
    }
    put(t, env, "already_shut_down", r.already_shut_down)
}

/// `Ferrets.Pool.shutdown/2`: shuts the pool down on a thread of its own
/// (a shutdown may complete queued jobs itself, and their replies cannot be
/// sent from a VM thread), then sends `{Tag, {ok, Report}}` to the caller.
/// `Mode` is `abort` or `{drain, TimeoutMs}`.
#[rustler::nif]
fn pool_shutdown<'a>(
    env: Env<'a>,
    pool: ResourceArc<PoolResource>,
    tag: Term<'a>,
    mode: Term<'a>,
) -> NifResult<Atom> {
    let mode = if mode.decode::<Atom>().is_ok_and(|a| a == atoms::abort()) {
        ShutdownMode::Abort
    } else {
        let (d, ms): (Atom, u64) = mode.decode()?;
        if d != atoms::drain() {
            return Err(Error::BadArg);
        }
        let deadline = Instant::now().checked_add(Duration::from_millis(ms)).ok_or(Error::BadArg)?;
        ShutdownMode::Drain { deadline }
    };
    let mut reply = Reply::new(env, tag);
    let spawned = std::thread::Builder::new().name("ferrets-shutdown".into()).spawn(move || {
        let report = pool.pool.shutdown(mode);
        let Reply { env, pid, tag } = &mut reply;
        let _ = env.send_and_clear(pid, |e| match report_term(e, &report) {
            Ok(r) => (tag.load(e), ok_tuple(e, r)).encode(e),
            Err(_) => (tag.load(e), error_tuple(e, atoms::failed())).encode(e),
        });
    });
    spawned.map(|_| atoms::ok()).map_err(|_| Error::BadArg)
}
