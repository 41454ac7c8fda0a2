%% @doc Tables to and from files, as `ets' does it: `tab2file/2,3',
%% `file2tab/1,2' and `tabfile_info/1' (ETS's own disk_log format, so a file
%% written by either module is read by the other), `to_dets/2' and
%% `from_dets/2'. Called through `ferrets'.
%%
%% The steps are ets.erl's (OTP 25), over ferrets' calls: the same options,
%% results, `{error, Reason}'s and file contents. A table read back is a
%% ferrets table made with the saved type, protection, keypos and name; a
%% file of an `ordered_set' gives `{error, cannot_create_table}' (ferrets
%% has no `ordered_set'). Being a bulk load, `file2tab' ends by finishing
%% the table's growth, as `ferrets:init_table/2' does.
-module(ferrets_file).

-export([tab2file/3, file2tab/2, tabfile_info/1, to_dets/2, from_dets/2]).

-record(filetab_options, {object_count = false :: boolean(),
                          md5sum = false :: boolean(),
                          sync = false :: boolean()}).

%% Objects per chunk read from the table or the file.
-define(CHUNK, 100).

%% ---------------------------------------------------------------------------
%% dets

%% @doc Replaces the dets table's objects by `Tab''s, like `ets:to_dets/2'
%% (dets's own `from_ets', with ferrets' walk as the init fun).
to_dets(Tab, DetsTab) ->
    dets_result(fun() -> dets_from_ferrets(DetsTab, Tab) end, ok, DetsTab, [Tab, DetsTab]).

dets_from_ferrets(DetsTab, Tab) ->
    ferrets:safe_fixtable(Tab, true),
    try
        dets:init_table(DetsTab, walk_fun(ferrets:select(Tab, [{'_', [], ['$_']}], ?CHUNK)))
    after
        ferrets:safe_fixtable(Tab, false)
    end.

walk_fun(LC) ->
    fun(close) -> ok;
       (read) when LC =:= '$end_of_table' -> end_of_input;
       (read) ->
            {L, C} = LC,
            {L, walk_fun(ferrets:select(C))}
    end.

%% @doc Inserts every object of the dets table into `Tab', like
%% `ets:from_dets/2' (dets's own `to_ets' over ferrets' inserts).
from_dets(Tab, DetsTab) ->
    dets_result(fun() -> dets_to_ferrets(DetsTab, Tab) end, Tab, true, [Tab, DetsTab]).

%% What ets.erl makes of a dets call: `Result' when it returns `Ok', else
%% its error, exit or unexpected answer raised as an error with `Args'.
dets_result(Call, Ok, Result, Args) ->
    case catch Call() of
        {error, Reason} -> erlang:error(Reason, Args);
        {'EXIT', {Reason1, _Stack1}} -> erlang:error(Reason1, Args);
        {'EXIT', EReason} -> erlang:error(EReason, Args);
        Ok -> Result;
        Unexpected -> erlang:error(Unexpected, Args)
    end.

dets_to_ferrets(DetsTab, Tab) ->
    case ferrets:info(Tab, protection) of
        undefined -> erlang:error(badarg, [DetsTab, Tab]);
        _ -> dets:foldl(fun(X, T) -> true = ferrets:insert(T, X), T end, Tab, DetsTab)
    end.

%% ---------------------------------------------------------------------------
%% tab2file

%% @doc Writes `Tab' to `File', like `ets:tab2file/3'.
tab2file(Table, File, Options) ->
    try
        {ok, FtOptions} = parse_ft_options(Options),
        _ = file:delete(File),
        case file:read_file_info(File) of
            {error, enoent} -> ok;
            _ -> throw(eaccess)
        end,
        Name = make_ref(),
        case disk_log:open([{name, Name}, {file, File}]) of
            {ok, Name} -> ok;
            {error, Reason} -> throw(Reason)
        end,
        try
            Info0 = case ferrets:info(Table) of
                        undefined -> throw(badtab);
                        I -> I
                    end,
            Info = [list_to_tuple(Info0 ++
                                  [{major_version, 1},
                                   {minor_version, 0},
                                   {extended_info, ft_options_to_list(FtOptions)}])],
            {LogFun, InitState} =
                case FtOptions#filetab_options.md5sum of
                    true ->
                        {fun(Oldstate, Termlist) ->
                                 {NewState, BinList} = md5terms(Oldstate, Termlist),
                                 case disk_log:blog_terms(Name, BinList) of
                                     ok -> NewState;
                                     {error, Reason2} -> throw(Reason2)
                                 end
                         end,
                         erlang:md5_init()};
                    false ->
                        {fun(_, Termlist) ->
                                 case disk_log:log_terms(Name, Termlist) of
                                     ok -> true;
                                     {error, Reason2} -> throw(Reason2)
                                 end
                         end,
                         true}
                end,
            ferrets:safe_fixtable(Table, true),
            {NewState1, Num} =
                try
                    NewState = LogFun(InitState, Info),
                    dump_file(ferrets:select(Table, [{'_', [], ['$_']}], ?CHUNK),
                              LogFun, NewState, 0)
                after
                    (catch ferrets:safe_fixtable(Table, false))
                end,
            EndInfo =
                case FtOptions#filetab_options.object_count of
                    true -> [{count, Num}];
                    false -> []
                end ++
                case FtOptions#filetab_options.md5sum of
                    true -> [{md5, erlang:md5_final(NewState1)}];
                    false -> []
                end,
            case EndInfo of
                [] -> ok;
                List -> LogFun(NewState1, [['$end_of_table', List]])
            end,
            case FtOptions#filetab_options.sync of
                true ->
                    case disk_log:sync(Name) of
                        ok -> ok;
                        {error, Reason2} -> throw(Reason2)
                    end;
                false ->
                    ok
            end,
            disk_log:close(Name)
        catch
            throw:TReason ->
                _ = disk_log:close(Name),
                _ = file:delete(File),
                throw(TReason);
            exit:ExReason ->
                _ = disk_log:close(Name),
                _ = file:delete(File),
                exit(ExReason);
            error:ErReason:StackTrace ->
                _ = disk_log:close(Name),
                _ = file:delete(File),
                erlang:raise(error, ErReason, StackTrace)
        end
    catch
        throw:TReason2 -> {error, TReason2};
        exit:ExReason2 -> {error, ExReason2}
    end.

dump_file('$end_of_table', _LogFun, State, Num) ->
    {State, Num};
dump_file({Terms, Context}, LogFun, State, Num) ->
    Count = length(Terms),
    NewState = LogFun(State, Terms),
    dump_file(ferrets:select(Context), LogFun, NewState, Num + Count).

ft_options_to_list(#filetab_options{md5sum = MD5, object_count = PS}) ->
    case PS of
        true -> [object_count];
        _ -> []
    end ++
    case MD5 of
        true -> [md5sum];
        _ -> []
    end.

md5terms(State, []) ->
    {State, []};
md5terms(State, [H | T]) ->
    B = term_to_binary(H),
    NewState = erlang:md5_update(State, B),
    {FinState, TL} = md5terms(NewState, T),
    {FinState, [B | TL]}.

parse_ft_options(Options) when is_list(Options) ->
    {ok, parse_ft_options(Options, #filetab_options{}, false)}.

parse_ft_options([], FtOpt, _) ->
    FtOpt;
parse_ft_options([{sync, true} | Rest], FtOpt, EI) ->
    parse_ft_options(Rest, FtOpt#filetab_options{sync = true}, EI);
parse_ft_options([{sync, false} | Rest], FtOpt, EI) ->
    parse_ft_options(Rest, FtOpt, EI);
parse_ft_options([{extended_info, L} | Rest], FtOpt0, false) ->
    FtOpt1 = parse_ft_info_options(FtOpt0, L),
    parse_ft_options(Rest, FtOpt1, true);
parse_ft_options([Other | _], _, _) ->
    throw({unknown_option, Other});
parse_ft_options(Malformed, _, _) ->
    throw({malformed_option, Malformed}).

parse_ft_info_options(FtOpt, []) ->
    FtOpt;
parse_ft_info_options(FtOpt, [object_count | T]) ->
    parse_ft_info_options(FtOpt#filetab_options{object_count = true}, T);
parse_ft_info_options(FtOpt, [md5sum | T]) ->
    parse_ft_info_options(FtOpt#filetab_options{md5sum = true}, T);
parse_ft_info_options(_, [Unexpected | _]) ->
    throw({unknown_option, [{extended_info, [Unexpected]}]});
parse_ft_info_options(_, Malformed) ->
    throw({malformed_option, Malformed}).

%% ---------------------------------------------------------------------------
%% file2tab

%% @doc Reads a table written by `tab2file', like `ets:file2tab/2'.
file2tab(File, Opts) ->
    try
        {ok, Verify, TableArg} = parse_f2t_opts(Opts, false, []),
        {Name, Major, Minor, FtOptions, MD5State, FullHeader, DLContext} = read_header(File, Verify),
        try
            if
                Major > 1 -> throw({unsupported_file_version, {Major, Minor}});
                true -> ok
            end,
            {ok, Table, HeadCount} = create_tab(FullHeader, TableArg),
            StrippedOptions = case Verify of
                                  true -> FtOptions;
                                  false -> #filetab_options{}
                              end,
            {ReadFun, InitState} =
                case StrippedOptions#filetab_options.md5sum of
                    true ->
                        {fun({OldMD5State, OldCount, _OL, ODLContext} = OS) ->
                                 case wrap_bchunk(Name, ODLContext, ?CHUNK, Verify) of
                                     eof ->
                                         {OS, []};
                                     {NDLContext, Blist} ->
                                         {Termlist, NewMD5State, NewCount, NewLast} =
                                             md5_and_convert(Blist, OldMD5State, OldCount),
                                         {{NewMD5State, NewCount, NewLast, NDLContext}, Termlist}
                                 end
                         end,
                         {MD5State, 0, [], DLContext}};
                    false ->
                        {fun({_, OldCount, _OL, ODLContext} = OS) ->
                                 case wrap_chunk(Name, ODLContext, ?CHUNK, Verify) of
                                     eof ->
                                         {OS, []};
                                     {NDLContext, List} ->
                                         {NewLast, NewCount, NewList} = scan_for_endinfo(List, OldCount),
                                         {{false, NewCount, NewLast, NDLContext}, NewList}
                                 end
                         end,
                         {false, 0, [], DLContext}}
                end,
            try
                Loaded = do_read_and_verify(ReadFun, InitState, Table, StrippedOptions,
                                            HeadCount, Verify),
                %% A bulk load, as `init_table': finish the growth it started
                %% (see `ferrets:init_table/2').
                _ = (catch 'Elixir.Ferrets.Native':finish_resizes(Table)),
                Loaded
            catch
                throw:TReason ->
                    ferrets:delete(Table),
                    throw(TReason);
                exit:ExReason ->
                    ferrets:delete(Table),
                    exit(ExReason);
                error:ErReason:StackTrace ->
                    ferrets:delete(Table),
                    erlang:raise(error, ErReason, StackTrace)
            end
        after
            _ = disk_log:close(Name)
        end
    catch
        throw:TReason2 -> {error, TReason2};
        exit:ExReason2 -> {error, ExReason2}
    end.

do_read_and_verify(ReadFun, InitState, Table, FtOptions, HeadCount, Verify) ->
    case load_table(ReadFun, InitState, Table) of
        {ok, {_, FinalCount, [], _}} ->
            case {FtOptions#filetab_options.md5sum, FtOptions#filetab_options.object_count} of
                {false, false} ->
                    case Verify of
                        false ->
                            ok;
                        true ->
                            case FinalCount of
                                HeadCount -> ok;
                                _ -> throw(invalid_object_count)
                            end
                    end;
                _ ->
                    throw(badfile)
            end,
            {ok, Table};
        {ok, {FinalMD5State, FinalCount, ['$end_of_table', LastInfo], _}} ->
            ECount = case lists:keyfind(count, 1, LastInfo) of
                         {count, N} -> N;
                         _ -> false
                     end,
            EMD5 = case lists:keyfind(md5, 1, LastInfo) of
                       {md5, M} -> M;
                       _ -> false
                   end,
            case FtOptions#filetab_options.md5sum of
                true ->
                    case erlang:md5_final(FinalMD5State) of
                        EMD5 -> ok;
                        _MD5MisM -> throw(checksum_error)
                    end;
                false ->
                    ok
            end,
            case FtOptions#filetab_options.object_count of
                true ->
                    case FinalCount of
                        ECount -> ok;
                        _Other -> throw(invalid_object_count)
                    end;
                false ->
                    case {Verify, FtOptions#filetab_options.md5sum} of
                        {true, false} ->
                            case FinalCount of
                                HeadCount -> ok;
                                _Other2 -> throw(invalid_object_count)
                            end;
                        _ ->
                            ok
                    end
            end,
            {ok, Table}
    end.

parse_f2t_opts([], Verify, Table) ->
    {ok, Verify, Table};
parse_f2t_opts([{verify, true} | T], _OV, Table) ->
    parse_f2t_opts(T, true, Table);
parse_f2t_opts([{verify, false} | T], OV, Table) ->
    parse_f2t_opts(T, OV, Table);
parse_f2t_opts([{table, Table} | T], OV, []) ->
    parse_f2t_opts(T, OV, Table);
parse_f2t_opts([Unexpected | _], _, _) ->
    throw({unknown_option, Unexpected});
parse_f2t_opts(Malformed, _, _) ->
    throw({malformed_option, Malformed}).

count_mandatory([]) ->
    0;
count_mandatory([{Tag, _} | T]) when Tag =:= name; Tag =:= type; Tag =:= protection;
                                      Tag =:= named_table; Tag =:= keypos; Tag =:= size ->
    1 + count_mandatory(T);
count_mandatory([_ | T]) ->
    count_mandatory(T).

verify_header_mandatory(L) ->
    count_mandatory(L) =:= 6.

%% The next items of the log (terms with `disk_log:chunk/3', binaries with
%% `bchunk/3'): `{Cont, Items}', `eof' or an error; with `Verify', bad bytes
%% in the log are a bad file.
wrap_read(Read, Name, C, N, Verify) ->
    case Read(Name, C, N) of
        {_, _, X} when Verify, X > 0 -> throw(badfile);
        {NC, Items, _} -> {NC, Items};
        Y -> Y
    end.

wrap_bchunk(Name, C, N, Verify) -> wrap_read(fun disk_log:bchunk/3, Name, C, N, Verify).

wrap_chunk(Name, C, N, Verify) -> wrap_read(fun disk_log:chunk/3, Name, C, N, Verify).

%% Opens `File' read-only and reads its header (see `get_header_data/2'):
%% `{Log, Major, Minor, FtOptions, MD5State, Header, Cont}', the log left
%% open. A log that needed repair is a bad file when `Verify' is set, and
%% is read as it is otherwise.
read_header(File, Verify) ->
    Name = make_ref(),
    case disk_log:open([{name, Name}, {file, File}, {mode, read_only}]) of
        {ok, Name} ->
            ok;
        {repaired, Name, _, _} when Verify ->
            _ = disk_log:close(Name),
            throw(badfile);
        {repaired, Name, _, _} ->
            ok;
        {error, Other1} ->
            throw({read_error, Other1});
        Other2 ->
            throw(Other2)
    end,
    try get_header_data(Name, Verify) of
        {ok, Major, Minor, FtOptions, MD5State, FullHeader, DLContext} ->
            {Name, Major, Minor, FtOptions, MD5State, FullHeader, DLContext}
    catch
        throw:badfile ->
            _ = disk_log:close(Name),
            throw(badfile)
    end.

%% The header's fields. With `Verify' the header is read as a binary (the
%% md5 covers it), and the version is then looked up under the keys `major'
%% and `minor', as ets.erl does (so a verified read sees version 0.0).
get_header_data(Name, true) ->
    case wrap_bchunk(Name, start, 1, true) of
        {C, [Bin]} when is_binary(Bin) ->
            T = binary_to_term(Bin),
            case T of
                Tup when is_tuple(Tup) ->
                    L = tuple_to_list(Tup),
                    case verify_header_mandatory(L) of
                        false ->
                            throw(badfile);
                        true ->
                            {Major, Minor} = header_version(L, major, minor),
                            FtOptions = header_ft_options(L),
                            MD5Initial = case FtOptions#filetab_options.md5sum of
                                             true -> erlang:md5_update(erlang:md5_init(), Bin);
                                             false -> false
                                         end,
                            {ok, Major, Minor, FtOptions, MD5Initial, L, C}
                    end;
                _X ->
                    throw(badfile)
            end;
        _Y ->
            throw(badfile)
    end;
get_header_data(Name, false) ->
    case wrap_chunk(Name, start, 1, false) of
        {C, [Tup]} when is_tuple(Tup) ->
            L = tuple_to_list(Tup),
            case verify_header_mandatory(L) of
                false ->
                    throw(badfile);
                true ->
                    {Major, Minor} = header_version(L, major_version, minor_version),
                    {ok, Major, Minor, header_ft_options(L), false, L, C}
            end;
        _ ->
            throw(badfile)
    end.

%% The header's version under the given keys (0 for a missing one).
header_version(L, MajorKey, MinorKey) ->
    Get = fun(Key) ->
                  case lists:keyfind(Key, 1, L) of
                      {Key, V} -> V;
                      false -> 0
                  end
          end,
    {Get(MajorKey), Get(MinorKey)}.

header_ft_options(L) ->
    case lists:keyfind(extended_info, 1, L) of
        {extended_info, I} when is_list(I) ->
            #filetab_options{object_count = lists:member(object_count, I),
                             md5sum = lists:member(md5sum, I)};
        _ ->
            #filetab_options{}
    end.

md5_and_convert([], MD5State, Count) ->
    {[], MD5State, Count, []};
md5_and_convert([H | T], MD5State, Count) when is_binary(H) ->
    case catch binary_to_term(H) of
        {'EXIT', _} ->
            md5_and_convert(T, MD5State, Count);
        ['$end_of_table', _Dat] = L ->
            {[], MD5State, Count, L};
        Term ->
            X = erlang:md5_update(MD5State, H),
            {Rest, NewMD5, NewCount, NewLast} = md5_and_convert(T, X, Count + 1),
            {[Term | Rest], NewMD5, NewCount, NewLast}
    end.

scan_for_endinfo([], Count) ->
    {[], Count, []};
scan_for_endinfo([['$end_of_table', Dat]], Count) ->
    {['$end_of_table', Dat], Count, []};
scan_for_endinfo([Term | T], Count) ->
    {NewLast, NCount, Rest} = scan_for_endinfo(T, Count + 1),
    {NewLast, NCount, [Term | Rest]}.

load_table(ReadFun, State, Table) ->
    {NewState, NewData} = ReadFun(State),
    case NewData of
        [] ->
            {ok, NewState};
        List ->
            ferrets:insert(Table, List),
            load_table(ReadFun, NewState, Table)
    end.

%% The table the header describes (or `TableArg', the `{table, T}' option).
create_tab(I, TableArg) ->
    {name, Name} = lists:keyfind(name, 1, I),
    {type, Type} = lists:keyfind(type, 1, I),
    {protection, P} = lists:keyfind(protection, 1, I),
    {keypos, _Kp} = Keypos = lists:keyfind(keypos, 1, I),
    {size, Sz} = lists:keyfind(size, 1, I),
    L1 = [Type, P, Keypos],
    L2 = case lists:keyfind(named_table, 1, I) of
             {named_table, true} -> [named_table | L1];
             {named_table, false} -> L1
         end,
    L3 = case lists:keyfind(compressed, 1, I) of
             {compressed, true} -> [compressed | L2];
             {compressed, false} -> L2;
             false -> L2
         end,
    L4 = case lists:keyfind(write_concurrency, 1, I) of
             {write_concurrency, _} = Wcc -> [Wcc | L3];
             _ -> L3
         end,
    L5 = case lists:keyfind(read_concurrency, 1, I) of
             {read_concurrency, _} = Rcc -> [Rcc | L4];
             false -> L4
         end,
    case TableArg of
        [] ->
            try
                Table = ferrets:new(Name, L5),
                {ok, Table, Sz}
            catch
                _:_ -> throw(cannot_create_table)
            end;
        _ ->
            {ok, TableArg, Sz}
    end.

%% ---------------------------------------------------------------------------
%% tabfile_info

%% @doc What a `tab2file' file holds, like `ets:tabfile_info/1'.
tabfile_info(File) when is_list(File); is_atom(File) ->
    try
        {Name, Major, Minor, _FtOptions, _MD5State, FullHeader, _DLContext} = read_header(File, false),
        case disk_log:close(Name) of
            ok -> ok;
            {error, Reason} -> throw(Reason)
        end,
        {value, N} = lists:keysearch(name, 1, FullHeader),
        {value, Type} = lists:keysearch(type, 1, FullHeader),
        {value, P} = lists:keysearch(protection, 1, FullHeader),
        {value, Val} = lists:keysearch(named_table, 1, FullHeader),
        {value, Kp} = lists:keysearch(keypos, 1, FullHeader),
        {value, Sz} = lists:keysearch(size, 1, FullHeader),
        Ei = case lists:keyfind(extended_info, 1, FullHeader) of
                 false -> {extended_info, []};
                 Ei0 -> Ei0
             end,
        {ok, [N, Type, P, Val, Kp, Sz, Ei, {version, {Major, Minor}}]}
    catch
        throw:TReason -> {error, TReason};
        exit:ExReason -> {error, ExReason}
    end.
