//! The observer: a web page, JSON, a live stream and Prometheus metrics about a running
//! runtime, served on an address of its own (`warren run --observe ADDR`).
//!
//! The model: the runtime counts as it goes (cheap counters in `actor::stats`, bumped on
//! the one path of each event), and the observer reads them only when asked. Nobody
//! looking costs one sampler task waking once a second to copy a handful of totals into a
//! ring (the charts' history). A request for the process table copies the list of live
//! processes, sorts and filters it, and sends one page of it — on a blocking thread, one walk
//! at a time (a walk of a million processes takes half a second); only that page's processes have
//! their links, monitors and handles read.
//!
//! Routes (all `GET` but the kill and the upgrade):
//! - `/`: the page (one self-contained HTML file, no external assets);
//! - `/api/summary`: totals, exits by reason, settings;
//! - `/api/history`: the last [`history::SAMPLES`] one-second samples of the totals;
//! - `/api/processes?offset=&limit=&sort=&order=&q=&state=`: one page of the table, with the
//!   number of processes in each state;
//! - `/api/processes/PID`: one process: its row, links, monitors both ways, handles by kind,
//!   and the tree of processes it spawned (links marked);
//! - `/api/exits`: the recent exits, newest first, and counts by reason;
//! - `/api/events`: server-sent events, a `summary` event a second (at most
//!   `server::MAX_EVENT_STREAMS` streams at once; one more is answered 503);
//! - `POST /api/processes/PID/kill` with header `x-warren-observer: kill`: kills it, only when
//!   the runtime was started with `allow_kill` (`--observe-allow-kill`); otherwise 403. The
//!   header keeps other web pages from killing processes through a visitor's browser (a
//!   cross-origin request cannot carry it without a preflight the observer never grants);
//!   beyond loopback a kill also carries the token (`x-warren-observer-token`);
//! - `POST /api/upgrade` with header `x-warren-observer: upgrade`, the token (always: a load
//!   runs new code with every grant the runtime has) and a module as the body (at most
//!   [`server::MAX_MODULE_BYTES`]): loads it as a new version of the program (hot code
//!   upgrade, [`crate::Runtime::load_version`]), only when the runtime was started with
//!   `allow_upgrade` (`--observe-allow-upgrade`); answers what the load did, or 422 with why
//!   the module was refused (the running version untouched);
//! - `/metrics`: Prometheus text format.
//!
//! Every request must name the observer in its `Host` (and a kill's `Origin` too): see
//! [`guard`] for why (DNS rebinding) and what is accepted.
//!
//! The observer holds the runtime weakly: it answers 503 once the runtime is gone, and its
//! tasks end when the [`Observer`] handle (held by the runtime) is dropped.

mod guard;
mod history;
mod metrics;
mod server;
mod view;

use crate::actor::ProcessTable;
use crate::config::ObserveConfig;
use crate::io::IoShared;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

/// How the observer loads a new version of the program (`POST /api/upgrade`): the runtime's
/// `load_version`, behind a weak reference to it. What it did, as JSON, or why it did not.
pub(crate) type Upgrader = Arc<
    dyn Fn(Vec<u8>) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, String>> + Send>>
        + Send
        + Sync,
>;

/// What the observer reads: the runtime's table and I/O state, weakly.
#[derive(Clone)]
pub(crate) struct Source {
    table: Weak<ProcessTable>,
    io: Weak<IoShared>,
    allow_kill: bool,
    allow_upgrade: bool,
    /// What loads a version: set once the runtime is built (`Observer::set_upgrader`).
    upgrader: Arc<OnceLock<Upgrader>>,
    guard: guard::Guard,
    /// One table walk at a time (`server::walk`).
    walks: Arc<tokio::sync::Semaphore>,
    /// The event streams open (`server::MAX_EVENT_STREAMS`).
    streams: Arc<tokio::sync::Semaphore>,
    history: Arc<history::History>,
    /// Milliseconds since the Unix epoch when the runtime started.
    started_at: u64,
    /// warren's scheduler, for its counts (`None`: processes run on tokio's).
    sched: Option<warren_sync::sched::Pool>,
}

/// A running observer; dropping it stops it.
pub(crate) struct Observer {
    addr: SocketAddr,
    token: Option<String>,
    upgrader: Arc<OnceLock<Upgrader>>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Observer {
    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token a kill needs (listening beyond loopback with kills on), and a load always.
    pub(crate) fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Say how to load a version (once the runtime it observes exists).
    pub(crate) fn set_upgrader(&self, upgrader: Upgrader) {
        let _ = self.upgrader.set(upgrader);
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Bind `config.addr` and serve the observer for `table` on `handle`.
pub(crate) fn start(
    config: &ObserveConfig,
    table: &Arc<ProcessTable>,
    io: &Arc<IoShared>,
    handle: &tokio::runtime::Handle,
    sched: Option<warren_sync::sched::Pool>,
) -> std::io::Result<Observer> {
    if !config.addr.ip().is_loopback() && !config.public {
        return Err(std::io::Error::other(format!(
            "{} is not a loopback address: listening beyond this machine must be asked for \
             (ObserveConfig::public, --observe-public)",
            config.addr
        )));
    }
    let listener = std::net::TcpListener::bind(config.addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let token = if (config.allow_kill && !addr.ip().is_loopback()) || config.allow_upgrade {
        Some(guard::new_token()?)
    } else {
        None
    };
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "the observer listens on {addr}, beyond this machine: anyone who reaches it sees \
             every process{}",
            if token.is_some() {
                " (kills need the token)"
            } else {
                ""
            }
        );
    }
    let upgrader = Arc::new(OnceLock::new());
    let source = Source {
        table: Arc::downgrade(table),
        io: Arc::downgrade(io),
        allow_kill: config.allow_kill,
        allow_upgrade: config.allow_upgrade,
        upgrader: upgrader.clone(),
        guard: guard::Guard::new(addr, &config.hosts, token.clone()),
        walks: Arc::new(tokio::sync::Semaphore::new(1)),
        streams: Arc::new(tokio::sync::Semaphore::new(server::MAX_EVENT_STREAMS)),
        history: Arc::new(history::History::default()),
        started_at: crate::actor::stats::now_ms(),
        sched,
    };
    let listener = {
        let _entered = handle.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let sampler = handle.spawn(history::sample(source.clone()));
    let server = handle.spawn(server::serve(listener, source));
    Ok(Observer {
        addr,
        token,
        upgrader,
        tasks: vec![sampler.abort_handle(), server.abort_handle()],
    })
}
