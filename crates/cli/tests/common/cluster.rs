//! A real NATS server (with JetStream) on a free port, and `warren run --cluster` nodes on
//! it, for the cluster tests. Both are stopped when dropped.

use super::{guest, warren};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server -js` on a free loopback port, with its store in a temp dir.
pub struct Nats {
    child: Child,
    pub url: String,
    _store: tempfile::TempDir,
}

impl Nats {
    pub fn start() -> Nats {
        let store = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server (Debian package nats-server; scripts/test installs it)");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Nats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        }
    }

    /// A node serving the cluster (`--serve`) with `wasm`, or with the module of the first
    /// spawn order it gets (`None`).
    pub fn serve(&self, name: &str, wasm: Option<&Path>) -> Node {
        let child = warren()
            .args(["run", "--cluster", &self.url, "--node", name, "--serve"])
            .args(wasm)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting a warren node");
        Node { child }
    }

    /// `warren run --cluster URL --node NAME test_guest.wasm SCENARIO`.
    pub fn node_command(&self, name: &str, scenario: &str) -> Command {
        let mut cmd = warren();
        cmd.args(["run", "--cluster", &self.url, "--node", name])
            .arg(guest("test_guest"))
            .arg(scenario);
        cmd
    }
}

impl Nats {
    /// A slow link to the server: a loopback TCP proxy that passes what a client sends at
    /// most `rate` bytes a second (and what the server sends at full speed). Its URL.
    pub fn slow_link(&self, rate: usize) -> String {
        use std::io::{Read, Write};
        let server = self.url.trim_start_matches("nats://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a proxy port");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut upstream) = std::net::TcpStream::connect(&server) else {
                    return;
                };
                let (Ok(mut down), Ok(mut client_w)) = (upstream.try_clone(), client.try_clone())
                else {
                    return;
                };
                std::thread::spawn(move || std::io::copy(&mut down, &mut client_w));
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 << 10];
                    while let Ok(n @ 1..) = client.read(&mut buf) {
                        if upstream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
                    }
                    let _ = upstream.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        format!("nats://127.0.0.1:{port}")
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A serving warren node, killed (SIGKILL) when dropped.
pub struct Node {
    child: Child,
}

impl Node {
    /// Kill the whole node at once, as `kill -9` does.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop it with SIGTERM (it leaves the cluster cleanly) and wait for its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if start.elapsed() > Duration::from_secs(20) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_9();
    }
}
