//! Scenarios for warren's test suite: `warren run test_guest.wasm SCENARIO`. Each prints
//! what it observed, one fact per line; the tests in crates/cli/tests assert on that output
//! and on the exit code.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use warren::SpawnOptions;
use warren::supervisor::{self, Child, Restart, Strategy, Supervise, Supervisor};
use warren::{
    ExitReason, Mailbox, Monitor, Process, Reply, RequestError, Signal, SpawnError, spawn,
    spawn_link, spawn_monitor,
};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Config {
    name: String,
    weights: Vec<f64>,
    tags: BTreeMap<String, Option<u32>>,
    nested: (u8, Vec<(i64, String)>, bool),
}

#[derive(Serialize, Deserialize, Debug)]
enum Msg {
    Text(String),
    Number(i64),
    Bytes(Vec<u8>),
}

#[derive(Serialize, Deserialize)]
enum Server {
    /// Send two ordinary messages to `noise`, then answer `reply`.
    NoisyDouble(i64, Process<String>, Reply<i64>),
    Ignore(Reply<i64>),
}

mod dist;
mod hibernate;
mod hostile;
mod http;
mod io;
mod logs;
mod shutdown;

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let arg = std::env::args().nth(2);
    if io::run(&scenario)
        || http::run(&scenario, arg.as_deref())
        || hostile::run(&scenario)
        || dist::run(&scenario)
        || hibernate::run(&scenario, arg.as_deref())
        || shutdown::run(&scenario)
        || logs::run(&scenario, arg.as_deref())
    {
        return;
    }
    match scenario.as_str() {
        "captures" => captures(),
        "messages" => messages(),
        "receive_timeout" => receive_timeout(),
        "request_reply" => request_reply(),
        "child_panic" => child_panic(),
        "child_trap" => child_trap(),
        "child_memory_bomb" => child_memory_bomb(),
        "kill" => kill(),
        "spawn_limit" => spawn_limit(),
        "instance_limit" => instance_limit(),
        "bad_abi" => bad_abi(),
        "statics" => statics(),
        "large_message" => large_message(),
        "preemption" => preemption(),
        "registry" => registry(),
        "timers" => timers(),
        "links" => links(),
        "supervisor" => supervisor(),
        "compute_bomb" => compute_bomb(),
        "exit" => exit_reasons(),
        "spawn_limits" => spawn_limits(),
        "observed_workload" => observed_workload(),
        "root_panic" => panic!("root says no"),
        "root_trap" => std::arch::wasm32::unreachable(),
        "root_exit" => std::process::exit(7),
        other => {
            eprintln!("unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// Captures of many shapes arrive intact in the child.
fn captures() {
    let config = Config {
        name: "ünïcødé name".into(),
        weights: vec![0.5, -1.25, f64::MAX],
        tags: [("a".to_string(), Some(1)), ("b".to_string(), None)]
            .into_iter()
            .collect(),
        nested: (255, vec![(-9, "x".into()), (i64::MIN, String::new())], true),
    };
    let big: Vec<u32> = (0..50_000).collect();
    let me: Process<(Config, u64, usize)> = Process::this();
    let mailbox: Mailbox<(Config, u64, usize)> = Mailbox::this();
    let sent = config.clone();
    spawn!(sent, big, me; |_m: Mailbox<()>| {
        let sum: u64 = big.iter().map(|&x| x as u64).sum();
        me.send(&(sent, sum, big.len()));
    })
    .unwrap();
    let (back, sum, len) = mailbox.receive();
    println!("captures equal: {}", back == config);
    println!("big sum: {sum} len: {len}");
}

/// Typed messages arrive in order; a child with no captures works.
fn messages() {
    let me: Process<Msg> = Process::this();
    let mailbox: Mailbox<Msg> = Mailbox::this();
    let echo = spawn!(me; |mb: Mailbox<Msg>| {
        for _ in 0..3 {
            me.send(&mb.receive());
        }
    })
    .unwrap();
    echo.send(&Msg::Text("hello".into()));
    echo.send(&Msg::Number(-42));
    echo.send(&Msg::Bytes(vec![1, 2, 3]));
    for _ in 0..3 {
        println!("got {:?}", mailbox.receive());
    }
    let (p, m) = spawn_monitor!(|_mb: Mailbox<()>| {}).unwrap();
    println!("no-capture child {} exited: {}", p.pid() > 0, m.wait());
}

fn receive_timeout() {
    let mailbox: Mailbox<u32> = Mailbox::this();
    println!(
        "empty: {:?}",
        mailbox.receive_timeout(Duration::from_millis(30))
    );
    let me: Process<u32> = Process::this();
    spawn!(me; |_m: Mailbox<()>| {
        std::thread::sleep(Duration::from_millis(20));
        me.send(&5);
    })
    .unwrap();
    println!(
        "later: {:?}",
        mailbox.receive_timeout(Duration::from_secs(30))
    );
}

/// The reply is picked out of the mailbox; other messages stay queued in order.
fn request_reply() {
    let server = spawn!(|mb: Mailbox<Server>| loop {
        match mb.receive() {
            Server::NoisyDouble(x, noise, reply) => {
                noise.send(&"first".to_string());
                noise.send(&"second".to_string());
                reply.send(&(x * 2));
            }
            Server::Ignore(_) => {}
        }
    })
    .unwrap();
    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    let answer = server.request(|r| Server::NoisyDouble(21, me, r));
    println!("answer: {answer:?}");
    println!("then: {}", mailbox.receive());
    println!("then: {}", mailbox.receive());
    let timeout = server.request_timeout(Server::Ignore, Duration::from_millis(30));
    println!("ignored: {timeout:?}");
    server.kill();
    let dead = server.request(Server::Ignore);
    println!("dead: {}", matches!(dead, Err(RequestError::Exited(_))));
    println!(
        "left over: {:?}",
        mailbox.receive_timeout(Duration::from_millis(10))
    );
}

fn child_panic() {
    let (_p, monitor) = spawn_monitor!(|_m: Mailbox<()>| {
        let v: Vec<u32> = Vec::new();
        if v.is_empty() {
            panic!("boom {}", 42);
        }
    })
    .unwrap();
    println!("child: {}", monitor.wait());
    println!("parent still running: {}", warren::this());
}

fn child_trap() {
    let (_p, m1) = spawn_monitor!(|_m: Mailbox<()>| std::arch::wasm32::unreachable()).unwrap();
    println!("unreachable child: {}", m1.wait());
    let (_p, m2) = spawn_monitor!(|_m: Mailbox<()>| {
        // Read far beyond linear memory: an out-of-bounds trap in this process only.
        let p = 0xffff_fff0usize as *const u64;
        // SAFETY: none; this is the point of the test (the runtime must contain it).
        let v = unsafe { std::ptr::read_volatile(p) };
        println!("unexpectedly read {v}");
    })
    .unwrap();
    println!("out-of-bounds child: {}", m2.wait());
    println!("parent still running: true");
}

fn child_memory_bomb() {
    let (_p, m) = spawn_monitor!(|_m: Mailbox<()>| {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 1 << 20]);
        }
    })
    .unwrap();
    let reason = m.wait();
    println!("bomb: {}", matches!(reason, ExitReason::Limit(_)));
    println!("reason: {reason}");
}

fn kill() {
    let (p, m) = spawn_monitor!(|mb: Mailbox<()>| loop {
        mb.receive();
    })
    .unwrap();
    println!("kill: {}", p.kill());
    println!("reason: {}", m.wait());
    println!("kill again: {}", p.kill());
    println!("monitor dead: {}", p.monitor().wait());
}

fn spawn_limit() {
    let mut alive = Vec::new();
    loop {
        match spawn!(|mb: Mailbox<()>| mb.receive()) {
            Ok(p) => alive.push(p),
            Err(SpawnError::ProcessLimit) => break,
            Err(e) => panic!("unexpected spawn error {e}"),
        }
    }
    println!("spawned before the limit: {}", alive.len());
    // The runtime stays responsive: free one slot and spawn again.
    let m = alive[0].monitor();
    alive[0].kill();
    m.wait();
    let (_p, m) = spawn_monitor!(|_mb: Mailbox<()>| {}).unwrap();
    println!("after freeing one: {}", m.wait());
}

/// Four awake children take the slots `--max-instances 5` leaves beside the root; a fifth
/// gets none, and ends with a reason naming the limit.
fn instance_limit() {
    let me: Process<()> = Process::this();
    let mailbox: Mailbox<()> = Mailbox::this();
    let mut awake = Vec::new();
    for _ in 0..4 {
        awake.push(
            spawn!(me; |mb: Mailbox<()>| {
                me.send(&());
                mb.receive()
            })
            .expect("spawn"),
        );
        mailbox.receive(); // it is up: it holds a slot
    }
    let (_p, m) = spawn_monitor!(|mb: Mailbox<()>| mb.receive()).expect("spawn");
    println!("a child ended: {}", m.wait());
}

mod raw {
    #[link(wasm_import_module = "warren:message")]
    unsafe extern "C" {
        pub fn send(pid: i64, tag: i64, ptr: *const u8, len: u32) -> i32;
        pub fn receive(tag: i64, ptr: *mut u8, cap: u32, timeout_ms: i64, tag_out: *mut u64)
        -> i64;
        pub fn take(ptr: *mut u8, len: u32) -> i32;
    }
    #[link(wasm_import_module = "warren:process")]
    unsafe extern "C" {
        pub fn spawn(
            t: u32,
            f: u32,
            p: *const u8,
            l: u32,
            m: i64,
            flags: u32,
            mem: i64,
            fuel: i64,
        ) -> i64;
        pub fn spawn_args(ptr: *mut u8, len: u32) -> i32;
        pub fn kill(pid: i64) -> i32;
    }
}

/// Bad input to the host's ABI: error codes for bad values, a trap of the caller (only) for
/// bad pointers.
fn bad_abi() {
    unsafe {
        println!(
            "send to unknown pid: {}",
            raw::send(1 << 40, 0, [1u8].as_ptr(), 1)
        );
        println!(
            "send to negative pid: {}",
            raw::send(-5, 0, [1u8].as_ptr(), 1)
        );
        println!(
            "take with nothing pending: {}",
            raw::take(std::ptr::null_mut(), 0)
        );
        println!(
            "spawn_args in root: {}",
            raw::spawn_args(std::ptr::null_mut(), 0)
        );
        println!("kill unknown: {}", raw::kill(1 << 40));
    }
    let cases = [
        "send out of bounds",
        "receive into out-of-bounds buffer",
        "spawn with out-of-bounds captures",
        "spawn with garbage table indices",
    ];
    for (case, name) in cases.iter().enumerate() {
        let (_p, m) = spawn_monitor!(case; |_mb: Mailbox<()>| bad_call(case)).unwrap();
        println!("{name}: {}", m.wait());
    }
    println!("parent still running: true");
}

fn bad_call(case: usize) {
    // SAFETY: none: these calls are wrong on purpose; the host must contain them.
    unsafe {
        match case {
            0 => println!(
                "{}",
                raw::send(1, 0, 0xffff_0000usize as *const u8, 0x10_0000)
            ),
            1 => println!(
                "{}",
                raw::receive(0, 0xffff_fff0usize as *mut u8, 64, 0, std::ptr::null_mut())
            ),
            2 => println!(
                "{}",
                raw::spawn(1, 1, 0xffff_fff0usize as *const u8, 64, 0, 0, 0, 0)
            ),
            _ => {
                // The host accepts any indices (it cannot know the table's types); the child
                // traps on its first call through them, and only the child.
                let pid = raw::spawn(0xdead, 0xbeef, std::ptr::null(), 0, 0, 0, 0, 0);
                let child: Process<()> = Process::from_pid(pid as u64);
                println!("garbage child: {}", child.monitor().wait());
            }
        }
    }
}

static mut COUNTER: u32 = 0;

/// Statics are per process: a child sees the module's initial value, not the parent's.
fn statics() {
    // SAFETY: wasm32-wasip1 processes are single-threaded.
    unsafe { COUNTER = 41 };
    let me: Process<u32> = Process::this();
    let mailbox: Mailbox<u32> = Mailbox::this();
    spawn!(me; |_m: Mailbox<()>| {
        // SAFETY: as above.
        me.send(&unsafe { COUNTER });
    })
    .unwrap();
    println!("child sees {}", mailbox.receive());
    println!("parent sees {}", unsafe { COUNTER });
}

/// A message far larger than the receive buffer goes through the pending path intact.
fn large_message() {
    let me: Process<Vec<u8>> = Process::this();
    let mailbox: Mailbox<Vec<u8>> = Mailbox::this();
    spawn!(me; |_m: Mailbox<()>| {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        me.send(&data);
    })
    .unwrap();
    let data = mailbox.receive();
    let ok = data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    println!("large: {} bytes intact: {ok}", data.len());
}

/// Busy loops on more processes than there are worker threads cannot starve a ping-pong:
/// epoch interruption makes each yield every tick.
fn preemption() {
    let busy: Vec<Process<()>> = (0..4)
        .map(|_| {
            spawn!(|_m: Mailbox<()>| loop {
                std::hint::black_box(());
            })
            .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50)); // let the loops occupy the workers
    let me: Process<u32> = Process::this();
    let mailbox: Mailbox<u32> = Mailbox::this();
    let ponger = spawn!(me; |balls: Mailbox<u32>| loop {
        let n = balls.receive();
        me.send(&(n + 1));
    })
    .unwrap();
    let mut n = 0;
    for _ in 0..10_000 {
        ponger.send(&n);
        n = mailbox.receive();
    }
    println!("round trips: {n}");
    for b in busy {
        let m = b.monitor();
        b.kill();
        println!("busy loop: {}", m.wait());
    }
}

/// Names: found by others, unique, freed when their process ends.
fn registry() {
    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    me.register("main").unwrap();
    println!("taken: {:?}", me.register("main"));
    println!("empty name: {:?}", me.register(""));
    println!("long name: {:?}", me.register(&"x".repeat(257)));
    let (worker, down) = spawn_monitor!(|mb: Mailbox<String>| {
        Process::<String>::this().register("worker").unwrap();
        let main: Process<String> = warren::whereis("main").expect("main is registered");
        main.send(&"worker up".to_string());
        mb.receive();
    })
    .unwrap();
    println!("{}", mailbox.receive());
    let found: Option<Process<String>> = warren::whereis("worker");
    println!("whereis worker is the worker: {}", found == Some(worker));
    worker.kill();
    down.wait();
    println!("after death: {:?}", warren::whereis::<String>("worker"));
    println!("dead pid: {:?}", worker.register("again"));
    println!("unregister main: {}", warren::unregister("main"));
    println!("unregister twice: {}", warren::unregister("main"));
    println!("whereis main: {:?}", warren::whereis::<String>("main"));
}

/// Delayed messages arrive, cancelled ones never do; a sleeping process can be killed.
fn timers() {
    let me: Process<u32> = Process::this();
    let mailbox: Mailbox<u32> = Mailbox::this();
    // Far enough apart that a loaded machine cannot fire the cancelled one before its
    // cancel (it would come before the late one).
    let _late = me.send_after(&1, Duration::from_millis(400));
    let cancelled = me.send_after(&2, Duration::from_millis(200));
    println!("cancel: {}", cancelled.cancel());
    me.send(&0);
    println!("first: {}", mailbox.receive());
    println!("second: {}", mailbox.receive());
    println!(
        "nothing else: {:?}",
        mailbox.receive_timeout(Duration::from_millis(300))
    );
    let fired = me.send_after(&3, Duration::from_millis(1));
    println!("third: {}", mailbox.receive());
    println!("cancel after firing: {}", fired.cancel());

    let start = std::time::Instant::now();
    warren::sleep(Duration::from_millis(30));
    println!(
        "slept at least 30 ms: {}",
        start.elapsed() >= Duration::from_millis(30)
    );
    let (sleeper, down) =
        spawn_monitor!(|_m: Mailbox<()>| warren::sleep(Duration::from_secs(3600))).unwrap();
    warren::sleep(Duration::from_millis(10));
    sleeper.kill();
    println!("sleeper: {}", down.wait());
}

/// Links: abnormal exits propagate, normal ones do not, trap_exit turns them into messages,
/// kill cannot be trapped, and a chain of links fails as a unit.
fn links() {
    // An abnormal exit kills the linked parent, which records why.
    let (_p, down) = spawn_monitor!(|mb: Mailbox<()>| {
        spawn_link!(|_m: Mailbox<()>| panic!("child failed")).unwrap();
        mb.receive();
    })
    .unwrap();
    println!(
        "untrapped: {}",
        strip_location(&strip_pids(&down.wait().to_string()))
    );

    // A normal exit does not.
    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    let (_p, down) = spawn_monitor!(me; |mb: Mailbox<()>| {
        spawn_link!(|_m: Mailbox<()>| {}).unwrap();
        let alive = mb.receive_timeout(Duration::from_millis(50)).is_none();
        me.send(&format!("normal exit leaves the parent alive: {alive}"));
    })
    .unwrap();
    println!("{}", mailbox.receive());
    println!("then it ends: {}", down.wait());

    // With trap_exit the exit arrives as a message, in order with ordinary ones.
    let (_p, down) = spawn_monitor!(me; |mb: Mailbox<u32>| {
        warren::trap_exit(true);
        let this: Process<u32> = Process::this();
        this.send(&7);
        let child = spawn_link!(|_m: Mailbox<()>| panic!("trapped failure")).unwrap();
        let first = mb.receive_signal();
        let second = mb.receive_signal();
        let report = match (first, second) {
            (Signal::Message(7), Signal::Exit { from, reason }) => format!(
                "trapped: message 7, then exit from the child: {}, reason: {}",
                from == child.pid(),
                reason
            ),
            other => format!("unexpected {other:?}"),
        };
        me.send(&report);
    })
    .unwrap();
    println!("{}", strip_location(&mailbox.receive()));
    println!("trapping process ends normally: {}", down.wait());

    // unlink, then a crash: nothing propagates.
    let (_p, down) = spawn_monitor!(|mb: Mailbox<()>| {
        let child = spawn_link!(|m: Mailbox<()>| {
            m.receive();
            panic!("late failure");
        })
        .unwrap();
        child.unlink();
        child.send(&());
        let _ = mb.receive_timeout(Duration::from_millis(50));
    })
    .unwrap();
    println!("unlinked: {}", down.wait());

    // Linking to a dead process: noproc, as a message when trapping.
    let (dead, d) = spawn_monitor!(|_m: Mailbox<()>| {}).unwrap();
    d.wait();
    let (_p, down) = spawn_monitor!(dead; |mb: Mailbox<()>| {
        dead.link();
        mb.receive();
    })
    .unwrap();
    println!("link to dead: {}", strip_pids(&down.wait().to_string()));

    // kill cannot be trapped.
    let (p, down) = spawn_monitor!(|mb: Mailbox<()>| {
        warren::trap_exit(true);
        loop {
            mb.receive_signal();
        }
    })
    .unwrap();
    warren::sleep(Duration::from_millis(10));
    p.kill();
    println!("kill a trapping process: {}", down.wait());

    // A chain a - b - c: c fails, b and a follow.
    let (_a, down) = spawn_monitor!(|mb: Mailbox<()>| {
        spawn_link!(|mb: Mailbox<()>| {
            spawn_link!(|_m: Mailbox<()>| std::arch::wasm32::unreachable()).unwrap();
            mb.receive();
        })
        .unwrap();
        mb.receive();
    })
    .unwrap();
    println!("chain: {}", strip_pids(&down.wait().to_string()));
}

/// Replace "process N" with "process _" so output is stable.
fn strip_pids(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("process ") {
        out.push_str(&rest[..i + 8]);
        rest = rest[i + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('_');
    }
    out.push_str(rest);
    out
}

fn strip_location(s: &str) -> String {
    match s.find(" at tests/guest") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Tree {
    strategy: Strategy,
    max_restarts: usize,
}

fn idle_worker(_: (), mailbox: Mailbox<()>) {
    loop {
        mailbox.receive();
    }
}

/// A worker that ends normally on its first message.
fn one_shot_worker(_: (), mailbox: Mailbox<()>) {
    mailbox.receive();
}

impl Supervise for Tree {
    fn children(&self) -> Vec<Child> {
        ["a", "b", "c"]
            .into_iter()
            .map(|n| Child::worker(n, Restart::Permanent, (), idle_worker))
            .collect()
    }
    fn strategy(&self) -> Strategy {
        self.strategy
    }
    fn max_restarts(&self) -> usize {
        self.max_restarts
    }
    fn period(&self) -> Duration {
        Duration::from_secs(60)
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Policies;

impl Supervise for Policies {
    fn children(&self) -> Vec<Child> {
        vec![
            Child::worker("transient", Restart::Transient, (), one_shot_worker),
            Child::worker("temporary", Restart::Temporary, (), idle_worker),
            Child::worker("permanent", Restart::Permanent, (), one_shot_worker),
        ]
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Outer;

impl Supervise for Outer {
    fn children(&self) -> Vec<Child> {
        vec![
            Child::worker("w", Restart::Permanent, (), idle_worker),
            Child::supervisor(
                "inner",
                Restart::Permanent,
                Tree {
                    strategy: Strategy::OneForOne,
                    max_restarts: 5,
                },
            ),
        ]
    }
}

fn children_of(sup: &Supervisor) -> Vec<(String, Option<u64>)> {
    supervisor::which_children(sup).expect("supervisor alive")
}

fn pid_of(children: &[(String, Option<u64>)], name: &str) -> Option<u64> {
    children
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, p)| *p)
}

/// Kill child `name` and wait until the supervisor reports it running again.
fn kill_and_wait(sup: &Supervisor, name: &str) -> Vec<(String, Option<u64>)> {
    let before = pid_of(&children_of(sup), name).expect("child running");
    Process::<()>::from_pid(before).kill();
    for _ in 0..2000 {
        let now = children_of(sup);
        if pid_of(&now, name).is_some_and(|p| p != before) {
            return now;
        }
        warren::sleep(Duration::from_millis(2));
    }
    panic!("child {name} was not restarted");
}

fn restarted(before: &[(String, Option<u64>)], after: &[(String, Option<u64>)]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0.clone())
        .collect()
}

fn supervisor() {
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        let sup = supervisor::start(Tree {
            strategy,
            max_restarts: 5,
        })
        .unwrap();
        let before = children_of(&sup);
        let after = kill_and_wait(&sup, "b");
        println!(
            "{strategy:?}: restarted {:?}, restarts {:?}",
            restarted(&before, &after),
            supervisor::count_restarts(&sup)
        );
        let old: Vec<Monitor> = after
            .iter()
            .filter_map(|(_, p)| *p)
            .map(|p| Process::<()>::from_pid(p).monitor())
            .collect();
        supervisor::stop(&sup);
        // Stopped by their shutdown spec: the exit signal `shutdown`, which ends a child
        // that does not trap exits at once.
        let all_stopped = old.into_iter().all(|m| m.wait() == ExitReason::Shutdown);
        println!("{strategy:?}: stop ends the children: {all_stopped}");
    }

    // Intensity: the third restart within the period is one too many.
    let sup = supervisor::start(Tree {
        strategy: Strategy::OneForOne,
        max_restarts: 2,
    })
    .unwrap();
    let sup_down = sup.monitor();
    kill_and_wait(&sup, "a");
    kill_and_wait(&sup, "a");
    let children: Vec<Monitor> = children_of(&sup)
        .iter()
        .filter_map(|(_, p)| *p)
        .map(|p| Process::<()>::from_pid(p).monitor())
        .collect();
    Process::<()>::from_pid(pid_of(&children_of(&sup), "a").unwrap()).kill();
    let reason = sup_down.wait().to_string();
    println!(
        "intensity: supervisor exits: {}",
        reason.contains("restart intensity exceeded: more than 2 restarts")
    );
    println!(
        "intensity: its children are gone: {}",
        children
            .into_iter()
            // `a` killed here, the others stopped by the supervisor with `shutdown`.
            .all(|m| matches!(m.wait(), ExitReason::Killed | ExitReason::Shutdown))
    );

    // Restart policies.
    let sup = supervisor::start(Policies).unwrap();
    let c = children_of(&sup);
    let transient = Process::<()>::from_pid(pid_of(&c, "transient").unwrap());
    let t_down = transient.monitor();
    transient.send(&()); // ends normally: not restarted
    t_down.wait();
    Process::<()>::from_pid(pid_of(&c, "temporary").unwrap()).kill(); // never restarted
    let permanent = pid_of(&c, "permanent").unwrap();
    Process::<()>::from_pid(permanent).send(&()); // ends normally: restarted anyway
    let mut after = children_of(&sup);
    for _ in 0..2000 {
        if pid_of(&after, "permanent").is_some_and(|p| p != permanent) && after.len() == 2 {
            break;
        }
        warren::sleep(Duration::from_millis(2));
        after = children_of(&sup);
    }
    let shown: Vec<String> = after
        .iter()
        .map(|(n, p)| format!("{n}:{}", if p.is_some() { "running" } else { "stopped" }))
        .collect();
    println!("policies: {shown:?}");
    supervisor::stop(&sup);

    // Nesting: the outer supervisor restarts a crashed inner supervisor, and its workers.
    let outer = supervisor::start(Outer).unwrap();
    let outer_before = children_of(&outer);
    let inner: Supervisor = Process::from_pid(pid_of(&outer_before, "inner").unwrap());
    let inner_children = children_of(&inner);
    let after = kill_and_wait(&outer, "inner");
    let new_inner: Supervisor = Process::from_pid(pid_of(&after, "inner").unwrap());
    let new_children = children_of(&new_inner);
    println!(
        "nested: worker w kept: {}",
        pid_of(&after, "w") == pid_of(&outer_before, "w")
    );
    println!(
        "nested: inner workers restarted: {:?}",
        restarted(&inner_children, &new_children)
    );
    supervisor::stop(&outer);
    println!(
        "nested: all gone after stop: {}",
        supervisor::which_children(&new_inner).is_none()
    );
}

/// With a compute budget (--max-fuel), an endless computation ends with limit(compute), and
/// only that process.
fn compute_bomb() {
    let (_p, down) = spawn_monitor!(|_m: Mailbox<()>| {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    })
    .unwrap();
    println!("bomb: {}", down.wait());
    println!("parent still running: true");
}

fn deep_exit(depth: u32, reason: ExitReason) -> u32 {
    if depth == 0 {
        warren::exit(reason);
    }
    deep_exit(depth - 1, reason) + 1
}

/// exit(reason) ends the caller with that reason from anywhere; Process::exit sends a
/// trappable exit signal.
fn exit_reasons() {
    let (_p, d) = spawn_monitor!(|_m: Mailbox<()>| {
        deep_exit(10, ExitReason::Normal);
    })
    .unwrap();
    println!("exit normal: {}", d.wait());
    let (_p, d) = spawn_monitor!(|_m: Mailbox<()>| {
        deep_exit(3, ExitReason::Exit(3));
    })
    .unwrap();
    println!("exit code: {}", d.wait());
    let (_p, d) = spawn_monitor!(|mb: Mailbox<()>| {
        spawn_link!(|_m: Mailbox<()>| warren::exit(ExitReason::Panic("giving up".into()))).unwrap();
        mb.receive();
    })
    .unwrap();
    println!("propagated: {}", strip_pids(&d.wait().to_string()));

    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    let (trapper, d1) = spawn_monitor!(me; |mb: Mailbox<()>| {
        warren::trap_exit(true);
        me.send(&"ready".to_string());
        if let Signal::Exit { from, reason } = mb.receive_signal() {
            me.send(&format!("trapped exit signal from {}: {reason}", if from == me.pid() { "root" } else { "?" }));
        }
    })
    .unwrap();
    mailbox.receive();
    println!(
        "signal sent: {}",
        trapper.exit(&ExitReason::Panic("stop".into()))
    );
    println!("{}", mailbox.receive());
    println!("trapper: {}", d1.wait());
    let (plain, d2) = spawn_monitor!(|mb: Mailbox<()>| mb.receive()).unwrap();
    plain.exit(&ExitReason::Normal);
    println!(
        "normal signal ignored: {:?}",
        d2.wait_timeout(Duration::from_millis(30))
    );
    plain.exit(&ExitReason::Limit("quota".into()));
    println!("abnormal signal: {}", strip_pids(&d2.wait().to_string()));
}

fn hoard(_: (), _m: Mailbox<()>) {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 256 * 1024]);
    }
}

fn spin(_: (), _m: Mailbox<()>) {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Limits per spawn: a smaller memory limit, and a compute budget when the runtime counts fuel.
fn spawn_limits() {
    let (_p, d) = SpawnOptions::new()
        .max_memory(4 << 20)
        .spawn_monitor((), hoard)
        .unwrap();
    let reason = d.wait().to_string();
    println!(
        "small memory: {}",
        reason.contains("exceeds the limit of 4194304 bytes")
    );
    println!(
        "more than the runtime: {:?}",
        SpawnOptions::new()
            .max_memory(usize::MAX)
            .spawn((), hoard)
            .err()
    );
    match SpawnOptions::new()
        .max_fuel(1_000_000)
        .spawn_monitor((), spin)
    {
        Ok((_p, d)) => println!("fuel: {}", d.wait()),
        Err(e) => println!("fuel: {e:?}"),
    }
    println!(
        "more fuel than the runtime: {:?}",
        SpawnOptions::new().max_fuel(u64::MAX).spawn((), spin).err()
    );
}

/// A known workload for the observer's `/metrics`: 5 workers that each receive one message
/// and end normally, 2 that panic, all monitored (7 DOWN messages); then the root registers a
/// name and waits, holding a TCP listener (a handle the observer shows). 8 processes spawned,
/// 12 messages delivered.
fn observed_workload() {
    let mut monitors = Vec::new();
    for _ in 0..5 {
        let (p, m) = spawn_monitor!(|mb: Mailbox<u64>| {
            mb.receive();
        })
        .unwrap();
        p.send(&7u64);
        monitors.push(m);
    }
    for _ in 0..2 {
        let (_p, m) = spawn_monitor!(|_m: Mailbox<()>| panic!("planned")).unwrap();
        monitors.push(m);
    }
    for m in monitors {
        m.wait();
    }
    let _listener = warren::net::TcpListener::bind("127.0.0.1:0").unwrap();
    Process::<()>::this().register("observed").unwrap();
    println!("workload done");
    loop {
        warren::sleep(Duration::from_secs(3600));
    }
}
