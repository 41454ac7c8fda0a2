defmodule Mix.Tasks.Compile.FerretsNif do
  @moduledoc """
  Builds the `ferrets_nif` crate with cargo and copies it to `priv/native/`.

  Defined here rather than in `lib/` because it must exist before the
  project's own code is compiled. No Hex packages are needed.
  """
  use Mix.Task.Compiler

  @crate "ferrets_nif"

  @impl true
  def run(_args) do
    # FERRETS_NIF_WORKSPACE points at another checkout of the Cargo
    # workspace (e.g. one pinned to a known-good core); default: this one.
    root = System.get_env("FERRETS_NIF_WORKSPACE") || Path.expand("../..", __DIR__)
    target = System.get_env("CARGO_TARGET_DIR") || Path.join(root, "target")
    args = ["build", "--release", "--quiet", "-p", @crate]

    case System.cmd("cargo", args, cd: root, stderr_to_stdout: true) do
      {_, 0} ->
        src = Path.join([target, "release", "lib#{@crate}.so"])
        dest_dir = Path.join(__DIR__, "priv/native")
        dest = Path.join(dest_dir, "lib#{@crate}.so")
        File.mkdir_p!(dest_dir)
        # Replace, never overwrite in place: a loaded .so may be mapped.
        File.rm(dest)
        File.cp!(src, dest)
        # priv/ may not have existed when Mix laid out _build: link it now.
        Mix.Project.build_structure()
        {:ok, []}

      {output, status} ->
        Mix.shell().error(output)
        Mix.raise("cargo build of #{@crate} failed with status #{status}")
    end
  end
end

defmodule Ferrets.MixProject do
  use Mix.Project

  def project do
    [
      app: :ferrets,
      version: workspace_version(),
      elixir: "~> 1.14",
      compilers: [:ferrets_nif] ++ Mix.compilers(),
      erlc_paths: ["src"],
      start_permanent: Mix.env() == :prod,
      deps: []
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end

  # The one version source is the Cargo workspace.
  defp workspace_version do
    Path.expand("../../Cargo.toml", __DIR__)
    |> File.read!()
    |> then(&Regex.run(~r/^version = "([^"]+)"/m, &1, capture: :all_but_first))
    |> hd()
  end
end
