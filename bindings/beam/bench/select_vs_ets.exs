# :ets vs :ferrets on match specifications, side by side in one VM.
#
#     cd bindings/beam && MIX_ENV=prod mix run bench/select_vs_ets.exs
#
# Both tables: `set, public, read_concurrency, write_concurrency: auto`,
# 100k objects `{i, rem(i, 7), "v<i>"}`. Each case runs on ETS then on
# ferrets, alternately, FERRETS_BENCH_ROUNDS times (default 7); the report
# gives the minimum and median time per call of each, and the median of the
# per-round ratios ETS time / ferrets time (> 1.0 means ferrets is faster).
# One process, one scheduler's worth of work: these calls are one walk each.

defmodule SelectBench do
  @moduledoc false
  @n 100_000
  @opts [:set, :public, {:read_concurrency, true}, {:write_concurrency, :auto}]

  def rounds, do: String.to_integer(System.get_env("FERRETS_BENCH_ROUNDS", "7"))

  def table(mod) do
    t = mod.new(:bench, @opts)

    for chunk <- Enum.chunk_every(1..@n, 5_000),
        do: mod.insert(t, Enum.map(chunk, &{&1, rem(&1, 7), "v#{&1}"}))

    t
  end

  # {label, calls per timing, fun(mod, table)}
  def cases do
    keys = Enum.take_random(1..@n, 1_000)

    [
      {"select, full walk, 1 in 7 match", 1,
       fn m, t -> m.select(t, [{{:"$1", 0, :_}, [], [:"$1"]}]) end},
      {"select_count, full walk, guard", 1,
       fn m, t -> m.select_count(t, [{{:_, :"$1", :_}, [{:<, :"$1", 2}], [true]}]) end},
      # A cache's expiry sweep when nothing has expired: a guard on an element.
      {"select_delete, full walk, guard, nothing matches", 1,
       fn m, t -> m.select_delete(t, [{{:_, :"$1", :_}, [{:>, :"$1", 10}], [true]}]) end},
      {"match_object, full walk, nothing matches", 1,
       fn m, t -> m.match_object(t, {:_, 9, :_}) end},
      {"select/3 walk, limit 1,000, every object", 1,
       fn m, t -> walk(m, m.select(t, [{:_, [], [:"$_"]}], 1_000), 0) end},
      {"match_object, bound key (1,000 calls)", 1_000,
       fn m, t -> Enum.each(keys, &m.match_object(t, {&1, :_, :_})) end},
      {"select, bound key (1,000 calls)", 1_000,
       fn m, t -> Enum.each(keys, &m.select(t, [{{&1, :"$1", :_}, [], [:"$1"]}])) end}
    ]
  end

  defp walk(_m, :"$end_of_table", n), do: n
  defp walk(m, {chunk, cont}, n), do: walk(m, m.select(cont), n + length(chunk))

  defp time(fun) do
    :erlang.garbage_collect()
    {us, _} = :timer.tc(fun)
    us
  end

  def run do
    e = table(:ets)
    f = table(:ferrets)

    IO.puts(
      "| case | ETS min / median | ferrets min / median | ETS / ferrets (median of rounds) |"
    )

    IO.puts("|---|---:|---:|---:|")

    for {label, calls, fun} <- cases() do
      samples =
        for _ <- 1..rounds() do
          te = time(fn -> fun.(:ets, e) end)
          tf = time(fn -> fun.(:ferrets, f) end)
          {te / calls, tf / calls}
        end

      {es, fs} = Enum.unzip(samples)
      ratios = Enum.map(samples, fn {a, b} -> a / b end)

      IO.puts(
        "| #{label} | #{fmt(Enum.min(es))} / #{fmt(median(es))} | #{fmt(Enum.min(fs))} / #{fmt(median(fs))} | " <>
          "#{Float.round(median(ratios), 2)} |"
      )
    end
  end

  defp median(xs), do: Enum.at(Enum.sort(xs), div(length(xs), 2))
  defp fmt(us) when us >= 1_000, do: "#{Float.round(us / 1_000, 1)} ms"
  defp fmt(us), do: "#{Float.round(us * 1.0, 1)} µs"
end

SelectBench.run()
