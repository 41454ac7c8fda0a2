defmodule Ferrets.Demo.Blocking do
  @moduledoc """
  The demo's second section: a server whose `:slow` calls do a 50 ms
  blocking operation against a backend that serves 16 requests at a time
  (think: a database behind a pool of 16 connections), while `:fast` calls
  just reply. Three designs:

  - `:inline`: the seed's bad example; the operation runs in `handle_call/3`,
    so every other call waits behind it.
  - `:task`: the seed's fix; `Task.Supervisor.async_nolink/2` per slow call,
    replying from `handle_info/2`. Nothing bounds the number of tasks: under
    overload they pile up waiting for a backend connection.
  - `:ferrets`: the operation runs on a `Ferrets.Pool` of 16 workers with a
    bounded queue; a full queue answers `{:error, :overloaded}` at once, and
    each job's deadline is its caller's timeout, so no work starts for a
    caller who has given up.
  """
  use GenServer

  @capacity 16
  @queue 32

  @doc "The backend's concurrency (and the ferrets pool's worker count)."
  def capacity, do: @capacity

  @doc "The designs, in display order."
  def designs, do: [:inline, :task, :ferrets]

  @doc "A display name."
  def label(:inline), do: "inline"
  def label(:task), do: "Task.Supervisor"
  def label(:ferrets), do: "ferrets pool"

  @doc """
  Starts a server of `design` whose slow calls block for `op_ms`; it adds 1
  to slot `slot` of `counters` per completed slow operation. Callers use
  `call_timeout` ms (the ferrets design uses it as the job deadline).
  """
  def start(design, op_ms, call_timeout, {counters, slot}) do
    extra =
      case design do
        :inline ->
          %{}

        :task ->
          {:ok, sup} = Task.Supervisor.start_link()
          {:ok, sem} = Ferrets.Demo.Semaphore.start(@capacity)
          Process.unlink(sup)
          %{sup: sup, sem: sem}

        :ferrets ->
          {:ok, pool} = Ferrets.Pool.start(@capacity, @queue, name: "demo-backend")
          %{pool: pool}
      end

    base = %{
      design: design,
      op_ms: op_ms,
      call_timeout: call_timeout,
      pending: %{},
      done: {counters, slot}
    }

    GenServer.start(__MODULE__, Map.merge(extra, base))
  end

  @doc "Stops the server and what it started."
  def stop(pid) do
    state = :sys.get_state(pid, 1_000)

    if sup = state[:sup] do
      Process.exit(sup, :kill)
      Process.exit(state.sem, :kill)
    end

    if pool = state[:pool], do: Ferrets.Pool.shutdown(pool, :abort)
    Process.exit(pid, :kill)
  catch
    :exit, _ -> Process.exit(pid, :kill)
  end

  @impl true
  def init(state), do: {:ok, state}

  @impl true
  def handle_call(:fast, _from, state), do: {:reply, :ok, state}

  def handle_call(:slow, _from, %{design: :inline} = state) do
    # Capacity 1: the server itself is the only caller of the backend.
    Process.sleep(state.op_ms)
    done(state)
    {:reply, :ok, state}
  end

  def handle_call(:slow, from, %{design: :task} = state) do
    %{sem: sem, op_ms: ms} = state

    task =
      Task.Supervisor.async_nolink(state.sup, fn ->
        :ok = Ferrets.Demo.Semaphore.acquire(sem)
        Process.sleep(ms)
        Ferrets.Demo.Semaphore.release(sem)
        :ok
      end)

    {:noreply, put_in(state.pending[task.ref], from)}
  end

  def handle_call(:slow, from, %{design: :ferrets} = state) do
    # The job's deadline is the caller's timeout: work for a caller who gave
    # up is never started (and a running one is told to stop).
    case Ferrets.Pool.run(state.pool, {:sleep_ms, state.op_ms}, timeout: state.call_timeout) do
      {:ok, task} -> {:noreply, put_in(state.pending[task.ref], from)}
      {:error, reason} -> {:reply, {:error, reason}, state}
    end
  end

  @impl true
  def handle_info({ref, result}, state) when is_reference(ref) do
    {from, pending} = Map.pop(state.pending, ref)

    if from do
      if state.design == :task, do: Process.demonitor(ref, [:flush])
      reply = normalize(result)
      if reply == :ok, do: done(state)
      GenServer.reply(from, reply)
    end

    {:noreply, %{state | pending: pending}}
  end

  def handle_info({:DOWN, ref, :process, _, reason}, state) do
    {from, pending} = Map.pop(state.pending, ref)
    if from, do: GenServer.reply(from, {:error, reason})
    {:noreply, %{state | pending: pending}}
  end

  defp done(%{done: {counters, slot}}), do: :counters.add(counters, slot, 1)

  defp normalize({:ok, _}), do: :ok
  defp normalize(other), do: other
end

defmodule Ferrets.Demo.Semaphore do
  @moduledoc "A FIFO counting semaphore: the backend's connection limit for the Task design."
  use GenServer

  @doc false
  def start(n), do: GenServer.start(__MODULE__, n)
  @doc "Waits for a slot."
  def acquire(sem), do: GenServer.call(sem, :acquire, :infinity)
  @doc "Frees a slot."
  def release(sem), do: GenServer.cast(sem, :release)

  @impl true
  def init(n), do: {:ok, {n, :queue.new()}}

  @impl true
  def handle_call(:acquire, _from, {n, q}) when n > 0, do: {:reply, :ok, {n - 1, q}}
  def handle_call(:acquire, from, {0, q}), do: {:noreply, {0, :queue.in(from, q)}}

  @impl true
  def handle_cast(:release, {n, q}) do
    case :queue.out(q) do
      {{:value, from}, q} ->
        GenServer.reply(from, :ok)
        {:noreply, {n, q}}

      {:empty, q} ->
        {:noreply, {n + 1, q}}
    end
  end
end
