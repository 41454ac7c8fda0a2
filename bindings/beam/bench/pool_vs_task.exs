# Tiny-job throughput end to end: the ferrets offload pool vs
# Task.Supervisor.async_nolink, side by side in one VM.
#
#     cd bindings/beam && MIX_ENV=prod mix run bench/pool_vs_task.exs
#
# A job is "return this integer": what is measured is the machinery — submit,
# schedule, run, deliver the reply `{ref, result}` to the caller's mailbox and
# receive it (for Task also the monitor and its demonitor/flush, which a
# Task.await pays too). Submitter processes keep up to DEPTH jobs in flight
# and count completed replies over a window; the two systems alternate window
# by window (ROUNDS rounds) so both see the same machine load. The pool has
# one worker thread per scheduler and a queue of 1024 jobs.
# Reported: median jobs/s over the rounds and the ratio pool / Task (> 1.0
# means the ferrets pool delivers more jobs per second).
# FERRETS_BENCH_ROUNDS (default 5), FERRETS_BENCH_WINDOW_MS (default 300).

defmodule Bench.PoolVsTask do
  @moduledoc false

  def run do
    rounds = String.to_integer(System.get_env("FERRETS_BENCH_ROUNDS", "5"))
    window = String.to_integer(System.get_env("FERRETS_BENCH_WINDOW_MS", "300"))
    {:ok, pool} = Ferrets.Pool.start(System.schedulers_online(), 1024, name: "bench")
    {:ok, sup} = Task.Supervisor.start_link()

    IO.puts(
      "tiny jobs, end to end (#{System.schedulers_online()} schedulers, " <>
        "#{rounds} rounds x #{window} ms, median jobs/s)\n"
    )

    header = ["submitters", "in flight each", "ferrets pool", "Task.Supervisor", "pool / Task"]

    rows =
      for submitters <- [1, 8], depth <- [1, 16, 128] do
        samples =
          for _ <- 1..rounds do
            p =
              measure(
                submitters,
                depth,
                window,
                fn i -> Ferrets.Pool.run(pool, {:echo, i}) end,
                :pool
              )

            t =
              measure(
                submitters,
                depth,
                window,
                fn i -> {:ok, Task.Supervisor.async_nolink(sup, fn -> i end)} end,
                :task
              )

            {p, t}
          end

        {ps, ts} = Enum.unzip(samples)
        p = median(ps)
        t = median(ts)

        [
          Integer.to_string(submitters),
          Integer.to_string(depth),
          rate(p),
          rate(t),
          :erlang.float_to_binary(p / t, decimals: 2)
        ]
      end

    IO.puts(Ferrets.Demo.table(header, rows))

    IO.puts(
      "pool metrics: #{inspect(Map.take(Ferrets.Pool.metrics(pool), [:completed, :rejected, :dead_caller_drops]))}"
    )
  end

  defp measure(submitters, depth, window_ms, submit, kind) do
    parent = self()
    deadline = System.monotonic_time(:millisecond) + window_ms

    pids =
      for _ <- 1..submitters do
        spawn_link(fn ->
          send(parent, {:count, submitter(submit, kind, depth, deadline, 0, 0, 0)})
        end)
      end

    t0 = System.monotonic_time(:microsecond)
    total = Enum.reduce(pids, 0, fn _, acc -> receive(do: ({:count, n} -> acc + n)) end)
    total / ((System.monotonic_time(:microsecond) - t0) / 1_000_000)
  end

  # Keeps up to `depth` jobs in flight until the deadline, then drains.
  defp submitter(submit, kind, depth, deadline, inflight, done, i) do
    cond do
      inflight < depth and System.monotonic_time(:millisecond) < deadline ->
        case submit.(i) do
          {:ok, _} -> submitter(submit, kind, depth, deadline, inflight + 1, done, i + 1)
          {:error, :overloaded} -> wait_one(submit, kind, depth, deadline, inflight, done, i)
        end

      inflight == 0 ->
        done

      true ->
        wait_one(submit, kind, depth, deadline, inflight, done, i)
    end
  end

  defp wait_one(submit, kind, depth, deadline, inflight, done, i) do
    receive do
      {ref, _result} when is_reference(ref) ->
        if kind == :task, do: Process.demonitor(ref, [:flush])
        submitter(submit, kind, depth, deadline, inflight - 1, done + 1, i)
    end
  end

  defp median(xs), do: xs |> Enum.sort() |> Enum.at(div(length(xs), 2))
  defp rate(r), do: Ferrets.Demo.Stats.format_rate(r)
end

Bench.PoolVsTask.run()
