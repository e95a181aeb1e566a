//! Helpers shared by the integration tests: build the guest programs once per test binary,
//! run the real `warren` binary with a time limit.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub mod cluster;
pub mod forge;

#[path = "../../../../tests/support/guests.rs"]
mod guests;
#[allow(unused_imports)]
pub use guests::{guest, guest_with_features, repo_root};

pub fn warren() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warren"));
    // Tests share the compiled-module cache of the machine's user, like real runs do.
    cmd.env_remove("WARREN_LOG").env_remove("RUST_LOG");
    cmd
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code; {self:#?}");
        self
    }

    pub fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}; {self:#?}"
        );
        self
    }

    pub fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}; {self:#?}"
        );
        self
    }

    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The first line of stdout starting with `prefix`; fails the test (showing the run)
    /// if there is none.
    #[allow(dead_code)] // not every test binary uses every helper
    pub fn line(&self, prefix: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}; {self:#?}"))
    }
}

/// Run a command to its end, killing it if it takes longer than `limit` (a hung runtime
/// must fail the test, not hang the suite).
pub fn run_with_limit(cmd: &mut Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting warren");
    // Read both pipes while it runs: a pipe nobody reads fills and stalls the writer.
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = collect(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = collect(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for warren") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "warren did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// `warren run [flags] GUEST args...` with a two-minute limit.
pub fn run_guest(flags: &[&str], guest_name: &str, args: &[&str]) -> Run {
    let mut cmd = warren();
    cmd.arg("run").args(flags).arg(guest(guest_name)).args(args);
    run_with_limit(&mut cmd, Duration::from_secs(120))
}

/// Run a `warren::tests!` guest (tests/semantics, tests/resources) under `warren run` with
/// these flags: every test it lists (`--list`) must pass. Returns the run.
pub fn all_tests_pass(flags: &[&str], guest_name: &str) -> Run {
    let list = run_guest(&[], guest_name, &["--", "--list"]);
    list.assert_code(0);
    let count = list
        .stdout
        .lines()
        .filter(|l| l.ends_with(": test"))
        .count();
    assert!(count > 0, "{guest_name} lists no tests: {list:#?}");
    let expected = format!("test result: ok. {count} passed; 0 failed");
    let mut cmd = warren();
    cmd.arg("run").args(flags).arg(guest(guest_name));
    let run = run_with_limit(&mut cmd, Duration::from_secs(300));
    assert!(
        run.stdout.contains(&expected),
        "{guest_name}: expected {expected:?}\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run.assert_code(0);
    run
}

/// `warren run [flags] FILE args...`.
pub fn run_file(flags: &[&str], file: &Path, args: &[&str]) -> Run {
    let mut cmd = warren();
    cmd.arg("run").args(flags).arg(file).args(args);
    run_with_limit(&mut cmd, Duration::from_secs(120))
}

/// A `warren run` server, killed when dropped.
pub struct Server {
    child: std::process::Child,
    pub addr: String,
    stdout: Option<std::io::BufReader<std::process::ChildStdout>>,
}

impl Server {
    /// The server's OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Start an example server on a free port (port 0); its first line names the address.
    pub fn start(example: &str, extra: &[&str]) -> Server {
        let mut args = vec!["127.0.0.1:0"];
        args.extend_from_slice(extra);
        let (server, before) = Server::launch(&guest(example), &args);
        assert!(before.is_empty(), "{example} printed {before:?} first");
        server
    }

    /// Run `wasm` with `args` until it prints a line `... listening on ADDR`; the server and
    /// the lines it printed before that one.
    pub fn launch(wasm: &Path, args: &[&str]) -> (Server, Vec<String>) {
        Server::launch_with(&[], wasm, args)
    }

    /// [`Server::launch`] with `warren run` flags before the program.
    pub fn launch_with(flags: &[&str], wasm: &Path, args: &[&str]) -> (Server, Vec<String>) {
        Server::launch_until(flags, wasm, args, "listening on ")
    }

    /// Run `wasm` with `flags` and `args` until it prints a line containing `needle`; the
    /// server (its address: what follows `listening on ` in that line, if anything) and the
    /// lines it printed before.
    pub fn launch_until(
        flags: &[&str],
        wasm: &Path,
        args: &[&str],
        needle: &str,
    ) -> (Server, Vec<String>) {
        use std::io::BufRead;
        let mut child = warren()
            .arg("run")
            .args(flags)
            .arg(wasm)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting warren");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut before = Vec::new();
        let addr = loop {
            let mut line = String::new();
            let n = stdout
                .read_line(&mut line)
                .expect("reading the server's output");
            assert!(
                n > 0,
                "the server ended before printing {needle:?}; it printed {before:?}"
            );
            if line.contains(needle) {
                break line
                    .split("listening on ")
                    .nth(1)
                    .unwrap_or_default()
                    .split([' ', ',', '\n'])
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            before.push(line.trim_end().to_string());
        };
        (
            Server {
                child,
                addr,
                stdout: Some(stdout),
            },
            before,
        )
    }

    pub fn connect(&self) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(&self.addr).expect("connecting to the server");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    /// Wait for a stdout line containing `needle`.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .stdout
                .as_mut()
                .expect("stdout is read until the end")
                .read_line(&mut line)
                .expect("reading stdout");
            assert!(n > 0, "the server ended before printing {needle:?}");
            if line.contains(needle) {
                return line;
            }
        }
    }
}

impl Server {
    /// Send the server's OS process `signal` (as `kill` names it: TERM, INT).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("running kill")
            .success();
        assert!(ok, "kill -{signal} {} failed", self.pid());
    }

    /// Wait for the server to end (killing it after `limit`: a hang is a failure); its exit
    /// status and the lines it printed since the last one read.
    pub fn wait_end(&mut self, limit: Duration) -> (Option<i32>, Vec<String>) {
        use std::io::BufRead;
        let stdout = self
            .stdout
            .take()
            .expect("stdout is read until the end once");
        let reader = std::thread::spawn(move || {
            stdout
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for warren") {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("warren did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), reader.join().expect("reading stdout"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read one response (head and content-length body) from a raw connection.
pub fn read_response(
    r: &mut std::io::BufReader<std::net::TcpStream>,
) -> (String, Vec<(String, String)>, String) {
    let mut status = String::new();
    std::io::BufRead::read_line(r, &mut status).expect("status line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        std::io::BufRead::read_line(r, &mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(": ").expect("a header");
        headers.push((n.to_ascii_lowercase(), v.to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    std::io::Read::read_exact(r, &mut body).expect("body");
    (
        status.trim_end().to_string(),
        headers,
        String::from_utf8(body).unwrap(),
    )
}
