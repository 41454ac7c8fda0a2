defmodule FerretsCompatTest do
  @moduledoc """
  Edge cases of the issue #4 acceptance audit: each runs the same calls on
  `:ets` and `:ferrets` (in a fresh process each, so tables and names do not
  clash) and compares results and exceptions (kind and reason).
  """
  use ExUnit.Case, async: true
  import Bitwise

  # Runs `f.(mod)` for both modules; returns {ets_result, ferrets_result}.
  defp both(f) do
    for mod <- [:ets, :ferrets] do
      task =
        Task.async(fn ->
          try do
            {:ok, f.(mod)}
          catch
            kind, reason -> {kind, reason, Exception.format_banner(kind, reason, __STACKTRACE__)}
          end
        end)

      Task.await(task)
    end
    |> List.to_tuple()
  end

  defp assert_same(f) do
    {e, r} = both(f)
    assert r == e
    r
  end

  # Runs `f` in another process; what it returned or raised (with the message).
  defp other(f) do
    Task.async(fn -> capture(f) end) |> Task.await()
  end

  # Every result of the `select/1` walk from `cont` to its end.
  defp select_rest(m, cont) do
    Stream.unfold(m.select(cont), fn
      :"$end_of_table" -> nil
      {chunk, next} -> {chunk, m.select(next)}
    end)
    |> Enum.concat()
  end

  defp capture(f) do
    {:ok, f.()}
  catch
    kind, reason -> {kind, reason, Exception.format_banner(kind, reason, __STACKTRACE__)}
  end

  defp dead_pid do
    pid = spawn(fn -> :ok end)
    ref = Process.monitor(pid)
    assert_receive {:DOWN, ^ref, _, _, _}
    pid
  end

  test "every documented ets function exists in :ferrets, with its arity" do
    internal = [
      internal_select_delete: 2,
      internal_delete_all: 2,
      match_spec_run_r: 3,
      internal_request_all: 0
    ]

    Code.ensure_loaded!(:ferrets)

    missing =
      for {f, a} <- :ets.module_info(:exports) -- [module_info: 0, module_info: 1],
          {f, a} not in internal,
          not function_exported?(:ferrets, f, a),
          do: {f, a}

    assert missing == []
  end

  test "improper lists are badarg, never a NIF panic" do
    improper = [{:a, 1} | {:b, 2}]

    for f <- [
          fn m -> m.insert(m.new(:t, []), improper) end,
          fn m -> m.insert_new(m.new(:t, []), improper) end,
          fn m -> m.new(:t, [:set | :public]) end,
          fn m -> m.setopts(m.new(:t, []), [{:heir, :none} | :x]) end,
          fn m ->
            t = m.new(:t, [])
            m.insert(t, {:k, 1, 2})
            m.update_counter(t, :k, [{2, 1} | {3, 1}])
          end,
          fn m ->
            t = m.new(:t, [])
            m.insert(t, {:k, 1, 2})
            m.update_element(t, :k, [{2, 1} | {3, 1}])
          end,
          # A long list goes to the dirty NIF.
          fn m -> m.insert(m.new(:t, []), Enum.reduce(1..2_000, {:end, 0}, &[{&1, &1} | &2])) end
        ] do
      assert {:error, :badarg, _} = assert_same(f)
    end
  end

  test "update_counter: a list of operations holds tuples only; incr 0 with a threshold counts up" do
    setup = fn m ->
      t = m.new(:t, [])
      m.insert(t, {:k, 5, 5})
      t
    end

    assert {:error, :badarg, _} = assert_same(fn m -> m.update_counter(setup.(m), :k, [2]) end)

    assert {:error, :badarg, _} =
             assert_same(fn m -> m.update_counter(setup.(m), :k, [{2, 1}, 1]) end)

    assert {:ok, [99, 99, 98, 1]} =
             assert_same(fn m ->
               t = setup.(m)

               [
                 m.update_counter(t, :k, {2, 0, 3, 99}),
                 m.update_counter(t, :k, {2, 0, 200, 1}),
                 m.update_counter(t, :k, {2, -1, 98, 1}),
                 m.update_counter(t, :k, {2, -1, 98, 1})
               ]
             end)

    assert {:ok, [9, 5]} =
             assert_same(fn m -> m.update_counter(setup.(m), :k, [{2, 0, 4, 9}, {3, 0, 5, 9}]) end)
  end

  test "foldl/foldr with a bad fun fail as in ets, and not on an empty table" do
    for fold <- [:foldl, :foldr], fun <- [:x, &Function.identity/1] do
      assert {:ok, :acc} = assert_same(fn m -> apply(m, fold, [fun, :acc, m.new(:t, [])]) end)

      assert {:error, _, _} =
               assert_same(fn m ->
                 t = m.new(:t, [])
                 m.insert(t, {:k, 1})
                 apply(m, fold, [fun, :acc, t])
               end)
    end
  end

  test "info of a deleted table is undefined; of a reference that is no table, badarg" do
    assert {:ok, {:undefined, :undefined}} =
             assert_same(fn m ->
               t = m.new(:t, [])
               m.delete(t)
               {m.info(t), m.info(t, :size)}
             end)

    assert {:ok, {:undefined, :undefined}} =
             assert_same(fn m -> {m.info(:no_such), m.info(:no_such, :size)} end)

    assert {:error, :badarg, _} = assert_same(fn m -> m.info(make_ref()) end)
    assert {:error, :badarg, _} = assert_same(fn m -> m.info(make_ref(), :size) end)
    assert {:error, :badarg, _} = assert_same(fn m -> m.info(42) end)
  end

  test "rename to the table's own name is badarg; to a free name moves it" do
    assert {:error, :badarg, _} =
             assert_same(fn m ->
               m.new(:compat_self, [:named_table])
               m.rename(:compat_self, :compat_self)
             end)

    assert {:ok, {:compat_b, :undefined, :compat_b, true}} =
             assert_same(fn m ->
               m.new(:compat_a, [:named_table])
               r = m.rename(:compat_a, :compat_b)

               {r, m.whereis(:compat_a), m.info(:compat_b, :name),
                is_reference(m.whereis(:compat_b))}
             end)

    assert {:error, :badarg, _} =
             assert_same(fn m ->
               m.new(:compat_c, [:named_table])
               m.new(:compat_d, [:named_table])
               m.rename(:compat_c, :compat_d)
             end)
  end

  test "a heir that is not alive when set is no heir" do
    assert {:ok, :none} =
             assert_same(fn m -> m.info(m.new(:t, [{:heir, dead_pid(), 1}]), :heir) end)

    assert {:ok, {true, :none}} =
             assert_same(fn m ->
               t = m.new(:t, [{:heir, self(), 1}])
               {m.setopts(t, {:heir, dead_pid(), 1}), m.info(t, :heir)}
             end)
  end

  test "setopts, give_away and rename from a process that is not the owner are badarg" do
    for f <- [
          fn m, t -> m.setopts(t, {:heir, :none}) end,
          fn m, t -> m.give_away(t, self(), :gift) end,
          fn m, t -> m.delete(t) end
        ] do
      assert {:ok, {:error, :badarg, _}} =
               assert_same(fn m ->
                 t = m.new(:t, [:protected])

                 Task.async(fn ->
                   try do
                     {:ok, f.(m, t)}
                   catch
                     kind, reason ->
                       {kind, reason, Exception.format_banner(kind, reason, __STACKTRACE__)}
                   end
                 end)
                 |> Task.await()
               end)
    end

    # A public table may be deleted (and renamed) by anyone, as in ets.
    assert {:ok, {true, :undefined}} =
             assert_same(fn m ->
               t = m.new(:t, [:public])
               {Task.async(fn -> m.delete(t) end) |> Task.await(), m.info(t)}
             end)
  end

  test "a badarg is explained per argument as ets explains it" do
    # {setup options, call}; the setup table holds {:k, 5, :x}.
    cases = [
      {[], fn m, _t -> m.lookup(:compat_no_such_table, 1) end},
      {[], fn m, _t -> m.lookup(make_ref(), 1) end},
      {[], fn m, _t -> m.lookup("tab", 1) end},
      {[], fn m, t -> m.delete(t) && m.insert(t, {1}) end},
      {[:private], fn m, t -> other(fn -> m.lookup(t, :k) end) end},
      {[:protected], fn m, t -> other(fn -> m.insert(t, {1}) end) end},
      {[:public], fn m, t -> other(fn -> m.setopts(t, {:heir, :none}) end) end},
      {[:public], fn m, t -> other(fn -> m.give_away(t, self(), 1) end) end},
      {[], fn m, t -> m.give_away(t, self(), 1) end},
      {[], fn m, t -> m.give_away(t, dead_pid(), 1) end},
      {[], fn m, t -> m.give_away(t, :pid, 1) end},
      {[], fn m, t -> m.insert(t, {}) end},
      {[], fn m, t -> m.insert(t, [{1}, :x]) end},
      {[], fn m, t -> m.insert_new(t, 7) end},
      {[], fn m, t -> m.delete_object(t, {}) end},
      {[], fn m, t -> m.lookup_element(t, :nokey, 2) end},
      {[], fn m, t -> m.lookup_element(t, :k, 4) end},
      {[], fn m, t -> m.lookup_element(t, :k, 0) end},
      {[], fn m, t -> m.lookup_element(t, :k, :x) end},
      {[], fn m, t -> m.update_counter(t, :nokey, 1) end},
      {[], fn m, t -> m.update_counter(t, :k, {1, 1}) end},
      {[], fn m, t -> m.update_counter(t, :k, {4, 1}) end},
      {[], fn m, t -> m.update_counter(t, :k, {3, 1}) end},
      {[], fn m, t -> m.update_counter(t, :k, {2, :a}) end},
      {[], fn m, t -> m.update_counter(t, :k, [{2, 1}, {1, 1}]) end},
      {[], fn m, t -> m.update_counter(t, :k, [{2, 1} | 3]) end},
      {[], fn m, t -> m.update_counter(t, :k, 1, :x) end},
      {[], fn m, t -> m.update_counter(t, :nokey, {2, 1}, {:nokey, :a}) end},
      {[], fn m, t -> m.update_counter(t, :nokey, {4, 1}, {:nokey, 0}) end},
      {[:bag], fn m, t -> m.update_counter(t, :k, 1) end},
      {[:bag], fn m, t -> m.update_counter(t, :k, 1, :x) end},
      {[], fn m, t -> m.update_element(t, :k, {1, :k}) end},
      {[], fn m, t -> m.update_element(t, :k, {9, 1}) end},
      {[], fn m, t -> m.update_element(t, :k, {0, 1}) end},
      {[], fn m, t -> m.update_element(t, :k, [{2, 1} | :x]) end},
      {[:bag], fn m, t -> m.update_element(t, :k, {1, :k}) end},
      {[], fn m, t -> m.info(t, :bogus) end},
      {[], fn m, t -> m.setopts(t, {:bogus, 1}) end},
      {[], fn m, t -> m.rename(t, "name") end},
      {[:named_table], fn m, t -> m.rename(t, t) end},
      {[], fn m, _t -> m.whereis("name") end},
      {[], fn m, _t -> m.new("name", []) end},
      {[], fn m, _t -> m.new(:name, :set) end},
      {[], fn m, _t -> m.new(:name, [:set | :bag]) end},
      {[], fn m, _t -> m.new(:name, [{:keypos, 0}]) end},
      {[:named_table], fn m, t -> m.new(t, [:named_table]) end},
      {[], fn m, _t -> m.tab2list(:compat_no_such_table) end},
      {[], fn m, _t -> m.foldl(fn _, a -> a end, 0, :compat_no_such_table) end},
      {[], fn m, _t -> m.first(make_ref()) end},
      {[], fn m, _t -> m.last(make_ref()) end},
      {[], fn m, t -> m.next(t, :nokey) end},
      {[], fn m, t -> m.prev(t, :nokey) end},
      {[], fn m, _t -> m.prev(:compat_no_such_table, :k) end},
      {[], fn m, t -> m.safe_fixtable(t, :maybe) end},
      {[], fn m, _t -> m.safe_fixtable(:compat_no_such_table, :maybe) end},
      {[], fn m, _t -> m.safe_fixtable(make_ref(), true) end}
    ]

    for {opts, call} <- cases do
      msg =
        case assert_same(fn m ->
               t = m.new(:compat_explain, opts)
               m.insert(t, {:k, 5, :x})
               call.(m, t)
             end) do
          {:error, :badarg, msg} -> msg
          {:ok, {:error, :badarg, msg}} -> msg
        end

      # ets explains every case but the two improper lists.
      if call not in [Enum.at(cases, 25) |> elem(1), Enum.at(cases, 34) |> elem(1)] do
        assert msg =~ "errors were found at the given arguments"
      end
    end
  end

  test "last/1 and prev/2 are first/1 and next/2, as in ets for hash tables" do
    assert_same(fn m ->
      t = m.new(:compat_last, [])
      empty = {m.last(t), m.first(t)}
      m.insert(t, {:k, 1})
      {empty, m.last(t), m.prev(t, :k), m.next(t, :k)}
    end)

    t = :ferrets.new(:walk_last, [])
    :ferrets.insert(t, Enum.map(1..500, &{&1}))

    walk = fn walk, k, step, acc ->
      if k == :"$end_of_table", do: acc, else: walk.(walk, step.(k), step, [k | acc])
    end

    forward = walk.(walk, :ferrets.first(t), &:ferrets.next(t, &1), [])
    assert walk.(walk, :ferrets.last(t), &:ferrets.prev(t, &1), []) == forward
    assert Enum.sort(forward) == Enum.to_list(1..500)
  end

  test "safe_fixtable: counts per process, info items, next/2 of a deleted key, release on death" do
    # The same calls on both, comparing everything but times and pids.
    shape = fn
      false -> false
      {_time, by} -> Enum.map(by, fn {pid, n} -> {pid == self(), n} end)
    end

    assert_same(fn m ->
      t = m.new(:compat_fix, [:public])
      m.insert(t, [{1}, {2}, {3}])
      before = {m.info(t, :fixed), m.info(t, :safe_fixed), m.info(t, :safe_fixed_monotonic_time)}
      true = m.safe_fixtable(t, true)
      true = m.safe_fixtable(t, true)

      twice =
        {m.info(t, :fixed), shape.(m.info(t, :safe_fixed)),
         shape.(m.info(t, :safe_fixed_monotonic_time))}

      # Walk, deleting each key once returned: the walk goes on.
      walked = walk_deleting(m, t, m.first(t), [])
      true = m.safe_fixtable(t, false)
      once = shape.(m.info(t, :safe_fixed))
      true = m.safe_fixtable(t, false)
      # Releasing a table this process no longer fixes is a no-op.
      extra = m.safe_fixtable(t, false)
      {before, twice, Enum.sort(walked), once, m.info(t, :fixed), extra, m.info(t, :size)}
    end)

    # Unfixed again: next/2 of a deleted key is badarg once more.
    t = :ferrets.new(:fix_again, [:public])
    :ferrets.insert(t, [{1}, {2}])
    k = :ferrets.first(t)
    :ferrets.delete(t, k)
    assert_raise ArgumentError, fn -> :ferrets.next(t, k) end

    # A fixing process that dies releases its fixations.
    me = self()

    pid =
      spawn(fn -> send(me, :ferrets.safe_fixtable(t, true)) && receive(do: (:stop -> :ok)) end)

    assert_receive true
    assert {{_, _, _}, [{^pid, 1}]} = :ferrets.info(t, :safe_fixed)
    ref = Process.monitor(pid)
    send(pid, :stop)
    assert_receive {:DOWN, ^ref, _, _, _}
    Process.sleep(20)
    assert :ferrets.info(t, :safe_fixed) == false

    # A private table of another process cannot be fixed, as in ets.
    assert {{:ok, e}, {:ok, f}} =
             both(fn m ->
               p = m.new(:compat_fix_private, [:private])
               other(fn -> m.safe_fixtable(p, true) end)
             end)

    assert {:error, :badarg, _} = e
    assert f == e
  end

  defp walk_deleting(_m, _t, :"$end_of_table", acc), do: acc

  defp walk_deleting(m, t, k, acc) do
    m.delete(t, k)
    walk_deleting(m, t, m.next(t, k), [k | acc])
  end

  test "whereis: undefined for an unnamed or unknown table, badarg for a non-atom" do
    assert {:ok, :undefined} =
             assert_same(fn m ->
               m.new(:compat_unnamed, [])
               m.whereis(:compat_unnamed)
             end)

    assert {:error, :badarg, _} = assert_same(fn m -> m.whereis("x") end)
  end

  test "all/0 lists ferrets tables (names for named ones), never ets tables" do
    t = :ferrets.new(:compat_all, [])
    :ferrets.new(:compat_all_named, [:named_table])
    e = :ets.new(:compat_all_ets, [:named_table])
    all = :ferrets.all()
    assert t in all
    assert :compat_all_named in all
    refute e in all
    refute :compat_all_named in :ets.all()
    :ferrets.delete(t)
    refute t in :ferrets.all()
  end

  test "select and match: errors explained as ets explains them, access from other processes" do
    ms = [{{:"$1", :_}, [], [:"$1"]}]

    calls = [
      fn m, t -> m.select(t, :bad) end,
      fn m, _t -> m.select(:compat_no_such_table, :bad) end,
      fn m, t -> m.select(t, :bad, :x) end,
      fn m, t -> m.select(t, ms, 0) end,
      fn m, _t -> m.select(:compat_no_such_table, [], :x) end,
      fn m, t -> m.select_reverse(t, :bad, 0) end,
      fn m, t -> m.select_count(t, [{:_}]) end,
      fn m, t -> m.select_delete(t, :bad) end,
      fn m, _t -> m.select_delete(:compat_no_such_table, :bad) end,
      fn m, t -> m.match(t, {:"$1", :_}, :x) end,
      fn m, _t -> m.match_object(:compat_no_such_table, :_, 0) end,
      fn m, _t -> m.match_object(:compat_no_such_table, :_) end,
      fn m, _t -> m.match_delete(:compat_no_such_table, :_) end,
      fn m, _t -> m.select({:not, :a, :continuation}) end,
      fn m, _t -> m.match(:bad) end,
      fn m, _t -> m.match_object(:bad) end,
      fn m, _t -> m.select_reverse(:bad) end,
      fn m, _t -> m.select(:"$end_of_table") end,
      fn m, t -> m.select(t, []) end,
      fn m, t -> m.select(t, [], 3) end,
      fn m, t -> m.select_count(t, []) end,
      # A continuation of a table deleted since.
      fn m, t ->
        {_, cont} = m.select(t, ms, 1)
        m.delete(t)
        m.select(cont)
      end
    ]

    for call <- calls do
      assert_same(fn m ->
        t = m.new(:t, [:public])
        m.insert(t, [{1, :a}, {2, :b}, {3, :c}])
        capture(fn -> call.(m, t) end)
      end)
    end

    # Deleting by match specification writes: another process may not on a
    # protected table, even when nothing matches; reading is allowed. On a
    # private table another process may not even read.
    for {protection, call} <- [
          {:protected, fn m, t -> m.select_delete(t, [{{9, :_}, [], [true]}]) end},
          {:protected, fn m, t -> m.match_delete(t, {9, :_}) end},
          {:protected, fn m, t -> Enum.sort(m.select(t, ms)) end},
          {:protected, fn m, t -> m.select_count(t, [{{:_, :a}, [], [true]}]) end},
          {:private, fn m, t -> m.select(t, ms) end},
          {:private, fn m, t -> m.match_object(t, {1, :_}) end},
          {:private, fn m, t -> m.select(t, ms, 1) end}
        ] do
      assert_same(fn m ->
        t = m.new(:t, [protection])
        m.insert(t, [{1, :a}, {2, :b}, {3, :c}])
        other(fn -> call.(m, t) end)
      end)
    end
  end

  test "a select/3 continuation is checked against its table on every call" do
    ms = [{{:"$1", :_}, [], [:"$1"]}]

    for {protection, use} <- [{:private, :other}, {:protected, :other}, {:public, :deleted}] do
      assert_same(fn m ->
        t = m.new(:t, [protection])
        m.insert(t, [{1, :a}, {2, :b}, {3, :c}])
        {_, cont} = m.select(t, ms, 1)

        case use do
          :other -> other(fn -> m.select(cont) end) |> elem(0)
          :deleted -> (m.delete(t) && capture(fn -> m.select(cont) end)) |> elem(0)
        end
      end)
    end
  end

  test "a select/3 continuation of a named table survives a rename" do
    ms = [{{:"$1", :_}, [], [:"$1"]}]

    for limit <- [1, 2, 10] do
      assert_same(fn m ->
        t = m.new(:compat_renamed, [:named_table, :public])
        m.insert(t, [{1, :a}, {2, :b}, {3, :c}])
        {first, cont} = m.select(t, ms, limit)
        m.rename(:compat_renamed, :compat_renamed_2)
        # Walk the rest through the continuation, after the rename.
        rest = select_rest(m, cont)
        m.delete(:compat_renamed_2)
        Enum.sort(first ++ rest)
      end)
    end
  end

  test "select_replace replaces what matches in place, when the key is kept, as ets does" do
    specs = [
      [{{:"$1", :a}, [], [{{:"$1", :z}}]}],
      [{{:"$1", :"$2"}, [{:is_atom, :"$2"}], [{{:"$1", {{:"$2", :"$2"}}}}]}],
      [{{:"$1", :a}, [], [:"$_"]}],
      [{{:"$1", :"$2"}, [], [{{:"$1", {:const, 5}}}]}],
      [{{1, :"$2"}, [], [{:const, {1, 3}}]}],
      [{{:"$1", :_}, [], [{{{:element, 1, :"$_"}, 7}}]}],
      # Bound keys (read directly), one of them absent.
      [{{2, :"$1"}, [], [{{2, :"$1", :more}}]}, {{9, :_}, [], [{{9}}]}],
      # Matches nothing.
      [{{:"$1", :nope}, [], [{{:"$1", :z}}]}],
      [],
      # Keys not kept, or no valid specification: badarg, nothing replaced.
      [{{:"$1", :a}, [], [{{2, :z}}]}],
      [{{:"$1", :"$2"}, [], [{{:"$2", 7}}]}],
      [{:"$1", [], [:"$1"]}],
      [{{:"$1", :a}, [], [{{:"$1", :z}}]}, {{:"$1", :b}, [], [{:const, {1, 3}}]}],
      :bad,
      [{{:"$1", :a}, [:bad_guard], [:"$_"]}]
    ]

    for type <- [:set, :bag, :duplicate_bag], ms <- specs do
      assert_same(fn m ->
        t = m.new(:t, [type])
        m.insert(t, [{1, :a}, {1, :b}, {2, :a}, {2, :a}, {3, :c}, {4, :a}])
        r = capture(fn -> m.select_replace(t, ms) end)
        {r, for(k <- 1..4, do: m.lookup(t, k))}
      end)
    end

    # Keys at another position.
    assert_same(fn m ->
      t = m.new(:t, [{:keypos, 2}])
      m.insert(t, [{:a, 1}, {:b, 2}])
      r = m.select_replace(t, [{{:"$1", :"$2"}, [], [{{{:x, :"$1"}, :"$2"}}]}])
      bad = capture(fn -> m.select_replace(t, [{{:"$1", :"$2"}, [], [{{:"$2", :"$1"}}]}]) end)
      {r, bad, Enum.sort(m.tab2list(t))}
    end)

    # It writes: refused from another process on a protected table (even
    # when nothing matches), as on a private one, a deleted one, a name
    # that is no table.
    for {protection, use} <- [{:protected, :other}, {:private, :other}, {:public, :deleted}] do
      assert_same(fn m ->
        t = m.new(:t, [protection])
        m.insert(t, [{1, :a}])
        call = fn -> m.select_replace(t, [{{9, :_}, [], [:"$_"]}]) end

        case use do
          :other -> other(call)
          :deleted -> m.delete(t) && capture(call)
        end
      end)
    end

    assert_same(fn m -> capture(fn -> m.select_replace(:compat_no_such_table, []) end) end)
    assert_same(fn m -> capture(fn -> m.select_replace(:compat_no_such_table, :bad) end) end)
  end

  test "init_table replaces the content batch by batch, and passes a failed insert's exit on" do
    batches = fn batches ->
      # An init fun over `batches`, which reports `:close` to the caller.
      me = self()

      step = fn step, rest ->
        fn
          :read ->
            case rest do
              [] -> :end_of_input
              [:garbage | _] -> :garbage
              [b | more] -> {b, step.(step, more)}
            end

          :close ->
            send(me, :closed)
            :ok
        end
      end

      step.(step, batches)
    end

    for type <- [:set, :bag, :duplicate_bag] do
      assert_same(fn m ->
        t = m.new(:t, [type])
        m.insert(t, [{:old, 1}, {1, :old}])
        r = m.init_table(t, batches.([[{1, :a}, {2, :b}], [], [[{1, :c}, {3, :d}], {1, :a}]]))
        {r, Enum.sort(m.tab2list(t))}
      end)
    end

    # A failed insert: `close`, then its exit; objects before it stay. The
    # exit carries a stack trace, so compare its reason alone.
    assert_same(fn m ->
      t = m.new(:t, [])
      m.insert(t, {:old, 1})

      r =
        try do
          m.init_table(t, batches.([[{1, :a}, :not_a_tuple, {2, :b}], [{3, :c}]]))
        catch
          :exit, {reason, [_ | _]} -> {:exit, reason}
        end

      closed = receive do: (:closed -> true), after: (0 -> false)
      {r, closed, Enum.sort(m.tab2list(t))}
    end)

    # An init fun answering neither a batch nor `end_of_input`.
    assert_same(fn m ->
      t = m.new(:t, [])
      {capture(fn -> m.init_table(t, batches.([[{1, :a}], :garbage])) end), m.tab2list(t)}
    end)
  end

  test "table/1,2 make QLC tables that answer as ets's do" do
    queries = [
      fn m, t -> :qlc.e(m.table(t)) |> Enum.sort() end,
      fn m, t ->
        :qlc.e(:qlc.string_to_handle(~c"[K || {K, V} <- T, V > 1].", [], [{:T, m.table(t)}]))
        |> Enum.sort()
      end,
      # A constant key: QLC looks it up.
      fn m, t ->
        :qlc.e(
          :qlc.string_to_handle(~c"[X || {K, _} = X <- T, K =:= 2].", [], [{:T, m.table(t)}])
        )
      end,
      fn m, t -> :qlc.e(m.table(t, traverse: :first_next)) |> Enum.sort() end,
      fn m, t -> :qlc.e(m.table(t, traverse: :last_prev, n_objects: 1)) |> Enum.sort() end,
      fn m, t -> :qlc.e(m.table(t, traverse: {:select, [{{:"$1", 1}, [], [:"$_"]}]})) end,
      fn m, t -> :qlc.e(m.table(t, n_objects: :default)) |> Enum.sort() end,
      fn m, t -> capture(fn -> m.table(t, n_objects: 0) end) |> elem(0) end,
      fn m, t -> capture(fn -> m.table(t, traverse: :sideways) end) |> elem(0) end,
      fn m, t ->
        :qlc.info(m.table(t))
        |> to_string()
        |> String.replace("#{m}", "M")
        |> String.replace(~r/#Ref<[^>]*>/, "T")
      end
    ]

    for type <- [:set, :bag, :duplicate_bag], query <- queries do
      assert_same(fn m ->
        t = m.new(:compat_qlc, [type])
        m.insert(t, [{1, 1}, {2, 2}, {2, 3}, {3, 3}])
        result = query.(m, t)
        # Not fixed any more once the query is done.
        {result, m.info(t, :safe_fixed)}
      end)
    end
  end

  test "the table-less match specification functions are ets's" do
    ms = [{{:"$1", :"$2"}, [{:>, :"$2", 1}], [:"$1"]}]

    for call <- [
          fn m -> m.is_compiled_ms(m.match_spec_compile(ms)) end,
          fn m -> m.match_spec_run([{:a, 1}, {:b, 2}], m.match_spec_compile(ms)) end,
          fn m -> m.test_ms({:b, 2}, ms) end,
          fn m -> m.test_ms({:b, 2}, :bad) end,
          fn m -> m.is_compiled_ms(:x) end,
          fn m -> m.match_spec_compile(:bad) end
        ] do
      assert_same(fn m -> capture(fn -> call.(m) end) end)
    end

    assert :ferrets.is_compiled_ms(Ferrets.match_spec_compile(ms))
  end

  test "repair_continuation gives a continuation that walks on, as ets's does" do
    # The last three return every object as it is (ferrets then skips the
    # match run).
    for ms <- [
          [{{:"$1", :_}, [], [:"$1"]}],
          [{:_, [], [:"$_"]}],
          [{:"$1", [], [:"$1"]}],
          [{:"$3", [], [:"$_"]}]
        ] do
      assert {:ok, {[_ | _], :"$end_of_table"}} =
               assert_same(fn m ->
                 t = m.new(:t, [])
                 m.insert(t, for(i <- 1..10, do: {i, i}))
                 {first, cont} = m.select(t, ms, 3)
                 cont = :erlang.binary_to_term(:erlang.term_to_binary(cont))
                 cont = m.repair_continuation(cont, ms)
                 rest = select_rest(m, cont)
                 {Enum.sort(first ++ rest), m.repair_continuation(:"$end_of_table", ms)}
               end)
    end
  end

  test "a walk hands the NIF the head constants and guard conditions it can check" do
    # The filter the walk passes to the chunk NIF (seen by tracing the call):
    # what it leaves out is still right, only slower, so check it here.
    filter = fn ms ->
      t = :ferrets.new(:t, [:public])
      :ferrets.insert(t, {1, :a, 2})
      :erlang.trace_pattern({:ferrets, :chunk, 4}, true, [:local])
      # A process cannot trace itself: a walker does the select.
      walker = spawn_link(fn -> receive do: (:go -> :ferrets.select(t, ms)) end)
      :erlang.trace(walker, true, [:call])
      send(walker, :go)
      assert_receive {:trace, ^walker, :call, {:ferrets, :chunk, [_, [], _, f]}}
      f
    end

    v = fn guard -> [{{:"$1", :"$2", :_}, [guard], [:"$1"]}] end
    assert filter.(v.({:==, :"$2", :a})) == [{3, [{2, :a}], []}]
    assert filter.(v.({:"=:=", "s", :"$2"})) == [{3, [{2, "s"}], []}]
    assert filter.(v.({:==, :"$2", {:const, {:x, :y}}})) == [{3, [{2, {:x, :y}}], []}]
    assert filter.(v.({:<, :"$2", 5})) == [{3, [], [{2, :<, 5}]}]
    assert filter.(v.({:<, 5, :"$2"})) == [{3, [], [{2, :>, 5}]}]

    assert filter.(v.({:andalso, {:>=, :"$1", 1.5}, {:==, :"$2", :b}})) == [
             {3, [{2, :b}], [{1, :>=, 1.5}]}
           ]

    # Nothing to check: numbers inside a constant, other operators, nested
    # variables, a variable head.
    assert filter.(v.({:==, :"$2", {:const, {1}}})) == [{3, [], []}]
    assert filter.(v.({:"/=", :"$2", :a})) == [{3, [], []}]
    assert filter.(v.({:<, :"$1", :"$2"})) == [{3, [], []}]
    assert filter.([{{:_, {:"$1"}, :_}, [{:==, :"$1", :a}], [true]}]) == [{3, [], []}]
    assert filter.([{:"$1", [{:==, :"$1", :a}], [true]}]) == :all
    assert filter.([{{:"$1", :a, 3}, [], [true]}]) == [{3, [{2, :a}, {3, 3}], []}]
  end

  test "slot/2 walks every object once, and refuses what ets refuses" do
    walk = fn m, t ->
      Stream.iterate(0, &(&1 + 1))
      |> Enum.reduce_while([], fn i, acc ->
        case m.slot(t, i) do
          :"$end_of_table" -> {:halt, {i, acc}}
          objs when is_list(objs) -> {:cont, objs ++ acc}
        end
      end)
    end

    # 12,000 keys: above the bound of the NIFs that take whole tables.
    for type <- [:set, :bag, :duplicate_bag], n <- [0, 1, 3_000, 12_000] do
      objects = for i <- 1..n//1, j <- if(type == :set, do: [1], else: [1, 2, 2]), do: {i, j}

      {e, f} =
        both(fn m ->
          t = m.new(:t, [type])
          m.insert(t, objects)
          {slots, all} = walk.(m, t)

          {slots, Enum.sort(all), Enum.sort(m.tab2list(t)),
           capture(fn -> m.slot(t, slots + 1) end)}
        end)

      {:ok, {_, all, stored, past}} = f
      {:ok, {_, ets_all, _, ets_past}} = e
      # Every object once (ferrets' slots are its own: their count differs).
      assert all == stored
      assert length(all) == n * %{set: 1, bag: 2, duplicate_bag: 3}[type]
      assert ets_all == all
      assert {:error, :badarg, _} = past
      assert past == ets_past
    end

    # The dirty NIF (a resizing partition, a slot over many groups or bytes)
    # reads each slot as the normal one does.
    t = :ferrets.new(:t, [:bag])
    :ferrets.insert(t, for(i <- 1..5_000, j <- [1, 2], do: {i, j}))

    normal =
      Stream.iterate(0, &(&1 + 1))
      |> Stream.map(&{&1, Ferrets.Native.slot(t, &1)})
      |> Enum.take_while(fn {_, s} -> s != :"$end_of_table" end)

    assert length(normal) > 1_000

    assert Enum.all?(normal, fn {i, s} ->
             Enum.sort(Ferrets.Native.slot_dirty(t, i)) == Enum.sort(s)
           end)

    assert Enum.sum(for {_, s} <- normal, do: length(s)) == 10_000
    assert Ferrets.Native.slot_dirty(t, length(normal)) == :"$end_of_table"

    # Bad slots and bad tables, as ets words them.
    for call <- [
          fn m, t -> m.slot(t, -1) end,
          fn m, t -> m.slot(t, :x) end,
          fn m, t -> m.slot(t, 1 <<< 70) end,
          fn m, t -> m.delete(t) && m.slot(t, 0) end,
          fn m, _ -> m.slot(:no_such_table, 0) end,
          fn m, _ -> m.slot(self(), 0) end
        ] do
      assert {:error, :badarg, _} =
               assert_same(fn m ->
                 t = m.new(:t, [])
                 m.insert(t, {1, 2})
                 call.(m, t)
               end)
    end

    # A private table from another process.
    assert_same(fn m ->
      t = m.new(:t, [:private])
      other(fn -> m.slot(t, 0) end)
    end)
  end

  test "specifications returning whole objects, through every walk" do
    for ms <- [[{:_, [], [:"$_"]}], [{:"$1", [], [:"$1"]}], [{:"$1", [], [:"$_"]}]],
        type <- [:set, :bag] do
      assert {:ok, {[_ | _] = all, all, 0, 0, _, _}} =
               assert_same(fn m ->
                 t = m.new(:t, [type])
                 m.insert(t, for(i <- 1..50, j <- 1..2, do: {rem(i, 20), i * j}))
                 {first, cont} = m.select(t, ms, 7)

                 {Enum.sort(m.select(t, ms)), Enum.sort(first ++ select_rest(m, cont)),
                  m.select_count(t, ms), m.select_delete(t, ms), m.info(t, :size),
                  capture(fn -> m.select_replace(t, ms) end)}
               end)
    end
  end

  test "guards comparing a head variable with a number or a constant select what ets selects" do
    # Elements of every kind around the constants: integers and floats on
    # both sides of them, at 2^53 and beyond (where an integer and a float
    # are no longer compared on the stored bytes), big integers, and terms
    # of other types (which sort after every number).
    values =
      [
        -(1 <<< 70),
        -(1 <<< 63),
        -3,
        -1,
        0,
        1,
        2,
        3,
        7,
        1 <<< 53,
        (1 <<< 53) + 1,
        1 <<< 62,
        1 <<< 64
      ] ++
        [-2.5, -0.0, 0.0, 0.5, 1.0, 2.0, 2.5, 9.0e15, 1.0e300] ++
        [:a, :b, [], [1], "bin", {1}, {:x}, %{a: 1}, make_ref(), self()]

    objects = for {v, i} <- Enum.with_index(values), do: {i, v, rem(i, 3)}
    # 9007199254740992.0 is 2^53: (2^53 + 1) is above it, though not as a float.
    constants =
      [0, 1, 2, 2.0, 2.5, -1, 1 <<< 53, (1 <<< 53) + 1, 1 <<< 63, 9.0e15, 9_007_199_254_740_992.0] ++
        [{:const, 3}]

    ops = [:<, :"=<", :>, :>=, :==, :"=:=", :"/=", :"=/="]

    specs =
      for op <- ops, c <- constants, flip <- [false, true] do
        guard = if flip, do: {op, c, :"$1"}, else: {op, :"$1", c}
        [{{:"$2", :"$1", :_}, [guard], [:"$2"]}]
      end ++
        [
          # Conjunctions, a bound variable in two places, a constant
          # element too, two clauses, a variable bound inside an element,
          # guards the NIF does not read.
          [{{:"$2", :"$1", :_}, [{:andalso, {:>, :"$1", 0}, {:<, :"$1", 3}}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:and, {:>=, :"$1", 1}, {:"=<", 2.5, :"$1"}}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:>, :"$1", 0}, {:is_integer, :"$1"}], [:"$2"]}],
          [{{:"$2", :"$1", 1}, [{:<, :"$1", 3}], [:"$2"]}],
          [{{:"$1", :"$1", :_}, [{:<, :"$1", 3}], [:"$_"]}],
          [
            {{:"$2", :"$1", :_}, [{:<, :"$1", 0}], [:"$2"]},
            {{:"$2", :"$1", :_}, [{:>, :"$1", 2}], [:"$2"]}
          ],
          [{{:"$2", {:"$1"}, :_}, [{:<, :"$1", 3}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:orelse, {:<, :"$1", 0}, {:>, :"$1", 3}}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:not, {:<, :"$1", 3}}], [:"$2"]}],
          # Equality with constants that are no numbers: checked as head
          # constants are (and one holding a number, which is not).
          [{{:"$2", :"$1", :_}, [{:==, :"$1", :a}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:"=:=", :b, :"$1"}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:==, :"$1", "bin"}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:"=:=", :"$1", {:const, {:x}}}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:==, :"$1", {:const, {1}}}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:==, :"$1", {:const, {1.0}}}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:"/=", :"$1", :a}], [:"$2"]}],
          [{{:"$2", :"$1", :_}, [{:andalso, {:==, :"$1", :a}, {:is_atom, :"$1"}}], [:"$2"]}],
          [
            {{:"$2", :"$1", :_}, [{:==, :"$1", :a}], [:"$2"]},
            {{:"$2", :"$1", :_}, [{:==, :"$1", []}], [:"$2"]}
          ]
        ]

    for spec <- specs do
      assert {:ok, {all, _count, all}} =
               assert_same(fn m ->
                 t = m.new(:t, [])
                 m.insert(t, objects)

                 walked =
                   case m.select(t, spec, 5) do
                     :"$end_of_table" -> []
                     {first, cont} -> first ++ select_rest(m, cont)
                   end

                 {Enum.sort(m.select(t, spec)), m.select_count(t, spec), Enum.sort(walked)}
               end)
    end
  end

  test "select_delete counts what it deleted; a bound key reads only that key" do
    for type <- [:set, :bag, :duplicate_bag] do
      assert_same(fn m ->
        t = m.new(:t, [type])
        m.insert(t, [{1, :a}, {1, :a}, {1, :b}, {2, :a}, {3, :c}])
        n = m.select_delete(t, [{{:_, :a}, [], [true]}])

        {n, Enum.sort(m.tab2list(t)), m.select(t, [{{3, :"$1"}, [], [:"$1"]}]),
         m.select(t, [{{3, :"$1"}, [], [:"$1"]}, {{1, :"$1"}, [], [:"$1"]}]) |> Enum.sort()}
      end)
    end
  end

  test "select/3 walks a big table in chunks of at most the limit, each result once" do
    t = :ferrets.new(:compat_walk, [:public])
    :ferrets.insert(t, for(i <- 1..20_000, do: {i, rem(i, 3)}))
    ms = [{{:"$1", 0}, [], [:"$1"]}]

    chunks =
      Stream.unfold(:ferrets.select(t, ms, 250), fn
        :"$end_of_table" -> nil
        {chunk, cont} -> {chunk, :ferrets.select(cont)}
      end)
      |> Enum.to_list()

    assert Enum.all?(chunks, &(length(&1) <= 250))
    assert Enum.sort(Enum.concat(chunks)) == Enum.filter(1..20_000, &(rem(&1, 3) == 0))
    # Keys deleted and added between chunks never make a key come twice.
    {first, cont} = :ferrets.select(t, [{{:"$1", :_}, [], [:"$1"]}], 1000)
    Enum.each(first, &:ferrets.delete(t, &1))
    :ferrets.insert(t, for(i <- 30_001..31_000, do: {i, 0}))

    rest =
      Stream.unfold(:ferrets.select(cont), fn
        :"$end_of_table" -> nil
        {chunk, c} -> {chunk, :ferrets.select(c)}
      end)
      |> Enum.concat()

    seen = first ++ rest
    assert length(seen) == length(Enum.uniq(seen))
    assert MapSet.subset?(MapSet.new(1..20_000), MapSet.new(seen))

    assert :ferrets.select_count(t, [{{:_, 0}, [], [true]}]) ==
             6_666 - Enum.count(first, &(rem(&1, 3) == 0)) + 1_000
  end
end
