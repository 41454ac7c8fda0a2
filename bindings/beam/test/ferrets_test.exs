defmodule FerretsTest do
  use ExUnit.Case, async: true

  # Every case runs the same calls against :ets and :ferrets and compares.
  defp both(fun), do: {fun.(:ets), fun.(:ferrets)}

  test "insert, lookup, delete and size give the same results as :ets" do
    {ets, fer} =
      both(fn mod ->
        t = mod.new(:t, [:set, :public])
        r1 = mod.insert(t, {:a, 1})
        r2 = mod.insert(t, [{:b, 2}, {"c", %{x: [1.0]}}])
        r3 = mod.insert(t, {:a, :replaced})
        looks = for k <- [:a, :b, "c", :missing, 1, 1.0], do: mod.lookup(t, k)
        size = mod.info(t, :size)
        r4 = mod.delete(t, :a)
        r5 = mod.delete(t, :absent)
        {r1, r2, r3, looks, size, r4, r5, mod.lookup(t, :a), mod.info(t, :size)}
      end)

    assert ets == fer
    assert elem(fer, 3) |> hd() == [{:a, :replaced}]
  end

  test "integer and float keys are distinct, as in :ets set tables" do
    {ets, fer} =
      both(fn mod ->
        t = mod.new(:t, [:set])
        mod.insert(t, [{1, :int}, {1.0, :float}])
        {mod.lookup(t, 1), mod.lookup(t, 1.0), mod.info(t, :size)}
      end)

    assert ets == fer
    assert fer == {[{1, :int}], [{1.0, :float}], 2}
  end

  test "named tables resolve by atom and the Elixir module delegates" do
    name = :"ferrets_named_#{System.unique_integer([:positive])}"
    assert Ferrets.new(name, [:set, :named_table]) == name
    assert Ferrets.insert(name, {:k, :v})
    assert Ferrets.lookup(name, :k) == [{:k, :v}]
    assert Ferrets.info(name, :named_table) == true
    assert_raise ArgumentError, fn -> Ferrets.new(name, [:named_table]) end
    assert Ferrets.delete(name)
    assert Ferrets.info(name, :size) == :undefined
    assert_raise ArgumentError, fn -> Ferrets.lookup(name, :k) end
  end

  test "keypos selects the key element" do
    t = :ferrets.new(:kp, [{:keypos, 2}])
    true = :ferrets.insert(t, {:row, :id1, "data"})
    assert :ferrets.lookup(t, :id1) == [{:row, :id1, "data"}]
    assert_raise ArgumentError, fn -> :ferrets.insert(t, {:too_short}) end

    # Pairs of immediates take a shortcut encoding: the key is still element 2.
    e = :ets.new(:kp, [{:keypos, 2}])
    f = :ferrets.new(:kp, [{:keypos, 2}])

    for obj <- [{1, :a}, {2, :a}, {3, 7}, {:x, 7}, {:b}, {}] do
      assert safe(fn -> :ferrets.insert(f, obj) end) == safe(fn -> :ets.insert(e, obj) end)
    end

    for k <- [:a, 7, 1, :b] do
      assert :ferrets.lookup(f, k) == :ets.lookup(e, k)

      assert safe(fn -> :ferrets.update_counter(f, k, {1, 5}) end) ==
               safe(fn -> :ets.update_counter(e, k, {1, 5}) end)

      assert safe(fn -> :ferrets.update_counter(f, k, 1) end) ==
               safe(fn -> :ets.update_counter(e, k, 1) end)
    end

    assert Enum.sort(:ferrets.tab2list(f)) == Enum.sort(:ets.tab2list(e))
  end

  defp safe(f) do
    {:ok, f.()}
  rescue
    ArgumentError -> :badarg
  end

  test "bad input raises badarg like :ets and never crashes the VM" do
    t = :ferrets.new(:bad, [:set])

    for {fun, args} <- [
          {:new, ["not an atom", []]},
          {:new, [:x, :not_a_list]},
          {:new, [:x, [:bogus_option]]},
          {:insert, [t, :not_a_tuple]},
          {:insert, [t, [{:ok}, :not_a_tuple]]},
          {:insert, [make_ref(), {:a, 1}]},
          {:lookup, [self(), :k]},
          {:info, [t, "size"]}
        ] do
      assert_raise ArgumentError, fn -> apply(:ferrets, fun, args) end
    end

    # A failed list insert changes nothing.
    assert :ferrets.info(t, :size) == 0
  end

  test "keys and objects around the inline size limits behave like :ets" do
    # Keys are inline up to 23 encoded bytes (a binary of 18 bytes, a pair
    # of immediates), objects up to 28; each side of both limits, through
    # fresh inserts, in-place overwrites, counters, bags and deletes.
    keys =
      for(n <- 16..20, do: :binary.copy("k", n)) ++
        [{:user, 42}, {:user, 42, 1}, {1, 2}, {1.5, :a}, 7, :k]

    values = [0, :binary.copy("v", 4), :binary.copy("v", 5), :binary.copy("v", 6), {1, 2}, [1]]

    for type <- [:set, :bag, :duplicate_bag] do
      e = :ets.new(:lim, [type, :public])
      f = :ferrets.new(:lim, [type, :public])

      for k <- keys, v <- values, obj <- [{k, v}, {k, v, 1}, {k, 1, v}] do
        assert :ferrets.insert(f, obj) == :ets.insert(e, obj)
      end

      for k <- keys, v <- values do
        assert :ferrets.insert(f, {k, 5, v}) == :ets.insert(e, {k, 5, v})
        assert :ferrets.lookup(f, k) == :ets.lookup(e, k)
        assert :ferrets.member(f, k) == :ets.member(e, k)
      end

      if type == :set do
        for k <- keys, op <- [2, {2, -3}, {2, 1, 3, 0}, [{2, 1}, {2, 10}]] do
          assert :ferrets.update_counter(f, k, op) == :ets.update_counter(e, k, op)
          assert :ferrets.lookup(f, k) == :ets.lookup(e, k)
        end
      end

      for k <- Enum.take_every(keys, 2), do: assert(:ferrets.take(f, k) == :ets.take(e, k))
      assert Enum.sort(:ferrets.tab2list(f)) == Enum.sort(:ets.tab2list(e))
      assert :ferrets.info(f, :size) == :ets.info(e, :size)
    end
  end

  test "every per-key op raises badarg on anything but a live table, like :ets" do
    # The hot ops resolve table references with a cached resource type: a
    # resource of another type, a deleted table or a plain term must still
    # be refused, and a live table still accepted.
    {:ok, pool} = Ferrets.Pool.start(1, 1)
    dead = :ferrets.new(:dead, [:set, :public])
    true = :ferrets.delete(dead)
    dead_ets = :ets.new(:dead, [:set, :public])
    true = :ets.delete(dead_ets)

    calls = [
      insert: [{:k, 1}],
      insert_new: [{:k, 1}],
      lookup: [:k],
      lookup_element: [:k, 2],
      member: [:k],
      take: [:k],
      delete: [:k],
      update_counter: [:k, 1],
      update_counter: [:k, 1, {:k, 0}]
    ]

    for {bad, bad_ets} <- [
          {pool, pool},
          {dead, dead_ets},
          {make_ref(), make_ref()},
          {"tab", "tab"},
          {:no_such_tab, :no_such_tab}
        ],
        {fun, args} <- calls do
      assert_raise ArgumentError, fn -> apply(:ets, fun, [bad_ets | args]) end
      assert_raise ArgumentError, fn -> apply(:ferrets, fun, [bad | args]) end
    end

    live = :ferrets.new(:live, [:set, :public])
    assert :ferrets.insert(live, {:k, 1})
    assert :ferrets.update_counter(live, :k, 2) == 3
    assert :ferrets.lookup(live, :k) == [{:k, 3}]
    Ferrets.Pool.shutdown(pool)
  end

  # The NIF has its own allocator (mimalloc, native/ferrets_nif/src/alloc.rs):
  # objects of every layout are allocated on one scheduler and freed on
  # another, on a dirty scheduler and on the table's cleanup, and the table
  # must still hold exactly what :ets holds.
  test "objects made and freed on different schedulers end like :ets" do
    big = :binary.copy("b", 100)
    object = fn k, r ->
      case rem(k + r, 5) do
        0 -> {k, r}
        1 -> {k, r, :lists.seq(1, 12)}
        2 -> {k, big, r}
        3 -> {k, %{r: r, s: "short"}, [big, big]}
        _ -> {k, {r, r}, 1, 2, 3, 4, 5, 6, 7}
      end
    end

    online = :erlang.system_info(:schedulers_online)

    run = fn mod ->
      t = mod.new(:churn, [:set, :public])
      parent = self()

      pids =
        for w <- 0..3 do
          :erlang.spawn_opt(
            fn ->
              # Worker w inserts its own keys, then every worker deletes or
              # rewrites the keys of worker w + 1 (made on another scheduler).
              for r <- 0..5, k <- (w * 500)..(w * 500 + 499), do: mod.insert(t, object.(k, r))
              send(parent, {:stored, self()})
              receive do: (:go -> :ok)
              other = rem(w + 1, 4) * 500

              for k <- other..(other + 499) do
                if rem(k, 3) == 0, do: mod.delete(t, k), else: mod.insert(t, object.(k, 9))
              end

              send(parent, {:done, self()})
            end,
            [:link, {:scheduler, rem(w, online) + 1}]
          )
        end

      for p <- pids, do: assert_receive({:stored, ^p}, 30_000)
      for p <- pids, do: send(p, :go)
      for p <- pids, do: assert_receive({:done, ^p}, 30_000)
      # Long lists are stored on a dirty scheduler, and freed by the delete.
      true = mod.insert(t, for(k <- 10_000..12_999, do: object.(k, 1)))
      contents = Enum.sort(mod.tab2list(t))
      size = mod.info(t, :size)
      true = mod.delete(t)
      {contents, size}
    end

    {ets, fer} = {run.(:ets), run.(:ferrets)}
    assert ets == fer
    assert elem(fer, 1) == 2000 - 667 + 3000
  end
end
