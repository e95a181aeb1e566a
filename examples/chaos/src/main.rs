//! N workers (default 10,000) under supervisors of 100 each; a chaos process kills random
//! workers for a few seconds (default 3). Prints the restarts done, the workers alive at the
//! end (equal to the start), and resident memory before and after.
//!
//! Run: `warren run --max-processes 20000 --dir /proc:/proc chaos.wasm [N] [seconds]`

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use warren::supervisor::{self, Child, Restart, Supervise, Supervisor};
use warren::{Mailbox, Process, spawn_monitor};

const PER_SUPERVISOR: u32 = 100;

#[derive(Serialize, Deserialize, Clone)]
struct Pool {
    size: u32,
}

fn worker(_: (), mailbox: Mailbox<()>) {
    loop {
        mailbox.receive();
    }
}

impl Supervise for Pool {
    fn children(&self) -> Vec<Child> {
        (0..self.size)
            .map(|i| Child::worker(format!("w{i}"), Restart::Permanent, (), worker))
            .collect()
    }
    fn max_restarts(&self) -> usize {
        1_000_000 // chaos is the point here; real trees keep this small
    }
}

/// Resident bytes of the host, if /proc is granted.
fn resident() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = s.lines().find(|l| l.starts_with("Rss:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn running(pools: &[Supervisor]) -> usize {
    pools
        .iter()
        .filter_map(supervisor::which_children)
        .map(|c| c.iter().filter(|(_, p)| p.is_some()).count())
        .sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .map_or(10_000, |s| s.parse().expect("N must be a number"));
    let seconds: u64 = args
        .next()
        .map_or(3, |s| s.parse().expect("seconds must be a number"));

    let pools: Vec<Supervisor> = (0..n.div_ceil(PER_SUPERVISOR))
        .map(|i| {
            let size = PER_SUPERVISOR.min(n - i * PER_SUPERVISOR);
            supervisor::start(Pool { size }).expect("start a pool (raise --max-processes?)")
        })
        .collect();
    let alive_before = running(&pools);
    let rss_before = resident();
    println!(
        "chaos: {alive_before} workers under {} supervisors",
        pools.len()
    );

    // The chaos monkey: kill a random worker of a random pool, as fast as it can, for a while.
    let targets = pools.clone();
    let (_monkey, done) = spawn_monitor!(targets, seconds; |_m: Mailbox<()>| {
        let pools = targets;
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let mut seed = since_epoch.map_or(1, |d| d.as_nanos() as u64) | 1;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut kills = 0u64;
        while Instant::now() < end {
            let pool = &pools[(next() % pools.len() as u64) as usize];
            if let Some(children) = supervisor::which_children(pool)
                && let Some((_, Some(pid))) = children.get((next() % children.len() as u64) as usize)
            {
                kills += Process::<()>::from_pid(*pid).kill() as u64;
            }
        }
        println!("chaos: monkey killed {kills} workers in {seconds} s");
    })
    .unwrap();
    done.wait();

    // Every pool restarts what it lost; wait until all workers run again.
    let mut alive_after = running(&pools);
    for _ in 0..1000 {
        if alive_after == alive_before {
            break;
        }
        warren::sleep(Duration::from_millis(10));
        alive_after = running(&pools);
    }
    let restarts: u64 = pools.iter().filter_map(supervisor::count_restarts).sum();
    let rss_after = resident();
    println!(
        "chaos: {restarts} restarts; workers alive: {alive_before} before, {alive_after} after"
    );
    match (rss_before, rss_after) {
        (Some(b), Some(a)) => println!(
            "chaos: resident memory {:.1} MiB before, {:.1} MiB after",
            b as f64 / 1048576.0,
            a as f64 / 1048576.0
        ),
        _ => println!("chaos: grant --dir /proc:/proc to see resident memory"),
    }
    for pool in &pools {
        supervisor::stop(pool);
    }
    assert_eq!(
        alive_after, alive_before,
        "every killed worker must have been restarted"
    );
}
