//! Spawn 10 processes, each with a captured greeting and index; each replies; print the
//! replies in index order.
//!
//! Run: `warren run hello.wasm [name]`

use serde::{Deserialize, Serialize};
use warren::{Mailbox, Process, spawn};

/// What a greeter sends back to main.
#[derive(Serialize, Deserialize)]
struct Greeting {
    index: u32,
    text: String,
}

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "warren".to_string());
    let main_mailbox: Mailbox<Greeting> = Mailbox::this();
    let me: Process<Greeting> = Process::this();

    for index in 0..10u32 {
        let greeting = format!("Hello, {name}");
        // `greeting`, `index` and `me` are serialized into the new process.
        spawn!(greeting, index, me; |_mailbox: Mailbox<()>| {
            let text = format!("{greeting} from process {} (#{index})", warren::this());
            me.send(&Greeting { index, text });
        })
        .expect("spawn a greeter");
    }

    let mut replies: Vec<Greeting> = (0..10).map(|_| main_mailbox.receive()).collect();
    replies.sort_by_key(|g| g.index);
    for g in replies {
        println!("{}", g.text);
    }
}
