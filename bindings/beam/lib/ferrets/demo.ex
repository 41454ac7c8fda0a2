defmodule Ferrets.Demo do
  @moduledoc """
  The GenServer bottleneck, measured and fixed: runs the scenarios of the
  "GenServer Bottlenecks" guide live and prints what happens.

  1. **Cache under load.** The same 90 % get / 10 % put workload from 1 to
     10,000 client processes against the guide's single GenServer cache, 16
     partitioned GenServers, ETS with `read_concurrency`, and ferrets.
     Throughput, latency percentiles, the largest mailbox seen and the
     memory growth during the run show the single process becoming the
     bottleneck (its mailbox grows with the client count, latency grows
     with the mailbox), partitioning dividing the problem by 16, and the
     shared tables removing it.
  2. **Blocking work.** A server whose slow calls do a 50 ms blocking
     operation (backend limit: 16 at a time) while fast calls just reply:
     inline in `handle_call/3`, via `Task.Supervisor.async_nolink/2`, and via
     the bounded ferrets pool. At normal load and at overload.
  3. **Timeouts.** Every call there has a client timeout; how many time out
     in each design, and how many replies are computed for callers that
     already gave up.

  Run it with `scripts/demo` (from the repository root), or
  `MIX_ENV=prod mix run demo/demo.exs [flags]` in `bindings/beam`. Flags:
  `--duration-ms` (section 1 window per cell, default 400),
  `--clients 1,2,8,64,1000,10000`, `--keys 10000`,
  `--blocking-ms` (section 2 window, default 1000), `--op-ms 50`,
  `--timeout-ms 250` (client call timeout), `--slow-clients 4,200`,
  `--sections 1,2,3`, `--out demo_out`, `--quiet` (no progress line).
  """

  alias Ferrets.Demo.{Blocking, Cache, Stats, Svg}

  @defaults %{
    duration_ms: 400,
    clients: [1, 2, 8, 64, 1_000, 10_000],
    keys: 10_000,
    blocking_ms: 1_000,
    op_ms: 50,
    timeout_ms: 250,
    slow_clients: [4, 200],
    fast_clients: 4,
    sections: [1, 2, 3],
    out: "demo_out",
    quiet: false
  }

  @doc "Parses command-line flags into options (see the module doc)."
  @spec parse_args([String.t()]) :: map()
  def parse_args(argv) do
    {opts, _, invalid} =
      OptionParser.parse(argv,
        strict: [
          duration_ms: :integer,
          clients: :string,
          keys: :integer,
          blocking_ms: :integer,
          op_ms: :integer,
          timeout_ms: :integer,
          slow_clients: :string,
          sections: :string,
          out: :string,
          quiet: :boolean
        ]
      )

    if invalid != [], do: raise(ArgumentError, "unknown or bad flags: #{inspect(invalid)}")

    Enum.reduce(opts, @defaults, fn
      {k, v}, acc when k in [:clients, :slow_clients, :sections] -> Map.put(acc, k, int_list(v))
      {k, v}, acc -> Map.put(acc, k, v)
    end)
  end

  defp int_list(s),
    do: s |> String.split(",", trim: true) |> Enum.map(&String.to_integer(String.trim(&1)))

  @doc """
  Runs the demo with `opts` (a map from `parse_args/1`, or a keyword list
  overriding the defaults); prints the tables and returns the results.
  """
  @spec run(map() | keyword()) :: map()
  def run(opts \\ %{}) do
    opts = Map.merge(@defaults, Map.new(opts))
    sections = opts.sections
    started = System.monotonic_time(:millisecond)

    IO.puts(
      "ferrets demo: the GenServer bottleneck, measured and fixed " <>
        "(#{System.schedulers_online()} schedulers, OTP #{System.otp_release()})\n"
    )

    cache = if 1 in sections, do: run_cache(opts), else: []
    blocking = if 2 in sections or 3 in sections, do: run_blocking(opts), else: []
    progress(opts, "")

    if cache != [] do
      print_cache(cache, opts)
    end

    if blocking != [] do
      if 2 in sections, do: print_blocking(blocking, opts)
      if 3 in sections, do: print_timeouts(blocking, opts)
    end

    svg =
      if cache != [] do
        path = write_svg(cache, opts)
        IO.puts("Chart (throughput and p99 latency against clients): #{path}")
        path
      end

    secs = (System.monotonic_time(:millisecond) - started) / 1000
    IO.puts("Done in #{Float.round(secs, 1)} s.")
    %{cache: cache, blocking: blocking, svg: svg}
  end

  # ---------------------------------------------------------------------
  # Section 1: the cache under load

  defp run_cache(opts) do
    cells = for c <- opts.clients, d <- Cache.designs(), do: {d, c}

    run_cells(
      opts,
      cells,
      &"1. cache: #{Cache.label(&1)}, #{&2} clients",
      &cache_cell(&1, &2, opts)
    )
  end

  # Runs each `{design, count}` cell in order, with a numbered progress line.
  defp run_cells(opts, cells, describe, run) do
    n = length(cells)

    cells
    |> Enum.with_index(1)
    |> Enum.map(fn {{design, count}, i} ->
      progress(opts, "[#{i}/#{n}] #{describe.(design, count)}")
      run.(design, count)
    end)
  end

  defp cache_cell(design, clients, opts) do
    cache = Cache.start(design, opts.keys)
    hist = Stats.new()
    parent = self()
    keys = opts.keys

    pids =
      for i <- 1..clients do
        spawn_link(fn -> cache_client(parent, cache, hist, keys, i) end)
      end

    :erlang.garbage_collect()
    sampler = start_sampler(Cache.servers(cache))
    t0 = System.monotonic_time()
    deadline = t0 + System.convert_time_unit(opts.duration_ms, :millisecond, :native)
    Enum.each(pids, &send(&1, {:go, deadline}))
    ops = collect(clients, 0, opts.duration_ms + 30_000)
    elapsed = System.monotonic_time() - t0
    {max_mq, mem} = stop_sampler(sampler)
    Cache.stop(cache)
    [p50, p99, p999] = Stats.hist_percentiles(Stats.counts(hist), [50, 99, 99.9])
    secs = System.convert_time_unit(elapsed, :native, :microsecond) / 1_000_000

    %{
      design: design,
      clients: clients,
      ops: ops,
      throughput: ops / secs,
      p50: p50,
      p99: p99,
      p999: p999,
      max_mailbox: max_mq,
      mem_delta: mem
    }
  end

  defp collect(0, acc, _timeout), do: acc

  defp collect(n, acc, timeout) do
    receive do
      {:done, ops} -> collect(n - 1, acc + ops, timeout)
    after
      timeout -> raise "demo clients did not finish"
    end
  end

  defp cache_client(parent, cache, hist, keys, seed) do
    receive do
      {:go, deadline} ->
        n = cache_loop(cache, hist, keys, deadline, seed * 7919 + 17, 0)
        send(parent, {:done, n})
    end
  end

  # 90 % get / 10 % put on random keys; a tiny LCG keeps the loop cheap.
  defp cache_loop(cache, hist, keys, deadline, x, n) do
    t = System.monotonic_time()

    if t >= deadline do
      n
    else
      x = rem(x * 1_103_515_245 + 12_345, 2_147_483_648)
      key = rem(Bitwise.bsr(x, 8), keys) + 1

      if rem(Bitwise.bsr(x, 4), 10) == 0 do
        Cache.put(cache, key, n)
      else
        Cache.get(cache, key)
      end

      Stats.record(hist, System.monotonic_time() - t)
      cache_loop(cache, hist, keys, deadline, x, n + 1)
    end
  end

  # Samples the largest mailbox of `pids` and the VM's peak memory growth.
  defp start_sampler(pids) do
    parent = self()
    base = :erlang.memory(:total)
    spawn_link(fn -> sample(parent, pids, base, 0, 0) end)
  end

  defp sample(parent, pids, base, max_mq, max_mem) do
    mq =
      Enum.reduce(pids, max_mq, fn p, acc ->
        case Process.info(p, :message_queue_len) do
          {:message_queue_len, l} -> max(l, acc)
          nil -> acc
        end
      end)

    mem = max(max_mem, :erlang.memory(:total) - base)

    receive do
      {:stop, from} -> send(from, {:sampled, mq, mem})
    after
      2 -> sample(parent, pids, base, mq, mem)
    end
  end

  defp stop_sampler(pid) do
    send(pid, {:stop, self()})

    receive do
      {:sampled, mq, mem} -> {mq, mem}
    end
  end

  defp print_cache(rows, opts) do
    IO.puts(
      "1. Cache under load: 90% get / 10% put over #{opts.keys} keys, " <>
        "#{opts.duration_ms} ms per cell (latency per call)"
    )

    header = [
      "design",
      "clients",
      "throughput",
      "p50",
      "p99",
      "p99.9",
      "max mailbox",
      "mem growth"
    ]

    body =
      for r <- rows do
        [
          Cache.label(r.design),
          Integer.to_string(r.clients),
          Stats.format_rate(r.throughput),
          Stats.format_ns(r.p50),
          Stats.format_ns(r.p99),
          Stats.format_ns(r.p999),
          if(r.design in [:genserver, :partitioned],
            do: Integer.to_string(r.max_mailbox),
            else: "-"
          ),
          Stats.format_bytes(r.mem_delta)
        ]
      end

    IO.puts(table(header, body, group_by: 1))
    IO.puts(cache_summary(rows))
  end

  defp cache_summary(rows) do
    top = rows |> Enum.map(& &1.clients) |> Enum.max()
    at = Map.new(for r <- rows, r.clients == top, do: {r.design, r})

    case at do
      %{genserver: g, ferrets: f} ->
        parts = [
          "At #{top} clients ferrets serves #{ratio(f.throughput, g.throughput)} the single GenServer's throughput",
          "at a p99 latency of #{Stats.format_ns(f.p99)} against #{Stats.format_ns(g.p99)}",
          "(the GenServer's mailbox peaked at #{g.max_mailbox} messages)"
        ]

        parts =
          case at do
            %{ets: e} ->
              parts ++ ["and #{ratio(f.throughput, e.throughput)} the throughput of ETS"]

            _ ->
              parts
          end

        Enum.join(parts, " ") <> ".\n"

      _ ->
        ""
    end
  end

  defp ratio(_a, b) when b in [nil, 0, +0.0], do: "-"
  defp ratio(nil, _b), do: "-"
  defp ratio(a, b) when a / b >= 10, do: "#{round(a / b)}x"
  defp ratio(a, b), do: "#{:erlang.float_to_binary(a / b, decimals: 1)}x"

  # ---------------------------------------------------------------------
  # Sections 2 and 3: blocking work and timeouts

  defp run_blocking(opts) do
    cells = for s <- opts.slow_clients, d <- Blocking.designs(), do: {d, s}

    run_cells(
      opts,
      cells,
      &"2. blocking: #{Blocking.label(&1)}, #{&2} slow clients",
      &blocking_cell(&1, &2, opts)
    )
  end

  # Counter slots.
  @fast_ok 1
  @fast_timeout 2
  @slow_ok 3
  @slow_timeout 4
  @slow_rejected 5
  @slow_error 6
  # Slow operations the server completed (for anyone, waiting or not).
  @done 7

  defp blocking_cell(design, slow, opts) do
    counters = :counters.new(7, [:write_concurrency])
    {:ok, server} = Blocking.start(design, opts.op_ms, opts.timeout_ms, {counters, @done})
    fast_hist = Stats.new()
    slow_hist = Stats.new()
    parent = self()

    clients =
      for(_ <- 1..opts.fast_clients, do: {:fast, fast_hist}) ++
        for(_ <- 1..slow, do: {:slow, slow_hist})

    pids =
      for {kind, hist} <- clients do
        spawn(fn -> blocking_client(parent, server, kind, hist, counters, opts.timeout_ms) end)
      end

    sampler = start_sampler([server])
    t0 = System.monotonic_time()
    deadline = t0 + System.convert_time_unit(opts.blocking_ms, :millisecond, :native)
    Enum.each(pids, &send(&1, {:go, deadline}))
    # Every client finishes within one call timeout of the deadline.
    _ = collect(length(pids), 0, opts.blocking_ms + opts.timeout_ms + 5_000)
    elapsed = System.monotonic_time() - t0
    {max_mq, mem} = stop_sampler(sampler)
    Blocking.stop(server)
    secs = System.convert_time_unit(elapsed, :native, :microsecond) / 1_000_000
    [fp50, fp99] = Stats.hist_percentiles(Stats.counts(fast_hist), [50, 99])
    [sp50, sp99] = Stats.hist_percentiles(Stats.counts(slow_hist), [50, 99])
    c = fn i -> :counters.get(counters, i) end

    %{
      design: design,
      slow_clients: slow,
      fast_ok: c.(@fast_ok),
      fast_timeout: c.(@fast_timeout),
      fast_p50: fp50,
      fast_p99: fp99,
      slow_ok: c.(@slow_ok),
      slow_rate: c.(@slow_ok) / secs,
      slow_timeout: c.(@slow_timeout),
      slow_rejected: c.(@slow_rejected),
      slow_error: c.(@slow_error),
      # Completed after their caller had timed out: work for no one.
      wasted: max(c.(@done) - c.(@slow_ok), 0),
      slow_p50: sp50,
      slow_p99: sp99,
      max_mailbox: max_mq,
      mem_delta: mem
    }
  end

  defp blocking_client(parent, server, kind, hist, counters, timeout) do
    receive do
      {:go, deadline} ->
        blocking_loop(server, kind, hist, counters, timeout, deadline)
        send(parent, {:done, 0})
    end
  end

  defp blocking_loop(server, kind, hist, counters, timeout, deadline) do
    t = System.monotonic_time()

    if t < deadline do
      # The guide's client: a call with a timeout, the exit rescued.
      result =
        try do
          GenServer.call(server, kind, timeout)
        catch
          :exit, {:timeout, _} -> :timeout
        end

      dt = System.monotonic_time() - t

      # Latency as the caller saw it: timeouts and rejections included.
      Stats.record(hist, System.convert_time_unit(dt, :native, :nanosecond))

      slot =
        case {kind, result} do
          {:fast, :ok} -> @fast_ok
          {:fast, :timeout} -> @fast_timeout
          {:slow, :ok} -> @slow_ok
          {:slow, :timeout} -> @slow_timeout
          {:slow, {:error, :overloaded}} -> @slow_rejected
          {:slow, _} -> @slow_error
        end

      :counters.add(counters, slot, 1)

      # Fast callers make a request every millisecond; a rejected slow
      # caller backs off a little before retrying.
      cond do
        kind == :fast -> Process.sleep(1)
        result == {:error, :overloaded} -> Process.sleep(10)
        true -> :ok
      end

      blocking_loop(server, kind, hist, counters, timeout, deadline)
    end
  end

  defp print_blocking(rows, opts) do
    IO.puts(
      "2. Blocking work: slow calls block #{opts.op_ms} ms on a backend serving #{Blocking.capacity()} at a time; " <>
        "#{opts.fast_clients} fast callers alongside; #{opts.blocking_ms} ms per cell\n" <>
        "(latency as callers saw it, timeouts and rejections included)"
    )

    header = [
      "design",
      "slow callers",
      "fast p50",
      "fast p99",
      "slow ok/s",
      "slow p50",
      "slow p99",
      "rejected",
      "max mailbox",
      "mem growth"
    ]

    body =
      for r <- rows do
        [
          Blocking.label(r.design),
          Integer.to_string(r.slow_clients),
          Stats.format_ns(r.fast_p50),
          Stats.format_ns(r.fast_p99),
          "#{round(r.slow_rate)}",
          Stats.format_ns(r.slow_p50),
          Stats.format_ns(r.slow_p99),
          Integer.to_string(r.slow_rejected),
          Integer.to_string(r.max_mailbox),
          Stats.format_bytes(r.mem_delta)
        ]
      end

    IO.puts(table(header, body, group_by: 1))
  end

  defp print_timeouts(rows, opts) do
    IO.puts(
      "3. Timeouts: every call above used GenServer.call(server, msg, #{opts.timeout_ms}) " <>
        "and rescued the exit, as the guide advises"
    )

    header = [
      "design",
      "slow callers",
      "fast calls",
      "fast timed out",
      "slow calls",
      "slow timed out",
      "slow rejected",
      "done for no one"
    ]

    body =
      for r <- rows do
        fast = r.fast_ok + r.fast_timeout
        slow = r.slow_ok + r.slow_timeout + r.slow_rejected + r.slow_error

        [
          Blocking.label(r.design),
          Integer.to_string(r.slow_clients),
          Integer.to_string(fast),
          pct(r.fast_timeout, fast),
          Integer.to_string(slow),
          pct(r.slow_timeout, slow),
          pct(r.slow_rejected, slow),
          Integer.to_string(r.wasted)
        ]
      end

    IO.puts(table(header, body, group_by: 1))

    IO.puts(
      "\"done for no one\": slow operations completed after their caller had timed out. A timeout\n" <>
        "frees the caller, not the server: the work still happens. A rejection costs microseconds\n" <>
        "and tells the caller at once.\n"
    )
  end

  defp pct(_n, 0), do: "-"
  defp pct(n, total), do: "#{n} (#{Float.round(100 * n / total, 1)}%)"

  # ---------------------------------------------------------------------
  # Output helpers

  @doc """
  Renders rows of strings as an aligned text table; with `group_by: i`, a
  blank line separates runs of rows whose column `i` changes.
  """
  @spec table([String.t()], [[String.t()]], keyword()) :: String.t()
  def table(header, rows, opts \\ []) do
    widths =
      Enum.reduce([header | rows], List.duplicate(0, length(header)), fn row, acc ->
        Enum.zip_with(row, acc, fn cell, w -> max(String.length(cell), w) end)
      end)

    render = fn row ->
      row
      |> Enum.zip(widths)
      |> Enum.with_index()
      |> Enum.map_join("  ", fn {{cell, w}, i} ->
        if i == 0, do: String.pad_trailing(cell, w), else: String.pad_leading(cell, w)
      end)
      |> String.trim_trailing()
    end

    group = Keyword.get(opts, :group_by)

    {lines, _} =
      Enum.map_reduce(rows, nil, fn row, prev ->
        key = if group, do: Enum.at(row, group)
        sep = if group && prev != nil && key != prev, do: "\n", else: ""
        {sep <> render.(row), key}
      end)

    rule = String.duplicate("-", Enum.sum(widths) + 2 * (length(widths) - 1))
    Enum.join([render.(header), rule | lines], "\n") <> "\n"
  end

  defp progress(%{quiet: true}, _), do: :ok

  defp progress(_opts, text) do
    IO.write(:stderr, "\r" <> String.pad_trailing(text, 72))
    if text == "", do: IO.write(:stderr, "\r")
  end

  @colors %{genserver: "#d62728", partitioned: "#ff7f0e", ets: "#1f77b4", ferrets: "#2ca02c"}

  @doc "Writes the chart of section 1's `rows` under `opts.out`; returns its absolute path."
  @spec write_svg([map()], map()) :: String.t()
  def write_svg(rows, opts) do
    dir = Path.expand(opts.out)
    File.mkdir_p!(dir)
    # Generated output: keep it out of git without touching the repo's ignores.
    File.write!(Path.join(dir, ".gitignore"), "*\n")
    path = Path.join(dir, "demo.svg")

    series = fn metric ->
      for d <- Cache.designs(), rs = Enum.filter(rows, &(&1.design == d)), rs != [] do
        pts = for r <- rs, v = metric.(r), v != nil and v > 0, do: {r.clients, v}
        %{name: Cache.label(d), color: @colors[d], points: pts}
      end
    end

    svg =
      Svg.chart("GenServer bottleneck: 90/10 get/put cache (#{opts.duration_ms} ms per point)", [
        %{
          title: "Throughput (ops/s, higher is better)",
          x_label: "client processes",
          y_label: "ops/s",
          series: series.(& &1.throughput)
        },
        %{
          title: "p99 latency (µs, lower is better)",
          x_label: "client processes",
          y_label: "µs",
          series: series.(&(&1.p99 && &1.p99 / 1_000))
        }
      ])

    File.write!(path, svg)
    path
  end
end
