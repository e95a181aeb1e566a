//! A supervised worker that crashes on every third request. The supervisor restarts it; the
//! worker registers its name again on each start, so clients always find the current one.
//!
//! Run: `warren run supervisor.wasm [requests]` (default 10), or
//! `warren run --observe 127.0.0.1:9000 --observe-allow-kill supervisor.wasm serve` to keep
//! asking once a second, forever, and watch the crashes and restarts (or kill the worker
//! yourself) on the observer's page.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use warren::supervisor::{self, Child, Restart, Strategy, Supervise};
use warren::{Mailbox, Process, Reply, RequestError};

#[derive(Serialize, Deserialize)]
enum Request {
    /// Square a number.
    Square(u64, Reply<u64>),
}

/// Requests this incarnation has served. Statics are per process: a restarted worker
/// starts again from 0.
static mut SERVED: u32 = 0;

fn worker(_: (), mailbox: Mailbox<Request>) {
    Process::<Request>::this()
        .register("squarer")
        .expect("the name is free after a crash");
    loop {
        let Request::Square(n, reply) = mailbox.receive();
        // SAFETY: a wasm process is single-threaded; nothing else touches SERVED.
        let served = unsafe {
            SERVED += 1;
            SERVED
        };
        if served % 3 == 0 {
            panic!("worker gives up on request #{served} of its life");
        }
        reply.send(&(n * n));
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Tree;

impl Supervise for Tree {
    fn children(&self) -> Vec<Child> {
        vec![Child::worker("squarer", Restart::Permanent, (), worker)]
    }
    fn strategy(&self) -> Strategy {
        Strategy::OneForOne
    }
    fn max_restarts(&self) -> usize {
        100
    }
}

fn main() {
    let arg = std::env::args().nth(1);
    let serve = arg.as_deref() == Some("serve");
    let requests: u64 = match arg {
        None => 10,
        Some(_) if serve => u64::MAX,
        Some(s) => s.parse().expect("requests must be a number or `serve`"),
    };
    let sup = supervisor::start(Tree).expect("start the supervisor");
    let mut answered = 0;
    let mut n = 1;
    while answered < requests {
        let Some(squarer) = warren::whereis::<Request>("squarer") else {
            warren::sleep(Duration::from_millis(1)); // between crash and restart
            continue;
        };
        match squarer.request_timeout(|r| Request::Square(n, r), Duration::from_secs(5)) {
            Ok(sq) => {
                println!("{n}^2 = {sq}");
                answered += 1;
                n += 1;
                if serve {
                    warren::sleep(Duration::from_secs(1));
                }
            }
            Err(RequestError::Exited(reason)) => {
                println!("request for {n} failed ({reason}); retrying")
            }
            Err(e @ (RequestError::Timeout | RequestError::Full)) => {
                panic!("the worker stopped answering: {e}")
            }
        }
    }
    let restarts = supervisor::count_restarts(&sup).unwrap_or(0);
    supervisor::stop(&sup);
    println!("supervisor: {answered} answers, {restarts} restarts, stopped cleanly");
}
