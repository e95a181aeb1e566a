//! `compare dist`: two warren nodes over a NATS server against two Erlang nodes over Erlang
//! distribution, on this machine, in one run: a remote round trip (100-byte payload, one at
//! a time) and one-way throughput (100-byte messages, as fast as they can be sent).
//!
//! ```text
//! compare dist [--reps R] [--rtt N] [--tput N] [--no-write]
//! ```
//!
//! For each repetition and system it starts node `b` (warren: `warren run --cluster URL
//! --node b --serve compare-guest.wasm`, with a fresh `nats-server -js`; Erlang: `erl -sname
//! b`), then runs node `a` with the workload (`compare-guest dist_rtt|dist_tput N`,
//! `bench:run(dist_rtt|dist_tput)`), and reads its `result` line. The table goes into
//! docs/benchmarks.md between `dist:begin` and `dist:end`.

use crate::report::median;
use crate::systems::{Paths, show};
use anyhow::{Context, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Options {
    reps: usize,
    rtt: usize,
    tput: usize,
    write: bool,
}

/// A child killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(mut cmd: Command) -> anyhow::Result<Guard> {
    let shown = show(&cmd);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    Ok(Guard(child))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A `nats-server -js` on a free port, with its store in a temp dir (removed when dropped).
struct Nats {
    _child: Guard,
    port: u16,
    store: std::path::PathBuf,
}

impl Nats {
    fn start() -> anyhow::Result<Nats> {
        let store = std::env::temp_dir().join(format!("warren-dist-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let port = free_port()?;
        let mut nats = Command::new("nats-server");
        nats.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&store);
        let child = start(nats)?;
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t0.elapsed() > Duration::from_secs(10) {
                bail!("nats-server did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nats {
            _child: child,
            port,
            store,
        })
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
        let _ = std::fs::remove_file(self.store.with_extension("secret"));
    }
}

/// The NATS server's own round trip: two blocking connections speaking the protocol by
/// hand (no client library), one echoing `bench.echo` to `bench.back`; us per round trip
/// of a 100-byte payload. The floor under any client's remote round trip through it.
fn nats_floor(n: usize) -> anyhow::Result<f64> {
    use std::io::{BufRead, BufReader, Read, Write};
    let nats = Nats::start()?;
    let connect =
        |sub: &str| -> anyhow::Result<(std::net::TcpStream, BufReader<std::net::TcpStream>)> {
            let s = std::net::TcpStream::connect(("127.0.0.1", nats.port))?;
            s.set_nodelay(true)?;
            let mut r = BufReader::new(s.try_clone()?);
            let mut info = String::new();
            r.read_line(&mut info)?;
            let mut w = s.try_clone()?;
            write!(
                w,
                "CONNECT {{\"verbose\":false}}\r\nSUB {sub} 1\r\nPING\r\n"
            )?;
            let mut line = String::new();
            while !line.starts_with("PONG") {
                line.clear();
                r.read_line(&mut line)?;
            }
            Ok((s, r))
        };
    // Read one MSG; its payload.
    fn msg(r: &mut BufReader<std::net::TcpStream>) -> anyhow::Result<Vec<u8>> {
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                bail!("the NATS server closed the connection");
            }
            if line.starts_with("MSG") {
                let len: usize = line.split_whitespace().last().unwrap_or("0").parse()?;
                let mut data = vec![0; len + 2];
                r.read_exact(&mut data)?;
                data.truncate(len);
                return Ok(data);
            }
        }
    }
    let (mut echo_w, mut echo_r) = connect("bench.echo")?;
    std::thread::spawn(move || -> anyhow::Result<()> {
        loop {
            let data = msg(&mut echo_r)?;
            let mut frame = format!("PUB bench.back {}\r\n", data.len()).into_bytes();
            frame.extend_from_slice(&data);
            frame.extend_from_slice(b"\r\n");
            echo_w.write_all(&frame)?;
        }
    });
    let (mut w, mut r) = connect("bench.back")?;
    let mut frame = b"PUB bench.echo 100\r\n".to_vec();
    frame.extend_from_slice(&[7u8; 100]);
    frame.extend_from_slice(b"\r\n");
    for _ in 0..100 {
        w.write_all(&frame)?;
        msg(&mut r)?;
    }
    let t0 = Instant::now();
    for _ in 0..n {
        w.write_all(&frame)?;
        msg(&mut r)?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e6 / n as f64)
}

/// One warren measurement: a NATS server, node b serving, node a running `workload n`.
fn warren(paths: &Paths, workload: &str, n: usize) -> anyhow::Result<f64> {
    let nats = Nats::start()?;
    let port = nats.port;
    let url = format!("nats://127.0.0.1:{port}");
    // Authenticated, as a cluster runs by default; WARREN_DIST_INSECURE=1 measures the same
    // without the MACs (--cluster-insecure), to see what authentication costs.
    let auth: Vec<String> = if std::env::var_os("WARREN_DIST_INSECURE").is_some() {
        vec!["--cluster-insecure".into()]
    } else {
        let secret = nats.store.with_extension("secret");
        let _ = std::fs::remove_file(&secret);
        let made = Command::new(&paths.warren)
            .args(["cluster-secret"])
            .arg(&secret)
            .output()?;
        if !made.status.success() {
            bail!(
                "warren cluster-secret: {}",
                String::from_utf8_lossy(&made.stderr)
            );
        }
        vec!["--cluster-secret".into(), secret.display().to_string()]
    };
    let mut b = Command::new(&paths.warren);
    b.args(["run", "--cluster", &url, "--node", "b", "--serve"])
        .args(&auth)
        .arg(&paths.guest);
    let _b = start(b)?;
    let mut a = Command::new(&paths.warren);
    a.args(["run", "--cluster", &url, "--node", "a"])
        .args(&auth)
        .arg(&paths.guest)
        .args([workload, &n.to_string()]);
    crate::systems::measure(a, Duration::from_secs(300))
}

/// One Erlang measurement: node b up, node a running `bench:run(workload, [n])`.
fn erlang(paths: &Paths, workload: &str, n: usize) -> anyhow::Result<f64> {
    // Names of this run's own, so a node left over from elsewhere cannot answer.
    let (peer, me) = (
        format!("wb{}", std::process::id()),
        format!("wa{}", std::process::id()),
    );
    let mut b = Command::new("erl");
    b.args([
        "-sname",
        &peer,
        "-setcookie",
        "warren-bench",
        "-noshell",
        "-pa",
    ])
    .arg(&paths.erlang);
    let _b = start(b)?;
    // erl -sname registers with epmd as it starts; give it the moment it takes.
    std::thread::sleep(Duration::from_millis(1500));
    let mut a = Command::new("erl");
    a.args([
        "-sname",
        &me,
        "-setcookie",
        "warren-bench",
        "-noshell",
        "-pa",
    ])
    .env("WARREN_BENCH_PEER", &peer)
    .arg(&paths.erlang)
    .args(["-s", "bench", "main", workload, &n.to_string()])
    .args(["-s", "init", "stop"]);
    crate::systems::measure(a, Duration::from_secs(300))
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut o = Options {
        reps: 3,
        rtt: 20_000,
        tput: 300_000,
        write: true,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--reps" => o.reps = value()?.parse()?,
            "--rtt" => o.rtt = value()?.parse()?,
            "--tput" => o.tput = value()?.parse()?,
            "--no-write" => o.write = false,
            other => bail!("unknown flag {other}"),
        }
    }
    let root = crate::repo_root()?;
    let paths = Paths::new(&root);
    let rows = [
        (
            "dist_rtt",
            o.rtt,
            "remote round trip, 100-byte payload",
            "us",
            false,
        ),
        (
            "dist_tput",
            o.tput,
            "one-way throughput, 100-byte messages",
            "msgs/s",
            true,
        ),
    ];
    let mut table = String::from(
        "<!-- dist:begin (generated by `benches/compare/run dist`; do not edit by hand) -->\n",
    );
    table.push_str(&format!(
        "Two nodes on this machine, medians of {} runs (min-max), systems alternating: warren \
         nodes over one `nats-server -js` (Debian's {}), Erlang/OTP nodes (`erl -sname`) over \
         Erlang distribution.\n\n",
        o.reps,
        nats_version()
    ));
    table.push_str("| measure | warren (NATS) | Erlang distribution | warren/Erlang |\n");
    table.push_str("| --- | ---: | ---: | ---: |\n");
    for (workload, n, title, unit, higher_better) in rows {
        let (mut w, mut e) = (Vec::new(), Vec::new());
        for rep in 1..=o.reps {
            let wv = warren(&paths, workload, n)?;
            eprintln!("  {workload} rep {rep} warren: {wv:.1} {unit}");
            w.push(wv);
            let ev = erlang(&paths, workload, n)?;
            eprintln!("  {workload} rep {rep} Erlang: {ev:.1} {unit}");
            e.push(ev);
        }
        let range = |v: &[f64]| {
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            format!("{lo:.0}-{hi:.0}")
        };
        let (wr, er) = (range(&w), range(&e));
        let (wm, em) = (median(&mut w), median(&mut e));
        let better = if higher_better { wm > em } else { wm < em };
        table.push_str(&format!(
            "| {title} (N = {n}) | {wm:.0} {unit} ({wr}) | {em:.0} {unit} ({er}) | {:.2}x{} |\n",
            wm / em,
            if better { "" } else { " (behind)" }
        ));
    }
    let mut floor: Vec<f64> = (0..o.reps)
        .map(|_| nats_floor(o.rtt))
        .collect::<anyhow::Result<_>>()?;
    let fm = median(&mut floor);
    table.push_str(&format!(
        "\nThe NATS server's own round trip in the same run, two blocking connections speaking \
         its protocol by hand (no client library, nothing of warren): **{fm:.0} us** — the \
         floor under any round trip through it.\n"
    ));
    table.push_str("<!-- dist:end -->");
    println!("{table}");
    if o.write {
        crate::report::write_marked(&root, "dist", &table)?;
    }
    Ok(())
}

fn nats_version() -> String {
    Command::new("nats-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().trim_start_matches("nats-server: ").to_string())
        .unwrap_or_else(|| "nats-server".into())
}
