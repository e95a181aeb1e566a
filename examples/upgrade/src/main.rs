//! Hot code upgrade: a program whose code changes while it runs, its processes keeping
//! their state.
//!
//! ```sh
//! cargo build --release --target wasm32-wasip1 -p upgrade
//! cp target/wasm32-wasip1/release/upgrade.wasm /tmp/app.wasm
//! warren run --wait --watch /tmp/app.wasm
//! # counter (version 1): 1, tally (version 1): 1, counter (version 1): 2, ...
//! # in another shell, the second version (each tick adds ten):
//! cargo build --release --target wasm32-wasip1 -p upgrade --features v2
//! cp target/wasm32-wasip1/release/upgrade.wasm /tmp/app.wasm
//! # INFO warren::upgrade: --watch: /tmp/app.wasm: version 2 (...) is current; version 1 is old
//! # counter (version 2): 13, tally (version 2): 13, ...
//! ```
//!
//! `counter` hibernates between messages at its resume point: the next message wakes the
//! current version's `counter`. `tally` never hibernates: its loop checks, after each
//! message, whether a new version is loaded, and moves there. `ticker` sends both a number
//! every second, and moves the same way. All three carry their state across versions.

use std::time::Duration;
use warren::{Mailbox, Process, hibernate, resume_point, spawn, upgrade};

const VERSION: u32 = if cfg!(feature = "v2") { 2 } else { 1 };

/// What each tick adds: the behaviour the second version changes.
const STEP: u64 = if cfg!(feature = "v2") { 10 } else { 1 };

fn counter(count: u64, mailbox: Mailbox<u64>) {
    let count = count + mailbox.receive();
    println!("counter (version {VERSION}): {count}");
    hibernate(count, counter) // the next message wakes the current version's `counter`
}
resume_point!(counter);

fn tally(mut total: u64, mailbox: Mailbox<u64>) {
    loop {
        total += mailbox.receive();
        println!("tally (version {VERSION}): {total}");
        total = upgrade::checkpoint(total, tally); // moves here once a new version is loaded
    }
}
resume_point!(tally);

fn ticker(mut to: (Process<u64>, Process<u64>), _: Mailbox<()>) {
    loop {
        warren::sleep(Duration::from_secs(1));
        to.0.send(&STEP);
        to.1.send(&STEP);
        to = upgrade::checkpoint(to, ticker);
    }
}
resume_point!(ticker);

fn main() {
    let to = (
        spawn(0, counter).expect("spawn the counter"),
        spawn(0, tally).expect("spawn the tally"),
    );
    spawn(to, ticker).expect("spawn the ticker");
}
