# The ferrets demo: the GenServer bottleneck, measured and fixed.
# Run from the repository root with `scripts/demo [flags]`, or here with
#   MIX_ENV=prod mix run demo/demo.exs [flags]
# Flags and what each section shows: demo/README.md, or `scripts/demo --help`.
argv = System.argv()

if Enum.any?(argv, &(&1 in ["-h", "--help"])) do
  {:docs_v1, _, _, _, doc, _, _} = Code.fetch_docs(Ferrets.Demo)
  IO.puts(doc["en"])
else
  argv |> Ferrets.Demo.parse_args() |> Ferrets.Demo.run()
end
