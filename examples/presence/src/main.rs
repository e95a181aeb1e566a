//! A presence server: one process per user, holding that user's status, hibernating between
//! messages — so a mostly idle population costs a table entry and a mailbox per user, not a
//! wasm instance.
//!
//! It starts N users (default 10,000), sets and reads each one's status once (each request
//! wakes a hibernated user, which answers and hibernates again), and prints what that cost.
//!
//! Run: `warren run --dir /proc:/proc presence.wasm [N]`; for a million users,
//! `warren run --max-processes 1000100 --max-instances 2000 --dir /proc:/proc presence.wasm 1000000`
//! (`--dir /proc:/proc` lets it read the host's resident memory).

use serde::{Deserialize, Serialize};
use std::time::Instant;
use warren::{Mailbox, Process, Reply, hibernate, spawn};

#[derive(Serialize, Deserialize)]
enum Presence {
    Set(String),
    Get(Reply<String>),
    Stop,
}

/// A user's process: its id and status, carried from one instance to the next.
fn user(state: (u32, String), mailbox: Mailbox<Presence>) {
    let (id, mut status) = state;
    match mailbox.receive() {
        Presence::Set(s) => status = s,
        Presence::Get(reply) => {
            reply.send(&format!("user {id}: {status}"));
        }
        Presence::Stop => return,
    }
    hibernate((id, status), user)
}

/// The host's resident memory, if /proc is granted: (RSS, PSS) in bytes.
fn resident_bytes() -> Option<(u64, u64)> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = rollup.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((field("Rss:")?, field("Pss:")?))
}

/// Users started at once before waiting for them to hibernate: well under the instance
/// slots, so starting never needs more instances than there are.
const WAVE: u32 = 500;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(10_000, |s| s.parse().expect("N must be a number"));
    let me: Process<u32> = Process::this();
    let ready: Mailbox<u32> = Mailbox::this();

    let before = resident_bytes();
    let start = Instant::now();
    let mut users = Vec::with_capacity(n as usize);
    for wave in (0..n).step_by(WAVE as usize) {
        let end = (wave + WAVE).min(n);
        for id in wave..end {
            let u = spawn!(me, id; |_mailbox: Mailbox<Presence>| {
                me.send(&id);
                hibernate((id, "offline".to_string()), user)
            })
            .unwrap_or_else(|e| {
                eprintln!("presence: starting user {id} failed: {e}; raise --max-processes");
                std::process::exit(1)
            });
            users.push(u);
        }
        for _ in wave..end {
            ready.receive();
        }
    }
    let elapsed = start.elapsed();
    print!(
        "presence: {n} users started and hibernated in {:.0} ms ({:.1} us/user)",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
    // Let the last wave's instances go back before measuring.
    std::thread::sleep(std::time::Duration::from_millis(200));
    match (before, resident_bytes()) {
        (Some((rss0, pss0)), Some((rss1, pss1))) => println!(
            "; host memory {} bytes RSS, {} bytes PSS per hibernated user",
            rss1.saturating_sub(rss0) / n as u64,
            pss1.saturating_sub(pss0) / n as u64
        ),
        _ => println!(),
    }

    // Wake each user twice: set a status, then read it back.
    let start = Instant::now();
    for u in &users {
        u.send(&Presence::Set("online".into()));
    }
    let mut online = 0;
    for u in &users {
        let answer = u.request(Presence::Get).expect("a user answers");
        online += answer.ends_with(": online") as u32;
    }
    let elapsed = start.elapsed();
    assert_eq!(online, n, "every user kept its status across hibernation");
    println!(
        "presence: {} wake-ups (set, then get with a reply) in {:.0} ms ({:.1} us per wake-up)",
        2 * n,
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / (2 * n) as f64
    );
    for u in &users {
        u.send(&Presence::Stop);
    }
    println!("presence: {n} users online, then stopped");
}
