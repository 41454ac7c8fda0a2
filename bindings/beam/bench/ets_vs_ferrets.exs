# :ets vs :ferrets, side by side in one VM.
#
#     cd bindings/beam && MIX_ENV=prod mix run bench/ets_vs_ferrets.exs
#
# Both tables: `set, public, read_concurrency, write_concurrency: auto`,
# 100k prefilled integer keys. Each row runs with 1 then 2 schedulers online
# (one worker process per scheduler, each over its own slice of the keys).
# ETS and ferrets alternate every 10k operations (see Bench.row/5), so both
# see the same machine load; the report gives ns per operation (wall time /
# operations) as min and median over the chunks, and the median of the
# per-chunk ratios ETS time / ferrets time (> 1.0 means ferrets is faster).
# FERRETS_BENCH_ROUNDS (default 3) sets the passes over the 100k keys;
# FERRETS_BENCH_ONLY=insert runs only the rows whose label starts so.

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

  def rounds, do: String.to_integer(System.get_env("FERRETS_BENCH_ROUNDS", "3"))

  def table(mod, value_fun) do
    t = mod.new(:bench, @opts)
    for chunk <- Enum.chunk_every(1..@n, 5_000), do: mod.insert(t, Enum.map(chunk, &{&1, value_fun.(&1)}))
    t
  end

  # Runs `fun.(slice)` in `workers` processes at once; wall time in ns.
  # Worker i is bound to scheduler i (round robin; the undocumented but
  # long-standing `{:scheduler, n}` spawn option): left to the load balancer,
  # two short-lived workers often shared one scheduler for most of a chunk,
  # which made the 2-scheduler rows bimodal (the same row 0.7x or 1.4x).
  def timed(slices, fun) do
    parent = self()
    online = :erlang.system_info(:schedulers_online)

    pids =
      for {s, i} <- Enum.with_index(slices) do
        :erlang.spawn_opt(
          fn ->
            receive do
              :go -> :ok
            end

            fun.(s)
            send(parent, {:done, self()})
          end,
          [:link, {:scheduler, rem(i, online) + 1}]
        )
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

  # One row: `op` over `ops` on tables made by `setup`. The ops are cut in
  # chunks of @chunk; every chunk runs on ETS then at once on ferrets (in
  # `workers` processes), so both sides of a pair see the same machine load.
  # ns/op: min and median over all chunks; ratio: median of the per-pair
  # ratios ETS time / ferrets time.
  @chunk 10_000
  def row(label, workers, setup, op, ops) do
    ets_t = setup.(:ets)
    fer_t = setup.(:ferrets)
    chunks = Enum.chunk_every(ops, @chunk) |> Enum.map(&{&1, slices(&1, workers)})

    pairs =
      for _ <- 1..rounds(), {chunk, slices} <- chunks do
        te = timed(slices, &apply(Bench.Ets, op, [&1, ets_t])) / length(chunk)
        tf = timed(slices, &apply(Bench.Ferrets, op, [&1, fer_t])) / length(chunk)
        {te, tf}
      end

    :ets.delete(ets_t)
    :ferrets.delete(fer_t)
    {e, f} = Enum.unzip(pairs)
    ratio = median(Enum.map(pairs, fn {te, tf} -> te / tf end))

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

    only = System.get_env("FERRETS_BENCH_ONLY")

    rows = fn s ->
      [
        {"lookup", s, ints, :lookup, keys},
        {"insert", s, ints, :insert, keys},
        {"update_counter", s, counters, :update_counter, keys},
        {"member", s, ints, :member, keys},
        {"90/10 lookup/insert, 8 procs", 8, ints, :mixed, mixed},
        {"lookup 1 KB binary value", s, bins, :lookup, keys},
        {"lookup 4-key map value", s, maps, :lookup, keys}
      ]
      |> Enum.filter(fn {label, _, _, _, _} -> only == nil or String.starts_with?(label, only) end)
    end

    for s <- [1, 2] do
      :erlang.system_flag(:schedulers_online, s)
      for {label, w, setup, op, ops} <- rows.(s), do: row(label, w, setup, op, ops)
    end
  end
end

Bench.run()
