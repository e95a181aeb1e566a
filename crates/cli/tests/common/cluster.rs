//! A real NATS server (with JetStream) on a free port, configured with a user per node as
//! docs/distribution.md advises, and `warren run --cluster` nodes on it holding the
//! cluster's secret, for the cluster tests. Both are stopped when dropped.

use super::{guest, warren};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The node names the test server has users for (each may publish only under its own
/// name), besides `outsider` (an application's client: `app.>` only) and `intruder`, who
/// may publish and subscribe to anything: a client of the server without the cluster's
/// secret, with the widest rights a misconfigured server (or a leaked credential) gives.
pub const NODES: &[&str] = &["a", "b", "c", "d", "odd", "bare", "x"];

/// The server configuration docs/distribution.md describes: a user per node, allowed to
/// publish frames, beats and deploy reports only under its own name and to write only its
/// own entry of the node bucket; `deployer`, who may write the deploy record and modules
/// and hear beats and reports (`warren deploy`); `intruder` as above.
pub fn server_config(port: u16, monitor: u16, store: &Path) -> String {
    let mut users = String::new();
    for n in NODES {
        let hex: String = n.bytes().map(|b| format!("{b:02x}")).collect();
        users.push_str(&format!(
            r#"    {{ user: "{n}", password: "pw-{n}", permissions: {{
        publish: {{ allow: ["warren.node.*.{n}", "warren.beat.{n}", "warren.deployed.{n}",
                           "$KV.warren_nodes.n{hex}",
                           "$KV.warren_names.>", "$O.warren_modules.>", "$JS.API.>",
                           "$JS.FC.>", "$JS.ACK.>", "_INBOX.>"] }}
        subscribe: {{ allow: ["warren.node.*.*", "warren.beat.*", "_INBOX.>"] }} }} }}
"#
        ));
    }
    format!(
        r#"listen: "127.0.0.1:{port}"
http: "127.0.0.1:{monitor}"
jetstream {{ store_dir: "{}" }}
authorization {{
  users = [
{users}    {{ user: "deployer", password: "pw-deployer", permissions: {{
        publish: {{ allow: ["$KV.warren_deploy.deploy", "$O.warren_modules.>", "$JS.API.>",
                           "$JS.FC.>", "$JS.ACK.>", "_INBOX.>"] }}
        subscribe: {{ allow: ["warren.beat.*", "warren.deployed.*", "_INBOX.>"] }} }} }}
    {{ user: "outsider", password: "pw-outsider", permissions: {{
        publish: {{ allow: ["app.>"] }}, subscribe: {{ allow: ["app.>", "_INBOX.>"] }} }} }}
    {{ user: "intruder", password: "pw-intruder" }}
  ]
}}
"#,
        store.display()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `nats-server -js` on a free loopback port, configured as [`server_config`] says, with
/// its store in a temp dir; and the cluster's secret, in a file there.
pub struct Nats {
    child: Child,
    pub port: u16,
    /// The server's monitoring port (`/jsz` and friends).
    pub monitor: u16,
    /// The cluster's secret (mode 600).
    pub secret: std::path::PathBuf,
    store: tempfile::TempDir,
}

impl Nats {
    pub fn start() -> Nats {
        let store = tempfile::tempdir().expect("temp dir");
        let (port, monitor) = (free_port(), free_port());
        let config = store.path().join("nats.conf");
        std::fs::write(
            &config,
            server_config(port, monitor, &store.path().join("js")),
        )
        .expect("writing the server's configuration");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&config)
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
        let secret = store.path().join("cluster.secret");
        let made = warren()
            .arg("cluster-secret")
            .arg(&secret)
            .output()
            .expect("warren cluster-secret");
        assert!(made.status.success(), "{made:?}");
        Nats {
            child,
            port,
            monitor,
            secret,
            store,
        }
    }

    /// The URL node `name` connects with (its own user).
    pub fn url_for(&self, name: &str) -> String {
        assert!(
            NODES.contains(&name),
            "the test server has no user {name:?}"
        );
        format!("nats://{name}:pw-{name}@127.0.0.1:{}", self.port)
    }

    /// The URL `warren deploy` connects with (the deployer's user).
    pub fn deployer_url(&self) -> String {
        format!("nats://deployer:pw-deployer@127.0.0.1:{}", self.port)
    }

    /// The address a raw client connects to, and the intruder's CONNECT credentials.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A temp dir that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.store.path()
    }

    /// `warren run --cluster URL --node NAME --cluster-secret FILE` (the rest is the
    /// caller's).
    pub fn warren_node(&self, name: &str) -> Command {
        let mut cmd = warren();
        cmd.args(["run", "--cluster", &self.url_for(name), "--node", name])
            .arg("--cluster-secret")
            .arg(&self.secret);
        cmd
    }

    /// A node serving the cluster (`--serve`) with `wasm`, or with the module of the first
    /// spawn order it gets (`None`).
    pub fn serve(&self, name: &str, wasm: Option<&Path>) -> Node {
        let child = self
            .warren_node(name)
            .arg("--serve")
            .args(wasm)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting a warren node");
        Node { child }
    }

    /// `warren run --cluster URL --node NAME ... test_guest.wasm SCENARIO`.
    pub fn node_command(&self, name: &str, scenario: &str) -> Command {
        let mut cmd = self.warren_node(name);
        cmd.arg(guest("test_guest")).arg(scenario);
        cmd
    }
}

impl Nats {
    /// A slow link to the server: a loopback TCP proxy that passes what a client sends at
    /// most `rate` bytes a second (and what the server sends at full speed). The URL node
    /// `name` connects through it with.
    pub fn slow_link(&self, name: &str, rate: usize) -> String {
        use std::io::{Read, Write};
        let server = self.addr();
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
        format!("nats://{name}:pw-{name}@127.0.0.1:{port}")
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

impl From<Child> for Node {
    fn from(child: Child) -> Node {
        Node { child }
    }
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
