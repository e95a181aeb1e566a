//! HTTP scenarios: `http_server [per_connection|tls|tls_per_connection]` serves the routes below on a free port and
//! prints `listening on ADDR`; crates/cli/tests/http.rs drives it with curl, raw sockets and
//! a WebSocket client.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use warren::fs::File;
use warren::http::{Message, Request, Response, Server};
use warren::select::{Source, select};
use warren::{Mailbox, spawn};

pub fn run(scenario: &str, arg: Option<&str>) -> bool {
    match scenario {
        "http_server" => server(
            matches!(arg, Some("per_connection" | "tls_per_connection")),
            matches!(arg, Some("tls" | "tls_per_connection")),
        ),
        _ => return false,
    }
    true
}

fn server(per_connection: bool, tls: bool) {
    let mut server = Server::bind("127.0.0.1:0").expect("bind");
    if per_connection {
        server = server.per_connection();
    }
    if tls {
        server = server.tls();
    }
    let addr = server.local_addr().expect("addr");
    let hoard = spawn!(|mailbox: Mailbox<Hoard>| hoard(mailbox)).expect("spawn the hoard");
    hoard.register("hoard").expect("register the hoard");
    println!("listening on {addr}");
    server
        .serve_with(String::from("captured"), route)
        .expect("serve");
}

/// Requests this process has served (per connection: the connection's so far).
static SERVED: AtomicU64 = AtomicU64::new(0);

fn route(captured: String, req: Request) -> Result<Response, std::io::Error> {
    let n = SERVED.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(match req.path() {
        "/hello" => Response::text(200, "hello\n"),
        // The program's own spawns still get a process while clients hold the rest.
        "/spawn" => {
            let (_p, m) =
                warren::spawn_monitor!(|_m: Mailbox<()>| {}).map_err(std::io::Error::other)?;
            Response::text(200, format!("spawned: {}\n", m.wait()))
        }
        // Declares a body it never sends: the handler must not hold what was declared.
        "/declared" => Response::text(200, format!("got {} bytes\n", req.body_bytes()?.len())),
        "/info" => Response::text(
            200,
            format!(
                "method={} path={} q={} x-test={} captured={captured} served={n} pid={}\n",
                req.method(),
                req.path(),
                req.query_param("q").unwrap_or_default(),
                req.header("X-Test").unwrap_or("-"),
                warren::this(),
            ),
        )
        .header("x-served", n.to_string()),
        "/upload" => {
            // Read the body as a stream, in small pieces, and answer its length and hash.
            let mut body = req.body()?;
            let mut buf = [0u8; 8192];
            let (mut len, mut hash) = (0u64, FNV_START);
            loop {
                let k = body.read(&mut buf)?;
                if k == 0 {
                    break;
                }
                len += k as u64;
                hash = fnv(hash, &buf[..k]);
            }
            Response::text(200, format!("len={len} fnv={hash:016x}\n"))
        }
        "/echo" => Response::new(200)
            .header(
                "content-type",
                req.header("content-type")
                    .unwrap_or("application/octet-stream"),
            )
            .body(req.body_bytes()?),
        "/json" => {
            let mut v: serde_json::Value = req.json()?;
            v["seen"] = serde_json::Value::Bool(true);
            Response::json(200, &v)
        }
        "/pipe" => {
            // The request body spliced straight back by the host, both ways at once.
            Response::new(200).stream(req.body()?)
        }
        "/download" => {
            // A body written by the process: n bytes of a known pattern, in 1000-byte writes.
            let total: usize = req
                .query_param("n")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let mut out = req.respond_streaming(
                Response::new(200).header("content-type", "application/octet-stream"),
            )?;
            let chunk: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
            let mut left = total;
            while left > 0 {
                let k = left.min(chunk.len());
                out.write_all(&chunk[..k])?;
                left -= k;
            }
            return Ok(Response::new(200)); // answered already: ignored
        }
        "/file" => {
            let path = req.query_param("path").unwrap_or_default();
            let file = File::open(&path)?;
            Response::new(200).file(&file)?
        }
        "/sse" => {
            let mut events = req.respond_streaming(
                Response::new(200).header("content-type", "text/event-stream"),
            )?;
            for i in 1..=3 {
                events.event(Some("tick"), &format!("n={i}"))?;
                warren::sleep(Duration::from_millis(50));
            }
            return Ok(Response::new(200));
        }
        "/panic" => panic!("handler panicked on purpose"),
        "/noanswer" => {
            // Take the request apart and answer nothing: the host answers 500.
            drop(req);
            return Err(std::io::Error::other(
                "unreachable: this is answered 500 by the Err",
            ));
        }
        "/silent" => {
            std::mem::forget(req); // keeps the request open; the process then ends
            std::process::exit(0);
        }
        "/cut" => {
            let mut out = req.respond_streaming(Response::new(200))?;
            out.write_all(b"a first part, then the process dies")?;
            panic!("died mid-body");
        }
        "/spin" => {
            // A handler that never yields: preempted, then killed at the request timeout.
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "/linger" => {
            // Answers after `ms` milliseconds; says on stdout when it has begun (a graceful
            // shutdown's test sends SIGTERM while such requests are in flight).
            let ms: u64 = req
                .query_param("ms")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1000);
            println!("linger begun");
            warren::sleep(Duration::from_millis(ms));
            Response::text(200, format!("lingered {ms} ms\n"))
        }
        "/slow" => {
            warren::sleep(Duration::from_secs(10));
            Response::text(200, "too late\n")
        }
        "/ws-flood" => {
            // More than the limit in one message is refused; many messages to a client that
            // is slow to read wait for it (the host holds at most the limit), in order.
            let ws = req.upgrade()?;
            let limit: usize = req
                .query_param("limit")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            match ws.send_binary(&vec![0u8; limit + 1]) {
                Ok(()) => ws.send_text("sent: not refused").expect("send"),
                Err(e) => ws.send_text(&format!("refused: {e}")).expect("send"),
            }
            for i in 0..20u8 {
                let mut m = vec![i; 256 * 1024];
                m[1] = 0xee;
                ws.send_binary(&m).expect("send a flood message");
            }
            ws.close()?;
            return Ok(Response::new(200));
        }
        "/ws-moved" => {
            // The socket moves into another process; this one ends at once.
            let ws = req.upgrade()?;
            spawn!(ws; |_m: Mailbox<()>| {
                while let Ok(Message::Text(t)) = ws.receive() {
                    if ws.send_text(&format!("moved: {t}")).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the socket's new owner");
            return Ok(Response::new(200)); // answered by the upgrade: ignored
        }
        "/ws-hoard" => {
            // The socket goes to the one process holding every such socket.
            let ws = req.upgrade()?;
            let hoard = warren::whereis::<Hoard>("hoard").expect("the hoard is registered");
            hoard.send(&Hoard::Socket(ws));
            return Ok(Response::new(200));
        }
        "/ws-hoard-drain" => {
            let hoard = warren::whereis::<Hoard>("hoard").expect("the hoard is registered");
            hoard.send(&Hoard::Drain);
            Response::text(200, "draining\n")
        }
        "/ws" => {
            let ws = req.upgrade()?;
            websocket(ws);
            return Ok(Response::new(200));
        }
        _ => Response::not_found(),
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
enum Hoard {
    Socket(warren::http::WebSocket),
    Drain,
}

/// Hold sockets without reading them until told to drain: then read one message from each,
/// in the order they came, and tell its client what arrived (its length and checksum).
fn hoard(mailbox: Mailbox<Hoard>) {
    let mut sockets = Vec::new();
    loop {
        match mailbox.receive() {
            Hoard::Socket(ws) => sockets.push(ws),
            Hoard::Drain => {
                for ws in sockets.drain(..) {
                    let answer = match ws.receive() {
                        Ok(Message::Binary(b)) => {
                            format!("got {} bytes, fnv {:x}", b.len(), fnv(FNV_START, &b))
                        }
                        Ok(_) => "got something else".to_string(),
                        Err(e) => format!("failed: {e}"),
                    };
                    let _ = ws.send_text(&answer);
                }
            }
        }
    }
}

/// Echo a WebSocket's messages; a mailbox message (a child's tick) goes to the client too.
fn websocket(ws: warren::http::WebSocket) {
    let me = warren::Process::<String>::this();
    spawn!(me; |_m: Mailbox<()>| {
        warren::sleep(Duration::from_millis(100));
        me.send(&"tick".to_string());
    })
    .expect("spawn the ticker");
    let mailbox: Mailbox<String> = Mailbox::this();
    loop {
        match select(&[Source::Messages, Source::Readable(&ws)], None) {
            Some(0) => {
                let text = mailbox.receive();
                ws.send_text(&text).expect("send tick");
            }
            _ => match ws.receive() {
                Ok(Message::Text(t)) => ws.send_text(&format!("echo: {t}")).expect("send"),
                Ok(Message::Binary(b)) => ws.send_binary(&b).expect("send binary"),
                Ok(Message::Close(_)) | Err(_) => return,
            },
        }
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
