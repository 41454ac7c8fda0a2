defmodule FerretsAsyncTest do
  use ExUnit.Case, async: true

  alias Ferrets.{Async, Pool, Snapshot}

  setup do
    {:ok, pool} = Pool.start(2, 16, name: "async-test")
    # unique_integer restarts with every VM: a dir left by a killed earlier
    # run could clash, so add the OS pid and start from an empty dir.
    dir = Path.join(System.tmp_dir!(), "ferrets_async_#{System.pid()}_#{System.unique_integer([:positive])}")
    File.rm_rf!(dir)
    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    {:ok, pool: pool, dir: dir}
  end

  defp await!({:ok, task}), do: Async.await(task)

  defp filled(n) do
    tab = :ferrets.new(:t, [:set, :public])
    :ferrets.insert(tab, for(i <- 1..n, do: {i, i * 2, "v#{i}"}))
    tab
  end

  test "tab2list, count, sum and delete_all_objects run on the pool", %{pool: p} do
    tab = filled(3000)
    {:ok, list} = await!(Async.tab2list(tab, pool: p))
    assert Enum.sort(list) == Enum.sort(for i <- 1..3000, do: {i, i * 2, "v#{i}"})
    assert await!(Async.reduce(tab, :count, pool: p)) == {:ok, 3000}
    assert await!(Async.reduce(tab, {:sum, 2}, pool: p)) == {:ok, 3000 * 3001}
    assert await!(Async.reduce(tab, {:sum, 3}, pool: p)) == {:error, :badarith}
    assert await!(Async.reduce(tab, {:sum, 9}, pool: p)) == {:error, :badarith}
    :ferrets.insert(tab, {:f, 0.5, "x"})
    assert await!(Async.reduce(tab, {:sum, 2}, pool: p)) == {:ok, 3000 * 3001 + 0.5}
    assert await!(Async.delete_all_objects(tab, pool: p)) == {:ok, true}
    assert :ferrets.info(tab, :size) == 0
  end

  test "bulk insert is all or nothing", %{pool: p} do
    tab = :ferrets.new(:t, [:bag, :public])
    assert await!(Async.insert(tab, [{:a, 1}, {:a, 2}, {:b, 3}], pool: p)) == {:ok, true}
    assert Enum.sort(:ferrets.lookup(tab, :a)) == [{:a, 1}, {:a, 2}]
    assert await!(Async.insert(tab, [{:c, 1}, :not_a_tuple], pool: p)) == {:error, :badarg}
    assert :ferrets.lookup(tab, :c) == []
  end

  test "bad tables raise at once", %{pool: p} do
    assert_raise ArgumentError, fn -> Async.tab2list(:no_such_table, pool: p) end
    tab = :ferrets.new(:t, [:set, :protected])
    parent = self()

    spawn(fn ->
      send(parent, {:r, catch_error(Async.insert(tab, [{1}], pool: p))})
    end)

    assert_receive {:r, :badarg}
  end

  test "snapshot round trip", %{pool: p, dir: dir} do
    tab = filled(2500)
    big = :binary.copy("x", 1000)
    :ferrets.insert(tab, {:big, big, [1.5, {:nested, %{k: "v"}}]})
    path = Path.join(dir, "t.snap")
    assert Snapshot.save(tab, path, pool: p) == {:ok, 2501}
    assert File.ls!(dir) == ["t.snap"]
    tab2 = :ferrets.new(:t2, [:set, :public])
    assert Snapshot.load(tab2, path, pool: p) == {:ok, 2501}
    assert Enum.sort(:ferrets.tab2list(tab2)) == Enum.sort(:ferrets.tab2list(tab))
  end

  test "snapshot of a bag keeps each key's objects and their order", %{pool: p, dir: dir} do
    for type <- [:bag, :duplicate_bag] do
      tab = :ferrets.new(:b, [type, :public])
      for v <- [3, 1, 2, 1], do: :ferrets.insert(tab, {:k, v})
      :ferrets.insert(tab, {:other, :x})
      path = Path.join(dir, "#{type}.snap")
      {:ok, n} = Snapshot.save(tab, path, pool: p)
      assert n == :ferrets.info(tab, :size)
      tab2 = :ferrets.new(:b2, [type, :public])
      assert Snapshot.load(tab2, path, pool: p) == {:ok, n}
      assert :ferrets.lookup(tab2, :k) == :ferrets.lookup(tab, :k)
      assert :ferrets.lookup(tab2, :other) == [{:other, :x}]
    end
  end

  test "a cancelled or expired save leaves no file behind", %{pool: p, dir: dir} do
    tab = filled(50_000)
    path = Path.join(dir, "big.snap")
    {:ok, t} = Async.save(tab, path, pool: p)
    Async.cancel(t)
    assert Async.await(t, 10_000) in [{:error, :cancelled}, {:ok, 50_000}]
    assert Enum.reject(File.ls!(dir), &(&1 == "big.snap")) == []
    {:ok, t} = Async.save(tab, Path.join(dir, "late.snap"), pool: p, timeout: 0)
    assert Async.await(t) == {:error, :timeout}
    refute File.exists?(Path.join(dir, "late.snap"))
  end

  test "corrupt, truncated and missing snapshots are refused whole", %{pool: p, dir: dir} do
    tab = filled(100)
    path = Path.join(dir, "t.snap")
    {:ok, 100} = Snapshot.save(tab, path, pool: p)
    bytes = File.read!(path)
    target = :ferrets.new(:target, [:set, :public])
    :ferrets.insert(target, {:keep, 1})

    flipped = Path.join(dir, "flipped.snap")
    mid = div(byte_size(bytes), 2)
    <<a::binary-size(mid), b, rest::binary>> = bytes
    File.write!(flipped, <<a::binary, Bitwise.bxor(b, 0xFF), rest::binary>>)
    assert Snapshot.load(target, flipped, pool: p) == {:error, :corrupt}

    cut = Path.join(dir, "cut.snap")
    File.write!(cut, binary_part(bytes, 0, byte_size(bytes) - 7))
    assert Snapshot.load(target, cut, pool: p) == {:error, :truncated}
    File.write!(cut, binary_part(bytes, 0, 5))
    assert Snapshot.load(target, cut, pool: p) == {:error, :truncated}

    junk = Path.join(dir, "junk.snap")
    File.write!(junk, "hello, this is not a snapshot at all")
    assert Snapshot.load(target, junk, pool: p) == {:error, :corrupt}

    assert Snapshot.load(target, Path.join(dir, "missing"), pool: p) == {:error, :enoent}
    assert Snapshot.save(tab, Path.join([dir, "no", "dir.snap"]), pool: p) == {:error, :enoent}
    assert :ferrets.tab2list(target) == [{:keep, 1}]
  end
end
