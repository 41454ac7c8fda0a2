defmodule Ferrets do
  @moduledoc """
  Elixir interface to ferrets, a faster, bounded, ETS-like store.

  Every function here mirrors the `:ets` function of the same name and
  delegates to the Erlang module `:ferrets`.

      tab = Ferrets.new(:cache, [:set, :public])
      true = Ferrets.insert(tab, {:k, 1})
      [{:k, 1}] = Ferrets.lookup(tab, :k)
  """

  @typedoc "A table: the reference `new/2` returns, or its name for a `:named_table`."
  @type tab :: reference() | atom()

  @doc "Creates a table. See `:ets.new/2`."
  @spec new(atom(), list()) :: tab()
  defdelegate new(name, options), to: :ferrets

  @doc "Inserts an object or a list of objects. See `:ets.insert/2`."
  @spec insert(tab(), tuple() | [tuple()]) :: true
  defdelegate insert(tab, objects), to: :ferrets

  @doc "The objects stored under `key`. See `:ets.lookup/2`."
  @spec lookup(tab(), term()) :: [tuple()]
  defdelegate lookup(tab, key), to: :ferrets

  @doc "Deletes the table. See `:ets.delete/1`."
  @spec delete(tab()) :: true
  defdelegate delete(tab), to: :ferrets

  @doc "Deletes the objects under `key`. See `:ets.delete/2`."
  @spec delete(tab(), term()) :: true
  defdelegate delete(tab, key), to: :ferrets

  @doc "One item of information about a table. See `:ets.info/2`."
  @spec info(tab(), atom()) :: term()
  defdelegate info(tab, item), to: :ferrets
end
