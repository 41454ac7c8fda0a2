defmodule Ferrets.Async do
  @moduledoc """
  Heavy table work on the native offload pool, replying by message like
  `Task`: each call returns `{:ok, task}` at once (or `{:error, :overloaded}`
  / `{:error, :shutting_down}`), and the result arrives later as
  `{task.ref, result}` with `result` `{:ok, value}` or `{:error, reason}`.
  Use `await/2` / `yield/2` like `Task.await/2` / `Task.yield/2`, or match
  the message in a GenServer's `handle_info/2`.

  Table arguments are checked at once (a bad or inaccessible table raises
  `ArgumentError`, like `:ets`). Options of every call: `:pool` (default
  `Ferrets.Pool.default/0`) and `:timeout` in ms (default `:infinity`).

  | call                            | value                                 |
  |---------------------------------|---------------------------------------|
  | `tab2list(tab)`                 | every object                          |
  | `reduce(tab, :count)`           | number of objects (folded natively)   |
  | `reduce(tab, {:sum, pos})`      | sum of element `pos` (`:badarith` if not numbers) |
  | `delete_all_objects(tab)`       | `true`                                |
  | `insert(tab, objects)`          | `true`; all or nothing (`:badarg`)    |
  | `save(tab, path)`               | records written (see `Ferrets.Snapshot`) |
  | `load(tab, path)`               | records loaded                        |

  ## Loading a snapshot at start-up: the native `handle_continue`

  `init/1` must return quickly, so the seed's advice is to load data in
  `handle_continue/2`. With ferrets the load itself runs off the BEAM
  schedulers, and the server stays responsive while it runs:

      def init(path) do
        tab = :ferrets.new(:cache, [:set, :public, :named_table, read_concurrency: true])
        {:ok, %{tab: tab, path: path, loading: nil}, {:continue, :load}}
      end

      def handle_continue(:load, state) do
        {:ok, task} = Ferrets.Async.load(state.tab, state.path)
        {:noreply, %{state | loading: task.ref}}
      end

      def handle_info({ref, result}, %{loading: ref} = state) do
        # {:ok, count}, or {:error, :enoent | :corrupt | :truncated | ...}:
        # a bad file never leaves a partial table.
        Logger.info("cache loaded: \#{inspect(result)}")
        {:noreply, %{state | loading: nil}}
      end

  Readers can use the table (`:ferrets.lookup/2`) while the load runs.
  """

  @enforce_keys [:ref, :handle]
  defstruct [:ref, :handle]

  @typedoc "A submitted job: `ref` tags its reply message `{ref, result}`."
  @type t :: %__MODULE__{ref: reference(), handle: reference()}

  @typedoc "What a job's reply carries."
  @type result :: {:ok, term()} | {:error, term()}

  @typedoc "Options: `:pool`, `:timeout` (ms or `:infinity`)."
  @type opts :: [pool: Ferrets.Pool.t(), timeout: timeout()]

  @doc "Every object of `tab`, built on a worker thread."
  @spec tab2list(Ferrets.tab(), opts()) :: {:ok, t()} | {:error, atom()}
  def tab2list(tab, opts \\ []), do: submit(opts, &Ferrets.Native.async_tab2list(&1, &2, tab, &3))

  @doc "A native fold over `tab`: `:count`, or `{:sum, pos}` of element `pos`."
  @spec reduce(Ferrets.tab(), :count | {:sum, pos_integer()}, opts()) ::
          {:ok, t()} | {:error, atom()}
  def reduce(tab, op, opts \\ []),
    do: submit(opts, &Ferrets.Native.async_reduce(&1, &2, tab, op, &3))

  @doc "Removes every object of `tab`."
  @spec delete_all_objects(Ferrets.tab(), opts()) :: {:ok, t()} | {:error, atom()}
  def delete_all_objects(tab, opts \\ []),
    do: submit(opts, &Ferrets.Native.async_delete_all(&1, &2, tab, &3))

  @doc "Inserts a list of objects; all or nothing."
  @spec insert(Ferrets.tab(), [tuple()], opts()) :: {:ok, t()} | {:error, atom()}
  def insert(tab, objects, opts \\ []) when is_list(objects),
    do: submit(opts, &Ferrets.Native.async_insert(&1, &2, tab, objects, &3))

  @doc "Writes a snapshot of `tab` to `path` (see `Ferrets.Snapshot`)."
  @spec save(Ferrets.tab(), Path.t(), opts()) :: {:ok, t()} | {:error, atom()}
  def save(tab, path, opts \\ []),
    do: submit(opts, &Ferrets.Native.async_save(&1, &2, tab, IO.chardata_to_string(path), &3))

  @doc "Inserts the objects of the snapshot at `path` into `tab`; all or nothing."
  @spec load(Ferrets.tab(), Path.t(), opts()) :: {:ok, t()} | {:error, atom()}
  def load(tab, path, opts \\ []),
    do: submit(opts, &Ferrets.Native.async_load(&1, &2, tab, IO.chardata_to_string(path), &3))

  defp submit(opts, fun) do
    pool = Keyword.get_lazy(opts, :pool, &Ferrets.Pool.default/0)
    ref = make_ref()

    case submit_nif(fun, pool, ref, Keyword.get(opts, :timeout, :infinity)) do
      {:ok, handle} -> {:ok, %__MODULE__{ref: ref, handle: handle}}
      error -> error
    end
  end

  # The NIF gives up helping a long list insert on the table after its
  # budget (before submitting anything) rather than hold the scheduler:
  # yield and submit again.
  defp submit_nif(fun, pool, ref, timeout) do
    fun.(pool, ref, timeout)
  catch
    :error, :ferrets_batch_busy ->
      :erlang.yield()
      submit_nif(fun, pool, ref, timeout)
  end

  @doc """
  Waits for the task's reply, like `Task.await/2`. On timeout the job is
  cancelled and the caller exits with
  `{:timeout, {Ferrets.Async, :await, [task, timeout]}}`.
  """
  @spec await(t(), timeout()) :: result()
  def await(%__MODULE__{ref: ref} = task, timeout \\ 5_000) do
    receive do
      {^ref, result} -> result
    after
      timeout ->
        cancel(task)
        # The reply (now likely {:error, :cancelled}) may still come: drop it.
        receive do
          {^ref, _} -> :ok
        after
          0 -> :ok
        end

        exit({:timeout, {__MODULE__, :await, [task, timeout]}})
    end
  end

  @doc """
  Waits up to `timeout` for the reply, like `Task.yield/2`: `{:ok, result}`,
  or `nil` if none came (the job keeps running; yield again or `cancel/1`).
  """
  @spec yield(t(), timeout()) :: {:ok, result()} | nil
  def yield(%__MODULE__{ref: ref}, timeout \\ 5_000) do
    receive do
      {^ref, result} -> {:ok, result}
    after
      timeout -> nil
    end
  end

  @doc """
  Cancels the job: one not yet started never runs; a running one is asked to
  stop (its cancel token). Returns `:not_started`, `:running` or
  `:already_finished`. The reply still arrives: `{:error, :cancelled}`, or
  the result if the job finished first.
  """
  @spec cancel(t()) :: :not_started | :running | :already_finished
  def cancel(%__MODULE__{handle: handle}), do: Ferrets.Native.pool_cancel(handle)
end
