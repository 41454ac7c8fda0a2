defmodule FerretsFileTest do
  @moduledoc """
  `tab2file/2,3`, `file2tab/1,2`, `tabfile_info/1`, `to_dets/2` and
  `from_dets/2`: each case runs the same calls on `:ets` and `:ferrets` (in a
  fresh process each, with files of their own) and compares what they
  return or raise; files written by either module are read by both.
  """
  use ExUnit.Case, async: true

  setup do
    tmp = Path.join(System.tmp_dir!(), "ferrets_file_test_#{System.unique_integer([:positive])}")
    File.mkdir_p!(tmp)
    on_exit(fn -> File.rm_rf!(tmp) end)
    {:ok, tmp: tmp}
  end

  # Runs `f.(mod, dir)` for both modules, each in its own process and
  # directory; returns {ets_result, ferrets_result}.
  defp both(dir, f) do
    for mod <- [:ets, :ferrets] do
      sub = Path.join(dir, Atom.to_string(mod))
      File.mkdir_p!(sub)

      Task.async(fn -> capture(fn -> f.(mod, sub) end) end)
      |> Task.await(30_000)
      |> scrub(sub)
    end
    |> List.to_tuple()
  end

  # `term` with the module's own directory in file names and messages
  # replaced by "DIR".
  defp scrub(term, dir) when is_binary(term), do: String.replace(term, dir, "DIR")

  defp scrub(term, dir) when is_tuple(term),
    do: term |> Tuple.to_list() |> scrub(dir) |> List.to_tuple()

  defp scrub(term, dir) when is_list(term) do
    prefix = String.to_charlist(dir)

    if :lists.prefix(prefix, term),
      do: ~c"DIR" ++ Enum.drop(term, length(prefix)),
      else: Enum.map(term, &scrub(&1, dir))
  end

  defp scrub(term, _dir), do: term

  defp assert_same(dir, f) do
    {e, r} = both(dir, f)
    assert r == e
    r
  end

  # What `f` returned or raised, with the message; a message naming the
  # module an error came from names `:ets` for both (ets.erl's functions
  # are ferrets_file's).
  defp capture(f) do
    {:ok, f.()}
  catch
    kind, reason ->
      banner =
        Exception.format_banner(kind, reason, __STACKTRACE__)
        |> String.replace(~r/:ferrets(_file)?\./, ":ets.")

      {kind, reason, banner}
  end

  defp path(dir, name), do: String.to_charlist(Path.join(dir, name))

  defp objects(:set), do: for(i <- 1..500, do: {i, "v#{i}", [i]})
  defp objects(_bag), do: for(i <- 1..500, j <- [1, 2], do: {rem(i, 50), i, j})

  # Everything a read-back table holds and says about itself that does
  # not depend on the module.
  defp summary(m, t) do
    {Enum.sort(m.tab2list(t)),
     for(i <- [:type, :protection, :named_table, :keypos, :size], do: m.info(t, i))}
  end

  test "tables written by either module read back the same, with every option", %{tmp: tmp} do
    for type <- [:set, :bag, :duplicate_bag],
        opts <- [[], [:named_table, :public], [{:keypos, 2}, :private]],
        ext <- [[], [:object_count], [:md5sum], [:object_count, :md5sum]],
        sync <- [true, false] do
      {e, r} =
        both(
          Path.join(tmp, "#{type}_#{length(opts)}_#{Enum.join(ext)}_#{sync}"),
          fn m, dir ->
            t = m.new(:tabfile, [type | opts])
            m.insert(t, objects(type))
            file = path(dir, "t.tab")
            :ok = m.tab2file(t, file, extended_info: ext, sync: sync)
            m.delete(t)
            {:ok, info} = m.tabfile_info(file)

            # Both modules read the file, checked or not.
            reads =
              for reader <- [:ets, :ferrets], verify <- [true, false] do
                {:ok, t2} = reader.file2tab(file, verify: verify)
                d = summary(reader, t2)
                reader.delete(t2)
                d
              end

            {info, reads}
          end
        )

      assert r == e, inspect({type, opts, ext, sync})
      {:ok, {_, [first | _] = reads}} = r
      assert Enum.all?(reads, &(&1 == first))
      assert length(elem(first, 0)) == length(objects(type))
    end
  end

  test "errors: bad tables, bad options, missing and damaged files", %{tmp: tmp} do
    cases = [
      # A table that is gone, or a term that is no table.
      fn m, dir ->
        t = m.new(:t, [])
        m.delete(t)
        {m.tab2file(t, path(dir, "a")), File.exists?(path(dir, "a"))}
      end,
      fn m, dir -> m.tab2file(:no_such_table, path(dir, "a")) end,
      fn m, dir -> m.tab2file(1, path(dir, "a")) end,
      # Options.
      fn m, dir -> m.tab2file(m.new(:t, []), path(dir, "a"), [:bad]) end,
      fn m, dir -> m.tab2file(m.new(:t, []), path(dir, "a"), extended_info: [:bad]) end,
      fn m, dir -> m.tab2file(m.new(:t, []), path(dir, "a"), extended_info: :bad) end,
      fn m, dir -> m.file2tab(path(dir, "a"), [:bad]) end,
      fn m, dir -> m.file2tab(path(dir, "a"), :bad) end,
      # A directory that does not exist.
      fn m, dir -> m.tab2file(m.new(:t, []), path(dir, "no/such/dir")) end,
      # Files that are missing or not a table's.
      fn m, dir -> m.file2tab(path(dir, "missing")) end,
      fn m, dir -> m.tabfile_info(path(dir, "missing")) end,
      fn m, dir ->
        File.write!(path(dir, "junk"), :crypto.strong_rand_bytes(300))
        {m.file2tab(path(dir, "junk")), m.tabfile_info(path(dir, "junk"))}
      end,
      fn m, dir ->
        {:ok, log} = :disk_log.open(name: make_ref(), file: path(dir, "log"))
        :ok = :disk_log.log_terms(log, [:not_a_header, {1, 2}])
        :ok = :disk_log.close(log)
        {m.file2tab(path(dir, "log")), m.tabfile_info(path(dir, "log"))}
      end,
      # A named table that already exists: nothing to create.
      fn m, dir ->
        t = m.new(:file_named, [:named_table])
        m.insert(t, {1, 2})
        :ok = m.tab2file(t, path(dir, "n"))
        {m.file2tab(path(dir, "n")), m.tab2list(t)}
      end,
      # `{table, T}`: loaded into an existing table, merged with what is there.
      fn m, dir ->
        t = m.new(:t, [])
        m.insert(t, [{1, :a}, {2, :b}])
        :ok = m.tab2file(t, path(dir, "x"))
        t2 = m.new(:t2, [])
        m.insert(t2, [{2, :old}, {3, :c}])
        {:ok, t3} = m.file2tab(path(dir, "x"), table: t2)
        {t3 == t2, Enum.sort(m.tab2list(t2))}
      end
    ]

    for f <- cases do
      assert_same(tmp, f)
    end

    # Not a file name, not an option list: errors raised as ets raises them.
    assert {:error, :function_clause, _} =
             assert_same(tmp, fn m, _ -> m.tabfile_info("binary") end)

    assert {:error, :function_clause, _} =
             assert_same(tmp, fn m, dir -> m.tab2file(m.new(:t, []), path(dir, "a"), :bad) end)
  end

  test "a damaged or truncated file reads as in ets", %{tmp: tmp} do
    # One file per writer, extended info and damage; both modules read the
    # same bytes, checked and unchecked.
    for writer <- [:ets, :ferrets],
        ext <- [[], [:object_count], [:md5sum]],
        damage <- [:flip, :truncate] do
      file = path(tmp, "#{writer}_#{Enum.join(ext, "_")}_#{damage}.tab")
      t = writer.new(:t, [])
      writer.insert(t, for(i <- 1..2_000, do: {i, :binary.copy("x", 20)}))
      :ok = writer.tab2file(t, file, extended_info: ext)
      writer.delete(t)
      bin = File.read!(file)
      half = div(byte_size(bin), 2)

      bad =
        case damage do
          :flip ->
            binary_part(bin, 0, half) <>
              "Y" <> binary_part(bin, half + 1, byte_size(bin) - half - 1)

          :truncate ->
            binary_part(bin, 0, half)
        end

      File.write!(file, bad)

      assert_same(tmp, fn m, _ ->
        for verify <- [true, false] do
          case m.file2tab(file, verify: verify) do
            {:ok, t2} -> {:ok, Enum.sort(m.tab2list(t2))}
            error -> error
          end
        end
      end)
    end
  end

  test "an ordered_set file cannot be loaded into a new ferrets table", %{tmp: tmp} do
    file = path(tmp, "ordered_set.tab")

    t = :ets.new(:os, [:ordered_set])
    :ets.insert(t, {1, 2})
    :ok = :ets.tab2file(t, file)
    assert {:error, :cannot_create_table} = :ferrets.file2tab(file)
    # Into an existing table it loads.
    t2 = :ferrets.new(:t, [])
    assert {:ok, ^t2} = :ferrets.file2tab(file, table: t2)
    assert :ferrets.tab2list(t2) == [{1, 2}]
  end

  test "to_dets/2 and from_dets/2", %{tmp: tmp} do
    for type <- [:set, :bag, :duplicate_bag], prot <- [:public, :protected, :private] do
      assert_same(tmp, fn m, dir ->
        name = {m, type, prot, make_ref()}
        {:ok, d} = :dets.open_file(name, file: path(dir, "#{type}_#{prot}.dets"), type: type)
        :ok = :dets.insert(d, {:stale, 1})
        t = m.new(:t, [type, prot])
        m.insert(t, objects(type))
        r1 = m.to_dets(t, d)
        in_dets = Enum.sort(:dets.match_object(d, :_))
        t2 = m.new(:t2, [type, prot])
        m.insert(t2, {:kept, 1})
        r2 = m.from_dets(t2, d)
        loaded = Enum.sort(m.tab2list(t2))
        :ok = :dets.close(d)

        {r1 == d, length(in_dets), in_dets == Enum.sort(objects(type)), r2, length(loaded),
         loaded -- in_dets}
      end)
    end

    # A closed dets table, a deleted ferrets table.
    for f <- [
          fn m, _ -> m.to_dets(m.new(:t, []), :no_such_dets) end,
          fn m, _ -> m.from_dets(m.new(:t, []), :no_such_dets) end,
          fn m, dir ->
            {:ok, d} = :dets.open_file({m, make_ref()}, file: path(dir, "e.dets"))
            t = m.new(:t, [])
            m.delete(t)
            r = {capture(fn -> m.to_dets(t, d) end), capture(fn -> m.from_dets(t, d) end)}
            :dets.close(d)
            r
          end
        ] do
      assert_same(tmp, f)
    end
  end
end
