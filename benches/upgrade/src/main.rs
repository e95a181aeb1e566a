//! Hot code upgrade's costs, on a runtime with N processes alive (docs/benchmarks.md, "Hot
//! code upgrade"):
//!
//! 1. load version 2 while version 1's N processes wait (nothing purged), and
//! 2. load version 3, which purges version 1: its N processes end;
//!
//! each timed, while one process (of a version that stays) sends the host a message every
//! millisecond: the longest gap between two of its messages during the load is the pause a
//! running process sees.
//!
//! ```text
//! cargo run --release -p upgrade-bench -- 100000
//! ```
//!
//! The versions are small hand-written modules (the same program with another constant),
//! so the load is mostly warren's own work: the compile of a real guest adds its time, on a
//! blocking thread (processes run on meanwhile).

use std::time::{Duration, Instant};
use warren_runtime::{HostMailbox, Runtime};

/// Version `n`: `_start` spawns `count` processes that wait for a message, then tells the
/// host; `sender` sends the host one byte every millisecond, forever.
fn program(n: u8, count: u32) -> String {
    format!(
        r#"(module
  (import "warren:registry" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
  (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
  (import "warren:process" "spawn"
    (func $spawn (param i32 i32 i32 i32 i64 i32 i64 i64) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "host")
  (data (i32.const 8) "\{n:02x}")
  (func $tell
    (drop (call $send (call $whereis (i32.const 0) (i32.const 4)) (i64.const 0)
                      (i32.const 8) (i32.const 1))))
  (func (export "_start") (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const {count})))
      (drop (call $spawn (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                         (i64.const 0) (i32.const 0) (i64.const 0) (i64.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $tell))
  (func (export "sender")
    (loop $forever
      (call $tell)
      ;; Wait 1 ms for a message that never comes.
      (drop (call $receive (i64.const 0) (i32.const 64) (i32.const 64) (i64.const 1)
                           (i32.const 0)))
      (br $forever)))
  (func (export "warren_entry") (param i32 i32 i32)
    (drop (call $receive (i64.const 0) (i32.const 64) (i32.const 64) (i64.const -1)
                         (i32.const 0)))))"#
    )
}

/// The longest gap between two messages the host receives until `until` resolves, and what
/// `until` returned.
async fn longest_gap<T>(
    host: &HostMailbox,
    until: impl std::future::Future<Output = T>,
) -> (Duration, T) {
    let mut until = std::pin::pin!(until);
    let mut last = Instant::now();
    let mut longest = Duration::ZERO;
    loop {
        tokio::select! {
            done = &mut until => return (longest.max(last.elapsed()), done),
            got = host.receive_bytes(Some(Duration::from_secs(60))) => {
                got.expect("the sender stopped");
                longest = longest.max(last.elapsed());
                last = Instant::now();
            }
        }
    }
}

/// Load `module`, in a task of its own (the host's receives go on meanwhile), and print how
/// long it took and the sender's longest gap meanwhile.
async fn timed_load(runtime: &Runtime, host: &HostMailbox, module: String, what: &str) {
    let (gap, (took, loaded)) = longest_gap(host, async {
        let start = Instant::now();
        let loading = runtime.clone();
        let loaded = tokio::spawn(async move { loading.load_version(module).await })
            .await
            .expect("the load's task")
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        (start.elapsed(), loaded)
    })
    .await;
    println!(
        "{what}: {:.1} ms ({loaded}); the sender's longest gap {:.2} ms",
        took.as_secs_f64() * 1e3,
        gap.as_secs_f64() * 1e3
    );
}

fn main() {
    let count: u32 = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("a process count"));
    let tokio = warren_runtime::scheduler().expect("a scheduler");
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .max_processes(count as usize + 100)
            .max_memory(1 << 20)
            .build_bytes(program(1, count).as_bytes())
            .expect("version 1");
        let host = runtime.host_mailbox().expect("a host mailbox");
        host.register("host").expect("register");
        let spawned = Instant::now();
        runtime.start().expect("the root");
        host.receive_bytes(Some(Duration::from_secs(600)))
            .await
            .expect("the root's processes");
        println!(
            "{count} processes of version 1 alive (spawned in {:.2} s)",
            spawned.elapsed().as_secs_f64()
        );

        // Version 2, with version 1's processes and a sender of version 1 running.
        runtime.start_export("sender").expect("a sender");
        timed_load(&runtime, &host, program(2, count), "load version 2").await;

        // Version 3 purges version 1: a sender of version 2 keeps running through it.
        runtime
            .start_export("sender")
            .expect("a sender of version 2");
        let what = "load version 3, purging version 1";
        timed_load(&runtime, &host, program(3, count), what).await;
        let ended = Instant::now();
        while runtime.process_count() > 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "version 1's processes all gone {:.1} ms after the load returned",
            ended.elapsed().as_secs_f64() * 1e3
        );
        runtime.shutdown(Duration::from_secs(10)).await;
    });
}
