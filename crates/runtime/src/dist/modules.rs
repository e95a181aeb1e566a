//! The cluster's modules, in a NATS object-store bucket, so a node started without one
//! (`warren run --cluster URL --node NAME --serve`) can run what the others run.
//!
//! Every node that runs a module puts it into the `<prefix>_modules` bucket under its
//! SHA-256 (in hex), unless it is there already. A node without a module takes the hash of
//! the first spawn order it gets, fetches that object, and runs it only if the bytes hash to
//! the name: whoever could write the bucket cannot make a node run anything else than what
//! the spawner named.

use async_nats::jetstream::{self, object_store};
use sha2::Digest;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Largest module a node fetches.
const MAX_MODULE_BYTES: usize = 512 << 20;

/// The hash as the object's name.
pub fn name(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cluster's module bucket.
#[derive(Clone)]
pub struct Modules {
    store: object_store::ObjectStore,
}

impl Modules {
    /// Open (or create) the bucket `bucket`.
    pub async fn open(js: &jetstream::Context, bucket: &str) -> anyhow::Result<Modules> {
        let store = match js.get_object_store(bucket).await {
            Ok(s) => s,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: bucket.to_string(),
                    ..Default::default()
                })
                .await
                .map_err(|e| anyhow::anyhow!("creating the module bucket {bucket}: {e}"))?,
        };
        Ok(Modules { store })
    }

    /// Put `bytes` under `hash`, unless a module of that name is there.
    pub async fn offer(&self, hash: [u8; 32], bytes: Vec<u8>) -> anyhow::Result<()> {
        let key = name(&hash);
        if self.store.info(&key).await.is_ok() {
            return Ok(());
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
    pub async fn fetch(&self, hash: [u8; 32], patience: Duration) -> anyhow::Result<Vec<u8>> {
        let key = name(&hash);
        let start = tokio::time::Instant::now();
        let mut object = loop {
            match self.store.get(&key).await {
                Ok(o) => break o,
                Err(e) if start.elapsed() >= patience => {
                    anyhow::bail!("module {key} is not in the cluster's module bucket: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
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
        if got != hash {
            anyhow::bail!(
                "the module stored as {key} hashes to {}: refused",
                name(&got)
            );
        }
        Ok(bytes)
    }
}
