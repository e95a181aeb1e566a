//! How a runtime is set up: its limits, what its processes see, and how the process limit
//! is planned against the OS.

use crate::actor::Quotas;
use crate::engine;
use crate::io::NetPolicy;
pub use crate::io::http::{HttpLimits, TlsFiles};
use std::path::PathBuf;

/// The default of every limit, as [`RuntimeConfig::default`] and [`Quotas::default`] set them.
pub mod defaults {
    pub use super::{DEFAULT_MAX_MEMORY as MAX_MEMORY, DEFAULT_MAX_PROCESSES as MAX_PROCESSES};
    pub use crate::actor::{
        DEFAULT_LOG_RATE as LOG_RATE, DEFAULT_MAILBOX_BYTES as MAILBOX_BYTES,
        DEFAULT_NAMES as NAMES, DEFAULT_REFERENCES as REFERENCES, DEFAULT_TIMERS as TIMERS,
    };
    pub use crate::io::http::{
        DEFAULT_HTTP2_MAX_STREAMS as HTTP2_MAX_STREAMS, DEFAULT_IDLE_TIMEOUT as HTTP_IDLE_TIMEOUT,
        DEFAULT_MAX_CONNECTIONS as HTTP_MAX_CONNECTIONS,
        DEFAULT_WRITE_TIMEOUT as HTTP_WRITE_TIMEOUT, MIN_HEADER_BYTES as HTTP_MIN_HEADER_BYTES,
    };
    pub use crate::io::splice::{
        DEFAULT_MAX_PUMPS as MAX_COPIES, DEFAULT_MAX_PUMPS_PER_PROCESS as MAX_COPIES_PER_PROCESS,
    };
    pub use crate::resources::MAX_HANDLES;
}

/// Process limit used when none is configured and the OS allows it. Not higher by default:
/// wasmtime sets up a guard page per pooled fiber stack at start, about 12 us per slot.
pub const DEFAULT_MAX_PROCESSES: usize = 100_000;
/// Default maximum linear memory per process.
pub const DEFAULT_MAX_MEMORY: usize = 64 << 20;

/// A host directory made visible to guests.
#[derive(Debug, Clone)]
pub struct GrantedDir {
    /// The directory on the host.
    pub host: PathBuf,
    /// The path guests see it at.
    pub guest: String,
}

impl GrantedDir {
    /// Parse `host[:guest]`; the guest path defaults to the host path.
    pub fn parse(spec: &str) -> Result<GrantedDir, String> {
        let (host, guest) = match spec.split_once(':') {
            Some((h, g)) => (h, g),
            None => (spec, spec),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(format!("directory grant {spec:?}: expected HOST[:GUEST]"));
        }
        Ok(GrantedDir {
            host: PathBuf::from(host),
            guest: guest.to_string(),
        })
    }
}

/// How a runtime is set up.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Most live processes; `None` picks the largest the OS allows, up to 100,000.
    pub max_processes: Option<usize>,
    /// Most processes with an instance at once (running or waiting in a call; a hibernated
    /// process has none): the size of the pool of instance slots, which costs start-up time
    /// and memory mappings per slot. `None`: as many as the process limit. Lower it for
    /// programs whose processes mostly hibernate: a million hibernated processes need a
    /// million table entries but only as many slots as are awake at once. A process that
    /// needs an instance when every slot is taken ends with `limit(processes: ...)`.
    pub max_instances: Option<usize>,
    /// Maximum linear memory per process, in bytes.
    pub max_memory: usize,
    /// Compute budget per process, in wasm fuel units (about one per instruction). A process
    /// that uses it up ends with `limit(compute)`. `None`: unlimited (and fuel is not counted).
    pub max_fuel: Option<u64>,
    /// Program arguments seen by every process (`args[0]` is the program name).
    pub args: Vec<String>,
    /// Environment seen by every process.
    pub env: Vec<(String, String)>,
    /// Directories granted to every process, through WASI and `warren:fs`.
    pub dirs: Vec<GrantedDir>,
    /// Which addresses processes may connect to, bind and send to (default: loopback).
    pub net: NetPolicy,
    /// What one process may make the runtime hold for it: queued message bytes,
    /// references, timers, names (see [`Quotas`]).
    pub quotas: Quotas,
    /// Most resources (handles) one process holds.
    pub max_handles: usize,
    /// Most host copies one process has running (they count while they run, also after the
    /// process exits).
    pub max_pumps_per_process: usize,
    /// Most host copies running at once in the runtime.
    pub max_pumps: usize,
    /// The limits of every HTTP server (`warren:http`).
    pub http: HttpLimits,
    /// Serve the observer (a web page, JSON, `/metrics`) here; see [`ObserveConfig`].
    pub observe: Option<ObserveConfig>,
    /// Pre-initialise the module when it is loaded, if it exports `warren_preinit` (the
    /// SDK's modules do): its start-up runs once and every process starts from the memory it
    /// left, shared copy-on-write. Off by default: measured (docs/benchmarks.md) it saves a
    /// page of private memory per process but maps more shared pages into each (higher RSS)
    /// and makes waking a hibernated process slower.
    pub preinit: bool,
    /// Prefix every line a process writes to stdout or stderr with `[PID] ` (whole lines
    /// only: lines of different processes never mix). Off by default.
    pub stdio_prefix: bool,
    /// The certificate chain and key (PEM files, read by the host) that HTTP servers
    /// started with TLS (`HTTP_TLS`) serve; they offer HTTP/2 and HTTP/1.1 by ALPN. `None`:
    /// a server asking for TLS fails to start. Reloaded by [`crate::Runtime::reload_tls`].
    pub tls: Option<TlsFiles>,
    /// Which scheduler runs the processes: warren's own (the default: a run queue per
    /// worker thread, a process runs on the worker of the process that woke it) or tokio's
    /// (each process a task of the tokio runtime the warren runtime is built on). I/O,
    /// timers and the cluster always run on tokio.
    pub scheduler: crate::Scheduler,
    /// Worker threads of warren's scheduler; `None`: one per core.
    pub workers: Option<usize>,
}

/// Where and how the observer is served (`warren run --observe ADDR`): a web page of the live
/// processes, the same data as JSON and server-sent events, and Prometheus `/metrics`.
/// With an observer, the runtime also measures each process's CPU time.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ObserveConfig {
    /// The address to listen on (port 0: any free port; see `Runtime::observer_addr`).
    pub addr: std::net::SocketAddr,
    /// Whether the page (and `POST /api/processes/PID/kill`) may kill processes.
    pub allow_kill: bool,
    /// Whether the page (and `POST /api/upgrade`) may load a new version of the program
    /// (hot code upgrade). A load always needs the token the observer makes at start
    /// ([`Runtime::observer_token`](crate::Runtime::observer_token)), even on loopback:
    /// it runs new code with every grant the runtime has.
    pub allow_upgrade: bool,
    /// Listen beyond loopback (`addr` not a loopback address) — refused unless set. Then a
    /// kill also needs the token the observer makes at start
    /// ([`Runtime::observer_token`](crate::Runtime::observer_token)).
    pub public: bool,
    /// Names besides IP literals and `localhost` that requests may give in `Host` (the
    /// observer refuses others: DNS rebinding).
    pub hosts: Vec<String>,
}

impl ObserveConfig {
    /// Serve on `addr` (which must be loopback unless [`public`](Self::public) is set).
    pub fn new(addr: std::net::SocketAddr, allow_kill: bool) -> Self {
        ObserveConfig {
            addr,
            allow_kill,
            allow_upgrade: false,
            public: false,
            hosts: Vec::new(),
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_processes: None,
            max_instances: None,
            max_memory: DEFAULT_MAX_MEMORY,
            max_fuel: None,
            args: Vec::new(),
            env: Vec::new(),
            dirs: Vec::new(),
            net: NetPolicy::default(),
            quotas: Quotas::default(),
            max_handles: crate::resources::MAX_HANDLES,
            max_pumps_per_process: crate::io::splice::DEFAULT_MAX_PUMPS_PER_PROCESS,
            max_pumps: crate::io::splice::DEFAULT_MAX_PUMPS,
            scheduler: crate::Scheduler::default(),
            workers: None,
            http: HttpLimits::default(),
            observe: None,
            preinit: false,
            stdio_prefix: false,
            tls: None,
        }
    }
}

/// The effective process limit and, if the OS cannot support it, a one-line warning.
#[derive(Debug, Clone)]
pub(crate) struct ProcessLimitPlan {
    /// The process limit.
    pub limit: usize,
    /// Most processes with an instance at once: the pool's slots (at most `limit`).
    pub instances: usize,
    /// Why the OS may not support it.
    pub warning: Option<String>,
    /// Appended to "process limit reached" errors.
    pub hint: String,
}

/// Decide the process limit and the instance slots from a configuration and the OS's
/// `vm.max_map_count`. The OS bounds the slots (each costs memory mappings), not the
/// processes: with `max_instances` set, hibernated processes beyond it need no slot.
pub(crate) fn plan_limits(config: &RuntimeConfig, os_map_count: Option<u64>) -> ProcessLimitPlan {
    let Some(instances) = config.max_instances else {
        return plan_process_limit(config.max_processes, os_map_count);
    };
    let mut plan = plan_process_limit(Some(instances), os_map_count);
    plan.limit = config
        .max_processes
        .unwrap_or(DEFAULT_MAX_PROCESSES.max(instances));
    plan.instances = instances.min(plan.limit);
    plan
}

/// Decide the process limit from the configuration and the OS's `vm.max_map_count`.
pub(crate) fn plan_process_limit(
    requested: Option<usize>,
    os_map_count: Option<u64>,
) -> ProcessLimitPlan {
    let os_limit = os_map_count.map(engine::map_count_limit);
    match (requested, os_limit, os_map_count) {
        (Some(n), Some(l), Some(maps)) if n > l => ProcessLimitPlan {
            limit: n,
            instances: n,
            warning: Some(format!(
                "warning: {n} processes need vm.max_map_count >= {} but it is {maps}, so spawning \
                 fails beyond about {l} processes; {}",
                engine::map_count_needed(n),
                engine::map_count_advice(n)
            )),
            hint: format!(
                " (vm.max_map_count={maps} allows about {l}; {})",
                engine::map_count_advice(n)
            ),
        },
        (Some(n), ..) => ProcessLimitPlan {
            limit: n,
            instances: n,
            warning: None,
            hint: " (the configured process limit)".into(),
        },
        (None, Some(l), Some(maps)) if l < DEFAULT_MAX_PROCESSES => ProcessLimitPlan {
            limit: l.max(1),
            instances: l.max(1),
            warning: None,
            hint: format!(
                " (bounded by vm.max_map_count={maps}; for more, {})",
                engine::map_count_advice(DEFAULT_MAX_PROCESSES)
            ),
        },
        _ => ProcessLimitPlan {
            limit: DEFAULT_MAX_PROCESSES,
            instances: DEFAULT_MAX_PROCESSES,
            warning: None,
            hint: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_follows_the_os_when_not_configured() {
        let plan = plan_process_limit(None, Some(65530));
        assert_eq!(plan.limit, engine::map_count_limit(65530));
        assert!(plan.warning.is_none());
        assert!(
            plan.hint.contains("vm.max_map_count=65530"),
            "{}",
            plan.hint
        );
        let plan = plan_process_limit(None, Some(100_000_000));
        assert_eq!(plan.limit, DEFAULT_MAX_PROCESSES);
        assert_eq!(plan_process_limit(None, None).limit, DEFAULT_MAX_PROCESSES);
    }

    #[test]
    fn asking_for_more_than_the_os_allows_warns_with_the_fix() {
        let plan = plan_process_limit(Some(100_000), Some(65530));
        assert_eq!(plan.limit, 100_000);
        let warning = plan.warning.expect("a warning");
        assert!(warning.contains("sysctl -w vm.max_map_count="), "{warning}");
        assert_eq!(warning.lines().count(), 1);
        let plan = plan_process_limit(Some(500), Some(65530));
        assert!(plan.warning.is_none());
    }

    #[test]
    fn granted_dir_specs() {
        let d = GrantedDir::parse("/tmp/x:/data").unwrap();
        assert_eq!(
            (d.host.to_str().unwrap(), d.guest.as_str()),
            ("/tmp/x", "/data")
        );
        let d = GrantedDir::parse("/tmp/x").unwrap();
        assert_eq!(d.guest, "/tmp/x");
        assert!(GrantedDir::parse(":/data").is_err());
        assert!(GrantedDir::parse("/tmp/x:").is_err());
    }
}
