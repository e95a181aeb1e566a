//! The errors of the embedding API: what can go wrong building a runtime, starting a
//! process, or sending it a message. Each carries a one-line message naming what was being
//! done; none names a CLI flag (the `warren` CLI adds its own).

use crate::actor::SpawnError;

/// An error of the embedding API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No tokio runtime to run processes on.
    #[error(
        "a warren Runtime needs a tokio runtime: build it inside one, or pass \
         RuntimeBuilder::scheduler(handle)"
    )]
    NoScheduler,
    /// The configuration cannot work (a granted directory that is not one, more address
    /// space than a host process has, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// The wasm engine could not be created.
    #[error("creating the wasm engine: {0}")]
    Engine(String),
    /// The guest module cannot be read, compiled or loaded.
    #[error("{0}")]
    Module(String),
    /// The guest module cannot be linked: it imports something no host module provides,
    /// with the wrong type, or lacks an export every process needs.
    #[error("{0}")]
    Link(String),
    /// A host module could not add itself to the linker.
    #[error("adding a host module: {0}")]
    HostModule(String),
    /// A new version of the program was not loaded ([`Runtime::load_version`]): why. The
    /// version that ran before keeps running; nothing of the new one was kept.
    ///
    /// [`Runtime::load_version`]: crate::Runtime::load_version
    #[error("the new version was not loaded: {0}")]
    Upgrade(String),
    /// A process could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A value could not be encoded as a message.
    #[error("encoding a `{type_name}` as a message: {message}")]
    Encode {
        /// The type of the value.
        type_name: &'static str,
        /// Why it could not be encoded.
        message: String,
    },
}

/// The result of the embedding API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
