defmodule Ferrets.Demo.Stats do
  @moduledoc """
  Latency bookkeeping for the demo: a lock-free log-scale histogram that
  thousands of client processes record into at once (`:counters`, 8 buckets
  per doubling, so a percentile is within about 9 %), exact percentiles of a
  list, and human-readable formatting.
  """

  @per_doubling 8
  @buckets 8 * 42

  @typedoc "A histogram of nanosecond samples."
  @opaque hist :: :counters.counters_ref()

  @doc "A new, empty histogram."
  @spec new() :: hist()
  def new, do: :counters.new(@buckets, [:write_concurrency])

  @doc "The bucket of a sample of `ns` nanoseconds (0-based)."
  @spec bucket(number()) :: non_neg_integer()
  def bucket(ns) when ns <= 1, do: 0
  def bucket(ns), do: min(trunc(:math.log2(ns) * @per_doubling), @buckets - 1)

  @doc "The value a bucket stands for: its geometric midpoint, in ns."
  @spec bucket_value(non_neg_integer()) :: float()
  def bucket_value(0), do: 1.0
  def bucket_value(i), do: :math.pow(2, (i + 0.5) / @per_doubling)

  @doc "Records one sample of `ns` nanoseconds."
  @spec record(hist(), number()) :: :ok
  def record(h, ns), do: :counters.add(h, bucket(ns) + 1, 1)

  @doc "The bucket counts, lowest first."
  @spec counts(hist()) :: [non_neg_integer()]
  def counts(h), do: for(i <- 1..@buckets, do: :counters.get(h, i))

  @doc """
  Percentiles (`ps` in 0..100) of bucket `counts`, in ns; `nil` for each
  when there are no samples.
  """
  @spec hist_percentiles([non_neg_integer()], [number()]) :: [float() | nil]
  def hist_percentiles(counts, ps) do
    total = Enum.sum(counts)

    if total == 0 do
      Enum.map(ps, fn _ -> nil end)
    else
      cumulative = Enum.scan(counts, &+/2) |> Enum.with_index()

      Enum.map(ps, fn p ->
        rank = rank(p, total)
        {_, i} = Enum.find(cumulative, fn {c, _} -> c >= rank end)
        bucket_value(i)
      end)
    end
  end

  @doc """
  The `p`-th percentile (0..100) of a list of numbers, nearest-rank method
  (`nil` for an empty list).
  """
  @spec percentile([number()], number()) :: number() | nil
  def percentile([], _p), do: nil

  def percentile(samples, p) when p >= 0 and p <= 100 do
    sorted = Enum.sort(samples)
    rank = rank(p, length(sorted))
    Enum.at(sorted, rank - 1)
  end

  # Nearest rank, immune to float noise (99.9 % of 1000 is rank 999, not 1000).
  defp rank(p, n), do: max(1, ceil(Float.round(p * n / 100, 6)))

  @doc "A duration in ns as text: `850ns`, `12µs`, `3.4ms`, `1.20s`."
  @spec format_ns(number() | nil) :: String.t()
  def format_ns(nil), do: "-"
  def format_ns(ns) when ns < 1_000, do: "#{round(ns)}ns"
  def format_ns(ns) when ns < 10_000, do: "#{Float.round(ns / 1_000, 1)}µs"
  def format_ns(ns) when ns < 1_000_000, do: "#{round(ns / 1_000)}µs"
  def format_ns(ns) when ns < 10_000_000, do: "#{Float.round(ns / 1_000_000, 1)}ms"
  def format_ns(ns) when ns < 1_000_000_000, do: "#{round(ns / 1_000_000)}ms"
  def format_ns(ns), do: "#{:erlang.float_to_binary(ns / 1_000_000_000, decimals: 2)}s"

  @doc "A rate as text: `950/s`, `12.3k/s`, `4.56M/s`."
  @spec format_rate(number()) :: String.t()
  def format_rate(r) when r < 1_000, do: "#{round(r)}/s"
  def format_rate(r) when r < 1_000_000, do: "#{Float.round(r / 1_000, 1)}k/s"
  def format_rate(r), do: "#{Float.round(r / 1_000_000, 2)}M/s"

  @doc "A byte count as signed text: `+1.2MB`, `-300KB`, `+12B`."
  @spec format_bytes(integer()) :: String.t()
  def format_bytes(b) do
    sign = if b < 0, do: "-", else: "+"
    a = abs(b)

    cond do
      a < 1_024 -> "#{sign}#{a}B"
      a < 1_048_576 -> "#{sign}#{round(a / 1_024)}KB"
      true -> "#{sign}#{Float.round(a / 1_048_576, 1)}MB"
    end
  end
end
