//! Who may speak for a node: the cluster's shared secret, and the rules that make a frame or
//! a beat believable.
//!
//! The model is Erlang's cookie, made a MAC: every node of a cluster holds one secret (a
//! file, `warren run --cluster-secret FILE`; [`ClusterSecret`]). Each frame and each beat
//! carries an HMAC-SHA256 of its bytes under a key derived from the secret, the cluster's
//! subject prefix and the kind of message (frames and beats never verify as each other, nor
//! as another cluster's on the same server). What a node receives is checked before anything
//! is decoded or kept: a frame or beat that does not verify is dropped and counted, and
//! creates no state. Replays are refused by freshness, not by memory of every MAC seen:
//!
//! - a frame names its destination node (in the MAC) and the sender's *session*, which each
//!   sender makes strictly larger than any before ([`Sessions`]); a receiver takes a new
//!   session only if it is larger than every session it saw from that node, and frames of a
//!   session only in sequence — a recorded stream replayed is old, or out of sequence;
//! - a beat carries a counter (strictly increasing per node) and its send time; a receiver
//!   takes it only if the counter is new and the time within [`MAX_BEAT_SKEW`] of its own
//!   clock, so beats of a dead node replayed later do not raise it.
//!
//! Without a secret a node joins only when told to (`--cluster-insecure`,
//! [`ClusterConfig::insecure`](super::ClusterConfig::insecure)), says so in a warning, and
//! then takes what its peers claim.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bytes of a MAC on the wire.
pub(crate) const MAC_LEN: usize = 32;
/// The fewest bytes a secret may have.
pub(crate) const MIN_SECRET: usize = 32;
/// How far a beat's send time may be from the receiver's clock (the nodes' clocks must
/// agree that well: NTP does by far).
pub(crate) const MAX_BEAT_SKEW: Duration = Duration::from_secs(10);

/// The secret the nodes of a cluster share. Its bytes are never printed.
#[derive(Clone)]
pub struct ClusterSecret(Vec<u8>);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClusterSecret({} bytes)", self.0.len())
    }
}

impl ClusterSecret {
    /// A secret of these bytes (at least 32).
    pub fn new(bytes: impl Into<Vec<u8>>) -> anyhow::Result<ClusterSecret> {
        let bytes = bytes.into();
        if bytes.len() < MIN_SECRET {
            anyhow::bail!(
                "a cluster secret needs at least {MIN_SECRET} bytes, this one has {} \
                 (make one with `warren cluster-secret FILE`)",
                bytes.len()
            );
        }
        Ok(ClusterSecret(bytes))
    }

    /// 32 random bytes from the OS, as 64 hex digits (what `warren cluster-secret` writes).
    pub fn generate() -> anyhow::Result<ClusterSecret> {
        use std::io::Read;
        let mut raw = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut raw))
            .map_err(|e| anyhow::anyhow!("reading /dev/urandom for a cluster secret: {e}"))?;
        ClusterSecret::new(super::hex(&raw).into_bytes())
    }

    /// The bytes to write to a secret file.
    pub fn file_contents(&self) -> Vec<u8> {
        let mut v = self.0.clone();
        v.push(b'\n');
        v
    }

    /// Read a secret file: its bytes without a trailing newline. Refused if others than
    /// its owner may read it (as ssh refuses a private key), or if it is too short.
    pub fn from_file(path: &Path) -> anyhow::Result<ClusterSecret> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("the cluster secret {}: {e}", path.display()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "the cluster secret {} may be read by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
        let mut bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("reading the cluster secret {}: {e}", path.display()))?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        ClusterSecret::new(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// What a MAC is for: the key differs, so one kind never verifies as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A frame of a stream between two nodes.
    Frame,
    /// A heartbeat.
    Beat,
    /// A deploy record or a node's report of one (`super::deploy`).
    Deploy,
}

/// The keys of one cluster (a secret and a prefix), or none in insecure mode.
#[derive(Clone)]
pub(crate) struct Keys {
    keys: Option<[[u8; 32]; 3]>,
}

type HmacSha256 = Hmac<Sha256>;

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

impl Keys {
    /// The keys derived from `secret` for the cluster with subject prefix `prefix`; `None`:
    /// insecure (MACs are written as zeros and not checked).
    pub(crate) fn new(secret: Option<&ClusterSecret>, prefix: &str) -> Keys {
        let derive = |secret: &ClusterSecret, what: &str| -> [u8; 32] {
            let mut m = mac_with(&secret.0);
            m.update(b"warren cluster v2\0");
            m.update(what.as_bytes());
            m.update(b"\0");
            m.update(prefix.as_bytes());
            m.finalize().into_bytes().into()
        };
        Keys {
            keys: secret.map(|s| [derive(s, "frame"), derive(s, "beat"), derive(s, "deploy")]),
        }
    }

    /// Whether messages are authenticated.
    pub(crate) fn secure(&self) -> bool {
        self.keys.is_some()
    }

    fn key(&self, purpose: Purpose) -> Option<&[u8; 32]> {
        self.keys.as_ref().map(|[f, b, d]| match purpose {
            Purpose::Frame => f,
            Purpose::Beat => b,
            Purpose::Deploy => d,
        })
    }

    /// The MAC of `parts` (concatenated) for `purpose`; zeros when insecure.
    pub(crate) fn sign(&self, purpose: Purpose, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        let Some(key) = self.key(purpose) else {
            return [0; MAC_LEN];
        };
        let mut m = mac_with(key);
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Whether `mac` is the MAC of `parts` for `purpose` (compared in constant time); always
    /// true when insecure.
    pub(crate) fn verify(&self, purpose: Purpose, parts: &[&[u8]], mac: &[u8]) -> bool {
        let Some(key) = self.key(purpose) else {
            return true;
        };
        let mut m = mac_with(key);
        for p in parts {
            m.update(p);
        }
        m.verify_slice(mac).is_ok()
    }
}

/// Sessions of the streams a node sends: strictly increasing for the node's life, and
/// larger than any an earlier node could have used at the same time (they start from the
/// clock in nanoseconds), so a receiver can refuse an old session replayed.
pub(crate) struct Sessions {
    last: AtomicU64,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            last: AtomicU64::new(0),
        }
    }
}

impl Sessions {
    /// A new session, larger than every one before.
    pub(crate) fn next(&self) -> u64 {
        let now = now_nanos();
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }
}

/// The wall clock in nanoseconds since the epoch (0 before it).
pub(crate) fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The wall clock in milliseconds since the epoch.
pub(crate) fn now_millis() -> u64 {
    now_nanos() / 1_000_000
}

/// Whether a beat sent at `sent_ms` (the sender's clock) is fresh at `now_ms` (ours).
pub(crate) fn fresh(sent_ms: u64, now_ms: u64) -> bool {
    sent_ms.abs_diff(now_ms) <= MAX_BEAT_SKEW.as_millis() as u64
}

/// Whether `name` may name a node: 1 to 64 ASCII letters, digits, `-` or `_` (it is a token
/// of NATS subjects, so a server's permissions can name it).
pub(crate) fn valid_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(b: u8) -> ClusterSecret {
        ClusterSecret::new(vec![b; 32]).unwrap()
    }

    #[test]
    fn macs_verify_only_with_the_same_secret_prefix_and_purpose() {
        let k = Keys::new(Some(&secret(1)), "warren");
        let mac = k.sign(Purpose::Frame, &[b"head", b"body"]);
        assert!(k.verify(Purpose::Frame, &[b"headbody"], &mac));
        assert!(!k.verify(Purpose::Frame, &[b"headbodx"], &mac));
        assert!(!k.verify(Purpose::Beat, &[b"headbody"], &mac));
        let other = Keys::new(Some(&secret(2)), "warren");
        assert!(!other.verify(Purpose::Frame, &[b"headbody"], &mac));
        let other_prefix = Keys::new(Some(&secret(1)), "warren2");
        assert!(!other_prefix.verify(Purpose::Frame, &[b"headbody"], &mac));
        assert!(!k.verify(Purpose::Frame, &[b"headbody"], &mac[..31]));
    }

    #[test]
    fn insecure_keys_sign_zeros_and_take_anything() {
        let k = Keys::new(None, "warren");
        assert!(!k.secure());
        assert_eq!(k.sign(Purpose::Beat, &[b"x"]), [0; 32]);
        assert!(k.verify(Purpose::Beat, &[b"x"], &[7; 32]));
    }

    #[test]
    fn short_secrets_and_files_others_may_read_are_refused() {
        assert!(ClusterSecret::new(vec![0; 31]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, ClusterSecret::generate().unwrap().file_contents()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = ClusterSecret::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = ClusterSecret::from_file(&path).unwrap();
        assert_eq!(s.0.len(), 64, "64 hex digits, newline dropped");
        assert!(!format!("{s:?}").contains(std::str::from_utf8(&s.0).unwrap()));
    }

    #[test]
    fn sessions_only_grow_and_beats_must_be_recent() {
        let s = Sessions::default();
        let a = s.next();
        let b = s.next();
        assert!(b > a && a > 1_600_000_000 * 1_000_000_000);
        assert!(fresh(1000, 1000 + 9_999));
        assert!(!fresh(1000, 1000 + 10_001));
        assert!(!fresh(20_001, 10_000));
    }

    #[test]
    fn node_names_are_subject_tokens() {
        assert!(valid_node_name("node-1_a"));
        for bad in ["", "a.b", "a b", "*", ">", "é", &"x".repeat(65)] {
            assert!(!valid_node_name(bad), "{bad:?}");
        }
    }
}
