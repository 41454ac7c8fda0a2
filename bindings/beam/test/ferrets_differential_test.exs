defmodule FerretsDifferentialTest do
  @moduledoc """
  Random operation sequences applied to `:ets` and `:ferrets` side by side;
  every result (including `badarg`) must be the same. Traversal order is
  ferrets' own, so traversals are compared as sorted lists.
  """
  use ExUnit.Case, async: true

  @sequences 600
  @ops_per_sequence 40

  defp big, do: :binary.copy("x", 70)

  defp rand_key do
    Enum.random([
      fn -> :rand.uniform(6) - 3 end,
      fn -> Enum.random([1.0, 2.5, -3.0, 0.0, -0.0]) end,
      fn -> Enum.random([:a, :b, :c, nil, true]) end,
      fn -> Enum.random(["", "k", "key", big()]) end,
      fn -> {Enum.random([:t, 1]), :rand.uniform(2)} end,
      fn -> Enum.random([%{}, %{a: 1}, %{1 => "x", b: [2]}]) end,
      fn -> Enum.random([[], [1], [1, 2 | 3], ~c"ab"]) end,
      fn -> Bitwise.bsl(1, 70) end
    ]).()
  end

  defp rand_value do
    Enum.random([
      fn -> :rand.uniform(10) end,
      fn -> rand_key() end,
      fn -> {rand_key(), [rand_key()]} end,
      fn -> <<1, 2, 3>> end,
      fn -> big() end,
      fn -> %{x: rand_key(), y: :rand.uniform(3)} end,
      fn -> self() end,
      fn -> 3.5 end
    ]).()
  end

  defp rand_object do
    case :rand.uniform(12) do
      1 -> Enum.random([:not_a_tuple, [{:k, 1} | {:k, 2}]])
      2 -> {}
      3 -> {rand_key()}
      4 -> {rand_key(), :rand.uniform(5), rand_value()}
      5 -> {rand_key(), :rand.uniform(5), :rand.uniform(5), :rand.uniform(5)}
      _ -> {rand_key(), rand_value()}
    end
  end

  defp rand_counter_op do
    Enum.random([
      fn -> :rand.uniform(7) - 3 end,
      fn -> {2, :rand.uniform(5) - 2} end,
      fn -> {Enum.random([1, 2, 3, 4, 9]), 1} end,
      fn -> {2, Enum.random([-2, 3]), Enum.random([0, 5]), Enum.random([-1, 1, 100])} end,
      fn -> [{2, 1}, {3, -1, 0, 7}] end,
      fn -> {2, Bitwise.bsl(1, 64)} end,
      # A zero increment with a threshold counts as counting up (ETS).
      fn -> {2, 0, Enum.random([0, 5]), 9} end,
      # Bare increments inside a list, and an improper list: badarg.
      fn -> Enum.random([[2], [{2, 1}, 1], [{2, 1} | 3]]) end,
      fn -> :bad end
    ]).()
  end

  # ferrets keeps no negative zero (see the README): a zero in a pattern
  # matches either zero there, where ETS's patterns tell 0.0 and -0.0 apart.
  # So patterns hold no float zero.
  defp rand_pattern_key do
    case rand_key() do
      k when is_float(k) and k == 0 -> rand_pattern_key()
      k -> k
    end
  end

  defp rand_head do
    Enum.random([
      fn -> :_ end,
      fn -> {:"$1", :"$2"} end,
      fn -> {:_, :_} end,
      fn -> {:"$1", :_, :_} end,
      fn -> {rand_pattern_key(), :"$2"} end,
      fn -> {rand_pattern_key(), :_, :_} end,
      fn -> {{:"$1", :_}, :"$2"} end,
      fn -> {:"$1", %{x: :"$2", y: :_}} end
    ]).()
  end

  defp rand_match_spec do
    clause = fn ->
      guards =
        Enum.random([
          [],
          [{:is_integer, :"$2"}],
          [{:>, :"$2", 2}],
          [{:"=:=", :"$1", :a}],
          [{:"=<", 1.5, :"$2"}],
          [{:andalso, {:>=, :"$2", 1}, {:<, :"$2", 3}}],
          [{:==, :"$2", 2.0}, {:"=/=", :"$1", :b}],
          [{:"=:=", :"$2", 2}]
        ])

      body = Enum.random([[:"$_"], [:"$$"], [true], [:"$1"], [{{:"$1", :x}}], [false]])
      {rand_head(), guards, body}
    end

    case :rand.uniform(10) do
      1 -> Enum.random([:bad, [{:_}], [{:_, :bad, [true]}], [], [clause.() | :improper]])
      2 -> [clause.(), clause.()]
      _ -> [clause.()]
    end
  end

  # select_replace: a body that keeps the key (the head's key variable or
  # constant, or '$_'), or any specification at all (mostly refused: ETS
  # judges whether it keeps the key, for both modules).
  defp rand_replace_spec do
    key = rand_pattern_key()

    case :rand.uniform(4) do
      1 ->
        rand_match_spec()

      _ ->
        Enum.random([
          [{{:"$1", :"$2"}, [], [{{:"$1", :x}}]}],
          [{{:"$1", :"$2"}, [{:is_integer, :"$2"}], [{{:"$1", {:const, :int}}}]}],
          [{{:"$1", :_, :_}, [], [:"$_"]}],
          [{{key, :"$2"}, [], [{{{:const, key}, {{:"$2"}}}}]}],
          [{{:"$1", :"$2"}, [], [{{:"$1", :"$2", :more}}]}, {{:"$1", :_, :_}, [], [{{:"$1"}}]}]
        ])
    end
  end

  defp rand_op do
    case :rand.uniform(28) do
      n when n <= 5 ->
        if :rand.uniform(4) == 1,
          do: {:insert, [for(_ <- 1..:rand.uniform(4), do: rand_object())]},
          else: {:insert, [rand_object()]}

      6 ->
        {:insert_new, [Enum.random([rand_object(), [rand_object(), rand_object()]])]}

      n when n <= 9 ->
        {:lookup, [rand_key()]}

      10 ->
        {:lookup_element, [rand_key(), Enum.random([1, 2, 3, 0, :x])]}

      11 ->
        {:member, [rand_key()]}

      12 ->
        {:take, [rand_key()]}

      13 ->
        {:delete, [rand_key()]}

      14 ->
        {:delete_object, [rand_object()]}

      15 ->
        {:update_counter, [rand_key(), rand_counter_op()]}

      16 ->
        {:update_counter, [rand_key(), rand_counter_op(), Enum.random([{:d, 0}, {:d, 0, 0}, :x])]}

      17 ->
        {:update_element,
         [
           rand_key(),
           Enum.random([
             {2, rand_value()},
             [{3, 1}, {2, big()}],
             {1, :k},
             {7, 1},
             :bad,
             [{2, 1} | :x]
           ])
         ]}

      18 ->
        {:info,
         [
           Enum.random([
             :size,
             :type,
             :keypos,
             :named_table,
             :protection,
             :name,
             :owner,
             :heir,
             :write_concurrency,
             :compressed,
             :bogus
           ])
         ]}

      19 ->
        Enum.random([{:tab2list, []}, {:info_all, []}])

      20 ->
        {:traverse, []}

      21 ->
        Enum.random([{:foldl, []}, {:foldr, []}, {:fold_bad_fun, [Enum.random([:x, :arity1])]}])

      22 ->
        if :rand.uniform(5) == 1, do: {:delete_all_objects, []}, else: {:lookup, [rand_key()]}

      23 ->
        {:select, [rand_match_spec()]}

      24 ->
        {:select_walk,
         [
           Enum.random([:select, :select_reverse]),
           rand_match_spec(),
           Enum.random([1, 2, 5, 100, 0, :x])
         ]}

      25 ->
        {Enum.random([:select_count, :select_delete]), [rand_match_spec()]}

      26 ->
        {Enum.random([:match, :match_object, :match_delete]), [rand_head()]}

      27 ->
        {:select_walk,
         [Enum.random([:match, :match_object]), rand_head(), Enum.random([1, 3, 0])]}

      28 ->
        {:select_replace, [rand_replace_spec()]}
    end
  end

  defp run(mod, t, {fun, [ms]}) when fun in [:select, :match, :match_object],
    do: safe(fn -> Enum.sort(apply(mod, fun, [t, ms])) end)

  # A limited walk to its end: the union of the chunks, none over the limit.
  defp run(mod, t, {:select_walk, [fun, ms, limit]}) do
    safe(fn ->
      Stream.unfold(apply(mod, fun, [t, ms, limit]), fn
        :"$end_of_table" -> nil
        {chunk, cont} -> {chunk, apply(mod, fun, [cont])}
      end)
      |> Enum.flat_map(fn chunk -> if length(chunk) > limit, do: [:over_limit], else: chunk end)
      |> Enum.sort()
    end)
  end

  defp run(mod, t, {:traverse, []}) do
    safe(fn -> walk(mod, t, mod.first(t), []) |> Enum.sort() end)
  end

  defp run(mod, t, {:info_all, []}),
    do: safe(fn -> mod.info(t) |> Keyword.drop([:memory, :id]) end)

  defp run(mod, t, {:tab2list, []}), do: safe(fn -> Enum.sort(mod.tab2list(t)) end)

  defp run(mod, t, {:foldl, []}),
    do: safe(fn -> mod.foldl(fn o, acc -> [o | acc] end, [], t) |> Enum.sort() end)

  defp run(mod, t, {:foldr, []}),
    do: safe(fn -> mod.foldr(fn o, acc -> [o | acc] end, [], t) |> Enum.sort() end)

  # Not a 2-ary fun: function_clause in lists:foldl/3, or the
  # accumulator untouched on an empty table (ETS).
  defp run(mod, t, {:fold_bad_fun, [bad]}),
    do: safe(fn -> mod.foldl(if(bad == :x, do: :x, else: &Function.identity/1), :acc, t) end)

  defp run(mod, t, {fun, args}), do: safe(fn -> apply(mod, fun, [t | args]) end)

  defp walk(_mod, _t, :"$end_of_table", acc), do: acc
  defp walk(mod, t, k, acc), do: walk(mod, t, mod.next(t, k), [k | acc])

  # Any exception is compared by kind, reason and message (a NIF panic or a
  # function_clause where ETS gives badarg is a difference too, and so is a
  # badarg explained differently: the message comes from the error info).
  defp safe(f) do
    {:ok, f.()}
  catch
    kind, reason -> {kind, reason, Exception.format_banner(kind, reason, __STACKTRACE__)}
  end

  # The table-level functions, then calls on the deleted table: setopts,
  # give_away to the owner itself, info/1, whereis, rename, delete/1.
  defp finale(e, f, name, opts) do
    same = fn label, fun ->
      expected = safe(fn -> fun.(:ets, e) end)
      actual = safe(fn -> fun.(:ferrets, f) end)

      assert actual == expected,
             "#{inspect(opts)}: #{label} gave #{inspect(actual)}, :ets gave #{inspect(expected)}"

      actual
    end

    heir =
      Enum.random([{:heir, :none}, {:heir, self(), :d}, {:bogus, 1}, [{:heir, :none} | :x], :x])

    same.("setopts #{inspect(heir)}", fn m, t -> {m.setopts(t, heir), m.info(t, :heir)} end)
    same.("give_away to the owner", fn m, t -> m.give_away(t, self(), :gift) end)
    same.("give_away to a non-pid", fn m, t -> m.give_away(t, :pid, :gift) end)
    same.("info/1", fn m, t -> m.info(t) |> Keyword.drop([:memory, :id]) end)
    same.("whereis", fn m, _t -> is_reference(m.whereis(name)) end)
    same.("rename to a non-atom", fn m, t -> m.rename(t, "x") end)
    new_name = :"#{name}_renamed"
    {:ok, renamed} = same.("rename", fn m, t -> is_atom(m.rename(t, new_name)) end)
    {e, f} = if renamed, do: {new_name, new_name}, else: {e, f}

    same = fn label, fun ->
      expected = safe(fn -> fun.(:ets, e) end)
      actual = safe(fn -> fun.(:ferrets, f) end)

      assert actual == expected,
             "#{inspect(opts)}: #{label} gave #{inspect(actual)}, :ets gave #{inspect(expected)}"
    end

    same.("whereis after rename", fn m, _t ->
      {m.whereis(name), is_reference(m.whereis(new_name))}
    end)

    same.("delete/1", fn m, t -> m.delete(t) end)

    for {label, call} <- [
          lookup: &apply(&1, :lookup, [&2, 1]),
          insert: &apply(&1, :insert, [&2, {1, 2}]),
          info: &apply(&1, :info, [&2]),
          info_size: &apply(&1, :info, [&2, :size]),
          delete: &apply(&1, :delete, [&2]),
          tab2list: &apply(&1, :tab2list, [&2]),
          whereis: fn m, _t -> m.whereis(new_name) end
        ] do
      same.("#{label} after delete/1", call)
    end
  end

  for type <- [:set, :bag, :duplicate_bag] do
    test "random operation sequences give the same results on #{type}" do
      :rand.seed(:exsss, {1, 2, unquote(Macro.escape(type)) |> :erlang.phash2()})

      for seq <- 1..@sequences do
        opts =
          [unquote(type), Enum.random([:public, :protected])] ++
            if(rem(seq, 7) == 0, do: [{:keypos, 2}], else: []) ++
            if(rem(seq, 5) == 0, do: [:named_table, {:write_concurrency, :auto}], else: []) ++
            Enum.random([
              [],
              [{:read_concurrency, true}],
              [{:write_concurrency, true}],
              [{:write_concurrency, :auto}, {:decentralized_counters, false}],
              [{:decentralized_counters, true}, :compressed],
              [{:heir, :none}]
            ])

        # Named tables are used by name (ets and ferrets names do not clash).
        name = :"diff_#{unquote(type)}_#{seq}"
        e = :ets.new(name, opts)
        f = :ferrets.new(name, opts)
        assert is_atom(e) == is_atom(f)

        Enum.reduce(1..@ops_per_sequence, [], fn _, history ->
          op = rand_op()
          if System.get_env("FERRETS_TRACE"), do: IO.inspect(op, label: "op")
          expected = run(:ets, e, op)
          if System.get_env("FERRETS_TRACE"), do: IO.puts("ets done")
          actual = run(:ferrets, f, op)
          if System.get_env("FERRETS_TRACE"), do: IO.puts("ferrets done")

          assert actual == expected,
                 "#{unquote(type)} #{inspect(opts)}: #{inspect(op)} gave #{inspect(actual)}, " <>
                   ":ets gave #{inspect(expected)}; earlier ops: #{inspect(Enum.reverse(history))}"

          [op | history]
        end)

        assert Enum.sort(:ferrets.tab2list(f)) == Enum.sort(:ets.tab2list(e))
        finale(e, f, name, opts)
      end
    end
  end
end
