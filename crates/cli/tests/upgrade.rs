//! Hot code upgrade from the CLI (docs/upgrade.md): `warren run` loads its program's file
//! again on SIGHUP and, with `--watch`, when the file changes; a file that does not load is
//! reported and the running version stays. The versions are real builds of `tests/upgrade`
//! (features `v2`, `v3`); what each version's processes do is tested in
//! crates/runtime/tests/upgrade_builds.rs. Here the observer's JSON says which version is
//! current and how many processes run each.

mod common;
use common::{guest_with_features, warren};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// `warren run --wait --observe 127.0.0.1:0 FLAGS APP ARGS`, its observer's address and the
/// lines of its stderr and stdout.
struct Running {
    child: Child,
    addr: String,
    lines: Receiver<String>,
    out: Receiver<String>,
    /// The line that says where the observer is.
    observer: String,
}

/// The lines `from` gives, on a channel.
fn lines_of(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    lines
}

/// The next of `lines` that contains `needle`.
fn next_with(lines: &Receiver<String>, needle: &str, what: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no line with {needle:?} on warren's {what}"));
        if line.contains(needle) {
            return line;
        }
    }
}

impl Running {
    fn start(flags: &[&str], app: &Path) -> Running {
        Running::start_with(flags, app, &[])
    }

    fn start_with(flags: &[&str], app: &Path, args: &[&str]) -> Running {
        let mut child = warren()
            .args(["run", "--wait", "--observe", "127.0.0.1:0"])
            .args(flags)
            .arg(app)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting warren");
        let lines = lines_of(child.stderr.take().expect("stderr"));
        let out = lines_of(child.stdout.take().expect("stdout"));
        let mut running = Running {
            child,
            addr: String::new(),
            lines,
            out,
            observer: String::new(),
        };
        let line = running.line_with("observer at http://");
        let rest = line.split("observer at http://").nth(1).unwrap_or_default();
        running.addr = rest.split('/').next().unwrap_or_default().to_string();
        running.observer = line;
        running
    }

    /// The next line of stderr that contains `needle`.
    fn line_with(&self, needle: &str) -> String {
        next_with(&self.lines, needle, "stderr")
    }

    /// Wait until main has started its processes (five servers, a supervisor and its
    /// worker) and ended: seven on version 1.
    fn until_started(&self) {
        self.until_versions(&[(1, true, 7)]);
    }

    /// Wait until the held versions are `want`.
    fn until_versions(&self, want: &[(u64, bool, u64)]) {
        let deadline = std::time::Instant::now() + WAIT;
        while self.versions() != want {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                self.versions()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// The held versions: (number, current, processes), current first.
    fn versions(&self) -> Vec<(u64, bool, u64)> {
        let summary = self.json("/api/summary");
        summary["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| {
                (
                    v["version"].as_u64().unwrap_or(0),
                    v["current"].as_bool().unwrap_or(false),
                    v["processes"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    fn json(&self, path: &str) -> Value {
        let (status, answer) = request(&self.addr, "GET", path, &[], b"");
        assert_eq!(status, 200, "GET {path}: {answer}");
        answer
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temp dir holding `app.wasm`, a copy of `first` (the program `warren run` is given).
fn program(first: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.wasm");
    install(first, &app);
    (dir, app)
}

/// Replace `app` with `version`'s bytes, as a build writing its output does.
fn install(version: &Path, app: &Path) {
    let bytes = std::fs::read(version).unwrap();
    std::fs::write(app, bytes).unwrap();
}

#[test]
fn sighup_loads_the_program_again_and_a_file_that_does_not_load_changes_nothing() {
    let (v1, v2) = (
        guest_with_features("upgrade_guest", ""),
        guest_with_features("upgrade_guest", "v2"),
    );
    let (_dir, app) = program(&v1);
    let w = Running::start(&[], &app);
    w.until_started();

    install(&v2, &app);
    w.signal("HUP");
    let line = w.line_with("SIGHUP");
    assert!(line.contains("version 2 ("), "{line}");
    assert!(line.contains("is current; version 1 is old"), "{line}");
    // The processes still run version 1's code (none has woken since) but the supervisor,
    // which moves on its own.
    w.until_versions(&[(2, true, 1), (1, false, 6)]);

    std::fs::write(&app, b"not a module").unwrap();
    w.signal("HUP");
    let line = w.line_with("SIGHUP");
    assert!(line.contains("the new version was not loaded"), "{line}");
    assert!(line.contains("not a WebAssembly module"), "{line}");
    assert!(line.contains("version 2 keeps running"), "{line}");
    assert_eq!(w.versions(), [(2, true, 1), (1, false, 6)]);

    // The same file again changes nothing.
    install(&v2, &app);
    w.signal("HUP");
    let line = w.line_with("SIGHUP");
    assert!(line.contains("unchanged: version 2"), "{line}");
}

#[test]
fn watch_loads_each_new_build_and_the_third_purges_the_first() {
    let (v1, v2, v3) = (
        guest_with_features("upgrade_guest", ""),
        guest_with_features("upgrade_guest", "v2"),
        guest_with_features("upgrade_guest", "v3"),
    );
    let (_dir, app) = program(&v1);
    let w = Running::start(&["--watch"], &app);
    w.until_started();

    install(&v2, &app);
    let line = w.line_with("--watch");
    assert!(line.contains("version 2 ("), "{line}");
    // The supervisor moves to version 2 on its own; the other processes stay.
    w.until_versions(&[(2, true, 1), (1, false, 6)]);
    install(&v3, &app);
    let line = w.line_with("--watch");
    assert!(line.contains("version 3 ("), "{line}");
    // Version 1's six processes never reached an upgrade point: purged. The supervisor
    // restarts its worker, on version 3, where it moved to do so.
    assert!(
        line.ends_with("version 1 was purged (6 processes ended)"),
        "{line}"
    );
    w.until_versions(&[(3, true, 2), (2, false, 0)]);
}

/// One request to the observer at `addr` on a fresh connection: (status, JSON answer).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).expect("connecting to the observer");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("the observer's answer");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let answer = raw.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json =
        serde_json::from_str(answer).unwrap_or_else(|e| panic!("{method} {path}: {e}: {raw}"));
    (status, json)
}

/// POST `body` to the observer at `addr`, `path`, with `headers`: (status, JSON answer).
fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Value) {
    request(addr, "POST", path, headers, body)
}

#[test]
fn the_observer_loads_a_version_only_when_allowed_and_with_the_token() {
    let (v1, v2) = (
        guest_with_features("upgrade_guest", ""),
        guest_with_features("upgrade_guest", "v2"),
    );
    let (_dir, app) = program(&v1);
    let module = std::fs::read(&v2).unwrap();
    let header = ("x-warren-observer", "upgrade");

    // Off unless asked for.
    let off = Running::start(&[], &app);
    off.until_started();
    // (A refusal is answered without reading the body: refused requests send a short one.)
    let (status, answer) = post(&off.addr, "/api/upgrade", &[header], b"\0asm");
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("--observe-allow-upgrade")
    );
    assert_eq!(off.versions(), [(1, true, 7)]);
    drop(off);

    let w = Running::start(&["--observe-allow-upgrade"], &app);
    w.until_started();
    assert_eq!(w.json("/api/summary")["allow_upgrade"], true);
    // The token is printed at start, even on loopback: a load runs new code.
    let line = &w.observer;
    let token = line
        .split("#token=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token in {line:?}"))
        .to_string();
    let with_token = ("x-warren-observer-token", token.as_str());

    let (status, answer) = post(&w.addr, "/api/upgrade", &[header], b"\0asm");
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("token"),
        "{answer}"
    );
    let (status, answer) = post(&w.addr, "/api/upgrade", &[with_token], b"\0asm");
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("x-warren-observer: upgrade")
    );
    let (status, answer) = post(
        &w.addr,
        "/api/upgrade",
        &[header, with_token, ("Origin", "http://evil.example")],
        b"\0asm",
    );
    assert_eq!(status, 403, "{answer}");
    assert_eq!(w.versions(), [(1, true, 7)]);

    // A module that does not load: 422 with why; version 1 keeps running.
    let (status, answer) = post(
        &w.addr,
        "/api/upgrade",
        &[header, with_token],
        b"\0asm nope",
    );
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("was not loaded"),
        "{answer}"
    );
    assert_eq!(w.versions(), [(1, true, 7)]);

    let (status, answer) = post(&w.addr, "/api/upgrade", &[header, with_token], &module);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], 2);
    assert_eq!(answer["previous"], 1);
    assert!(
        answer["text"].as_str().unwrap().contains("version 2 ("),
        "{answer}"
    );
    w.until_versions(&[(2, true, 1), (1, false, 6)]);
}

/// The body curl gets from `url`.
fn get(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", url])
        .output()
        .expect("running curl (Debian package curl)");
    assert!(out.status.success(), "curl {url}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_http_server_upgraded_under_wrk_fails_no_request_and_answers_with_the_new_code() {
    let (v1, v2) = (
        guest_with_features("upgrade_guest", ""),
        guest_with_features("upgrade_guest", "v2"),
    );
    let (_dir, app) = program(&v1);
    let w = Running::start_with(&[], &app, &["web"]);
    let line = next_with(&w.out, "listening on ", "stdout");
    let url = format!(
        "http://{}/",
        line.split("listening on ").nth(1).unwrap_or_default()
    );
    assert_eq!(get(&url), "version 1\n");

    // Continuous load: wrk's connections are kept alive, each request a process.
    let mut wrk = Command::new("wrk")
        .args(["-t", "2", "-c", "16", "-d", "120s", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running wrk (Debian package wrk)");
    let spawned = || w.json("/api/summary")["spawned"].as_u64().unwrap_or(0);
    let until_spawned = |n: u64| {
        let deadline = std::time::Instant::now() + WAIT;
        while spawned() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "{} spawned",
                spawned()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    until_spawned(2000);

    install(&v2, &app);
    w.signal("HUP");
    let line = w.line_with("SIGHUP");
    assert!(line.contains("version 2 ("), "{line}");
    // The next request runs version 2's handler (the server process stays on version 1).
    assert_eq!(get(&url), "version 2\n");
    until_spawned(spawned() + 2000);
    assert!(
        wrk.try_wait().unwrap().is_none(),
        "wrk ended before the upgrade was over"
    );
    // Stopped with SIGINT, wrk prints what it saw.
    let status = Command::new("kill")
        .args(["-INT", &wrk.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = wrk.wait_with_output().expect("wrk's report");
    let report = String::from_utf8_lossy(&out.stdout);
    let requests: u64 = report
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("wrk's report: {report}"));
    assert!(requests >= 4000, "{report}");
    // Every request answered 200, on a connection that stayed up.
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");

    // A third version purges the first: the process that serves hibernates at a named
    // point (`Running::hibernate`), so it moved and the server serves on.
    let v3 = guest_with_features("upgrade_guest", "v3");
    install(&v3, &app);
    w.signal("HUP");
    let line = w.line_with("SIGHUP");
    assert!(line.contains("version 3 ("), "{line}");
    assert!(
        line.contains("version 1 was purged (0 processes ended)"),
        "{line}"
    );
    assert_eq!(get(&url), "version 3\n");
}
