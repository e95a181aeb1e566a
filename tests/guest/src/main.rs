//! Scenarios for warren's test suite that need something of `warren run` itself: its flags
//! (limits on memory, processes, instances, fuel), its observer, its exit code, or a real
//! client or server beside it. `warren run test_guest.wasm SCENARIO [ARG]`. A scenario
//! asserts what it observed inside the guest, so a failed expectation ends the root with its
//! message (and a non-zero exit code); what it prints is the line a test in crates/cli/tests
//! waits for, or the values that test compares with what the host saw.
//!
//! How processes behave whatever the flags (links, monitors, messages, names, timers,
//! supervisors, contained failures) is `tests/semantics`, a `warren::tests!` program.

use std::time::Duration;
use warren::SpawnOptions;
use warren::{ExitReason, Mailbox, Process, SpawnError, spawn, spawn_monitor};

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
    if io::run(&scenario, arg.as_deref())
        || http::run(&scenario, arg.as_deref())
        || hostile::run(&scenario, arg.as_deref())
        || dist::run(&scenario)
        || hibernate::run(&scenario, arg.as_deref())
        || shutdown::run(&scenario)
        || logs::run(&scenario, arg.as_deref())
    {
        return;
    }
    match scenario.as_str() {
        "child_memory_bomb" => child_memory_bomb(),
        "spawn_limit" => spawn_limit(arg.as_deref()),
        "instance_limit" => instance_limit(arg.as_deref()),
        "compute_bomb" => compute_bomb(),
        "busy_pair" => busy_pair(),
        "spawn_limits" => spawn_limits(arg.as_deref()),
        "observed_workload" => observed_workload(),
        "observed_deadlock" => observed_deadlock(),
        "root_panic" => panic!("root says no"),
        "root_trap" => std::arch::wasm32::unreachable(),
        "root_exit" => std::process::exit(7),
        other => {
            eprintln!("unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// The number a scenario was given as its argument (the limit its test set with a flag).
fn number(arg: Option<&str>, what: &str) -> usize {
    arg.and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("give {what} as the scenario's argument"))
}

/// What a monitored child ended with, as text.
fn reason_of(down: warren::Monitor) -> String {
    down.wait().to_string()
}

/// Under `--max-memory`, a process that keeps growing its memory ends with `limit`, alone.
fn child_memory_bomb() {
    let (_p, m) = spawn_monitor!(|_m: Mailbox<()>| {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![1u8; 1 << 20]);
        }
    })
    .expect("spawn");
    let reason = reason_of(m);
    assert!(
        reason.starts_with("limit: memory: growing linear memory to"),
        "{reason}"
    );
    println!("memory bomb ended alone: {reason}");
}

/// Under `--max-processes N`, the root spawns N-1 processes and the next spawn is refused;
/// the runtime stays responsive: free one and spawn again.
fn spawn_limit(arg: Option<&str>) {
    let limit = number(arg, "the --max-processes limit");
    let mut alive = Vec::new();
    loop {
        match spawn!(|mb: Mailbox<()>| mb.receive()) {
            Ok(p) => alive.push(p),
            Err(SpawnError::ProcessLimit) => break,
            Err(e) => panic!("unexpected spawn error {e}"),
        }
    }
    assert_eq!(
        alive.len(),
        limit - 1,
        "spawned beside the root before the limit"
    );
    let m = alive[0].monitor();
    assert!(alive[0].kill());
    m.wait();
    let (_p, m) = spawn_monitor!(|_mb: Mailbox<()>| {}).expect("spawn after freeing one");
    assert_eq!(m.wait(), ExitReason::Normal);
    println!("spawn limit held at {limit} and freed");
}

/// Under `--max-instances N`, N-1 awake children take the slots left beside the root; one
/// more gets none, and ends with a reason naming the limit and the flag that sets it.
fn instance_limit(arg: Option<&str>) {
    let slots = number(arg, "the --max-instances limit");
    let me: Process<()> = Process::this();
    let mailbox: Mailbox<()> = Mailbox::this();
    let mut awake = Vec::new();
    for _ in 1..slots {
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
    let reason = reason_of(m);
    assert!(
        reason.starts_with("limit: processes: cannot create process"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("all {slots} instance slots are taken"))
            && reason.contains("--max-instances"),
        "{reason}"
    );
    assert!(!reason.contains("max_map_count"), "{reason}");
    println!("a child ended: {reason}");
}

const OUT_OF_FUEL: &str = "limit: compute: the process used up its fuel budget";

/// With a compute budget (`--max-fuel`), an endless computation ends with limit(compute), and
/// only that process.
fn compute_bomb() {
    let (_p, down) = spawn_monitor!(|_m: Mailbox<()>| {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    })
    .expect("spawn");
    assert_eq!(reason_of(down), OUT_OF_FUEL);
    println!("compute bomb ended alone");
}

/// Two processes that compute and never wait (each preempted at the end of every time
/// slice), spawned one after the other by the root; both must finish. The scheduler's test
/// (crates/runtime/tests/scheduling.rs) checks the second worker took one of them.
fn busy_pair() {
    let downs: Vec<_> = (0..2)
        .map(|_| {
            spawn_monitor!(|_m: Mailbox<()>| {
                let mut x = 0u64;
                for _ in 0..200_000_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                std::hint::black_box(x);
            })
            .expect("spawn")
        })
        .collect();
    for (_p, down) in downs {
        assert_eq!(reason_of(down), "normal");
    }
    println!("both busy processes finished");
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

/// Limits per spawn: a smaller memory limit, never more than the runtime's; a compute
/// budget when the runtime counts fuel (`spawn_limits fuel`, run with `--max-fuel`), refused
/// when it does not (`spawn_limits`).
fn spawn_limits(arg: Option<&str>) {
    let counts_fuel = arg == Some("fuel");
    let (_p, d) = SpawnOptions::new()
        .max_memory(4 << 20)
        .spawn_monitor((), hoard)
        .expect("spawn");
    let reason = reason_of(d);
    assert!(
        reason.contains("exceeds the limit of 4194304 bytes"),
        "{reason}"
    );
    assert_eq!(
        SpawnOptions::new()
            .max_memory(usize::MAX)
            .spawn((), hoard)
            .err(),
        Some(SpawnError::BadOptions),
        "more memory than the runtime's"
    );
    match SpawnOptions::new()
        .max_fuel(1_000_000)
        .spawn_monitor((), spin)
    {
        Ok((_p, d)) if counts_fuel => assert_eq!(reason_of(d), OUT_OF_FUEL),
        Err(SpawnError::BadOptions) if !counts_fuel => {}
        Ok(_) => panic!("a fuel budget accepted by a runtime that does not count fuel"),
        Err(e) => panic!("a fuel budget refused: {e:?}"),
    }
    assert_eq!(
        SpawnOptions::new().max_fuel(u64::MAX).spawn((), spin).err(),
        Some(SpawnError::BadOptions),
        "more fuel than the runtime's"
    );
    println!("spawn limits held (counting fuel: {counts_fuel})");
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

/// For the observer's test of bounded mailboxes: processes `left` and `right`, each with
/// room for one message (policy: block), send to each other without receiving — a deadlock, both
/// waiting for good — and `sink` (room for 2, policy: drop newest) is sent 5 messages, of
/// which 3 are dropped. The root then says so and waits.
fn observed_deadlock() {
    use warren::bound::{MailboxBound, WhenFull};
    let blocking = MailboxBound::messages(1).when_full(WhenFull::Block);
    let me: Process<u64> = Process::this();
    let a = SpawnOptions::new()
        .mailbox(blocking)
        .spawn(me, |me: Process<u64>, m: Mailbox<Process<u64>>| {
            Process::<u64>::this().register("left").expect("name left");
            let b = m.receive();
            me.send(&0);
            for i in 0..3 {
                b.send(&i); // the second waits for good: b never receives again
            }
        })
        .expect("spawn a");
    let b = SpawnOptions::new()
        .mailbox(blocking)
        .spawn(
            (me, a),
            |(me, a): (Process<u64>, Process<Process<u64>>), _m: Mailbox<u64>| {
                Process::<u64>::this()
                    .register("right")
                    .expect("name right");
                a.send(&Process::this());
                me.send(&0);
                // a took the first; the next fills its room, the one after waits for good.
                for _ in 0..3 {
                    a.send(&Process::this());
                }
            },
        )
        .expect("spawn b");
    let mailbox: Mailbox<u64> = Mailbox::this();
    mailbox.receive();
    mailbox.receive();
    let sink = SpawnOptions::new()
        .mailbox(MailboxBound::messages(2).when_full(WhenFull::DropNewest))
        .spawn((), |(), _m: Mailbox<u64>| {
            warren::sleep(Duration::from_secs(3600))
        })
        .expect("spawn the sink");
    for i in 0..5 {
        assert!(sink.send(&i));
    }
    Process::<()>::this().register("observed").expect("name");
    println!("deadlock set up: a {} b {}", a.pid(), b.pid());
    loop {
        warren::sleep(Duration::from_secs(3600));
    }
}
