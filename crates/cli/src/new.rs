//! `warren new NAME`: a guest project that builds and runs from its first command.
//!
//! The project depends on the guest SDK by path — the `crates/sdk` of the warren checkout this
//! binary was built from (the SDK is not published), or `--sdk PATH` — and its
//! `.cargo/config.toml` builds for `wasm32-wasip1` with this very `warren run` as the runner,
//! so `cargo run` runs it under warren and `cargo test` runs `tests/processes.rs`, whose tests
//! are warren processes (`warren::tests!`).

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct NewArgs {
    /// The project's name (a crate name: letters, digits, `-` and `_`, starting with a
    /// letter); also its directory, created under the current one.
    name: String,
    /// The guest SDK crate to depend on (the `crates/sdk` directory of a warren checkout).
    /// Default: the one this warren was built from.
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

/// The SDK of the checkout this binary was built from.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

pub fn new(args: NewArgs) -> anyhow::Result<()> {
    let name = &args.name;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{name:?} is not a crate name: use letters, digits, `-` and `_`, starting with a letter"
        );
    }
    let dir = PathBuf::from(name);
    // Not `exists()`: it follows a symlink, and a dangling one would let us write through it.
    if std::fs::symlink_metadata(&dir).is_ok() {
        bail!("{} exists already", dir.display());
    }
    let sdk = args.sdk.unwrap_or_else(|| PathBuf::from(BUILT_SDK));
    let sdk = sdk
        .canonicalize()
        .ok()
        .filter(|p| is_sdk(p))
        .with_context(|| {
            format!(
                "the warren guest SDK is not at {} (this warren was built elsewhere?); pass \
                 --sdk PATH to the crates/sdk directory of a warren checkout",
                sdk.display()
            )
        })?;
    let runner = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("finding this warren binary for the project's runner")?;

    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        (".cargo/config.toml", cargo_config(&runner)),
        ("src/main.rs", MAIN_RS.to_string()),
        ("tests/processes.rs", TESTS_RS.to_string()),
        (".gitignore", "/target\n".to_string()),
    ];
    // Every directory and file is created new: nothing that appeared meanwhile (a symlink
    // planted between the check above and here, say) is followed or overwritten.
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for sub in [".cargo", "src", "tests"] {
        let sub = dir.join(sub);
        std::fs::create_dir(&sub).with_context(|| format!("creating {}", sub.display()))?;
    }
    for (path, text) in &files {
        use std::io::Write;
        let path = dir.join(path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created the warren project {name} in {}", dir.display());
    match target_installed() {
        Some(true) => println!("next: cd {name} && cargo run   (and cargo test)"),
        Some(false) => println!(
            "the Rust target wasm32-wasip1 is missing: install it with\n  rustup target add \
             wasm32-wasip1\nthen: cd {name} && cargo run"
        ),
        None => println!(
            "next: cd {name} && cargo run (it needs the Rust target wasm32-wasip1: with \
             rustup, `rustup target add wasm32-wasip1`)"
        ),
    }
    Ok(())
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.lines().any(|l| l.trim() == "name = \"warren\""))
}

/// Whether rustup lists wasm32-wasip1 as installed; `None` without rustup.
fn target_installed() -> Option<bool> {
    let out = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == "wasm32-wasip1")
    })
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[dependencies]
# The warren guest SDK, by path: it is not published.
warren = {{ path = {sdk} }}
serde = {{ version = "1", features = ["derive"] }}

[[bin]]
name = "{name}"
path = "src/main.rs"
# Tests run as warren processes: see tests/processes.rs.
test = false

[[test]]
name = "processes"
harness = false

# A smaller guest: linked whole, its module has a third fewer functions and table entries,
# and each process of it holds ~1.5 KB less (warren's docs/benchmarks.md, "A smaller guest").
[profile.release]
lto = true
codegen-units = 1

# A project of its own, even inside another workspace's directory.
[workspace]
"#,
        sdk = toml_string(&sdk.display().to_string()),
    )
}

fn cargo_config(runner: &Path) -> String {
    format!(
        r#"# Build for warren's guest target and run with `warren run` (cargo run, cargo test).
[build]
target = "wasm32-wasip1"

[target.wasm32-wasip1]
runner = [{runner}, "run"]
"#,
        runner = toml_string(&runner.display().to_string()),
    )
}

const MAIN_RS: &str = r#"//! A warren program: a counter process, a supervised worker, and messages between them.

use serde::{Deserialize, Serialize};
use warren::supervisor::{Child, Restart, Strategy, Supervise};
use warren::{Mailbox, Process, Reply};

#[derive(Serialize, Deserialize)]
enum Counter {
    Add(u64),
    Get(Reply<u64>),
}

/// A process holding a number.
fn counter(start: u64, mailbox: Mailbox<Counter>) {
    let mut total = start;
    loop {
        match mailbox.receive() {
            Counter::Add(n) => total += n,
            Counter::Get(reply) => {
                reply.send(&total);
            }
        }
    }
}

/// A worker that squares numbers, registered as "squarer", and crashes on 13.
fn squarer(_: (), mailbox: Mailbox<(u64, Reply<u64>)>) {
    Process::<(u64, Reply<u64>)>::this()
        .register("squarer")
        .expect("the name is free");
    loop {
        let (n, reply) = mailbox.receive();
        assert!(n != 13, "unlucky number");
        reply.send(&(n * n));
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Tree;

impl Supervise for Tree {
    fn children(&self) -> Vec<Child> {
        vec![Child::worker("squarer", Restart::Permanent, (), squarer)]
    }
    fn strategy(&self) -> Strategy {
        Strategy::OneForOne
    }
}

fn main() {
    let counter = warren::spawn(10u64, counter).expect("spawn the counter");
    counter.send(&Counter::Add(5));
    println!("counter: {}", counter.request(Counter::Get).expect("counter"));

    let _supervisor = warren::supervisor::start(Tree).expect("start the supervisor");
    for n in [3, 13, 4] {
        // The supervisor restarts the worker after it crashes on 13.
        let squarer = loop {
            if let Some(p) = warren::whereis::<(u64, Reply<u64>)>("squarer") {
                break p;
            }
            warren::sleep(std::time::Duration::from_millis(1));
        };
        match squarer.request(|reply| (n, reply)) {
            Ok(sq) => println!("{n} squared is {sq}"),
            Err(e) => println!("{n}: the worker failed ({e}); the supervisor restarts it"),
        }
    }
}
"#;

const TESTS_RS: &str = r#"//! Tests that run as warren processes: each `fn()` listed in `warren::tests!` runs in a
//! process of its own, so a failing test is reported and the others still run.

use std::time::Duration;
use warren::{Mailbox, Reply};

fn a_process_answers_a_request() {
    let echo = warren::spawn!(|mailbox: Mailbox<(String, Reply<String>)>| {
        let (text, reply) = mailbox.receive();
        reply.send(&text.to_uppercase());
    })
    .unwrap();
    assert_eq!(echo.request(|r| ("hi".to_string(), r)).unwrap(), "HI");
}

fn a_monitor_reports_a_crash() {
    let (_p, monitor) = warren::spawn_monitor!(|_m: Mailbox<()>| panic!("boom")).unwrap();
    let reason = monitor.wait_timeout(Duration::from_secs(5)).expect("it ends");
    assert!(reason.to_string().contains("boom"), "{reason}");
}

warren::tests!(a_process_answers_a_request, a_monitor_reports_a_crash);
"#;
