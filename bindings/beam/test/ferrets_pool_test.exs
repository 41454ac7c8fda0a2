defmodule FerretsPoolTest do
  use ExUnit.Case, async: true

  alias Ferrets.{Async, Pool}

  defp pool(workers, queue) do
    {:ok, p} = Pool.start(workers, queue, name: "test-pool")
    p
  end

  test "a job replies {ref, result} like a Task" do
    p = pool(2, 8)
    {:ok, task} = Pool.run(p, {:echo, %{a: [1, 2]}})
    assert_receive {ref, {:ok, %{a: [1, 2]}}} when ref == task.ref
    {:ok, task} = Pool.run(p, {:sleep_ms, 5})
    assert Async.await(task) == {:ok, 5}
    assert Pool.metrics(p).completed == 2
  end

  test "the default pool is started once and shared" do
    p = Pool.default()
    assert Pool.default() == p
    {:ok, t} = Pool.run(p, {:echo, :hi})
    assert Async.await(t) == {:ok, :hi}
    assert Pool.metrics(p).workers == System.schedulers_online()
  end

  test "the default pool cannot be shut down" do
    p = Pool.default()
    assert Pool.shutdown(p, :abort) == {:error, :default_pool}
    assert Pool.shutdown(p) == {:error, :default_pool}
    # Still running, for its direct users and for Ferrets.Async without :pool.
    {:ok, t} = Pool.run(p, {:echo, :still_up})
    assert Async.await(t) == {:ok, :still_up}
    tab = Ferrets.new(:default_pool_async, [:public])
    Ferrets.insert(tab, {:k, 1})
    {:ok, t} = Async.tab2list(tab)
    assert Async.await(t) == {:ok, [{:k, 1}]}
    # Other pools still shut down.
    assert {:ok, %{}} = Pool.shutdown(pool(1, 1), :abort)
  end

  test "bad arguments raise, bad config is an error tuple" do
    p = pool(1, 1)
    assert_raise ArgumentError, fn -> Pool.run(p, {:nope, 1}) end
    assert_raise ArgumentError, fn -> Pool.run(p, :noop, timeout: -1) end
    assert {:error, {:invalid_config, msg}} = Pool.start(1, 100_000_000)
    assert msg =~ "queue"
  end

  test "a full queue rejects at once with :overloaded" do
    p = pool(1, 2)
    {:ok, blocker} = Pool.run(p, {:sleep_ms, 200})
    Process.sleep(20)
    {:ok, q1} = Pool.run(p, :noop)
    {:ok, q2} = Pool.run(p, :noop)
    {us, result} = :timer.tc(fn -> Pool.run(p, :noop) end)
    assert result == {:error, :overloaded}
    assert us < 50_000
    assert Async.cancel(blocker) == :running
    assert Async.await(blocker) == {:error, :cancelled}
    assert Async.await(q1) == {:ok, :ok}
    assert Async.await(q2) == {:ok, :ok}
    assert Pool.metrics(p).rejected == 1
  end

  test "a deadline that passes in the queue: the job never runs" do
    p = pool(1, 4)
    {:ok, blocker} = Pool.run(p, {:sleep_ms, 100})
    {:ok, late} = Pool.run(p, {:echo, :ran}, timeout: 10)
    assert Async.await(late) == {:error, :timeout}
    assert Async.await(blocker) == {:ok, 100}
    assert Pool.metrics(p).timed_out == 1
  end

  test "a deadline that passes while running stops the job" do
    p = pool(1, 4)
    {:ok, t} = Pool.run(p, {:sleep_ms, 5_000}, timeout: 30)
    {us, r} = :timer.tc(fn -> Async.await(t) end)
    assert r == {:error, :timeout}
    assert us < 1_000_000
  end

  test "cancel before start and while running" do
    p = pool(1, 4)
    {:ok, running} = Pool.run(p, {:sleep_ms, 5_000})
    {:ok, queued} = Pool.run(p, {:echo, :never})
    Process.sleep(20)
    assert Async.cancel(queued) == :not_started
    assert Async.cancel(running) == :running
    assert Async.await(running, 2_000) == {:error, :cancelled}
    assert Async.await(queued, 2_000) == {:error, :cancelled}
    assert Async.cancel(queued) == :already_finished
  end

  test "a panic is reported and the worker survives" do
    p = pool(1, 4)
    {:ok, t} = Pool.run(p, {:panic, "boom"})
    assert Async.await(t) == {:error, {:panicked, "boom"}}
    {:ok, t} = Pool.run(p, {:fail, "nope"})
    assert Async.await(t) == {:error, {:failed, "nope"}}
    {:ok, t} = Pool.run(p, {:echo, :alive})
    assert Async.await(t) == {:ok, :alive}
    assert Pool.metrics(p).panicked == 1
  end

  test "a dead caller's job is cancelled and its result dropped and counted" do
    p = pool(1, 8)
    parent = self()

    {pid, mref} =
      spawn_monitor(fn ->
        {:ok, _} = Pool.run(p, {:sleep_ms, 5_000})
        {:ok, _} = Pool.run(p, {:echo, :queued})
        send(parent, :submitted)
        Process.sleep(:infinity)
      end)

    assert_receive :submitted
    Process.sleep(20)
    Process.exit(pid, :kill)
    assert_receive {:DOWN, ^mref, :process, _, :killed}
    wait_until(fn -> Pool.metrics(p).dead_caller_drops == 2 end)
    m = Pool.metrics(p)
    assert m.cancelled == 2
    assert m.dead_caller_drops == 2
    refute_received {_, _}
  end

  test "await exits on timeout like Task.await; yield returns nil" do
    p = pool(1, 4)
    {:ok, t} = Pool.run(p, {:sleep_ms, 2_000})
    assert Async.yield(t, 10) == nil
    assert catch_exit(Async.await(t, 20)) == {:timeout, {Async, :await, [t, 20]}}
    {:ok, t} = Pool.run(p, {:echo, 1})
    assert Async.yield(t, 1_000) == {:ok, {:ok, 1}}
  end

  test "Ferrets.await/2 and Ferrets.yield/2 mirror Task's" do
    p = pool(1, 4)
    {:ok, t} = Pool.run(p, {:echo, :hi})
    assert Ferrets.await(t) == {:ok, :hi}
    {:ok, t} = Pool.run(p, {:sleep_ms, 2_000})
    assert Ferrets.yield(t, 10) == nil
    assert catch_exit(Ferrets.await(t, 20)) == {:timeout, {Async, :await, [t, 20]}}
    {:ok, t} = Pool.run(p, {:echo, 2})
    assert Ferrets.yield(t) == {:ok, {:ok, 2}}
  end

  for mode <- [:drain, :abort] do
    test "#{mode} shutdown: every accepted job replies exactly once" do
      p = pool(2, 64)

      tasks =
        for i <- 1..40 do
          {:ok, t} = Pool.run(p, if(rem(i, 2) == 0, do: {:sleep_ms, 5}, else: {:echo, i}))
          t
        end

      mode = if unquote(mode) == :drain, do: {:drain, 5_000}, else: :abort
      {:ok, report} = Pool.shutdown(p, mode)
      assert Pool.run(p, :noop) == {:error, :shutting_down}
      results = Enum.map(tasks, &Async.await(&1, 2_000))
      # No duplicates: nothing else in the mailbox.
      refute_received {_, _}
      ok = Enum.count(results, &match?({:ok, _}, &1))
      cancelled = Enum.count(results, &(&1 == {:error, :cancelled}))
      assert ok + cancelled == 40

      if unquote(mode) == :drain do
        assert ok == 40
      else
        assert cancelled > 0
        assert report.cancelled == cancelled
      end

      m = Pool.metrics(p)
      assert m.submitted == 40
      assert m.completed + m.cancelled == 40
    end
  end

  defp wait_until(fun, tries \\ 200) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition never held")
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end
end
