defmodule Ferrets.Demo.Svg do
  @moduledoc """
  A small hand-written SVG line chart (no dependencies): panels side by
  side, each with a log-scale x axis and a log-scale y axis, one polyline per
  series, and a shared legend.
  """

  @typedoc "One line: a name, a colour and `{x, y}` points (x, y > 0)."
  @type series :: %{name: String.t(), color: String.t(), points: [{number(), number()}]}

  @typedoc "One chart panel."
  @type panel :: %{
          title: String.t(),
          x_label: String.t(),
          y_label: String.t(),
          series: [series()]
        }

  @panel_w 460
  @panel_h 340
  @margin %{l: 70, r: 20, t: 60, b: 50}

  @doc "The SVG document for `panels`, under an overall `title`."
  @spec chart(String.t(), [panel()]) :: String.t()
  def chart(title, panels) do
    w = length(panels) * @panel_w
    legend = panels |> Enum.flat_map(& &1.series) |> Enum.uniq_by(& &1.name)
    h = @panel_h + 40

    body =
      panels
      |> Enum.with_index()
      |> Enum.map(fn {p, i} -> panel(p, i * @panel_w) end)

    IO.iodata_to_binary([
      ~s(<svg xmlns="http://www.w3.org/2000/svg" width="#{w}" height="#{h}" ),
      ~s(viewBox="0 0 #{w} #{h}" font-family="sans-serif" font-size="12">\n),
      ~s(<rect width="100%" height="100%" fill="white"/>\n),
      text(w / 2, 20, title, ~s(text-anchor="middle" font-size="15" font-weight="bold")),
      body,
      legend_block(legend, @panel_h + 15),
      "</svg>\n"
    ])
  end

  @doc "Log-scale ticks (powers of ten) covering `lo..hi`."
  @spec log_ticks(number(), number()) :: [number()]
  def log_ticks(lo, hi) when lo > 0 and hi >= lo do
    a = floor(:math.log10(lo))
    b = ceil(:math.log10(hi))
    b = if b == a, do: a + 1, else: b
    for e <- a..b, do: :math.pow(10, e)
  end

  @doc "Escapes text for SVG."
  @spec escape(String.t()) :: String.t()
  def escape(s) do
    s
    |> String.replace("&", "&amp;")
    |> String.replace("<", "&lt;")
    |> String.replace(">", "&gt;")
    |> String.replace("\"", "&quot;")
  end

  defp panel(p, x0) do
    pts = Enum.flat_map(p.series, & &1.points)
    {xs, ys} = Enum.unzip(pts)
    xt = if xs == [], do: [1, 10], else: log_ticks(Enum.min(xs), Enum.max(xs))
    yt = if ys == [], do: [1, 10], else: log_ticks(Enum.min(ys), Enum.max(ys))
    {xlo, xhi} = {hd(xt), List.last(xt)}
    {ylo, yhi} = {hd(yt), List.last(yt)}
    l = x0 + @margin.l
    r = x0 + @panel_w - @margin.r
    t = @margin.t
    b = @panel_h - @margin.b

    sx = fn x ->
      l + (r - l) * (:math.log10(x) - :math.log10(xlo)) / (:math.log10(xhi) - :math.log10(xlo))
    end

    sy = fn y ->
      b - (b - t) * (:math.log10(y) - :math.log10(ylo)) / (:math.log10(yhi) - :math.log10(ylo))
    end

    grid =
      Enum.map(xt, fn x ->
        [
          line(sx.(x), t, sx.(x), b, "#ddd"),
          text(sx.(x), b + 16, tick_label(x), ~s(text-anchor="middle"))
        ]
      end) ++
        Enum.map(yt, fn y ->
          [
            line(l, sy.(y), r, sy.(y), "#ddd"),
            text(l - 6, sy.(y) + 4, tick_label(y), ~s(text-anchor="end"))
          ]
        end)

    lines =
      Enum.map(p.series, fn s ->
        coords = Enum.map_join(s.points, " ", fn {x, y} -> "#{fmt(sx.(x))},#{fmt(sy.(y))}" end)

        dots =
          Enum.map(s.points, fn {x, y} ->
            ~s(<circle cx="#{fmt(sx.(x))}" cy="#{fmt(sy.(y))}" r="3" fill="#{s.color}"/>\n)
          end)

        [
          ~s(<polyline fill="none" stroke="#{s.color}" stroke-width="2" points="#{coords}">),
          "<title>#{escape(s.name)}</title></polyline>\n",
          dots
        ]
      end)

    [
      text((l + r) / 2, t - 10, p.title, ~s(text-anchor="middle" font-weight="bold")),
      grid,
      line(l, b, r, b, "#333"),
      line(l, t, l, b, "#333"),
      lines,
      text((l + r) / 2, b + 34, p.x_label, ~s(text-anchor="middle")),
      text(
        x0 + 14,
        (t + b) / 2,
        p.y_label,
        "text-anchor=\"middle\" transform=\"rotate(-90 #{fmt(x0 + 14)} #{fmt((t + b) / 2)})\""
      )
    ]
  end

  defp legend_block(series, y) do
    series
    |> Enum.with_index()
    |> Enum.map(fn {s, i} ->
      x = 80 + i * 170
      [line(x, y, x + 24, y, s.color, 3), text(x + 30, y + 4, s.name, "")]
    end)
  end

  defp tick_label(v) when v >= 1_000_000_000, do: "#{trunc(v / 1_000_000_000)}G"
  defp tick_label(v) when v >= 1_000_000, do: "#{trunc(v / 1_000_000)}M"
  defp tick_label(v) when v >= 1_000, do: "#{trunc(v / 1_000)}k"
  defp tick_label(v) when v >= 1, do: "#{trunc(v)}"
  defp tick_label(v), do: "#{v}"

  defp line(x1, y1, x2, y2, color, width \\ 1) do
    ~s(<line x1="#{fmt(x1)}" y1="#{fmt(y1)}" x2="#{fmt(x2)}" y2="#{fmt(y2)}" stroke="#{color}" stroke-width="#{width}"/>\n)
  end

  defp text(x, y, s, attrs),
    do: ~s(<text x="#{fmt(x)}" y="#{fmt(y)}" #{attrs}>#{escape(s)}</text>\n)

  defp fmt(v) when is_integer(v), do: Integer.to_string(v)
  defp fmt(v), do: :erlang.float_to_binary(v * 1.0, decimals: 1)
end
