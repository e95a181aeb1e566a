//! The cluster's modules, in a NATS object-store bucket, so a node started without one
//! (`warren run --cluster URL --node NAME --serve`) can run what the others run.
//!
//! Every node that runs a module puts it into the `<prefix>_modules` bucket under its
//! SHA-256 (in hex), unless it is there already *with that digest*: whatever else was stored
//! under the name first (junk, or another module) is replaced. A node without a module takes
//! the hash of the first spawn order it gets from an authenticated node (and, if it was
//! given a list, only a hash it trusts), fetches that object, and runs it only if the bytes
//! hash to the name: whoever could write the bucket cannot make a node run anything else
//! than what the spawner named. Bytes that do not match are waited past (an honest node's
//! offer replaces them) until the fetch's patience runs out.

use async_nats::jetstream::{self, object_store};
use sha2::Digest;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Largest module a node fetches.
const MAX_MODULE_BYTES: usize = 512 << 20;

/// The hash as the object's name.
pub(crate) fn name(hash: &[u8; 32]) -> String {
    super::hex(hash)
}

/// The cluster's module bucket.
#[derive(Clone)]
pub(crate) struct Modules {
    store: object_store::ObjectStore,
}

impl Modules {
    /// Open (or create) the bucket `bucket`.
    pub(crate) async fn open(js: &jetstream::Context, bucket: &str) -> anyhow::Result<Modules> {
        // Nodes starting together may race to create it (see `open_racing`).
        let store = super::open_racing(|| async {
            match js.get_object_store(bucket).await {
                Ok(s) => Ok(s),
                Err(_) => js
                    .create_object_store(object_store::Config {
                        bucket: bucket.to_string(),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| anyhow::anyhow!("creating the module bucket {bucket}: {e}")),
            }
        })
        .await?;
        Ok(Modules { store })
    }

    /// Put `bytes` under `hash`, unless the module of that name and digest is there.
    pub(crate) async fn offer(&self, hash: [u8; 32], bytes: Vec<u8>) -> anyhow::Result<()> {
        let key = name(&hash);
        if let Ok(info) = self.store.info(&key).await {
            if info.digest.as_deref() == Some(digest(&hash).as_str()) && !info.deleted {
                return Ok(());
            }
            tracing::warn!(
                "the cluster's module bucket held something else under {key} (digest {:?}): \
                 replaced with this node's module",
                info.digest
            );
        }
        let mut reader: &[u8] = &bytes;
        self.store
            .put(key.as_str(), &mut reader)
            .await
            .map_err(|e| anyhow::anyhow!("storing module {key}: {e}"))?;
        Ok(())
    }

    /// Fetch the module named `hash`, waiting up to `patience` for a node to store it, and
    /// check that it is what it is named.
    pub(crate) async fn fetch(
        &self,
        hash: [u8; 32],
        patience: Duration,
    ) -> anyhow::Result<Vec<u8>> {
        let key = name(&hash);
        let start = tokio::time::Instant::now();
        loop {
            let why = match self.store.get(&key).await {
                Ok(object) => match read_checked(object, &key, &hash).await {
                    Ok(bytes) => return Ok(bytes),
                    Err(e) => e,
                },
                Err(e) => {
                    anyhow::anyhow!("module {key} is not in the cluster's module bucket: {e}")
                }
            };
            if start.elapsed() >= patience {
                return Err(why);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The object store's digest of bytes hashing to `hash`: `SHA-256=` and the hash in
/// URL-safe base64 with padding.
fn digest(hash: &[u8; 32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::from("SHA-256=");
    for chunk in hash.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Read a stored module (at most [`MAX_MODULE_BYTES`]) and check that it hashes to `hash`.
async fn read_checked(
    mut object: object_store::Object,
    key: &str,
    hash: &[u8; 32],
) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    (&mut object)
        .take(MAX_MODULE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| anyhow::anyhow!("fetching module {key}: {e}"))?;
    if bytes.len() > MAX_MODULE_BYTES {
        anyhow::bail!("module {key} is over {} MiB", MAX_MODULE_BYTES >> 20);
    }
    let got: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    if got != *hash {
        anyhow::bail!(
            "the module stored as {key} hashes to {}: refused",
            name(&got)
        );
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_are_the_object_stores() {
        // SHA-256 of "abc", as the NATS object store writes it.
        let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"abc").into();
        assert_eq!(
            super::digest(&hash),
            "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0="
        );
    }
}
