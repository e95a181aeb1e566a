//! The guest of `examples/embed-host`. It uses warren's own host modules (processes,
//! messages, the name registry) and the host's custom `embed:counter` module, whose counters
//! are handles in the same resource table as warren's sockets and files: opened in the root
//! process, moved into workers in their spawn captures.

mod counter;

use counter::Counter;
use embed_types::{COUNTER, Command, HOST_MAILBOX, Report};
use warren::{Mailbox, Process};

fn main() {
    let host: Process<Report> =
        warren::whereis(HOST_MAILBOX).expect("the host registered its mailbox");
    let mailbox: Mailbox<Command> = Mailbox::this();
    let Command::Work {
        workers,
        increments,
    } = mailbox.receive();
    let monitors: Vec<_> = (0..workers)
        .map(|_| {
            // A handle of the host's own resource type, moved into the worker.
            let counter = Counter::open(COUNTER).expect("open the counter");
            warren::spawn_monitor!(counter, host, increments; |_mailbox: Mailbox<()>| {
                for _ in 0..increments {
                    counter.add(1).expect("add to the counter");
                }
                let seen = counter.get().expect("read the counter");
                host.send(&Report::WorkerDone { worker: warren::this(), seen });
            })
            .expect("spawn a worker")
            .1
        })
        .collect();
    for m in monitors {
        assert!(m.wait().is_normal());
    }
    let total = Counter::open(COUNTER)
        .and_then(|c| c.get())
        .expect("read the counter");
    host.send(&Report::Finished { total });
}
