//! warren against Erlang/OTP (BEAM) and native tokio, on the same machine, in the same run.
//!
//! ```text
//! benches/compare/run [--quick]          # builds everything, then runs this
//! compare [--quick] [--reps N] [--no-write]
//! compare echo [--connections C] [--size S] [--seconds D] [--reps R] [--addr ADDR]
//! compare dist [--reps R] [--rtt N] [--tput N] [--no-write]   # two nodes: NATS vs Erlang
//! ```
//!
//! For each workload it runs the three programs doing the same work — the warren guest
//! `benches/compare-guest`, the Erlang module `benches/compare/erlang/bench.erl`, the tokio
//! program `benches/compare-tokio` (and for TCP echo: `examples/echo`, `bench:run(echo)`,
//! `compare-tokio echo`, driven by one bounded load client) — alternating systems within
//! each repetition, and reports medians with min-max and the ratios warren/BEAM and
//! warren/tokio. It writes the table into `docs/benchmarks.md` (between the
//! `compare:begin`/`compare:end` markers) and the chart to `docs/compare.svg`.
//! `--quick` uses smaller sizes and one repetition: a developer's check in under 3 minutes.

mod dist;
mod http;
mod load;
mod observe;
mod report;
mod systems;

use anyhow::{Context, bail};
use report::{Measured, Workload};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use systems::{Paths, Server, System};

struct Options {
    quick: bool,
    reps: Option<usize>,
    write: bool,
}

fn repo_root() -> anyhow::Result<PathBuf> {
    // The binary lives in target/release; the repository is two levels up. Fall back to the
    // current directory (run from the repository root).
    let exe = std::env::current_exe()?;
    let root = exe
        .ancestors()
        .find(|d| d.join("Cargo.toml").exists() && d.join("benches/compare").exists())
        .map(PathBuf::from)
        .unwrap_or(std::env::current_dir()?);
    Ok(root)
}

/// The workloads at full or quick size.
fn workloads(quick: bool) -> Vec<Workload> {
    let q = |full: usize, small: usize| if quick { small } else { full };
    let (spawn_n, idle_n) = (q(100_000, 20_000), q(100_000, 20_000));
    let (pp, ring_n, laps) = (q(1_000_000, 200_000), q(10_000, 2_000), q(100, 20));
    let budget = q(8192, 512);
    vec![
        Workload::timed(
            "spawn",
            "spawn N processes that each reply once",
            vec![spawn_n],
            spawn_n + 100,
            "us/spawn",
        ),
        Workload::memory(
            "idle",
            "hold N idle processes: resident bytes per process",
            vec![idle_n],
            idle_n + 100,
        ),
        Workload::memory(
            "hibernate",
            "hold N hibernated processes: resident bytes per process (tokio: idle tasks)",
            vec![idle_n],
            idle_n + 100,
        ),
        Workload::timed(
            "wake",
            "wake each of N hibernated processes with a request it answers",
            vec![q(100_000, 20_000)],
            q(100_000, 20_000) + 100,
            "us/wake",
        ),
        Workload::timed(
            "pingpong",
            "round trips between two processes",
            vec![pp],
            100,
            "us/round-trip",
        ),
        Workload::timed(
            "ring",
            "a token around a ring of N processes, LAPS laps",
            vec![ring_n, laps],
            ring_n + 100,
            "us/hop",
        ),
        Workload::timed(
            "fanout",
            "one publisher, N subscribers, M messages each sent to every subscriber",
            vec![q(10_000, 2_000), q(100, 20)],
            q(10_000, 2_000) + 100,
            "us/delivery",
        ),
        Workload::timed(
            "flow",
            "a producer to a consumer that holds 100 messages at most (warren: a bounded \
             mailbox that blocks; BEAM: a call per message; tokio: a bounded channel)",
            vec![q(1_000_000, 200_000)],
            100,
            "us/message",
        ),
        Workload::echo(50, 1024, if quick { 2.0 } else { 5.0 }),
        Workload::maxn(budget, q(300_000, 100_000)),
    ]
}

fn run_workload(w: &Workload, paths: &Paths, reps: usize) -> anyhow::Result<Measured> {
    let mut values: BTreeMap<System, Vec<f64>> = BTreeMap::new();
    let reps = if w.name == "maxn" { 1 } else { reps };
    for rep in 1..=reps {
        for system in System::ALL {
            let v = if w.name == "echo" {
                let server =
                    Server::start(paths.command(system, "echo", &["127.0.0.1:0".into()], 10_000))?;
                let (c, size, secs) = w.echo.expect("echo settings");
                load::run(&server.1, c, size, secs)?
            } else {
                let args: Vec<String> = w.args.iter().map(ToString::to_string).collect();
                let cmd = paths.command(system, w.name, &args, w.processes);
                systems::measure(cmd, Duration::from_secs(600))?
            };
            eprintln!(
                "  {} rep {rep} {:>10}: {v:.3} {}",
                w.name,
                system.name(),
                w.unit
            );
            values.entry(system).or_default().push(v);
        }
    }
    Ok(Measured::new(w, values))
}

fn compare(o: &Options) -> anyhow::Result<()> {
    let root = repo_root()?;
    let paths = Paths::new(&root);
    for (what, p) in [
        ("warren", &paths.warren),
        ("the warren guest", &paths.guest),
        ("the tokio program", &paths.tokio),
    ] {
        if !p.exists() {
            bail!(
                "{what} is not built ({}); run benches/compare/run",
                p.display()
            );
        }
    }
    if !paths.erlang.join("bench.beam").exists() {
        bail!(
            "bench.beam is not compiled into {}; run benches/compare/run",
            paths.erlang.display()
        );
    }
    let reps = o.reps.unwrap_or(if o.quick { 1 } else { 3 });
    let mut results = Vec::new();
    for w in workloads(o.quick) {
        eprintln!("{}: {}", w.name, w.title);
        results.push(run_workload(&w, &paths, reps)?);
    }
    let commands = report::commands(&paths, &workloads(o.quick));
    let table = report::markdown(&results, o.quick, reps, &commands);
    println!("{table}");
    if o.write {
        let doc = root.join("docs/benchmarks.md");
        let text = std::fs::read_to_string(&doc).context("reading docs/benchmarks.md")?;
        std::fs::write(&doc, report::splice(&text, &table)?)?;
        std::fs::write(root.join("docs/compare.svg"), report::svg(&results))?;
        eprintln!("wrote docs/benchmarks.md and docs/compare.svg");
    }
    Ok(())
}

/// `compare echo`: TCP echo only (what issue 4 measured), with its own settings.
fn echo(args: &[String]) -> anyhow::Result<()> {
    let (mut connections, mut size, mut seconds, mut reps, mut addr) = (50, 1024, 5.0, 3, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--connections" => connections = value()?.parse()?,
            "--size" => size = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            "--reps" => reps = value()?.parse()?,
            "--addr" => addr = Some(value()?.clone()),
            other => bail!("unknown flag {other}"),
        }
    }
    if let Some(addr) = addr {
        let rps = load::run(&addr, connections, size, seconds)?;
        println!("{addr}: {rps:.0} req/s {:.1} MB/s", rps * size as f64 / 1e6);
        return Ok(());
    }
    let w = Workload::echo(connections, size, seconds);
    let m = run_workload(&w, &Paths::new(&repo_root()?), reps)?;
    println!("{}", report::markdown_rows(&[m]));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("echo") => return echo(&args[1..]),
        Some("dist") => return dist::run(&args[1..]),
        Some("http") => return http::run(&args[1..]),
        Some("observe") => return observe::run(&args[1..]),
        _ => {}
    }
    let mut o = Options {
        quick: false,
        reps: None,
        write: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-write" => o.write = false,
            "--reps" => o.reps = Some(it.next().context("--reps needs a number")?.parse()?),
            other => bail!("unknown argument {other} (see benches/compare/src/main.rs)"),
        }
    }
    compare(&o)
}
