//! Hostile scenarios that depend on `warren run`'s flags (quotas, granted directories): a
//! process that tries to exhaust or freeze the runtime, next to one that must keep working.
//! Each asserts inside the guest and prints one line when all held, for
//! crates/cli/tests/hostile.rs. Forged tags, wrong types and the like need no flag: they are
//! tests of `tests/semantics` and `tests/resources`.

use serde::{Deserialize, Serialize};
use std::io::{ErrorKind, Write};
use std::time::Duration;
use warren::fs::{File, OpenOptions};
use warren::stream::{copy, pipe};
use warren::{Mailbox, Process, RegisterError, spawn, spawn_monitor};

pub fn run(scenario: &str, arg: Option<&str>) -> bool {
    match scenario {
        "hostile_pumps" => pumps(),
        "hostile_quotas" => quotas(arg),
        "hostile_fifo" => fifo(),
        _ => return false,
    }
    true
}

/// A process that answers pings: proof that the runtime still serves others.
fn pinger() -> Process<(u32, Process<u32>)> {
    spawn((), |(), mb: Mailbox<(u32, Process<u32>)>| {
        loop {
            let (n, back) = mb.receive();
            back.send(&n);
        }
    })
    .unwrap()
}

fn ping_round_trips(pinger: &Process<(u32, Process<u32>)>, n: u32) -> bool {
    let me = Process::<u32>::this();
    let mb = Mailbox::<u32>::this();
    (0..n).all(|i| {
        pinger.send(&(i, me));
        mb.receive_timeout(Duration::from_secs(10)) == Some(i)
    })
}

/// Host copies that could loop forever or pile up (`--dir HOST:/data`).
fn pumps() {
    // A pipe copied into itself: refused, nothing starts.
    let (mut w, r) = pipe().expect("pipe");
    w.write_all(b"x").expect("write");
    assert_eq!(
        copy(r, &w).map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::InvalidInput),
        "a pipe into itself"
    );

    // A file appended with a stream of itself: refused (it would fill the disk).
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open("/data/grow")
        .expect("open");
    f.write_all(b"0123456789").expect("write");
    let (stream, _end) = f.read_via_stream(0).expect("stream");
    assert_eq!(
        f.append_via_stream(stream)
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::InvalidInput),
        "a file into itself"
    );
    let other = File::open("/data/grow").expect("open");
    let (stream, _end) = other.read_via_stream(0).expect("stream");
    assert_eq!(
        f.append_via_stream(stream)
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::InvalidInput),
        "a file into itself by another open"
    );

    // Two pipes feeding each other through two copies: a byte circles forever. The copies
    // yield, so everyone else keeps running; cancelling stops them.
    let (mut w1, r1) = pipe().expect("pipe");
    let (w2, r2) = pipe().expect("pipe");
    w1.write_all(&[7; 1000]).expect("write");
    let a = copy(r1, &w2).expect("copy");
    let b = copy(r2, &w1).expect("copy");
    let p = pinger();
    assert!(ping_round_trips(&p, 2000), "others run while copies circle");
    assert!(a.cancel(), "the first copy is cancelled");
    // Cancelling `a` releases its ends, so `b`'s source closes: `b` ends by itself or is
    // cancelled here (whichever comes first); either way it stops.
    b.cancel();
    assert!(
        b.wait_timeout(Duration::from_secs(10)).is_some(),
        "the second copy stops"
    );
    assert_eq!(
        a.wait().map_err(|e| e.kind()),
        Err(ErrorKind::BrokenPipe),
        "a cancelled future"
    );

    // Copies per process are bounded.
    let (sink, _keep) = pipe().expect("pipe");
    let mut started = Vec::new();
    let err = loop {
        let (_w, r) = pipe().expect("pipe");
        match copy(r, &sink) {
            Ok(f) => started.push((f, _w)),
            Err(e) => break e.kind(),
        }
    };
    assert_eq!((started.len(), err), (256, ErrorKind::QuotaExceeded));
    for (f, _) in &started {
        f.cancel();
    }
    let (_w, r) = pipe().expect("pipe");
    assert_eq!(
        copy(r, &sink).map(|f| f.cancel()).map_err(|e| e.kind()),
        Ok(true),
        "a copy after cancelling"
    );
    println!("host copies refused their loops, yielded and were bounded");
}

#[derive(Serialize, Deserialize)]
struct Big(Vec<u8>);

/// Quotas: a mailbox flood, too many names, timers and monitors end only the offender.
/// `hostile_quotas NAMES`: how many names the runtime allows a process (`--max-names`).
fn quotas(names_allowed: Option<&str>) {
    let names_allowed: usize = names_allowed
        .and_then(|n| n.parse().ok())
        .expect("give the name quota as the argument");
    let reason = |down: warren::Monitor| down.wait().to_string();
    let p = pinger();
    // A process flooding its own mailbox (never receiving) ends with limit: mailbox.
    let (_f, down) = spawn_monitor!(|_mb: Mailbox<Big>| {
        let me = Process::<Big>::this();
        let chunk = Big(vec![1; 1 << 20]);
        loop {
            me.send(&chunk);
        }
    })
    .expect("spawn");
    let r = reason(down);
    assert!(r.starts_with("limit: mailbox:"), "the flooder: {r}");

    // A process flooding another: the flooded one ends, the flooder goes on.
    let (victim, down) = spawn_monitor!(|mb: Mailbox<Big>| {
        warren::sleep(Duration::from_secs(3600));
        mb.receive();
    })
    .expect("spawn");
    let chunk = Big(vec![1; 1 << 20]);
    for _ in 0..100 {
        victim.send(&chunk);
    }
    let r = reason(down);
    assert!(r.starts_with("limit: mailbox:"), "the flooded: {r}");
    assert!(ping_round_trips(&p, 10), "others answer");

    // Names per process are bounded.
    let me = Process::<u32>::this();
    let mut names = 0;
    let err = loop {
        match me.register(&format!("name-{names}")) {
            Ok(()) => names += 1,
            Err(e) => break e,
        }
    };
    assert_eq!((names, err), (names_allowed, RegisterError::TooMany));

    // Timers per process are bounded; exceeding them ends the process with limit: timers.
    let (_t, down) = spawn_monitor!(|_mb: Mailbox<u32>| {
        let me = Process::<u32>::this();
        loop {
            let _ = me.send_after(&1, Duration::from_secs(3600));
        }
    })
    .expect("spawn");
    let r = reason(down);
    assert!(r.starts_with("limit: timers:"), "the timer hoarder: {r}");

    // Monitors per process are bounded too.
    let (_m, down) = spawn_monitor!(|_mb: Mailbox<u32>| {
        let me = Process::<u32>::this();
        let mut held = Vec::new();
        loop {
            held.push(me.monitor());
        }
    })
    .expect("spawn");
    let r = reason(down);
    assert!(
        r.starts_with("limit: references:"),
        "the monitor hoarder: {r}"
    );
    assert!(ping_round_trips(&p, 10), "others still answer");
    println!("quotas ended only the offenders ({names_allowed} names)");
}

/// A FIFO (no writer) in a granted directory: opening it must not block a worker.
fn fifo() {
    assert_eq!(
        File::open("/data/fifo").map(drop).map_err(|e| e.kind()),
        Err(ErrorKind::PermissionDenied),
        "open a fifo to read"
    );
    // Without a reader the kernel refuses a non-blocking open for writing (ENXIO).
    assert!(
        OpenOptions::new().write(true).open("/data/fifo").is_err(),
        "open a fifo to write"
    );
    assert!(ping_round_trips(&pinger(), 10), "others answer");
    println!("a fifo blocked no worker");
}
