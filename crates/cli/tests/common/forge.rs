//! The cluster's wire as another party speaks it: a raw NATS client (its protocol by hand),
//! and frames and beats made with or without the cluster's secret — for tests that play an
//! intruder on the bus (or a node whose frames go astray). The layout is the one
//! crates/runtime/src/cluster/wire.rs and auth.rs define; if they change, these tests fail.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub const VERSION: u8 = 2;
pub const DATA_MORE: u8 = 0;
pub const DATA_END: u8 = 1;

/// The MAC keys of a cluster with prefix `warren`, from the secret file's bytes; `None`
/// signs with a key nobody holds.
pub struct Keys {
    frame: Vec<u8>,
    beat: Vec<u8>,
    deploy: Vec<u8>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl Keys {
    /// The keys of the secret in `file`.
    pub fn from_file(file: &std::path::Path) -> Keys {
        let mut secret = std::fs::read(file).expect("the secret");
        while secret.last() == Some(&b'\n') {
            secret.pop();
        }
        Keys::of(&secret)
    }

    /// Keys of a secret the cluster does not hold.
    pub fn wrong() -> Keys {
        Keys::of(&[0x55; 32])
    }

    fn of(secret: &[u8]) -> Keys {
        let derive = |what: &str| {
            hmac(
                secret,
                &[b"warren cluster v2\0", what.as_bytes(), b"\0", b"warren"],
            )
            .to_vec()
        };
        Keys {
            frame: derive("frame"),
            beat: derive("beat"),
            deploy: derive("deploy"),
        }
    }

    /// A deploy record (crates/runtime/src/cluster/deploy.rs) naming `module`, by `by`, sent
    /// at `sent_ms`.
    pub fn deploy_record(&self, module: &[u8; 32], by: &str, sent_ms: u64) -> Vec<u8> {
        let mut body = module.to_vec();
        body.push(0); // earlier: None
        varint(&mut body, by.len() as u64);
        body.extend_from_slice(by.as_bytes());
        varint(&mut body, sent_ms);
        body.push(0); // nodes: every one
        let head = [1u8, 1]; // format 1, a record
        let mac = hmac(&self.deploy, &[&head, &body]);
        let mut v = head.to_vec();
        v.extend_from_slice(&mac);
        v.extend_from_slice(&body);
        v
    }

    /// A frame of `kind` from node `from` to node `to`, session and sequence as given.
    pub fn frame(
        &self,
        kind: u8,
        from: u32,
        to: u32,
        session: u64,
        seq: u64,
        chunk: &[u8],
    ) -> Vec<u8> {
        let mut h = vec![VERSION, kind];
        h.extend_from_slice(&from.to_le_bytes());
        h.extend_from_slice(&to.to_le_bytes());
        h.extend_from_slice(&session.to_le_bytes());
        h.extend_from_slice(&seq.to_le_bytes());
        let mac = hmac(&self.frame, &[&h, chunk]);
        h.extend_from_slice(&mac);
        h.extend_from_slice(chunk);
        h
    }

    /// A beat of node `node` named `name` (postcard by hand: varints and a string).
    pub fn beat(
        &self,
        node: u32,
        name: &str,
        leaving: bool,
        counter: u64,
        sent_ms: u64,
    ) -> Vec<u8> {
        let mut body = Vec::new();
        varint(&mut body, u64::from(node));
        varint(&mut body, name.len() as u64);
        body.extend_from_slice(name.as_bytes());
        body.push(0); // module: None
        body.push(u8::from(leaving));
        varint(&mut body, counter);
        varint(&mut body, sent_ms);
        let mac = hmac(&self.beat, &[&[VERSION], &body]);
        let mut v = vec![VERSION];
        v.extend_from_slice(&mac);
        v.extend_from_slice(&body);
        v
    }
}

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A batch of one envelope: the signal `Kill { to }` (postcard: a one-item sequence,
/// `Envelope::Signal` = 0, `Signal::Kill`'s variant index, the pid).
pub fn kill_batch(to: u64) -> Vec<u8> {
    let mut b = vec![1, 0, KILL_VARIANT];
    varint(&mut b, to);
    b
}

/// `Signal::Kill`'s variant index in crates/runtime/src/actor/remote.rs.
const KILL_VARIANT: u8 = 7;

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis() as u64
}

/// A plain connection to a NATS server, speaking its protocol by hand.
pub struct Raw {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Raw {
    /// Connect to `addr` as `user`.
    pub fn connect(addr: &str, user: &str) -> Raw {
        let w = TcpStream::connect(addr).expect("connecting to NATS");
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let r = BufReader::new(w.try_clone().expect("a second handle"));
        let mut raw = Raw { w, r };
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"pw-{user}\"}}\r\n"
        );
        raw.w.write_all(connect.as_bytes()).unwrap();
        raw.ping();
        raw
    }

    /// Publish `payload` on `subject` (the server has it when [`Raw::ping`] returns).
    pub fn publish(&mut self, subject: &str, payload: &[u8]) {
        let mut f = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        f.extend_from_slice(payload);
        f.extend_from_slice(b"\r\n");
        self.w.write_all(&f).expect("publishing");
    }

    /// Publish what the server should refuse; what it said (an `-ERR` line), or "" if it
    /// took it.
    pub fn publish_refused(&mut self, subject: &str, payload: &[u8]) -> String {
        self.publish(subject, payload);
        self.w.write_all(b"PING\r\n").unwrap();
        let mut said = String::new();
        loop {
            let line = self.line();
            if line == "PONG" {
                return said;
            }
            if line.starts_with("-ERR") {
                said = line;
            }
        }
    }

    /// Subscribe to `subject` as subscription `sid`.
    pub fn subscribe(&mut self, subject: &str, sid: u32) {
        self.w
            .write_all(format!("SUB {subject} {sid}\r\n").as_bytes())
            .unwrap();
    }

    /// Round trip to the server: everything published before is in.
    pub fn ping(&mut self) {
        self.w.write_all(b"PING\r\n").unwrap();
        loop {
            let line = self.line();
            if line == "PONG" {
                return;
            }
            assert!(!line.starts_with("-ERR"), "NATS said {line}");
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.r.read_line(&mut line).expect("reading from NATS");
        assert!(n > 0, "NATS closed the connection");
        line.trim_end().to_string()
    }

    /// The next message on a subscription, or `None` once the connection is closed (the
    /// server stopped: for threads that record until the end).
    pub fn next(&mut self) -> Option<(String, Vec<u8>)> {
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(1..) => {}
                _ => return None,
            }
            let line = line.trim_end();
            if line == "PING" {
                self.w.write_all(b"PONG\r\n").ok()?;
                continue;
            }
            let Some(rest) = line.strip_prefix("MSG ") else {
                continue;
            };
            let parts: Vec<&str> = rest.split(' ').collect();
            let len: usize = parts[parts.len() - 1].parse().ok()?;
            let mut payload = vec![0u8; len + 2];
            self.r.read_exact(&mut payload).ok()?;
            payload.truncate(len);
            return Some((parts[0].to_string(), payload));
        }
    }

    /// The next message on a subscription: its subject and payload.
    pub fn next_message(&mut self) -> (String, Vec<u8>) {
        loop {
            let line = self.line();
            if line == "PING" {
                self.w.write_all(b"PONG\r\n").unwrap();
                continue;
            }
            let Some(rest) = line.strip_prefix("MSG ") else {
                assert!(!line.starts_with("-ERR"), "NATS said {line}");
                continue;
            };
            let parts: Vec<&str> = rest.split(' ').collect();
            let len: usize = parts[parts.len() - 1].parse().expect("a length");
            let mut payload = vec![0u8; len + 2];
            self.r.read_exact(&mut payload).expect("a payload");
            payload.truncate(len);
            return (parts[0].to_string(), payload);
        }
    }
}

impl Raw {
    /// Publish `payload` on `subject` with a reply subject, and wait for the reply.
    pub fn request(&mut self, subject: &str, payload: &[u8]) -> Vec<u8> {
        let inbox = format!("_INBOX.forge{}", std::process::id());
        self.subscribe(&inbox, 999);
        let mut f = format!("PUB {subject} {inbox} {}\r\n", payload.len()).into_bytes();
        f.extend_from_slice(payload);
        f.extend_from_slice(b"\r\n");
        self.w.write_all(&f).expect("publishing");
        loop {
            let (s, p) = self.next_message();
            if s == inbox {
                self.w.write_all(b"UNSUB 999\r\n").unwrap();
                return p;
            }
        }
    }

    /// Store `bytes` as object `name` of the object-store bucket `bucket` the way a NATS
    /// client does (the bucket's stream is made if it is not there): chunks, then the meta
    /// record with the bytes' digest.
    pub fn put_object(&mut self, bucket: &str, name: &str, bytes: &[u8]) {
        use base64::Engine;
        use sha2::Digest;
        let stream = format!("OBJ_{bucket}");
        let config = format!(
            r#"{{"name":"{stream}","subjects":["$O.{bucket}.C.>","$O.{bucket}.M.>"],"retention":"limits","discard":"new","storage":"file","num_replicas":1,"allow_rollup_hdrs":true,"allow_direct":true}}"#
        );
        self.request(
            &format!("$JS.API.STREAM.CREATE.{stream}"),
            config.as_bytes(),
        );
        let nuid = format!("forged{}{}", std::process::id(), now_ms());
        let chunks: Vec<&[u8]> = bytes.chunks(128 * 1024).collect();
        for c in &chunks {
            self.publish(&format!("$O.{bucket}.C.{nuid}"), c);
        }
        let b64 = base64::engine::general_purpose::URL_SAFE;
        let digest = b64.encode(sha2::Sha256::digest(bytes));
        let meta = format!(
            r#"{{"name":"{name}","bucket":"{bucket}","nuid":"{nuid}","size":{},"chunks":{},"digest":"SHA-256={digest}"}}"#,
            bytes.len(),
            chunks.len()
        );
        self.publish(
            &format!("$O.{bucket}.M.{}", b64.encode(name)),
            meta.as_bytes(),
        );
        self.ping();
    }
}

/// SHA-256 of a file, in hex (what `sha256sum` prints, what `--trust-module` takes).
pub fn sha256_hex(path: &std::path::Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).expect("the module");
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A batch of one spawn order from `parent` for the module `module` (postcard by hand:
/// `Envelope::Spawn` = 1, then the order's fields in their order).
pub fn spawn_batch(parent: u64, module: &[u8; 32]) -> Vec<u8> {
    let mut b = vec![1, 1];
    varint(&mut b, 1); // req
    varint(&mut b, parent);
    b.extend_from_slice(module);
    varint(&mut b, 1); // trampoline
    varint(&mut b, 2); // func
    b.push(0); // args: empty
    b.push(0); // link
    b.extend_from_slice(&[0, 0, 0, 0]); // monitor, max_memory, max_fuel, mailbox: None
    b
}

/// A beat's node number (the first field after the version and the MAC).
pub fn beat_node(beat: &[u8]) -> u32 {
    let mut n = 0u64;
    for (i, b) in beat[33..].iter().enumerate() {
        n |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            break;
        }
    }
    n as u32
}

/// The resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
