# The ferrets demo: the GenServer bottleneck, measured and fixed.
# Run from the repository root with `scripts/demo [flags]`, or here with
#   MIX_ENV=prod mix run demo/demo.exs [flags]
# Flags and what each section shows: see demo/README.md or `h Ferrets.Demo`.
System.argv() |> Ferrets.Demo.parse_args() |> Ferrets.Demo.run()
