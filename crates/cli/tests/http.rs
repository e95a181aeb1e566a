//! HTTP serving (`warren::http`) against real clients: curl for methods, headers, chunked
//! and large bodies, downloads and server-sent events; raw sockets for keep-alive,
//! pipelining, malformed and slow requests and the connection limit; tungstenite for
//! WebSockets. The server is `test_guest http_server` (tests/guest/src/http.rs).

mod common;
use common::{Server, guest, read_response};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn server(flags: &[&str], per_connection: bool) -> Server {
    let mut args = vec!["http_server"];
    if per_connection {
        args.push("per_connection");
    }
    Server::launch_with(flags, &guest("test_guest"), &args).0
}

/// Run curl with `args`; (exit code, stdout).
fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .expect("running curl (Debian package curl)");
    (out.status.code().unwrap_or(-1), out.stdout)
}

fn curl_text(args: &[&str]) -> String {
    let (code, out) = curl(args);
    assert_eq!(code, 0, "curl {args:?} failed");
    String::from_utf8(out).expect("utf-8")
}

/// The status code curl saw.
fn status(url: &str, extra: &[&str]) -> String {
    let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    args.extend_from_slice(extra);
    args.push(url);
    curl_text(&args)
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = FNV_START;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// `n` bytes of the pattern `/download` writes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i % 1000) % 251) as u8).collect()
}

fn field<'a>(body: &'a str, name: &str) -> &'a str {
    body.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {body:?}"))
}

#[test]
fn requests_reach_handlers_with_method_path_query_headers_and_captures() {
    let s = server(&[], false);
    let base = format!("http://{}", s.addr);
    assert_eq!(curl_text(&[&format!("{base}/hello")]), "hello\n");
    let info = curl_text(&["-H", "X-Test: yes", &format!("{base}/info?q=a%20b+c&z=1")]);
    assert_eq!(field(&info, "method"), "GET");
    assert_eq!(field(&info, "path"), "/info");
    assert!(info.contains("q=a b c "), "{info}");
    assert_eq!(field(&info, "x-test"), "yes");
    assert_eq!(field(&info, "captured"), "captured");
    assert_eq!(field(&info, "served"), "1", "a fresh process per request");
    for m in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let info = curl_text(&["-X", m, &format!("{base}/info")]);
        assert_eq!(field(&info, "method"), m);
    }
    // HEAD: the head of the GET, no body.
    let head = curl_text(&["-I", &format!("{base}/hello")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 6"),
        "{head}"
    );
    assert_eq!(status(&format!("{base}/nowhere"), &[]), "404");
    // What the host answers itself starts no process: the pids of the requests around them
    // follow each other.
    let pid = |info: &str| field(info, "pid").parse::<u64>().unwrap();
    let before = pid(&curl_text(&[&format!("{base}/info")]));
    let raw = |bytes: &[u8]| {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(bytes).unwrap();
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        answer
    };
    assert!(raw(b"BAD REQUEST LINE\r\n\r\n").starts_with("HTTP/1.1 400"));
    let big_header = format!("x-big: {}", "b".repeat(80_000));
    assert_eq!(status(&format!("{base}/info"), &["-H", &big_header]), "431");
    let too_long = b"POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000000\r\n\r\n";
    assert!(raw(too_long).starts_with("HTTP/1.1 413"));
    let after = pid(&curl_text(&[&format!("{base}/info")]));
    assert_eq!(
        after,
        before + 1,
        "no process ran for the host's own answers"
    );
    // A JSON body in, JSON out.
    let json = curl_text(&[
        "-H",
        "content-type: application/json",
        "--data-binary",
        r#"{"name":"warren","n":[1,2]}"#,
        &format!("{base}/json"),
    ]);
    assert_eq!(json, r#"{"n":[1,2],"name":"warren","seen":true}"#);
}

#[test]
fn large_and_chunked_bodies_stream_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let big = pattern(24 << 20);
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, &big).unwrap();
    let grant = format!("{}:/data", dir.path().display());
    let s = server(&["--dir", &grant], false);
    let base = format!("http://{}", s.addr);
    let at = format!("@{}", upload.display());
    let expect = format!("len={} fnv={:016x}\n", big.len(), fnv(&big));
    // A declared length, then chunked (curl sends `Expect: 100-continue` for both: the
    // host answers it when the handler reads).
    assert_eq!(
        curl_text(&["--data-binary", &at, &format!("{base}/upload")]),
        expect
    );
    assert_eq!(
        curl_text(&[
            "-H",
            "transfer-encoding: chunked",
            "--data-binary",
            &at,
            &format!("{base}/upload")
        ]),
        expect
    );
    // Echo: the body comes back whole.
    let (code, echoed) = curl(&["--data-binary", &at, &format!("{base}/echo")]);
    assert_eq!(code, 0);
    assert!(echoed == big, "the echoed body differs");
    // The request body spliced back by the host as the response body, both at once.
    let (code, piped) = curl(&["--data-binary", &at, &format!("{base}/pipe")]);
    assert_eq!(code, 0);
    assert!(piped == big, "the spliced body differs");
    // A body the process writes (chunked, 10 MB) and a file the host sends itself.
    let (code, down) = curl(&[&format!("{base}/download?n={}", 10_000_123)]);
    assert_eq!(code, 0);
    assert!(down == pattern(10_000_123), "the written body differs");
    let (code, file) = curl(&[&format!("{base}/file?path=/data/upload.bin")]);
    assert_eq!(code, 0);
    assert!(file == big, "the file's body differs");
    let head = curl_text(&[
        "-s",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{base}/file?path=/data/upload.bin"),
    ]);
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {}", big.len())),
        "{head}"
    );
    // Server-sent events arrive as written.
    let events = curl_text(&["-N", &format!("{base}/sse")]);
    assert_eq!(
        events,
        "event: tick\ndata: n=1\n\nevent: tick\ndata: n=2\n\nevent: tick\ndata: n=3\n\n"
    );
}

#[test]
fn failures_are_answered_and_harm_nothing_else() {
    let s = server(
        &[
            "--http-max-body-bytes",
            "1M",
            "--http-request-timeout",
            "1s",
            "--http-max-header-bytes",
            "16K",
        ],
        false,
    );
    let base = format!("http://{}", s.addr);
    // A panicking handler: 500, and the next request is served.
    assert_eq!(status(&format!("{base}/panic"), &[]), "500");
    assert_eq!(curl_text(&[&format!("{base}/hello")]), "hello\n");
    // A process that ends without answering: 500.
    assert_eq!(status(&format!("{base}/silent"), &[]), "500");
    // An `Err` from the handler: 500 with its text.
    assert_eq!(status(&format!("{base}/noanswer"), &[]), "500");
    // A process that dies mid-body: the client sees a failed transfer, never a short body
    // passed off as whole.
    let (code, _) = curl(&[&format!("{base}/cut")]);
    assert_ne!(code, 0, "a cut-off body must fail the transfer");
    // A body over the limit, declared (413 before any process) or chunked (413 when the
    // handler's read passes the limit).
    let two_mb = vec![b'x'; 2 << 20];
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("2m");
    std::fs::write(&f, &two_mb).unwrap();
    let at = format!("@{}", f.display());
    assert_eq!(
        status(&format!("{base}/upload"), &["--data-binary", &at]),
        "413"
    );
    assert_eq!(
        status(
            &format!("{base}/upload"),
            &["-H", "transfer-encoding: chunked", "--data-binary", &at]
        ),
        "413"
    );
    // A handler slower than the request timeout: killed, 504.
    let t = Instant::now();
    assert_eq!(status(&format!("{base}/slow"), &[]), "504");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "answered after {:?}",
        t.elapsed()
    );
    // A handler that spins: preempted meanwhile (the server answers others), killed at the
    // timeout.
    let spin_url = format!("{base}/spin");
    let spinning = std::thread::spawn(move || status(&spin_url, &[]));
    assert_eq!(curl_text(&[&format!("{base}/hello")]), "hello\n");
    assert_eq!(spinning.join().unwrap(), "504");
    // A head over the limit: 431.
    let long = format!("x-long: {}", "a".repeat(20_000));
    assert_eq!(status(&format!("{base}/hello"), &["-H", &long]), "431");
    // A malformed request: 400 from the host.
    let mut raw = TcpStream::connect(&s.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    // And the server still serves.
    assert_eq!(curl_text(&[&format!("{base}/hello")]), "hello\n");
}

#[test]
fn keep_alive_and_pipelining_answer_in_order() {
    for per_connection in [false, true] {
        let s = server(&[], per_connection);
        let conn = TcpStream::connect(&s.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut w = conn.try_clone().unwrap();
        let mut r = BufReader::new(conn);
        // Three requests in one write (pipelined), then a fourth after the answers.
        let req = |q: u32| format!("GET /info?q={q} HTTP/1.1\r\nhost: x\r\n\r\n");
        w.write_all(format!("{}{}{}", req(1), req(2), req(3)).as_bytes())
            .unwrap();
        let mut pids = Vec::new();
        for q in 1..=3u32 {
            let (status, _, body) = read_response(&mut r);
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(field(&body, "q"), q.to_string(), "answers in request order");
            pids.push(field(&body, "pid").to_string());
            let served = field(&body, "served");
            if per_connection {
                assert_eq!(served, q.to_string(), "one process serves the connection");
            } else {
                assert_eq!(served, "1", "a fresh process per request");
            }
        }
        w.write_all(req(4).as_bytes()).unwrap();
        let (_, _, body) = read_response(&mut r);
        assert_eq!(field(&body, "q"), "4");
        pids.push(field(&body, "pid").to_string());
        pids.dedup();
        assert_eq!(pids.len(), if per_connection { 1 } else { 4 }, "{pids:?}");
        // A new connection gets a process of its own.
        let info = curl_text(&[&format!("http://{}/info", s.addr)]);
        assert_eq!(field(&info, "served"), "1");
    }
}

#[test]
fn a_crash_in_a_connection_process_closes_only_that_connection() {
    let s = server(&[], true);
    let conn = TcpStream::connect(&s.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    w.write_all(b"GET /panic HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let (status, headers, _) = read_response(&mut r);
    assert_eq!(status, "HTTP/1.1 500 Internal Server Error");
    assert!(
        headers.contains(&("connection".into(), "close".into())),
        "{headers:?}"
    );
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the connection closes after the 500");
    assert_eq!(curl_text(&[&format!("http://{}/hello", s.addr)]), "hello\n");
}

#[test]
fn slow_clients_and_the_connection_limit() {
    let s = server(
        &["--http-header-timeout", "1s", "--http-max-connections", "2"],
        false,
    );
    // A client that starts a head and stalls is cut off after the header timeout.
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\nhost:").unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    let _ = slow.read_to_end(&mut got);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "cut off after {:?}",
        t.elapsed()
    );
    let text = String::from_utf8_lossy(&got);
    assert!(
        got.is_empty() || text.starts_with("HTTP/1.1 408"),
        "a stalled head is cut off: {text:?}"
    );
    // Two connections held open fill the server: a third is answered 503 by the host.
    let mut held = Vec::new();
    for _ in 0..2 {
        let c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(c.try_clone().unwrap());
        (&c).write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let (status, _, _) = read_response(&mut r);
        assert_eq!(status, "HTTP/1.1 200 OK");
        held.push(c);
    }
    let third = status(&format!("http://{}/hello", s.addr), &[]);
    assert_eq!(third, "503");
    drop(held);
    // Once they close, the server takes connections again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if status(&format!("http://{}/hello", s.addr), &[]) == "200" {
            break;
        }
        assert!(Instant::now() < deadline, "the slots were not freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn websockets_echo_and_select_with_the_mailbox() {
    use tungstenite::Message;
    let s = server(&[], false);
    let (mut ws, response) =
        tungstenite::connect(format!("ws://{}/ws", s.addr)).expect("handshake");
    assert_eq!(response.status(), 101);
    // The handler's child sends it a message: it reaches the client through select.
    match ws.read().expect("tick") {
        Message::Text(t) => assert_eq!(t.as_str(), "tick"),
        other => panic!("expected the tick, got {other:?}"),
    }
    ws.send(Message::text("hi")).unwrap();
    match ws.read().unwrap() {
        Message::Text(t) => assert_eq!(t.as_str(), "echo: hi"),
        other => panic!("got {other:?}"),
    }
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    ws.send(Message::binary(big.clone())).unwrap();
    match ws.read().unwrap() {
        Message::Binary(b) => assert!(b[..] == big[..], "binary echo differs"),
        other => panic!("got {other:?}"),
    }
    ws.close(None).unwrap();
    // The close handshake completes: the server answers the close and the stream ends.
    loop {
        match ws.read() {
            Ok(Message::Close(_)) | Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("the close did not complete cleanly: {e}"),
        }
    }
    // A WebSocket moved into another process in a message: its first owner has ended.
    let (mut moved, _) =
        tungstenite::connect(format!("ws://{}/ws-moved", s.addr)).expect("handshake");
    std::thread::sleep(Duration::from_millis(200));
    moved.send(Message::text("x")).unwrap();
    match moved.read().unwrap() {
        Message::Text(t) => assert_eq!(t.as_str(), "moved: x"),
        other => panic!("got {other:?}"),
    }
    drop(moved);
    // A request that is not a handshake cannot be upgraded: the handler's error is a 500.
    assert_eq!(status(&format!("http://{}/ws", s.addr), &[]), "500");
}

#[test]
fn the_web_example_serves_its_api_page_websocket_and_events() {
    use tungstenite::Message;
    let s = Server::start("web", &[]);
    let base = format!("http://{}", s.addr);
    assert!(curl_text(&[&format!("{base}/")]).contains("<title>warren chat</title>"));
    let post = |body: &str| {
        curl_text(&[
            "-w",
            " %{http_code}",
            "-H",
            "content-type: application/json",
            "--data-binary",
            body,
            &format!("{base}/api/messages"),
        ])
    };
    assert_eq!(
        post(r#"{"from":" ann ","text":"hello"}"#),
        r#"{"from":"ann","text":"hello"} 201"#
    );
    assert!(post(r#"{"from":"ann"}"#).ends_with(" 400"));
    assert!(post(r#"{"from":"ann","text":"   "}"#).ends_with(" 422"));
    // Server-sent events, read by curl meanwhile.
    let events_url = format!("{base}/events");
    let events = std::thread::spawn(move || curl(&["-N", "--max-time", "4", &events_url]).1);
    let (mut ws, _) = tungstenite::connect(format!("ws://{}/ws", s.addr)).expect("handshake");
    std::thread::sleep(Duration::from_millis(500)); // both subscribed
    // A post through the API reaches the WebSocket; one sent on the socket is posted.
    assert!(post(r#"{"from":"bob","text":"via the API"}"#).ends_with(" 201"));
    let next_text = |ws: &mut tungstenite::WebSocket<_>| loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return t.as_str().to_string(),
            _ => continue,
        }
    };
    assert_eq!(next_text(&mut ws), r#"{"from":"bob","text":"via the API"}"#);
    ws.send(Message::text(r#"{"from":"cy","text":"via the socket"}"#))
        .unwrap();
    assert_eq!(
        next_text(&mut ws),
        r#"{"from":"cy","text":"via the socket"}"#
    );
    let history = curl_text(&[&format!("{base}/api/messages")]);
    assert_eq!(
        history,
        r#"[{"from":"ann","text":"hello"},{"from":"bob","text":"via the API"},{"from":"cy","text":"via the socket"}]"#
    );
    let events = String::from_utf8(events.join().unwrap()).unwrap();
    assert!(
        events.contains("event: post\ndata: {\"from\":\"bob\",\"text\":\"via the API\"}\n\n")
            && events.contains("data: {\"from\":\"cy\",\"text\":\"via the socket\"}"),
        "{events:?}"
    );
    ws.close(None).unwrap();
}

#[test]
fn a_websocket_flood_is_bounded_and_loses_nothing() {
    use tungstenite::Message;
    let s = server(&["--http-max-body-bytes", "1M"], false);
    let url = format!("ws://{}/ws-flood?limit={}", s.addr, 1 << 20);
    let (mut ws, _) = tungstenite::connect(url).expect("handshake");
    match ws.read().unwrap() {
        Message::Text(t) => {
            assert!(
                t.as_str().starts_with(
                    "refused: warren:http.ws_send: a message of 1048577 bytes is over the limit"
                ),
                "{t}"
            )
        }
        other => panic!("got {other:?}"),
    }
    // Not reading for a while: the handler waits (the host holds at most 1 MiB for it).
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..20u8 {
        match ws.read().unwrap() {
            Message::Binary(b) => {
                assert_eq!(b.len(), 256 * 1024);
                assert_eq!((b[0], b[1]), (i, 0xee), "message {i} in order");
            }
            other => panic!("message {i}: got {other:?}"),
        }
    }
    match ws.read() {
        Ok(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the handler's close, got {other:?}"),
    }
}

#[test]
fn a_process_holding_many_websockets_is_charged_what_the_host_holds_for_them() {
    use tungstenite::Message;
    // 24 clients each send one 4 MiB message to sockets one process holds and does not
    // read. Each socket alone may hold a message, but together they are charged to that
    // process: the host reads only the process's quota (--max-mailbox, 8 MiB) and TCP
    // pushes back on the rest.
    const SOCKETS: usize = 24;
    const MESSAGE: usize = 4 << 20;
    let s = server(
        &["--http-max-body-bytes", "4M", "--max-mailbox", "8M"],
        false,
    );
    let before = common::forge::rss_kib(s.pid());
    let (tx, rx) = std::sync::mpsc::channel();
    let clients: Vec<_> = (0..SOCKETS)
        .map(|i| {
            let url = format!("ws://{}/ws-hoard", s.addr);
            let tx = tx.clone();
            std::thread::spawn(move || {
                let (mut ws, _) = tungstenite::connect(url).expect("handshake");
                let message: Vec<u8> = pattern(MESSAGE).iter().map(|b| b ^ i as u8).collect();
                let expected = format!("got {} bytes, fnv {:x}", MESSAGE, fnv(&message));
                tx.send(()).unwrap();
                ws.send(Message::binary(message)).expect("send");
                match ws.read().expect("the hoard's answer") {
                    Message::Text(t) => assert_eq!(t.as_str(), expected, "client {i}"),
                    other => panic!("client {i}: got {other:?}"),
                }
            })
        })
        .collect();
    for _ in 0..SOCKETS {
        rx.recv().unwrap();
    }
    // Whatever the clients could push is on its way within moments; look at the server
    // for a while and keep the most it held.
    let mut peak = 0;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        peak = peak.max(common::forge::rss_kib(s.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let grown_mib = peak.saturating_sub(before) / 1024;
    // Uncharged, the host would read every socket's message: 96 MiB and more.
    assert!(
        grown_mib < 48,
        "the server grew by {grown_mib} MiB holding {SOCKETS} sockets' messages"
    );
    // Nothing is lost: once the process reads, every message arrives whole.
    assert_eq!(
        curl_text(&[&format!("http://{}/ws-hoard-drain", s.addr)]),
        "draining\n"
    );
    for c in clients {
        c.join().expect("a client failed");
    }
}

/// Open a WebSocket by hand on `addr` (the handshake only: the client then reads nothing,
/// answers no ping), asking again while the server answers 503 (a slot not yet freed).
fn raw_websocket(addr: &str) -> TcpStream {
    let t = Instant::now();
    loop {
        let c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        (&c).write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
        let mut head = [0u8; 12];
        (&c).read_exact(&mut head).unwrap();
        if &head == b"HTTP/1.1 101" {
            return c;
        }
        assert_eq!(&head, b"HTTP/1.1 503", "neither upgraded nor refused");
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no slot for a WebSocket"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Keep asking `/hello` until it answers 200 (the server freed a slot); how long it took.
fn until_served(addr: &str, limit: Duration) -> Duration {
    let t = Instant::now();
    while status(&format!("http://{addr}/hello"), &[]) != "200" {
        assert!(t.elapsed() < limit, "no slot was freed within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    t.elapsed()
}

#[test]
fn idle_sockets_take_no_process_and_handlers_leave_room_for_the_program() {
    let s = server(&["--max-processes", "30"], true);
    // 40 connections that send nothing: no process is started for them.
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        curl_text(&[&format!("http://{}/spawn", s.addr)]),
        "spawned: normal\n"
    );
    drop(idle);
    // 40 keep-alive connections that each made a request (so each holds its process): the
    // last tenth of the table stays the program's.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(c.try_clone().unwrap());
        (&c).write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let (status, _, body) = read_response(&mut r);
        if status == "HTTP/1.1 200 OK" {
            held.push(c);
        } else {
            assert!(status.starts_with("HTTP/1.1 503"), "{status}");
            assert!(body.contains("--max-processes"), "{body}");
            refused += 1;
        }
    }
    assert!(
        refused > 0 && held.len() < 30,
        "{} held, {refused} refused",
        held.len()
    );
    drop(held);
    until_served(&s.addr, Duration::from_secs(10));
}

#[test]
fn clients_that_do_not_read_or_go_quiet_give_their_slots_back() {
    let s = server(
        &[
            "--http-max-connections",
            "2",
            "--http-write-timeout",
            "1s",
            "--http-idle-timeout",
            "1s",
        ],
        false,
    );
    // Two clients ask for 200 MB and never read: the write timeout frees their slots.
    let hogs: Vec<TcpStream> = (0..2)
        .map(|_| {
            let c = TcpStream::connect(&s.addr).unwrap();
            (&c).write_all(b"GET /download?n=200000000 HTTP/1.1\r\nhost: x\r\n\r\n")
                .unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(&format!("http://{}/hello", s.addr), &[]), "503");
    until_served(&s.addr, Duration::from_secs(15));
    drop(hogs);
    // WebSockets hold their connection's slot: two of them fill the server...
    let sockets: Vec<TcpStream> = (0..2).map(|_| raw_websocket(&s.addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status(&format!("http://{}/hello", s.addr), &[]), "503");
    // ... until, silent and deaf to pings, they are closed.
    until_served(&s.addr, Duration::from_secs(15));
    drop(sockets);
    // An idle keep-alive connection is closed too (hyper times the wait for a next head).
    let c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    (&c).write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r).0, "HTTP/1.1 200 OK");
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(
        t.elapsed() < Duration::from_secs(25),
        "idle for {:?}",
        t.elapsed()
    );
}

#[test]
fn a_declared_body_that_never_comes_costs_the_handler_nothing() {
    let s = server(
        &["--max-memory", "16M", "--http-request-timeout", "2s"],
        false,
    );
    let c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    (&c).write_all(b"POST /declared HTTP/1.1\r\nhost: x\r\ncontent-length: 60000000\r\n\r\n")
        .unwrap();
    // Not a 500 from a handler ended at its memory limit: it waits for the body, and the
    // host answers 504 at the request timeout.
    let (status, _, body) = read_response(&mut r);
    assert!(status.starts_with("HTTP/1.1 504"), "{status} {body}");
}
