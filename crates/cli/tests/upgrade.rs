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
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// `warren run --wait --observe 127.0.0.1:0 FLAGS APP`, its observer's address and the
/// lines of its stderr.
struct Running {
    child: Child,
    addr: String,
    lines: Receiver<String>,
}

impl Running {
    fn start(flags: &[&str], app: &Path) -> Running {
        let mut child = warren()
            .args(["run", "--wait", "--observe", "127.0.0.1:0"])
            .args(flags)
            .arg(app)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting warren");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut running = Running {
            child,
            addr: String::new(),
            lines,
        };
        let line = running.line_with("observer at http://");
        let rest = line.split("observer at http://").nth(1).unwrap_or_default();
        running.addr = rest.split('/').next().unwrap_or_default().to_string();
        running
    }

    /// The next line of stderr that contains `needle`.
    fn line_with(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("no line with {needle:?} on warren's stderr"));
            if line.contains(needle) {
                return line;
            }
        }
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
        let mut s = TcpStream::connect(&self.addr).expect("connecting to the observer");
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("the observer's answer");
        let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {raw}"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.wasm");
    install(&v1, &app);
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
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.wasm");
    install(&v1, &app);
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
