//! One program in three versions, for the hot code upgrade tests
//! (crates/runtime/tests/upgrade_builds.rs builds it three times: no features, `v2`, `v3`).
//!
//! `main` starts four processes, registers each, and tells the host mailbox "host" that it is
//! ready. Every answer to the host is `(version, value)`, so the test sees which version's
//! code answered:
//!
//! - `counter` adds what it is sent (version 1: the number; 2 and 3: ten times it) and
//!   answers its count; it hibernates at its named resume point between messages. Version 3
//!   keeps a new state, `Counter`, migrated from the bare count of versions 1 and 2.
//! - `echo` answers what it is sent and hibernates at `echo`, a resume point that version 3
//!   no longer declares.
//! - `gauge` holds a text in versions 1 and 2 and a number in version 3, with no migration.
//! - `tally` is a plain server loop that never hibernates but calls `upgrade::checkpoint`
//!   after each message: it moves to a new version after the first message that follows
//!   the load.
//! - `stubborn` never hibernates: it keeps the version it started on until a purge.
//! - `tree`, a supervisor declared with `supervisor_resume_point!`, moves to each new
//!   version; its child `worker` never hibernates (it answers `9000 + n`), so a purge ends
//!   it and the supervisor restarts it on the newest version.
//!
//! With the argument `web`, `main` serves HTTP instead (on 127.0.0.1, a port of the
//! system's choosing, printed as `listening on ADDR`): its handler `page`, declared with
//! `http_handler!`, answers `version N` with the version that ran it, so a server picks up
//! a new version's handler at the next request (crates/cli/tests/upgrade.rs, under `wrk`).

use warren::http::{Request, Response, Server};
use warren::supervisor::{self, Child, Restart, Supervise};
use warren::{Mailbox, Process, hibernate, resume_point, spawn};

const VERSION: u32 = if cfg!(feature = "v3") {
    3
} else if cfg!(feature = "v2") {
    2
} else {
    1
};

/// Tell the host `(VERSION, value)`, if it has a mailbox named "host" (the runtime tests;
/// under `warren run`, nobody listens).
fn tell(value: u64) {
    let host: Option<Process<(u32, u64)>> = warren::whereis("host");
    if let Some(host) = host {
        host.send(&(VERSION, value));
    }
}

/// What the counter adds for `n`: the behaviour that changes in version 2.
fn step(n: u64) -> u64 {
    if cfg!(feature = "v2") { 10 * n } else { n }
}

#[cfg(not(feature = "v3"))]
fn counter(count: u64, mailbox: Mailbox<u64>) {
    let count = count + step(mailbox.receive());
    tell(count);
    hibernate(count, counter)
}
#[cfg(not(feature = "v3"))]
resume_point!(counter);

/// Version 3's counter state: the count, and the messages counted since version 3.
#[cfg(feature = "v3")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Counter {
    count: u64,
    since_v3: u64,
}

#[cfg(feature = "v3")]
fn counter(state: Counter, mailbox: Mailbox<u64>) {
    let state = Counter {
        count: state.count + step(mailbox.receive()),
        since_v3: state.since_v3 + 1,
    };
    tell(state.count * 1000 + state.since_v3);
    hibernate(state, counter)
}
#[cfg(feature = "v3")]
resume_point!(counter, from: u64 => |count| Counter { count, since_v3: 0 });

fn echo(_: (), mailbox: Mailbox<u64>) {
    tell(mailbox.receive());
    hibernate((), echo)
}
#[cfg(not(feature = "v3"))]
resume_point!(echo);

#[cfg(not(feature = "v3"))]
type Gauge = String;
#[cfg(feature = "v3")]
type Gauge = u64;

fn gauge(reading: Gauge, mailbox: Mailbox<u64>) {
    let _ = mailbox.receive();
    tell(format!("{reading:?}").len() as u64);
    hibernate(reading, gauge)
}
resume_point!(gauge);

fn tally(mut total: u64, mailbox: Mailbox<u64>) {
    loop {
        total += mailbox.receive();
        tell(total);
        total = warren::upgrade::checkpoint(total, tally);
    }
}
resume_point!(tally);

fn stubborn(_: (), mailbox: Mailbox<u64>) {
    loop {
        tell(mailbox.receive());
    }
}

fn worker(_: (), mailbox: Mailbox<u64>) {
    Process::<u64>::this().register("worker").expect("register");
    loop {
        tell(9000 + mailbox.receive());
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Tree;

impl Supervise for Tree {
    fn children(&self) -> Vec<Child> {
        vec![Child::worker("worker", Restart::Permanent, (), worker)]
    }
}
warren::supervisor_resume_point!(Tree);

fn page(_: Request) -> Response {
    Response::text(200, format!("version {VERSION}\n"))
}
warren::http_handler!(page);

fn main() {
    if std::env::args().nth(1).as_deref() == Some("web") {
        let server = Server::bind("127.0.0.1:0").expect("bind");
        println!("listening on {}", server.local_addr().expect("address"));
        server.serve(page).expect("serve");
        return;
    }
    #[cfg(not(feature = "v3"))]
    let start = 0u64;
    #[cfg(feature = "v3")]
    let start = Counter {
        count: 0,
        since_v3: 0,
    };
    #[cfg(not(feature = "v3"))]
    let reading: Gauge = "calm".to_string();
    #[cfg(feature = "v3")]
    let reading: Gauge = 0;
    let started = [
        ("counter", spawn(start, counter).expect("spawn").pid()),
        ("echo", spawn((), echo).expect("spawn").pid()),
        ("gauge", spawn(reading, gauge).expect("spawn").pid()),
        ("tally", spawn(0u64, tally).expect("spawn").pid()),
        ("stubborn", spawn((), stubborn).expect("spawn").pid()),
    ];
    let tree = supervisor::start(Tree).expect("the supervisor");
    tree.register("tree").expect("register");
    for (name, pid) in started {
        warren::Process::<u64>::from_pid(pid)
            .register(name)
            .expect("register");
    }
    tell(0);
}
