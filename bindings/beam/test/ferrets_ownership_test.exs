defmodule FerretsOwnershipTest do
  @moduledoc "Owner death, heirs, give_away, protection and concurrency, checked against :ets where it applies."
  use ExUnit.Case, async: true

  # Runs `fun` in a new process and returns its result; the process then
  # waits for `:die` (or exits at once with `linger: false`).
  defp in_process(fun, linger \\ true) do
    parent = self()

    pid =
      spawn(fn ->
        send(parent, {:result, self(), fun.()})
        if linger, do: receive(do: (:die -> :ok))
      end)

    receive do
      {:result, ^pid, r} -> {pid, r}
    end
  end

  defp kill_and_wait(pid) do
    ref = Process.monitor(pid)
    send(pid, :die)
    assert_receive {:DOWN, ^ref, _, _, _}
  end

  for mod <- [:ets, :ferrets] do
    test "#{mod}: a table dies with its owner" do
      mod = unquote(mod)
      {pid, t} = in_process(fn -> mod.new(:owned, [:public]) end)
      assert mod.insert(t, {:k, 1})
      assert mod.info(t, :owner) == pid
      kill_and_wait(pid)
      assert mod.info(t, :size) == :undefined
      assert_raise ArgumentError, fn -> mod.lookup(t, :k) end
    end

    test "#{mod}: the heir inherits the table and is told" do
      mod = unquote(mod)
      me = self()
      {pid, t} = in_process(fn -> mod.new(:inherit, [:public, {:heir, me, :my_data}]) end)
      mod.insert(t, {:k, 1})
      assert mod.info(t, :heir) == me
      kill_and_wait(pid)
      assert_receive {:"ETS-TRANSFER", ^t, ^pid, :my_data}
      assert mod.info(t, :owner) == me
      assert mod.lookup(t, :k) == [{:k, 1}]
      mod.delete(t)
    end

    test "#{mod}: a dead heir does not inherit" do
      mod = unquote(mod)
      {heir, _} = in_process(fn -> :ok end, false)
      {pid, t} = in_process(fn -> mod.new(:noheir, [:public, {:heir, heir, :x}]) end)
      kill_and_wait(pid)
      assert mod.info(t, :size) == :undefined
    end

    test "#{mod}: give_away moves ownership, setopts changes the heir" do
      mod = unquote(mod)
      t = mod.new(:gift, [:protected])
      {other, _} = in_process(fn -> :ok end)
      assert mod.setopts(t, {:heir, other, :h})
      assert mod.info(t, :heir) == other
      assert mod.setopts(t, [{:heir, :none}])
      assert mod.info(t, :heir) == :none
      assert_raise ArgumentError, fn -> mod.give_away(t, self(), :g) end
      assert mod.give_away(t, other, :g)
      assert mod.info(t, :owner) == other
      # Now we are not the owner: writes to a protected table fail, reads work.
      assert_raise ArgumentError, fn -> mod.insert(t, {:a, 1}) end
      assert_raise ArgumentError, fn -> mod.give_away(t, self(), :g) end
      assert_raise ArgumentError, fn -> mod.setopts(t, {:heir, :none}) end
      assert mod.lookup(t, :a) == []
      kill_and_wait(other)
      assert mod.info(t, :size) == :undefined
    end

    test "#{mod}: setopts changes the protection; bad options and dead pids are refused" do
      mod = unquote(mod)
      t = mod.new(:setprot, [:public])
      mod.insert(t, {:k, 1})
      assert mod.setopts(t, {:protection, :private})
      assert mod.info(t, :protection) == :private
      {_, r} = in_process(fn -> try(do: mod.lookup(t, :k), rescue: (ArgumentError -> :badarg)) end, false)
      assert r == :badarg
      assert mod.setopts(t, [{:protection, :protected}, {:heir, :none}])
      {_, r} = in_process(fn -> mod.lookup(t, :k) end, false)
      assert r == [{:k, 1}]
      assert_raise ArgumentError, fn -> mod.setopts(t, {:protection, :bogus}) end
      assert_raise ArgumentError, fn -> mod.setopts(t, {:heir, :not_a_pid, :x}) end
      assert_raise ArgumentError, fn -> mod.setopts(t, {:keypos, 2}) end
      {dead, _} = in_process(fn -> :ok end, false)
      ref = Process.monitor(dead)
      assert_receive {:DOWN, ^ref, _, _, _}
      assert_raise ArgumentError, fn -> mod.give_away(t, dead, :g) end
      assert mod.info(t, :owner) == self()
    end

    test "#{mod}: protection is enforced for other processes" do
      mod = unquote(mod)
      prot = mod.new(:prot, [:protected])
      priv = mod.new(:priv, [:private])
      pub = mod.new(:pub, [:public])
      for t <- [prot, priv, pub], do: mod.insert(t, {:k, 1})

      {_, r} =
        in_process(
          fn ->
            try_ = fn f ->
              try do
                {:ok, f.()}
              rescue
                ArgumentError -> :badarg
              end
            end

            for t <- [prot, priv, pub] do
              {try_.(fn -> mod.lookup(t, :k) end), try_.(fn -> mod.insert(t, {:k, 2}) end),
               try_.(fn -> mod.update_counter(t, :k, 1) end), try_.(fn -> mod.delete(t, :k) end),
               try_.(fn -> mod.info(t, :size) end)}
            end
          end,
          false
        )

      assert r == [
               {{:ok, [{:k, 1}]}, :badarg, :badarg, :badarg, {:ok, 1}},
               {:badarg, :badarg, :badarg, :badarg, {:ok, 1}},
               {{:ok, [{:k, 1}]}, {:ok, true}, {:ok, 3}, {:ok, true}, {:ok, 0}}
             ]
    end
  end

  test "named tables: whereis, rename, all, and the ETS-TRANSFER names the table" do
    name = :"ferrets_named_#{System.unique_integer([:positive])}"
    new_name = :"#{name}_renamed"
    assert :ferrets.new(name, [:named_table, :public]) == name
    ref = :ferrets.whereis(name)
    assert is_reference(ref)
    assert :ferrets.info(name, :id) == ref
    assert :ferrets.lookup(ref, :k) == []
    assert name in :ferrets.all()
    assert :ferrets.rename(name, new_name) == new_name
    assert :ferrets.whereis(name) == :undefined
    assert_raise ArgumentError, fn -> :ferrets.insert(name, {:k, 1}) end
    assert :ferrets.insert(new_name, {:k, 1})
    assert :ferrets.info(new_name, :name) == new_name
    {other, _} = in_process(fn -> :ok end)
    parent = self()
    spawn(fn -> :ok end)
    assert :ferrets.give_away(new_name, other, :gift)
    send(other, :die)
    _ = parent
    assert :ferrets.info(new_name, :owner) == other
  end

  test "ordered_set is refused with a clear cause" do
    err = assert_raise ArgumentError, fn -> :ferrets.new(:os, [:ordered_set]) end
    assert Exception.message(err) =~ "ordered_set"
  end

  test "many processes hammering one key lose no update" do
    t = :ferrets.new(:hammer, [:public, {:write_concurrency, true}])
    :ferrets.insert(t, {:hot, 0, []})

    tasks =
      for i <- 1..16 do
        Task.async(fn ->
          for j <- 1..2_000 do
            :ferrets.update_counter(t, :hot, {2, 1})
            if rem(j, 100) == 0, do: :ferrets.insert(t, {{:p, i}, j})
            [{:hot, _, _}] = :ferrets.lookup(t, :hot)
          end
        end)
      end

    Enum.each(tasks, &Task.await(&1, 30_000))
    assert [{:hot, 32_000, []}] = :ferrets.lookup(t, :hot)
    assert :ferrets.info(t, :size) == 17
  end

  test "a list insert is isolated: no reader sees it half done" do
    # The writer stores [{:a, i}, {:b, i}] with i rising; a reader that
    # reads :a then :b must never find :b older than :a.
    t = :ferrets.new(:isolated, [:public])
    :ferrets.insert(t, [{:a, 0}, {:b, 0}])

    writer =
      Task.async(fn ->
        for i <- 1..20_000, do: :ferrets.insert(t, [{:a, i}, {:b, i}])
      end)

    readers =
      for _ <- 1..2 do
        Task.async(fn ->
          for _ <- 1..20_000 do
            [{:a, a}] = :ferrets.lookup(t, :a)
            [{:b, b}] = :ferrets.lookup(t, :b)
            assert b >= a, "saw :a = #{a} but then :b = #{b}"
          end
        end)
      end

    Enum.each([writer | readers], &Task.await(&1, 60_000))
    assert :ferrets.lookup(t, :b) == [{:b, 20_000}]
  end

  test "in-place writes are never torn: every reader sees both elements equal" do
    # insert rewrites short objects in place, update_counter adds in place,
    # update_element and list update_counter replace the object: all keep
    # elements 2 and 3 equal, so a reader seeing them differ saw a torn write.
    t = :ferrets.new(:torn, [:public])
    :ferrets.insert(t, {:k, 0, 0})

    writers =
      for w <- 1..4 do
        Task.async(fn ->
          for i <- 1..3_000 do
            case rem(i + w, 4) do
              0 -> :ferrets.insert(t, {:k, i, i})
              1 -> :ferrets.update_counter(t, :k, [{2, 1}, {3, 1}])
              2 -> :ferrets.update_element(t, :k, [{2, -i}, {3, -i}])
              3 -> :ferrets.insert(t, {:k, w, w})
            end
          end
        end)
      end

    readers =
      for _ <- 1..4 do
        Task.async(fn ->
          for _ <- 1..6_000 do
            [{:k, a, b}] = :ferrets.lookup(t, :k)
            assert a == b
            assert :ferrets.lookup_element(t, :k, 2) |> is_integer()
          end
        end)
      end

    Enum.each(writers ++ readers, &Task.await(&1, 60_000))
    assert [{:k, a, a}] = :ferrets.lookup(t, :k)
  end

  test "in-place counter adds are not lost to concurrent value-based rewrites" do
    # update_counter {2, 1} adds in place; update_element on element 3
    # rewrites the object from its current value (sealing it first), so no
    # add may be lost.
    t = :ferrets.new(:sealed, [:public])
    :ferrets.insert(t, {:c, 0, :x})

    tasks =
      for w <- 1..4 do
        Task.async(fn ->
          for i <- 1..5_000 do
            if rem(w, 2) == 0 and rem(i, 3) == 0,
              do: :ferrets.update_element(t, :c, {3, i}),
              else: :ferrets.update_counter(t, :c, {2, 1})
          end
        end)
      end

    Enum.each(tasks, &Task.await(&1, 60_000))
    adds = 2 * 5_000 + 2 * (5_000 - div(5_000, 3))
    assert [{:c, ^adds, _}] = :ferrets.lookup(t, :c)
  end

  test "big tab2list, foldl, select and delete_all_objects never block a scheduler" do
    t = :ferrets.new(:big, [:public])
    n = 300_000
    # Long lists go to the dirty insert (the normal one would take >1 ms).
    for chunk <- Enum.chunk_every(1..n, 50_000), do: :ferrets.insert(t, Enum.map(chunk, &{&1, &1}))
    assert :ferrets.info(t, :size) == n
    refute :ferrets.insert_new(t, Enum.map(1..5_000, &{&1, :again}))
    assert :ferrets.insert_new(t, Enum.map((n + 1)..(n + 5_000), &{&1, &1}))
    assert :ferrets.info(t, :size) == n + 5_000
    for k <- (n + 1)..(n + 5_000), do: :ferrets.delete(t, k)

    # The normal-scheduler NIFs refuse whole-table work on a big table...
    assert Ferrets.Native.tab2list(t) == :too_big
    assert Ferrets.Native.delete_all_objects(t) == :too_big

    # ...and the public calls run them dirty: a ticker measures the longest
    # gap between its wake-ups meanwhile (loose bound: shared CI machines).
    parent = self()
    ticker = spawn(fn -> tick(parent, System.monotonic_time(:millisecond), 0) end)
    assert length(:ferrets.tab2list(t)) == n
    assert :ferrets.foldl(fn {_, v}, acc -> acc + v end, 0, t) == div(n * (n + 1), 2)
    assert :ferrets.first(t) != :"$end_of_table"
    # select walks the table in chunks, each a bounded normal-scheduler call
    # (about a thousand keys, one scan step past it at most).
    assert {objs, {_partition, _position}} = Ferrets.Native.chunk(t, [], 100_000, :all)
    assert length(objs) in 1_000..1_200
    assert :ferrets.select_count(t, [{{:_, :"$1"}, [{:"=<", :"$1", 1_000}], [true]}]) == 1_000
    assert length(:ferrets.select(t, [{{:"$1", :_}, [], [:"$1"]}])) == n
    assert :ferrets.select_delete(t, [{{:_, :"$1"}, [{:>, :"$1", n - 1_000}], [true]}]) == 1_000
    assert :ferrets.info(t, :size) == n - 1_000
    assert :ferrets.delete_all_objects(t)
    send(ticker, :stop)
    assert_receive {:max_gap, gap}, 5_000
    assert :ferrets.info(t, :size) == 0
    assert gap < 500, "a scheduler was blocked for #{gap} ms"
  end

  test "first/1 and next/2 hand a long scan over deleted keys to a dirty scheduler" do
    t = :ferrets.new(:walk, [:public])
    n = 320_000
    for chunk <- Enum.chunk_every(1..n, 50_000), do: :ferrets.insert(t, Enum.map(chunk, &{&1}))
    # The first 10,001 keys in traversal order: about half of the first of
    # the 16 partitions (its keys come first), so no shrink follows.
    [k0 | rest] = walk_n(t, :ferrets.first(t), 10_001, [])
    {gone, [kept]} = Enum.split(rest, 9_999)
    for k <- gone, do: :ferrets.delete(t, k)
    # A short scan: answered on the normal scheduler.
    assert Ferrets.Native.first(t) == k0
    # From `k0`, half a partition of groups (thousands) without a live key:
    # too many for a normal scheduler.
    assert Ferrets.Native.next(t, k0) == :too_big
    assert :ferrets.next(t, k0) == kept
    :ferrets.delete(t, k0)
    assert Ferrets.Native.first(t) == :too_big
    assert :ferrets.first(t) == kept
    # next/2 of a key that is gone: badarg, as ETS on an unfixed table.
    assert_raise ArgumentError, fn -> :ferrets.next(t, k0) end
  end

  test "a first/delete drain takes every key once, in traversal order" do
    t = :ferrets.new(:drain, [:public])
    n = 30_000
    :ferrets.insert(t, Enum.map(1..n, &{&1}))
    order = walk(t, :ferrets.first(t), [])
    assert Enum.sort(order) == Enum.to_list(1..n)
    assert drain(t, :ferrets.first(t), []) == order
    assert :ferrets.info(t, :size) == 0
  end

  defp walk_n(_t, _k, 0, acc), do: Enum.reverse(acc)
  defp walk_n(t, k, left, acc), do: walk_n(t, :ferrets.next(t, k), left - 1, [k | acc])

  defp drain(_t, :"$end_of_table", acc), do: Enum.reverse(acc)

  defp drain(t, k, acc) do
    :ferrets.delete(t, k)
    drain(t, :ferrets.first(t), [k | acc])
  end

  defp walk(_t, :"$end_of_table", acc), do: Enum.reverse(acc)
  defp walk(t, k, acc), do: walk(t, :ferrets.next(t, k), [k | acc])

  defp tick(parent, last, max_gap) do
    receive do
      :stop -> send(parent, {:max_gap, max_gap})
    after
      1 ->
        now = System.monotonic_time(:millisecond)
        tick(parent, now, max(max_gap, now - last))
    end
  end
end
