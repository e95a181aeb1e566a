//! `warren-fuzz`: the ABI fuzzer. Each case is a generated module (see [`module`]) run as
//! several processes on a real runtime for a fraction of a second, with processes killed
//! and started at random points, while a pinger process must keep answering.
//!
//! A case fails — and the fuzzer stops, saving the module as `fuzz-failure-SEED.wat` — if
//! the host panics anywhere (a panic hook counts every panic, caught or not), if the pinger
//! stops answering for 5 s (a frozen or starved runtime) or dies, or if the runtime cannot
//! stop every process within 5 s of shutdown (a host call that a kill cannot interrupt). An
//! abort or a stack overflow ends the fuzzer itself, which `scripts/fuzz` reports with the
//! last seed it printed. Every bad call must instead end in an error code or a trap of the
//! calling process only.
//!
//! `warren-fuzz --seconds 600` runs for ten minutes from seed 1; `--seed N --cases 1`
//! replays one case.

mod abi;
mod module;
mod rng;

use anyhow::{Context, bail};
use clap::Parser;
use rng::Rng;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use warren_runtime::{GrantedDir, HostMailbox, Runtime, RuntimeConfig};

#[derive(Parser)]
#[command(
    name = "warren-fuzz",
    about = "Fuzz warren's host ABI with hostile modules"
)]
struct Args {
    /// How long to fuzz, in seconds (cases run until then).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The first case's seed; case k uses seed + k.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this many cases (with --seed, `--cases 1` replays one case).
    #[arg(long)]
    cases: Option<u64>,
    /// How long each case runs, in milliseconds.
    #[arg(long, default_value_t = 300)]
    case_ms: u64,
    /// Most calls in one body of a generated module.
    #[arg(long, default_value_t = 40)]
    calls: usize,
}

/// The pinger's pid: the host mailbox is made first (pid 1), then the pinger.
const PINGER: u64 = 2;
/// How long the pinger may take to answer, and the runtime to stop, before it is a bug.
const PATIENCE: Duration = Duration::from_secs(5);

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Milliseconds since the start at the last sign of life (a ping answered, a case begun):
/// the watchdog thread's view, which needs no scheduler (a frozen runtime may hold every
/// worker, and then no timer of tokio's fires).
static PROGRESS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
/// A frozen runtime is reported after this long without progress.
const WATCHDOG: Duration = Duration::from_secs(15);
static PANIC_TEXT: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Stats {
    cases: u64,
    processes: u64,
    kills: u64,
    pings: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        let text = format!("{info}");
        eprintln!("warren-fuzz: host panic: {text}");
        PANIC_TEXT
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text);
    }));
    let tokio = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("warren-fuzz: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let progress = move || PROGRESS.store(start.elapsed().as_millis() as u64, Ordering::SeqCst);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let last = Duration::from_millis(PROGRESS.load(Ordering::SeqCst));
            if start.elapsed().saturating_sub(last) > WATCHDOG {
                let seed = SEED.load(Ordering::SeqCst);
                eprintln!(
                    "warren-fuzz: seed {seed} FAILED: no progress for {WATCHDOG:?}: the runtime \
                     is frozen (every worker busy or blocked)\nthe module is in \
                     fuzz-current.wat; replay with `warren-fuzz --seed {seed} --cases 1`"
                );
                std::process::exit(3);
            }
        }
    });
    let mut stats = Stats::default();
    let mut seed = args.seed;
    loop {
        if Instant::now() >= deadline || args.cases.is_some_and(|n| stats.cases >= n) {
            break;
        }
        // Printed before the case, so an abort names the seed that caused it.
        if stats.cases % 50 == 0 {
            println!("warren-fuzz: case {} (seed {seed})", stats.cases);
        }
        let mut rng = Rng::new(seed);
        let wat = module::generate(&mut rng, args.calls);
        // Kept until the next case, for a failure the fuzzer does not survive (an abort, a
        // freeze the watchdog reports).
        let _ = std::fs::write("fuzz-current.wat", &wat);
        SEED.store(seed, Ordering::SeqCst);
        progress();
        let outcome = tokio.block_on(run_case(&wat, &mut rng, &args, &mut stats, &progress));
        let panics = PANICS.load(Ordering::SeqCst);
        let failure = match outcome {
            Err(e) => Some(format!("{e:#}")),
            Ok(()) if panics > 0 => Some(format!(
                "the host panicked: {}",
                PANIC_TEXT
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .join("; ")
            )),
            Ok(()) => None,
        };
        if let Some(why) = failure {
            let file = format!("fuzz-failure-{seed}.wat");
            let _ = std::fs::write(&file, &wat);
            eprintln!(
                "warren-fuzz: seed {seed} FAILED: {why}\nthe module is in {file}; replay with \
                 `warren-fuzz --seed {seed} --cases 1`"
            );
            return ExitCode::FAILURE;
        }
        stats.cases += 1;
        seed += 1;
    }
    println!(
        "warren-fuzz: {} cases (seeds {}..{}) in {:.0} s: {} processes started by the host, \
         {} killed at random, {} pings answered; no host panic, abort or hang",
        stats.cases,
        args.seed,
        seed,
        start.elapsed().as_secs_f64(),
        stats.processes,
        stats.kills,
        stats.pings
    );
    let _ = std::fs::remove_file("fuzz-current.wat");
    ExitCode::SUCCESS
}

/// Run one generated module: processes of all its bodies, random kills and starts, pings
/// throughout, then a shutdown that must stop everything.
async fn run_case(
    wat: &str,
    rng: &mut Rng,
    args: &Args,
    stats: &mut Stats,
    progress: &impl Fn(),
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("f"), b"fuzz")?;
    std::fs::create_dir(dir.path().join("d"))?;
    let mut config = RuntimeConfig::default();
    config.max_processes = Some(64);
    config.max_memory = 2 << 20;
    config.dirs = vec![GrantedDir {
        host: dir.path().to_path_buf(),
        guest: "/data".into(),
    }];
    let q = &mut config.quotas;
    q.mailbox_bytes = 1 << 20;
    q.references = 100;
    q.timers = 100;
    q.names = 4;
    q.log_records_per_second = 100;
    config.max_handles = 64;
    config.max_pumps_per_process = 8;
    config.max_pumps = 64;
    let runtime = Runtime::builder()
        .config(config)
        .build_bytes(wat.as_bytes())
        .context("building the runtime for the generated module")?;
    let host = runtime.host_mailbox()?;
    let pinger = runtime.start_export("pinger")?;
    if (host.pid(), pinger.pid) != (1, PINGER) {
        bail!("expected the host mailbox and the pinger to be pids 1 and 2");
    }
    let watch = host.monitor(PINGER)?;
    let entries: Vec<String> = (0..module::BODIES).map(|b| format!("fuzz{b}")).collect();
    let mut started = Vec::new();
    started.push(runtime.start());
    for e in &entries[1..] {
        started.push(runtime.start_export(e));
    }
    stats.processes += started.iter().filter(|s| s.is_ok()).count() as u64;
    // Kills aim at pids up to a little past the newest the host started (guests' children
    // come after it).
    let mut newest = started
        .iter()
        .filter_map(|s| s.as_ref().ok().map(|s| s.pid))
        .max()
        .unwrap_or(PINGER);
    let end = Instant::now() + Duration::from_millis(args.case_ms);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(rng.below(5))).await;
        match rng.below(8) {
            0 | 1 if runtime.kill(PINGER + 1 + rng.below(newest + 20 - PINGER)) => {
                stats.kills += 1;
            }
            2 => {
                let e = &entries[rng.below(entries.len() as u64) as usize];
                if let Ok(s) = runtime.start_export(e) {
                    stats.processes += 1;
                    newest = newest.max(s.pid);
                }
            }
            _ => {}
        }
        ping(&runtime, &host, watch).await?;
        stats.pings += 1;
        progress();
    }
    let left = runtime.shutdown(PATIENCE).await;
    if left != 0 {
        bail!(
            "{left} processes were still alive {PATIENCE:?} after shutdown (stuck in a host call \
             a kill cannot interrupt)"
        );
    }
    Ok(())
}

/// Ask the pinger to send our pid back, and wait for it.
async fn ping(runtime: &Runtime, host: &HostMailbox, watch: u64) -> anyhow::Result<()> {
    let me = host.pid().to_le_bytes().to_vec();
    if !runtime.send_bytes(PINGER, me.clone()) {
        let reason = tokio::time::timeout(PATIENCE, host.wait_exit(watch)).await;
        bail!("the pinger died: {reason:?}");
    }
    let until = Instant::now() + PATIENCE;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match host.receive_bytes(Some(left)).await {
            Some(data) if data == me => return Ok(()),
            Some(_) => continue,
            None => bail!("the pinger did not answer within {PATIENCE:?}: the runtime is frozen"),
        }
    }
}
