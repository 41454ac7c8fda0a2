defmodule Ferrets.Native do
  @moduledoc false
  # The NIF functions. Use `:ferrets` (Erlang) or `Ferrets` (Elixir) instead:
  # several of these return `too_big` or a cause atom that `:ferrets` turns
  # into the ETS behaviour.

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :filename.join(:code.priv_dir(:ferrets), ~c"native/libferrets_nif")
    :erlang.load_nif(path, 0)
  end

  # --- Tables (ops.rs, counters.rs, iter.rs, info.rs, owner.rs) ---

  @doc false
  def new(_name, _options), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def insert(_tab, _objects), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def insert_new(_tab, _objects), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def insert_dirty(_tab, _objects), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def insert_new_dirty(_tab, _objects), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def lookup(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def lookup_element(_tab, _key, _pos), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def member(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def take(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_key(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_object(_tab, _object), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_object_count(_tab, _object), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def replace_object(_tab, _old, _new), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_table(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_all_objects(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def delete_all_objects_dirty(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def finish_resizes(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def update_counter(_tab, _key, _ops), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def update_counter_default(_tab, _key, _ops, _default), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def update_element(_tab, _key, _elems), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def first(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def first_dirty(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def next(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def next_dirty(_tab, _key), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def tab2list(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def tab2list_dirty(_tab), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def chunk(_tab, _after, _n, _filter), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def slot(_tab, _i), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def slot_dirty(_tab, _i), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def chunk_dirty(_tab, _after, _n, _filter), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def safe_fixtable(_tab, _fix, _mono, _stamp), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def info(_tab, _item), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def whereis(_name), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def rename(_tab, _name), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def give_away(_tab, _pid), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def setopts(_tab, _opts), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def all(), do: :erlang.nif_error(:nif_not_loaded)

  # --- Offload pool and async table jobs (pool.rs, tabjobs.rs; issue 5) ---
  # Owned by the pool work: Ferrets.Pool and Ferrets.Async call these.

  @doc false
  def pool_start(_workers, _queue, _name), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def pool_run(_pool, _tag, _spec, _timeout), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def pool_cancel(_job), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def pool_metrics(_pool), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def pool_shutdown(_pool, _tag, _mode), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def async_tab2list(_pool, _tag, _tab, _timeout), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def async_reduce(_pool, _tag, _tab, _op, _timeout), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def async_delete_all(_pool, _tag, _tab, _timeout), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def async_insert(_pool, _tag, _tab, _objects, _timeout), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def async_save(_pool, _tag, _tab, _path, _timeout), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def async_load(_pool, _tag, _tab, _path, _timeout), do: :erlang.nif_error(:nif_not_loaded)
end
