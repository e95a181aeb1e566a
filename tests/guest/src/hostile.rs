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
        "hostile_bounds" => bounds(),
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

/// Bounded mailboxes against the runtime: a thousand senders blocked on full mailboxes, and
/// a process flipping its bound in a loop under them. Everyone else keeps running; the
/// blocked senders are killed where they wait, the flipper too, and nothing stays behind
/// (crates/runtime/tests/churn.rs runs this to its end and counts what is left).
fn bounds() {
    use warren::bound::{MailboxBound, WhenFull};
    use warren::{ExitReason, SpawnOptions};
    let p = pinger();
    // A thousand full mailboxes (bound 1, one message queued, nobody receiving) and a
    // sender blocked on each.
    let mut sinks = Vec::new();
    let mut senders = Vec::new();
    for i in 0..1000u32 {
        let sink = SpawnOptions::new()
            .mailbox(MailboxBound::messages(1))
            .spawn((), |(), _m: Mailbox<u32>| {
                warren::sleep(Duration::from_secs(3600))
            })
            .expect("spawn a sink");
        assert!(sink.send(&i));
        let sender = spawn_monitor!(sink; |_m: Mailbox<()>| {
            sink.send(&0);
            panic!("a send to a full mailbox returned");
        })
        .expect("spawn a sender");
        sinks.push(sink);
        senders.push(sender);
    }
    // A process flipping its own bound between tight and none, as fast as it can, with a
    // sender blocked on it when tight.
    let (flipper, flipping) = spawn_monitor!(|m: Mailbox<u32>| {
        let tight = Some(MailboxBound::messages(1).when_full(WhenFull::Block));
        loop {
            m.set_bound(tight);
            m.set_bound(None);
            let _ = m.receive_timeout(Duration::ZERO);
        }
    })
    .expect("spawn the flipper");
    let (_feeder, feeding) = spawn_monitor!(flipper; |_m: Mailbox<()>| {
        for i in 0..100_000u32 {
            if !flipper.send(&i) {
                return;
            }
        }
    })
    .expect("spawn the feeder");
    assert!(ping_round_trips(&p, 100), "others answer");
    for (sender, down) in senders {
        assert!(sender.kill());
        assert_eq!(down.wait(), ExitReason::Killed);
    }
    assert!(flipper.kill(), "the flipper is preemptible and killable");
    assert_eq!(flipping.wait(), ExitReason::Killed);
    let fed = feeding.wait();
    assert_eq!(
        fed,
        ExitReason::Normal,
        "the feeder ends (its sends return)"
    );
    for sink in sinks {
        sink.kill();
    }
    assert!(ping_round_trips(&p, 10), "others still answer");
    p.kill();
    println!("bounded mailboxes held a thousand blocked senders and a flipping bound");
}
