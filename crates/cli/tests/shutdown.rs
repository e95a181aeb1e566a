//! Graceful shutdown of `warren run` (README, "Stopping"): the first SIGTERM or SIGINT
//! drains HTTP servers, then asks every process to stop with the exit signal `shutdown`
//! (supervisors stop their children in order, each within its shutdown time), and kills
//! what is left at `--shutdown-timeout`; a second signal stops at once. The guests are
//! `test_guest http_server` (tests/guest/src/http.rs) and the `shutdown_*` scenarios
//! (tests/guest/src/shutdown.rs).

mod common;
use common::{Server, guest, read_response};
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn http_server(flags: &[&str]) -> Server {
    Server::launch_with(flags, &guest("test_guest"), &["http_server"]).0
}

/// Wait until the server refuses connections (its drain has begun).
fn wait_refused(addr: &str) {
    for _ in 0..1000 {
        match TcpStream::connect(addr) {
            Err(_) => return,
            Ok(c) => drop(c),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{addr} still accepts connections 10 s after SIGTERM");
}

#[test]
fn sigterm_answers_every_request_in_flight_refuses_new_connections_and_exits_0() {
    let mut s = http_server(&["--shutdown-timeout", "60s"]);
    let url = format!("http://{}/linger?ms=1500", s.addr);
    let curls: Vec<_> = (0..6)
        .map(|_| {
            Command::new("curl")
                .args(["-sS", "--max-time", "60", &url])
                .stdout(Stdio::piped())
                .spawn()
                .expect("running curl")
        })
        .collect();
    // A raw keep-alive connection with a request in flight, and one idle after its first.
    let mut busy = s.connect();
    busy.write_all(b"GET /linger?ms=1500 HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut idle = BufReader::new(s.connect());
    idle.get_mut()
        .write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let (status, _, body) = read_response(&mut idle);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "hello\n")
    );
    for _ in 0..7 {
        s.wait_for_line("linger begun");
    }

    s.signal("TERM");

    for curl in curls {
        let out = curl.wait_with_output().unwrap();
        assert!(out.status.success(), "a request in flight failed: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "lingered 1500 ms\n");
    }
    // The request in flight on the keep-alive connection is answered, and told that the
    // connection closes; then it does.
    let mut busy = BufReader::new(busy);
    let (status, headers, body) = read_response(&mut busy);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "lingered 1500 ms\n");
    assert!(
        headers
            .iter()
            .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close")),
        "{headers:?}"
    );
    let mut rest = Vec::new();
    assert_eq!(busy.read_to_end(&mut rest).unwrap(), 0, "closed after it");
    // The idle keep-alive connection was closed without an answer to anything.
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap_or(0), 0);
    // New connections are refused.
    assert!(
        TcpStream::connect(&s.addr).is_err(),
        "a draining server accepted a connection"
    );

    let (code, _) = s.wait_end(Duration::from_secs(60));
    assert_eq!(code, Some(0), "a clean graceful shutdown exits 0");
}

#[test]
fn a_second_signal_stops_at_once_with_128_plus_the_signal() {
    let mut s = http_server(&["--shutdown-timeout", "120s"]);
    let url = format!("http://{}/linger?ms=60000", s.addr);
    let curl = Command::new("curl")
        // -f: the killed handler's request may still get the host's 500 before the exit.
        .args(["-sSf", "--max-time", "120", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running curl");
    s.wait_for_line("linger begun");
    s.signal("TERM");
    // The drain has begun (it would wait a minute for the request in flight)...
    wait_refused(&s.addr);
    // ... and a second signal ends it now.
    s.signal("INT");
    let (code, _) = s.wait_end(Duration::from_secs(60));
    assert_eq!(code, Some(130), "stopped by the second signal, SIGINT");
    let out = curl.wait_with_output().unwrap();
    assert!(!out.status.success(), "the request cut by the forced stop");
}

/// The first line among `lines` that starts with `name ` and contains `what`, and the
/// millisecond clock it ends with.
fn event(lines: &[String], name: &str, what: &str) -> (usize, u128) {
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("{name} ")) && l.contains(what))
        .unwrap_or_else(|| panic!("no `{name} {what}` in {lines:#?}"));
    let ms = lines[at]
        .rsplit(' ')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no clock in {:?}", lines[at]));
    (at, ms)
}

#[test]
fn sigterm_stops_a_supervision_tree_last_started_first_each_child_within_its_time() {
    let (mut s, before) = Server::launch_until(
        &["--shutdown-timeout", "60s"],
        &guest("test_guest"),
        &["shutdown_tree"],
        "tree up",
    );
    // Every child runs: a, x, y, stubborn, c (they print `up` from their own processes, in
    // any order, before or after the main process's `tree up`).
    let mut up: Vec<String> = before.into_iter().filter(|l| l.ends_with(" up")).collect();
    while up.len() < 5 {
        let line = s.wait_for_line(" up");
        up.push(line.trim_end().to_string());
    }
    s.signal("TERM");
    let (code, lines) = s.wait_end(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{lines:#?}");
    // Outer's children are [a, inner [x, y], stubborn (300 ms), c]: they stop c, stubborn,
    // then inner (which stops y, then x), then a.
    let c = event(&lines, "c", "stopping");
    let stubborn = event(&lines, "stubborn", "ignores shutdown");
    let y = event(&lines, "y", "stopping");
    let x = event(&lines, "x", "stopping");
    let a = event(&lines, "a", "stopping");
    let order = [c.0, stubborn.0, y.0, x.0, a.0];
    assert!(order.is_sorted(), "stop order {order:?} in {lines:#?}");
    // The stubborn child was given its 300 ms before it was killed and y was asked.
    assert!(
        y.1 >= stubborn.1 + 250,
        "y stopped {} ms after stubborn was asked",
        y.1 - stubborn.1
    );
}

#[test]
fn a_process_that_ignores_shutdown_is_killed_at_the_timeout_and_the_status_says_so() {
    let (mut s, _) = Server::launch_until(
        &["--shutdown-timeout", "500ms"],
        &guest("test_guest"),
        &["shutdown_ignored"],
        "ignoring up",
    );
    s.signal("TERM");
    let (code, lines) = s.wait_end(Duration::from_secs(60));
    assert_eq!(code, Some(124), "the deadline had to kill: {lines:?}");
    assert!(
        lines.iter().any(|l| l == "main ignores shutdown"),
        "{lines:?}"
    );
}
