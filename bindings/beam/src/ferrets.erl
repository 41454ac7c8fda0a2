%% @doc A drop-in for `ets' backed by a lock-free native table.
%%
%% Same functions, arguments, results and `badarg's as `ets' for the
%% functions listed in the export attribute.
-module(ferrets).

-export([new/2, insert/2, lookup/2, delete/1, delete/2, info/2]).

-define(NIF, 'Elixir.Ferrets.Native').

%% @doc Creates a table, like `ets:new/2'.
new(Name, Options) when is_atom(Name), is_list(Options) ->
    ?NIF:new(Name, Options);
new(Name, Options) ->
    erlang:error(badarg, [Name, Options]).

%% @doc Inserts an object or a list of objects, like `ets:insert/2'.
insert(Tab, ObjectOrObjects) ->
    ?NIF:insert(Tab, ObjectOrObjects).

%% @doc Returns the objects stored under `Key', like `ets:lookup/2'.
lookup(Tab, Key) ->
    ?NIF:lookup(Tab, Key).

%% @doc Deletes the whole table, like `ets:delete/1'.
delete(Tab) ->
    ?NIF:delete_table(Tab).

%% @doc Deletes the objects stored under `Key', like `ets:delete/2'.
delete(Tab, Key) ->
    ?NIF:delete_key(Tab, Key).

%% @doc Returns one item of information about a table, like `ets:info/2'.
info(Tab, Item) when is_atom(Item) ->
    ?NIF:info(Tab, Item);
info(Tab, Item) ->
    erlang:error(badarg, [Tab, Item]).
