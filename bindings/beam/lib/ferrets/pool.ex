defmodule Ferrets.Pool do
  @moduledoc """
  A bounded pool of native worker threads for blocking work, with
  back-pressure: the native counterpart of `Task.Supervisor.async_nolink/3`.

  Submitting never blocks. A job is accepted (`{:ok, task}`) or rejected at
  once with `{:error, :overloaded}` when the queue is full, or
  `{:error, :shutting_down}`. Its result arrives as a message
  `{task.ref, result}`, sent from the worker thread, exactly like a `Task`
  reply; read it with `Ferrets.Async.await/2` or `Ferrets.Async.yield/2`, or
  match it in `handle_info/2`. `result` is `{:ok, value}` or
  `{:error, reason}` where `reason` is `:cancelled`, `:timeout` (deadline
  passed, in the queue or while running), `:shutdown`, `{:panicked, message}`
  or `{:failed, message}`.

  The caller is monitored: if it dies before its job ends, the job is
  cancelled and its result dropped and counted (`:dead_caller_drops` in
  `metrics/1`). A panicking job never takes its worker down.

      {:ok, pool} = Ferrets.Pool.start(4, 64)
      {:ok, task} = Ferrets.Pool.run(pool, {:sleep_ms, 50}, timeout: 1_000)
      {:ok, 50} = Ferrets.Async.await(task)
      Ferrets.Pool.metrics(pool).completed #=> 1

  Table work (`tab2list`, reductions, bulk insert, snapshots) runs on a pool
  through `Ferrets.Async`.
  """

  @typedoc "A pool (a NIF resource; it stops when no longer referenced)."
  @opaque t :: reference()

  @typedoc """
  A demo job: `{:sleep_ms, n}` sleeps (a stand-in for blocking I/O) and
  `{:spin_ms, n}` burns CPU, both honouring cancellation and deadlines;
  `{:echo, term}` returns `term`; `:noop` returns `:ok`; `{:panic, msg}` and
  `{:fail, msg}` fail on purpose.
  """
  @type job ::
          {:sleep_ms, non_neg_integer()}
          | {:spin_ms, non_neg_integer()}
          | {:echo, term()}
          | :noop
          | {:panic, String.t()}
          | {:fail, String.t()}

  @default_key {__MODULE__, :default}

  @doc """
  Starts a pool of `workers` threads and a queue of `queue` jobs.

  Options: `:name` (thread names, default `"ferrets-pool"`).
  Returns `{:ok, pool}` or `{:error, {:invalid_config, message}}`.
  """
  @spec start(pos_integer(), pos_integer(), keyword()) :: {:ok, t()} | {:error, term()}
  def start(workers, queue, opts \\ [])
      when is_integer(workers) and workers > 0 and is_integer(queue) and queue > 0 do
    Ferrets.Native.pool_start(workers, queue, Keyword.get(opts, :name, "ferrets-pool"))
  end

  @doc """
  The shared default pool (one worker per scheduler, a queue of 1024),
  started on first use and kept in `:persistent_term`.

  It belongs to every caller in the VM, so `shutdown/2` refuses it with
  `{:error, :default_pool}`. Start a pool of your own with `start/3` when
  you need to control its lifetime.
  """
  @spec default() :: t()
  def default do
    case :persistent_term.get(@default_key, nil) do
      nil ->
        :global.trans({@default_key, self()}, fn ->
          case :persistent_term.get(@default_key, nil) do
            nil ->
              {:ok, pool} = start(System.schedulers_online(), 1024, name: "ferrets-default")
              :persistent_term.put(@default_key, pool)
              pool

            pool ->
              pool
          end
        end)

      pool ->
        pool
    end
  end

  @doc """
  Submits a demo `job`; returns at once.

  Options: `:timeout` in ms (default `:infinity`): past it a queued job never
  runs and a running one is asked to stop; either way the result is
  `{:error, :timeout}`.
  """
  @spec run(t(), job(), keyword()) :: {:ok, Ferrets.Async.t()} | {:error, atom()}
  def run(pool, job, opts \\ []) do
    ref = make_ref()

    case Ferrets.Native.pool_run(pool, ref, job, Keyword.get(opts, :timeout, :infinity)) do
      {:ok, handle} -> {:ok, %Ferrets.Async{ref: ref, handle: handle}}
      error -> error
    end
  end

  @doc """
  Counters and latency summaries: `:submitted`, `:rejected`, `:completed`,
  `:failed`, `:panicked`, `:cancelled`, `:timed_out`, `:shutdown`,
  `:dead_caller_drops`, `:queue_depth`, `:in_flight`, `:workers`,
  `:queue_capacity`, and `:queue_wait` / `:run_time` maps of
  `:p50_us`, `:p90_us`, `:p99_us`, `:max_us`, `:count`.
  """
  @spec metrics(t()) :: map()
  def metrics(pool), do: Ferrets.Native.pool_metrics(pool)

  @doc """
  Shuts the pool down and waits for the report.

  `{:drain, timeout_ms}` (default `{:drain, 5_000}`) runs every queued job;
  jobs still queued after `timeout_ms` end with `{:error, :shutdown}` and
  running ones are asked to stop. `:abort` ends queued jobs with
  `{:error, :cancelled}` and asks running ones to stop. Either way every
  accepted job replies exactly once. Returns `{:ok, report}`.

  A shut-down pool stays shut down. `default/0`'s pool belongs to every
  caller in the VM (and `Ferrets.Async` calls without `:pool` use it), so
  shutting it down is refused: `{:error, :default_pool}`, and it keeps
  running.
  """
  @spec shutdown(t(), :abort | {:drain, non_neg_integer()}) :: {:ok, map()} | {:error, :default_pool}
  def shutdown(pool, mode \\ {:drain, 5_000}) do
    if pool == :persistent_term.get(@default_key, nil) do
      {:error, :default_pool}
    else
      do_shutdown(pool, mode)
    end
  end

  defp do_shutdown(pool, mode) do
    ref = make_ref()
    :ok = Ferrets.Native.pool_shutdown(pool, ref, mode)

    receive do
      {^ref, result} -> result
    end
  end
end
