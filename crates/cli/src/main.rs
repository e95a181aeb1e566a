//! The `warren` command: one embedder of warren-runtime that runs a guest program.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use warren_runtime::NetPolicy;
use warren_runtime::{
    Cluster, ClusterConfig, ClusterSecret, ExitReason, GrantedDir, Runtime, RuntimeConfig,
};

mod deploy;
mod new;

/// mimalloc as the host's allocator instead of glibc's (`--features mimalloc`; off by
/// default: docs/benchmarks.md, "The host's allocator", compares them).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for problems with the command line or the module (missing, not wasm, invalid).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "warren",
    version,
    about = "Erlang-style processes for WebAssembly"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Which log records to print, in the RUST_LOG syntax: a default level and
    /// TARGET=LEVEL directives, comma-separated (`info`, `warn,my_app::db=debug`). Targets
    /// are guests' own (their module paths, or the `target:` they log with) and warren's
    /// (`warren::process`: crashes; `warren::supervisor`: restarts;
    /// `warren_runtime::dist`: nodes up and down). Default: RUST_LOG, else `info`.
    #[arg(long = "log", global = true, value_name = "FILTER")]
    log: Option<String>,
    /// How log records are printed (on stderr): `text`, or `json` (one object a line:
    /// timestamp, level, target, fields with the message, pid, name, node).
    #[arg(
        long = "log-format",
        global = true,
        value_name = "FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

/// Log lines queued for stderr at most; beyond, lines are dropped (and counted).
const LOG_QUEUE_LINES: usize = 16_384;

/// The log writer's thread, flushed before warren exits.
struct LogWriter {
    dropped: tracing_appender::non_blocking::ErrorCounter,
    guard: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>>,
}

static LOG_WRITER: std::sync::OnceLock<LogWriter> = std::sync::OnceLock::new();

/// Write out the queued log lines (and say how many were dropped); call before exiting.
fn flush_logs() {
    let Some(w) = LOG_WRITER.get() else { return };
    let guard = w.guard.lock().unwrap_or_else(|p| p.into_inner()).take();
    drop(guard);
    let dropped = w.dropped.dropped_lines();
    if dropped > 0 {
        eprintln!(
            "warren: {dropped} log lines were dropped: stderr was not read as fast as they came"
        );
    }
}

/// `--log-format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Log records (guests' and warren's) to stderr, filtered and formatted as the flags say.
fn init_logging(filter: Option<&str>, format: LogFormat) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = match filter {
        Some(f) => EnvFilter::builder()
            .parse(f)
            .map_err(|e| format!("--log {f:?}: {e}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(f) if !f.trim().is_empty() => EnvFilter::builder()
                .parse(&f)
                .map_err(|e| format!("RUST_LOG={f:?}: {e}"))?,
            _ => EnvFilter::new("info"),
        },
    };
    // Colours only for a terminal, and never with NO_COLOR set (https://no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Records are written by a thread of their own through a bounded queue: a stderr read
    // slowly (or not at all) never stalls the workers that run processes; what does not fit
    // is dropped, and counted at exit.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .thread_name("warren-log")
        .finish(std::io::stderr());
    let _ = LOG_WRITER.set(LogWriter {
        dropped: writer.error_counter(),
        guard: std::sync::Mutex::new(Some(guard)),
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

#[derive(Subcommand)]
enum Command {
    /// Run a wasm32-wasip1 program as warren processes.
    ///
    /// Its `main` is the root process; processes it spawns are fresh instances of the same
    /// module. warren exits with the root process's status (0 normal, its code for
    /// exit(code), 101 panic, 1 trap, killed or limit), after stopping the other processes
    /// (or waiting for them with --wait). Problems with the command line or the module
    /// (missing, not wasm, invalid, lacking `_start`) exit with 2 and a one-line error.
    Run(Box<RunArgs>),
    /// Create a guest project: NAME/ with a Cargo.toml depending on the warren SDK, a
    /// .cargo/config.toml that builds for wasm32-wasip1 and runs with this `warren run`, a
    /// src/main.rs that spawns, sends and supervises, and tests/processes.rs whose tests run
    /// as warren processes. Then `cd NAME && cargo run` (and `cargo test`).
    New(new::NewArgs),
    /// Write a new cluster secret to FILE (64 random hex digits, mode 600; an existing file
    /// is never overwritten). Give every node of the cluster a copy: `warren run --cluster
    /// URL --node NAME --cluster-secret FILE`. Frames and beats between nodes are
    /// authenticated with it; whoever holds it can speak for any node.
    ClusterSecret {
        /// Where to write it.
        file: PathBuf,
    },
    /// Load a new version of the program on every node of a cluster while it runs (hot code
    /// upgrade): the module is stored in the cluster, each node loads it as its current
    /// version (processes move at their upgrade points) and says what came of it. Prints a
    /// line per node; exits 0 if every node loaded it, 1 if one did not (or did not answer),
    /// 2 if the deploy could not be made.
    Deploy(deploy::DeployArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Set an environment variable for every process (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Grant a host directory, visible to guests at GUEST (default: the same path), both to
    /// std::fs (WASI) and to warren's file API. Repeatable. Nothing of the host file system
    /// is visible without it, and no path may escape a granted directory (`..`, symlinks).
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    dirs: Vec<String>,
    /// Allow network access (connect, bind, send) to these addresses. Repeatable. A rule is
    /// `*` (anything), an address (`10.0.0.5`, `[::1]`), a CIDR block (`10.0.0.0/8`) or a
    /// host name, each with an optional `:port` (`10.0.0.5:80`, `localhost:6379`).
    /// Default, when none is given: loopback only (127.0.0.0/8 and ::1, any port). Binding
    /// 0.0.0.0 needs `*` or `0.0.0.0`. A denied operation fails in the guest with a clear
    /// error.
    #[arg(long = "allow-net", value_name = "HOST:PORT|CIDR")]
    allow_net: Vec<String>,
    /// Most processes alive at once. Default: 100,000, or as many as the OS's
    /// vm.max_map_count allows if fewer (about 10,000 with Linux's default of 65530). Up to
    /// hundreds of thousands work once vm.max_map_count is raised; warren warns at start if the OS cannot
    /// support the number given and says what to raise. Start-up costs about 12 us per slot.
    #[arg(long, value_name = "N")]
    max_processes: Option<usize>,
    /// Most processes with an instance at once (a hibernated process has none): the pool of
    /// instance slots, whose start-up costs about 12 us and 6 memory mappings per slot.
    /// Default: the process limit. Set it below --max-processes for programs whose processes
    /// mostly hibernate (`warren::hibernate`): e.g. --max-processes 1000000
    /// --max-instances 10000 starts at once and holds a million hibernated processes.
    #[arg(long, value_name = "N")]
    max_instances: Option<usize>,
    /// Maximum linear memory of each process (bytes, or with a K, M or G suffix). A process
    /// that grows beyond it ends with a `limit` exit reason.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    max_memory: usize,
    /// Compute budget of each process, in fuel units (about one per wasm instruction). A
    /// process that uses it up ends with a `limit` exit reason. Default: unlimited. Counting
    /// fuel slows all wasm code somewhat, so it is only on when this is given.
    #[arg(long, value_name = "FUEL")]
    max_fuel: Option<u64>,
    /// Most bytes of messages queued in one process's mailbox (each message counts its size
    /// plus 64 bytes). A process whose mailbox would grow beyond it ends with
    /// `limit: mailbox`; its pending timers' messages count against it too. Also what the
    /// host holds for one process's WebSockets each way (at least the largest message and
    /// 64 KiB): beyond it their sockets stop reading and `ws_send` waits.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    max_mailbox: usize,
    /// Most references one process holds: monitors it set, and reply tags of requests in
    /// progress. Beyond it the process ends with `limit: references`.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::REFERENCES)]
    max_references: usize,
    /// Most timers (send_after) one process has pending; beyond it the process ends with
    /// `limit: timers`. A process's timers are cancelled when it exits.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::TIMERS)]
    max_timers: usize,
    /// Most names registered to one process; registering one more fails.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::NAMES)]
    max_names: usize,
    /// Most log records one process emits in a second (a burst of as many at once); beyond,
    /// its records are dropped and counted (`/metrics`, the observer), and the next record
    /// emitted says how many were dropped.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::LOG_RATE)]
    max_log_rate: u32,
    /// Prefix each line a process prints (stdout and stderr) with `[PID] `. Lines are
    /// written whole, so lines of different processes never mix.
    #[arg(long)]
    stdio_prefix: bool,
    /// Most handles (sockets, files, pipes, streams, futures) one process holds, counting
    /// those in a message it is sending or has received and not yet claimed.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::MAX_HANDLES)]
    max_handles: usize,
    /// Most host copies (stream::copy, send/write via stream) one process has running; they
    /// count while they run, also after the process exits. The runtime runs at most 64
    /// times this many at once, and no more than 16,384.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::MAX_COPIES_PER_PROCESS)]
    max_copies: usize,
    /// HTTP servers (`warren::http`): most bytes of a request's head (request line and
    /// headers), at least 8K. A larger head is answered 431 by the host.
    #[arg(long, value_name = "SIZE", default_value = "64K", value_parser = parse_header_size)]
    http_max_header_bytes: usize,
    /// HTTP servers: most bytes of a request body (also the largest WebSocket message). A
    /// declared larger body is answered 413 without running a handler; a chunked body that
    /// grows larger fails the handler's read and is answered 413.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_body_size)]
    http_max_body_bytes: u64,
    /// HTTP servers: time from a request's head to the handler's answer (e.g. 30s, 500ms).
    /// A handler that takes longer is killed and the client gets a 504. A streamed body
    /// (server-sent events) or a WebSocket may then last as long as it likes.
    #[arg(long, value_name = "TIME", default_value = "30s", value_parser = parse_duration)]
    http_request_timeout: Duration,
    /// HTTP servers: time a client has to send a request's head once it started (slow
    /// clients are cut off).
    #[arg(long, value_name = "TIME", default_value = "10s", value_parser = parse_duration)]
    http_header_timeout: Duration,
    /// HTTP servers: most connections one server holds at once (WebSockets included); one
    /// more is answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::HTTP_MAX_CONNECTIONS)]
    http_max_connections: usize,
    /// HTTP servers: time a client may accept no byte of what is sent to it (a response it
    /// does not read, a WebSocket message); then the connection is closed.
    #[arg(long, value_name = "TIME", default_value = "30s", value_parser = parse_duration)]
    http_write_timeout: Duration,
    /// HTTP servers: time a keep-alive connection may wait for its next request, and a
    /// WebSocket may pass without a frame either way (it is then pinged, and closed if
    /// nothing comes back within the same time).
    #[arg(long, value_name = "TIME", default_value = "60s", value_parser = parse_duration)]
    http_idle_timeout: Duration,
    /// HTTP/2: most requests (streams) one connection has open at once.
    #[arg(long, value_name = "N", default_value_t = warren_runtime::defaults::HTTP2_MAX_STREAMS)]
    http2_max_streams: u32,
    /// The certificate chain (PEM, the server's certificate first) HTTP servers started
    /// with TLS serve (`warren::http::Server::tls`), offering HTTP/2 and HTTP/1.1. Read by
    /// warren, not by the guest; read again on SIGHUP (new connections get the new
    /// certificate; if it does not load, the old one stays). Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve the observer at ADDR (e.g. 127.0.0.1:9000; port 0 picks one): a web page of
    /// the live processes (table, links and spawn tree, monitors, handles, recent exits,
    /// charts), the same as JSON and server-sent events under /api, and Prometheus /metrics.
    /// Anyone who can reach ADDR sees every process: an address beyond loopback needs
    /// --observe-public. Requests must name ADDR (or localhost) in their Host header, so a
    /// web page cannot reach the observer by rebinding its own name to it.
    #[arg(long, value_name = "ADDR")]
    observe: Option<std::net::SocketAddr>,
    /// Let the observer's page kill processes (its Kill buttons; for scripts, `POST
    /// /api/processes/PID/kill` with the header `x-warren-observer: kill`, and beyond
    /// loopback `x-warren-observer-token: TOKEN`, the token printed at start).
    #[arg(long, requires = "observe")]
    observe_allow_kill: bool,
    /// Let the observer load a new version of the program (hot code upgrade): `POST
    /// /api/upgrade` with a module as the body, the header `x-warren-observer: upgrade` and
    /// always `x-warren-observer-token: TOKEN`, the token printed at start (a load runs new
    /// code with every grant this runtime has).
    #[arg(long, requires = "observe")]
    observe_allow_upgrade: bool,
    /// Let --observe listen on an address beyond loopback (e.g. 0.0.0.0:9000): anyone who
    /// reaches it sees every process; kills then need the token printed at start. Warns.
    #[arg(long, requires = "observe")]
    observe_public: bool,
    /// Another name requests may give the observer in their Host header (e.g. the name of
    /// this machine, behind a proxy). Repeatable. IP addresses and localhost need none.
    #[arg(long, value_name = "NAME", requires = "observe")]
    observe_host: Vec<String>,
    /// Pre-initialise the program when it is loaded (if it exports `warren_preinit`, as
    /// programs built with the SDK do): its start-up runs once and every process starts from
    /// the memory it left, shared. Saves a page of private memory per process; maps more
    /// shared pages into each (higher RSS) and slows waking from hibernation
    /// (docs/benchmarks.md).
    #[arg(long)]
    preinit: bool,
    /// Which scheduler runs the processes: `warren` (a run queue per worker thread; a
    /// process runs on the worker of the process that woke it, as in BEAM) or `tokio` (each
    /// process a tokio task). Sockets, timers and the cluster run on tokio either way.
    #[arg(long, value_name = "warren|tokio", default_value = "warren")]
    scheduler: warren_runtime::Scheduler,
    /// Worker threads that run processes (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// When the root process ends, wait for every other process to end too, instead of
    /// stopping them.
    #[arg(long)]
    wait: bool,
    /// Longest a graceful shutdown (the first SIGTERM or SIGINT) may take: HTTP servers
    /// stop accepting and finish the requests they accepted, then every process is asked to
    /// stop (exit signal `shutdown`; supervisors stop their children in order); what is
    /// left at the end is killed (exit status 124). A second signal stops at once (exit
    /// status 128 + the signal). The default stays below Kubernetes' 30 s grace period.
    #[arg(long, value_name = "TIME", default_value = "20s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    /// Join the cluster whose NATS server (with JetStream: `nats-server -js`) is at URL,
    /// e.g. nats://127.0.0.1:4222. Processes then reach processes of the other nodes by pid,
    /// spawn on them (`warren::node::spawn_on`) and share global names. Every node must run
    /// the same module (`warren deploy` loads a new version on every node). Needs the
    /// cluster's secret (--cluster-secret) or, explicitly, --cluster-insecure.
    #[arg(long, value_name = "URL", requires = "node")]
    cluster: Option<String>,
    /// The cluster's secret, a file every node holds (`warren cluster-secret FILE` makes
    /// one; it must not be readable by others). Every frame and beat between nodes is
    /// authenticated with it: a publisher on the NATS server without it can neither message,
    /// kill nor impersonate a node, nor make one run code.
    #[arg(
        long,
        value_name = "FILE",
        requires = "cluster",
        conflicts_with = "cluster_insecure"
    )]
    cluster_secret: Option<PathBuf>,
    /// Join the cluster without authentication: anyone who can publish on the NATS server
    /// can then kill this node's processes and make it run code. For tests and trusted
    /// networks only; warns.
    #[arg(long, requires = "cluster")]
    cluster_insecure: bool,
    /// This node's name in the cluster (with --cluster).
    #[arg(long, value_name = "NAME", requires = "cluster")]
    node: Option<String>,
    /// A NATS credentials file (.creds) for the cluster's server.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    cluster_creds: Option<PathBuf>,
    /// Root certificates (PEM) to trust for the cluster's server (tls:// URLs trust the
    /// system's too).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    cluster_ca: Option<PathBuf>,
    /// A client certificate (PEM) for the cluster's server, with --cluster-key.
    #[arg(long, value_name = "FILE", requires_all = ["cluster", "cluster_key"])]
    cluster_cert: Option<PathBuf>,
    /// The key (PEM) of --cluster-cert.
    #[arg(long, value_name = "FILE", requires = "cluster_cert")]
    cluster_key: Option<PathBuf>,
    /// Bytes queued for one other node above which a process sending to it waits until the
    /// queue was published (back-pressure: a fast sender slows down instead of filling the
    /// queue other signals need; those fail only past 4 times this, at least 256M).
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_send_mark, requires = "cluster")]
    cluster_send_mark: usize,
    /// Serve the cluster instead of running `main`: the node runs the processes other nodes
    /// spawn on it until it is stopped (SIGINT or SIGTERM: it leaves the cluster cleanly).
    /// Without a program, the node runs the module of the first spawn order it gets from an
    /// authenticated node (only one named by --trust-module, if given), fetched from the
    /// cluster (another node stores it) and checked against its hash.
    #[arg(long, requires = "cluster")]
    serve: bool,
    /// With --serve and no program: run only the module with this SHA-256 (64 hex digits,
    /// as `sha256sum app.wasm` prints it). Repeatable. Spawn orders for other modules are
    /// refused with a reason.
    #[arg(long, value_name = "SHA256", value_parser = parse_sha256, requires = "serve")]
    trust_module: Vec<[u8; 32]>,
    /// Load the program's file again whenever it changes (development), as SIGHUP does: the
    /// new build becomes the current version while the program runs (hot code upgrade,
    /// docs/upgrade.md). A build that does not load is reported and the running one stays.
    #[arg(long)]
    watch: bool,
    /// The program: a core wasm module (wasm32-wasip1), binary or text format. Optional only
    /// with --serve. On SIGHUP (and with --watch, when it changes) the file is loaded again
    /// as a new version of the program, while it runs.
    #[arg(required_unless_present = "serve")]
    app: Option<PathBuf>,
    /// Arguments for the program (its args[1..]).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let bytes = usize::try_from(parse_bytes(s)?).map_err(|_| format!("{s:?} is too large"))?;
    if bytes < 64 * 1024 {
        return Err(format!("{s:?} is less than one 64 KiB wasm page"));
    }
    Ok(bytes)
}

fn parse_sha256(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not a SHA-256 in hex (64 digits)"));
    }
    let mut hash = [0u8; 32];
    for (i, b) in hash.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(hash)
}

fn parse_send_mark(s: &str) -> Result<usize, String> {
    let bytes = usize::try_from(parse_bytes(s)?).map_err(|_| format!("{s:?} is too large"))?;
    if bytes < 64 * 1024 {
        return Err(format!("{s:?} is less than 64K"));
    }
    Ok(bytes)
}

/// A size in bytes (`8192`, `16K`, `64M`, `1G`).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 8192, 16K, 64M or 1G"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn parse_header_size(s: &str) -> Result<usize, String> {
    let n = parse_bytes(s)?;
    let min = warren_runtime::defaults::HTTP_MIN_HEADER_BYTES as u64;
    if n < min {
        return Err(format!(
            "{s:?} is less than {}K (the smallest head buffer)",
            min >> 10
        ));
    }
    usize::try_from(n).map_err(|_| format!("{s:?} is too large"))
}

fn parse_body_size(s: &str) -> Result<u64, String> {
    parse_bytes(s)
}

/// A duration: `30s`, `500ms`, `2m`, or a number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a time like 30s, 500ms or 2m");
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(format!("{s:?}: the time must be more than zero"));
    }
    Ok(d)
}

fn main() -> ExitCode {
    // Every process exit, kill and hibernation unwinds its instance with an error value; with
    // RUST_BACKTRACE=1 in the environment each would also capture a native backtrace (tens of
    // microseconds, a tenth of a hibernating process's wake-up). Keep RUST_BACKTRACE for
    // panics of warren itself, but not for error values, unless RUST_LIB_BACKTRACE says so.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: at the start of main, before any other thread exists.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let cli = Cli::parse();
    if let Err(e) = init_logging(cli.log.as_deref(), cli.log_format) {
        eprintln!("warren: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let code = match cli.command {
        Command::Run(args) => match run(*args) {
            Ok(never) => match never {},
            Err(e) => {
                flush_logs();
                eprintln!("warren: {e:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::New(args) => match new::new(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("warren new: {e:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Deploy(args) => match deploy::deploy(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("warren deploy: {e:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::ClusterSecret { file } => match write_secret(&file) {
            Ok(()) => {
                eprintln!(
                    "warren: wrote a cluster secret to {} (give every node a copy)",
                    file.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warren cluster-secret: {e:#}");
                ExitCode::from(EXIT_USAGE)
            }
        },
    };
    flush_logs();
    code
}

/// A URL without the password it may carry (`nats://user:***@host`).
fn redact(url: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(s, rest)| Some((s, rest.split_once('@')?)))
    {
        Some((scheme, (userinfo, host))) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

/// A new secret, written only to a file that did not exist, readable by its owner alone.
fn write_secret(file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let secret = ClusterSecret::generate()?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("creating {}", file.display()))?;
    f.write_all(&secret.file_contents())
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

/// Set up everything that can fail on bad input (exit code 2), then run.
/// Run the program; on success this exits the host process with the root's exit code.
fn run(args: RunArgs) -> anyhow::Result<std::convert::Infallible> {
    let mut env = Vec::new();
    for kv in &args.env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env {kv:?}: expected KEY=VALUE")
        };
        env.push((k.to_string(), v.to_string()));
    }
    let dirs = args
        .dirs
        .iter()
        .map(|d| GrantedDir::parse(d).map_err(|e| anyhow::anyhow!("--dir: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let name = args.app.as_ref().map_or_else(
        || "(the cluster's module)".to_string(),
        |a| a.display().to_string(),
    );
    let mut guest_args = vec![name.clone()];
    guest_args.extend(args.args.iter().cloned());
    let tls_files = args
        .tls_cert
        .clone()
        .zip(args.tls_key.clone())
        .map(|(cert, key)| warren_runtime::TlsFiles { cert, key });
    // Every knob the command line sets, on top of the library's defaults.
    let mut config = RuntimeConfig::default();
    config.max_processes = args.max_processes;
    config.max_instances = args.max_instances;
    config.max_memory = args.max_memory;
    config.max_fuel = args.max_fuel;
    config.args = guest_args;
    config.env = env;
    config.dirs = dirs;
    config.net =
        NetPolicy::from_rules(&args.allow_net).map_err(|e| anyhow::anyhow!("--allow-net: {e}"))?;
    let q = &mut config.quotas;
    q.mailbox_bytes = args.max_mailbox;
    q.references = args.max_references;
    q.timers = args.max_timers;
    q.names = args.max_names;
    q.log_records_per_second = args.max_log_rate;
    config.max_handles = args.max_handles;
    config.max_pumps_per_process = args.max_copies;
    config.max_pumps = args
        .max_copies
        .saturating_mul(64)
        .min(warren_runtime::defaults::MAX_COPIES);
    let h = &mut config.http;
    h.max_header_bytes = args.http_max_header_bytes;
    h.max_body_bytes = args.http_max_body_bytes;
    h.request_timeout = args.http_request_timeout;
    h.header_timeout = args.http_header_timeout;
    h.max_connections = args.http_max_connections;
    h.write_timeout = args.http_write_timeout;
    h.idle_timeout = args.http_idle_timeout;
    h.http2_max_streams = args.http2_max_streams;
    config.observe = args.observe.map(|addr| {
        let mut o = warren_runtime::ObserveConfig::new(addr, args.observe_allow_kill);
        o.public = args.observe_public;
        o.allow_upgrade = args.observe_allow_upgrade;
        o.hosts = args.observe_host.clone();
        o
    });
    config.preinit = args.preinit;
    config.scheduler = args.scheduler;
    config.workers = args.workers.map(usize::from);
    config.stdio_prefix = args.stdio_prefix;
    config.tls = tls_files.clone();

    let secret = args
        .cluster_secret
        .as_deref()
        .map(|f| {
            ClusterSecret::from_file(f).map_err(|e| anyhow::anyhow!("--cluster-secret: {e:#}"))
        })
        .transpose()?;
    let tokio = warren_runtime::scheduler().context("starting the scheduler")?;
    let code = tokio.block_on(async move {
        // Signals are caught from the start (one that comes while a node joins, or while
        // the module compiles, is not lost): the first asks for a graceful shutdown.
        let mut stop = Stop::catch();
        let cluster = match (&args.cluster, &args.node) {
            (Some(url), Some(node)) => {
                let mut config = ClusterConfig::new(url.clone(), node.clone());
                config.creds = args.cluster_creds.clone();
                config.tls_ca = args.cluster_ca.clone();
                config.tls_client = args.cluster_cert.clone().zip(args.cluster_key.clone());
                config.max_global_names = args.max_names;
                config.send_mark = args.cluster_send_mark;
                config.secret = secret;
                config.insecure = args.cluster_insecure;
                config.trusted_modules = args.trust_module.clone();
                let joined = tokio::select! {
                    c = Cluster::join(config) => c,
                    signal = stop.stopped() => return anyhow::Ok(signal.status()),
                };
                Some(joined.map_err(|e| anyhow::anyhow!("--cluster {}: {e:#}", redact(url)))?)
            }
            _ => None,
        };
        let mut builder = Runtime::builder().config(config);
        if let Some(c) = &cluster {
            builder = builder.cluster(c.clone());
        }
        let runtime = match (&args.app, &cluster) {
            (Some(app), _) => builder
                .build_file(app)
                .map_err(|e| anyhow::anyhow!("{name}: {e:#}"))?,
            (None, Some(c)) => loop {
                eprintln!(
                    "warren: node {} ({}) waits for a spawn to tell it which module to run",
                    c.node(),
                    c.name()
                );
                let bytes = tokio::select! {
                    b = c.wait_for_module() => b,
                    _ = stop.stopped() => {
                        c.leave().await;
                        return anyhow::Ok(0);
                    }
                };
                match bytes {
                    Ok(bytes) => {
                        break builder
                            .build_bytes(&bytes)
                            .map_err(|e| anyhow::anyhow!("the cluster's module: {e:#}"))?;
                    }
                    Err(e) => eprintln!("warren: {e:#}"),
                }
            },
            (None, None) => unreachable!("clap requires the program without --serve"),
        };
        if let Some(w) = runtime.warning() {
            eprintln!("warren: {w}");
        }
        reload_on_hangup(runtime.clone(), tls_files.is_some(), args.app.clone());
        if let (true, Some(app)) = (args.watch, &args.app) {
            watch_program(runtime.clone(), app.clone());
        }
        if let Some(addr) = runtime.observer_addr() {
            let on = |yes: bool| if yes { "on" } else { "off" };
            let acts = format!(
                "kill {}, upgrade {}",
                on(args.observe_allow_kill),
                on(args.observe_allow_upgrade)
            );
            match runtime.observer_token() {
                Some(token) => eprintln!(
                    "warren: observer at http://{addr}/#token={token} ({acts}; with this \
                     token: x-warren-observer-token: {token})"
                ),
                None => eprintln!("warren: observer at http://{addr}/ ({acts})"),
            }
        }
        let timeout = args.shutdown_timeout;
        let code = if args.serve {
            eprintln!(
                "warren: node {} ({}) serves the cluster; stop it with Ctrl-C",
                cluster.as_ref().map_or(0, Cluster::node),
                args.node.as_deref().unwrap_or("")
            );
            let first = stop.stopped().await;
            match graceful(&runtime, &mut stop, first, timeout).await {
                Ok(report) if report.is_clean() => 0,
                Ok(_) => TIMED_OUT,
                Err(code) => return anyhow::Ok(code),
            }
        } else {
            let root = runtime
                .start()
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let pid = root.pid;
            let exited = root.exited();
            tokio::pin!(exited);
            let ended = tokio::select! {
                r = &mut exited => Ok(r),
                signal = stop.stopped() => Err(signal),
            };
            if let Some(s) = runtime.scheduler_stats() {
                tracing::debug!(target: "warren::sched", stats = ?s, "the scheduler when the root ended");
            }
            match ended {
                Ok(reason) => {
                    if args.wait {
                        tokio::select! {
                            _ = runtime.wait_empty() => {}
                            signal = stop.stopped() => {
                                if let Err(code) = graceful(&runtime, &mut stop, signal, timeout).await {
                                    return anyhow::Ok(code);
                                }
                            }
                        }
                    } else {
                        // Ask every process to stop; ending the host process right after
                        // stops them all at once (unwinding 100,000 stores one by one would
                        // take seconds).
                        runtime.kill_all();
                    }
                    report(&name, pid, &reason)
                }
                Err(signal) => match graceful(&runtime, &mut stop, signal, timeout).await {
                    Ok(shutdown) => {
                        let reason = exited.await;
                        if !shutdown.is_clean() {
                            TIMED_OUT
                        } else if reason.is_shutdown() {
                            0
                        } else {
                            report(&name, pid, &reason)
                        }
                    }
                    Err(code) => return anyhow::Ok(code),
                },
            }
        };
        if let Some(c) = &cluster {
            c.leave().await;
        }
        anyhow::Ok(code)
    })?;
    use std::io::Write;
    flush_logs();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Exit here, without dropping the scheduler: dropping it would drop every process's
    // suspended call one by one.
    std::process::exit(code)
}

/// Exit status of a graceful shutdown whose deadline cut connections or killed processes
/// (as GNU `timeout` says its command ran out of time).
const TIMED_OUT: i32 = 124;

/// Shut `runtime` down gracefully after `first` was received, within `timeout`; a second
/// signal meanwhile stops at once: `Err(128 + that signal)`, the status to exit with.
async fn graceful(
    runtime: &Runtime,
    stop: &mut Stop,
    first: Signal,
    timeout: Duration,
) -> Result<warren_runtime::ShutdownReport, i32> {
    eprintln!(
        "warren: {} received: shutting down gracefully (within {timeout:?}, \
         --shutdown-timeout); a second signal stops at once",
        first.name()
    );
    tokio::select! {
        report = runtime.shutdown_gracefully(timeout) => {
            if report.connections_cut > 0 {
                eprintln!(
                    "warren: shutdown: {} HTTP connections were still being served after {timeout:?}: cut",
                    report.connections_cut
                );
            }
            if report.killed > 0 {
                eprintln!(
                    "warren: shutdown: {} processes had not ended after {timeout:?}: killed",
                    report.killed
                );
            }
            Ok(report)
        }
        second = stop.stopped() => {
            eprintln!("warren: {} received again: stopping now", second.name());
            runtime.kill_all();
            Err(second.status())
        }
    }
}

/// On SIGHUP, read the TLS certificate and key again (if `tls`) and load the program's file
/// (`app`) again as a new version of the program (hot code upgrade).
fn reload_on_hangup(runtime: Runtime, tls: bool, app: Option<PathBuf>) {
    use tokio::signal::unix::{SignalKind, signal};
    if !tls && app.is_none() {
        return;
    }
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot catch SIGHUP: the certificate and the program will not be reloaded");
        return;
    };
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            if tls {
                match runtime.reload_tls() {
                    Ok(()) => {
                        tracing::info!(target: "warren::tls", "SIGHUP: reloaded the TLS certificate")
                    }
                    Err(e) => tracing::error!(
                        target: "warren::tls",
                        "SIGHUP: {e}; the certificate loaded before stays"
                    ),
                }
            }
            if let Some(app) = &app {
                load_program(&runtime, app, "SIGHUP").await;
            }
        }
    });
}

/// How often `--watch` looks at the program's file.
const WATCH_EVERY: Duration = Duration::from_millis(250);

/// `--watch`: load the program's file again when it changes. A change is a new modification
/// time or size, loaded once two looks in a row agree (the build finished writing it).
fn watch_program(runtime: Runtime, app: PathBuf) {
    let look = |app: &PathBuf| {
        std::fs::metadata(app)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    tokio::spawn(async move {
        let mut loaded = look(&app);
        let mut seen = loaded;
        let mut every = tokio::time::interval(WATCH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = look(&app);
            if now.is_some() && now == seen && now != loaded {
                loaded = now;
                load_program(&runtime, &app, "--watch").await;
            }
            seen = now;
        }
    });
}

/// Load `app` as a new version of the program, and log what came of it (target
/// `warren::upgrade`), for `why` (SIGHUP, --watch).
async fn load_program(runtime: &Runtime, app: &Path, why: &str) {
    match runtime.load_version_file(app).await {
        Ok(loaded) => {
            tracing::info!(target: "warren::upgrade", "{why}: {}: {loaded}", app.display());
        }
        Err(e) => {
            let running = runtime.versions().first().map_or(0, |v| v.number);
            tracing::error!(
                target: "warren::upgrade",
                "{why}: {}: {e}; version {running} keeps running",
                app.display()
            );
        }
    }
}

/// A signal that asks `warren run` to stop.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The exit status of a run this signal stopped at once (the shell's 128 + signal).
    fn status(self) -> i32 {
        match self {
            Signal::Interrupt => 128 + 2,
            Signal::Terminate => 128 + 15,
        }
    }
}

/// SIGINT and SIGTERM, caught from the start of the run.
struct Stop(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Stop {
    fn catch() -> Stop {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Stop(Some((int, term))),
            _ => Stop(None),
        }
    }

    /// Resolves at the next SIGINT or SIGTERM.
    async fn stopped(&mut self) -> Signal {
        match &mut self.0 {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// Print a non-normal root exit and return the exit code it maps to.
fn report(name: &str, pid: u64, reason: &ExitReason) -> i32 {
    let code = match reason {
        ExitReason::Normal => 0,
        ExitReason::Exit(code) => u8::try_from(*code).unwrap_or(1),
        ExitReason::Panic(_) => 101,
        _ => 1,
    };
    if !reason.is_normal() && !matches!(reason, ExitReason::Exit(_)) {
        eprintln!("warren: {name}: root process {pid} exited: {reason}");
    }
    code.into()
}
