defmodule Ferrets do
  @moduledoc """
  Elixir interface to ferrets, a drop-in for `:ets` hash tables (`:set`,
  `:bag`, `:duplicate_bag`) backed by a concurrent native table.

  Every function here mirrors the `:ets` function of the same name (same
  arguments, results and `ArgumentError`s) and delegates to the Erlang
  module `:ferrets`, so code can switch from `:ets` by changing the module.

      tab = Ferrets.new(:cache, [:set, :public])
      true = Ferrets.insert(tab, {:k, 1})
      [{:k, 1}] = Ferrets.lookup(tab, :k)
      2 = Ferrets.update_counter(tab, :k, 1)

  Differences from ETS: traversal order (`first/1`, `next/2`, `tab2list/1`,
  folds) is ferrets' own; `:ordered_set` is not supported yet; `info(tab,
  :memory)` counts ferrets' own storage.
  """

  @typedoc "A table: the reference `new/2` returns, or its name for a `:named_table`."
  @type tab :: reference() | atom()

  @doc "Creates a table owned by the caller. See `:ets.new/2` (`:ordered_set` raises `ArgumentError` for now)."
  @spec new(atom(), list()) :: tab()
  defdelegate new(name, options), to: :ferrets

  @doc "Inserts an object or a list of objects. See `:ets.insert/2`."
  @spec insert(tab(), tuple() | [tuple()]) :: true
  defdelegate insert(tab, objects), to: :ferrets

  @doc "Inserts unless a key already exists. See `:ets.insert_new/2`."
  @spec insert_new(tab(), tuple() | [tuple()]) :: boolean()
  defdelegate insert_new(tab, objects), to: :ferrets

  @doc "The objects stored under `key`. See `:ets.lookup/2`."
  @spec lookup(tab(), term()) :: [tuple()]
  defdelegate lookup(tab, key), to: :ferrets

  @doc "Element `pos` of the object(s) under `key`. See `:ets.lookup_element/3`."
  @spec lookup_element(tab(), term(), pos_integer()) :: term()
  defdelegate lookup_element(tab, key, pos), to: :ferrets

  @doc "Whether `key` is present. See `:ets.member/2`."
  @spec member(tab(), term()) :: boolean()
  defdelegate member(tab, key), to: :ferrets

  @doc "Removes and returns the objects under `key`. See `:ets.take/2`."
  @spec take(tab(), term()) :: [tuple()]
  defdelegate take(tab, key), to: :ferrets

  @doc "Deletes the table. See `:ets.delete/1`."
  @spec delete(tab()) :: true
  defdelegate delete(tab), to: :ferrets

  @doc "Deletes the objects under `key`. See `:ets.delete/2`."
  @spec delete(tab(), term()) :: true
  defdelegate delete(tab, key), to: :ferrets

  @doc "Deletes exactly `object`. See `:ets.delete_object/2`."
  @spec delete_object(tab(), tuple()) :: true
  defdelegate delete_object(tab, object), to: :ferrets

  @doc "Empties the table. See `:ets.delete_all_objects/1`."
  @spec delete_all_objects(tab()) :: true
  defdelegate delete_all_objects(tab), to: :ferrets

  @doc """
  Replaces every object by those `init_fun` returns (`init_fun.(:read)`
  until `:end_of_input`), then finishes the table's growth (a bulk load).
  See `:ets.init_table/2`.
  """
  @spec init_table(tab(), (:read | :close -> term())) :: true
  defdelegate init_table(tab, init_fun), to: :ferrets

  @doc "Atomically updates counters. See `:ets.update_counter/3`."
  @spec update_counter(tab(), term(), term()) :: integer() | [integer()]
  defdelegate update_counter(tab, key, op), to: :ferrets

  @doc "Atomically updates counters, inserting `default` first if `key` is absent. See `:ets.update_counter/4`."
  @spec update_counter(tab(), term(), term(), tuple()) :: integer() | [integer()]
  defdelegate update_counter(tab, key, op, default), to: :ferrets

  @doc "Replaces elements of the object under `key`. See `:ets.update_element/3`."
  @spec update_element(tab(), term(), {pos_integer(), term()} | [{pos_integer(), term()}]) ::
          boolean()
  defdelegate update_element(tab, key, spec), to: :ferrets

  @doc "The first key in traversal order, or `:'$end_of_table'`. See `:ets.first/1`."
  @spec first(tab()) :: term()
  defdelegate first(tab), to: :ferrets

  @doc "The key after `key`, or `:'$end_of_table'`. See `:ets.next/2`."
  @spec next(tab(), term()) :: term()
  defdelegate next(tab, key), to: :ferrets

  @doc "Fixes or releases the table for safe traversal. See `:ets.safe_fixtable/2`."
  @spec safe_fixtable(tab(), boolean()) :: true
  defdelegate safe_fixtable(tab, fix), to: :ferrets

  @doc "The same as `first/1`, as `:ets.last/1` is for hash tables."
  @spec last(tab()) :: term()
  defdelegate last(tab), to: :ferrets

  @doc "The same as `next/2`, as `:ets.prev/2` is for hash tables."
  @spec prev(tab(), term()) :: term()
  defdelegate prev(tab, key), to: :ferrets

  @doc "Every object. See `:ets.tab2list/1`."
  @spec tab2list(tab()) :: [tuple()]
  defdelegate tab2list(tab), to: :ferrets

  @doc "Folds over every object. See `:ets.foldl/3`."
  @spec foldl((tuple(), acc -> acc), acc, tab()) :: acc when acc: term()
  defdelegate foldl(fun, acc, tab), to: :ferrets

  @doc "Folds over every object. See `:ets.foldr/3`."
  @spec foldr((tuple(), acc -> acc), acc, tab()) :: acc when acc: term()
  defdelegate foldr(fun, acc, tab), to: :ferrets

  @doc "Information about a table. See `:ets.info/1`."
  @spec info(tab()) :: [{atom(), term()}] | :undefined
  defdelegate info(tab), to: :ferrets

  @doc "One item of information about a table. See `:ets.info/2`."
  @spec info(tab(), atom()) :: term()
  defdelegate info(tab, item), to: :ferrets

  @doc "The reference of the table named `name`. See `:ets.whereis/1`."
  @spec whereis(atom()) :: reference() | :undefined
  defdelegate whereis(name), to: :ferrets

  @doc "Renames a named table. See `:ets.rename/2`."
  @spec rename(tab(), atom()) :: tab()
  defdelegate rename(tab, name), to: :ferrets

  @doc "Makes `pid` the owner and sends it `{:'ETS-TRANSFER', tab, self(), gift}`. See `:ets.give_away/3`."
  @spec give_away(tab(), pid(), term()) :: true
  defdelegate give_away(tab, pid, gift), to: :ferrets

  @doc "Sets the heir. See `:ets.setopts/2`."
  @spec setopts(tab(), tuple() | [tuple()]) :: true
  defdelegate setopts(tab, opts), to: :ferrets

  @doc "Every ferrets table. See `:ets.all/0`."
  @spec all() :: [tab()]
  defdelegate all(), to: :ferrets

  @typedoc "A match specification, as for `:ets.select/2`."
  @type match_spec() :: [{term(), [term()], [term()]}]

  @typedoc "The continuation of a limited `select/3` or `match/3` walk."
  @type continuation() :: term()

  @doc "The results of a match specification over every object. See `:ets.select/2`."
  @spec select(tab(), match_spec()) :: [term()]
  defdelegate select(tab, match_spec), to: :ferrets

  @doc "At most `limit` results and a continuation. See `:ets.select/3`."
  @spec select(tab(), match_spec(), pos_integer()) ::
          {[term()], continuation()} | :"$end_of_table"
  defdelegate select(tab, match_spec, limit), to: :ferrets

  @doc "The next results of a `select/3` walk. See `:ets.select/1`."
  @spec select(continuation()) :: {[term()], continuation()} | :"$end_of_table"
  defdelegate select(continuation), to: :ferrets

  @doc "A QLC table over `tab`. See `:ets.table/2`."
  @spec table(tab(), list() | tuple()) :: :qlc.query_handle()
  defdelegate table(tab, options \\ []), to: :ferrets

  @doc """
  Writes `tab` to `file` in ETS's own format (readable by `:ets.file2tab/1`
  too). Options: `{:extended_info, [:object_count | :md5sum]}`,
  `{:sync, boolean}`. See `:ets.tab2file/3`.
  """
  @spec tab2file(tab(), :file.name(), list()) :: :ok | {:error, term()}
  defdelegate tab2file(tab, file, options \\ []), to: :ferrets

  @doc """
  A new table with the objects of a `tab2file/3` file, written by ferrets
  or by `:ets.tab2file/2`. Options: `{:verify, boolean}`, `{:table, tab}`
  (load into an existing table). See `:ets.file2tab/2`.
  """
  @spec file2tab(:file.name(), list()) :: {:ok, tab()} | {:error, term()}
  defdelegate file2tab(file, options \\ []), to: :ferrets

  @doc "The table information a `tab2file/3` file holds. See `:ets.tabfile_info/1`."
  @spec tabfile_info(:file.name()) :: {:ok, keyword()} | {:error, term()}
  defdelegate tabfile_info(file), to: :ferrets

  @doc "Replaces the objects of an open dets table by `tab`'s. See `:ets.to_dets/2`."
  @spec to_dets(tab(), :dets.tab_name()) :: :dets.tab_name()
  defdelegate to_dets(tab, dets_tab), to: :ferrets

  @doc "Inserts the objects of an open dets table into `tab`. See `:ets.from_dets/2`."
  @spec from_dets(tab(), :dets.tab_name()) :: true
  defdelegate from_dets(tab, dets_tab), to: :ferrets

  @doc "Prints every ferrets table: id, name, type, size, memory, owner. See `:ets.i/0`."
  @spec i() :: :ok
  defdelegate i(), to: :ferrets

  @doc """
  Pages through `tab`'s objects in the shell, `height` lines of at most
  `width` columns at a time. See `:ets.i/1`.
  """
  @spec i(tab(), pos_integer(), pos_integer()) :: :ok
  defdelegate i(tab, height \\ 40, width \\ 80), to: :ferrets

  @doc """
  The objects in slot `i` of the table: a walk from slot 0 until
  `:"$end_of_table"` visits every object once. A debugging call. See
  `:ets.slot/2`.
  """
  @spec slot(tab(), non_neg_integer()) :: [tuple()] | :"$end_of_table"
  defdelegate slot(tab, i), to: :ferrets

  @doc "Compiles a match specification. See `:ets.match_spec_compile/1`."
  @spec match_spec_compile(match_spec()) :: :ets.compiled_match_spec()
  defdelegate match_spec_compile(match_spec), to: :ets

  @doc "Runs a compiled match specification over a list. See `:ets.match_spec_run/2`."
  @spec match_spec_run([term()], :ets.compiled_match_spec()) :: [term()]
  defdelegate match_spec_run(list, compiled), to: :ets

  @doc "Whether `term` is a compiled match specification. See `:ets.is_compiled_ms/1`."
  @spec is_compiled_ms(term()) :: boolean()
  defdelegate is_compiled_ms(term), to: :ets

  @doc "Runs a match specification on one tuple. See `:ets.test_ms/2`."
  @spec test_ms(tuple(), match_spec()) ::
          {:ok, term()} | {:error, [{:warning | :error, charlist()}]}
  defdelegate test_ms(tuple, match_spec), to: :ets

  @doc "A continuation that went through the external term format, usable again. See `:ets.repair_continuation/2`."
  @spec repair_continuation(continuation(), match_spec()) :: continuation()
  defdelegate repair_continuation(continuation, match_spec), to: :ferrets

  @doc "The same as `select/2` for hash tables. See `:ets.select_reverse/2`."
  @spec select_reverse(tab(), match_spec()) :: [term()]
  defdelegate select_reverse(tab, match_spec), to: :ferrets

  @doc "The same as `select/3` for hash tables. See `:ets.select_reverse/3`."
  @spec select_reverse(tab(), match_spec(), pos_integer()) ::
          {[term()], continuation()} | :"$end_of_table"
  defdelegate select_reverse(tab, match_spec, limit), to: :ferrets

  @doc "The same as `select/1` for hash tables. See `:ets.select_reverse/1`."
  @spec select_reverse(continuation()) :: {[term()], continuation()} | :"$end_of_table"
  defdelegate select_reverse(continuation), to: :ferrets

  @doc "How many objects the match specification returns `true` for. See `:ets.select_count/2`."
  @spec select_count(tab(), match_spec()) :: non_neg_integer()
  defdelegate select_count(tab, match_spec), to: :ferrets

  @doc "Deletes the objects the match specification returns `true` for; how many. See `:ets.select_delete/2`."
  @spec select_delete(tab(), match_spec()) :: non_neg_integer()
  defdelegate select_delete(tab, match_spec), to: :ferrets

  @doc """
  Replaces each matching object by the match specification's result for it;
  how many. The specification must keep every key; bags are refused. See
  `:ets.select_replace/2`.
  """
  @spec select_replace(tab(), match_spec()) :: non_neg_integer()
  defdelegate select_replace(tab, match_spec), to: :ferrets

  @doc "The bindings of the pattern's variables in every match. See `:ets.match/2`."
  @spec match(tab(), term()) :: [[term()]]
  defdelegate match(tab, pattern), to: :ferrets

  @doc "At most `limit` matches and a continuation. See `:ets.match/3`."
  @spec match(tab(), term(), pos_integer()) :: {[[term()]], continuation()} | :"$end_of_table"
  defdelegate match(tab, pattern, limit), to: :ferrets

  @doc "The next matches of a `match/3` walk. See `:ets.match/1`."
  @spec match(continuation()) :: {[[term()]], continuation()} | :"$end_of_table"
  defdelegate match(continuation), to: :ferrets

  @doc "The objects matching a pattern. See `:ets.match_object/2`."
  @spec match_object(tab(), term()) :: [tuple()]
  defdelegate match_object(tab, pattern), to: :ferrets

  @doc "At most `limit` matching objects and a continuation. See `:ets.match_object/3`."
  @spec match_object(tab(), term(), pos_integer()) ::
          {[tuple()], continuation()} | :"$end_of_table"
  defdelegate match_object(tab, pattern, limit), to: :ferrets

  @doc "The next objects of a `match_object/3` walk. See `:ets.match_object/1`."
  @spec match_object(continuation()) :: {[tuple()], continuation()} | :"$end_of_table"
  defdelegate match_object(continuation), to: :ferrets

  @doc "Deletes the objects matching a pattern. See `:ets.match_delete/2`."
  @spec match_delete(tab(), term()) :: true
  defdelegate match_delete(tab, pattern), to: :ferrets

  # Offloaded work (see `Ferrets.Async` and `Ferrets.Pool`): like `Task`, a
  # job's reply arrives as `{task.ref, result}`.

  @doc "Waits for an offloaded job's result; exits on timeout like `Task.await/2`. See `Ferrets.Async.await/2`."
  @spec await(Ferrets.Async.t(), timeout()) :: Ferrets.Async.result()
  defdelegate await(task, timeout \\ 5_000), to: Ferrets.Async

  @doc "Waits for an offloaded job's result; `nil` on timeout like `Task.yield/2`. See `Ferrets.Async.yield/2`."
  @spec yield(Ferrets.Async.t(), timeout()) :: {:ok, Ferrets.Async.result()} | nil
  defdelegate yield(task, timeout \\ 5_000), to: Ferrets.Async
end
