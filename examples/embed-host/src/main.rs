//! Embedding warren: a native Rust program that runs a guest on a runtime built from
//! warren's host modules plus one of its own (`embed:counter`, in `counter.rs`).
//!
//! ```text
//! cargo run -p embed-host -- target/guests/wasm32-wasip1/release/embed-guest.wasm
//! ```
//!
//! The host registers a mailbox, starts the guest's root process, sends it a typed command,
//! and receives typed reports — with the same serde types the guest uses (`embed-types`).

mod counter;

use counter::{CounterView, Counters};
use embed_types::{COUNTER, Command, HOST_MAILBOX, Report};
use std::sync::Arc;
use std::time::Duration;
use warren_runtime::{ProcessData, Runtime, StoreData};

/// The store data of every process: warren's part, and ours.
struct HostData {
    warren: ProcessData,
    counters: Arc<Counters>,
}

impl StoreData for HostData {
    fn warren(&mut self) -> &mut ProcessData {
        &mut self.warren
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let wasm = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/guests/wasm32-wasip1/release/embed-guest.wasm".into());
    let counters = Arc::new(Counters::default());
    let shared = counters.clone();
    let runtime = Runtime::builder()
        .max_processes(1000)
        .max_memory(32 << 20)
        .store_data(move |warren| HostData {
            warren,
            counters: shared.clone(),
        })
        .host_module(|linker| {
            counter::add_to_linker(linker, |d: &mut HostData| {
                let warren = d.warren.host_parts();
                CounterView {
                    table: warren.resources,
                    call: warren.call,
                    counters: &d.counters,
                }
            })
        })
        .build_file(wasm.as_ref())?;

    let host = runtime.host_mailbox()?;
    host.register(HOST_MAILBOX)?;
    let root = runtime.start()?;
    runtime.send(
        root.pid,
        &Command::Work {
            workers: 4,
            increments: 1000,
        },
    )?;
    loop {
        match host.receive::<Report>().await? {
            Report::WorkerDone { worker, seen } => {
                println!("worker {worker} done (the counter was at {seen})")
            }
            Report::Finished { total } => {
                println!("the guest counted {total}");
                break;
            }
        }
    }
    println!("root process exited: {}", root.exited().await);
    println!("the host's counter says {}", counters.value(COUNTER));
    let left = runtime.shutdown(Duration::from_secs(5)).await;
    println!("processes left after shutdown: {left}");
    Ok(())
}
