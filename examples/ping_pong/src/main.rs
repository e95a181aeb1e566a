//! Two processes bounce a counter N times (default 100,000) and print the time per round trip.
//!
//! Run: `warren run ping_pong.wasm [N]`

use std::time::Instant;
use warren::{Mailbox, Process, spawn};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |s| s.parse().expect("N must be a number"));
    let mailbox: Mailbox<u64> = Mailbox::this();
    let me: Process<u64> = Process::this();

    // The ponger answers every ball with the next number, until it gets `u64::MAX`.
    let ponger = spawn!(me; |balls: Mailbox<u64>| loop {
        let ball = balls.receive();
        if ball == u64::MAX {
            break;
        }
        me.send(&(ball + 1));
    })
    .expect("spawn the ponger");

    let start = Instant::now();
    let mut ball = 0;
    for _ in 0..n {
        ponger.send(&ball);
        ball = mailbox.receive();
    }
    let elapsed = start.elapsed();
    ponger.send(&u64::MAX);
    assert_eq!(ball, n, "every round trip adds one");
    println!(
        "ping_pong: {n} round trips in {:.1} ms: {:.3} us/round-trip",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}
