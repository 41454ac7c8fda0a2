%% @doc A drop-in for `ets' (hash tables: `set', `bag', `duplicate_bag')
%% backed by a concurrent native table.
%%
%% Same functions, arguments, results and `badarg's as `ets' on OTP 25 for
%% everything exported here. Differences: traversal order (`first/1',
%% `next/2', `tab2list/1', `foldl/3') is ferrets' own hash order;
%% `ordered_set' is refused with `badarg' (cause `ordered_set_not_supported');
%% `memory' counts ferrets' own bytes, in words. Work on big tables
%% (`tab2list/1', `foldl/3', `delete_all_objects/1', starting a traversal,
%% inserting long lists) runs on a dirty scheduler so normal schedulers
%% never stall.
-module(ferrets).

-export([new/2, insert/2, insert_new/2, lookup/2, lookup_element/3, member/2,
         take/2, delete/1, delete/2, delete_object/2, delete_all_objects/1,
         update_counter/3, update_counter/4, update_element/3,
         first/1, next/2, tab2list/1, foldl/3, foldr/3,
         info/1, info/2, whereis/1, rename/2, give_away/3, setopts/2, all/0]).
-export([format_error/2]).

-define(NIF, 'Elixir.Ferrets.Native').

%% Lists longer than this (the NIF's `MAX_ISOLATED') are encoded and
%% stored by a dirty NIF, so that no normal scheduler is held for more than
%% about a millisecond; other callers help store them meanwhile, so that
%% none sees the list half stored (see the NIF's `batch' module).
-define(DIRTY_LIST, 1000).

-type tab() :: atom() | reference().
-export_type([tab/0]).

%% Items of info/1, in the order ets:info/1 lists them.
-define(INFO_ITEMS, [id, decentralized_counters, read_concurrency, write_concurrency,
                     compressed, memory, owner, heir, name, size, node, named_table,
                     type, keypos, protection]).

%% @doc Creates a table owned by the caller, like `ets:new/2'.
-spec new(atom(), list()) -> tab().
new(Name, Options) when is_atom(Name), is_list(Options) ->
    case ?NIF:new(Name, Options) of
        ordered_set ->
            erlang:error(badarg, [Name, Options],
                         [{error_info, #{module => ?MODULE,
                                         cause => ordered_set_not_supported}}]);
        Tab ->
            Tab
    end;
new(Name, Options) ->
    erlang:error(badarg, [Name, Options]).

%% @doc Inserts an object or a list of objects, like `ets:insert/2': a list
%% is stored atomically and isolated, whatever its length. Long lists are
%% stored on a dirty scheduler.
insert(Tab, Objects) when is_list(Objects), length(Objects) > ?DIRTY_LIST ->
    ?NIF:insert_dirty(Tab, Objects);
insert(Tab, ObjectOrObjects) ->
    ?NIF:insert(Tab, ObjectOrObjects).

%% @doc Inserts unless a key exists, like `ets:insert_new/2'.
insert_new(Tab, Objects) when is_list(Objects), length(Objects) > ?DIRTY_LIST ->
    ?NIF:insert_new_dirty(Tab, Objects);
insert_new(Tab, ObjectOrObjects) ->
    ?NIF:insert_new(Tab, ObjectOrObjects).

%% @doc The objects stored under `Key', like `ets:lookup/2'.
lookup(Tab, Key) -> ?NIF:lookup(Tab, Key).

%% @doc Element `Pos' of the object(s) under `Key', like `ets:lookup_element/3'.
lookup_element(Tab, Key, Pos) -> ?NIF:lookup_element(Tab, Key, Pos).

%% @doc Whether `Key' is present, like `ets:member/2'.
member(Tab, Key) -> ?NIF:member(Tab, Key).

%% @doc Removes and returns the objects under `Key', like `ets:take/2'.
take(Tab, Key) -> ?NIF:take(Tab, Key).

%% @doc Deletes the whole table, like `ets:delete/1'.
delete(Tab) -> ?NIF:delete_table(Tab).

%% @doc Deletes the objects stored under `Key', like `ets:delete/2'.
delete(Tab, Key) -> ?NIF:delete_key(Tab, Key).

%% @doc Deletes exactly `Object', like `ets:delete_object/2'.
delete_object(Tab, Object) -> ?NIF:delete_object(Tab, Object).

%% @doc Empties the table, like `ets:delete_all_objects/1'.
delete_all_objects(Tab) ->
    case ?NIF:delete_all_objects(Tab) of
        too_big -> ?NIF:delete_all_objects_dirty(Tab);
        R -> R
    end.

%% @doc Atomic counter update, like `ets:update_counter/3'.
update_counter(Tab, Key, UpdateOp) -> ?NIF:update_counter(Tab, Key, UpdateOp).

%% @doc Atomic counter update with a default object, like `ets:update_counter/4'.
update_counter(Tab, Key, UpdateOp, Default) ->
    ?NIF:update_counter_default(Tab, Key, UpdateOp, Default).

%% @doc Replaces elements of the object under `Key', like `ets:update_element/3'.
update_element(Tab, Key, ElementSpec) -> ?NIF:update_element(Tab, Key, ElementSpec).

%% @doc The first key in traversal order, like `ets:first/1'.
first(Tab) ->
    case ?NIF:first(Tab) of
        too_big -> ?NIF:first_dirty(Tab);
        K -> K
    end.

%% @doc The key after `Key' in traversal order, like `ets:next/2'.
next(Tab, Key) ->
    case ?NIF:next(Tab, Key) of
        too_big -> ?NIF:next_dirty(Tab, Key);
        K -> K
    end.

%% @doc Every object, like `ets:tab2list/1'.
tab2list(Tab) ->
    case ?NIF:tab2list(Tab) of
        too_big -> ?NIF:tab2list_dirty(Tab);
        L -> L
    end.

%% @doc Folds over every object, like `ets:foldl/3'. As there, a `Fun'
%% that is not a 2-ary fun fails with `function_clause' in `lists:foldl/3'
%% (or with what calling it raises), and is never called on an empty table.
foldl(Fun, Acc, Tab) ->
    case tab2list(Tab) of
        [] -> Acc;
        Objects -> lists:foldl(Fun, Acc, Objects)
    end.

%% @doc Folds over every object, like `ets:foldr/3' (same order as `foldl/3'
%% for hash tables).
foldr(Fun, Acc, Tab) ->
    foldl(Fun, Acc, Tab).

%% @doc Information about a table, like `ets:info/1'; `undefined' if it does not exist.
info(Tab) ->
    case ?NIF:info(Tab, size) of
        undefined -> undefined;
        _ -> [{Item, info(Tab, Item)} || Item <- ?INFO_ITEMS]
    end.

%% @doc One item of information about a table, like `ets:info/2'.
info(Tab, node) ->
    case ?NIF:info(Tab, size) of
        undefined -> undefined;
        _ -> node()
    end;
info(Tab, Item) when is_atom(Item) ->
    ?NIF:info(Tab, Item);
info(Tab, Item) ->
    erlang:error(badarg, [Tab, Item]).

%% @doc The reference of the table named `Name', like `ets:whereis/1'.
whereis(Name) -> ?NIF:whereis(Name).

%% @doc Renames a named table, like `ets:rename/2'.
rename(Tab, Name) ->
    %% The NIF gives up helping a long list insert after its budget (before
    %% any effect) rather than hold the scheduler: yield and call again.
    try ?NIF:rename(Tab, Name)
    catch error:ferrets_batch_busy -> erlang:yield(), rename(Tab, Name)
    end.

%% @doc Makes `Pid' the owner and sends it
%% `{'ETS-TRANSFER', Tab, self(), GiftData}', like `ets:give_away/3'.
give_away(Tab, Pid, GiftData) ->
    TabId = ?NIF:give_away(Tab, Pid),
    Pid ! {'ETS-TRANSFER', TabId, self(), GiftData},
    true.

%% @doc Sets the heir (`{heir, Pid, Data}' or `{heir, none}'), like `ets:setopts/2'.
setopts(Tab, Opts) -> ?NIF:setopts(Tab, Opts).

%% @doc Every ferrets table, like `ets:all/0' (names for named tables).
all() -> ?NIF:all().

%% @doc Formats the error causes this module raises (see `erl_error').
format_error(_Reason, [{?MODULE, new, _Args, Info} | _]) ->
    case maps:get(cause, proplists:get_value(error_info, Info, #{}), none) of
        ordered_set_not_supported ->
            #{2 => <<"ordered_set tables are not supported by ferrets yet">>};
        _ ->
            #{}
    end;
format_error(_Reason, _Stack) ->
    #{}.
