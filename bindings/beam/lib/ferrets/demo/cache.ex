defmodule Ferrets.Demo.Cache do
  @moduledoc """
  The four caches of the demo's first section, all with `get/2` and `put/3`:

  - `:genserver`: the seed's single-process cache (every request goes
    through one mailbox);
  - `:partitioned`: 16 such servers, chosen by `:erlang.phash2/2`;
  - `:ets`: a public ETS table with `read_concurrency: true`, called directly;
  - `:ferrets`: a public ferrets table, called directly.
  """

  @partitions 16

  defmodule Server do
    @moduledoc "The seed's GenServer cache: state is a map."
    use GenServer

    @doc false
    def start(initial), do: GenServer.start(__MODULE__, initial)

    @impl true
    def init(initial), do: {:ok, initial}

    @impl true
    def handle_call({:get, key}, _from, state), do: {:reply, Map.get(state, key), state}

    def handle_call({:put, key, value}, _from, state),
      do: {:reply, :ok, Map.put(state, key, value)}
  end

  @typedoc "A running cache."
  @type t ::
          {:genserver, pid()}
          | {:partitioned, tuple()}
          | {:ets, :ets.tid()}
          | {:ferrets, Ferrets.tab()}

  @doc "The cache designs, in display order."
  def designs, do: [:genserver, :partitioned, :ets, :ferrets]

  @doc "A display name."
  def label(:genserver), do: "GenServer"
  def label(:partitioned), do: "16 partitions"
  def label(:ets), do: "ETS"
  def label(:ferrets), do: "ferrets"

  @doc "Starts a cache of `design` holding keys `1..keys`."
  @spec start(atom(), pos_integer()) :: t()
  def start(:genserver, keys) do
    {:ok, pid} = Server.start(Map.new(1..keys, &{&1, &1}))
    {:genserver, pid}
  end

  def start(:partitioned, keys) do
    parts = Enum.group_by(1..keys, &:erlang.phash2(&1, @partitions))

    pids =
      for p <- 0..(@partitions - 1) do
        {:ok, pid} = Server.start(Map.new(Map.get(parts, p, []), &{&1, &1}))
        pid
      end

    {:partitioned, List.to_tuple(pids)}
  end

  def start(:ets, keys) do
    tab = :ets.new(:demo_cache, [:set, :public, read_concurrency: true])
    :ets.insert(tab, for(k <- 1..keys, do: {k, k}))
    {:ets, tab}
  end

  def start(:ferrets, keys) do
    tab = :ferrets.new(:demo_cache, [:set, :public, read_concurrency: true])
    :ferrets.insert(tab, for(k <- 1..keys, do: {k, k}))
    {:ferrets, tab}
  end

  @doc "Reads `key`."
  def get({:genserver, pid}, key), do: GenServer.call(pid, {:get, key})

  def get({:partitioned, pids}, key),
    do: GenServer.call(elem(pids, :erlang.phash2(key, @partitions)), {:get, key})

  def get({:ets, tab}, key), do: :ets.lookup(tab, key)
  def get({:ferrets, tab}, key), do: :ferrets.lookup(tab, key)

  @doc "Writes `key`."
  def put({:genserver, pid}, key, value), do: GenServer.call(pid, {:put, key, value})

  def put({:partitioned, pids}, key, value),
    do: GenServer.call(elem(pids, :erlang.phash2(key, @partitions)), {:put, key, value})

  def put({:ets, tab}, key, value), do: :ets.insert(tab, {key, value})
  def put({:ferrets, tab}, key, value), do: :ferrets.insert(tab, {key, value})

  @doc "The processes whose mailboxes can grow."
  def servers({:genserver, pid}), do: [pid]
  def servers({:partitioned, pids}), do: Tuple.to_list(pids)
  def servers(_), do: []

  @doc "Stops the cache."
  def stop({:genserver, pid}), do: Process.exit(pid, :kill)

  def stop({:partitioned, pids}),
    do: pids |> Tuple.to_list() |> Enum.each(&Process.exit(&1, :kill))

  def stop({:ets, tab}), do: :ets.delete(tab)
  def stop({:ferrets, tab}), do: :ferrets.delete(tab)
end
