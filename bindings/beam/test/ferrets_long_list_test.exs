defmodule FerretsLongListTest do
  @moduledoc """
  `insert/2` and `insert_new/2` of long lists (past the NIF's `MAX_ISOLATED`
  of 1,000 objects, stored by a dirty NIF that other callers help): same
  results as `:ets`, and atomic and isolated like `:ets` ("even when a list
  of objects is inserted"). Every property is checked on both modules, so a
  test that `:ets` fails is a wrong test, not a ferrets bug.
  """
  use ExUnit.Case, async: true

  @mods [:ets, :ferrets]

  defp sorted(mod, t), do: Enum.sort(mod.tab2list(t))

  test "long lists with repeated keys give the same table as ets, for every type" do
    # ETS stores a list in order when the caller has the reductions to do it
    # at once (so after a yield, up to 32,000 objects) and last to first
    # otherwise; a bag always last to first. Which object of a key a set
    # keeps, and a duplicate_bag's order, follow.
    for type <- [:set, :bag, :duplicate_bag], n <- [1_001, 4_000, 40_000] do
      # Keys repeat (each about 3 times), with equal and different objects,
      # so which object wins and the per-key order matter.
      list = for i <- 1..n, do: {rem(i * 7, div(n, 3)), rem(i, 5), i > n - 10}

      [ets, fer] =
        for mod <- @mods do
          t = mod.new(:long, [type, :public])
          true = mod.insert(t, {0, :before, false})
          :erlang.yield()
          assert mod.insert(t, list) == true
          lookups = for k <- 0..9, do: mod.lookup(t, k)
          {sorted(mod, t), lookups, mod.info(t, :size)}
        end

      assert fer == ets, "#{type}, #{n} objects"
    end
  end

  test "a long list insert or init_table leaves no table growth half done" do
    # ferrets: writers finish a partition's resize a chunk at a time and
    # readers never do, so a load that stops while partitions grow would keep
    # both arrays (more memory, slower misses) until later writes finished
    # them, as this overwrite pass does. The dirty insert finishes them
    # before it returns. (With 2 cores a table has 16 partitions, which grow
    # almost in step: without the finish, both sizes ended mid-resize.)
    for mod <- @mods, n <- [180_379, 186_530], load <- [:insert, :init_table, :file2tab] do
      t = mod.new(:settle, [:set, :public])
      objects = for i <- 1..n, do: {i, i}

      t =
        case load do
          :insert ->
            assert mod.insert(t, objects) == true
            t

          # init_table inserts object by object; it finishes the growth too.
          :init_table ->
            init = fn
              :read -> {objects, fn _ -> :end_of_input end}
              :close -> :ok
            end

            assert mod.init_table(t, init) == true
            t

          # So does file2tab, a hundred objects at a time.
          :file2tab ->
            file = ~c"#{System.tmp_dir!()}/ferrets_settle_#{System.unique_integer([:positive])}"
            assert mod.insert(t, objects) == true
            assert mod.tab2file(t, file) == :ok
            mod.delete(t)
            {:ok, t} = mod.file2tab(file)
            File.rm!(file)
            t
        end

      after_insert = mod.info(t, :memory)

      for i <- 1..n do
        mod.delete(t, i)
        mod.insert(t, {i, i})
      end

      assert mod.info(t, :memory) == after_insert, "#{mod}, #{n} objects, #{load}"
      assert mod.info(t, :size) == n
      mod.delete(t)
    end
  end

  test "long insert_new stores nothing when one key exists, everything otherwise" do
    for type <- [:set, :bag, :duplicate_bag] do
      fresh = for i <- 1..3_000, do: {i, i}
      clash = fresh ++ [{:old, 1}]

      [ets, fer] =
        for mod <- @mods do
          t = mod.new(:long_new, [type, :public])
          true = mod.insert(t, {:old, 0})
          r1 = mod.insert_new(t, clash)
          size1 = mod.info(t, :size)
          r2 = mod.insert_new(t, fresh)
          {r1, size1, r2, mod.info(t, :size), mod.lookup(t, 2_999)}
        end

      assert fer == ets, "#{type}"
      assert {false, 1, true, 3_001, [{2_999, 2_999}]} = fer
    end
  end

  test "a bad object anywhere in a long list is a badarg and stores nothing" do
    list = for(i <- 1..5_000, do: {i, i}) ++ [:not_a_tuple]

    for mod <- @mods do
      t = mod.new(:long_bad, [:set, :public])
      assert_raise ArgumentError, fn -> mod.insert(t, list) end
      assert_raise ArgumentError, fn -> mod.insert_new(t, list) end
      assert mod.info(t, :size) == 0
    end
  end

  # A writer stores generation `g` of all `n` keys in one list while readers
  # read the list's first key and then its last (and the other way round): a
  # reader that saw one at generation `g` must see the other at `g` or later.
  # Unisolated, the two keys are stored ~n puts apart, so readers see one old.
  defp check_isolation(mod, type, n, generations) do
    t = mod.new(:iso, [type, :public])
    true = mod.insert(t, for(k <- 1..n, do: {k, 0}))
    first = 1
    last = n
    stop = :atomics.new(1, [])
    parent = self()

    readers =
      for _ <- 1..3 do
        spawn_link(fn ->
          seen = read_loop(mod, t, first, last, stop, 0, 0)
          send(parent, {:reads, self(), seen})
        end)
      end

    for g <- 1..generations do
      assert mod.insert(t, for(k <- 1..n, do: {k, g})) == true
    end

    :atomics.put(stop, 1, 1)

    reads =
      for r <- readers do
        receive do
          {:reads, ^r, {:error, msg}} -> flunk("#{mod}: #{msg}")
          {:reads, ^r, count} -> count
        end
      end

    expected =
      if type == :set, do: [{last, generations}], else: Enum.map(0..generations, &{last, &1})

    assert Enum.sort(mod.lookup(t, last)) == expected
    assert mod.info(t, :size) == if(type == :set, do: n, else: n * (generations + 1))
    reads
  end

  defp newest(objs), do: objs |> Enum.map(&elem(&1, 1)) |> Enum.max()

  defp read_loop(mod, t, first, last, stop, count, torn) do
    if :atomics.get(stop, 1) == 1 do
      if torn == 0, do: count, else: {:error, "#{torn} of #{count} reads saw a list half stored"}
    else
      # Both orders: a bag stores a list last to first.
      a = newest(mod.lookup(t, first))
      b = newest(mod.lookup(t, last))
      c = newest(mod.lookup(t, last))
      d = newest(mod.lookup(t, first))
      torn = if(b < a or d < c, do: torn + 1, else: torn)
      read_loop(mod, t, first, last, stop, count + 1, torn)
    end
  end

  test "a concurrent reader never sees half of a 100k-object insert (set)" do
    for mod <- @mods do
      reads = check_isolation(mod, :set, 100_000, 4)
      assert Enum.sum(reads) > 0
    end
  end

  test "a concurrent reader never sees half of a long insert (bag, duplicate_bag)" do
    for mod <- @mods, type <- [:bag, :duplicate_bag] do
      check_isolation(mod, type, 20_000, 3)
    end
  end

  test "info(size) never counts a long list half stored" do
    for mod <- @mods do
      t = mod.new(:iso_size, [:set, :public])
      stop = :atomics.new(1, [])
      parent = self()

      _reader =
        spawn_link(fn ->
          sizes = size_loop(mod, t, stop, MapSet.new())
          send(parent, {:sizes, sizes})
        end)

      for base <- [0, 100_000, 200_000] do
        true = mod.insert(t, for(k <- (base + 1)..(base + 100_000), do: {k, k}))
      end

      :atomics.put(stop, 1, 1)
      sizes = receive do: ({:sizes, s} -> s)

      assert MapSet.subset?(sizes, MapSet.new([0, 100_000, 200_000, 300_000])),
             "#{mod}: #{inspect(Enum.sort(sizes))}"

      assert mod.info(t, :size) == 300_000
    end
  end

  defp size_loop(mod, t, stop, seen) do
    if :atomics.get(stop, 1) == 1 do
      seen
    else
      size_loop(mod, t, stop, MapSet.put(seen, mod.info(t, :size)))
    end
  end

  test "counters keep counting while long lists are stored: no update is lost" do
    # update_counter calls on a normal scheduler meet the busy table, help
    # store the list, and reschedule themselves when it takes longer than
    # their budget; each one still counts exactly once.
    for mod <- @mods do
      t = mod.new(:iso_count, [:set, :public])
      true = mod.insert(t, {:hits, 0})
      list = for k <- 1..50_000, do: {k, k}

      counters =
        for _ <- 1..2 do
          Task.async(fn -> for _ <- 1..20_000, do: mod.update_counter(t, :hits, 1) end)
        end

      writer = Task.async(fn -> for _ <- 1..3, do: true = mod.insert(t, list) end)
      Enum.each([writer | counters], &Task.await(&1, 60_000))
      assert mod.lookup(t, :hits) == [{:hits, 40_000}]
      assert mod.info(t, :size) == 50_001
    end
  end

  # rename/2 and Ferrets.Async submits on a table busy with a long insert
  # help for a budget, then yield and call again (the NIF never holds a
  # normal scheduler for the whole insert): they still succeed, and the
  # retry signal never reaches the caller.
  test "rename/2 and async submits during long inserts succeed (yield and retry inside)" do
    {:ok, pool} = Ferrets.Pool.start(1, 16, name: "long-list-test")
    a = :"long_list_rename_#{System.unique_integer([:positive])}"
    b = :"#{a}_b"
    ^a = :ferrets.new(a, [:set, :public, :named_table])
    tid = :ferrets.whereis(a)
    parent = self()

    spawn_link(fn ->
      for g <- 1..4, do: true = :ferrets.insert(tid, for(k <- 1..100_000, do: {k, g}))
      send(parent, :written)
    end)

    {name, calls} = rename_until_written(a, b, pool, 0)
    assert calls > 0
    assert :ferrets.whereis(name) == tid
    assert :ferrets.lookup(tid, 100_000) == [{100_000, 4}]
    assert :ferrets.info(tid, :size) == 100_000 + calls
    Ferrets.Pool.shutdown(pool)
  end

  defp rename_until_written(from, to, pool, calls) do
    receive do
      :written -> {from, calls}
    after
      0 ->
        assert :ferrets.rename(from, to) == to
        {:ok, task} = Ferrets.Async.insert(to, [{{:extra, calls}, calls}], pool: pool)
        assert Ferrets.Async.await(task) == {:ok, true}
        rename_until_written(to, from, pool, calls + 1)
    end
  end
end
