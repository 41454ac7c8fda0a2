# :ets vs :ferrets, side by side in one VM.
#
#     cd bindings/beam && MIX_ENV=prod mix run bench/ets_vs_ferrets.exs
#
# Both tables: `set, public, read_concurrency, write_concurrency: auto`,
# 100k prefilled integer keys. Each row runs with 1 then 2 schedulers online
# (one worker process per scheduler, each over its own slice of the keys),
# ETS and ferrets rounds interleaved; the report gives ns per operation
# (wall time / operations) as min and median over the rounds, and the ratio
# ETS / ferrets of the medians (> 1.0 means ferrets is faster).
# FERRETS_BENCH_ROUNDS (default 7) sets the number of rounds.

defmodule Bench.Loops do
  @moduledoc false
  # One module per backend, so every call site is a static remote call.
  for {name, mod} <- [{Bench.Ets, :ets}, {Bench.Ferrets, :ferrets}] do
    defmodule name do
      @moduledoc false
      def lookup([k | ks], t), do: (unquote(mod).lookup(t, k); lookup(ks, t))
      def lookup([], _), do: :ok
      def insert([k | ks], t), do: (unquote(mod).insert(t, {k, k}); insert(ks, t))
      def insert([], _), do: :ok
      def update_counter([k | ks], t), do: (unquote(mod).update_counter(t, k, 1); update_counter(ks, t))
      def update_counter([], _), do: :ok
      def member([k | ks], t), do: (unquote(mod).member(t, k); member(ks, t))
      def member([], _), do: :ok

      def mixed([{:r, k} | ops], t), do: (unquote(mod).lookup(t, k); mixed(ops, t))
      def mixed([{:w, k} | ops], t), do: (unquote(mod).insert(t, {k, k}); mixed(ops, t))
      def mixed([], _), do: :ok
    end
  end
end

defmodule Bench do
  @moduledoc false
  @n 100_000
  @opts [:set, :public, {:read_concurrency, true}, {:write_concurrency, :auto}]

  def rounds, do: String.to_integer(System.get_env("FERRETS_BENCH_ROUNDS", "7"))

  def table(mod, value_fun) do
    t = mod.new(:bench, @opts)
    for chunk <- Enum.chunk_every(1..@n, 5_000), do: mod.insert(t, Enum.map(chunk, &{&1, value_fun.(&1)}))
    t
  end

  # Runs `fun.(slice)` in `workers` processes at once; wall time in ns.
  def timed(slices, fun) do
    parent = self()

    pids =
      for s <- slices do
        spawn_link(fn ->
          receive do
            :go -> :ok
          end

          fun.(s)
          send(parent, {:done, self()})
        end)
      end

    t0 = System.monotonic_time(:nanosecond)
    Enum.each(pids, &send(&1, :go))
    Enum.each(pids, fn p -> receive(do: ({:done, ^p} -> :ok)) end)
    System.monotonic_time(:nanosecond) - t0
  end

  def slices(list, workers) do
    size = div(length(list) + workers - 1, workers)
    Enum.chunk_every(list, size)
  end

  def median(xs), do: Enum.at(Enum.sort(xs), div(length(xs), 2))

  # One row: `op` over `ops` (a list or per-worker lists) on tables made by `setup`.
  def row(label, workers, setup, op, ops) do
    ets_t = setup.(:ets)
    fer_t = setup.(:ferrets)
    slices = slices(ops, workers)
    total = length(ops)

    {e, f} =
      Enum.reduce(1..rounds(), {[], []}, fn _, {e, f} ->
        te = timed(slices, &apply(Bench.Ets, op, [&1, ets_t]))
        tf = timed(slices, &apply(Bench.Ferrets, op, [&1, fer_t]))
        {[te / total | e], [tf / total | f]}
      end)

    :ets.delete(ets_t)
    :ferrets.delete(fer_t)
    ratio = median(e) / median(f)

    IO.puts(
      :io_lib.format("~-28s ~2w  ets ~7.1f / ~7.1f   ferrets ~7.1f / ~7.1f   ~5.2fx", [
        label, workers, Enum.min(e), median(e), Enum.min(f), median(f), ratio
      ])
    )

    {label, workers, Enum.min(e), median(e), Enum.min(f), median(f), ratio}
  end

  def run do
    keys = Enum.shuffle(1..@n)
    ints = fn mod -> table(mod, & &1) end
    counters = fn mod -> table(mod, fn _ -> 0 end) end
    big = :binary.copy(<<7>>, 1024)
    map = %{name: "ferret", age: 3, tags: [:a, :b], score: 1.5}
    bins = fn mod -> table(mod, fn _ -> big end) end
    maps = fn mod -> table(mod, fn _ -> map end) end
    mixed = Enum.map(keys, fn k -> if rem(k, 10) == 0, do: {:w, k}, else: {:r, k} end)

    IO.puts("#{System.version()} / OTP #{System.otp_release()}, #{:erlang.system_info(:logical_processors_available)} cores, #{rounds()} rounds")
    IO.puts("row                        sch  ns/op min / median                            ratio (ets/ferrets)")

    for s <- [1, 2] do
      :erlang.system_flag(:schedulers_online, s)

      [
        row("lookup", s, ints, :lookup, keys),
        row("insert", s, ints, :insert, keys),
        row("update_counter", s, counters, :update_counter, keys),
        row("member", s, ints, :member, keys),
        row("90/10 lookup/insert, 8 procs", 8, ints, :mixed, mixed),
        row("lookup 1 KB binary value", s, bins, :lookup, keys),
        row("lookup 4-key map value", s, maps, :lookup, keys)
      ]
    end
  end
end

Bench.run()
