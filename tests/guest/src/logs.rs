//! Logging scenarios (crates/cli/tests/logs.rs reads what the host printed on stderr):
//!
//! - `logs`: three named workers log at info, debug and warn under two targets (and one
//!   through `tracing`, whose `log` feature hands its events to the same logger); a process
//!   named `crasher` panics; a supervised child fails once and is restarted. Each process
//!   prints its pid and name on stdout, so the test can match records to processes.
//! - `log_flood COUNT`: one process logs COUNT records as fast as it can while two others
//!   play ping-pong; after a pause longer than a second it logs one last record, which says
//!   how many of the flood were dropped. It prints how many records it made and the round
//!   trips completed.
//! - `logs_observed` (with `--observe` and `--max-log-rate 10`): a process named `chatty`
//!   logs 12 lines at once (10 pass the rate, 2 are dropped), then waits; so does the root.

use warren::supervisor::{self, Child, Restart, Supervise};
use warren::{Mailbox, Process};

pub fn run(scenario: &str, arg: Option<&str>) -> bool {
    match scenario {
        "logs" => logs(),
        "log_flood" => flood(arg.and_then(|a| a.parse().ok()).unwrap_or(10_000)),
        "logs_observed" => observed(),
        _ => return false,
    }
    true
}

fn worker(i: u32, _: Mailbox<()>) {
    let name = format!("worker-{i}");
    Process::<()>::this().register(&name).expect("register");
    println!("{name} is {}", warren::this());
    log::info!(target: "app::worker", "hello from {i}");
    log::debug!(target: "app::worker", "debug from {i}");
    log::warn!(target: "app::other", "warning from {i}");
}

fn crasher(_: (), _: Mailbox<()>) {
    Process::<()>::this().register("crasher").expect("register");
    println!("crasher is {}", warren::this());
    panic!("boom in the crasher");
}

/// Fails the first time it runs (it leaves a name on its supervisor's parent to remember).
fn flaky(main: u64, _: Mailbox<()>) {
    if warren::whereis::<()>("flaky-failed").is_none() {
        Process::<()>::from_pid(main)
            .register("flaky-failed")
            .expect("register");
        panic!("flaky fails once");
    }
    println!("flaky runs again");
    Mailbox::<()>::this().receive();
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct Flaky(u64);

impl Supervise for Flaky {
    fn children(&self) -> Vec<Child> {
        vec![Child::worker("flaky", Restart::Permanent, self.0, flaky)]
    }
}

fn logs() {
    tracing::info!(target: "app::traced", answer = 42, "through tracing");
    let mut monitors = Vec::new();
    for i in 0..3 {
        let (_, m) = warren::spawn_monitor(i, worker).expect("spawn a worker");
        monitors.push(m);
    }
    let (_, m) = warren::spawn_monitor((), crasher).expect("spawn the crasher");
    monitors.push(m);
    for m in monitors {
        m.wait();
    }
    let sup = supervisor::start(Flaky(warren::this())).expect("start the supervisor");
    // The supervisor answers once its child was started again.
    while supervisor::count_restarts(&sup) != Some(1) {
        warren::sleep(std::time::Duration::from_millis(10));
    }
    println!("logs done");
}

fn flood(count: u64) {
    let (_, pinger) = warren::spawn_monitor(1000u32, ping).expect("spawn the pinger");
    for i in 0..count {
        log::info!(target: "app::flood", "record {i}");
    }
    println!("flood made {count}");
    println!("pings {:?}", pinger.wait());
    warren::sleep(std::time::Duration::from_millis(1200));
    log::info!(target: "app::flood", "flood over");
    println!("flood over");
}

fn ping(rounds: u32, mailbox: Mailbox<u64>) {
    let me = warren::this();
    let echo = warren::spawn(me, |to: u64, mb: Mailbox<u64>| {
        loop {
            let n = mb.receive();
            Process::<u64>::from_pid(to).send(&n);
        }
    })
    .expect("spawn the echo");
    for n in 0..u64::from(rounds) {
        echo.send(&n);
        assert_eq!(mailbox.receive(), n);
    }
    println!("pinged {rounds} round trips");
}

fn observed() {
    warren::spawn((), |_: (), mailbox: Mailbox<()>| {
        Process::<()>::this().register("chatty").expect("register");
        for i in 0..12 {
            log::info!(target: "app::chatty", "line {i}");
        }
        mailbox.receive();
    })
    .expect("spawn chatty");
    Mailbox::<()>::this().receive();
}
