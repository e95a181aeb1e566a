//! `warren:node`: the cluster as a guest sees it — which node it runs on, which nodes are
//! up, spawning on one of them, and global names.
//!
//! Everything else crosses nodes without new calls: a pid names its node, so `send`,
//! `monitor`, `link`, `kill` and `exit_signal` on another node's pid work as on a local one
//! (see `crate::cluster`). Monitoring the pid `node << 40` watches the node itself: its DOWN
//! (`noconnection`) comes when the node goes down or becomes unreachable.
//!
//! Outside a cluster every call but `this` (which says 0) answers `ERR_NO_CONNECTION`.

use super::abi::*;
use super::call::{self, CallState, GuestMemory, HostError, HostResult};
use crate::actor::SpawnSpec;
use crate::cluster::Cluster;
use crate::cluster::names::NameError;
use crate::cluster::wire::SpawnOrder;
use crate::context::ProcessCtx;
use crate::resources::ResourceTable;
use wasmtime::{Caller, Linker};

/// The view `warren:node` needs: the actor state (which reaches the cluster through the
/// spawner), the handle table (handles cannot go along), memory and last error.
pub(crate) struct NodeView<'a> {
    /// The per-process actor state.
    pub ctx: &'a mut ProcessCtx,
    /// The process's handles.
    pub resources: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
}

fn no_cluster() -> HostError {
    HostError::fail(
        ERR_NO_CONNECTION,
        "this runtime is not in a cluster (start it with warren run --cluster URL --node NAME)",
    )
}

fn node_arg(node: i64) -> HostResult<u32> {
    u32::try_from(node)
        .ok()
        .filter(|n| (1..=MAX_NODE).contains(n))
        .ok_or_else(|| HostError::fail(ERR_NO_CONNECTION, format!("{node} is not a node number")))
}

impl NodeView<'_> {
    fn cluster(&self) -> HostResult<Cluster> {
        self.ctx.spawner.cluster().cloned().ok_or_else(no_cluster)
    }

    /// `this`: the caller's node number (0 outside a cluster).
    pub(crate) fn this(&mut self) -> HostResult<i64> {
        Ok(self.ctx.table.node() as i64)
    }

    /// `list`: the numbers of the other nodes that are up.
    pub(crate) fn list(
        &mut self,
        mem: &mut GuestMemory<'_>,
        ptr: u32,
        cap: u32,
    ) -> HostResult<i64> {
        let room = cap
            .checked_mul(4)
            .ok_or_else(|| HostError::fault(format!("{cap} entries overflow a wasm32 buffer")))?;
        mem.range(ptr, room)?;
        let Some(cluster) = self.ctx.spawner.cluster() else {
            return Ok(0);
        };
        let peers = cluster.peers();
        let bytes: Vec<u8> = peers
            .iter()
            .take(cap as usize)
            .flat_map(|p| p.node.to_le_bytes())
            .collect();
        mem.write(ptr, &bytes)?;
        Ok(peers.len() as i64)
    }

    /// `name`: a node's name (this one's or a peer's that is up).
    pub(crate) fn name(
        &mut self,
        mem: &mut GuestMemory<'_>,
        node: i64,
        ptr: u32,
        cap: u32,
    ) -> HostResult<i64> {
        mem.range(ptr, cap)?;
        let cluster = self.cluster()?;
        let node = node_arg(node)?;
        let Some(name) = cluster.node_name(node) else {
            return Err(HostError::fail(
                ERR_NO_CONNECTION,
                format!("node {node} is not up"),
            ));
        };
        let n = name.len().min(cap as usize);
        mem.write(ptr, &name.as_bytes()[..n])?;
        Ok(name.len() as i64)
    }

    /// `watch`: a reference whose messages say which nodes come up and go down.
    pub(crate) fn watch(&mut self) -> HostResult<i64> {
        let cluster = self.cluster()?;
        let tag = self.ctx.table.new_ref(&self.ctx.me)?;
        cluster.watch_nodes(self.ctx.pid(), tag);
        Ok(tag as i64)
    }

    /// `unwatch`: stop node events under `tag`, dropping those queued.
    pub(crate) fn unwatch(&mut self, tag: i64) -> HostResult<i32> {
        let cluster = self.cluster()?;
        let tag = tag as u64;
        if !self.ctx.me.holds(tag) {
            return Err(HostError::bad_argument(format!(
                "{tag} is not a reference this process holds"
            )));
        }
        cluster.unwatch_nodes(self.ctx.pid(), tag);
        self.ctx.table.release(&self.ctx.me, tag);
        Ok(0)
    }

    /// `lookup`: the number of the node with this name.
    pub(crate) fn lookup(&mut self, mem: &GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<i64> {
        let name = mem.text(ptr, len, MAX_NAME as u32, "node name")?;
        let cluster = self.cluster()?;
        match cluster.lookup(name) {
            Some(n) => Ok(n as i64),
            None => Err(HostError::fail(
                ERR_NO_CONNECTION,
                format!("no node named {name:?} is up"),
            )),
        }
    }
}

/// `spawn`: order a process on another node and wait for its pid.
async fn spawn<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NodeView<'_>,
    node: i64,
    (trampoline, func, ptr, len): (u32, u32, u32, u32),
    options: (i64, u32, i64, i64),
) -> HostResult<i64> {
    let (mem, data) = call::split(c, |d| get(d).call)?;
    let args = mem.read(ptr, len)?.to_vec();
    let view = get(data);
    // Taken by this spawn, whatever becomes of it.
    let mailbox = view.ctx.spawn_bound.take();
    // The captures' handles were detached for this call: they cannot go, so they stay.
    let had_handles = view.resources.has_outbox();
    view.resources.restore_outbox();
    let cluster = view.cluster()?;
    let node = node_arg(node)?;
    if had_handles {
        return Err(call::not_local(warren_abi::node_pid(node)));
    }
    let parent = view.ctx.pid();
    let mut spec = SpawnSpec::from_abi(&view.ctx.table, parent, (trampoline, func), args, options)
        .map_err(HostError::bad_argument)?;
    spec.mailbox = mailbox;
    if node == view.ctx.table.node() {
        return Err(HostError::bad_argument(
            "that is this node: spawn here with warren:process.spawn",
        ));
    }
    let order = SpawnOrder {
        req: 0,
        parent,
        // The spawner's version: the indices in `spec` name functions of its build.
        module: view
            .ctx
            .spawner
            .version_hash(view.ctx.me.version())
            .ok_or_else(|| {
                HostError::fail(
                    ERR_SPAWN_FAILED,
                    "the version of the program this process runs was purged",
                )
            })?,
        spec,
    };
    let (req, answer) = cluster
        .spawn(node, order)
        .map_err(|e| HostError::fail(ERR_NO_CONNECTION, e.to_string()))?;
    let failed = |e: String| HostError::fail(ERR_SPAWN_FAILED, format!("on node {node}: {e}"));
    match tokio::time::timeout(crate::cluster::member::SPAWN_TIMEOUT, answer).await {
        Ok(Ok(Ok(pid))) => Ok(pid as i64),
        Ok(Ok(Err(e))) => Err(failed(e)),
        Ok(Err(_)) => Err(failed("the cluster stopped".into())),
        Err(_) => {
            cluster.forget_spawn(req);
            Err(failed(format!(
                "no answer in {} s",
                crate::cluster::member::SPAWN_TIMEOUT.as_secs()
            )))
        }
    }
}

/// Read a name argument and the cluster, for the global-name calls.
fn name_and_cluster<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NodeView<'_>,
    (ptr, len): (u32, u32),
) -> HostResult<(String, Cluster, crate::actor::Pid)> {
    let (mem, data) = call::split(c, |d| get(d).call)?;
    let name = mem.text(ptr, len, MAX_NAME as u32, "name")?.to_string();
    let view = get(data);
    let cluster = view.cluster()?;
    Ok((name, cluster, view.ctx.pid()))
}

fn name_error(e: NameError) -> HostError {
    let code = match &e {
        NameError::Taken(_) => ERR_NAME_TAKEN,
        NameError::Limit { .. } => ERR_LIMIT,
        NameError::Store(_) => ERR_NO_CONNECTION,
    };
    HostError::fail(code, e.to_string())
}

/// `register_global`: give a process of this node a cluster-wide name.
async fn register_global<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NodeView<'_>,
    name: (u32, u32),
    pid: i64,
) -> HostResult<i32> {
    let (name, cluster, _) = name_and_cluster(c, get, name)?;
    let pid = call::pid_arg(pid)?;
    let table = get(c.data_mut()).ctx.table.clone();
    if !table.is_local(pid) {
        return Err(HostError::bad_argument(format!(
            "process {pid} is on node {}: a global name is registered by its own node",
            warren_abi::node_of(pid)
        )));
    }
    if table.get(pid).is_none() {
        return Err(HostError::fail(ERR_NO_PROCESS, format!("no process {pid}")));
    }
    cluster
        .register_global(&name, pid)
        .await
        .map_err(name_error)?;
    Ok(0)
}

/// `whereis_global`: the pid with a global name.
async fn whereis_global<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NodeView<'_>,
    name: (u32, u32),
) -> HostResult<i64> {
    let (name, cluster, _) = name_and_cluster(c, get, name)?;
    match cluster.whereis_global(&name).await.map_err(name_error)? {
        Some(pid) => Ok(pid as i64),
        None => Err(HostError::fail(
            ERR_NO_PROCESS,
            format!("no process has the global name {name:?}"),
        )),
    }
}

/// `unregister_global`: remove a global name.
async fn unregister_global<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> NodeView<'_>,
    name: (u32, u32),
) -> HostResult<i32> {
    let (name, cluster, _) = name_and_cluster(c, get, name)?;
    match cluster.unregister_global(&name).await.map_err(name_error)? {
        Some(_) => Ok(0),
        None => Err(HostError::fail(
            ERR_NO_PROCESS,
            format!("no process has the global name {name:?}"),
        )),
    }
}

/// Add `warren:node` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> NodeView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, NODE_MODULE, get, {
        // this() -> i64: the caller's node number; 0 outside a cluster.
        fn this() => |v| v.this();

        // list(ptr, cap) -> i64: write the numbers of the other nodes that are up (u32
        // little-endian each, at most `cap` of them) at `ptr`; how many are up. 0 outside a
        // cluster.
        fn list(ptr: u32, cap: u32) => |v, mem| v.list(mem, ptr, cap);

        // name(node, ptr, cap) -> i64: the node's name (this node or one that is up), its
        // first `cap` bytes written at `ptr`; its length. ERR_NO_CONNECTION if it is not up.
        fn name(node: i64, ptr: u32, cap: u32) => |v, mem| v.name(mem, node, ptr, cap);

        // lookup(ptr, len) -> i64: the number of the node with this name (this node, or the
        // newest up with it). ERR_NO_CONNECTION if none is up.
        fn lookup(ptr: u32, len: u32) => |v, mem| v.lookup(mem, ptr, len);

        // watch() -> i64: a reference (held, as new_tag's) under which a message comes each
        // time a node comes up or goes down: one byte (1 up, 0 down), then the node's number
        // (u32 little-endian). ERR_NO_CONNECTION outside a cluster.
        fn watch() => |v| v.watch();

        // unwatch(tag) -> i32: stop the events of `watch`'s reference `tag` and drop those
        // queued. ERR_BAD_ARGUMENT if the caller does not hold `tag`.
        fn unwatch(tag: i64) => |v| v.unwatch(tag);

        // spawn(node, trampoline, func, args_ptr, args_len, monitor_tag, flags, max_memory,
        // max_fuel) -> i64: as warren:process.spawn, on another node (which must run the same
        // module); waits for the child's pid (up to 30 s). ERR_NO_CONNECTION if the node is
        // not up; ERR_SPAWN_FAILED with the node's reason (another module, its process
        // limit, no answer); ERR_NOT_LOCAL if handles are attached (they stay with the
        // caller); ERR_BAD_ARGUMENT as for spawn, or for this node's own number.
        async fn spawn(
            node: i64, trampoline: u32, func: u32, ptr: u32, len: u32, tag: i64, flags: u32,
            max_memory: i64, max_fuel: i64
        ) => |c| spawn(c, get, node, (trampoline, func, ptr, len), (tag, flags, max_memory, max_fuel));

        // register_global(name_ptr, name_len, pid) -> i32: give `pid` (a live process of this
        // node) a name unique in the cluster, until it exits, its node goes down, or the name
        // is unregistered. ERR_NAME_TAKEN if a process that may be alive holds it (a holder
        // whose node is down does not); ERR_NO_PROCESS if `pid` is not alive; ERR_BAD_ARGUMENT
        // for another node's pid; ERR_LIMIT over the names quota; ERR_NO_CONNECTION outside
        // a cluster or if the cluster's store does not answer.
        async fn register_global(ptr: u32, len: u32, pid: i64)
            => |c| register_global(c, get, (ptr, len), pid);

        // whereis_global(name_ptr, name_len) -> i64: the pid with this global name, or
        // ERR_NO_PROCESS (none, or its holder's node is down).
        async fn whereis_global(ptr: u32, len: u32) => |c| whereis_global(c, get, (ptr, len));

        // unregister_global(name_ptr, name_len) -> i32: remove the global name: 0, or
        // ERR_NO_PROCESS if it was not registered.
        async fn unregister_global(ptr: u32, len: u32) => |c| unregister_global(c, get, (ptr, len));
    });
    Ok(())
}
