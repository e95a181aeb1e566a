//! Spawn N processes (default 10,000, which the default process limit admits on any Linux)
//! that each reply once and end, and print the time per
//! spawn (slots are reused as processes end); then spawn N processes that stay alive (each
//! in a fresh slot), print the time per spawn again, and the resident memory each costs.
//!
//! Run: `warren run --dir /proc:/proc spawn_many.wasm` or, for 100,000,
//! `warren run --max-processes 100100 --dir /proc:/proc spawn_many.wasm 100000`
//! (`--dir /proc:/proc` lets it read the host's resident memory; more than ~10,000 processes
//! need a raised `vm.max_map_count`, which warren explains if it is too low.)

use std::time::{Duration, Instant};
use warren::{Mailbox, Process, spawn};

/// Resident memory of the warren host process, in bytes, if /proc is granted: (RSS, PSS).
/// RSS counts a page shared by many mappings (the module's memory image, mapped
/// copy-on-write into every process) once per mapping; PSS divides it among them.
fn resident_bytes() -> Option<(u64, u64)> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = rollup.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    };
    Some((field("Rss:")?, field("Pss:")?))
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(10_000, |s| s.parse().expect("N must be a number"));
    let mailbox: Mailbox<u32> = Mailbox::this();
    let me: Process<u32> = Process::this();

    // Phase 1: spawn n processes that each reply once and end.
    let start = Instant::now();
    for i in 0..n {
        if let Err(e) = spawn!(me, i; |_m: Mailbox<()>| {
            me.send(&i);
        }) {
            eprintln!(
                "spawn_many: spawn #{i} failed: {e}; raise --max-processes (and vm.max_map_count)"
            );
            std::process::exit(1);
        }
    }
    for _ in 0..n {
        mailbox.receive();
    }
    let elapsed = start.elapsed();
    println!(
        "spawn_many: {n} spawns + replies in {:.1} ms: {:.2} us/spawn",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / n as f64
    );

    // Phase 2: n idle processes, each parked in receive after telling main it is up.
    std::thread::sleep(Duration::from_millis(200)); // let phase 1's processes finish exiting
    let before = resident_bytes();
    let start = Instant::now();
    for i in 0..n {
        if let Err(e) = spawn!(me, i; |mailbox: Mailbox<()>| {
            me.send(&i);
            mailbox.receive();
        }) {
            eprintln!(
                "spawn_many: idle process #{i} could not be spawned: {e}; raise --max-processes \
                 (and vm.max_map_count)"
            );
            std::process::exit(1);
        }
    }
    for _ in 0..n {
        mailbox.receive();
    }
    let elapsed = start.elapsed();
    println!(
        "spawn_many: {n} processes alive at once, spawned and up in {:.1} ms: {:.2} us/spawn",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
    std::thread::sleep(Duration::from_millis(200));
    match (before, resident_bytes()) {
        (Some((rss0, pss0)), Some((rss1, pss1))) => println!(
            "spawn_many: {n} idle processes: resident {:.1} MiB -> {:.1} MiB: {:.0} bytes/process (RSS), {:.0} bytes/process (PSS)",
            rss0 as f64 / 1048576.0,
            rss1 as f64 / 1048576.0,
            rss1.saturating_sub(rss0) as f64 / n as f64,
            pss1.saturating_sub(pss0) as f64 / n as f64
        ),
        _ => println!("spawn_many: {n} idle processes (grant --dir /proc:/proc to measure memory)"),
    }
}
