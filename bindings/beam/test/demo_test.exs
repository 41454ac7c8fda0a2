defmodule Ferrets.DemoTest do
  use ExUnit.Case, async: false

  import ExUnit.CaptureIO
  alias Ferrets.Demo
  alias Ferrets.Demo.{Stats, Svg}

  test "percentile: nearest rank" do
    assert Stats.percentile([], 50) == nil
    assert Stats.percentile([7], 99.9) == 7
    list = Enum.shuffle(1..100)
    assert Stats.percentile(list, 50) == 50
    assert Stats.percentile(list, 99) == 99
    assert Stats.percentile(list, 100) == 100
    assert Stats.percentile(list, 0) == 1
    assert Stats.percentile(Enum.to_list(1..1000), 99.9) == 999
  end

  test "histogram percentiles are within a bucket of the truth" do
    h = Stats.new()
    for ns <- 1..10_000, do: Stats.record(h, ns * 100)
    [p50, p99] = Stats.hist_percentiles(Stats.counts(h), [50, 99])
    assert_in_delta p50 / 500_000, 1.0, 0.1
    assert_in_delta p99 / 990_000, 1.0, 0.1
    assert Stats.hist_percentiles(List.duplicate(0, 10), [50]) == [nil]
    assert Stats.bucket(0) == 0
    assert Stats.bucket(1.0e30) == Stats.bucket(1.0e31)
    # Buckets grow monotonically with the sample.
    bs = Enum.map([2, 3, 10, 100, 1_000, 1_000_000], &Stats.bucket/1)
    assert bs == Enum.sort(bs)
  end

  test "formatting" do
    assert Stats.format_ns(850) == "850ns"
    assert Stats.format_ns(12_300) == "12µs"
    assert Stats.format_ns(3_400_000) == "3.4ms"
    assert Stats.format_ns(1_200_000_000) == "1.20s"
    assert Stats.format_ns(nil) == "-"
    assert Stats.format_rate(950) == "950/s"
    assert Stats.format_rate(2_500_000) == "2.5M/s"
    assert Stats.format_bytes(-2048) == "-2KB"
  end

  test "svg chart: log ticks, one polyline per series, escaped text" do
    assert Svg.log_ticks(1, 10_000) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert Svg.log_ticks(3, 3) == [1.0, 10.0]

    svg =
      Svg.chart("a <title> & more", [
        %{
          title: "t1",
          x_label: "x",
          y_label: "y",
          series: [
            %{name: "A", color: "#f00", points: [{1, 10}, {10, 100}, {100, 1000}]},
            %{name: "B", color: "#0f0", points: [{1, 5}, {100, 50}]}
          ]
        },
        %{
          title: "t2",
          x_label: "x",
          y_label: "y",
          series: [%{name: "A", color: "#f00", points: [{1, 1}]}]
        }
      ])

    assert svg =~ ~r/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/
    assert svg =~ "a &lt;title&gt; &amp; more"
    assert length(Regex.scan(~r/<polyline/, svg)) == 3
    assert String.ends_with?(svg, "</svg>\n")
    # Well-formed enough for an XML parser.
    {doc, _} = :xmerl_scan.string(String.to_charlist(svg), quiet: true)
    assert elem(doc, 0) == :xmlElement
  end

  test "table aligns columns and separates groups" do
    out = Demo.table(["name", "n"], [["a", "1"], ["bb", "22"], ["c", "22"]], group_by: 1)
    assert out == "name   n\n--------\na      1\n\nbb    22\nc     22\n"
  end

  test "flags" do
    o = Demo.parse_args(["--clients", "1,2", "--duration-ms", "50", "--quiet"])
    assert o.clients == [1, 2] and o.duration_ms == 50 and o.quiet
    assert_raise ArgumentError, fn -> Demo.parse_args(["--nope"]) end
  end

  @tag timeout: 60_000
  test "smoke: a tiny demo runs every section and writes the chart" do
    out = Path.join(System.tmp_dir!(), "ferrets_demo_#{System.unique_integer([:positive])}")
    on_exit(fn -> File.rm_rf!(out) end)

    text =
      capture_io(fn ->
        r =
          Demo.run(
            clients: [1, 4],
            duration_ms: 40,
            # Long enough that every design completes a slow and a fast
            # request even on a loaded machine (a 10 ms op once took 140 ms
            # at the median during a CI run, and a 100 ms window saw none).
            blocking_ms: 500,
            slow_clients: [2],
            op_ms: 10,
            timeout_ms: 400,
            out: out,
            quiet: true
          )

        send(self(), {:result, r})
      end)

    assert_received {:result, %{cache: cache, blocking: blocking, svg: svg}}
    assert length(cache) == 8
    assert Enum.all?(cache, &(&1.ops > 0))
    assert length(blocking) == 3
    assert Enum.all?(blocking, &(&1.slow_ok > 0 and &1.fast_ok > 0))
    assert File.read!(svg) =~ "<svg"

    for s <- ["1. Cache under load", "2. Blocking work", "3. Timeouts", "ferrets pool"],
        do: assert(text =~ s)
  end
end
