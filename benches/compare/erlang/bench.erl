%% The Erlang/OTP side of warren's benchmark comparison (benches/compare).
%%
%%   erl -noshell -pa DIR +P 10000000 -s bench main WORKLOAD ARGS... -s init stop
%%
%% Each workload prints `result NAME VALUE UNIT` lines, like the warren guest and the tokio
%% program doing the same work. Written as an Erlang programmer would: plain processes,
%% `!` and `receive`, gen_tcp with a process per connection.
-module(bench).
-export([main/1, sleeper/0, remote_end/1]).

main([Workload | Args]) ->
    run(Workload, [list_to_integer(atom_to_list(A)) || A <- Args]),
    ok.

now_us() -> erlang:monotonic_time(microsecond).

result(Name, Value, Unit) ->
    io:format("result ~s ~.3f ~s~n", [Name, float(Value), Unit]).

rss_bytes() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Status, <<"\n">>, [global]),
                   binary:part(L, 0, min(6, byte_size(L))) =:= <<"VmRSS:">>],
    [_, Kb | _] = binary:split(Line, [<<" ">>, <<"\t">>], [global, trim_all]),
    binary_to_integer(Kb) * 1024.

%% spawn N processes that each reply once.
run(spawn, [N]) ->
    Parent = self(),
    T0 = now_us(),
    spawn_n(N, fun() -> Parent ! done end),
    collect(N),
    result(spawn, (now_us() - T0) / N, "us/spawn");

%% hold N idle processes: resident bytes per process.
run(idle, [N]) ->
    erlang:garbage_collect(),
    Before = rss_bytes(),
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    timer:sleep(200),
    After = rss_bytes(),
    result(idle, (After - Before) / N, "bytes/process"),
    [P ! stop || P <- Pids];

%% hold N hibernated processes (erlang:hibernate/3): resident bytes per process.
run(hibernate, [N]) ->
    erlang:garbage_collect(),
    Before = rss_bytes(),
    Pids = spawn_hibernated(N),
    timer:sleep(200),
    After = rss_bytes(),
    result(hibernate, (After - Before) / N, "bytes/process"),
    [P ! stop || P <- Pids];

%% N hibernated processes, each woken once by a request it answers: time per wake-up.
run(wake, [N]) ->
    Pids = spawn_hibernated(N),
    timer:sleep(200),
    T0 = now_us(),
    [begin P ! {ping, self()}, receive pong -> ok end end || P <- Pids],
    result(wake, (now_us() - T0) / N, "us/wake"),
    [P ! stop || P <- Pids];

%% ping-pong: N round trips between two processes.
run(pingpong, [N]) ->
    Pong = spawn(fun pong/0),
    T0 = now_us(),
    ping(Pong, N),
    result(pingpong, (now_us() - T0) / N, "us/round-trip"),
    Pong ! stop;

%% ring: N processes, Laps laps of one token.
run(ring, [N, Laps]) ->
    Self = self(),
    First = lists:foldl(fun(_, Next) -> spawn(fun() -> relay(Next) end) end, Self, lists:seq(1, N - 1)),
    lap(First, 1),  % one untimed lap, as the others do
    T0 = now_us(),
    lap(First, Laps),
    result(ring, (now_us() - T0) / (N * Laps), "us/hop"),
    First ! stop;

%% fan-out: one publisher, N subscribers, M messages each sent to every subscriber; each
%% subscriber says when it has all M. Time per delivery.
run(fanout, [N, M]) ->
    Self = self(),
    Subs = [spawn(fun() -> Self ! up, subscriber(M), Self ! done end) || _ <- lists:seq(1, N)],
    collect_atom(up, N),
    T0 = now_us(),
    publish(Subs, 0, M),
    collect_atom(done, N),
    result(fanout, (now_us() - T0) / (N * M), "us/delivery");

%% flow control: a producer sends N messages to a consumer, each as a call (it waits for the
%% consumer's answer: Erlang's back-pressure, as gen_server:call gives it). Time per message.
run(flow, [N]) ->
    Self = self(),
    Consumer = spawn(fun() -> flow_consumer(Self, 0) end),
    T0 = now_us(),
    flow_produce(Consumer, 0, N),
    Consumer ! {done, Self},
    receive {sum, _} -> ok end,
    result(flow, (now_us() - T0) / N, "us/message");

%% TCP echo server on Port (0: any), a process per connection; runs until killed.
run(echo, [Port]) ->
    {ok, L} = gen_tcp:listen(Port, [binary, {active, false}, {reuseaddr, true},
                                     {nodelay, true}, {backlog, 1024}, {ip, {127,0,0,1}}]),
    {ok, P} = inet:port(L),
    io:format("erlang: listening on 127.0.0.1:~p~n", [P]),
    accept(L);

%% Distribution (run as node a, with node $WARREN_BENCH_PEER@HOST up (default b), same
%% cookie): a process on it echoes N
%% 100-byte binaries one at a time (us per round trip), or takes N of them as fast as they
%% can be sent and then answers (messages per second, one way).
run(dist_rtt, [N]) ->
    {Remote, Payload} = dist_setup(),
    T0 = now_us(),
    dist_echo(Remote, Payload, N),
    result(dist_rtt, (now_us() - T0) / N, "us/round-trip"),
    Remote ! stop;
run(dist_tput, [N]) ->
    {Remote, Payload} = dist_setup(),
    T0 = now_us(),
    [Remote ! {count, Payload} || _ <- lists:seq(1, N)],
    Remote ! {total, self()},
    receive {total, N} -> ok end,
    result(dist_tput, N / ((now_us() - T0) / 1.0e6), "msgs/s"),
    Remote ! stop;

%% the most idle processes that fit in BudgetMiB of resident memory.
run(maxn, [BudgetMiB]) ->
    Budget = BudgetMiB * 1024 * 1024,
    Base = rss_bytes(),
    N = grow(Base, Budget, 0),
    result(maxn, N, "processes").

dist_setup() ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Peer = case os:getenv("WARREN_BENCH_PEER") of false -> "b"; P -> P end,
    B = list_to_atom(Peer ++ "@" ++ Host),
    pong = net_adm:ping(B),
    Remote = spawn(B, ?MODULE, remote_end, [0]),
    Payload = binary:copy(<<7>>, 100),
    dist_echo(Remote, Payload, 100),  % warm up, as the others do
    {Remote, Payload}.

dist_echo(_, _, 0) -> ok;
dist_echo(Remote, Payload, N) ->
    Remote ! {echo, Payload, self()},
    receive Payload -> dist_echo(Remote, Payload, N - 1) end.

%% Exported for spawn/4 on the remote node.
remote_end(Count) ->
    receive
        {echo, Data, From} -> From ! Data, remote_end(Count);
        {count, _} -> remote_end(Count + 1);
        {total, From} -> From ! {total, Count}, remote_end(0);
        stop -> ok
    end.

spawn_hibernated(N) ->
    [spawn(fun() -> erlang:hibernate(?MODULE, sleeper, []) end) || _ <- lists:seq(1, N)].

%% Exported for erlang:hibernate/3.
sleeper() ->
    receive
        {ping, From} -> From ! pong, erlang:hibernate(?MODULE, sleeper, []);
        stop -> ok
    end.

spawn_n(0, _) -> ok;
spawn_n(N, F) -> spawn(F), spawn_n(N - 1, F).

collect(0) -> ok;
collect(N) -> receive done -> collect(N - 1) end.

pong() ->
    receive
        {ping, From} -> From ! pong, pong();
        stop -> ok
    end.

ping(_, 0) -> ok;
ping(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ping(Pong, N - 1) end.

relay(Next) ->
    receive
        stop -> Next ! stop;
        Token -> Next ! Token, relay(Next)
    end.

lap(_, 0) -> ok;
lap(First, Laps) ->
    First ! token,
    receive token -> lap(First, Laps - 1) end.

accept(L) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> echo_loop(S) end end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    accept(L).

echo_loop(S) ->
    case gen_tcp:recv(S, 0) of
        {ok, Data} -> ok = gen_tcp:send(S, Data), echo_loop(S);
        {error, _} -> gen_tcp:close(S)
    end.

%% Spawn idle processes in batches of 1,000 until resident memory grows past the budget;
%% the count before the batch that crossed it.
grow(Base, Budget, N) ->
    [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, 1000)],
    case rss_bytes() - Base of
        Used when Used > Budget -> N;
        _ -> grow(Base, Budget, N + 1000)
    end.

flow_consumer(Parent, Sum) ->
    receive
        {msg, I, From, Ref} -> From ! {Ref, ok}, flow_consumer(Parent, Sum + I);
        {done, From} -> From ! {sum, Sum}
    end.

flow_produce(_, N, N) -> ok;
flow_produce(Consumer, I, N) ->
    Ref = make_ref(),
    Consumer ! {msg, I, self(), Ref},
    receive {Ref, ok} -> flow_produce(Consumer, I + 1, N) end.

subscriber(0) -> ok;
subscriber(M) -> receive {msg, _} -> subscriber(M - 1) end.

publish(_, M, M) -> ok;
publish(Subs, I, M) ->
    [S ! {msg, I} || S <- Subs],
    publish(Subs, I + 1, M).

collect_atom(_, 0) -> ok;
collect_atom(A, N) -> receive A -> collect_atom(A, N - 1) end.
