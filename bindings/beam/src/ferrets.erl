%% @doc A drop-in for `ets' (hash tables: `set', `bag', `duplicate_bag')
%% backed by a concurrent native table.
%%
%% Same functions, arguments, results and `badarg's as `ets' on OTP 25 for
%% everything exported here. Differences: traversal order (`first/1',
%% `next/2', `tab2list/1', `foldl/3') is ferrets' own hash order;
%% `ordered_set' is refused with `badarg' (cause `ordered_set_not_supported');
%% `memory' counts ferrets' own bytes, in words. A `badarg' carries the
%% same `error_info' explanation as `ets' gives (see `format_error/2'), so
%% Elixir's `ArgumentError' messages read the same. Work on big tables
%% (`tab2list/1', `foldl/3', `delete_all_objects/1', starting a traversal,
%% inserting long lists) runs on a dirty scheduler so normal schedulers
%% never stall.
-module(ferrets).

-export([new/2, insert/2, insert_new/2, lookup/2, lookup_element/3, member/2,
         take/2, delete/1, delete/2, delete_object/2, delete_all_objects/1,
         update_counter/3, update_counter/4, update_element/3,
         first/1, next/2, last/1, prev/2, safe_fixtable/2, tab2list/1, foldl/3, foldr/3,
         info/1, info/2, whereis/1, rename/2, give_away/3, setopts/2, all/0,
         select/1, select/2, select/3, select_reverse/1, select_reverse/2,
         select_reverse/3, select_count/2, select_delete/2, select_replace/2,
         match/1, match/2, match/3, match_object/1, match_object/2, match_object/3,
         match_delete/2, init_table/2, repair_continuation/2, table/1, table/2, slot/2]).
%% Files: ETS's `tab2file' format and dets tables (see `ferrets_file').
-export([tab2file/2, tab2file/3, file2tab/1, file2tab/2, tabfile_info/1,
         to_dets/2, from_dets/2]).
%% The shell: table listing and browser (see `ferrets_shell'), `fun2ms/1'.
-export([i/0, i/1, i/2, i/3, fun2ms/1]).
%% Match specifications without a table: `ets''s own, so that code calling
%% them through a module variable finds them here too.
-export([match_spec_compile/1, match_spec_run/2, is_compiled_ms/1, test_ms/2]).
-export([format_error/2]).

-define(NIF, 'Elixir.Ferrets.Native').

%% Lists longer than this (the NIF's `MAX_ISOLATED') are encoded and
%% stored by a dirty NIF, so that no normal scheduler is held for more than
%% about a millisecond; other callers help store them meanwhile, so that
%% none sees the list half stored (see the NIF's `batch' module).
-define(DIRTY_LIST, 1000).

%% Raises `badarg' from the calling function with `Args', as `ets' does,
%% with an `error_info' cause computed in the caller (see `cause/2').
-define(BADARG(Args),
        erlang:error(badarg, Args,
                     [{error_info, #{module => ?MODULE,
                                     cause => cause(?FUNCTION_NAME, Args)}}])).
-define(TRY(Call, Args), try Call catch error:badarg -> ?BADARG(Args) end).
%% `select/1', `match/1', ...: the next results of a walk; `badarg'
%% ("invalid continuation") for anything but a continuation of a table that
%% still exists.
-define(CONTINUE(Cont),
        case Cont of
            '$end_of_table' -> '$end_of_table';
            _ ->
                case valid_continuation(Cont) of
                    true -> ?TRY(begin
                                     %% The table must still be there and
                                     %% readable, as for ets, even when the
                                     %% results are already at hand.
                                     false = ?NIF:member(element(#ferrets_select.tab, Cont), make_ref()),
                                     step(Cont)
                                 end, [Cont]);
                    false -> ?BADARG([Cont])
                end
        end).

-type tab() :: atom() | reference().
-export_type([tab/0]).

%% Keys per chunk of a whole-table `select'/`match' walk: bounds the terms
%% one NIF call builds and what the walk holds at once.
-define(WALK_KEYS, 1000).

%% A `select/3' (`match/3', `match_object/3') continuation: where the walk
%% goes on (`[]': the start, a `{Partition, Position}' cursor of the chunk
%% NIF, or `` '$end_of_table' ''), and results found but not returned yet (a
%% chunk can match more than `Limit').
%% `filter' is what the chunk NIF checks on stored objects (`prefilter/1').
-record(ferrets_select, {tab, cms, filter, limit, next, pending}).

%% Items of info/1, in the order ets:info/1 lists them.
-define(INFO_ITEMS, [id, decentralized_counters, read_concurrency, write_concurrency,
                     compressed, memory, owner, heir, name, size, node, named_table,
                     type, keypos, protection]).

%% @doc Creates a table owned by the caller, like `ets:new/2'.
-spec new(atom(), list()) -> tab().
new(Name, Options) when is_atom(Name), is_list(Options) ->
    case ?TRY(?NIF:new(Name, Options), [Name, Options]) of
        ordered_set ->
            erlang:error(badarg, [Name, Options],
                         [{error_info, #{module => ?MODULE,
                                         cause => ordered_set_not_supported}}]);
        Tab ->
            Tab
    end;
new(Name, Options) ->
    ?BADARG([Name, Options]).

%% @doc Inserts an object or a list of objects, like `ets:insert/2': a list
%% is stored atomically and isolated, whatever its length. Long lists are
%% stored on a dirty scheduler.
insert(Tab, Objects) when is_list(Objects), length(Objects) > ?DIRTY_LIST ->
    ?TRY(?NIF:insert_dirty(Tab, Objects), [Tab, Objects]);
insert(Tab, ObjectOrObjects) ->
    ?TRY(?NIF:insert(Tab, ObjectOrObjects), [Tab, ObjectOrObjects]).

%% @doc Inserts unless a key exists, like `ets:insert_new/2'.
insert_new(Tab, Objects) when is_list(Objects), length(Objects) > ?DIRTY_LIST ->
    ?TRY(?NIF:insert_new_dirty(Tab, Objects), [Tab, Objects]);
insert_new(Tab, ObjectOrObjects) ->
    ?TRY(?NIF:insert_new(Tab, ObjectOrObjects), [Tab, ObjectOrObjects]).

%% @doc The objects stored under `Key', like `ets:lookup/2'.
lookup(Tab, Key) -> ?TRY(?NIF:lookup(Tab, Key), [Tab, Key]).

%% @doc Element `Pos' of the object(s) under `Key', like `ets:lookup_element/3'.
lookup_element(Tab, Key, Pos) ->
    ?TRY(?NIF:lookup_element(Tab, Key, Pos), [Tab, Key, Pos]).

%% @doc Whether `Key' is present, like `ets:member/2'.
member(Tab, Key) -> ?TRY(?NIF:member(Tab, Key), [Tab, Key]).

%% @doc Removes and returns the objects under `Key', like `ets:take/2'.
take(Tab, Key) -> ?TRY(?NIF:take(Tab, Key), [Tab, Key]).

%% @doc Deletes the whole table, like `ets:delete/1'.
delete(Tab) -> ?TRY(?NIF:delete_table(Tab), [Tab]).

%% @doc Deletes the objects stored under `Key', like `ets:delete/2'.
delete(Tab, Key) -> ?TRY(?NIF:delete_key(Tab, Key), [Tab, Key]).

%% @doc Deletes exactly `Object', like `ets:delete_object/2'.
delete_object(Tab, Object) -> ?TRY(?NIF:delete_object(Tab, Object), [Tab, Object]).

%% @doc Empties the table, like `ets:delete_all_objects/1'.
delete_all_objects(Tab) ->
    ?TRY(case ?NIF:delete_all_objects(Tab) of
             too_big -> ?NIF:delete_all_objects_dirty(Tab);
             R -> R
         end, [Tab]).

%% @doc Replaces every object by those `InitFun' returns, like
%% `ets:init_table/2' (the same steps: `InitFun(read)' until
%% `end_of_input', `InitFun(close)' when an insert fails, whose exit is
%% passed on). A bulk load: it then finishes the resizes it started, so the
%% table does not keep growing partitions' old arrays until later writes.
init_table(Tab, InitFun) ->
    delete_all_objects(Tab),
    init_table_continue(Tab, InitFun(read)).

init_table_continue(Tab, end_of_input) ->
    _ = (catch ?NIF:finish_resizes(Tab)),
    true;
init_table_continue(Tab, {List, Fun}) when is_list(List), is_function(Fun) ->
    case catch init_table_sub(Tab, List) of
        {'EXIT', Reason} ->
            _ = (catch Fun(close)),
            exit(Reason);
        true ->
            init_table_continue(Tab, Fun(read))
    end;
init_table_continue(_Tab, Error) ->
    exit(Error).

init_table_sub(_Tab, []) -> true;
init_table_sub(Tab, [H | T]) ->
    insert(Tab, H),
    init_table_sub(Tab, T).

%% @doc A continuation that went through the external term format, made
%% usable again, like `ets:repair_continuation/2' (on OTP 25 a compiled
%% match specification survives it on its node, so this changes nothing
%% then).
repair_continuation('$end_of_table', _MatchSpec) ->
    '$end_of_table';
repair_continuation(#ferrets_select{cms = CMS} = Cont, MatchSpec) ->
    case is_compiled(CMS) of
        true -> Cont;
        false -> Cont#ferrets_select{cms = ets:match_spec_compile(MatchSpec)}
    end.

%% @doc The objects in slot `I' of the table, like `ets:slot/2': a walk
%% from slot 0 until `` '$end_of_table' '' visits every object once (slots
%% are ranges of ferrets' traversal positions, 256 per partition, whatever
%% the table's size); `badarg' past the last slot. A big table's slots are
%% read on a dirty scheduler.
slot(Tab, I) ->
    ?TRY(case ?NIF:slot(Tab, I) of
             too_big -> ?NIF:slot_dirty(Tab, I);
             Objects -> Objects
         end, [Tab, I]).

%% @doc Writes `Tab' to `File' in ETS's format, like `ets:tab2file/2'.
tab2file(Tab, File) -> ferrets_file:tab2file(Tab, File, []).

%% @doc Writes `Tab' to `File' in ETS's format, like `ets:tab2file/3'
%% (options `{extended_info, [object_count | md5sum]}' and `{sync, Bool}').
tab2file(Tab, File, Options) -> ferrets_file:tab2file(Tab, File, Options).

%% @doc A new ferrets table with the objects of a `tab2file' file (written
%% by `ferrets' or `ets'), like `ets:file2tab/1'.
file2tab(File) -> ferrets_file:file2tab(File, []).

%% @doc Like `file2tab/1' with options `{verify, Bool}' and `{table, Tab}'
%% (load into an existing table), like `ets:file2tab/2'.
file2tab(File, Options) -> ferrets_file:file2tab(File, Options).

%% @doc The table information a `tab2file' file holds, like `ets:tabfile_info/1'.
tabfile_info(File) when is_list(File); is_atom(File) -> ferrets_file:tabfile_info(File).

%% @doc Replaces the objects of an open dets table by `Tab''s, like `ets:to_dets/2'.
to_dets(Tab, DetsTab) -> ferrets_file:to_dets(Tab, DetsTab).

%% @doc Inserts the objects of an open dets table into `Tab', like `ets:from_dets/2'.
from_dets(Tab, DetsTab) -> ferrets_file:from_dets(Tab, DetsTab).

%% @doc Prints every ferrets table (id, name, type, size, memory, owner),
%% like `ets:i/0'.
i() -> ferrets_shell:i().

%% @doc Pages through `Tab''s objects 40 lines at a time, reading commands
%% from the group leader, like `ets:i/1'.
i(Tab) -> i(Tab, 40).

%% @doc Like `i/1', `Height' lines at a time (`ets:i/2').
i(Tab, Height) -> i(Tab, Height, 80).

%% @doc Like `i/1', `Height' lines of at most `Width' columns at a time (`ets:i/3').
i(Tab, Height, Width) -> ferrets_shell:i(Tab, Height, Width).

%% @doc `ets:fun2ms/1': a match specification from a fun typed in the shell
%% (in compiled code, `ets:fun2ms' calls are what `ms_transform' rewrites;
%% their specifications work with ferrets as they are).
fun2ms(ShellFun) -> ets:fun2ms(ShellFun).

%% @doc A QLC table over `Tab', like `ets:table/1'.
table(Tab) -> table(Tab, []).

%% @doc A QLC table over `Tab', like `ets:table/2' (ets.erl's own
%% construction over ferrets' calls: options `traverse' and `n_objects',
%% the others passed to `qlc:table/2'; keys looked up directly).
table(Tab, Opts) ->
    case table_options(Opts, [traverse, n_objects]) of
        {badarg, _} ->
            erlang:error(badarg, [Tab, Opts]);
        [[Traverse, NObjs], QlcOptions] ->
            TF = case Traverse of
                     first_next -> fun() -> qlc_next(Tab, first(Tab)) end;
                     last_prev -> fun() -> qlc_prev(Tab, last(Tab)) end;
                     select -> fun(MS) -> qlc_select(select(Tab, MS, NObjs)) end;
                     {select, MS} -> fun() -> qlc_select(select(Tab, MS, NObjs)) end
                 end,
            PreFun = fun(_) -> safe_fixtable(Tab, true) end,
            PostFun = fun() -> safe_fixtable(Tab, false) end,
            InfoFun = fun(Tag) -> table_info(Tab, Tag) end,
            LookupFun = case Traverse of
                            {select, _MS} -> undefined;
                            _ ->
                                fun(_Pos, [K]) -> lookup(Tab, K);
                                   (_Pos, Ks) -> lists:flatmap(fun(K) -> lookup(Tab, K) end, Ks)
                                end
                        end,
            FormatFun = fun({all, _NElements, _ElementFun}) ->
                                {?MODULE, table, [Tab | [Opts || Opts =/= []]]};
                           ({match_spec, MS}) ->
                                {?MODULE, table, [Tab, [{traverse, {select, MS}} | listify(Opts)]]};
                           ({lookup, _KeyPos, [Value], _NElements, ElementFun}) ->
                                io_lib:format("~w:lookup(~w, ~w)", [?MODULE, Tab, ElementFun(Value)]);
                           ({lookup, _KeyPos, Values, _NElements, ElementFun}) ->
                                Vals = [ElementFun(V) || V <- Values],
                                io_lib:format("lists:flatmap(fun(V) -> ~w:lookup(~w, V) end, ~w)",
                                              [?MODULE, Tab, Vals])
                        end,
            qlc:table(TF, [{pre_fun, PreFun}, {post_fun, PostFun}, {info_fun, InfoFun},
                           {format_fun, FormatFun}, {key_equality, '=:='},
                           {lookup_fun, LookupFun}] ++ QlcOptions)
    end.

table_info(Tab, num_of_objects) -> info(Tab, size);
table_info(Tab, keypos) -> info(Tab, keypos);
table_info(Tab, is_unique_objects) -> info(Tab, type) =/= duplicate_bag;
table_info(_Tab, is_sorted_key) -> false;
table_info(_Tab, _) -> undefined.

qlc_next(_Tab, '$end_of_table') -> [];
qlc_next(Tab, Key) -> lookup(Tab, Key) ++ fun() -> qlc_next(Tab, next(Tab, Key)) end.

qlc_prev(_Tab, '$end_of_table') -> [];
qlc_prev(Tab, Key) -> lookup(Tab, Key) ++ fun() -> qlc_prev(Tab, prev(Tab, Key)) end.

qlc_select('$end_of_table') -> [];
qlc_select({Objects, Cont}) -> Objects ++ fun() -> qlc_select(select(Cont)) end.

%% `ets''s option parsing for `table/2': the values of `Keys', then the
%% options left for `qlc:table/2'.
table_options(Options, Keys) when is_list(Options) -> table_options(Options, Keys, []);
table_options(Option, Keys) -> table_options([Option], Keys, []).

table_options(Options, [Key | Keys], L) when is_list(Options) ->
    V = case lists:keyfind(Key, 1, Options) of
            {n_objects, default} -> {ok, 100};
            {n_objects, NObjs} when is_integer(NObjs), NObjs >= 1 -> {ok, NObjs};
            {traverse, select} -> {ok, select};
            {traverse, {select, _MS} = Select} -> {ok, Select};
            {traverse, first_next} -> {ok, first_next};
            {traverse, last_prev} -> {ok, last_prev};
            {Key, _} -> badarg;
            false when Key =:= n_objects -> {ok, 100};
            false -> {ok, select}
        end,
    case V of
        badarg -> {badarg, Key};
        {ok, Value} -> table_options(lists:keydelete(Key, 1, Options), Keys, [Value | L])
    end;
table_options(Options, [], L) ->
    [lists:reverse(L), Options].

listify(L) when is_list(L) -> L;
listify(T) -> [T].

%% @doc `ets:match_spec_compile/1'.
match_spec_compile(MatchSpec) -> ets:match_spec_compile(MatchSpec).

%% @doc `ets:match_spec_run/2'.
match_spec_run(List, CompiledMatchSpec) -> ets:match_spec_run(List, CompiledMatchSpec).

%% @doc `ets:is_compiled_ms/1'.
is_compiled_ms(Term) -> ets:is_compiled_ms(Term).

%% @doc `ets:test_ms/2'.
test_ms(Tuple, MatchSpec) -> ets:test_ms(Tuple, MatchSpec).

%% @doc Atomic counter update, like `ets:update_counter/3'.
update_counter(Tab, Key, UpdateOp) ->
    ?TRY(?NIF:update_counter(Tab, Key, UpdateOp), [Tab, Key, UpdateOp]).

%% @doc Atomic counter update with a default object, like `ets:update_counter/4'.
update_counter(Tab, Key, UpdateOp, Default) ->
    ?TRY(?NIF:update_counter_default(Tab, Key, UpdateOp, Default),
         [Tab, Key, UpdateOp, Default]).

%% @doc Replaces elements of the object under `Key', like `ets:update_element/3'.
update_element(Tab, Key, ElementSpec) ->
    ?TRY(?NIF:update_element(Tab, Key, ElementSpec), [Tab, Key, ElementSpec]).

%% @doc The first key in traversal order, like `ets:first/1'.
first(Tab) ->
    ?TRY(case ?NIF:first(Tab) of
             too_big -> ?NIF:first_dirty(Tab);
             K -> K
         end, [Tab]).

%% @doc The key after `Key' in traversal order, like `ets:next/2'.
next(Tab, Key) ->
    ?TRY(case ?NIF:next(Tab, Key) of
             too_big -> ?NIF:next_dirty(Tab, Key);
             K -> K
         end, [Tab, Key]).

%% @doc The same as `first/1', as `ets:last/1' is for hash tables.
last(Tab) ->
    ?TRY(case ?NIF:first(Tab) of
             too_big -> ?NIF:first_dirty(Tab);
             K -> K
         end, [Tab]).

%% @doc The same as `next/2', as `ets:prev/2' is for hash tables.
prev(Tab, Key) ->
    ?TRY(case ?NIF:next(Tab, Key) of
             too_big -> ?NIF:next_dirty(Tab, Key);
             K -> K
         end, [Tab, Key]).

%% @doc Fixes (`true') or releases (`false') the table for safe traversal,
%% like `ets:safe_fixtable/2': while any process has it fixed, `next/2' of a
%% key deleted since gives the key after it instead of `badarg'. Fixations
%% count per process and go when the process dies.
safe_fixtable(Tab, Fix) ->
    ?TRY(?NIF:safe_fixtable(Tab, Fix, erlang:monotonic_time(), erlang:timestamp()), [Tab, Fix]).

%% @doc Every object, like `ets:tab2list/1'.
tab2list(Tab) ->
    ?TRY(case ?NIF:tab2list(Tab) of
             too_big -> ?NIF:tab2list_dirty(Tab);
             L -> L
         end, [Tab]).

%% @doc Folds over every object, like `ets:foldl/3'. As there, a `Fun'
%% that is not a 2-ary fun fails with `function_clause' in `lists:foldl/3'
%% (or with what calling it raises), and is never called on an empty table.
foldl(Fun, Acc, Tab) ->
    case tab2list(Tab) of
        [] -> Acc;
        Objects -> lists:foldl(Fun, Acc, Objects)
    end.

%% @doc Folds over every object, like `ets:foldr/3' (same order as `foldl/3'
%% for hash tables; a bad `Fun' fails in `lists:foldr/3', as there).
foldr(Fun, Acc, Tab) ->
    case tab2list(Tab) of
        [] -> Acc;
        Objects -> lists:foldr(Fun, Acc, lists:reverse(Objects))
    end.

%% @doc Information about a table, like `ets:info/1'; `undefined' if it does not exist.
info(Tab) ->
    case ?TRY(?NIF:info(Tab, size), [Tab]) of
        undefined -> undefined;
        _ -> [{Item, info(Tab, Item)} || Item <- ?INFO_ITEMS]
    end.

%% @doc One item of information about a table, like `ets:info/2'.
info(Tab, node) ->
    case ?TRY(?NIF:info(Tab, size), [Tab, node]) of
        undefined -> undefined;
        _ -> node()
    end;
info(Tab, Item) ->
    ?TRY(?NIF:info(Tab, Item), [Tab, Item]).

%% @doc The reference of the table named `Name', like `ets:whereis/1'.
whereis(Name) -> ?TRY(?NIF:whereis(Name), [Name]).

%% @doc Renames a named table, like `ets:rename/2'.
rename(Tab, Name) ->
    %% The NIF gives up helping a long list insert after its budget (before
    %% any effect) rather than hold the scheduler: yield and call again.
    try ?NIF:rename(Tab, Name)
    catch
        error:ferrets_batch_busy -> erlang:yield(), rename(Tab, Name);
        error:badarg -> ?BADARG([Tab, Name])
    end.

%% @doc Makes `Pid' the owner and sends it
%% `{'ETS-TRANSFER', Tab, self(), GiftData}', like `ets:give_away/3'.
give_away(Tab, Pid, GiftData) ->
    TabId = ?TRY(?NIF:give_away(Tab, Pid), [Tab, Pid, GiftData]),
    Pid ! {'ETS-TRANSFER', TabId, self(), GiftData},
    true.

%% @doc Sets the heir (`{heir, Pid, Data}' or `{heir, none}'), like `ets:setopts/2'.
setopts(Tab, Opts) -> ?TRY(?NIF:setopts(Tab, Opts), [Tab, Opts]).

%% @doc Every ferrets table, like `ets:all/0' (names for named tables).
all() -> ?NIF:all().

%% --- Match specifications: select, match ---
%%
%% Evaluated by `ets''s own match specification engine
%% (`ets:match_spec_run/2') over the objects, so every pattern, guard and
%% body means what it means for `ets'. A specification whose every clause
%% binds the key to a ground term reads just those keys; any other walks the
%% table a chunk at a time (`?WALK_KEYS' keys per NIF call, on a dirty
%% scheduler when a normal one would take too long).

%% @doc The results of `MatchSpec' over every object, like `ets:select/2'.
select(Tab, MatchSpec) -> ?TRY(results(Tab, MatchSpec), [Tab, MatchSpec]).

%% @doc At most `Limit' results and a continuation, like `ets:select/3'.
select(Tab, MatchSpec, Limit) ->
    ?TRY(first_step(Tab, MatchSpec, Limit), [Tab, MatchSpec, Limit]).

%% @doc The next results of a `select/3' walk, like `ets:select/1'.
select(Cont) -> ?CONTINUE(Cont).

%% @doc The same as `select/2' (hash tables have no order to reverse), as
%% `ets:select_reverse/2' is for them.
select_reverse(Tab, MatchSpec) -> ?TRY(results(Tab, MatchSpec), [Tab, MatchSpec]).

%% @doc The same as `select/3', as `ets:select_reverse/3' is for hash tables.
select_reverse(Tab, MatchSpec, Limit) ->
    ?TRY(first_step(Tab, MatchSpec, Limit), [Tab, MatchSpec, Limit]).

%% @doc The same as `select/1', as `ets:select_reverse/1' is for hash tables.
select_reverse(Cont) -> ?CONTINUE(Cont).

%% @doc How many objects `MatchSpec' returns `true' for, like `ets:select_count/2'.
select_count(Tab, MatchSpec) ->
    ?TRY(fold_matches(fun(Rs, N) -> N + length([R || R <- Rs, R =:= true]) end, 0, Tab, MatchSpec),
         [Tab, MatchSpec]).

%% @doc Deletes the objects `MatchSpec' returns `true' for and counts them,
%% like `ets:select_delete/2'. Each is deleted only if it is still the object
%% that matched (`delete_object/2'); the count is of the objects deleted.
select_delete(Tab, MatchSpec) -> ?TRY(delete_matching(Tab, MatchSpec), [Tab, MatchSpec]).

%% @doc Replaces each object `MatchSpec' matches by the specification's
%% result for it and counts them, like `ets:select_replace/2'. The
%% specification must keep every object's key, as `ets' judges it (it is
%% asked, on an empty table of the same kind); bags are refused, as by
%% `ets'. Each object is replaced only if it is still the object that
%% matched, where it stands (a `duplicate_bag' keeps its order).
select_replace(Tab, MatchSpec) -> ?TRY(replace_matching(Tab, MatchSpec), [Tab, MatchSpec]).

%% @doc `[[Binding]]' of the pattern's variables, like `ets:match/2'.
match(Tab, Pattern) -> ?TRY(results(Tab, [{Pattern, [], ['$$']}]), [Tab, Pattern]).

%% @doc Like `match/2' with a limit and a continuation, like `ets:match/3'.
match(Tab, Pattern, Limit) ->
    ?TRY(first_step(Tab, [{Pattern, [], ['$$']}], Limit), [Tab, Pattern, Limit]).

%% @doc The next results of a `match/3' walk, like `ets:match/1'.
match(Cont) -> ?CONTINUE(Cont).

%% @doc The objects matching `Pattern', like `ets:match_object/2'.
match_object(Tab, Pattern) -> ?TRY(results(Tab, [{Pattern, [], ['$_']}]), [Tab, Pattern]).

%% @doc Like `match_object/2' with a limit and a continuation, like `ets:match_object/3'.
match_object(Tab, Pattern, Limit) ->
    ?TRY(first_step(Tab, [{Pattern, [], ['$_']}], Limit), [Tab, Pattern, Limit]).

%% @doc The next results of a `match_object/3' walk, like `ets:match_object/1'.
match_object(Cont) -> ?CONTINUE(Cont).

%% @doc Deletes the objects matching `Pattern', like `ets:match_delete/2'.
match_delete(Tab, Pattern) ->
    ?TRY(begin
             _ = delete_matching(Tab, [{Pattern, [], [true]}]),
             true
         end, [Tab, Pattern]).

%% Every result of `MatchSpec' (raises a bare `badarg' as `ets' would).
results(Tab, MatchSpec) ->
    lists:append(lists:reverse(fold_matches(fun(Rs, Acc) -> [Rs | Acc] end, [], Tab, MatchSpec))).

%% The first results of a limited walk (all found at once when the
%% specification binds every key: they are few).
first_step(Tab, MatchSpec, Limit) ->
    CMS = compile_ms(MatchSpec),
    (is_integer(Limit) andalso Limit >= 1) orelse error(badarg),
    %% The continuation holds the table's reference, as an ets continuation
    %% holds its tid: it keeps working after a rename (a missing name is
    %% kept, so the walk's first call raises the badarg).
    Id = case is_atom(Tab) andalso ?NIF:whereis(Tab) of
             Ref when is_reference(Ref) -> Ref;
             _ -> Tab
         end,
    C = #ferrets_select{tab = Id, cms = CMS, filter = prefilter(MatchSpec), limit = Limit,
                        next = [], pending = []},
    case bound_objects(Tab, MatchSpec) of
        all -> step(C);
        Objs -> step(C#ferrets_select{next = '$end_of_table', pending = run_ms(Objs, CMS)})
    end.

%% `ets:match_spec_compile/1', but `[]' (which `ets:select/2' takes and
%% matches nothing with, and the compiler refuses) is `none', and a
%% specification that returns every object as it is (what a dump asks) is
%% `objects': its run is the objects themselves. A `-0.0' in a head is
%% `0.0', as it is in every stored key and object.
compile_ms([]) -> none;
compile_ms(MatchSpec) ->
    CMS = ets:match_spec_compile(positive_zero_heads(MatchSpec)),
    case whole_objects(MatchSpec) of
        true -> objects;
        false -> CMS
    end.

whole_objects([{'_', [], ['$_']}]) -> true;
whole_objects([{V, [], [B]}]) -> numbered_variable(V) andalso (B =:= V orelse B =:= '$_');
whole_objects(_) -> false.

%% Whether `CMS' is what `compile_ms/1' returns.
is_compiled(CMS) -> CMS =:= none orelse CMS =:= objects orelse ets:is_compiled_ms(CMS).

%% Anything but a list of clauses is left to the compiler to refuse.
positive_zero_heads([{H, G, B} | T]) -> [{positive_zero(H), G, B} | positive_zero_heads(T)];
positive_zero_heads(Other) -> Other.

positive_zero(F) when is_float(F), F == 0 -> 0.0;
positive_zero([H | T]) -> [positive_zero(H) | positive_zero(T)];
positive_zero(T) when is_tuple(T) -> list_to_tuple(positive_zero(tuple_to_list(T)));
positive_zero(M) when is_map(M) -> maps:from_list(positive_zero(maps:to_list(M)));
positive_zero(X) -> X.

run_ms(_, none) -> [];
run_ms(Objects, objects) -> Objects;
run_ms(Objects, CMS) -> ets:match_spec_run(Objects, CMS).

%% Folds `Fun(Results, Acc)' over the results of `MatchSpec', a chunk of
%% objects at a time (only the keys it names when it binds every key).
fold_matches(Fun, Acc, Tab, MatchSpec) ->
    CMS = compile_ms(MatchSpec),
    fold_candidates(fun(Objs, A) -> Fun(run_ms(Objs, CMS), A) end, Acc, Tab, MatchSpec).

%% Deletes the objects `MatchSpec' returns `true' for; how many.
delete_matching(Tab, MatchSpec) ->
    CMS = compile_ms(MatchSpec),
    %% Write access is checked up front, as `ets' does, even when nothing
    %% matches: deleting a key no table can hold changes nothing.
    true = ?NIF:delete_key(Tab, make_ref()),
    Delete = fun(O, N) ->
                     case run_ms([O], CMS) of
                         [true] -> N + ?NIF:delete_object_count(Tab, O);
                         _ -> N
                     end
             end,
    fold_candidates(fun(Objs, N) -> lists:foldl(Delete, N, Objs) end, 0, Tab, MatchSpec).

replace_matching(Tab, MatchSpec) ->
    %% As `ets': write access, then the table type, then the specification.
    true = ?NIF:delete_key(Tab, make_ref()),
    Type = ?NIF:info(Tab, type),
    Type =/= bag orelse error(badarg),
    CMS = compile_ms(MatchSpec),
    keeps_keys(MatchSpec, Type, ?NIF:info(Tab, keypos)) orelse error(badarg),
    Replace = fun(O, N) ->
                      case run_ms([O], CMS) of
                          [New] ->
                              case ?NIF:replace_object(Tab, O, New) of
                                  true -> N + 1;
                                  false -> N
                              end;
                          _ -> N
                      end
              end,
    fold_candidates(fun(Objs, N) -> lists:foldl(Replace, N, Objs) end, 0, Tab, MatchSpec).

%% Whether `ets:select_replace/2' takes `MatchSpec' for a table of `Type'
%% with `KeyPos': it must keep every object's key, which `ets' judges from
%% the specification alone, so an empty table answers (and nothing here
%% has to copy its rules).
keeps_keys(MatchSpec, Type, KeyPos) ->
    T = ets:new(?MODULE, [Type, private, {keypos, KeyPos}]),
    try ets:select_replace(T, MatchSpec) of
        _ -> true
    catch
        error:badarg -> false
    after
        ets:delete(T)
    end.

%% Folds `Fun(Objects, Acc)' over the objects `MatchSpec' may match: those
%% of the keys it binds, or the whole table.
fold_candidates(Fun, Acc, Tab, MatchSpec) ->
    case bound_objects(Tab, MatchSpec) of
        all -> fold_chunks(Fun, Acc, Tab, prefilter(MatchSpec), []);
        Objs -> Fun(Objs, Acc)
    end.

%% The objects of the keys `MatchSpec' binds (see `bound_keys/2'), or `all'.
bound_objects(Tab, MatchSpec) ->
    case bound_keys(MatchSpec, ?NIF:info(Tab, keypos)) of
        all -> all;
        Keys -> lists:append([?NIF:lookup(Tab, K) || K <- Keys])
    end.

%% Folds `Fun(Objects, Acc)' over the table's objects that pass `Filter',
%% a chunk of keys at a time.
fold_chunks(Fun, Acc, Tab, Filter, After) ->
    case chunk(Tab, After, ?WALK_KEYS, Filter) of
        {Objs, '$end_of_table'} -> Fun(Objs, Acc);
        {Objs, Next} -> fold_chunks(Fun, Fun(Objs, Acc), Tab, Filter, Next)
    end.

chunk(Tab, After, N, Filter) ->
    case ?NIF:chunk(Tab, After, N, Filter) of
        too_big -> ?NIF:chunk_dirty(Tab, After, N, Filter);
        R -> R
    end.

%% What the chunk NIF may check on a stored object before decoding it, for
%% `MatchSpec' (a valid one): per clause whose head is a tuple, the head's
%% arity, its ground elements, and the guards comparing one of its
%% variables with a number (`{Pos, Op, Number}': element `Pos' `Op'
%% `Number'); `all' when a head is a variable (it matches any object).
%% Heads that are no tuple match no object. The NIF keeps the constants and
%% comparisons it can check on bytes, so its filter never drops an object
%% the specification would match. (A cache's expiry sweep, a guard on a
%% timestamp, then decodes only the objects it deletes.)
prefilter(MatchSpec) ->
    try
        lists:filtermap(fun({Head, Guards, _}) -> head_filter(Head, Guards) end,
                        positive_zero_heads(MatchSpec))
    catch
        throw:all -> all
    end.

head_filter(Head, Guards) when is_tuple(Head) ->
    Elems = lists:zip(lists:seq(1, tuple_size(Head)), tuple_to_list(Head)),
    %% The position of each variable at the head's top level (any one of
    %% them: a matching object holds the same term at all).
    Vars = maps:from_list([{E, Pos} || {Pos, E} <- lists:reverse(Elems), numbered_variable(E)]),
    Implied = case is_list(Guards) of
                  true -> lists:append([guard_bounds(G, Vars) || G <- Guards]);
                  false -> []
              end,
    %% An element a guard says is equal to a constant is checked as a
    %% ground element of the head is (its encoded bytes).
    Equal = [{Pos, C} || {Pos, equal, C} <- Implied],
    Bounds = [B || {_, Op, _} = B <- Implied, Op =/= equal],
    {true, {tuple_size(Head), [{Pos, E} || {Pos, E} <- Elems, ground(E)] ++ Equal, Bounds}};
head_filter(Head, _Guards) when is_atom(Head) ->
    case match_variable(Head) of
        true -> throw(all);
        false -> false
    end;
head_filter(_, _) ->
    false.

%% The conditions on head elements a guard implies: `{Pos, Op, Number}'
%% for a comparison of a head variable with a number, `{Pos, equal, Term}'
%% for its equality with a constant that is no number and holds none (so
%% that `==' is `=:=' on it), and those of both sides of a conjunction. Any
%% other guard implies nothing the NIF checks.
guard_bounds({Conj, A, B}, Vars) when Conj =:= 'andalso'; Conj =:= 'and' ->
    guard_bounds(A, Vars) ++ guard_bounds(B, Vars);
guard_bounds({Op, A, B}, Vars) ->
    case compared(Op) of
        false -> [];
        Flipped -> bound(Vars, A, Op, B) ++ bound(Vars, B, Flipped, A)
    end;
guard_bounds(_, _) ->
    [].

%% What `V Op C' implies when `V' is a head variable and `C' a constant.
bound(Vars, V, Op, C) when is_atom(V), is_map_key(V, Vars) ->
    Pos = maps:get(V, Vars),
    case {number(C), Op =:= '==' orelse Op =:= '=:=', constant(C)} of
        {{ok, N}, _, _} -> [{Pos, Op, N}];
        {false, true, {ok, T}} -> [{Pos, equal, T} || not has_number(T)];
        _ -> []
    end;
bound(_, _, _, _) -> [].

%% The term a guard operand stands for when it is a constant: `{const, T}',
%% or an atom that is no variable, or a binary.
constant({const, T}) -> {ok, T};
constant(A) when is_atom(A) ->
    case match_variable(A) of
        true -> false;
        false -> {ok, A}
    end;
constant(B) when is_binary(B) -> {ok, B};
constant(_) -> false.

has_number(N) when is_number(N) -> true;
has_number([H | T]) -> has_number(H) orelse has_number(T);
has_number(T) when is_tuple(T) -> has_number(tuple_to_list(T));
has_number(M) when is_map(M) -> has_number(maps:to_list(M));
has_number(_) -> false.

%% `Op' with its operands swapped, or `false' when the NIF does not check it.
compared('<') -> '>';
compared('=<') -> '>=';
compared('>') -> '<';
compared('>=') -> '=<';
compared('==') -> '==';
compared('=:=') -> '=:=';
compared(_) -> false.

%% A number the NIF compares with: a float, or an integer of 64 bits.
number({const, N}) -> number(N);
number(N) when is_float(N); is_integer(N), N >= -(1 bsl 63), N < 1 bsl 63 -> {ok, N};
number(_) -> false.

%% The next results of a `select/3' walk: `{Results, Cont}' or
%% `` '$end_of_table' ''.
step(#ferrets_select{pending = P, limit = L} = C) when length(P) >= L ->
    {Take, Rest} = lists:split(L, P),
    {Take, C#ferrets_select{pending = Rest}};
step(#ferrets_select{next = '$end_of_table', pending = []}) ->
    '$end_of_table';
step(#ferrets_select{next = '$end_of_table', pending = P} = C) ->
    {P, C#ferrets_select{pending = []}};
step(#ferrets_select{tab = Tab, cms = CMS, filter = F, limit = L, next = Next, pending = P} = C) ->
    {Objs, After} = chunk(Tab, Next, L, F),
    step(C#ferrets_select{next = After, pending = P ++ run_ms(Objs, CMS)}).

%% Whether a `select/1' (`match/1', ...) argument is a continuation.
valid_continuation(#ferrets_select{cms = CMS, filter = F, limit = L, next = N, pending = P}) ->
    is_integer(L) andalso L >= 1 andalso is_list(P) andalso is_compiled(CMS)
        andalso (F =:= all orelse is_list(F))
        andalso (N =:= [] orelse N =:= '$end_of_table'
                 orelse (is_tuple(N) andalso tuple_size(N) =:= 2));
valid_continuation(_) ->
    false.

%% The keys a match specification can match when every clause's head is a
%% tuple whose key element is ground (no `_' or `$N' inside), without
%% duplicates (as `=:=' tells: `1' and `1.0' are two keys); `all' otherwise.
bound_keys(MatchSpec, KeyPos) ->
    try
        maps:keys(maps:from_list([{head_key(Head, KeyPos), []} || {Head, _, _} <- MatchSpec]))
    catch
        throw:all -> all
    end.

head_key(Head, KeyPos) when is_tuple(Head), tuple_size(Head) >= KeyPos ->
    Key = element(KeyPos, Head),
    case ground(Key) of
        true -> Key;
        false -> throw(all)
    end;
head_key(_, _) ->
    throw(all).

ground(A) when is_atom(A) -> not match_variable(A);
ground([H | T]) -> ground(H) andalso ground(T);
ground(T) when is_tuple(T) -> ground(tuple_to_list(T));
ground(M) when is_map(M) -> ground(maps:to_list(M));
ground(_) -> true.

%% `$N', a variable a guard can refer to.
numbered_variable(A) when is_atom(A) -> A =/= '_' andalso A =/= '$$' andalso A =/= '$_' andalso match_variable(A);
numbered_variable(_) -> false.

%% `_' and `$N' are pattern variables; `$$' and `$_' are taken as such too
%% (what ETS makes of them in a head: no constants to rely on).
match_variable('_') -> true;
match_variable('$$') -> true;
match_variable('$_') -> true;
match_variable(A) ->
    case atom_to_list(A) of
        [$$ | Digits] when Digits =/= [] -> lists:all(fun(C) -> C >= $0 andalso C =< $9 end, Digits);
        _ -> false
    end.

%% --- Error info: why a call raised `badarg', worded as `ets' words it ---

%% The cause of a `badarg', computed in the calling process right after the
%% failed call (so that access rights are judged for the caller): a problem
%% with the table (`type', `id', `access', `table_type') or with another
%% argument (`badkey', `keypos', `position', `owner', `not_owner'), or
%% `none' when the arguments alone tell (see `explain/3').
cause(new, [Name, Options]) ->
    new_cause(Name, Options);
cause(whereis, _) ->
    none;
cause(update_counter, [Tab, _Key, _Op, Default]) when not is_tuple(Default) ->
    %% `ets' refuses a default that is no tuple before the table type.
    case table_cause(update_counter, Tab) of
        table_type -> none;
        Cause -> Cause
    end;
cause(F, [_Cont]) when F =:= select; F =:= select_reverse; F =:= match; F =:= match_object ->
    continuation;
cause(F, [Tab | Rest]) ->
    case table_cause(F, Tab) of
        none ->
            try arg_cause(F, Tab, Rest)
            catch _:_ -> none
            end;
        Cause ->
            Cause
    end.

new_cause(Name, _) when not is_atom(Name) -> not_atom;
new_cause(_, Options) when not is_list(Options) -> not_list;
new_cause(Name, Options) ->
    try lists:member(named_table, Options) of
        true ->
            case ?NIF:whereis(Name) of
                undefined -> bad_options;
                _ -> name_exists
            end;
        false ->
            bad_options
    catch
        error:_ -> not_proper_list
    end.

table_cause(F, Tab) when is_atom(Tab); is_reference(Tab) ->
    try ?NIF:info(Tab, owner) of
        undefined -> id;
        Owner -> access_cause(F, Tab, Owner =:= self())
    catch
        error:badarg -> type
    end;
table_cause(_, _) ->
    type.

access_cause(F, Tab, Mine) ->
    case ?NIF:info(Tab, protection) of
        private when not Mine -> access;
        protected when not Mine ->
            case writes(F) of
                true -> access;
                false -> kind_cause(F, Tab)
            end;
        _ -> kind_cause(F, Tab)
    end.

writes(F) ->
    lists:member(F, [insert, insert_new, delete, delete_object, delete_all_objects, take,
                     update_counter, update_element, rename, setopts, give_away,
                     select_delete, select_replace, match_delete]).

kind_cause(update_counter, Tab) ->
    case ?NIF:info(Tab, type) of
        set -> none;
        _ -> table_type
    end;
kind_cause(select_replace, Tab) ->
    case ?NIF:info(Tab, type) of
        bag -> table_type;
        _ -> none
    end;
kind_cause(_, _) ->
    none.

arg_cause(lookup_element, _Tab, [_Key, Pos]) when not is_integer(Pos); Pos < 1 ->
    none;
arg_cause(lookup_element, Tab, [Key, _Pos]) ->
    case member(Tab, Key) of
        true -> none;
        false -> badkey
    end;
arg_cause(update_counter, Tab, [Key, Op]) ->
    case lookup(Tab, Key) of
        [] -> badkey;
        [Obj | _] -> op_cause(Op, Obj, ?NIF:info(Tab, keypos))
    end;
arg_cause(update_counter, _Tab, [_Key, _Op, Default]) when not is_tuple(Default) ->
    none;
arg_cause(update_counter, Tab, [Key, Op, Default]) ->
    case lookup(Tab, Key) of
        [Obj | _] -> op_cause(Op, Obj, ?NIF:info(Tab, keypos));
        [] when is_tuple(Default) -> op_cause(Op, Default, ?NIF:info(Tab, keypos));
        [] -> none
    end;
arg_cause(update_element, Tab, [Key, Spec]) ->
    set = ?NIF:info(Tab, type),
    [Obj] = lookup(Tab, Key),
    specs_cause(if is_list(Spec) -> Spec; true -> [Spec] end, ?NIF:info(Tab, keypos),
                tuple_size(Obj));
arg_cause(give_away, Tab, [Pid, _Gift]) ->
    Me = self(),
    case ?NIF:info(Tab, owner) of
        Me when Pid =:= Me -> owner;
        Me -> none;
        _ -> not_owner
    end;
arg_cause(_, _, _) ->
    none.

%% `keypos' if a specification names the key position before one that is
%% not a position inside the object (an improper tail included).
specs_cause([{KeyPos, _} | _], KeyPos, _Size) -> keypos;
specs_cause([{Pos, _} | Specs], KeyPos, Size) when is_integer(Pos), Pos >= 1, Pos =< Size ->
    specs_cause(Specs, KeyPos, Size);
specs_cause(_, _, _) -> none.

%% Runs the operations of `Op' on `Obj' until one names the key position
%% (`keypos') or a position outside `Obj' (`position'); `none' when one is
%% not an operation (bare increments inside a list are not) or meets an
%% element that is not an integer, or when all would apply.
op_cause(Incr, Obj, KeyPos) when is_integer(Incr) -> ops_cause([{KeyPos + 1, Incr}], Obj, KeyPos);
op_cause(Ops, Obj, KeyPos) when is_list(Ops) -> ops_cause(Ops, Obj, KeyPos);
op_cause(Op, Obj, KeyPos) -> ops_cause([Op], Obj, KeyPos).

ops_cause([Op | Ops], Obj, KeyPos) when is_tuple(Op) ->
    case update_op(Op) of
        false -> none;
        true ->
            Pos = element(1, Op),
            if
                Pos =:= KeyPos -> keypos;
                Pos < 1; Pos > tuple_size(Obj) -> position;
                not is_integer(element(Pos, Obj)) -> none;
                true -> ops_cause(Ops, Obj, KeyPos)
            end
    end;
ops_cause(_, _, _) ->
    none.

%% @doc Explains a `badarg' of this module per argument, as
%% `erl_stdlib_errors' does for `ets' (see `erl_error:format_exception/3').
format_error(_Reason, [{?MODULE, F, Args, Info} | _]) ->
    Cause = maps:get(cause, proplists:get_value(error_info, Info, #{}), none),
    %% Where the explanation has to judge an improper list of update
    %% operations or element specifications it fails, and `ets' then gives
    %% none (its formatter fails on them the same way).
    try explain(F, Args, Cause) of
        Msgs -> numbered(Msgs, 1, #{})
    catch
        error:_ -> #{}
    end;
format_error(_Reason, _Stack) ->
    #{}.

numbered([], _, Map) -> Map;
numbered([<<>> | Rest], N, Map) -> numbered(Rest, N + 1, Map);
numbered([Msg | Rest], N, Map) -> numbered(Rest, N + 1, Map#{N => Msg}).

%% One message (or `<<>>') per argument, in order.
explain(new, _, ordered_set_not_supported) ->
    [<<>>, <<"ordered_set tables are not supported by ferrets yet">>];
explain(new, _, not_atom) -> [<<"not an atom">>];
explain(new, _, not_list) -> [<<>>, <<"not a list">>];
explain(new, _, not_proper_list) -> [<<>>, <<"not a proper list">>];
explain(new, _, name_exists) -> [<<"table name already exists">>];
explain(new, _, _) -> [<<>>, msg(bad_options)];
explain(whereis, _, _) ->
    [msg(bad_table_name)];
explain(_, [_Cont], continuation) ->
    [<<"invalid continuation">>];
explain(F, [_Tab | Rest] = Args, Cause) ->
    explain(F, Rest, Cause, tab_msg(Args, Cause)).

explain(slot, [_I], _, <<>>) ->
    [<<>>, msg(range)];
explain(F, [Objects], _, TabMsg) when F =:= insert; F =:= insert_new ->
    [TabMsg, objects_msg(Objects)];
explain(delete_object, [Object], _, TabMsg) ->
    [TabMsg, tuple_msg(Object)];
explain(give_away, [Pid, _], Cause, TabMsg) ->
    case Cause of
        owner -> [TabMsg, msg(already_owner)];
        not_owner -> [TabMsg, msg(not_owner)];
        _ when not is_pid(Pid) -> [TabMsg, msg(not_pid)];
        _ when TabMsg =:= <<>> -> [TabMsg, msg(dead_process)];
        _ -> [TabMsg]
    end;
explain(info, [_Item], _, TabMsg) ->
    or_else(TabMsg, bad_info_item);
explain(F, [_Key], _, TabMsg) when F =:= next; F =:= prev ->
    or_else(TabMsg, bad_key);
explain(safe_fixtable, [_Fix], _, TabMsg) ->
    or_else(TabMsg, not_boolean);
explain(setopts, [_Opts], _, TabMsg) ->
    or_else(TabMsg, bad_options);
explain(rename, [Name], _, TabMsg) ->
    case {TabMsg, is_atom(Name)} of
        {<<>>, true} -> [<<>>, msg(name_exists)];
        {_, true} -> [TabMsg];
        {_, false} -> [TabMsg, msg(bad_table_name)]
    end;
explain(lookup_element, [_Key, Pos], Cause, TabMsg) ->
    PosMsg = pos_msg(Pos),
    case {Cause, TabMsg, PosMsg} of
        {badkey, _, _} -> [TabMsg, msg(bad_key), PosMsg];
        {_, <<>>, <<>>} -> [<<>>, <<>>, <<"position is greater than the size of the object">>];
        _ -> [TabMsg, <<>>, PosMsg]
    end;
explain(update_counter, [_Key, Op], Cause, TabMsg) ->
    case Cause of
        badkey -> [TabMsg, msg(bad_key), op_msg(Op)];
        keypos -> [TabMsg, <<>>, msg(same_as_keypos)];
        position -> [TabMsg, <<>>, msg(update_op_range)];
        none ->
            case op_msg(Op) of
                <<>> -> [TabMsg, <<>>, msg(counter_not_integer)];
                OpMsg -> [TabMsg, <<>>, OpMsg]
            end;
        _ -> [TabMsg, <<>>, op_msg(Op)]
    end;
explain(update_counter, [_Key, Op, Default], Cause, <<>>) ->
    DefaultMsg = tuple_msg(Default),
    case Cause of
        badkey -> [<<>>, msg(bad_key), op_msg(Op), DefaultMsg];
        keypos -> [<<>>, <<>>, msg(same_as_keypos), DefaultMsg];
        position -> [<<>>, <<>>, msg(update_op_range)];
        _ ->
            case {op_msg(Op), DefaultMsg} of
                {<<>>, <<>>} -> [<<>>, <<>>, msg(counter_not_integer)];
                {OpMsg, _} -> [<<>>, <<>>, OpMsg, DefaultMsg]
            end
    end;
explain(update_element, [_Key, Spec], Cause, TabMsg) ->
    [TabMsg, <<>> |
     case Cause of
         keypos -> [msg(same_as_keypos)];
         _ ->
             case {element_spec(Spec), TabMsg} of
                 {true, <<>>} -> [msg(range)];
                 {true, _} -> [];
                 {false, _} -> [<<"is not a valid element specification">>]
             end
     end];
explain(F, [MatchSpec], _, TabMsg)
  when F =:= select; F =:= select_reverse; F =:= select_count; F =:= select_delete ->
    case {TabMsg, match_spec(MatchSpec)} of
        {<<>>, false} -> [<<>>, <<"not a valid match specification">>];
        _ -> [TabMsg]
    end;
explain(select_replace, [_MatchSpec], _, TabMsg) ->
    %% `ets' blames the specification whenever the table is fine: it may be
    %% a valid one that does not keep the key.
    case TabMsg of
        <<>> -> [<<>>, <<"not a valid match specification">>];
        _ -> [TabMsg]
    end;
explain(F, [MatchSpec, Limit], _, TabMsg) when F =:= select; F =:= select_reverse ->
    [TabMsg,
     case match_spec(MatchSpec) of
         true -> <<>>;
         false -> <<"not a valid match specification">>
     end,
     limit_msg(Limit)];
explain(F, [_Pattern, Limit], _, TabMsg) when F =:= match; F =:= match_object ->
    [TabMsg, <<>>, limit_msg(Limit)];
explain(_, _, _, TabMsg) ->
    [TabMsg].

%% Whether `ets' takes `Term' as a match specification, as its error
%% formatter judges it (which refuses `[]').
match_spec(Term) ->
    ets:is_compiled_ms(Term) orelse
        try ets:match_spec_compile(Term) of
            _ -> true
        catch
            error:badarg -> false
        end.

limit_msg(Limit) when not is_integer(Limit) -> <<"not an integer">>;
limit_msg(Limit) when Limit < 1 -> <<"out of range">>;
limit_msg(_) -> <<>>.

or_else(<<>>, Default) -> [<<>>, msg(Default)];
or_else(TabMsg, _) -> [TabMsg].

tab_msg([Tab | _], type) when is_reference(Tab) -> <<"not a valid table identifier">>;
tab_msg(_, type) -> <<"not an atom or a table identifier">>;
tab_msg(_, id) -> <<"the table identifier does not refer to an existing ETS table">>;
tab_msg(_, access) ->
    <<"the table identifier refers to an ETS table with insufficient access rights">>;
tab_msg(_, table_type) ->
    <<"the table identifier refers to an ETS table of a type not supported by this operation">>;
tab_msg(_, _) -> <<>>.

tuple_msg(T) when tuple_size(T) > 0 -> <<>>;
tuple_msg(T) when is_tuple(T) -> msg(empty_tuple);
tuple_msg(_) -> msg(not_tuple).

objects_msg(T) when is_tuple(T) -> tuple_msg(T);
objects_msg(L) when is_list(L) ->
    try lists:all(fun(T) -> tuple_size(T) > 0 end, L) of
        true -> <<>>;
        false -> msg(not_tuple_or_list)
    catch
        _:_ -> msg(not_tuple_or_list)
    end;
objects_msg(_) -> msg(not_tuple).

pos_msg(Pos) when not is_integer(Pos) -> msg(not_integer);
pos_msg(Pos) when Pos < 1 -> msg(range);
pos_msg(_) -> <<>>.

op_msg(Op) ->
    Valid = if is_list(Op) -> lists:all(fun update_op/1, Op);
               true -> update_op(Op)
            end,
    case Valid of
        true -> <<>>;
        false -> msg(bad_update_op)
    end.

update_op({Pos, Incr}) -> is_integer(Pos) andalso is_integer(Incr);
update_op({Pos, Incr, Threshold, SetValue}) ->
    is_integer(Pos) andalso is_integer(Incr) andalso is_integer(Threshold)
        andalso is_integer(SetValue);
update_op(Incr) -> is_integer(Incr).

element_spec(Specs) when is_list(Specs) ->
    lists:all(fun element_spec1/1, Specs);
element_spec(Spec) ->
    element_spec1(Spec).

element_spec1({Pos, _}) -> is_integer(Pos) andalso Pos > 0;
element_spec1(_) -> false.

msg(already_owner) -> <<"the process is already the owner of the table">>;
msg(bad_info_item) -> <<"not a valid info item">>;
msg(bad_key) -> <<"not a key that exists in the table">>;
msg(bad_options) -> <<"invalid options">>;
msg(bad_table_name) -> <<"invalid table name (must be an atom)">>;
msg(bad_update_op) -> <<"not a valid update operation">>;
msg(counter_not_integer) -> <<"the value in the given position, in the object, is not an integer">>;
msg(dead_process) -> <<"the pid refers to a terminated process">>;
msg(empty_tuple) -> <<"is an empty tuple">>;
msg(name_exists) -> <<"table name already exists">>;
msg(not_boolean) -> <<"not a boolean value">>;
msg(not_integer) -> <<"not an integer">>;
msg(not_owner) -> <<"the current process is not the owner">>;
msg(not_pid) -> <<"not a pid">>;
msg(not_tuple) -> <<"not a tuple">>;
msg(not_tuple_or_list) -> <<"not a non-empty tuple or a list of non-empty tuples">>;
msg(range) -> <<"out of range">>;
msg(same_as_keypos) -> <<"the position is the same as the key position">>;
msg(update_op_range) -> <<"the position in the update operation is out of range">>.
