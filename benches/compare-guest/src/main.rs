//! The warren side of warren's benchmark comparison (`benches/compare`), a guest:
//!
//! ```text
//! warren run --dir /proc:/proc compare-guest.wasm spawn N | idle N | hibernate N | wake N | pingpong N | ring N LAPS | fanout N M | flow N | mailbox N | maxn BUDGET_MIB
//! warren run --cluster URL --node a compare-guest.wasm dist_rtt N | dist_tput N   # with node b serving
//! warren run [--tls-cert C --tls-key K] compare-guest.wasm http_hello ADDR [per_connection] [tls]
//! ```
//!
//! Each workload prints `result NAME VALUE UNIT`, like the Erlang module and the tokio
//! program doing the same work (the TCP echo server is `examples/echo`). Memory is the warren
//! host process's resident set, read from `/proc/self/status` (granted with `--dir`).
//!
//! `--env WARREN_DELAY=SECONDS` waits that long before the workload starts (time to open the
//! observer's page on it: `compare observe`).
//!
//! For profiling, `--env WARREN_HOLD=SECONDS` keeps the processes of `idle` and `hibernate`
//! alive that long after the result is printed (read the host's `/proc/PID/smaps` meanwhile),
//! and `ring` holds after its lap that counts pages touched (`ring_pages`), so smaps tells
//! which mappings they are in.

use std::time::Instant;
use warren::{Mailbox, Process, Reply, hibernate, spawn};

fn result(name: &str, value: f64, unit: &str) {
    println!("result {name} {value:.3} {unit}");
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status (run with --dir /proc:/proc)");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

fn spawn_n(n: usize) {
    let me: Process<()> = Process::this();
    let mailbox: Mailbox<()> = Mailbox::this();
    let t0 = Instant::now();
    for _ in 0..n {
        spawn!(me; |_mailbox: Mailbox<()>| { me.send(&()); }).expect("spawn");
    }
    for _ in 0..n {
        mailbox.receive();
    }
    result(
        "spawn",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/spawn",
    );
}

/// An idle process: it says it is up (a process is instantiated after `spawn` returns, so
/// memory is read only once all have said so), then waits in its mailbox.
fn idle_process(parent: Process<()>) -> Option<Process<()>> {
    spawn!(parent; |mailbox: Mailbox<()>| {
        parent.send(&());
        mailbox.receive();
    })
    .ok()
}

/// Spawn up to `n` idle processes and wait until they are all up.
fn spawn_idle(n: usize) -> Vec<Process<()>> {
    let me: Process<()> = Process::this();
    let processes: Vec<_> = (0..n).map_while(|_| idle_process(me)).collect();
    let mailbox: Mailbox<()> = Mailbox::this();
    for _ in 0..processes.len() {
        mailbox.receive();
    }
    processes
}

fn idle(n: usize) {
    let before = rss_bytes();
    let processes = spawn_idle(n);
    assert_eq!(processes.len(), n, "spawn failed (raise --max-processes)");
    let after = rss_bytes();
    result("idle", (after - before) as f64 / n as f64, "bytes/process");
    hold();
    drop(processes);
}

/// Keep the processes alive for `WARREN_HOLD` seconds, if set (see the module docs).
fn hold() {
    if let Some(s) = std::env::var("WARREN_HOLD")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        println!("holding for {s} s");
        std::thread::sleep(std::time::Duration::from_secs(s));
    }
}

/// Wait `WARREN_DELAY` seconds, if set, before the workload (see the module docs).
fn delay() {
    if let Some(s) = std::env::var("WARREN_DELAY")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_secs(s));
    }
}

/// A hibernating process: answers a request (waking), then hibernates again.
fn sleeper(_: (), mailbox: Mailbox<Reply<()>>) {
    mailbox.receive().send(&());
    hibernate((), sleeper)
}

/// Spawn `n` processes that say they are up and hibernate, in waves well under the
/// instance slots (each is awake only until it hibernates).
fn spawn_hibernated(n: usize) -> Vec<Process<Reply<()>>> {
    let me: Process<()> = Process::this();
    let mailbox: Mailbox<()> = Mailbox::this();
    let mut all = Vec::with_capacity(n);
    for wave in (0..n).step_by(500) {
        let size = 500.min(n - wave);
        for _ in 0..size {
            all.push(
                spawn!(me; |_m: Mailbox<Reply<()>>| {
                    me.send(&());
                    hibernate((), sleeper)
                })
                .expect("spawn (raise --max-processes)"),
            );
        }
        for _ in 0..size {
            mailbox.receive();
        }
    }
    // Let the last wave's instances go back.
    std::thread::sleep(std::time::Duration::from_millis(200));
    all
}

/// Hold `n` hibernated processes: resident bytes per process.
fn hibernated(n: usize) {
    let before = rss_bytes();
    let processes = spawn_hibernated(n);
    let after = rss_bytes();
    result(
        "hibernate",
        (after - before) as f64 / n as f64,
        "bytes/process",
    );
    hold();
    drop(processes);
}

/// `n` hibernated processes, each woken once by a request it answers: time per wake-up
/// (the message, a fresh instance, the reply).
fn wake(n: usize) {
    let processes = spawn_hibernated(n);
    let t0 = Instant::now();
    for p in &processes {
        p.request(|r| r).expect("a sleeper answers");
    }
    result(
        "wake",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/wake",
    );
}

fn pingpong(n: usize) {
    let me: Process<()> = Process::this();
    let mailbox: Mailbox<()> = Mailbox::this();
    let pong = spawn!(me; |mailbox: Mailbox<()>| loop {
        mailbox.receive();
        me.send(&());
    })
    .expect("spawn");
    // Warm up: the partner is instantiated after spawn returns.
    pong.send(&());
    mailbox.receive();
    let t0 = Instant::now();
    for _ in 0..n {
        pong.send(&());
        mailbox.receive();
    }
    result(
        "pingpong",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/round-trip",
    );
}

fn ring(n: usize, laps: usize) {
    let mailbox: Mailbox<u64> = Mailbox::this();
    let mut next: Process<u64> = Process::this();
    for _ in 1..n {
        next = spawn!(next; |mailbox: Mailbox<u64>| loop {
            next.send(&mailbox.receive());
        })
        .expect("spawn a ring member");
    }
    // One untimed lap, so that every member is up.
    next.send(&0);
    mailbox.receive();
    let t0 = Instant::now();
    for lap in 0..laps as u64 {
        next.send(&lap);
        mailbox.receive();
    }
    result(
        "ring",
        t0.elapsed().as_secs_f64() * 1e6 / (n * laps) as f64,
        "us/hop",
    );
    // Pages touched per hop, host and guests together: clear the referenced bits of every
    // page of the warren process, run one lap, and count the pages referenced since.
    // Needs `--dir /proc:/proc`; skipped without it.
    if std::fs::write("/proc/self/clear_refs", "1").is_ok() {
        next.send(&0);
        mailbox.receive();
        if let Some(kb) = referenced_kb() {
            result("ring_pages", kb as f64 / 4.0 / n as f64, "pages/hop");
        }
        // Meanwhile, /proc/PID/smaps says which mappings those pages are in.
        hold();
    }
}

/// Kilobytes of the warren process's memory referenced since `clear_refs` was last written.
fn referenced_kb() -> Option<u64> {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Referenced:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Fan-out: one publisher, `n` subscribers; `m` messages, each sent to every subscriber (a
/// chat room's or a presence server's shape). Each subscriber says when it has all `m`; the
/// time is per delivery.
fn fanout(n: usize, m: usize) {
    let me: Process<()> = Process::this();
    let mailbox: Mailbox<()> = Mailbox::this();
    let subscribers: Vec<Process<u64>> = (0..n)
        .map(|_| {
            spawn!(me, m; |mailbox: Mailbox<u64>| {
                me.send(&()); // up
                for _ in 0..m {
                    mailbox.receive();
                }
                me.send(&()); // got them all
            })
            .expect("spawn a subscriber")
        })
        .collect();
    for _ in 0..n {
        mailbox.receive();
    }
    let t0 = Instant::now();
    for i in 0..m as u64 {
        for s in &subscribers {
            s.send(&i);
        }
    }
    for _ in 0..n {
        mailbox.receive();
    }
    result(
        "fanout",
        t0.elapsed().as_secs_f64() * 1e6 / (n * m) as f64,
        "us/delivery",
    );
}

/// Flow control: a producer sends `n` messages to a consumer whose mailbox holds at most 100
/// (policy: block), as fast as it can; the time is per message, the end when the consumer
/// has them all. The producer runs at the consumer's pace and the queue stays at 100.
fn flow(n: usize) {
    use warren::SpawnOptions;
    use warren::bound::{MailboxBound, WhenFull};
    let me: Process<u64> = Process::this();
    let mailbox: Mailbox<u64> = Mailbox::this();
    let consumer = SpawnOptions::new()
        .mailbox(MailboxBound::messages(100).when_full(WhenFull::Block))
        .spawn(
            (me, n),
            |(me, n): (Process<u64>, usize), mailbox: Mailbox<u64>| {
                let mut sum = 0u64;
                for _ in 0..n {
                    sum = sum.wrapping_add(mailbox.receive());
                }
                me.send(&sum);
            },
        )
        .expect("spawn the consumer");
    let t0 = Instant::now();
    for i in 0..n as u64 {
        consumer.send(&i);
    }
    let sum = mailbox.receive();
    assert_eq!(sum, (0..n as u64).sum::<u64>());
    result(
        "flow",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/message",
    );
}

/// A process sends itself `n` small messages, 100 at a time, and receives each batch: the
/// host-call cost of a send and of a receive that finds its message queued (no process
/// switch, no wait). Warren only: the microbenchmark of the receive fast path.
fn mailbox(n: usize) {
    let me: Process<u64> = Process::this();
    let mailbox: Mailbox<u64> = Mailbox::this();
    let t0 = Instant::now();
    let mut sum = 0u64;
    for batch in (0..n as u64).step_by(100) {
        let end = (batch + 100).min(n as u64);
        for i in batch..end {
            me.send(&i);
        }
        for _ in batch..end {
            sum = sum.wrapping_add(mailbox.receive());
        }
    }
    assert_eq!(sum, (0..n as u64).sum::<u64>());
    result(
        "mailbox",
        t0.elapsed().as_secs_f64() * 1e9 / n as f64,
        "ns/message",
    );
}

fn maxn(budget_mib: u64) {
    let budget = budget_mib << 20;
    let base = rss_bytes();
    let mut processes = Vec::new();
    loop {
        let batch = spawn_idle(1_000);
        let limited = batch.len() < 1_000;
        if rss_bytes() - base > budget {
            break;
        }
        processes.extend(batch);
        if limited {
            eprintln!("compare-guest: maxn stopped by the process limit, not memory");
            break;
        }
    }
    result("maxn", processes.len() as f64, "processes");
}

/// What the remote end of the distribution workloads takes.
#[derive(serde::Serialize, serde::Deserialize)]
enum Remote {
    /// Echo the payload back to the process.
    Echo(Vec<u8>, Process<Vec<u8>>),
    /// Count a message.
    Count(Vec<u8>),
    /// Say how many came.
    Total(Reply<u64>),
}

fn remote_end(_: (), mailbox: Mailbox<Remote>) {
    let mut n = 0u64;
    loop {
        match mailbox.receive() {
            Remote::Echo(data, to) => {
                to.send(&data);
            }
            Remote::Count(_) => n += 1,
            Remote::Total(r) => {
                r.send(&n);
                n = 0;
            }
        }
    }
}

/// Distribution (run as node `a`, with node `b` serving): a process on `b` echoes `n`
/// 100-byte messages one at a time (`rtt`: us per round trip), or takes `n` of them as fast
/// as they can be sent and then answers (`tput`: messages per second, one way).
fn dist(workload: &str, n: usize) {
    let b = warren::node::wait_for("b", std::time::Duration::from_secs(30)).expect("node b is up");
    let remote = warren::node::spawn_on(b, (), remote_end).expect("spawn on b");
    let payload = vec![7u8; 100];
    let me: Process<Vec<u8>> = Process::this();
    let mailbox: Mailbox<Vec<u8>> = Mailbox::this();
    // Warm up: the first messages set up the stream.
    for _ in 0..100 {
        remote.send(&Remote::Echo(payload.clone(), me));
        mailbox.receive();
    }
    let t0 = Instant::now();
    if workload == "dist_rtt" {
        for _ in 0..n {
            remote.send(&Remote::Echo(payload.clone(), me));
            mailbox.receive();
        }
        result(
            "dist_rtt",
            t0.elapsed().as_secs_f64() * 1e6 / n as f64,
            "us/round-trip",
        );
    } else {
        for _ in 0..n {
            remote.send(&Remote::Count(payload.clone()));
        }
        let got = remote.request(Remote::Total).expect("total");
        assert_eq!(got, n as u64, "messages lost");
        result("dist_tput", n as f64 / t0.elapsed().as_secs_f64(), "msgs/s");
    }
}

/// The HTTP row's endpoint: `GET /` answers `hello\n`, a process per request (or, with
/// `per_connection`, per connection). Prints `listening on ADDR`.
fn http_hello(args: &[String]) {
    fn hello(_: warren::http::Request) -> warren::http::Response {
        warren::http::Response::text(200, "hello\n")
    }
    let addr = args.first().map_or("127.0.0.1:0", String::as_str);
    let mut server = warren::http::Server::bind(addr).expect("bind");
    let flags: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    if flags.contains(&"per_connection") {
        server = server.per_connection();
    }
    if flags.contains(&"tls") {
        server = server.tls();
    }
    println!("listening on {}", server.local_addr().expect("address"));
    server.serve(hello).expect("serve");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("argument {i} must be a number: {args:?}"))
    };
    delay();
    match args.first().map(String::as_str) {
        Some("spawn") => spawn_n(num(1)),
        Some("idle") => idle(num(1)),
        Some("hibernate") => hibernated(num(1)),
        Some("wake") => wake(num(1)),
        Some("pingpong") => pingpong(num(1)),
        Some("ring") => ring(num(1), num(2)),
        Some("fanout") => fanout(num(1), num(2)),
        Some("flow") => flow(num(1)),
        Some("mailbox") => mailbox(num(1)),
        Some("maxn") => maxn(num(1) as u64),
        Some(w @ ("dist_rtt" | "dist_tput")) => dist(w, num(1)),
        Some("http_hello") => http_hello(&args[1..]),
        _ => {
            eprintln!(
                "usage: compare-guest spawn N | idle N | hibernate N | wake N | pingpong N | \
                 ring N LAPS | fanout N M | flow N | mailbox N | maxn MIB | dist_rtt N | dist_tput N (as node a, node b serving) | \
                 http_hello ADDR [per_connection]"
            )
        }
    }
}
