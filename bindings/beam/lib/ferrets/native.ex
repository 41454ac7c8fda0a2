defmodule Ferrets.Native do
  @moduledoc false
  # The NIF functions. Use `:ferrets` (Erlang) or `Ferrets` (Elixir) instead.

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :filename.join(:code.priv_dir(:ferrets), ~c"native/libferrets_nif")
    :erlang.load_nif(path, 0)
  end

  @doc false
  def new(_name, _options), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def insert(_tab, _objects), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def lookup(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_key(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_table(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def info(_tab, _item), do: :erlang.nif_error(:nif_not_loaded)
end
