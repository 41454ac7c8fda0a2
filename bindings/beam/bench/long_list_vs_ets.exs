# A long list insert under concurrent readers, :ets or :ferrets:
#
#     cd bindings/beam && MOD=ferrets MIX_ENV=prod mix run bench/long_list_vs_ets.exs
#     cd bindings/beam && MOD=ets MIX_ENV=prod mix run bench/long_list_vs_ets.exs
#
# Five inserts of a 200,000-object list into a set of 200,000 keys while
# four processes loop over lookup and update_counter on the same table;
# prints the time of the five inserts. Both modules store each list
# atomically and isolated, so the readers meet a busy table while it is
# stored (and help store it, in both systems).
mod = String.to_atom(System.get_env("MOD", "ferrets"))
n = 200_000
t = mod.new(:iso, [:set, :public])
true = mod.insert(t, for(k <- 1..n, do: {k, 0}))
stop = :atomics.new(1, [])

for _ <- 1..4 do
  spawn(fn ->
    loop = fn loop ->
      if :atomics.get(stop, 1) == 0 do
        mod.lookup(t, 1)
        mod.update_counter(t, n, {2, 1})
        loop.(loop)
      end
    end

    loop.(loop)
  end)
end

{us, _} = :timer.tc(fn -> for g <- 1..5, do: true = mod.insert(t, for(k <- 1..n, do: {k, g})) end)
:atomics.put(stop, 1, 1)
IO.puts("#{mod}: 5 inserts of #{n} objects under 4 readers: #{div(us, 1000)} ms")
