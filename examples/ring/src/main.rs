//! N processes in a ring (default 10,000) pass a token M laps (default 10); prints the time
//! per hop.
//!
//! Run: `warren run ring.wasm [N] [M]`

use serde::{Deserialize, Serialize};
use std::time::Instant;
use warren::{Mailbox, Process, spawn};

#[derive(Serialize, Deserialize, Clone, Copy)]
enum Token {
    /// Pass it on.
    Hop,
    /// Pass it on, then stop.
    Stop,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .map_or(10_000, |s| s.parse().expect("N must be a number"));
    let laps: u32 = args
        .next()
        .map_or(10, |s| s.parse().expect("M must be a number"));
    assert!(n >= 2, "a ring needs at least 2 processes");
    let mailbox: Mailbox<Token> = Mailbox::this();

    // main is one member of the ring; spawn the other n-1, last first, each knowing the next.
    let spawn_start = Instant::now();
    let mut next: Process<Token> = Process::this();
    for _ in 1..n {
        next = spawn!(next; |mailbox: Mailbox<Token>| loop {
            let token = mailbox.receive();
            next.send(&token);
            if let Token::Stop = token {
                break;
            }
        })
        .expect("spawn a ring member (raise --max-processes?)");
    }
    let spawned = spawn_start.elapsed();

    // One untimed lap: spawn returns before the child is instantiated, so this lap also waits
    // for every member to be up and parked in its receive.
    let warm = Instant::now();
    next.send(&Token::Hop);
    let _ = mailbox.receive();
    let warmed = warm.elapsed();

    let start = Instant::now();
    for _ in 0..laps {
        next.send(&Token::Hop);
        let _ = mailbox.receive();
    }
    let elapsed = start.elapsed();
    next.send(&Token::Stop);
    let _ = mailbox.receive();

    let hops = n as f64 * laps as f64;
    println!(
        "ring: {n} processes (spawn calls {:.1} ms, first lap {:.1} ms), {laps} laps, {hops} hops in {:.1} ms: {:.3} us/hop",
        spawned.as_secs_f64() * 1e3,
        warmed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / hops
    );
}
