//! Deploying a new version of the program to every node of a cluster (hot code upgrade
//! across nodes: docs/upgrade.md, "Cluster").
//!
//! The model: the cluster's program is what was last deployed.
//!
//! - [`deploy`] (`warren deploy app.wasm --cluster URL`) stores the module in the cluster's
//!   module bucket under its SHA-256 (as every node stores what it runs), then writes a
//!   **deploy record** — the hash, who deployed it, when — under the key `deploy` of the
//!   `<prefix>_deploy` key-value bucket, sealed with a MAC under the cluster's secret.
//! - Every node watches that key. On a new record it fetches the module by its hash (bytes
//!   that do not hash to the name are refused), loads it as its current version
//!   (`Runtime::load_version`: every check, the two-version rule, the purge of the oldest),
//!   and publishes a sealed **report** of what came of it on `<prefix>.deployed.<node>`.
//! - The deployer lists the nodes that beat while it deploys and waits for each one's
//!   report: it says which nodes loaded the version and which did not, and why.
//!
//! Nodes differ during a deploy (a rolling deploy): a remote spawn names the hash of its
//! spawner's version. A node that holds that version spawns on it; a node that lacks it but
//! whose latest deploy record names it (its module, or the one the record before named)
//! loads it first (the order waits for the load), so a
//! process on a node that has moved can spawn on one that has not yet; any other hash is
//! refused, naming what the node runs. A node that never gets the record (it was down, or
//! started later from an older file) keeps running what it runs, keeps taking spawns for
//! the versions it holds, and loads the deployed one when a spawn names it.
//!
//! Trust: records and reports are sealed like beats, under a key of their own (neither
//! verifies as a frame or a beat, nor as another cluster's). A node takes a record only if
//! it verifies, was sent within [`MAX_RECORD_AGE`] of its arrival, and is newer than the
//! last record it took, so an old record replayed cannot roll a node back; a node started
//! with a list of trusted modules (`--trust-module`) loads no other.

use super::auth::{self, Keys, Purpose};
use super::member::ClusterConfig;
use super::modules::Modules;
use super::wire::Refused;
use crate::actor::remote::NodeId;
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The key of the deploy record in the `<prefix>_deploy` bucket.
pub(crate) const KEY: &str = "deploy";
/// How old a record may be when it arrives and still be taken.
pub(crate) const MAX_RECORD_AGE: Duration = Duration::from_secs(60);
/// How long a node waits for a deployed module to be in the module bucket.
pub(crate) const FETCH_PATIENCE: Duration = Duration::from_secs(10);

/// The first byte of a sealed record or report (a version of their format).
const FORMAT: u8 = 1;
/// What a sealed message is: the second byte, under the MAC.
const RECORD: u8 = 1;
const REPORT: u8 = 2;
/// Most bytes a sealed record or report takes (a longer one is dropped unread).
const MAX_SEALED: usize = 64 * 1024;

/// What was deployed, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// SHA-256 of the module.
    pub hash: [u8; 32],
    /// The module the record before named, if another: a spawn may still name it (a
    /// deploy that failed on every node leaves the cluster on it).
    pub earlier: Option<[u8; 32]>,
    /// Who deployed it (the deployer's name).
    pub by: String,
    /// When, in milliseconds since the epoch on the deployer's clock.
    pub sent_ms: u64,
    /// The names of the nodes that are to load it (a rolling deploy, a canary); empty:
    /// every node.
    pub nodes: Vec<String>,
}

/// What a node made of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Report {
    /// The node.
    pub node: NodeId,
    /// Its name.
    pub name: String,
    /// The record's hash.
    pub hash: [u8; 32],
    /// The record's time (which deploy this answers).
    pub record_ms: u64,
    /// What the load did (`Loaded`'s text), or why there was none.
    pub result: Result<String, String>,
}

fn seal<T: Serialize>(keys: &Keys, kind: u8, value: &T) -> Vec<u8> {
    let body = postcard::to_stdvec(value).unwrap_or_default();
    let mac = keys.sign(Purpose::Deploy, &[&[FORMAT, kind], &body]);
    let mut v = Vec::with_capacity(2 + mac.len() + body.len());
    v.extend_from_slice(&[FORMAT, kind]);
    v.extend_from_slice(&mac);
    v.extend_from_slice(&body);
    v
}

fn open<T: for<'de> Deserialize<'de>>(keys: &Keys, kind: u8, bytes: &[u8]) -> Result<T, Refused> {
    if bytes.len() < 2 + auth::MAC_LEN || bytes.len() > MAX_SEALED || bytes[..2] != [FORMAT, kind] {
        return Err(Refused::Malformed);
    }
    let (mac, body) = bytes[2..].split_at(auth::MAC_LEN);
    if !keys.verify(Purpose::Deploy, &[&[FORMAT, kind], body], mac) {
        return Err(Refused::Forged);
    }
    postcard::from_bytes(body).map_err(|_| Refused::Malformed)
}

impl Record {
    pub(crate) fn seal(&self, keys: &Keys) -> Vec<u8> {
        seal(keys, RECORD, self)
    }

    pub(crate) fn open(keys: &Keys, bytes: &[u8]) -> Result<Record, Refused> {
        open(keys, RECORD, bytes)
    }

    /// Whether the node named `name` is to load it.
    pub(crate) fn targets(&self, name: &str) -> bool {
        self.nodes.is_empty() || self.nodes.iter().any(|n| n == name)
    }

    /// Whether a spawn naming `module` may make a node load it (whether or not the record
    /// is for that node: the spawn needs that code): it is this record's module or the one
    /// before.
    pub(crate) fn names(&self, module: &[u8; 32]) -> bool {
        self.hash == *module || self.earlier == Some(*module)
    }

    /// Whether it arrived within [`MAX_RECORD_AGE`] of being sent (and not from the future
    /// beyond the clocks' skew).
    pub(crate) fn fresh(&self, now_ms: u64) -> bool {
        let age = MAX_RECORD_AGE.as_millis() as u64;
        let skew = auth::MAX_BEAT_SKEW.as_millis() as u64;
        self.sent_ms.saturating_add(age) >= now_ms && self.sent_ms <= now_ms.saturating_add(skew)
    }
}

impl Report {
    pub(crate) fn seal(&self, keys: &Keys) -> Vec<u8> {
        seal(keys, REPORT, self)
    }

    pub(crate) fn open(keys: &Keys, bytes: &[u8]) -> Result<Report, Refused> {
        open(keys, REPORT, bytes)
    }
}

/// The bucket that holds the deploy record.
pub(crate) async fn open_bucket(
    js: &async_nats::jetstream::Context,
    prefix: &str,
) -> anyhow::Result<kv::Store> {
    super::names::open_bucket(js, &format!("{prefix}_deploy")).await
}

/// The record in the bucket now, if there is one that verifies.
pub(crate) async fn latest(kv: &kv::Store, keys: &Keys) -> Option<Record> {
    let bytes = kv.get(KEY).await.ok()??;
    Record::open(keys, &bytes).ok()
}

/// What became of a deploy on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDeploy {
    /// The node's number.
    pub node: NodeId,
    /// Its name.
    pub name: String,
    /// What its load did (the text of [`Loaded`](crate::Loaded)), why it did not load
    /// (`Err`), or `None` if it did not answer in time.
    pub result: Option<Result<String, String>>,
}

/// What [`deploy`] did: the module's hash, and each node that was up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// SHA-256 of the module.
    pub hash: [u8; 32],
    /// Every node that beat while the deploy ran, by number.
    pub nodes: Vec<NodeDeploy>,
}

impl Deployed {
    /// Whether every node loaded it.
    pub fn everywhere(&self) -> bool {
        !self.nodes.is_empty() && self.nodes.iter().all(|n| matches!(n.result, Some(Ok(_))))
    }
}

/// Deploy `module` (a core wasm module) to the cluster `config` names: store it, write the
/// deploy record, and wait up to `wait` for a report from every node it is for that is up
/// (those that beat within the first second). `nodes` names the nodes that are to load it
/// (a rolling deploy: one call per node; a canary); empty, every node. A node named but not
/// up is reported so. `config.node_name` is the deployer's name, as the nodes log it.
/// Needs the cluster's secret (or `insecure`).
pub async fn deploy(
    config: &ClusterConfig,
    module: Vec<u8>,
    nodes: &[String],
    wait: Duration,
) -> anyhow::Result<Deployed> {
    let targets = nodes;
    use anyhow::Context as _;
    if config.secret.is_none() && !config.insecure {
        anyhow::bail!(
            "deploying to {} needs the cluster's secret (--cluster-secret FILE), or an \
             explicit --cluster-insecure",
            config.url
        );
    }
    let client = super::member::connect(
        config,
        async_nats::ConnectOptions::new().name(format!("warren deploy {}", config.node_name)),
    )
    .await?;
    let js = async_nats::jetstream::new(client.clone());
    let prefix = &config.prefix;
    let keys = Keys::new(config.secret.as_ref(), prefix);
    let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&module).into();
    // Listen before the record is written: no beat or report is missed.
    let mut beats = client
        .subscribe(format!("{prefix}.beat.*"))
        .await
        .context("subscribing to the cluster's beats")?;
    let mut reports = client
        .subscribe(format!("{prefix}.deployed.*"))
        .await
        .context("subscribing to the nodes' reports")?;
    let modules = Modules::open(&js, &format!("{prefix}_modules"))
        .await
        .with_context(|| {
            format!(
                "the NATS server at {} must have JetStream on (nats-server -js)",
                config.url
            )
        })?;
    modules
        .offer(hash, module)
        .await
        .context("storing the module")?;
    let kv = open_bucket(&js, prefix).await?;
    // The nodes that are up: those that beat within the first second (a node beats every
    // quarter of a second), or as soon as every node named has.
    let wanted = |name: &str| targets.is_empty() || targets.iter().any(|t| t == name);
    let mut nodes: BTreeMap<NodeId, NodeDeploy> = BTreeMap::new();
    let listen_until = tokio::time::Instant::now() + Duration::from_secs(1);
    while targets.is_empty() || !targets.iter().all(|t| nodes.values().any(|n| n.name == *t)) {
        tokio::select! {
            Some(msg) = beats.next() => {
                if let Ok(beat) = super::wire::Beat::open(&keys, &msg.payload)
                    && !beat.leaving
                    && auth::fresh(beat.sent_ms, auth::now_millis())
                    && wanted(&beat.name)
                {
                    nodes.entry(beat.node).or_insert(NodeDeploy {
                        node: beat.node,
                        name: beat.name,
                        result: None,
                    });
                }
            }
            _ = tokio::time::sleep_until(listen_until) => break,
        }
    }
    let missing: Vec<NodeDeploy> = targets
        .iter()
        .filter(|t| !nodes.values().any(|n| n.name == **t))
        .map(|t| NodeDeploy {
            node: 0,
            name: t.clone(),
            result: Some(Err(
                "not up (no beat from it while the deploy started): it loads the version \
                 when a spawn names it, or with the next deploy for it"
                    .to_string(),
            )),
        })
        .collect();
    let earlier = latest(&kv, &keys)
        .await
        .map(|r| r.hash)
        .filter(|h| *h != hash);
    let record = Record {
        hash,
        earlier,
        by: config.node_name.clone(),
        sent_ms: auth::now_millis(),
        nodes: targets.to_vec(),
    };
    kv.put(KEY, record.seal(&keys).into())
        .await
        .context("writing the deploy record")?;
    let deadline = Instant::now() + wait;
    while nodes.values().any(|n| n.result.is_none()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(msg)) = tokio::time::timeout(left, reports.next()).await else {
            break;
        };
        let Ok(report) = Report::open(&keys, &msg.payload) else {
            continue;
        };
        if report.hash != hash || report.record_ms != record.sent_ms || !wanted(&report.name) {
            continue;
        }
        let entry = nodes.entry(report.node).or_insert(NodeDeploy {
            node: report.node,
            name: report.name.clone(),
            result: None,
        });
        entry.result = Some(report.result);
    }
    let _ = client.flush().await;
    Ok(Deployed {
        hash,
        nodes: nodes.into_values().chain(missing).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::auth::ClusterSecret;

    fn keys(b: u8) -> Keys {
        Keys::new(Some(&ClusterSecret::new(vec![b; 32]).unwrap()), "warren")
    }

    fn record(sent_ms: u64) -> Record {
        Record {
            hash: [7; 32],
            earlier: Some([6; 32]),
            by: "deploy".into(),
            sent_ms,
            nodes: Vec::new(),
        }
    }

    #[test]
    fn records_and_reports_open_only_under_their_cluster_and_kind() {
        let k = keys(1);
        let r = record(1_000);
        let sealed = r.seal(&k);
        assert_eq!(Record::open(&k, &sealed), Ok(r.clone()));
        // Another secret, another prefix: forged.
        assert_eq!(Record::open(&keys(2), &sealed), Err(Refused::Forged));
        let other = Keys::new(Some(&ClusterSecret::new(vec![1; 32]).unwrap()), "elsewhere");
        assert_eq!(Record::open(&other, &sealed), Err(Refused::Forged));
        // A byte changed under the MAC.
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(Record::open(&k, &bad), Err(Refused::Forged));
        // A report is not a record, nor a beat a report.
        let report = Report {
            node: 3,
            name: "a".into(),
            hash: [7; 32],
            record_ms: 1_000,
            result: Err("no".into()),
        };
        let sealed_report = report.seal(&k);
        assert_eq!(Report::open(&k, &sealed_report), Ok(report));
        assert_eq!(Record::open(&k, &sealed_report), Err(Refused::Malformed));
        let beat = crate::cluster::wire::Beat {
            node: 1,
            name: "a".into(),
            module: None,
            leaving: false,
            counter: 1,
            sent_ms: 1_000,
        }
        .seal(&k);
        assert!(Report::open(&k, &beat).is_err());
        // Junk and oversized input.
        assert_eq!(Record::open(&k, b"x"), Err(Refused::Malformed));
        assert_eq!(
            Record::open(&k, &vec![FORMAT; MAX_SEALED + 1]),
            Err(Refused::Malformed)
        );
    }

    #[test]
    fn a_record_is_fresh_for_a_minute() {
        let now = 10_000_000;
        assert!(record(now).fresh(now));
        assert!(record(now - MAX_RECORD_AGE.as_millis() as u64).fresh(now));
        assert!(!record(now - MAX_RECORD_AGE.as_millis() as u64 - 1).fresh(now));
        assert!(!record(now + 60_000).fresh(now));
    }
}
