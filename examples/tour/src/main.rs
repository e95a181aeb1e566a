//! The README's tour of the guest API, kept compiling and running by the tests.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use warren::{Mailbox, Process, Reply, spawn, spawn_monitor};

#[derive(Serialize, Deserialize)]
enum Counter {
    Add(u64),
    Get(Reply<u64>),
}

fn main() {
    // Captures are named and travel serialized: anything not Serialize + DeserializeOwned,
    // or a variable used without being named, is a compile error.
    let start = 10u64;
    let counter: Process<Counter> = spawn!(start; |mailbox: Mailbox<Counter>| {
        let mut total = start;
        loop {
            match mailbox.receive() {
                Counter::Add(n) => total += n,
                Counter::Get(reply) => { reply.send(&total); }
            }
        }
    })
    .expect("spawn");

    counter.send(&Counter::Add(5)); // typed, never fails
    let total = counter.request(Counter::Get).unwrap(); // selective: other mail waits
    assert_eq!(total, 15);

    // A process that panics ends alone; a monitor reports why.
    let (_p, monitor) = spawn_monitor!(|_m: Mailbox<()>| panic!("boom")).unwrap();
    println!("{}", monitor.wait()); // "panic: boom at src/main.rs:.."

    // The root process's own mailbox, timeouts, names and timers.
    let mailbox: Mailbox<String> = Mailbox::this();
    assert!(mailbox.receive_timeout(Duration::from_millis(10)).is_none());
    Process::<String>::this().register("main").unwrap();
    let main: Process<String> = warren::whereis("main").unwrap();
    let _timer = main.send_after(&"wake up".to_string(), Duration::from_millis(5));
    assert_eq!(mailbox.receive(), "wake up");
}
