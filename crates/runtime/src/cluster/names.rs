//! Global names: one registry for the whole cluster, in a NATS key-value bucket.
//!
//! A name maps to a pid (8 bytes, little-endian) under the key `n` + the name's bytes in hex
//! (a KV key takes only a few characters; a warren name any UTF-8 of up to 256 bytes).
//! Registering is the bucket's atomic create, or — when the holder is known to be gone (its
//! node is down, or it is a process of this node that is not alive) — an update conditional
//! on the revision read, so two nodes taking over a stale name cannot both win. The node of
//! a process that registered names deletes them (conditionally on their revision) when it
//! exits or the node leaves; the names of a node that died stay in the bucket but are
//! treated as free, since their holder's node is down.
//!
//! A deletion leaves a marker in the bucket's stream (one message per key is kept); so that
//! processes registering and dropping ever new names do not grow the bucket for good, every
//! deletion here purges its own marker (only messages up to it: a name registered again
//! meanwhile stays). The names of a node that died are taken over, not deleted: they stay
//! until taken, at most one entry per name a live process once held.

use crate::actor::Pid;
use crate::sync::Locked;
use async_nats::jetstream::{self, kv, stream};
use std::collections::HashMap;
use std::sync::Mutex;

/// Why a global-name operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The name is held by this live process.
    #[error("the global name is held by process {0}")]
    Taken(Pid),
    /// The process holds as many global names as it may.
    #[error("process {pid} holds {limit} global names already")]
    Limit {
        /// The process.
        pid: Pid,
        /// The quota.
        limit: usize,
    },
    /// The key-value store failed (the NATS server is unreachable, say).
    #[error("the cluster's name store: {0}")]
    Store(String),
}

fn store_err(e: impl std::fmt::Display) -> NameError {
    NameError::Store(e.to_string())
}

/// The KV key of a name.
fn key(name: &str) -> String {
    let mut k = String::with_capacity(1 + 2 * name.len());
    k.push('n');
    for b in name.bytes() {
        k.push_str(&format!("{b:02x}"));
    }
    k
}

fn decode_pid(value: &[u8]) -> Option<Pid> {
    Some(Pid::from_le_bytes(value.try_into().ok()?))
}

/// Create (or open) the stream behind KV bucket `bucket` the way the KV API lays it out,
/// without the account query newer clients make first (which NATS 2.9 cannot answer).
/// Nodes starting together may race to create it ([`super::open_racing`]).
pub(crate) async fn open_bucket(
    js: &jetstream::Context,
    bucket: &str,
) -> anyhow::Result<kv::Store> {
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    super::open_racing(|| js.get_or_create_stream(config.clone()))
        .await
        .map_err(|e| anyhow::anyhow!("creating the key-value bucket {bucket}: {e}"))?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| anyhow::anyhow!("opening the key-value bucket {bucket}: {e}"))
}

/// Delete `key` if it is still at `revision`, then purge the deletion's marker (and only
/// what came before it: a registration after the deletion stays).
async fn delete(kv: &kv::Store, key: &str, revision: u64) -> anyhow::Result<()> {
    kv.delete_expect_revision(key, Some(revision))
        .await
        .map_err(|e| anyhow::anyhow!("deleting {key}: {e}"))?;
    if let Ok(Some(entry)) = kv.entry(key).await
        && entry.operation != kv::Operation::Put
    {
        kv.stream
            .purge()
            .filter(format!("{}{key}", kv.prefix))
            .sequence(entry.revision + 1)
            .await
            .map_err(|e| anyhow::anyhow!("purging the deletion of {key}: {e}"))?;
    }
    Ok(())
}

/// The cluster's global names, and the ones this node's processes hold.
pub(crate) struct GlobalNames {
    kv: kv::Store,
    /// Names held by processes of this node: pid -> (key, revision).
    held: Mutex<HashMap<Pid, Vec<(String, u64)>>>,
    /// Most global names one process may hold.
    limit: usize,
}

impl GlobalNames {
    /// The registry in bucket `bucket`.
    pub(crate) async fn open(
        js: &jetstream::Context,
        bucket: &str,
        limit: usize,
    ) -> anyhow::Result<Self> {
        Ok(GlobalNames {
            kv: open_bucket(js, bucket).await?,
            held: Mutex::new(HashMap::new()),
            limit,
        })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<Pid, Vec<(String, u64)>>> {
        self.held.locked()
    }

    /// Register `name` for `pid` (a live process of this node). `alive` tells whether the
    /// holder of an existing entry may still be alive; if not, the name is taken over.
    pub(crate) async fn register(
        &self,
        name: &str,
        pid: Pid,
        alive: impl Fn(Pid) -> bool,
    ) -> Result<(), NameError> {
        if self.held().get(&pid).map_or(0, Vec::len) >= self.limit {
            return Err(NameError::Limit {
                pid,
                limit: self.limit,
            });
        }
        let key = key(name);
        let value = bytes::Bytes::copy_from_slice(&pid.to_le_bytes());
        let revision = match self.kv.create(&key, value.clone()).await {
            Ok(rev) => rev,
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                let entry = self.kv.entry(&key).await.map_err(store_err)?;
                let Some(entry) = entry else {
                    // Deleted in between: try once more from the start.
                    return Box::pin(self.register(name, pid, alive)).await;
                };
                if let Some(holder) = decode_pid(&entry.value)
                    && entry.operation == kv::Operation::Put
                    && alive(holder)
                {
                    return Err(NameError::Taken(holder));
                }
                match self.kv.update(&key, value, entry.revision).await {
                    Ok(rev) => rev,
                    Err(_) => {
                        // Someone else took it over first: who holds it now?
                        let now = self.kv.get(&key).await.map_err(store_err)?;
                        let holder = now.as_deref().and_then(decode_pid).unwrap_or(0);
                        return Err(NameError::Taken(holder));
                    }
                }
            }
            Err(e) => return Err(store_err(e)),
        };
        self.held().entry(pid).or_default().push((key, revision));
        Ok(())
    }

    /// The pid `name` is registered to, if its holder may be alive.
    pub(crate) async fn whereis(
        &self,
        name: &str,
        alive: impl Fn(Pid) -> bool,
    ) -> Result<Option<Pid>, NameError> {
        let value = self.kv.get(key(name)).await.map_err(store_err)?;
        Ok(value
            .as_deref()
            .and_then(decode_pid)
            .filter(|&pid| alive(pid)))
    }

    /// Remove `name`; the pid it named, if it was registered.
    pub(crate) async fn unregister(&self, name: &str) -> Result<Option<Pid>, NameError> {
        let key = key(name);
        let Some(entry) = self.kv.entry(&key).await.map_err(store_err)? else {
            return Ok(None);
        };
        let holder = match entry.operation {
            kv::Operation::Put => decode_pid(&entry.value),
            _ => None,
        };
        let Some(holder) = holder else {
            return Ok(None);
        };
        delete(&self.kv, &key, entry.revision)
            .await
            .map_err(store_err)?;
        if let Some(list) = self.held().get_mut(&holder) {
            list.retain(|(k, _)| *k != key);
        }
        Ok(Some(holder))
    }

    /// `pid` exited: delete the names it still holds (unless someone took them over).
    pub(crate) fn release(&self, pid: Pid) {
        let Some(names) = self.held().remove(&pid) else {
            return;
        };
        let kv = self.kv.clone();
        tokio::spawn(async move {
            for (key, revision) in names {
                if let Err(e) = delete(&kv, &key, revision).await {
                    tracing::debug!(pid, key, "releasing a global name: {e}");
                }
            }
        });
    }

    /// Delete every name this node's processes hold (the node is leaving).
    pub(crate) async fn release_all(&self) {
        let all: Vec<(Pid, Vec<(String, u64)>)> = self.held().drain().collect();
        for (_, names) in all {
            for (key, revision) in names {
                let _ = delete(&self.kv, &key, revision).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_take_any_name() {
        assert_eq!(super::key("a/b é"), "n612f6220c3a9");
        assert_eq!(super::key(""), "n");
    }
}
