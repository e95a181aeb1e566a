//! Loading a new version of the program while it runs (hot code upgrade, docs/upgrade.md).
//!
//! The model — current and old, which version each start runs, the purge — is
//! [`crate::version`]'s. This is the load, [`Runtime::load_version`]: nothing changes until
//! the new module has passed every check, so a refused module leaves the running version
//! exactly as it was.
//!
//! 1. One load at a time: a second one, while the first runs, is refused.
//! 2. A module whose bytes are the current version's changes nothing; the old version's
//!    makes it current again (and the current one old), without compiling or purging.
//! 3. It compiles off the runtime's threads (through the compiled-module cache for a file,
//!    pre-initialised when the runtime's modules are).
//! 4. It exports `memory` and `warren_entry` with their types, imports nothing outside
//!    warren's ABI or left out of this runtime, and links against the runtime's linker.
//! 5. One instance of it starts (a probe process, killed after [`PROBE_TIME`]): its start
//!    function returns, its data fits, its memory is within the limit per process.
//! 6. It becomes current; the previous current becomes old; the old one before, if any, is
//!    purged and its processes end with `upgrade: version N was purged`.

use crate::actor::stats::HeldVersion;
use crate::builder::{check_imports, module_hash};
use crate::error::{Error, Result};
use crate::process::{Entry, StoreData};
use crate::runtime::{Runtime, short_hash};
use crate::version::{Installed, Version};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{ExternType, Linker, Module, ValType};

/// What a runtime keeps from its builder to load new versions with.
pub(crate) struct Loader<T: StoreData> {
    /// Every host module's functions (warren's, the embedder's): a new version links to the
    /// same ones.
    pub(crate) linker: Linker<T>,
    /// warren's modules this runtime leaves out (`RuntimeBuilder::without`).
    pub(crate) left_out: Vec<String>,
    /// The compiled-module cache a file is loaded through, if the runtime uses one.
    pub(crate) cache_dir: Option<PathBuf>,
}

/// How long a new version's first instance may take to start (its start function) before
/// the load is refused.
pub(crate) const PROBE_TIME: Duration = Duration::from_secs(10);

/// What a load did ([`Runtime::load_version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The number of the version that is now current.
    pub version: u32,
    /// The SHA-256 of its module's bytes.
    pub hash: [u8; 32],
    /// The version that was current before (now old), or `None` when the module was the
    /// current one already and nothing changed.
    pub previous: Option<u32>,
    /// The version this load purged, and how many processes it ended.
    pub purged: Option<(u32, usize)>,
}

impl std::fmt::Display for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hash = short_hash(&self.hash);
        match self.previous {
            None => write!(
                f,
                "unchanged: version {} ({hash}) runs this module",
                self.version
            ),
            Some(p) => {
                write!(
                    f,
                    "version {} ({hash}) is current; version {p} is old",
                    self.version
                )?;
                if let Some((n, ended)) = self.purged {
                    let s = if ended == 1 { "" } else { "es" };
                    write!(f, "; version {n} was purged ({ended} process{s} ended)")?;
                }
                Ok(())
            }
        }
    }
}

/// A version of the program the runtime holds ([`Runtime::versions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Its number: 1 for the module the runtime was built with, then one more per load.
    pub number: u32,
    /// The SHA-256 of its module's bytes.
    pub hash: [u8; 32],
    /// New processes run it (else it is the old one).
    pub current: bool,
    /// How many processes run it now (hibernated ones included).
    pub processes: usize,
}

impl<T: StoreData> Runtime<T> {
    /// Load a new version of the program (a module, binary or text) and make it current,
    /// while the program runs: processes started from now on run it; processes already
    /// running keep their version (see docs/upgrade.md for which start runs which); the
    /// version that was current becomes old, and the old one before it, if any, is purged:
    /// its processes end with [`ExitReason::Upgrade`](crate::ExitReason::Upgrade)
    /// (`upgrade: version N was purged`), so their links, monitors and supervisors act.
    ///
    /// The module is checked before anything changes — it compiles, has `memory` and
    /// `warren_entry`, links against this runtime's host modules, and an instance of it
    /// starts — and refused with [`Error::Upgrade`] saying why otherwise, the running
    /// versions untouched. One load at a time: another one meanwhile is refused. Loading the
    /// current version's module changes nothing; the old version's makes it current again.
    pub async fn load_version(&self, bytes: impl Into<Vec<u8>>) -> Result<Loaded> {
        self.load(bytes.into(), "the new module", None).await
    }

    /// [`Runtime::load_version`] for the module in `path`, through the compiled-module cache
    /// when the runtime was built from a file with it.
    pub async fn load_version_file(&self, path: &Path) -> Result<Loaded> {
        let owned = path.to_path_buf();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(&owned))
            .await
            .map_err(|e| Error::Upgrade(format!("reading {}: {e}", path.display())))?
            .map_err(|e| Error::Upgrade(format!("cannot read {}: {e}", path.display())))?;
        let cache = self.inner.loader.cache_dir.clone();
        self.load(bytes, &path.display().to_string(), cache).await
    }

    /// The versions held: current first, then old if there is one, each with how many
    /// processes run it.
    pub fn versions(&self) -> Vec<VersionInfo> {
        let (current, old) = self.inner.env.versions.both();
        std::iter::once((current, true))
            .chain(old.map(|o| (o, false)))
            .map(|(v, current)| VersionInfo {
                number: v.number,
                hash: v.hash,
                current,
                processes: v.processes(),
            })
            .collect()
    }

    async fn load(&self, bytes: Vec<u8>, name: &str, cache: Option<PathBuf>) -> Result<Loaded> {
        let inner = &self.inner;
        let versions = &inner.env.versions;
        let Some(loading) = versions.begin_load() else {
            return Err(Error::Upgrade(
                "another version is loading; try again when it is done".into(),
            ));
        };
        let hash = module_hash(&bytes);
        let (current, old) = versions.both();
        if current.hash == hash {
            return Ok(Loaded {
                version: current.number,
                hash,
                previous: None,
                purged: None,
            });
        }
        if old.as_ref().is_some_and(|o| o.hash == hash) && versions.swap(&loading) {
            let now = versions.current();
            tracing::debug!(
                version = now.number,
                "loaded the old version's module again: version {} is current, version {} old",
                now.number,
                current.number
            );
            self.publish(true);
            return Ok(Loaded {
                version: now.number,
                hash,
                previous: Some(current.number),
                purged: None,
            });
        }

        // Compiled on a blocking thread: a large module takes seconds of CPU.
        let engine = inner.env.engine.clone();
        let preinit = inner.env.config.preinit;
        let (label, offered) = (name.to_string(), bytes.clone());
        let module = tokio::task::spawn_blocking(move || {
            crate::engine::compile_module(&engine, &bytes, &label, cache.as_deref(), preinit)
        })
        .await
        .map_err(|e| Error::Upgrade(format!("compiling {name}: {e}")))?
        .map_err(|e| Error::Upgrade(e.to_string()))?;
        check_entry_points(&module, name)?;
        check_imports(&module, &inner.loader.left_out)
            .map_err(|e| Error::Upgrade(e.to_string()))?;
        let pre = inner
            .loader
            .linker
            .instantiate_pre(&module)
            .map_err(|e| Error::Upgrade(format!("{name} does not link: {e:#}")))?;
        let number = versions.next_number(&loading);
        if number >= 1 << 31 {
            // A process records its version's number in 31 bits (`ProcessRef::version`).
            return Err(Error::Upgrade(
                "this runtime has loaded 2^31 versions".into(),
            ));
        }
        let version = Arc::new(Version::new(number, pre, hash));
        self.probe(&version, name).await?;

        let purged = match versions.install(version, &loading) {
            Installed::Kept => None,
            Installed::Purged(v) => {
                // A walk of the whole table (100,000 processes: ~0.1 s): off the runtime's
                // threads.
                let (table, number, reason) =
                    (inner.env.table.clone(), v.number, v.purged_reason());
                let ended =
                    tokio::task::spawn_blocking(move || table.terminate_version(number, &reason))
                        .await
                        .unwrap_or_default();
                Some((v.number, ended))
            }
        };
        if let Some(c) = &inner.env.cluster {
            // Other nodes fetch it from here when a spawn of this version reaches them.
            c.offer_module(hash, offered);
        }
        drop(loading);
        let loaded = Loaded {
            version: number,
            hash,
            previous: Some(current.number),
            purged,
        };
        tracing::debug!(version = number, "{loaded}");
        self.publish(true);
        Ok(loaded)
    }

    /// Start one instance of `version` in a process of its own, and wait for it to end.
    async fn probe(&self, version: &Arc<Version<T>>, name: &str) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pid = self
            .inner
            .start_monitored(0, version.clone(), Entry::Probe, Some(tx), None, None)
            .map_err(|e| Error::Upgrade(format!("cannot start an instance of {name}: {e}")))?;
        match tokio::time::timeout(PROBE_TIME, rx).await {
            Ok(Ok(crate::ExitReason::Normal)) => Ok(()),
            Ok(Ok(reason)) => Err(Error::Upgrade(format!(
                "an instance of {name} does not start: {reason}"
            ))),
            Ok(Err(_)) => Err(Error::Upgrade("the runtime is shutting down".into())),
            Err(_) => {
                self.inner.env.table.kill(pid);
                Err(Error::Upgrade(format!(
                    "an instance of {name} did not start in {} s (its start function runs on)",
                    PROBE_TIME.as_secs()
                )))
            }
        }
    }

    /// Tell the observer which versions are held (after a load, or when the runtime is
    /// built).
    pub(crate) fn publish(&self, loaded: bool) {
        let (current, old) = self.inner.env.versions.both();
        let points = std::iter::once(&current)
            .chain(old.as_ref())
            .map(|v| (v.number, v.exports.resume_names()))
            .collect();
        self.inner.env.table.set_versions(current.number, points);
        let shown = std::iter::once((current, true))
            .chain(old.map(|o| (o, false)))
            .map(|(v, current)| HeldVersion {
                number: v.number,
                hash: v.hash,
                current,
                processes: {
                    let v = v.clone();
                    Arc::new(move || v.processes())
                },
            })
            .collect();
        self.inner.env.table.stats().set_versions(shown, loaded);
    }
}

/// `memory` and `warren_entry`, with the types every process needs.
fn check_entry_points(module: &Module, name: &str) -> Result<()> {
    let missing = |what: &str| {
        Error::Upgrade(format!(
            "{name} has no {what} (is it a wasm32-wasip1 program built with warren's SDK?)"
        ))
    };
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        _ => return Err(missing("`memory` export")),
    }
    let entry = warren_abi::ENTRY_EXPORT;
    match module.get_export(entry) {
        Some(ExternType::Func(f))
            if f.params().len() == 3
                && f.params().all(|p| matches!(p, ValType::I32))
                && f.results().len() == 0 => {}
        Some(_) => {
            return Err(Error::Upgrade(format!(
                "{name}'s `{entry}` is not a function (i32, i32, i32) -> ()"
            )));
        }
        None => return Err(missing(&format!("`{entry}` export"))),
    }
    Ok(())
}
