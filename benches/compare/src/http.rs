//! `compare http`: a "hello" endpoint under `wrk`, warren (a process per request, and a
//! process per connection) side by side with the same endpoint on native hyper, at 50 and
//! 500 connections: requests/s and the 99th-percentile latency; then the same over TLS,
//! against native hyper behind rustls.
//!
//! ```text
//! compare http [--reps R] [--seconds S] [--no-write]
//! ```
//!
//! Each measurement starts the server fresh (`compare-tokio http_hello`, `warren run
//! compare-guest.wasm http_hello [per_connection]`), warms it up for a second, runs
//! `wrk -t2 -cC -dSs --latency`, and reads wrk's `Requests/sec` and `99%` lines; systems
//! alternate within each repetition. The table goes into docs/benchmarks.md between
//! `http:begin` and `http:end`.

use crate::report::median;
use crate::systems::{Paths, Server};
use anyhow::{Context, bail};
use std::process::Command;

struct Options {
    reps: usize,
    seconds: u64,
    write: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum System {
    Hyper,
    PerRequest,
    PerConnection,
    HyperTls,
    PerRequestTls,
    PerConnectionTls,
}

impl System {
    const ALL: [System; 6] = [
        System::Hyper,
        System::PerRequest,
        System::PerConnection,
        System::HyperTls,
        System::PerRequestTls,
        System::PerConnectionTls,
    ];

    fn name(self) -> &'static str {
        match self {
            System::Hyper => "native hyper (tokio)",
            System::PerRequest => "warren, a process per request",
            System::PerConnection => "warren, a process per connection",
            System::HyperTls => "TLS: native hyper + rustls",
            System::PerRequestTls => "TLS: warren, a process per request",
            System::PerConnectionTls => "TLS: warren, a process per connection",
        }
    }

    fn tls(self) -> bool {
        matches!(
            self,
            System::HyperTls | System::PerRequestTls | System::PerConnectionTls
        )
    }

    /// The native system this one is compared with.
    fn native(self) -> usize {
        if self.tls() { 3 } else { 0 }
    }

    fn server(self, paths: &Paths, tls: &Tls) -> anyhow::Result<Server> {
        let mut cmd = match self {
            System::Hyper => {
                let mut c = Command::new(&paths.tokio);
                c.args(["http_hello", "127.0.0.1:0"]);
                c
            }
            System::HyperTls => {
                let mut c = Command::new(&paths.tokio);
                c.args(["https_hello", "127.0.0.1:0"])
                    .arg(&tls.cert)
                    .arg(&tls.key);
                c
            }
            _ => {
                let mut c = Command::new(&paths.warren);
                c.arg("run");
                if self.tls() {
                    c.arg("--tls-cert")
                        .arg(&tls.cert)
                        .arg("--tls-key")
                        .arg(&tls.key);
                }
                c.arg(&paths.guest).args(["http_hello", "127.0.0.1:0"]);
                if matches!(self, System::PerConnection | System::PerConnectionTls) {
                    c.arg("per_connection");
                }
                if self.tls() {
                    c.arg("tls");
                }
                c
            }
        };
        cmd.env_remove("TOKIO_WORKER_THREADS");
        Server::start(cmd)
    }
}

/// A self-signed certificate for the TLS rows (made with `openssl`; wrk does not verify).
struct Tls {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl Tls {
    fn make(root: &std::path::Path) -> anyhow::Result<Tls> {
        let dir = root.join("target/compare-tls");
        std::fs::create_dir_all(&dir)?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let ok = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .context("running openssl to make the TLS rows' certificate")?;
        if !ok.status.success() {
            bail!("openssl: {}", String::from_utf8_lossy(&ok.stderr));
        }
        Ok(Tls { cert, key })
    }
}

/// One wrk run: (requests/s, p99 latency in ms, non-2xx or socket errors).
fn wrk(url: &str, conns: usize, seconds: u64) -> anyhow::Result<(f64, f64, String)> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .arg(format!("{url}/"))
        .output()
        .context("running wrk (Debian package wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| latency_ms(v.trim()))
        .with_context(|| format!("no 99% latency in wrk's output: {text}"))?;
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ");
    Ok((rps, p99, errors))
}

/// wrk's latency text (`812.00us`, `4.57ms`, `1.02s`) in milliseconds.
fn latency_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut o = Options {
        reps: 3,
        seconds: 10,
        write: true,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--reps" => o.reps = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--no-write" => o.write = false,
            other => bail!("unknown flag {other}"),
        }
    }
    let root = crate::repo_root()?;
    let paths = Paths::new(&root);
    let tls = Tls::make(&root)?;
    let conns = [50usize, 500];
    // results[conn][system] = (rps, p99) per rep
    let mut results = vec![vec![(Vec::new(), Vec::new()); System::ALL.len()]; conns.len()];
    for rep in 1..=o.reps {
        for (ci, &c) in conns.iter().enumerate() {
            for (si, s) in System::ALL.iter().enumerate() {
                let server = s.server(&paths, &tls)?;
                let url = if s.tls() {
                    format!("https://{}", server.1)
                } else {
                    format!("http://{}", server.1)
                };
                wrk(&url, c, 1)?; // warm-up
                let (rps, p99, errors) = wrk(&url, c, o.seconds)?;
                eprintln!(
                    "  rep {rep} c={c} {}: {rps:.0} req/s, p99 {p99:.2} ms {errors}",
                    s.name()
                );
                if !errors.is_empty()
                    && !errors.contains("Socket errors: connect 0, read 0, write 0, timeout 0")
                {
                    eprintln!("    wrk reported: {errors}");
                }
                results[ci][si].0.push(rps);
                results[ci][si].1.push(p99);
            }
        }
    }
    let mut table = String::from(
        "<!-- http:begin (generated by `benches/compare/run http`; do not edit by hand) -->\n",
    );
    table.push_str(&format!(
        "`GET /` answering `hello\\n` under `wrk -t2 -cC -d{}s --latency` on this 2-core machine \
         (wrk shares it), medians of {} runs, systems alternating. Native hyper is the same \
         hyper HTTP/1.1 server warren's host uses, with a tokio task per connection; the TLS \
         rows put both behind rustls (ring, TLS 1.3, ECDSA P-256), each compared with native \
         hyper + rustls. wrk keeps its connections, so a handshake is paid once per \
         connection.\n\n",
        o.seconds, o.reps
    ));
    table.push_str(
        "| connections | system | requests/s | p99 latency | vs native hyper | target |\n",
    );
    table.push_str("| ---: | --- | ---: | ---: | ---: | ---: |\n");
    for (ci, &c) in conns.iter().enumerate() {
        for (si, s) in System::ALL.iter().enumerate() {
            let native = median(&mut results[ci][s.native()].0.clone());
            let (rps, p99) = &mut results[ci][si];
            let (r, p) = (median(rps), median(p99));
            let ratio = r / native;
            let target = match s {
                System::Hyper | System::HyperTls => "".to_string(),
                System::PerRequest | System::PerRequestTls => verdict(ratio, 0.7),
                System::PerConnection | System::PerConnectionTls => verdict(ratio, 0.85),
            };
            table.push_str(&format!(
                "| {c} | {} | {r:.0} | {p:.2} ms | {ratio:.2}x | {target} |\n",
                s.name()
            ));
        }
    }
    table.push_str("<!-- http:end -->");
    println!("{table}");
    if o.write {
        crate::report::write_marked(&root, "http", &table)?;
    }
    Ok(())
}

fn verdict(ratio: f64, target: f64) -> String {
    if ratio >= target {
        format!(">= {target}x: met")
    } else {
        format!(">= {target}x: missed")
    }
}
