//! Hostile scenarios: a process that tries to exhaust, freeze or fool the runtime, next to
//! one that must keep working. Each prints facts, one per line, for
//! crates/cli/tests/hostile.rs.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::Duration;
use warren::fs::{File, OpenOptions};
use warren::select::{Source, select};
use warren::stream::{StreamWriter, copy, pipe};
use warren::{Mailbox, Process, spawn, spawn_monitor};

pub fn run(scenario: &str) -> bool {
    match scenario {
        "hostile_pumps" => pumps(),
        "hostile_quotas" => quotas(),
        "hostile_tags" => tags(),
        "hostile_wrong_type" => wrong_type(),
        "hostile_fifo" => fifo(),
        "hostile_capture_release" => capture_release(),
        "hostile_select_signals" => select_signals(),
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

/// Host copies that could loop forever or pile up.
fn pumps() {
    // A pipe copied into itself: refused, nothing starts.
    let (mut w, r) = pipe().unwrap();
    w.write_all(b"x").unwrap();
    println!(
        "pipe into itself: {:?}",
        copy(r, &w).map(|_| ()).map_err(|e| e.kind())
    );

    // A file appended with a stream of itself: refused (it would fill the disk).
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open("/data/grow")
        .unwrap();
    f.write_all(b"0123456789").unwrap();
    let (stream, _end) = f.read_via_stream(0).unwrap();
    println!(
        "file into itself: {:?}",
        f.append_via_stream(stream)
            .map(|_| ())
            .map_err(|e| e.kind())
    );
    let other = File::open("/data/grow").unwrap();
    let (stream, _end) = other.read_via_stream(0).unwrap();
    println!(
        "file into itself by another open: {:?}",
        f.append_via_stream(stream)
            .map(|_| ())
            .map_err(|e| e.kind())
    );

    // Two pipes feeding each other through two copies: a byte circles forever. The copies
    // yield, so everyone else keeps running; cancelling stops them.
    let (mut w1, r1) = pipe().unwrap();
    let (w2, r2) = pipe().unwrap();
    w1.write_all(&[7; 1000]).unwrap();
    let a = copy(r1, &w2).unwrap();
    let b = copy(r2, &w1).unwrap();
    let p = pinger();
    println!(
        "others run while copies circle: {}",
        ping_round_trips(&p, 2000)
    );
    let a_cancelled = a.cancel();
    // Cancelling `a` releases its ends, so `b`'s source closes: `b` ends by itself or is
    // cancelled here (whichever comes first); either way it stops.
    b.cancel();
    println!(
        "cancelled: {a_cancelled} {}",
        b.wait_timeout(Duration::from_secs(10)).is_some()
    );
    println!("cancelled future: {:?}", a.wait().map_err(|e| e.kind()));

    // Copies per process are bounded.
    let (sink, _keep) = pipe().unwrap();
    let mut started = Vec::new();
    let err = loop {
        let (_w, r) = pipe().unwrap();
        match copy(r, &sink) {
            Ok(f) => started.push((f, _w)),
            Err(e) => break e.kind(),
        }
    };
    println!("copies before the limit: {}, then {err:?}", started.len());
    for (f, _) in &started {
        f.cancel();
    }
    println!("after cancelling: {:?}", {
        let (_w, r) = pipe().unwrap();
        copy(r, &sink).map(|f| f.cancel())
    });
}

#[derive(Serialize, Deserialize)]
struct Big(Vec<u8>);

/// Quotas: a mailbox flood, too many names, timers and monitors end only the offender.
fn quotas() {
    let p = pinger();
    // A process flooding its own mailbox (never receiving) ends with limit: mailbox.
    let (_f, down) = spawn_monitor!(|_mb: Mailbox<Big>| {
        let me = Process::<Big>::this();
        let chunk = Big(vec![1; 1 << 20]);
        loop {
            me.send(&chunk);
        }
    })
    .unwrap();
    println!("flood: {}", first_words(&down.wait().to_string(), 2));

    // A process flooding another: the flooded one ends, the flooder goes on.
    let (victim, down) = spawn_monitor!(|mb: Mailbox<Big>| {
        warren::sleep(Duration::from_secs(3600));
        mb.receive();
    })
    .unwrap();
    let chunk = Big(vec![1; 1 << 20]);
    for _ in 0..100 {
        victim.send(&chunk);
    }
    println!("flooded: {}", first_words(&down.wait().to_string(), 2));
    println!("others answer: {}", ping_round_trips(&p, 10));

    // Names per process are bounded.
    let me = Process::<u32>::this();
    let mut names = 0;
    let err = loop {
        match me.register(&format!("name-{names}")) {
            Ok(()) => names += 1,
            Err(e) => break e,
        }
    };
    println!("names: {names}, then {err:?}");

    // Timers per process are bounded; exceeding them ends the process with limit: timers.
    let (_t, down) = spawn_monitor!(|_mb: Mailbox<u32>| {
        let me = Process::<u32>::this();
        loop {
            let _ = me.send_after(&1, Duration::from_secs(3600));
        }
    })
    .unwrap();
    println!("timers: {}", first_words(&down.wait().to_string(), 2));

    // Monitors per process are bounded too.
    let (_m, down) = spawn_monitor!(|_mb: Mailbox<u32>| {
        let me = Process::<u32>::this();
        let mut held = Vec::new();
        loop {
            held.push(me.monitor());
        }
    })
    .unwrap();
    println!("monitors: {}", first_words(&down.wait().to_string(), 2));
    println!("others still answer: {}", ping_round_trips(&p, 10));
}

fn first_words(s: &str, n: usize) -> String {
    s.split_whitespace().take(n).collect::<Vec<_>>().join(" ")
}

#[link(wasm_import_module = "warren:message")]
unsafe extern "C" {
    #[link_name = "send"]
    fn raw_send(pid: i64, tag: i64, ptr: *const u8, len: u32) -> i32;
    #[link_name = "receive"]
    fn raw_receive(tag: i64, ptr: *mut u8, cap: u32, timeout_ms: i64, tag_out: *mut u64) -> i64;
}

/// Tags the runtime gives meaning to cannot be forged.
fn tags() {
    let me = warren::this() as i64;
    // SAFETY: pointer and length of a static byte string.
    let rc = unsafe { raw_send(me, 1, b"x".as_ptr(), 1) };
    println!("send with the exit-signal tag: {rc}");
    // A tag this process does not hold (never given out, or guessed) is dropped.
    // SAFETY: as above.
    let rc = unsafe { raw_send(me, 12345, b"x".as_ptr(), 1) };
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is a live 8-byte buffer, written during the call only.
    let got = unsafe { raw_receive(12345, buf.as_mut_ptr(), 8, 50, std::ptr::null_mut()) };
    println!("unheld tag: sent {rc}, queued {}", got >= 0);
}

#[derive(Serialize, Deserialize)]
struct Wrong {
    a: String,
    b: u64,
}

/// A message of another type than the mailbox's ends the receiver with a reason that names
/// the expected type, instead of decoding as garbage.
fn wrong_type() {
    let (receiver, down) = spawn_monitor!(|mb: Mailbox<u8>| {
        let n = mb.receive();
        println!("received {n}?!");
    })
    .unwrap();
    Process::<Wrong>::from_pid(receiver.pid()).send(&Wrong {
        a: "x".repeat(100),
        b: 7,
    });
    let reason = down.wait().to_string();
    println!(
        "receiver: {} (names u8: {})",
        first_words(&reason, 1),
        reason.contains("`u8`")
    );
}

/// A FIFO (no writer) in a granted directory: opening it must not block a worker.
fn fifo() {
    for (what, r) in [
        ("read", File::open("/data/fifo")),
        ("write", OpenOptions::new().write(true).open("/data/fifo")),
    ] {
        println!(
            "open fifo to {what}: {:?}",
            r.map(drop).map_err(|e| e.kind())
        );
    }
    println!("others answer: {}", ping_round_trips(&pinger(), 10));
}

/// A handle moved into a child's captures is the child's alone: dropping it at once releases
/// it at once (here: the pipe's end of stream), not when the child exits.
fn capture_release() {
    let (w, mut r) = pipe().unwrap();
    let child = spawn!(w; |_mb: Mailbox<()>| {
        let w: StreamWriter = w;
        drop(w);
        warren::sleep(Duration::from_secs(3600));
    })
    .unwrap();
    let mut buf = [0u8; 8];
    let start = std::time::Instant::now();
    let n = std::io::Read::read(&mut r, &mut buf).unwrap();
    println!(
        "end of stream while the child lives: {}",
        n == 0 && start.elapsed() < Duration::from_secs(60)
    );
    child.kill();
}

/// `select` over ordinary messages and exit signals at once wakes for either.
fn select_signals() {
    warren::trap_exit(true);
    let child = warren::spawn_link!(|mb: Mailbox<()>| {
        mb.receive();
        panic!("linked child fails");
    })
    .unwrap();
    let mb = Mailbox::<()>::this();
    let waiter = spawn!(child; |_m: Mailbox<()>| {
        warren::sleep(Duration::from_millis(100));
        child.send(&());
    });
    drop(waiter);
    let ready = select(
        &[Source::Messages, Source::Signals],
        Some(Duration::from_secs(30)),
    );
    println!("select: {ready:?}");
    println!(
        "signal: {}",
        matches!(mb.receive_signal(), warren::Signal::Exit { .. })
    );
}
