//! Tests that run as warren processes, under plain `cargo test`.
//!
//! A guest built for `wasm32-wasip1` aborts on its first panic, so Rust's own test harness
//! would stop at the first failing test. Here each test is a plain `fn()` run in a process
//! of its own: a panic, a trap or a limit ends that test's process only, is reported with its
//! exit reason, and the next test runs. A test can spawn, monitor and wait like any process.
//!
//! In a guest project (`warren new` makes one), a test file with `harness = false` in
//! `Cargo.toml` lists its tests with [`tests!`](crate::tests), which writes its `main`:
//!
//! ```no_run
//! fn adds() {
//!     assert_eq!(1 + 1, 2);
//! }
//!
//! fn a_process_answers() {
//!     let p = warren::spawn!(|m: warren::Mailbox<warren::Reply<u32>>| {
//!         m.receive().send(&7);
//!     })
//!     .unwrap();
//!     assert_eq!(p.request(|r| r).unwrap(), 7);
//! }
//!
//! warren::tests!(adds, a_process_answers);
//! ```
//!
//! `cargo test` runs the file under `warren run` (the runner `.cargo/config.toml` names).
//! Arguments: words filter the tests by substring (`--exact`: by whole name), `--list` lists
//! them; other flags cargo passes are ignored. `WARREN_TEST_TIMEOUT` (seconds, default 60)
//! bounds each test: one that takes longer is killed and reported as failed. The exit code is
//! 0 when every test that ran passed, 101 otherwise, as with Rust's own harness.

use crate::{ExitReason, Mailbox, spawn_monitor};
use std::time::{Duration, Instant};

/// One test: its name and its body.
#[derive(Clone, Copy)]
pub struct Test {
    /// The test's name (the function's).
    pub name: &'static str,
    /// The test's body, run in a process of its own.
    pub run: fn(),
}

/// Write a test file's `main`: run each listed `fn()` as a test in its own process (see
/// [`testing`](crate::testing)).
#[macro_export]
macro_rules! tests {
    ($($test:ident),+ $(,)?) => {
        fn main() {
            static TESTS: &[$crate::testing::Test] = &[
                $($crate::testing::Test { name: stringify!($test), run: $test }),+
            ];
            $crate::testing::run(TESTS, |index: usize, _mailbox: $crate::Mailbox<()>| {
                (TESTS[index].run)()
            })
        }
    };
}

/// Run `tests` (each in its own process entered through `entry`, which calls test number
/// `index`) as the command line asks, print a report and exit with 0 or 101.
pub fn run(tests: &'static [Test], entry: fn(usize, Mailbox<()>)) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<(usize, &Test)> = tests
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        t.name == *f
                    } else {
                        t.name.contains(f.as_str())
                    }
                })
        })
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (_, t) in &chosen {
            println!("{}: test", t.name);
        }
        std::process::exit(0);
    }
    let timeout = std::env::var("WARREN_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(60));

    let start = Instant::now();
    println!("\nrunning {} tests", chosen.len());
    let mut failures: Vec<(&str, String)> = Vec::new();
    for (index, test) in &chosen {
        let outcome = match spawn_monitor(*index, entry) {
            Err(e) => Err(format!("could not start its process: {e}")),
            Ok((process, monitor)) => match monitor.wait_timeout(timeout) {
                Some(ExitReason::Normal) => Ok(()),
                Some(reason) => Err(reason.to_string()),
                None => {
                    process.kill();
                    let _ = monitor.wait_timeout(Duration::from_secs(5));
                    Err(format!("did not finish within {timeout:?} (killed)"))
                }
            },
        };
        match outcome {
            Ok(()) => println!("test {} ... ok", test.name),
            Err(why) => {
                println!("test {} ... FAILED", test.name);
                failures.push((test.name, why));
            }
        }
    }
    let filtered = tests.len() - chosen.len();
    let failed = failures.len();
    if !failures.is_empty() {
        println!("\nfailures:");
        for (name, why) in &failures {
            println!("    {name}: {why}");
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed; {filtered} filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        chosen.len() - failed,
        start.elapsed().as_secs_f64()
    );
    std::process::exit(if failed == 0 { 0 } else { 101 })
}
