//! [`Tls`]: the runtime's TLS identity, for the HTTP servers that ask for it.
//!
//! The model: the certificate chain and the private key are PEM files the *host* reads
//! (`warren run --tls-cert FILE --tls-key FILE`); a guest never sees them, nor needs a
//! granted directory for them. A server started with `HTTP_TLS` serves every connection
//! over TLS (rustls, TLS 1.2 and 1.3) with this identity and offers HTTP/2 and HTTP/1.1 by
//! ALPN. [`Tls::reload`] reads the files again (`SIGHUP`): connections made from then on
//! get the new certificate, connections already made keep theirs; if the new files do not
//! load, the old identity stays and the error says why.

use crate::sync::ReadWriteLocked;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Where the identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// ALPN protocol ids, preferred first.
pub(super) const ALPN_H2: &[u8] = b"h2";
pub(super) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The loaded identity (reloadable).
pub(crate) struct Tls {
    files: TlsFiles,
    config: RwLock<Arc<ServerConfig>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("reading the certificate {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("reading the certificate {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        format!(
            "reading the private key {}: {e} (expected PEM: a PKCS#8, PKCS#1 or SEC1 key)",
            path.display()
        )
    })
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, String> {
    let certs = certificates(&files.cert)?;
    let key = key(&files.key)?;
    // ring, as the cluster's NATS client uses: no C toolchain in the build. rustls 0.23.48
    // marks ring's provider deprecated because it lacks the post-quantum key exchange
    // (X25519MLKEM768) aws-lc-rs has; clients then agree on X25519 or a NIST curve.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "the key {} does not serve the certificate {}: {e}",
                files.key.display(),
                files.cert.display()
            )
        })?;
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(config)
}

impl Tls {
    /// Load the identity from `files`.
    pub(crate) fn load(files: TlsFiles) -> Result<Tls, String> {
        let config = server_config(&files)?;
        Ok(Tls {
            files,
            config: RwLock::new(Arc::new(config)),
        })
    }

    /// Read the files again; on failure the old identity stays.
    pub(crate) fn reload(&self) -> Result<(), String> {
        let config = server_config(&self.files)?;
        *self.config.write_locked() = Arc::new(config);
        Ok(())
    }

    /// An acceptor with the identity as it is now.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self.config.read_locked().clone();
        tokio_rustls::TlsAcceptor::from(config)
    }
}
