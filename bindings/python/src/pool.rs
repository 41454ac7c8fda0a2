//! `ferrets.Pool`: a bounded thread pool over the core offload pool. `submit`
//! returns a `concurrent.futures.Future` or raises `ferrets.Overloaded` at
//! once; `submit_async` returns an asyncio future.

use std::cell::Cell;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use ferrets_core::pool::{
    CancelResult, CancelToken, Canceller, Outcome, Pool as CorePool, PoolConfig, PoolMetrics, Rejected,
    ShutdownMode, ShutdownReport, SubmitOptions,
};
use pyo3::exceptions::{PyException, PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{create_exception, intern};

create_exception!(
    ferrets,
    Overloaded,
    PyException,
    "The pool's queue is full: the job was not accepted (retry later or shed load)."
);
create_exception!(
    ferrets,
    ShuttingDown,
    PyRuntimeError,
    "The pool is shutting down: the job was not accepted."
);

static FUTURE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CANCELLED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Every live pool, shut down (drained) at interpreter exit as
/// `ThreadPoolExecutor` does, so no worker runs Python code during finalisation.
static LIVE: Mutex<Vec<Weak<CorePool>>> = Mutex::new(Vec::new());

fn rejected(r: Rejected) -> PyErr {
    match r {
        Rejected::Overloaded => Overloaded::new_err(r.to_string()),
        Rejected::ShuttingDown => ShuttingDown::new_err(r.to_string()),
        Rejected::WouldDeadlock => PyRuntimeError::new_err(r.to_string()),
    }
}

fn seconds(name: &str, s: Option<f64>) -> PyResult<Option<Duration>> {
    s.map(|s| {
        Duration::try_from_secs_f64(s).map_err(|_| {
            PyValueError::new_err(format!("{name} must be a non-negative number of seconds, got {s}"))
        })
    })
    .transpose()
}

fn deadline(timeout: Option<Duration>) -> SubmitOptions {
    SubmitOptions { deadline: timeout.and_then(|t| Instant::now().checked_add(t)) }
}

thread_local! {
    /// Whether this worker thread keeps a Python thread state between jobs.
    static KEEPS_THREAD_STATE: Cell<bool> = const { Cell::new(false) };
}

/// Gives the current worker thread a Python thread state that outlives each
/// job (left attached-count 1, GIL released), so attaching per job only takes
/// the GIL instead of creating and destroying a thread state every time.
fn keep_thread_state() {
    if KEEPS_THREAD_STATE.with(|k| k.replace(true)) {
        return;
    }
    // SAFETY: Py_IsInitialized may be called at any time.
    if unsafe { pyo3::ffi::Py_IsInitialized() } == 0 {
        return;
    }
    // SAFETY: the interpreter is initialized and this worker thread is not
    // attached (jobs attach only inside the body, after this returns).
    // PyGILState_Ensure creates this thread's state and takes the GIL;
    // PyEval_SaveThread releases the GIL and keeps the state, which later
    // PyGILState_Ensure calls then reuse.
    unsafe {
        let _ = pyo3::ffi::PyGILState_Ensure();
        let _ = pyo3::ffi::PyEval_SaveThread();
    }
}

thread_local! {
    /// The token of the job running on this worker thread (null outside a job).
    static CURRENT_TOKEN: Cell<*const CancelToken> = const { Cell::new(std::ptr::null()) };
}

/// Publishes a job's token to `ferrets.cancelled()` for the duration of the call.
struct TokenScope(*const CancelToken);

impl TokenScope {
    fn enter(token: &CancelToken) -> Self {
        Self(CURRENT_TOKEN.with(|c| c.replace(token)))
    }
}

impl Drop for TokenScope {
    fn drop(&mut self) {
        CURRENT_TOKEN.with(|c| c.set(self.0));
    }
}

/// Inside a job running on a ``ferrets.Pool``: whether it should stop (its
/// deadline passed, its asyncio future was cancelled, or the pool is
/// aborting). A job that then raises ends as timed out / cancelled in the
/// pool's metrics. ``False`` outside a pool job.
#[pyfunction]
fn cancelled() -> bool {
    CURRENT_TOKEN.with(|c| {
        // SAFETY: the pointer is set only while a job body runs on this thread
        // (TokenScope restores it before the token goes away), and this call
        // comes from inside that body, so the token is alive.
        unsafe { c.get().as_ref() }.is_some_and(CancelToken::is_cancelled)
    })
}

/// The job run on a worker: marks the future running (or finds it
/// cancelled), calls `func(*args, **kwargs)` attached to the interpreter and
/// settles the future with its result or exception.
fn job(
    func: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
    fut: Py<PyAny>,
) -> impl FnOnce(&CancelToken) -> Result<(), String> + Send + 'static {
    move |token| {
        keep_thread_state();
        Python::try_attach(move |py| {
            let fut = fut.into_bound(py);
            let running = fut
                .call_method0(intern!(py, "set_running_or_notify_cancel"))
                .and_then(|r| r.is_truthy())
                .unwrap_or(false);
            if !running {
                let _ = token.is_cancelled(); // counted as cancelled if the cancel reached the pool
                return Err("the future was cancelled".to_string());
            }
            let r = {
                let _scope = TokenScope::enter(token);
                func.bind(py).call(args.bind(py), kwargs.as_ref().map(|k| k.bind(py)))
            };
            match r {
                Ok(v) => {
                    let _ = fut.call_method1(intern!(py, "set_result"), (v,));
                    Ok(())
                }
                Err(e) => {
                    let msg = e.to_string();
                    let _ = fut.call_method1(intern!(py, "set_exception"), (e.into_value(py),));
                    Err(msg)
                }
            }
        })
        .unwrap_or_else(|| Err("the Python interpreter is shutting down".to_string()))
    }
}

/// Settles the future of a job that did not run (or whose run did not settle it).
fn settle(fut: Py<PyAny>, outcome: Outcome<()>) {
    if matches!(outcome, Outcome::Ok(()) | Outcome::Error(_)) {
        return; // the job settled the future itself
    }
    let _ = Python::try_attach(move |py| -> PyResult<()> {
        let fut = fut.into_bound(py);
        if fut.call_method0(intern!(py, "done"))?.is_truthy()? {
            return Ok(());
        }
        let exc = match outcome {
            Outcome::Cancelled => {
                if fut.call_method0(intern!(py, "cancel"))?.is_truthy()? {
                    // Wakes `concurrent.futures.wait` / `as_completed` waiters, as an executor does.
                    let _ = fut.call_method0(intern!(py, "set_running_or_notify_cancel"));
                    return Ok(());
                }
                CANCELLED_ERROR.import(py, "concurrent.futures", "CancelledError")?.call0()?
            }
            Outcome::TimedOut => PyTimeoutError::new_err("the job's deadline passed before it could run")
                .into_value(py)
                .into_bound(py)
                .into_any(),
            Outcome::Shutdown => ShuttingDown::new_err("the pool shut down before the job could run")
                .into_value(py)
                .into_bound(py)
                .into_any(),
            Outcome::Panicked(msg) => {
                PyRuntimeError::new_err(format!("internal error running the job: {msg}"))
                    .into_value(py)
                    .into_bound(py)
                    .into_any()
            }
            Outcome::Ok(()) | Outcome::Error(_) => return Ok(()),
        };
        fut.call_method1(intern!(py, "set_exception"), (exc,))?;
        Ok(())
    });
}

/// Added to each job's future: cancelling the future cancels the job.
#[pyclass(frozen, module = "ferrets._native")]
struct JobCanceller {
    canceller: Canceller,
}

#[pymethods]
impl JobCanceller {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = fut.py();
        if fut.call_method0(intern!(py, "cancelled"))?.is_truthy()?
            && self.canceller.cancel() == CancelResult::NotStarted
        {
            // The job will never run: wake `concurrent.futures.wait` / `as_completed` now.
            fut.call_method0(intern!(py, "set_running_or_notify_cancel"))?;
        }
        Ok(())
    }
}

/// Copies a finished `concurrent.futures.Future` into an asyncio future, on
/// the asyncio future's loop; does nothing if it is done (cancelled) already.
#[pyfunction]
fn _copy_state(afut: &Bound<'_, PyAny>, cf: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = afut.py();
    if afut.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    if cf.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
        afut.call_method0(intern!(py, "cancel"))?;
        return Ok(());
    }
    let exc = cf.call_method0(intern!(py, "exception"))?;
    if exc.is_none() {
        afut.call_method1(intern!(py, "set_result"), (cf.call_method0(intern!(py, "result"))?,))?;
    } else {
        afut.call_method1(intern!(py, "set_exception"), (exc,))?;
    }
    Ok(())
}

/// Runs on the worker when the job's future is done: hands the result to the
/// event loop. A closed loop is ignored (nobody is waiting any more).
#[pyclass(frozen, module = "ferrets._native")]
struct AsyncBridge {
    event_loop: Py<PyAny>,
    afut: Py<PyAny>,
}

#[pymethods]
impl AsyncBridge {
    fn __call__(&self, py: Python<'_>, cf: &Bound<'_, PyAny>) -> PyResult<()> {
        let l = self.event_loop.bind(py);
        if l.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
            return Ok(());
        }
        let copy = wrap_pyfunction!(_copy_state, py)?;
        if let Err(e) = l.call_method1(intern!(py, "call_soon_threadsafe"), (copy, self.afut.bind(py), cf)) {
            // The loop closed between the check and the call: nobody can await any more.
            if !e.is_instance_of::<PyRuntimeError>(py) {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Added to the asyncio future: cancelling it cancels the job's future (and so the job).
#[pyclass(frozen, module = "ferrets._native")]
struct CancelOnCancel {
    cf: Py<PyAny>,
    canceller: Canceller,
}

#[pymethods]
impl CancelOnCancel {
    fn __call__(&self, afut: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = afut.py();
        if afut.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            self.cf.bind(py).call_method0(intern!(py, "cancel"))?;
            // A running job cannot be cancelled through its concurrent future:
            // ask it through its token (see `ferrets.cancelled()`).
            self.canceller.cancel();
        }
        Ok(())
    }
}

/// A bounded pool of native worker threads for blocking work.
///
/// ``submit`` never blocks: it returns a ``concurrent.futures.Future`` or
/// raises ``ferrets.Overloaded`` at once when the queue is full (and
/// ``ferrets.ShuttingDown`` after shutdown). Jobs run on native threads
/// attached to the interpreter, so pure-Python work is still bound by the
/// GIL; the pool pays off for work that releases it (I/O, C extensions) and
/// for bounding what waits.
#[pyclass(frozen, module = "ferrets._native", name = "Pool")]
pub struct Pool {
    pool: Arc<CorePool>,
}

impl Pool {
    fn submit_inner<'py>(
        &self,
        py: Python<'py>,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        kwargs: Option<Py<PyDict>>,
        timeout: Option<f64>,
        wait: Option<Option<Duration>>,
    ) -> PyResult<(Bound<'py, PyAny>, Canceller)> {
        let opts = deadline(seconds("timeout", timeout)?);
        let fut = FUTURE.import(py, "concurrent.futures", "Future")?.call0()?;
        let body = job(func, args, kwargs, fut.clone().unbind());
        let done_fut = fut.clone().unbind();
        let on_done = move |o: Outcome<()>| settle(done_fut, o);
        let handle = match wait {
            None => self.pool.submit_with(opts, body, on_done),
            Some(w) => {
                let pool = self.pool.clone();
                let w = w.unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
                py.detach(move || pool.submit_with_blocking(opts, body, on_done, w))
            }
        }
        .map_err(rejected)?;
        let canceller = handle.canceller();
        let hook = Bound::new(py, JobCanceller { canceller: canceller.clone() })?;
        fut.call_method1(intern!(py, "add_done_callback"), (hook,))?;
        Ok((fut, canceller))
    }
}

#[pymethods]
impl Pool {
    /// A pool of ``workers`` threads (default: one per core) and a queue of
    /// ``queue`` jobs.
    #[new]
    #[pyo3(signature = (workers=None, queue=1024, name="ferrets-pool"))]
    fn new(workers: Option<usize>, queue: usize, name: &str) -> PyResult<Self> {
        let mut cfg = PoolConfig { queue, name: name.to_string(), ..PoolConfig::default() };
        if let Some(w) = workers {
            cfg.workers = w;
        }
        let pool = Arc::new(CorePool::new(cfg).map_err(|e| PyValueError::new_err(e.to_string()))?);
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&pool));
        Ok(Self { pool })
    }

    /// Schedules ``func(*args, **kwargs)`` and returns its
    /// ``concurrent.futures.Future``; never blocks. ``timeout`` (seconds): a
    /// job still queued when it passes fails with ``TimeoutError`` without
    /// running; a running job sees it through ``ferrets.cancelled()``.
    /// Cancelling the future before the job starts cancels the job.
    /// Raises ``ferrets.Overloaded`` when the queue is full.
    #[pyo3(signature = (func, /, *args, timeout=None, **kwargs))]
    fn submit<'py>(
        &self,
        py: Python<'py>,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        timeout: Option<f64>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.submit_inner(py, func, args, kwargs, timeout, None)?.0)
    }

    /// Like ``submit``, but waits up to ``wait`` seconds (``None``: no limit)
    /// for queue room before raising ``ferrets.Overloaded``. The GIL is
    /// released while waiting. Raises ``RuntimeError`` from a pool worker.
    #[pyo3(signature = (func, /, *args, wait=None, timeout=None, **kwargs))]
    fn submit_blocking<'py>(
        &self,
        py: Python<'py>,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        wait: Option<f64>,
        timeout: Option<f64>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let wait = seconds("wait", wait)?;
        Ok(self.submit_inner(py, func, args, kwargs, timeout, Some(wait))?.0)
    }

    /// ``submit`` for asyncio: returns a future of the running event loop.
    /// Cancelling it cancels the job (if it has not started); a result that
    /// arrives after the loop closed is dropped. Raises ``RuntimeError``
    /// without a running loop and ``ferrets.Overloaded`` when the queue is full.
    #[pyo3(signature = (func, /, *args, timeout=None, **kwargs))]
    fn submit_async<'py>(
        &self,
        py: Python<'py>,
        func: Py<PyAny>,
        args: Py<PyTuple>,
        timeout: Option<f64>,
        kwargs: Option<Py<PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let event_loop = py.import(intern!(py, "asyncio"))?.call_method0(intern!(py, "get_running_loop"))?;
        let afut = event_loop.call_method0(intern!(py, "create_future"))?;
        let (cf, canceller) = self.submit_inner(py, func, args, kwargs, timeout, None)?;
        let bridge =
            Bound::new(py, AsyncBridge { event_loop: event_loop.unbind(), afut: afut.clone().unbind() })?;
        cf.call_method1(intern!(py, "add_done_callback"), (bridge,))?;
        let cancel = Bound::new(py, CancelOnCancel { cf: cf.unbind(), canceller })?;
        afut.call_method1(intern!(py, "add_done_callback"), (cancel,))?;
        Ok(afut)
    }

    /// Stops accepting jobs and shuts down. By default runs what is queued
    /// (at most ``timeout`` seconds, then queued jobs fail with
    /// ``ferrets.ShuttingDown``); with ``cancel_futures=True`` cancels queued
    /// jobs instead. With ``wait=True`` (default) blocks, GIL released, until
    /// the workers exit and returns a report dict; otherwise returns ``None`` at once.
    #[pyo3(signature = (wait=true, *, cancel_futures=false, timeout=None))]
    fn shutdown<'py>(
        &self,
        py: Python<'py>,
        wait: bool,
        cancel_futures: bool,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let timeout = seconds("timeout", timeout)?;
        let mode = if cancel_futures {
            ShutdownMode::Abort
        } else {
            let far = Duration::from_secs(30 * 365 * 24 * 3600);
            ShutdownMode::Drain { deadline: Instant::now() + timeout.unwrap_or(far).min(far) }
        };
        let pool = self.pool.clone();
        if !wait {
            std::thread::Builder::new()
                .name("ferrets-pool-shutdown".into())
                .spawn(move || pool.shutdown(mode))
                .map_err(|e| PyRuntimeError::new_err(format!("could not start the shutdown thread: {e}")))?;
            return Ok(None);
        }
        let report = py.detach(move || pool.shutdown(mode));
        report_dict(py, &report).map(Some)
    }

    /// A dict of counters (``submitted``, ``rejected``, ``completed``,
    /// ``failed``, ``cancelled``, ``timed_out``, ``queue_depth``, ...) and
    /// latency percentiles in seconds (``queue_wait_p50``, ``run_time_p99``, ...).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        metrics_dict(py, &self.pool.metrics())
    }

    /// Number of worker threads.
    #[getter]
    fn workers(&self) -> usize {
        self.pool.metrics().workers
    }

    /// Queue capacity.
    #[getter]
    fn queue(&self) -> usize {
        self.pool.metrics().queue_capacity
    }

    /// The pool's name (its threads are named ``name-N``).
    #[getter]
    fn name(&self) -> String {
        self.pool.name().to_string()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.shutdown(py, true, false, None)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let m = self.pool.metrics();
        format!(
            "<ferrets.Pool name={:?} workers={} queue={}/{}>",
            self.pool.name(),
            m.workers,
            m.queue_depth,
            m.queue_capacity
        )
    }
}

fn metrics_dict<'py>(py: Python<'py>, m: &PoolMetrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("workers", m.workers)?;
    d.set_item("queue_capacity", m.queue_capacity)?;
    d.set_item("queue_depth", m.queue_depth)?;
    d.set_item("in_flight", m.in_flight)?;
    d.set_item("submitted", m.submitted)?;
    d.set_item("rejected", m.rejected)?;
    d.set_item("completed", m.completed)?;
    d.set_item("failed", m.failed)?;
    d.set_item("panicked", m.panicked)?;
    d.set_item("cancelled", m.cancelled)?;
    d.set_item("timed_out", m.timed_out)?;
    d.set_item("shutdown", m.shutdown)?;
    d.set_item("dropped", m.dropped)?;
    for (name, s) in [("queue_wait", &m.queue_wait), ("run_time", &m.run_time)] {
        d.set_item(format!("{name}_p50"), s.p50.as_secs_f64())?;
        d.set_item(format!("{name}_p90"), s.p90.as_secs_f64())?;
        d.set_item(format!("{name}_p99"), s.p99.as_secs_f64())?;
        d.set_item(format!("{name}_max"), s.max.as_secs_f64())?;
    }
    Ok(d)
}

fn report_dict<'py>(py: Python<'py>, r: &ShutdownReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("already_shut_down", r.already_shut_down)?;
    d.set_item("ran", r.ran)?;
    d.set_item("cancelled", r.cancelled)?;
    d.set_item("timed_out", r.timed_out)?;
    d.set_item("shut_down", r.shut_down)?;
    d.set_item("joined", r.joined)?;
    d.set_item("stragglers", r.stragglers.len())?;
    d.set_item("elapsed", r.elapsed.as_secs_f64())?;
    Ok(d)
}

/// Drains every live pool at interpreter exit (registered with ``atexit``).
#[pyfunction]
fn _shutdown_all(py: Python<'_>) {
    let pools: Vec<Arc<CorePool>> =
        LIVE.lock().unwrap_or_else(PoisonError::into_inner).drain(..).filter_map(|w| w.upgrade()).collect();
    py.detach(move || {
        for p in pools {
            let far = Instant::now() + Duration::from_secs(30 * 365 * 24 * 3600);
            p.shutdown(ShutdownMode::Drain { deadline: far });
        }
    });
}

/// Adds `Pool`, `cancelled`, `Overloaded` and `ShuttingDown` to the module and drains
/// live pools at exit.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Pool>()?;
    m.add_function(wrap_pyfunction!(cancelled, m)?)?;
    m.add("Overloaded", py.get_type::<Overloaded>())?;
    m.add("ShuttingDown", py.get_type::<ShuttingDown>())?;
    py.import("atexit")?.call_method1("register", (wrap_pyfunction!(_shutdown_all, py)?,))?;
    Ok(())
}
