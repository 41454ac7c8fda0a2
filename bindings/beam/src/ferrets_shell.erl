%% @doc The shell's view of ferrets tables, as `ets' gives it: `i/0' lists
%% every table, `i/1,2,3' pages through one table's objects on the
%% caller's group leader. Called through `ferrets'.
%%
%% The steps and the screens are ets.erl's (OTP 25) over ferrets' calls:
%% the same columns, prompts and commands ((c)ontinue, (q)uit, (p)Digits to
%% print object number Digits in full, (k)ill to delete the table,
%% /Regexp to show only the objects whose printed form matches).
-module(ferrets_shell).

-export([i/0, i/3]).

%% @doc Lists every ferrets table: id, name, type, size, memory (words),
%% owner (its registered name if it has one), like `ets:i/0'.
i() ->
    hform(id, name, type, size, mem, owner),
    io:format(" -------------------------------------"
              "---------------------------------------\n"),
    lists:foreach(fun prinfo/1, lists:sort(ferrets:all())),
    ok.

prinfo(Table) ->
    case catch prinfo2(Table) of
        {'EXIT', _} -> io:format("~-10s ... unreadable \n", [to_string(Table)]);
        ok -> ok
    end.

prinfo2(Table) ->
    Name = ferrets:info(Table, name),
    Type = ferrets:info(Table, type),
    Size = ferrets:info(Table, size),
    Mem = ferrets:info(Table, memory),
    Owner = ferrets:info(Table, owner),
    hform(Table, Name, Type, Size, Mem, is_reg(Owner)).

is_reg(Owner) ->
    case process_info(Owner, registered_name) of
        {registered_name, Name} -> Name;
        _ -> Owner
    end.

hform(A0, B0, C0, D0, E0, F0) ->
    [A, B, C, D, E, F] = [to_string(T) || T <- [A0, B0, C0, D0, E0, F0]],
    io:format(" ~s ~s ~s ~s ~s ~s\n",
              [pad_right(A, 15), pad_right(B, 17), pad_right(C, 5),
               pad_right(D, 6), pad_right(E, 8), F]).

pad_right(String, Len) when length(String) >= Len -> String;
pad_right(String, Len) -> String ++ lists:duplicate(Len - length(String), $\s).

to_string(X) -> lists:flatten(io_lib:format("~p", [X])).

%% @doc Pages through `Table''s objects, `Height' lines at a time, each cut
%% to `Width' columns, like `ets:i/3'.
i(Table, Height, Width) ->
    display_items(Height, Width, Table, ferrets:first(Table), 1, 1).

display_items(Height, Width, Table, '$end_of_table', Turn, Opos) ->
    P = 'EOT  (q)uit (p)Digits (k)ill /Regexp -->',
    choice(Height, Width, P, eot, Table, '$end_of_table', Turn, Opos);
display_items(Height, Width, Table, Key, Turn, Opos) when Turn < Height ->
    do_display(Height, Width, Table, Key, Turn, Opos);
display_items(Height, Width, Table, Key, Turn, Opos) when Turn >= Height ->
    P = '(c)ontinue (q)uit (p)Digits (k)ill /Regexp -->',
    choice(Height, Width, P, normal, Table, Key, Turn, Opos).

choice(Height, Width, P, Mode, Table, Key, Turn, Opos) ->
    case get_line(P, "c\n") of
        "c\n" when Mode =:= normal ->
            do_display(Height, Width, Table, Key, 1, Opos);
        "c\n" when is_tuple(Mode), element(1, Mode) =:= re ->
            {re, Re} = Mode,
            re_search(Height, Width, Table, Key, Re, 1, Opos);
        "q\n" ->
            ok;
        "k\n" ->
            ferrets:delete(Table),
            ok;
        [$p | Digs] ->
            catch case catch list_to_integer(nonl(Digs)) of
                      {'EXIT', _} ->
                          io:put_chars("Bad digits\n");
                      Number when Mode =:= normal ->
                          print_number(Table, ferrets:first(Table), Number);
                      Number when Mode =:= eot ->
                          print_number(Table, ferrets:first(Table), Number);
                      Number ->
                          {re, Re} = Mode,
                          print_re_num(Table, ferrets:first(Table), Number, Re)
                  end,
            choice(Height, Width, P, Mode, Table, Key, Turn, Opos);
        [$/ | Regexp] ->
            case re:compile(nonl(Regexp), [unicode]) of
                {ok, Re} ->
                    re_search(Height, Width, Table, ferrets:first(Table), Re, 1, 1);
                {error, {ErrorString, _Pos}} ->
                    io:format("~ts\n", [ErrorString]),
                    choice(Height, Width, P, Mode, Table, Key, Turn, Opos)
            end;
        eof ->
            ok;
        _ ->
            choice(Height, Width, P, Mode, Table, Key, Turn, Opos)
    end.

get_line(P, Default) ->
    case line_string(io:get_line(P)) of
        "\n" -> Default;
        L -> L
    end.

line_string(Binary) when is_binary(Binary) -> unicode:characters_to_list(Binary);
line_string(Other) -> Other.

nonl(S) -> string:trim(S, trailing, "$\n").

print_number(Table, Key, Num) ->
    Os = ferrets:lookup(Table, Key),
    Len = length(Os),
    if
        Num - Len < 1 -> io:format("~p~n", [lists:nth(Num, Os)]);
        true -> print_number(Table, ferrets:next(Table, Key), Num - Len)
    end.

do_display(Height, Width, Table, Key, Turn, Opos) ->
    Objs = ferrets:lookup(Table, Key),
    do_display_items(Height, Width, Objs, Opos),
    Len = length(Objs),
    display_items(Height, Width, Table, ferrets:next(Table, Key), Turn + Len, Opos + Len).

do_display_items(Height, Width, [Obj | Tail], Opos) ->
    do_display_item(Height, Width, Obj, Opos),
    do_display_items(Height, Width, Tail, Opos + 1);
do_display_items(_Height, _Width, [], Opos) ->
    Opos.

do_display_item(_Height, Width, I, Opos) ->
    L = to_string(I),
    L2 = if
             length(L) > Width - 8 -> string:slice(L, 0, Width - 13) ++ "  ...";
             true -> L
         end,
    io:format("<~-4w> ~s~n", [Opos, L2]).

re_search(Height, Width, Table, '$end_of_table', Re, Turn, Opos) ->
    P = 'EOT  (q)uit (p)Digits (k)ill /Regexp -->',
    choice(Height, Width, P, {re, Re}, Table, '$end_of_table', Turn, Opos);
re_search(Height, Width, Table, Key, Re, Turn, Opos) when Turn < Height ->
    re_display(Height, Width, Table, Key, ferrets:lookup(Table, Key), Re, Turn, Opos);
re_search(Height, Width, Table, Key, Re, Turn, Opos) ->
    P = '(c)ontinue (q)uit (p)Digits (k)ill /Regexp -->',
    choice(Height, Width, P, {re, Re}, Table, Key, Turn, Opos).

re_display(Height, Width, Table, Key, [], Re, Turn, Opos) ->
    re_search(Height, Width, Table, ferrets:next(Table, Key), Re, Turn, Opos);
re_display(Height, Width, Table, Key, [H | T], Re, Turn, Opos) ->
    case re:run(to_string(H), Re, [{capture, none}]) of
        match ->
            do_display_item(Height, Width, H, Opos),
            re_display(Height, Width, Table, Key, T, Re, Turn + 1, Opos + 1);
        nomatch ->
            re_display(Height, Width, Table, Key, T, Re, Turn, Opos)
    end.

print_re_num(_, '$end_of_table', _, _) ->
    ok;
print_re_num(Table, Key, Num, Re) ->
    Os = re_match(ferrets:lookup(Table, Key), Re),
    Len = length(Os),
    if
        Num - Len < 1 -> io:format("~p~n", [lists:nth(Num, Os)]);
        true -> print_re_num(Table, ferrets:next(Table, Key), Num - Len, Re)
    end.

re_match([], _) ->
    [];
re_match([H | T], Re) ->
    case re:run(to_string(H), Re, [{capture, none}]) of
        match -> [H | re_match(T, Re)];
        nomatch -> re_match(T, Re)
    end.
