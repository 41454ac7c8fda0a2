defmodule FerretsShellTest do
  @moduledoc """
  `i/0..3` and `fun2ms/1` against `:ets`: the same screens for the same
  objects and commands.
  """
  use ExUnit.Case, async: true
  import ExUnit.CaptureIO

  # What `f.(mod)` prints (prompts included) when its group leader answers
  # `get_line` with the lines of `input`, run for both modules.
  defp screens(input, f) do
    for mod <- [:ets, :ferrets] do
      Task.async(fn ->
        io = spawn_link(fn -> io_server(String.split(input, ~r/(?<=\n)/, trim: true), []) end)
        Process.group_leader(self(), io)
        f.(mod)
        send(io, {:output, self()})
        receive do: ({:output, out} -> out)
      end)
      |> Task.await()
    end
  end

  # A minimal group leader (Elixir's StringIO takes no atom prompts, which
  # ets's browser uses): lines in, everything written and prompted out.
  defp io_server(lines, out) do
    receive do
      {:io_request, from, reply_as, request} ->
        {reply, lines, out} = io_request(request, lines, out)
        send(from, {:io_reply, reply_as, reply})
        io_server(lines, out)

      {:output, to} ->
        send(to, {:output, out |> Enum.reverse() |> IO.chardata_to_string()})
    end
  end

  defp io_request({:put_chars, _enc, chars}, lines, out), do: {:ok, lines, [chars | out]}

  defp io_request({:put_chars, _enc, m, f, a}, lines, out),
    do: {:ok, lines, [apply(m, f, a) | out]}

  defp io_request({:get_line, _enc, prompt}, lines, out) do
    prompt = :io_lib.format(~c"~ts", [prompt])

    case lines do
      [] -> {:eof, [], [prompt | out]}
      [line | rest] -> {line, rest, [line, prompt | out]}
    end
  end

  defp io_request(_other, lines, out), do: {{:error, :request}, lines, out}

  test "i/1,2,3 page through a table with every command as ets does" do
    # One key, so that the traversal order is the same in both modules.
    objects = for i <- 1..60, do: {:k, i, String.duplicate("x", rem(i * 7, 90))}

    inputs = [
      # Page to the end, then quit.
      "\n\nc\nc\nc\nc\nq\n",
      # Print objects in full by number, bad digits, unknown commands.
      "p3\np70\npxy\nz\nq\n",
      # Search, page through the matches, print a match by number.
      "/x{80}\nc\np2\nq\n",
      # A bad regular expression, then kill the table.
      "/(\nk\n",
      # Input ends.
      ""
    ]

    for input <- inputs, args <- [[], [10], [7, 40]] do
      [e, f] =
        screens(input, fn m ->
          t = m.new(:browse, [:bag])
          m.insert(t, objects)
          apply(m, :i, [t | args])
          # `k` deletes the table.
          IO.puts("after: #{inspect(m.info(t, :size))}")
        end)

      assert f == e, inspect({input, args})
      assert e =~ "after: "
    end
  end

  test "i/1 over many keys shows every object once" do
    objects = for i <- 1..200, do: {i, rem(i, 7)}

    [e, f] =
      screens(String.duplicate("c\n", 30) <> "q\n", fn m ->
        t = m.new(:many, [])
        m.insert(t, objects)
        m.i(t, 20)
      end)

    objects_shown = fn screen ->
      Regex.scan(~r/^<\d+ *> (.*)$/m, screen, capture: :all_but_first)
      |> List.flatten()
      |> Enum.sort()
    end

    assert length(objects_shown.(f)) == 200
    assert objects_shown.(f) == objects_shown.(e)
    # Numbered 1..200 in order, whatever the objects' order.
    assert Regex.scan(~r/^<(\d+) *>/m, f, capture: :all_but_first)
           |> List.flatten()
           |> Enum.map(&String.to_integer/1) == Enum.to_list(1..200)
  end

  test "i/0 lists ferrets tables in ets's columns" do
    t = :ferrets.new(:listed, [:bag, :named_table])
    :ferrets.insert(t, for(i <- 1..5, do: {i, i}))
    unnamed = :ferrets.new(:unnamed, [])
    Process.register(self(), :ferrets_shell_test_owner)
    out = capture_io(fn -> :ferrets.i() end)
    ets_out = capture_io(fn -> :ets.i() end)
    Process.unregister(:ferrets_shell_test_owner)
    # Same header and rule.
    assert Enum.take(String.split(out, "\n"), 2) == Enum.take(String.split(ets_out, "\n"), 2)
    assert out =~ ~r/^ listed +listed +bag +5 +\d+ +ferrets_shell_test_owner$/m

    id = to_string(:io_lib.format(~c"~p", [unnamed]))
    assert out =~ ~r/^ #{Regex.escape(id)} +unnamed +set +0 +\d+ +ferrets_shell_test_owner$/m

    :ferrets.delete(t)
    refute capture_io(fn -> :ferrets.i() end) =~ ~r/^ listed /m
    assert capture_io(fn -> Ferrets.i() end) =~ "unnamed"
  end

  test "fun2ms/1 is ets's" do
    {:ok, tokens, _} = :erl_scan.string(~c"fun({K, V}) when V > 1 -> K end.")
    {:ok, [expr]} = :erl_parse.parse_exprs(tokens)
    {:value, shell_fun, _} = :erl_eval.expr(expr, [])
    assert :ferrets.fun2ms(shell_fun) == :ets.fun2ms(shell_fun)
    assert :ferrets.fun2ms(shell_fun) == [{{:"$1", :"$2"}, [{:>, :"$2", 1}], [:"$1"]}]
    assert catch_exit(:ferrets.fun2ms(fn x -> x end)) == catch_exit(:ets.fun2ms(fn x -> x end))
  end
end
