//! TCP echo throughput, warren against native tokio, from one bounded load client.
//!
//! ```text
//! cargo run --release -p echo-bench -- [--connections 50] [--size 1024] [--seconds 5] [--reps 3]
//! ```
//!
//! For each repetition, alternating, it starts a server as a child process — warren's
//! `examples/echo` under `target/release/warren`, or this binary's own native tokio echo
//! server (`echo-bench serve-native ADDR`, written like the example: a task per connection,
//! a 64 KiB buffer, read then write back) — and drives it with the same client: C
//! connections, each sending a SIZE-byte message and reading the echo back, as fast as it
//! can, for SECONDS. The client runs on one thread (a bounded load: it cannot take both
//! cores from the server). It prints requests/s and MB/s (payload one way) per run, then a
//! Markdown table of medians with min-max and the warren/native ratio. `--addr ADDR` only
//! loads a server that is already running (to profile one side).

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Options {
    connections: usize,
    size: usize,
    seconds: f64,
    reps: usize,
    warren: String,
    wasm: String,
    /// Only load this server (for profiling one side).
    addr: Option<String>,
}

fn parse() -> anyhow::Result<Options> {
    let mut o = Options {
        connections: 50,
        size: 1024,
        seconds: 5.0,
        reps: 3,
        warren: "target/release/warren".into(),
        wasm: "target/guests/wasm32-wasip1/release/echo.wasm".into(),
        addr: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--connections" => o.connections = value()?.parse()?,
            "--size" => o.size = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--reps" => o.reps = value()?.parse()?,
            "--warren" => o.warren = value()?,
            "--wasm" => o.wasm = value()?,
            "--addr" => o.addr = Some(value()?),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(o)
}

/// The native server: what examples/echo does, in plain tokio.
fn serve_native(addr: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("native: listening on {}", listener.local_addr()?);
        loop {
            let (mut conn, _) = listener.accept().await?;
            conn.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}

/// A server child process and the address it listens on.
struct Server(Child, String);

impl Server {
    fn start(mut cmd: Command) -> anyhow::Result<Server> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line
            .split("listening on ")
            .nth(1)
            .context("no address in the server's first line")?
            .trim()
            .to_string();
        Ok(Server(child, addr))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Drive `addr` with the load; returns completed round trips per second.
fn load(addr: &str, o: &Options) -> anyhow::Result<f64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..o.connections {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            conns.push(s);
        }
        let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|mut s| {
                let size = o.size;
                tokio::spawn(async move {
                    let msg = vec![42u8; size];
                    let mut back = vec![0u8; size];
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        s.write_all(&msg).await?;
                        s.read_exact(&mut back).await?;
                        done += 1;
                    }
                    anyhow::Ok(done)
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await??;
        }
        Ok(total as f64 / o.seconds)
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve-native") {
        return serve_native(args.get(2).map_or("127.0.0.1:0", String::as_str));
    }
    let o = parse()?;
    if let Some(addr) = &o.addr {
        let rps = load(addr, &o)?;
        println!(
            "{addr}: {rps:.0} req/s {:.1} MB/s",
            rps * o.size as f64 / 1e6
        );
        return Ok(());
    }
    let me = std::env::current_exe()?;
    let mut native = Vec::new();
    let mut warren = Vec::new();
    for rep in 1..=o.reps {
        for system in ["native", "warren"] {
            let mut cmd = if system == "native" {
                let mut c = Command::new(&me);
                c.args(["serve-native", "127.0.0.1:0"]);
                c
            } else {
                let mut c = Command::new(&o.warren);
                c.args(["run", &o.wasm, "127.0.0.1:0"]);
                c
            };
            cmd.stdin(Stdio::null());
            let server = Server::start(cmd)?;
            std::thread::sleep(Duration::from_millis(200));
            let rps = load(&server.1, &o)?;
            drop(server);
            println!(
                "rep {rep} {system:>6}: {rps:>10.0} req/s {:>8.1} MB/s",
                rps * o.size as f64 / 1e6
            );
            if system == "native" {
                native.push(rps)
            } else {
                warren.push(rps)
            }
        }
    }
    let spread = |v: &[f64]| {
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = v.iter().copied().fold(0.0, f64::max);
        format!("{min:.0}-{max:.0}")
    };
    let (n, w) = (median(&mut native.clone()), median(&mut warren.clone()));
    let mb = |r: f64| r * o.size as f64 / 1e6;
    println!();
    println!(
        "TCP echo, {} connections, {} B messages, {} s x {} runs each, one client thread:",
        o.connections, o.size, o.seconds, o.reps
    );
    println!();
    println!("| server | req/s (median) | min-max | MB/s | warren / native |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| native tokio | {n:.0} | {} | {:.1} | |",
        spread(&native),
        mb(n)
    );
    println!(
        "| warren echo | {w:.0} | {} | {:.1} | {:.2} |",
        spread(&warren),
        mb(w),
        w / n
    );
    Ok(())
}
