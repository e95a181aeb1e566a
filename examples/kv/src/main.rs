//! A Redis-protocol (RESP2) key-value server: `redis-cli` works against it.
//!
//! ```text
//! warren run kv.wasm 127.0.0.1:6380 [SHARDS]
//! redis-cli -p 6380 SET greeting hello EX 60
//! ```
//!
//! - one process per connection parses commands and answers them;
//! - the data lives in SHARDS processes (default 8); a key belongs to shard
//!   `hash(key) % SHARDS`, and the connection asks that shard (request/reply), so shards
//!   work in parallel and none of them ever waits on a socket.
//!
//! Commands: PING, ECHO, SET (with EX/PX), GET, DEL, EXISTS, INCR, MGET, MSET, KEYS
//! (glob patterns with `*` and `?`), DBSIZE, FLUSHALL, SELECT 0, QUIT; COMMAND answers an
//! empty list. Multi-key commands fan out to the shards; like Redis Cluster they are not
//! atomic across shards.

mod resp;

use resp::{Parsed, Reply};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use warren::net::{TcpListener, TcpStream};
use warren::{Mailbox, Process, Reply as Answer};

type Key = Vec<u8>;

/// What a connection asks a shard.
#[derive(Serialize, Deserialize)]
enum ShardRequest {
    Get(Key, Answer<Option<Vec<u8>>>),
    /// Value and time to live in milliseconds.
    Set(Key, Vec<u8>, Option<u64>, Answer<()>),
    /// How many of the keys existed (and were deleted).
    Del(Vec<Key>, Answer<u64>),
    Exists(Vec<Key>, Answer<u64>),
    Incr(Key, Answer<Result<i64, String>>),
    Keys(Vec<u8>, Answer<Vec<Key>>),
    Size(Answer<u64>),
    Flush(Answer<()>),
}

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

fn shard(mailbox: Mailbox<ShardRequest>) {
    let mut data: HashMap<Key, Entry> = HashMap::new();
    let mut handled = 0u64;
    loop {
        let request = mailbox.receive();
        let now = Instant::now();
        // Expired keys are dropped when touched, and swept every 4096 requests.
        handled += 1;
        if handled.is_multiple_of(4096) {
            data.retain(|_, e| e.live(now));
        }
        match request {
            ShardRequest::Get(k, reply) => {
                let v = data
                    .get(&k)
                    .filter(|e| e.live(now))
                    .map(|e| e.value.clone());
                reply.send(&v);
            }
            ShardRequest::Set(k, value, ttl, reply) => {
                let expires = ttl.map(|ms| now + Duration::from_millis(ms));
                data.insert(k, Entry { value, expires });
                reply.send(&());
            }
            ShardRequest::Del(keys, reply) => {
                let n = keys
                    .iter()
                    .filter(|k| data.remove(*k).is_some_and(|e| e.live(now)))
                    .count();
                reply.send(&(n as u64));
            }
            ShardRequest::Exists(keys, reply) => {
                let n = keys
                    .iter()
                    .filter(|k| data.get(*k).is_some_and(|e| e.live(now)))
                    .count();
                reply.send(&(n as u64));
            }
            ShardRequest::Incr(k, reply) => {
                let current = match data.get(&k).filter(|e| e.live(now)) {
                    None => Ok((0, None)),
                    Some(e) => std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .map(|n| (n, e.expires))
                        .ok_or_else(|| "value is not an integer or out of range".to_string()),
                };
                let result = current.and_then(|(n, expires)| {
                    let n = n
                        .checked_add(1)
                        .ok_or_else(|| "increment or decrement would overflow".to_string())?;
                    let value = n.to_string().into_bytes();
                    data.insert(k, Entry { value, expires });
                    Ok(n)
                });
                reply.send(&result);
            }
            ShardRequest::Keys(pattern, reply) => {
                let keys: Vec<Key> = data
                    .iter()
                    .filter(|(k, e)| e.live(now) && resp::glob(&pattern, k))
                    .map(|(k, _)| k.clone())
                    .collect();
                reply.send(&keys);
            }
            ShardRequest::Size(reply) => {
                reply.send(&(data.values().filter(|e| e.live(now)).count() as u64));
            }
            ShardRequest::Flush(reply) => {
                data.clear();
                reply.send(&());
            }
        }
    }
}

/// The shards, and which one holds a key.
struct Shards(Vec<Process<ShardRequest>>);

impl Shards {
    fn of(&self, key: &[u8]) -> &Process<ShardRequest> {
        &self.0[self.index_of(key)]
    }

    fn index_of(&self, key: &[u8]) -> usize {
        // FNV-1a: stable across processes (std's hasher is randomly seeded per process).
        let mut h: u64 = 0xcbf29ce484222325;
        for b in key {
            h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
        }
        (h % self.0.len() as u64) as usize
    }

    /// Ask each shard holding some of `keys` to count them (`make` builds the request);
    /// the total as an integer reply.
    fn count(&self, keys: &[Vec<u8>], make: fn(Vec<Key>, Answer<u64>) -> ShardRequest) -> Reply {
        let mut groups: Vec<Vec<Key>> = vec![Vec::new(); self.0.len()];
        for k in keys {
            groups[self.index_of(k)].push(k.clone());
        }
        let mut total = 0;
        for (shard, ks) in self.0.iter().zip(groups) {
            if ks.is_empty() {
                continue;
            }
            match shard.request(|r| make(ks, r)) {
                Ok(n) => total += n,
                Err(e) => return Reply::Error(format!("ERR shard unavailable: {e}")),
            }
        }
        Reply::Integer(total as i64)
    }
}

fn lower(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_lowercase()
}

fn wrong_args(cmd: &str) -> Reply {
    Reply::Error(format!("ERR wrong number of arguments for '{cmd}' command"))
}

/// Run one command. `None`: close the connection (QUIT).
fn execute(shards: &Shards, args: &[Vec<u8>]) -> Option<Reply> {
    let Some(first) = args.first() else {
        return Some(Reply::Error("ERR empty command".into()));
    };
    let cmd = lower(first);
    let unavailable = |e: warren::RequestError| Reply::Error(format!("ERR shard unavailable: {e}"));
    Some(match (cmd.as_str(), args.len()) {
        ("ping", 1) => Reply::Simple("PONG".into()),
        ("ping", 2) => Reply::Bulk(Some(args[1].clone())),
        ("echo", 2) => Reply::Bulk(Some(args[1].clone())),
        ("quit", _) => return None,
        ("command", _) => Reply::Array(Vec::new()),
        ("select", 2) if args[1] == b"0" => Reply::Simple("OK".into()),
        ("select", 2) => Reply::Error("ERR DB index is out of range".into()),
        ("get", 2) => match shards
            .of(&args[1])
            .request(|r| ShardRequest::Get(args[1].clone(), r))
        {
            Ok(v) => Reply::Bulk(v),
            Err(e) => unavailable(e),
        },
        ("set", n) if n >= 3 => {
            let ttl = match &args[3..] {
                [] => None,
                [opt, t] => {
                    let t = std::str::from_utf8(t)
                        .ok()
                        .and_then(|t| t.parse::<u64>().ok());
                    match (lower(opt).as_str(), t) {
                        ("ex", Some(s)) if s > 0 => Some(s.saturating_mul(1000)),
                        ("px", Some(ms)) if ms > 0 => Some(ms),
                        (_, None) | ("ex" | "px", Some(0)) => {
                            return Some(Reply::Error(
                                "ERR invalid expire time in 'set' command".into(),
                            ));
                        }
                        _ => return Some(Reply::Error("ERR syntax error".into())),
                    }
                }
                _ => return Some(Reply::Error("ERR syntax error".into())),
            };
            let (k, v) = (args[1].clone(), args[2].clone());
            match shards
                .of(&k)
                .request(|r| ShardRequest::Set(k.clone(), v, ttl, r))
            {
                Ok(()) => Reply::Simple("OK".into()),
                Err(e) => unavailable(e),
            }
        }
        ("del", n) if n >= 2 => shards.count(&args[1..], ShardRequest::Del),
        ("exists", n) if n >= 2 => shards.count(&args[1..], ShardRequest::Exists),
        ("incr", 2) => match shards
            .of(&args[1])
            .request(|r| ShardRequest::Incr(args[1].clone(), r))
        {
            Ok(Ok(n)) => Reply::Integer(n),
            Ok(Err(e)) => Reply::Error(format!("ERR {e}")),
            Err(e) => unavailable(e),
        },
        ("mget", n) if n >= 2 => {
            let keys = &args[1..];
            let mut values = vec![Reply::Bulk(None); keys.len()];
            for k in 0..keys.len() {
                match shards
                    .of(&keys[k])
                    .request(|r| ShardRequest::Get(keys[k].clone(), r))
                {
                    Ok(v) => values[k] = Reply::Bulk(v),
                    Err(e) => return Some(unavailable(e)),
                }
            }
            Reply::Array(values)
        }
        ("mset", n) if n >= 3 && n % 2 == 1 => {
            for pair in args[1..].chunks_exact(2) {
                let (k, v) = (pair[0].clone(), pair[1].clone());
                if let Err(e) = shards
                    .of(&k)
                    .request(|r| ShardRequest::Set(k.clone(), v, None, r))
                {
                    return Some(unavailable(e));
                }
            }
            Reply::Simple("OK".into())
        }
        ("keys", 2) => {
            let mut all = Vec::new();
            for s in &shards.0 {
                match s.request(|r| ShardRequest::Keys(args[1].clone(), r)) {
                    Ok(keys) => all.extend(keys),
                    Err(e) => return Some(unavailable(e)),
                }
            }
            all.sort();
            Reply::Array(all.into_iter().map(|k| Reply::Bulk(Some(k))).collect())
        }
        ("dbsize", 1) => {
            let mut total = 0;
            for s in &shards.0 {
                match s.request(ShardRequest::Size) {
                    Ok(n) => total += n,
                    Err(e) => return Some(unavailable(e)),
                }
            }
            Reply::Integer(total as i64)
        }
        ("flushall" | "flushdb", _) => {
            for s in &shards.0 {
                if let Err(e) = s.request(ShardRequest::Flush) {
                    return Some(unavailable(e));
                }
            }
            Reply::Simple("OK".into())
        }
        (
            "ping" | "echo" | "get" | "set" | "del" | "exists" | "incr" | "mget" | "mset" | "keys"
            | "dbsize" | "select",
            _,
        ) => wrong_args(&cmd),
        _ => {
            let shown: String = String::from_utf8_lossy(first).chars().take(64).collect();
            Reply::Error(format!("ERR unknown command '{shown}'"))
        }
    })
}

/// Serve one client: parse commands as they arrive, answer each in order.
fn connection(conn: TcpStream, shards: Vec<Process<ShardRequest>>) {
    let shards = Shards(shards);
    let mut input: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut out: Vec<u8> = Vec::new();
    loop {
        // Answer every complete command in the buffer (pipelining), then write once.
        loop {
            match resp::parse(&input) {
                Parsed::Command(args, used) if args.is_empty() => {
                    input.drain(..used);
                }
                Parsed::Command(args, used) => {
                    input.drain(..used);
                    match execute(&shards, &args) {
                        Some(reply) => reply.encode(&mut out),
                        None => {
                            Reply::Simple("OK".into()).encode(&mut out);
                            let _ = conn.write_all(&out);
                            return;
                        }
                    }
                }
                Parsed::Incomplete => break,
                Parsed::Invalid(problem) => {
                    Reply::Error(format!("ERR Protocol error: {problem}")).encode(&mut out);
                    let _ = conn.write_all(&out);
                    return;
                }
            }
        }
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => input.extend_from_slice(&buf[..n]),
        }
        if input.len() > resp::MAX_REQUEST {
            let _ = conn.write_all(b"-ERR Protocol error: request too large\r\n");
            return;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:6380".into());
    let n: usize = match args.next().map(|s| s.parse()) {
        None => 8,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("kv: SHARDS must be a positive number");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("kv: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    let shards: Vec<Process<ShardRequest>> = (0..n)
        .map(|_| {
            warren::spawn!(|mailbox: Mailbox<ShardRequest>| shard(mailbox)).expect("spawn a shard")
        })
        .collect();
    for s in &shards {
        s.link();
    }
    println!(
        "kv: listening on {} with {n} shards",
        listener.local_addr().expect("bound")
    );
    for conn in listener.incoming().expect("incoming connections") {
        let Ok(conn) = conn else { continue };
        let shards = shards.clone();
        if let Err(e) =
            warren::spawn!(conn, shards; |_mailbox: Mailbox<()>| connection(conn, shards))
        {
            eprintln!("kv: cannot start a connection process: {e}");
        }
    }
}
