//! A node's membership of a cluster: its NATS connection, its peers, the ordered streams of
//! signals to each, and the one task that applies what comes in. The rules of admission,
//! liveness, freshness and streams below are decided by [`super::core`], a state machine
//! without I/O; this file checks MACs, gives it the events and the time, and carries out its
//! decisions.
//!
//! - **Joining** takes a node number from the cluster (the revision of the node's entry in
//!   the `<prefix>_nodes` bucket: unique and never reused, so a restarted node is a new
//!   node and pids of its old incarnation reach nobody).
//! - **Trust**: every frame and beat carries a MAC under the cluster's secret and is checked
//!   before anything is decoded or kept ([`super::auth`]); forged ones are dropped and
//!   counted, old ones (a replay) dropped. State is kept only for authenticated peers, at
//!   most [`ClusterConfig::max_peers`] of them; peers down for [`FORGET_AFTER`] are
//!   forgotten (all but the freshness floor of their sessions and beats, 16 bytes).
//! - **Liveness**: every node publishes a [`Beat`] every [`BEAT_INTERVAL`] on
//!   `<prefix>.beat.<name>`. A peer is *up* from its first beat (or frame) until no beat came for
//!   [`NODE_TIMEOUT`], it says it is leaving, its stream breaks, or this node's own NATS
//!   connection drops. Then it is *torn down*: the queue to it is dropped, the process table
//!   fires every link and monitor towards it with `noconnection`, pending spawns on it fail,
//!   and the peer is told (a reset) so it tears its side down too. A torn-down peer that
//!   beats again is up again (same node, same pids), as Erlang reconnects.
//! - **Streams**: signals for a peer are queued in order and published by one flusher task
//!   per peer, as many as are queued in one batch (cut into frames under the server's
//!   payload limit), on `<prefix>.node.<number>.<sender's name>`. Frames carry a session and a sequence
//!   number; a receiver that sees a gap (NATS dropped a frame for a slow consumer, say)
//!   tears the peer down instead of going on with signals missing.
//! - **Back-pressure**: the flusher flushes each batch to the server before it takes the
//!   next, so what waits for a slow link gathers in the queue; over the send mark
//!   ([`ClusterConfig::send_mark`]) a process's `send` waits (`Remote::room`) until the
//!   flusher takes it. Signals that cannot wait fail only past 4 times the mark.
//! - **Applying**: one dispatcher task reads this node's subject and the beats, checks the
//!   sequence, and applies each envelope in order: signals through
//!   [`ProcessTable::apply`](crate::actor::ProcessTable::apply), spawn orders through the
//!   [`LocalNode`], spawn answers to the waiting caller.

use super::auth::{self, ClusterSecret, Keys, Sessions};
use super::core::{Action, BEAT_INTERVAL, BeatIn, Core};
#[cfg(doc)]
use super::core::{FORGET_AFTER, NODE_TIMEOUT};
use super::deploy;
use super::modules::Modules;
use super::names::{self, GlobalNames};
use super::wire::{self, Beat, DATA_END, DATA_MORE, Envelope, Header, RESET, Refused, SpawnOrder};
use crate::actor::remote::{NodeId, Remote, RoomWait, Signal, Unreachable};
use crate::actor::{Pid, ProcessTable};
use crate::sync::{Locked, ReadWriteLocked};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use warren_abi::{MAX_NODE, node_of};

/// The default of [`ClusterConfig::send_mark`].
pub(crate) const DEFAULT_SEND_MARK: usize = 64 << 20;
/// How long a remote spawn waits for its answer.
pub(crate) const SPAWN_TIMEOUT: Duration = Duration::from_secs(30);
/// The default of [`ClusterConfig::max_peers`].
pub(crate) const DEFAULT_MAX_PEERS: usize = 1024;

/// How to join a cluster.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222` (JetStream on: `nats-server -js`).
    pub url: String,
    /// This node's name (shown to other nodes; `warren::node::lookup` finds it by it).
    pub node_name: String,
    /// A NATS credentials file (`.creds`), if the server requires one.
    pub creds: Option<PathBuf>,
    /// Root certificates (PEM) to trust for a `tls://` server, besides the system's.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and its key (PEM), for a server that asks for one.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// The subject and bucket prefix: clusters with different prefixes on one server do not
    /// see each other.
    pub prefix: String,
    /// Most global names one process may hold.
    pub max_global_names: usize,
    /// Bytes queued for one node above which a process's `send` to it waits until the
    /// queue was taken to be published (as Erlang suspends a sender on a busy distribution
    /// port): a process sending faster than the link carries slows down instead of filling
    /// the queue that links, monitors and exit signals need too. Signals that cannot wait
    /// (exits, links, monitors, the host's sends) fail only past 4 times this (256 MiB by
    /// default).
    pub send_mark: usize,
    /// The secret every node of the cluster holds: frames and beats are authenticated with
    /// it (see [`ClusterSecret`]). Required unless [`insecure`](Self::insecure).
    pub secret: Option<ClusterSecret>,
    /// Join without a secret, taking whatever arrives on the bus as coming from whom it
    /// claims (anyone who can publish on the server can then kill processes and run code).
    /// Only for trusted networks and tests; [`Cluster::join`] warns.
    pub insecure: bool,
    /// Most peers this node keeps state for at once (peers down are forgotten first).
    pub max_peers: usize,
    /// For a node started without a module ([`Cluster::wait_for_module`]): the SHA-256 of
    /// the modules it may run. Empty: any module an authenticated node's spawn order names.
    pub trusted_modules: Vec<[u8; 32]>,
}

impl ClusterConfig {
    /// Join the cluster at `url` as `node_name`, with the default prefix `warren`.
    pub fn new(url: impl Into<String>, node_name: impl Into<String>) -> Self {
        ClusterConfig {
            url: url.into(),
            node_name: node_name.into(),
            creds: None,
            tls_ca: None,
            tls_client: None,
            prefix: "warren".into(),
            max_global_names: crate::actor::DEFAULT_NAMES,
            send_mark: DEFAULT_SEND_MARK,
            secret: None,
            insecure: false,
            max_peers: DEFAULT_MAX_PEERS,
            trusted_modules: Vec::new(),
        }
    }

    /// The same, with the cluster's secret.
    pub fn with_secret(mut self, secret: ClusterSecret) -> Self {
        self.secret = Some(secret);
        self
    }
}

/// What the cluster needs of the runtime of its node.
pub(crate) trait LocalNode: Send + Sync + 'static {
    /// The runtime's process table.
    fn table(&self) -> &Arc<ProcessTable>;
    /// SHA-256 of the module the runtime runs.
    fn module(&self) -> [u8; 32];
    /// Start a process for a parent on another node, as `order` says; its pid.
    fn spawn(&self, order: SpawnOrder) -> Result<Pid, String>;
    /// Whether the runtime holds a version of the program with this module hash.
    fn holds(&self, module: &[u8; 32]) -> bool;
    /// Load `module` as a new version of the program (hot code upgrade); what it did.
    fn load(&self, module: Vec<u8>) -> LoadFuture;
}

/// What [`LocalNode::load`] returns: the text of what the load did, or why it failed.
pub(crate) type LoadFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send>>;

/// A connected peer, as the guest API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its number.
    pub node: NodeId,
    /// Its name.
    pub name: String,
}

/// This node's membership of a cluster. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// use warren_runtime::{Cluster, ClusterConfig, Runtime};
///
/// let secret = warren_runtime::ClusterSecret::from_file("cluster.secret".as_ref())?;
/// let cluster =
///     Cluster::join(ClusterConfig::new("nats://127.0.0.1:4222", "a").with_secret(secret))
///         .await?;
/// let runtime = Runtime::builder()
///     .cluster(cluster.clone())
///     .build_file("app.wasm".as_ref())?;
/// println!("root exited: {}", runtime.start()?.exited().await);
/// cluster.leave().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster(node {} {:?})", self.inner.node, self.inner.name)
    }
}

struct Inner {
    client: async_nats::Client,
    node: NodeId,
    name: String,
    prefix: String,
    /// The largest frame the server takes.
    max_payload: usize,
    peers: RwLock<HashMap<NodeId, Arc<Peer>>>,
    local: OnceLock<Weak<dyn LocalNode>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_req: AtomicU64,
    names: GlobalNames,
    /// [`ClusterConfig::send_mark`]; a peer's queue holds at most 4 times it.
    send_mark: usize,
    modules: Modules,
    /// The node runs no module yet and takes the first spawn order's (`wait_for_module`).
    bare: AtomicBool,
    /// The module a bare node was asked to run (by hash), for `wait_for_module`.
    wanted: watch::Sender<Option<[u8; 32]>>,
    /// Work for the dispatcher from elsewhere.
    control: mpsc::UnboundedSender<Control>,
    /// Processes told when a node comes up or goes down: (pid, the reference it holds).
    watchers: Mutex<Vec<(Pid, u64)>>,
    closed: AtomicBool,
    /// The MAC keys (none: insecure).
    keys: Keys,
    /// This node's stream sessions (strictly increasing).
    sessions: Sessions,
    /// This node's beats so far.
    beats: AtomicU64,
    /// [`ClusterConfig::trusted_modules`].
    trusted_modules: Vec<[u8; 32]>,
    /// Frames and beats dropped because their MAC did not verify, their subject named
    /// another node, or they were old (replays).
    refused: AtomicU64,
    /// Of those, deploy records (logged on their own count).
    refused_deploys: AtomicU64,
    /// The latest deploy record this node took ([`super::deploy`]).
    deployed: Mutex<Option<deploy::Record>>,
    /// The deployed module this node is loading, if any.
    loading: Mutex<Option<[u8; 32]>>,
    /// Held by the deploy load that runs (one at a time).
    deploy_turn: tokio::sync::Mutex<()>,
}

/// The first byte of a node event (`warren:node.watch`): the node came up.
pub(crate) const NODE_UP: u8 = 1;
/// The first byte of a node event: the node went down or became unreachable.
pub(crate) const NODE_DOWN: u8 = 0;

/// One peer: what is known of it, and the queue towards it.
struct Peer {
    node: NodeId,
    /// Where frames for it go: `<prefix>.node.<its number>.<this node's name>`.
    subject: String,
    /// Its name, as its first authenticated beat or frame gave it; frames and beats for its
    /// number under another name are refused.
    name: String,
    /// Forgotten: its flusher ends.
    gone: AtomicBool,
    out: Mutex<Out>,
    wake: Notify,
    /// Notified whenever the queue was taken (or dropped by a tear-down): the senders
    /// waiting for room ask again.
    room: Arc<Notify>,
}

struct Out {
    up: bool,
    /// The session of the stream to this peer; a new one after every tear-down.
    session: u64,
    queue: Vec<Envelope>,
    bytes: usize,
}

/// A remote spawn waiting for its answer.
struct Pending {
    node: NodeId,
    parent: Pid,
    link: bool,
    monitor: Option<u64>,
    answer: oneshot::Sender<Result<Pid, String>>,
}

enum Control {
    /// This node's NATS connection dropped: every peer is torn down.
    Disconnected,
    /// The runtime is attached: spawn orders that waited for it run now.
    Attached,
    /// A bare node could not get the module it was asked for: refuse the waiting orders.
    Refuse(String),
    /// Publishing to a peer failed (what was in the batch is lost): tear it down.
    Broken(NodeId, String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.locked()
}

use super::hex;

/// `scheme://user:pass@rest` as (`scheme://rest`, its user and password), percent-decoded;
/// a URL without them as it is.
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
    let Some((userinfo, host)) = rest.split_once('@').filter(|(u, _)| !u.contains('/')) else {
        return (url.to_string(), None);
    };
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |s: &str| warren_abi::query::percent_decode(s);
    (
        format!("{scheme}://{host}"),
        Some((decode(user), decode(pass))),
    )
}

impl Cluster {
    /// Connect to the NATS server, take a node number, and start beating and listening.
    /// Must be called within a tokio runtime: the cluster's tasks (the NATS client, the
    /// dispatcher, a flusher per peer, the beats) run on it. (A thread of their own, a
    /// current-thread runtime, was measured: remote round trips 232-237 us against 161-169 on
    /// the shared workers.)
    pub async fn join(config: ClusterConfig) -> anyhow::Result<Cluster> {
        use anyhow::Context as _;
        if !auth::valid_node_name(&config.node_name) {
            anyhow::bail!(
                "{:?} cannot name a node: 1 to 64 ASCII letters, digits, '-' or '_' (it is a \
                 token of the cluster's NATS subjects)",
                config.node_name
            );
        }
        match (&config.secret, config.insecure) {
            (None, false) => anyhow::bail!(
                "joining {} needs the cluster's secret (`warren cluster-secret FILE` makes one; \
                 give every node the same file with --cluster-secret), or an explicit \
                 --cluster-insecure",
                config.url
            ),
            (None, true) => tracing::warn!(
                "joining {} WITHOUT AUTHENTICATION (insecure mode): anyone who can publish on \
                 the NATS server can kill this node's processes and make it run code",
                config.url
            ),
            (Some(_), true) => {
                anyhow::bail!("a cluster secret and insecure mode exclude each other")
            }
            (Some(_), false) => {}
        }
        let (events, control_rx) = mpsc::unbounded_channel();
        let control = events.clone();
        let options = async_nats::ConnectOptions::new()
            .name(format!("warren node {}", config.node_name))
            .subscription_capacity(1 << 18)
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            tracing::warn!("the cluster's NATS connection dropped");
                            let _ = events.send(Control::Disconnected);
                        }
                        async_nats::Event::SlowConsumer(_) => {
                            tracing::warn!(
                                "NATS dropped frames for this node (slow consumer); the \
                                 streams that lost one are torn down"
                            );
                        }
                        other => tracing::debug!("NATS: {other}"),
                    }
                }
            });
        let client = connect(&config, options).await?;
        let (url, _) = split_credentials(&config.url);
        let js = async_nats::jetstream::new(client.clone());
        let prefix = config.prefix.clone();
        let nodes = names::open_bucket(&js, &format!("{prefix}_nodes"))
            .await
            .with_context(|| {
                format!(
                    "the NATS server at {url} must have JetStream on (nats-server -js): it keeps \
                     the node numbers and global names"
                )
            })?;
        let revision = nodes
            .put(
                format!("n{}", hex(config.node_name.as_bytes())),
                bytes::Bytes::from(config.node_name.clone()),
            )
            .await
            .context("taking a node number")?;
        let node = u32::try_from(revision)
            .ok()
            .filter(|n| (1..=MAX_NODE).contains(n))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the cluster has handed out {revision} node numbers, more than pids can \
                     carry ({MAX_NODE}); purge the {prefix}_nodes bucket"
                )
            })?;
        let names =
            GlobalNames::open(&js, &format!("{prefix}_names"), config.max_global_names).await?;
        let modules = Modules::open(&js, &format!("{prefix}_modules")).await?;
        let keys = Keys::new(config.secret.as_ref(), &prefix);
        let deploys = deploy::open_bucket(&js, &prefix).await?;
        let deployed = deploy::latest(&deploys, &keys).await;
        let deploy_watch = deploys
            .watch(deploy::KEY)
            .await
            .context("watching the cluster's deploy record")?;
        let frames = client
            .subscribe(format!("{prefix}.node.{node}.*"))
            .await
            .context("subscribing to this node's subject")?;
        let beats = client
            .subscribe(format!("{prefix}.beat.*"))
            .await
            .context("subscribing to the cluster's beats")?;
        let max_payload = client.server_info().max_payload.max(64 * 1024);
        let inner = Arc::new(Inner {
            client,
            node,
            name: config.node_name.clone(),
            prefix,
            max_payload,
            peers: RwLock::new(HashMap::new()),
            local: OnceLock::new(),
            pending: Mutex::new(HashMap::new()),
            next_req: AtomicU64::new(1),
            names,
            send_mark: config.send_mark.max(1),
            modules,
            bare: AtomicBool::new(false),
            wanted: watch::channel(None).0,
            control,
            watchers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            keys,
            sessions: Sessions::default(),
            beats: AtomicU64::new(0),
            trusted_modules: config.trusted_modules.clone(),
            refused: AtomicU64::new(0),
            refused_deploys: AtomicU64::new(0),
            deployed: Mutex::new(deployed),
            loading: Mutex::new(None),
            deploy_turn: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(beat_loop(Arc::downgrade(&inner)));
        tokio::spawn(deploy_loop(Arc::downgrade(&inner), deploy_watch));
        let dispatcher = Dispatcher {
            core: Core::new(node, inner.keys.secure(), config.max_peers.max(1)),
            inner: inner.clone(),
            waiting: Vec::new(),
        };
        tokio::spawn(dispatcher.run(frames, beats, control_rx));
        tracing::info!(node, name = %config.node_name, "joined the cluster at {url}");
        Ok(Cluster { inner })
    }

    /// This node's number.
    pub fn node(&self) -> NodeId {
        self.inner.node
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Attach the runtime of this node (once).
    pub(crate) fn attach(&self, local: Weak<dyn LocalNode>) {
        let _ = self.inner.local.set(local);
        let _ = self.inner.control.send(Control::Attached);
    }

    /// Store the module this node runs in the cluster's bucket (in the background), for
    /// nodes started without one.
    pub(crate) fn offer_module(&self, hash: [u8; 32], bytes: Vec<u8>) {
        let modules = self.inner.modules.clone();
        tokio::spawn(async move {
            if let Err(e) = modules.offer(hash, bytes).await {
                tracing::warn!("{e:#}");
            }
        });
    }

    /// For a node started without a module: announce it, wait for the first spawn order,
    /// and fetch the module it names from the cluster (checked against its hash). Build the
    /// runtime from the bytes with [`RuntimeBuilder::cluster`](crate::RuntimeBuilder::cluster)
    /// and this cluster: the orders that waited run then. If the module cannot be had, the
    /// waiting orders are refused with the reason, and the error returned (call again to
    /// wait for the next order).
    pub async fn wait_for_module(&self) -> anyhow::Result<Vec<u8>> {
        self.inner.bare.store(true, Ordering::Release);
        let mut wanted = self.inner.wanted.subscribe();
        let hash = loop {
            if let Some(h) = *wanted.borrow_and_update() {
                break h;
            }
            wanted
                .changed()
                .await
                .map_err(|_| anyhow::anyhow!("the cluster stopped"))?;
        };
        match self
            .inner
            .modules
            .fetch(hash, Duration::from_secs(10))
            .await
        {
            Ok(bytes) => Ok(bytes),
            Err(e) => {
                let _ = self.inner.wanted.send(None);
                let _ = self.inner.control.send(Control::Refuse(format!("{e:#}")));
                Err(e)
            }
        }
    }

    /// The signal router for the process table.
    pub(crate) fn remote(&self) -> Arc<dyn Remote> {
        self.inner.clone()
    }

    /// The peers that are up.
    pub fn peers(&self) -> Vec<NodeInfo> {
        let peers = self.inner.peers.read_locked();
        let mut list: Vec<NodeInfo> = peers
            .values()
            .filter(|p| lock(&p.out).up)
            .map(|p| NodeInfo {
                node: p.node,
                name: p.name.clone(),
            })
            .collect();
        list.sort_by_key(|n| n.node);
        list
    }

    /// Whether `node` is this node or a peer that is up.
    pub fn is_up(&self, node: NodeId) -> bool {
        node == self.inner.node || self.inner.peer(node).is_some_and(|p| lock(&p.out).up)
    }

    /// The name of this node or of a peer that is up.
    pub fn node_name(&self, node: NodeId) -> Option<String> {
        if node == self.inner.node {
            return Some(self.inner.name.clone());
        }
        let p = self.inner.peer(node)?;
        let up = lock(&p.out).up;
        up.then(|| p.name.clone())
    }

    /// The number of the node named `name` (this one, or a peer that is up; the newest if
    /// several are).
    pub fn lookup(&self, name: &str) -> Option<NodeId> {
        if name == self.inner.name {
            return Some(self.inner.node);
        }
        self.peers()
            .into_iter()
            .filter(|n| n.name == name)
            .map(|n| n.node)
            .max()
    }

    /// Ask `node` to start a process (`order.req` is filled in here); the request number and
    /// the receiver its answer comes on. Fails at once if the node is not up.
    pub fn spawn(
        &self,
        node: NodeId,
        mut order: SpawnOrder,
    ) -> Result<(u64, oneshot::Receiver<Result<Pid, String>>), Unreachable> {
        let req = self.inner.next_req.fetch_add(1, Ordering::Relaxed);
        order.req = req;
        let (answer, rx) = oneshot::channel();
        lock(&self.inner.pending).insert(
            req,
            Pending {
                node,
                parent: order.parent,
                link: order.spec.link,
                monitor: order.spec.monitor,
                answer,
            },
        );
        if let Err(e) = self.inner.enqueue(node, Envelope::Spawn(order)) {
            lock(&self.inner.pending).remove(&req);
            return Err(e);
        }
        Ok((req, rx))
    }

    /// Tell `pid` (a process of this node holding reference `tag`) of every node that comes
    /// up or goes down from now on, in messages tagged `tag`: 1 (up) or 0 (down),
    /// then the node's number (u32 little-endian). Until it gives up the reference or exits.
    pub fn watch_nodes(&self, pid: Pid, tag: u64) {
        let table = self.inner.table();
        let mut w = lock(&self.inner.watchers);
        // Entries of processes gone (or that let the reference go) are pruned here too.
        w.retain(|&(p, t)| {
            table
                .as_ref()
                .is_some_and(|t2| t2.get(p).is_some_and(|r| r.holds(t)))
        });
        w.push((pid, tag));
    }

    /// Stop telling `pid` of node events under `tag`.
    pub fn unwatch_nodes(&self, pid: Pid, tag: u64) {
        lock(&self.inner.watchers).retain(|&w| w != (pid, tag));
    }

    /// Forget spawn request `req`, whose caller stopped waiting: if the child starts after
    /// all, the late answer kills it.
    pub fn forget_spawn(&self, req: u64) {
        lock(&self.inner.pending).remove(&req);
    }

    /// Whether the holder of a global name may be alive: a process of this node that is,
    /// or any process of a peer that is up.
    fn may_be_alive(&self, pid: Pid) -> bool {
        if node_of(pid) == self.inner.node {
            return self.inner.table().is_some_and(|t| t.get(pid).is_some());
        }
        self.is_up(node_of(pid))
    }

    /// Register the global name `name` for `pid`, a live process of this node.
    pub async fn register_global(&self, name: &str, pid: Pid) -> Result<(), names::NameError> {
        self.inner
            .names
            .register(name, pid, |p| self.may_be_alive(p))
            .await?;
        // If it exited meanwhile, its exit did not see the flag: free the name now.
        if !self.inner.table().is_some_and(|t| t.mark_global_names(pid)) {
            self.inner.names.release(pid);
        }
        Ok(())
    }

    /// The pid registered under the global name, if its holder may be alive.
    pub async fn whereis_global(&self, name: &str) -> Result<Option<Pid>, names::NameError> {
        self.inner
            .names
            .whereis(name, |p| self.may_be_alive(p))
            .await
    }

    /// Remove a global name; the pid it named.
    pub async fn unregister_global(&self, name: &str) -> Result<Option<Pid>, names::NameError> {
        self.inner.names.unregister(name).await
    }

    /// Frames and beats refused so far: forged (their MAC did not verify), naming another
    /// node in their subject than the one they speak for, or old (replayed).
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Leave the cluster: say so to the peers (they tear this node down at once instead of
    /// after the 2 s node timeout), free this node's global names, and stop.
    pub async fn leave(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // Senders waiting for room send now (or fail, once the peers are gone).
        for p in self.inner.all_peers() {
            p.room.notify_waiters();
        }
        // Let the flushers publish what is queued, so signals sent before leaving arrive.
        for _ in 0..100 {
            let queued = self
                .inner
                .all_peers()
                .iter()
                .any(|p| !lock(&p.out).queue.is_empty());
            if !queued {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.inner.names.release_all().await;
        let _ = self.inner.publish_beat(true).await;
        let _ = self.inner.client.flush().await;
    }
}

impl Inner {
    fn peer(&self, node: NodeId) -> Option<Arc<Peer>> {
        self.peers.read_locked().get(&node).cloned()
    }

    fn all_peers(&self) -> Vec<Arc<Peer>> {
        self.peers.read_locked().values().cloned().collect()
    }

    fn table(&self) -> Option<Arc<ProcessTable>> {
        let local = self.local.get()?.upgrade()?;
        Some(local.table().clone())
    }

    fn local(&self) -> Option<Arc<dyn LocalNode>> {
        self.local.get()?.upgrade()
    }

    /// Whether the latest deploy record this node took names `module` (see
    /// [`deploy::Record::names`]).
    fn is_deployed(&self, module: &[u8; 32]) -> bool {
        lock(&self.deployed)
            .as_ref()
            .is_some_and(|d| d.names(module))
    }

    /// Load the deployed `module` (fetched from the module bucket and checked against its
    /// hash) as this node's current version, unless that load is under way; then apply or
    /// refuse the spawn orders that wait for it, and report what came of it.
    fn load_deployed(self: &Arc<Self>, module: [u8; 32]) {
        {
            let mut loading = lock(&self.loading);
            if *loading == Some(module) {
                return;
            }
            *loading = Some(module);
        }
        let inner = self.clone();
        tokio::spawn(async move {
            // Deploys that come quickly load one after the other, not refused as "another
            // version is loading".
            let result = {
                let _turn = inner.deploy_turn.lock().await;
                inner.load_module(module).await
            };
            *lock(&inner.loading) = None;
            let short = hex(&module[..6]);
            match &result {
                Ok(text) => tracing::info!(target: "warren::upgrade", "deploy of {short}: {text}"),
                Err(why) => tracing::warn!(
                    target: "warren::upgrade",
                    "deploy of {short}: the new version was not loaded: {why}"
                ),
            }
            let _ = inner.control.send(match &result {
                Ok(_) => Control::Attached,
                Err(why) => Control::Refuse(why.clone()),
            });
            let record = lock(&inner.deployed).clone();
            if let Some(record) = record.filter(|r| r.hash == module) {
                inner.report(&record, result).await;
            }
        });
    }

    async fn load_module(&self, module: [u8; 32]) -> Result<String, String> {
        let local = self
            .local()
            .ok_or_else(|| format!("node {} runs no module yet", self.name))?;
        if !self.trusts(&module) {
            return Err(format!(
                "node {} runs only the modules given with --trust-module, not {}",
                self.name,
                hex(&module)
            ));
        }
        let bytes = self
            .modules
            .fetch(module, deploy::FETCH_PATIENCE)
            .await
            .map_err(|e| format!("{e:#}"))?;
        local.load(bytes).await
    }

    /// Tell the deployer what this node made of `record`.
    async fn report(&self, record: &deploy::Record, result: Result<String, String>) {
        let report = deploy::Report {
            node: self.node,
            name: self.name.clone(),
            hash: record.hash,
            record_ms: record.sent_ms,
            result,
        };
        let subject = format!("{}.deployed.{}", self.prefix, self.name);
        if let Err(e) = self
            .client
            .publish(subject, report.seal(&self.keys).into())
            .await
        {
            tracing::debug!("publishing a deploy report: {e}");
        }
    }

    /// Whether a node started without a module may run `module`.
    fn trusts(&self, module: &[u8; 32]) -> bool {
        self.trusted_modules.is_empty() || self.trusted_modules.contains(module)
    }

    /// Tell the watchers that `node` came up or went down.
    fn node_event(&self, kind: u8, node: NodeId) {
        let Some(table) = self.table() else { return };
        let mut data = vec![kind];
        data.extend_from_slice(&node.to_le_bytes());
        lock(&self.watchers).retain(|&(pid, tag)| match table.get(pid) {
            Some(p) if p.holds(tag) => {
                table.deliver(&p, crate::actor::Message::new(tag, data.clone()));
                true
            }
            _ => false,
        });
    }

    /// Queue `envelope` for `node`.
    fn enqueue(&self, node: NodeId, envelope: Envelope) -> Result<(), Unreachable> {
        let Some(peer) = self.peer(node) else {
            return Err(Unreachable::NotConnected(node));
        };
        let mut out = lock(&peer.out);
        if !out.up || self.closed.load(Ordering::Acquire) {
            return Err(Unreachable::NotConnected(node));
        }
        let weight = envelope.weight();
        if out.bytes + weight > self.send_mark.saturating_mul(4) {
            return Err(Unreachable::Congested {
                node,
                bytes: out.bytes,
            });
        }
        let was_empty = out.queue.is_empty();
        out.queue.push(envelope);
        out.bytes += weight;
        drop(out);
        if was_empty {
            peer.wake.notify_one();
        }
        Ok(())
    }

    /// The queue (and flusher) of peer `node` named `name`, which the core admitted: made if
    /// it is not there yet.
    fn add_peer(self: &Arc<Self>, node: NodeId, name: &str) -> Arc<Peer> {
        self.peers
            .write_locked()
            .entry(node)
            .or_insert_with(|| {
                let peer = Arc::new(Peer {
                    node,
                    subject: format!("{}.node.{node}.{}", self.prefix, self.name),
                    name: name.to_string(),
                    gone: AtomicBool::new(false),
                    out: Mutex::new(Out {
                        up: false,
                        session: self.sessions.next(),
                        queue: Vec::new(),
                        bytes: 0,
                    }),
                    wake: Notify::new(),
                    room: Arc::new(Notify::new()),
                });
                tokio::spawn(flusher(Arc::downgrade(self), peer.clone()));
                peer
            })
            .clone()
    }

    /// Forget `node` (down for long): its flusher ends, its state goes.
    fn forget(&self, node: NodeId) {
        let removed = self.peers.write_locked().remove(&node);
        if let Some(p) = removed {
            p.forget();
        }
    }

    /// Count a refused frame or beat, and say so now and then (a flood does not flood the
    /// log: the 1st, 2nd, 4th, 8th... are logged).
    fn refuse(&self, what: &str) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        Self::tell_refused(what, n, n);
    }

    /// [`Inner::refuse`] for a deploy record: logged on a count of its own, so the first
    /// forged one is told however many forged frames came before.
    fn refuse_deploy(&self, what: &str) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let told = self.refused_deploys.fetch_add(1, Ordering::Relaxed) + 1;
        Self::tell_refused(what, n, told);
    }

    /// Log a refusal when `told` is a power of two (`n` refused in all).
    fn tell_refused(what: &str, n: u64, told: u64) {
        if told.is_power_of_two() {
            tracing::warn!(
                refused = n,
                "dropped {what} (refused so far: {n}); is someone without the cluster's \
                 secret publishing on the NATS server?"
            );
        }
    }

    /// Publish what is queued for `peer`, in one batch; `stream` is the flusher's (session,
    /// next sequence number).
    async fn flush_peer(&self, peer: &Peer, stream: &mut (u64, u64)) -> anyhow::Result<bool> {
        let (batch, session) = {
            let mut out = lock(&peer.out);
            if out.queue.is_empty() {
                return Ok(false);
            }
            out.bytes = 0;
            (std::mem::take(&mut out.queue), out.session)
        };
        peer.room.notify_waiters();
        if stream.0 != session {
            *stream = (session, 0);
        }
        let bytes = postcard::to_stdvec(&batch)?;
        let room = self.max_payload - wire::HEADER;
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![&[]]
        } else {
            bytes.chunks(room).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let header = Header {
                kind: if i == last { DATA_END } else { DATA_MORE },
                from: self.node,
                to: peer.node,
                session,
                seq: stream.1,
            };
            stream.1 += 1;
            self.client
                .publish(peer.subject.clone(), header.frame(&self.keys, chunk).into())
                .await?;
        }
        // Until the batch is written out, the next one gathers in the queue, where the send
        // mark bounds it: the client's own buffer never holds more than one batch.
        self.client.flush().await?;
        Ok(true)
    }

    async fn publish_beat(&self, leaving: bool) -> anyhow::Result<()> {
        let beat = Beat {
            node: self.node,
            name: self.name.clone(),
            module: self.local().map(|l| l.module()),
            leaving,
            counter: self.beats.fetch_add(1, Ordering::Relaxed) + 1,
            sent_ms: auth::now_millis(),
        };
        self.client
            .publish(
                format!("{}.beat.{}", self.prefix, self.name),
                beat.seal(&self.keys).into(),
            )
            .await?;
        Ok(())
    }

    async fn publish_reset(&self, peer: &Peer, session: u64) {
        let header = Header {
            kind: RESET,
            from: self.node,
            to: peer.node,
            session,
            seq: 0,
        };
        let _ = self
            .client
            .publish(peer.subject.clone(), header.frame(&self.keys, &[]).into())
            .await;
    }
}

impl Remote for Inner {
    fn route(&self, signal: Signal) -> Result<(), Unreachable> {
        let node = node_of(signal.destination());
        self.enqueue(node, Envelope::Signal(signal))
    }

    fn room(&self, node: NodeId, bytes: usize) -> Option<RoomWait> {
        let peer = self.peer(node)?;
        let out = lock(&peer.out);
        // A message alone in the queue always goes, however large (the hard bound is past
        // the mark). Not connected or leaving: the send fails instead of waiting.
        if out.bytes == 0
            || out.bytes + Envelope::OVERHEAD + bytes <= self.send_mark
            || !out.up
            || self.closed.load(Ordering::Acquire)
        {
            return None;
        }
        // Made under the lock the flusher takes the queue under: its notification after
        // taking it cannot be missed.
        let taken = peer.room.clone().notified_owned();
        drop(out);
        Some(Box::pin(taken))
    }

    fn exited_with_global_names(&self, pid: Pid) {
        self.names.release(pid);
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cluster node {} {:?}", self.node, self.name)
    }
}

impl Peer {
    /// Drop everything queued and end the flusher.
    fn forget(&self) {
        self.gone.store(true, Ordering::Release);
        let mut out = lock(&self.out);
        out.up = false;
        out.queue = Vec::new();
        out.bytes = 0;
        drop(out);
        self.wake.notify_one();
        self.room.notify_waiters();
    }
}

/// Publishes `peer`'s queue whenever it fills, until the cluster is gone or the peer is
/// forgotten.
async fn flusher(inner: Weak<Inner>, peer: Arc<Peer>) {
    let mut stream = (0, 0);
    loop {
        peer.wake.notified().await;
        if peer.gone.load(Ordering::Acquire) {
            return;
        }
        let Some(inner) = inner.upgrade() else { return };
        loop {
            match inner.flush_peer(&peer, &mut stream).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // The batch is gone: the links and monitors across must fire.
                    let _ = inner.control.send(Control::Broken(
                        peer.node,
                        format!("publishing to it failed: {e}"),
                    ));
                    break;
                }
            }
        }
    }
}

/// Connect to the NATS server `config` names, with its credentials and TLS settings, on
/// top of `options`.
pub(crate) async fn connect(
    config: &ClusterConfig,
    mut options: async_nats::ConnectOptions,
) -> anyhow::Result<async_nats::Client> {
    use anyhow::Context as _;
    if let Some(creds) = &config.creds {
        options = options
            .credentials_file(creds)
            .await
            .with_context(|| format!("reading the credentials file {}", creds.display()))?;
    }
    if let Some(ca) = &config.tls_ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &config.tls_client {
        options = options
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    // A user and password in the URL (nats://USER:PASS@HOST:PORT) are this node's
    // credentials; the client library does not read them from the URL itself.
    let (url, user) = split_credentials(&config.url);
    if let Some((user, pass)) = user {
        options = options.user_and_password(user, pass);
    }
    options
        .connect(url.as_str())
        .await
        .with_context(|| format!("connecting to the NATS server at {url}"))
}

/// Takes each new deploy record ([`super::deploy`]) and loads what it names.
async fn deploy_loop(inner: Weak<Inner>, mut records: async_nats::jetstream::kv::Watch) {
    while let Some(entry) = records.next().await {
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("watching the cluster's deploy record: {e}");
                continue;
            }
        };
        if entry.operation != async_nats::jetstream::kv::Operation::Put {
            continue;
        }
        let record = match deploy::Record::open(&inner.keys, &entry.value) {
            Ok(r) => r,
            Err(Refused::Forged) => {
                inner.refuse_deploy("a forged deploy record");
                continue;
            }
            Err(Refused::Malformed) => {
                inner.refuse_deploy("a malformed deploy record");
                continue;
            }
        };
        // A record replayed (or one that took too long) is not taken: it could roll the
        // node back to a version deployed before.
        let stale = !record.fresh(auth::now_millis())
            || lock(&inner.deployed)
                .as_ref()
                .is_some_and(|d| d.sent_ms >= record.sent_ms);
        if stale {
            tracing::warn!(
                target: "warren::upgrade",
                "ignored a deploy record of module {} by {}: it is older than {} s or than \
                 the last record this node took",
                hex(&record.hash[..6]),
                record.by,
                deploy::MAX_RECORD_AGE.as_secs()
            );
            continue;
        }
        *lock(&inner.deployed) = Some(record.clone());
        if !record.targets(&inner.name) {
            tracing::debug!(
                target: "warren::upgrade",
                "a deploy of module {} for nodes {:?}, not this one",
                hex(&record.hash[..6]),
                record.nodes
            );
            continue;
        }
        tracing::info!(
            target: "warren::upgrade",
            "{} deployed module {} to the cluster",
            record.by,
            hex(&record.hash[..6])
        );
        if inner.local().is_none() {
            let why = "runs no module yet (it takes the module of the first spawn it gets)";
            inner
                .report(&record, Err(format!("node {} {why}", inner.name)))
                .await;
            continue;
        }
        inner.load_deployed(record.hash);
    }
}

async fn beat_loop(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(BEAT_INTERVAL);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        // A node is announced once its runtime is attached (before, it could take no
        // spawn), or once it waits for the module of the first spawn order.
        if inner.local().is_none() && !inner.bare.load(Ordering::Acquire) {
            continue;
        }
        if let Err(e) = inner.publish_beat(false).await {
            tracing::debug!("publishing a beat: {e}");
        }
    }
}

/// The one task that takes what comes in: it checks each frame's and beat's MAC, hands
/// them to the [`Core`] (with the time, and ticks every [`BEAT_INTERVAL`]), and carries out
/// the core's decisions on the peers' queues, NATS and the process table.
struct Dispatcher {
    inner: Arc<Inner>,
    core: Core,
    /// Spawn orders a bare node holds until its runtime is attached.
    waiting: Vec<(NodeId, SpawnOrder)>,
}

/// The last token of a subject: the sender's name.
fn sender_of(subject: &str) -> &str {
    subject.rsplit('.').next().unwrap_or("")
}

impl Dispatcher {
    async fn run(
        mut self,
        mut frames: async_nats::Subscriber,
        mut beats: async_nats::Subscriber,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut tick = tokio::time::interval(BEAT_INTERVAL);
        loop {
            if self.inner.closed.load(Ordering::Acquire) {
                return;
            }
            tokio::select! {
                Some(msg) = frames.next() => self.frame(sender_of(&msg.subject), &msg.payload).await,
                Some(msg) = beats.next() => self.beat(sender_of(&msg.subject), &msg.payload).await,
                Some(c) = control.recv() => match c {
                    Control::Disconnected => {
                        let actions = self.core.disconnected(Instant::now());
                        self.carry_out(actions).await;
                    }
                    Control::Attached => {
                        for (from, order) in std::mem::take(&mut self.waiting) {
                            self.apply(from, Envelope::Spawn(order));
                        }
                    }
                    Control::Broken(node, why) => {
                        let actions = self.core.broken(Instant::now(), node, &why);
                        self.carry_out(actions).await;
                    }
                    Control::Refuse(why) => {
                        for (from, order) in std::mem::take(&mut self.waiting) {
                            let result = Err(format!("node {} could not get the module: {why}", self.inner.name));
                            let _ = self.inner.enqueue(from, Envelope::Spawned { req: order.req, result });
                        }
                    }
                },
                _ = tick.tick() => {
                    let actions = self.core.tick(Instant::now());
                    self.carry_out(actions).await;
                }
                else => return,
            }
        }
    }

    async fn beat(&mut self, subject_name: &str, payload: &[u8]) {
        let beat = match Beat::open(&self.inner.keys, payload) {
            Ok(b) => b,
            Err(Refused::Forged) => return self.inner.refuse("a forged beat"),
            Err(Refused::Malformed) => return self.inner.refuse("a malformed beat"),
        };
        let actions = self.core.beat(
            Instant::now(),
            BeatIn {
                node: beat.node,
                name: &beat.name,
                subject_name,
                counter: beat.counter,
                sent_ms: beat.sent_ms,
                now_ms: auth::now_millis(),
                leaving: beat.leaving,
            },
        );
        self.carry_out(actions).await;
    }

    async fn frame(&mut self, subject_name: &str, payload: &[u8]) {
        let h = match Header::parse(&self.inner.keys, payload) {
            Ok((h, _)) => h,
            Err(Refused::Forged) => return self.inner.refuse("a forged frame"),
            Err(Refused::Malformed) => return self.inner.refuse("a malformed frame"),
        };
        let chunk = &payload[wire::HEADER..];
        let sending = self.inner.peer(h.from).map(|p| lock(&p.out).session);
        let actions = self
            .core
            .frame(Instant::now(), &h, subject_name, chunk, sending);
        self.carry_out(actions).await;
    }

    /// Carry out the core's decisions, in order.
    async fn carry_out(&mut self, actions: Vec<Action>) {
        let mut actions = std::collections::VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Refuse(what) => self.inner.refuse(&what),
                Action::Admit { node, name } => {
                    self.inner.add_peer(node, &name);
                }
                Action::Forget(node) => self.inner.forget(node),
                Action::Up(node) => {
                    if let Some(peer) = self.inner.peer(node) {
                        lock(&peer.out).up = true;
                        tracing::info!(node, name = %peer.name, "node is up");
                        self.inner.node_event(NODE_UP, node);
                    }
                }
                Action::TearDown {
                    node,
                    why,
                    reset,
                    was_up,
                } => self.tear_down(node, &why, reset, was_up).await,
                Action::Reset { node, session } => {
                    if let Some(peer) = self.inner.peer(node) {
                        self.inner.publish_reset(&peer, session).await;
                    }
                }
                Action::Batch { node, bytes } => {
                    match postcard::from_bytes::<Vec<Envelope>>(&bytes) {
                        Ok(batch) => {
                            for envelope in batch {
                                self.apply(node, envelope);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(node, "undecodable batch: {e}");
                            let why = "it sent an undecodable batch";
                            actions.extend(self.core.broken(Instant::now(), node, why));
                        }
                    }
                }
            }
        }
    }

    /// Give up the connection with `node` (the core's [`Action::TearDown`]): its queue goes
    /// and a new session towards it starts, the peer is told (`reset`), the spawns waiting
    /// on it fail, and — if it was up — everything that crosses to it fires.
    async fn tear_down(&mut self, node: NodeId, why: &str, reset: Option<u64>, was_up: bool) {
        let Some(peer) = self.inner.peer(node) else {
            return;
        };
        {
            let mut out = lock(&peer.out);
            out.up = false;
            out.session = self.inner.sessions.next();
            out.queue = Vec::new();
            out.bytes = 0;
        }
        peer.room.notify_waiters();
        if let Some(session) = reset {
            self.inner.publish_reset(&peer, session).await;
        }
        let failed: Vec<Pending> = {
            let mut pending = lock(&self.inner.pending);
            let reqs: Vec<u64> = pending
                .iter()
                .filter(|(_, p)| p.node == node)
                .map(|(&r, _)| r)
                .collect();
            reqs.iter().filter_map(|r| pending.remove(r)).collect()
        };
        for p in failed {
            let _ = p
                .answer
                .send(Err(format!("node {node} went down before it answered")));
        }
        if was_up {
            if let Some(table) = self.inner.table() {
                table.node_down(node);
            }
            tracing::warn!(node, name = %peer.name, "node is down: {why}");
            self.inner.node_event(NODE_DOWN, node);
        }
    }

    fn apply(&mut self, from: NodeId, envelope: Envelope) {
        match envelope {
            Envelope::Signal(signal) => {
                if let Some(table) = self.inner.table() {
                    table.apply(from, signal);
                }
            }
            Envelope::Spawn(order) => {
                let req = order.req;
                let result = if node_of(order.parent) != from {
                    Err("a spawn order for a parent of another node".to_string())
                } else {
                    match self.inner.local() {
                        Some(local)
                            if !local.holds(&order.module)
                                && self.inner.is_deployed(&order.module) =>
                        {
                            // The cluster's deployed version, not loaded here yet: the
                            // order waits for the load (`Control::Attached` applies it again,
                            // `Control::Refuse` refuses it).
                            self.waiting.push((from, order.clone()));
                            self.inner.load_deployed(order.module);
                            return;
                        }
                        Some(local) => local.spawn(order),
                        None if self.inner.bare.load(Ordering::Acquire)
                            && !self.inner.trusts(&order.module) =>
                        {
                            Err(format!(
                                "node {} ({}) does not run module {} (it trusts only {})",
                                self.inner.node,
                                self.inner.name,
                                hex(&order.module),
                                self.inner
                                    .trusted_modules
                                    .iter()
                                    .map(|h| hex(h))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        }
                        None if self.inner.bare.load(Ordering::Acquire) => {
                            // Held until the module it names is fetched and running.
                            if self.waiting.is_empty() {
                                let _ = self.inner.wanted.send(Some(order.module));
                            }
                            self.waiting.push((from, order));
                            return;
                        }
                        None => Err(format!(
                            "node {} ({}) runs no module yet",
                            self.inner.node, self.inner.name
                        )),
                    }
                };
                let _ = self.inner.enqueue(from, Envelope::Spawned { req, result });
            }
            Envelope::Spawned { req, result } => {
                let pending = lock(&self.inner.pending).remove(&req);
                let Some(table) = self.inner.table() else {
                    return;
                };
                match pending {
                    Some(p) if p.node == from => {
                        if let Ok(child) = result {
                            if p.link {
                                table.add_link_half(p.parent, child);
                            }
                            if let Some(tag) = p.monitor {
                                table.monitor_half(p.parent, child, tag);
                            }
                        }
                        let _ = p.answer.send(result);
                    }
                    Some(p) => {
                        lock(&self.inner.pending).insert(req, p);
                    }
                    None => {
                        // The caller gave up waiting: the child it no longer knows of goes.
                        if let Ok(child) = result
                            && node_of(child) == from
                        {
                            table.kill(child);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_credentials;

    #[test]
    fn credentials_in_the_url_are_taken_out() {
        assert_eq!(
            split_credentials("nats://a:p%40ss@127.0.0.1:4222"),
            (
                "nats://127.0.0.1:4222".to_string(),
                Some(("a".to_string(), "p@ss".to_string()))
            )
        );
        assert_eq!(
            split_credentials("tls://host:4222"),
            ("tls://host:4222".to_string(), None)
        );
    }
}
