//! The results: medians, the Markdown table for docs/benchmarks.md, and the SVG chart.

use crate::systems::{self, Paths, System};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One workload: what it measures and how it is run.
pub struct Workload {
    pub name: &'static str,
    pub title: &'static str,
    pub args: Vec<usize>,
    /// warren's process-table size for it.
    pub processes: usize,
    pub unit: &'static str,
    /// Larger values are better (throughput, capacity) rather than smaller (time, bytes).
    pub higher_is_better: bool,
    /// (connections, message size, seconds) for TCP echo.
    pub echo: Option<(usize, usize, f64)>,
}

impl Workload {
    pub fn timed(
        name: &'static str,
        title: &'static str,
        args: Vec<usize>,
        processes: usize,
        unit: &'static str,
    ) -> Self {
        Workload {
            name,
            title,
            args,
            processes,
            unit,
            higher_is_better: false,
            echo: None,
        }
    }

    pub fn memory(
        name: &'static str,
        title: &'static str,
        args: Vec<usize>,
        processes: usize,
    ) -> Self {
        Workload {
            name,
            title,
            args,
            processes,
            unit: "bytes/process",
            higher_is_better: false,
            echo: None,
        }
    }

    pub fn echo(connections: usize, size: usize, seconds: f64) -> Self {
        Workload {
            name: "echo",
            title: "TCP echo: one bounded load client on loopback",
            args: vec![connections, size],
            processes: 10_000,
            unit: "req/s",
            higher_is_better: true,
            echo: Some((connections, size, seconds)),
        }
    }

    pub fn maxn(budget_mib: usize, processes: usize) -> Self {
        Workload {
            name: "maxn",
            title: "the most idle processes that fit in the memory budget",
            args: vec![budget_mib],
            processes,
            unit: "processes",
            higher_is_better: true,
            echo: None,
        }
    }

    /// The row label, with the sizes.
    fn label(&self) -> String {
        match (self.name, self.args.as_slice()) {
            ("spawn", [n]) => format!("spawn, N = {n}"),
            ("idle", [n]) => format!("idle memory, N = {n}"),
            ("hibernate", [n]) => format!("hibernated memory, N = {n}"),
            ("wake", [n]) => format!("wake from hibernation, N = {n}"),
            ("pingpong", [n]) => format!("ping-pong, {n} round trips"),
            ("ring", [n, laps]) => format!("ring, {n} processes x {laps} laps"),
            ("fanout", [n, m]) => format!("fan-out, 1 publisher x {n} subscribers x {m} messages"),
            ("flow", [n]) => format!(
                "flow control, {n} messages to a consumer holding 100 (warren: bound, block; \
                 BEAM: a call each; tokio: channel)"
            ),
            ("echo", [c, size]) => {
                let secs = self.echo.map_or(0.0, |e| e.2);
                format!("TCP echo, {c} connections, {size} B, {secs} s")
            }
            ("maxn", [mib]) => format!("idle processes in {} GiB", *mib as f64 / 1024.0),
            _ => self.name.to_string(),
        }
    }
}

/// Medians and spreads of one workload.
pub struct Measured {
    pub label: String,
    pub name: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
    pub size: usize,
    /// (median, min, max) per system.
    pub stats: BTreeMap<System, (f64, f64, f64)>,
}

impl Measured {
    pub fn new(w: &Workload, values: BTreeMap<System, Vec<f64>>) -> Self {
        let stats = values
            .into_iter()
            .map(|(s, mut v)| {
                v.sort_by(f64::total_cmp);
                (s, (v[v.len() / 2], v[0], v[v.len() - 1]))
            })
            .collect();
        Measured {
            label: w.label(),
            name: w.name,
            unit: w.unit,
            higher_is_better: w.higher_is_better,
            size: w.echo.map_or(0, |e| e.1),
            stats,
        }
    }

    fn median(&self, s: System) -> f64 {
        self.stats.get(&s).map_or(f64::NAN, |v| v.0)
    }

    /// How far each system is from the best of the three (1 = best), for the chart.
    fn relative(&self, s: System) -> f64 {
        let values: Vec<f64> = System::ALL.iter().map(|&x| self.median(x)).collect();
        let v = self.median(s);
        if self.higher_is_better {
            values.iter().copied().fold(0.0, f64::max) / v
        } else {
            v / values.iter().copied().fold(f64::INFINITY, f64::min)
        }
    }
}

fn num(v: f64) -> String {
    if v >= 1000.0 {
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell(m: &Measured, s: System) -> String {
    let Some(&(med, min, max)) = m.stats.get(&s) else {
        return "—".into();
    };
    let spread = if min == max {
        String::new()
    } else {
        format!(" [{}-{}]", num(min), num(max))
    };
    let extra = if m.name == "echo" {
        format!(", {} MB/s", num(med * m.size as f64 / 1e6))
    } else {
        String::new()
    };
    format!("{}{spread}{extra}", num(med))
}

/// The table rows alone.
pub fn markdown_rows(results: &[Measured]) -> String {
    let mut t = String::new();
    t.push_str(
        "| workload | unit | warren | Erlang/OTP | tokio | warren / BEAM | warren / tokio |\n",
    );
    t.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for m in results {
        let better = if m.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        };
        let w = m.median(System::Warren);
        let _ = writeln!(
            t,
            "| {} | {} ({better}) | {} | {} | {} | {:.2} | {:.2} |",
            m.label,
            m.unit,
            cell(m, System::Warren),
            cell(m, System::Beam),
            cell(m, System::Tokio),
            w / m.median(System::Beam),
            w / m.median(System::Tokio),
        );
    }
    t
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split(':')
                    .nth(1)
                    .map(|s| s.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or("?".into(), |kb| format!("{:.0} GiB", kb as f64 / 1048576.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = first_line("uname", &["-r"]);
    let otp = first_line(
        "erl",
        &[
            "-noshell",
            "-eval",
            "io:format(\"~s~n\", [erlang:system_info(otp_release)]), halt().",
        ],
    );
    let rustc = first_line("rustc", &["--version"]);
    format!(
        "{cores} cores ({cpu}), {mem}, Linux {kernel}; Erlang/OTP {otp} (`erl` defaults: a scheduler per core); {rustc}, tokio multi-thread (a worker per core), warren release build"
    )
}

/// The exact commands, one per system, for a workload of the run.
pub fn commands(paths: &Paths, workloads: &[Workload]) -> Vec<String> {
    let mut out = Vec::new();
    for w in workloads {
        for s in System::ALL {
            let args: Vec<String> = if w.name == "echo" {
                vec!["127.0.0.1:0".into()]
            } else {
                w.args.iter().map(ToString::to_string).collect()
            };
            let c = systems::show(&paths.command(s, w.name, &args, w.processes));
            let root = paths
                .warren
                .ancestors()
                .nth(3)
                .map(|r| format!("{}/", r.display()))
                .unwrap_or_default();
            out.push(c.replace(&root, ""));
        }
    }
    out
}

/// The whole generated section.
pub fn markdown(results: &[Measured], quick: bool, reps: usize, commands: &[String]) -> String {
    let date = first_line("date", &["-u", "+%F"]);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "<!-- compare:begin (generated by `benches/compare/run`; do not edit by hand) -->"
    );
    let _ = writeln!(
        t,
        "### warren vs Erlang/OTP vs tokio ({date}, {} run, medians of {reps} repetition{})\n",
        if quick { "quick" } else { "full" },
        if reps == 1 { "" } else { "s" }
    );
    let _ = writeln!(t, "Machine: {}.\n", machine());
    t.push_str(&markdown_rows(results));
    t.push_str(
        "\nMedians, [min-max] over the repetitions (the memory budget run is made once). Ratios \
         are warren's median over the other's: below 1 is better for warren in the *lower is \
         better* rows, above 1 in the *higher is better* rows. TCP echo: one load client on \
         one thread, 50 connections each sending 1 KiB and reading the echo back; the servers \
         are `examples/echo`, `bench:run(echo)` and `compare-tokio echo`.\n\n",
    );
    t.push_str("![warren, Erlang/OTP and tokio, relative to the best of the three per workload](compare.svg)\n\n");
    t.push_str("Commands (systems alternate within each repetition):\n\n```text\n");
    for c in commands {
        let _ = writeln!(t, "{c}");
    }
    t.push_str("```\n<!-- compare:end -->\n");
    t
}

/// Put `section` in place of the marked section of `doc` (or append it).
pub fn splice(doc: &str, section: &str) -> anyhow::Result<String> {
    let begin = doc.find("<!-- compare:begin");
    let end = doc.find("<!-- compare:end -->");
    Ok(match (begin, end) {
        (Some(b), Some(e)) if b < e => {
            let after = e + "<!-- compare:end -->\n".len().min(doc.len() - e);
            format!("{}{}{}", &doc[..b], section, &doc[after..])
        }
        (None, None) => format!("{doc}\n{section}"),
        _ => bail!("docs/benchmarks.md has a broken compare:begin/compare:end pair"),
    })
}

/// A horizontal bar chart: per workload, each system's distance from the best (log scale).
pub fn svg(results: &[Measured]) -> String {
    let colors = [
        (System::Warren, "#e4572e"),
        (System::Beam, "#7b4b94"),
        (System::Tokio, "#2e86ab"),
    ];
    let (left, bar_h, gap, width) = (300.0, 16.0, 14.0, 1100.0);
    let plot_w = width - left - 260.0;
    let max_rel = results
        .iter()
        .flat_map(|m| System::ALL.iter().map(|&s| m.relative(s)))
        .filter(|r| r.is_finite())
        .fold(2.0f64, f64::max);
    let scale = |rel: f64| 4.0 + plot_w * rel.max(1.0).log2() / max_rel.log2();
    let height = 70.0 + results.len() as f64 * (3.0 * bar_h + gap) + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">warren vs Erlang/OTP vs tokio: how far from the best of the three (log scale, 1x = best)</text>"#
    );
    let mut x = left;
    for (sys, color) in colors {
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="34" width="12" height="12" fill="{color}"/><text x="{}" y="45">{}</text>"#,
            x + 16.0,
            sys.name()
        );
        x += 110.0;
    }
    // Grid lines at powers of two.
    let mut k = 1.0;
    while k <= max_rel * 1.001 {
        let gx = left + scale(k);
        let _ = writeln!(
            s,
            r##"<line x1="{gx}" y1="56" x2="{gx}" y2="{}" stroke="#ddd"/><text x="{gx}" y="{}" text-anchor="middle" fill="#666">{k}x</text>"##,
            height - 30.0,
            height - 16.0
        );
        k *= 2.0;
    }
    let mut y = 64.0;
    for m in results {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + 1.5 * bar_h + 4.0,
            escape(&m.label)
        );
        for (i, (sys, color)) in colors.iter().enumerate() {
            let rel = m.relative(*sys);
            let by = y + i as f64 * bar_h;
            let w = if rel.is_finite() { scale(rel) } else { 0.0 };
            let _ = writeln!(
                s,
                r#"<rect x="{left}" y="{by}" width="{w:.1}" height="{}" fill="{color}"/>"#,
                bar_h - 2.0
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}">{} {} ({:.2}x)</text>"#,
                left + w + 4.0,
                by + bar_h - 4.0,
                num(m.median(*sys)),
                m.unit,
                rel
            );
        }
        y += 3.0 * bar_h + gap;
    }
    s.push_str("</svg>\n");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Put `table` (which starts with `<!-- NAME:begin` and ends with `<!-- NAME:end -->`) in
/// place of the section of docs/benchmarks.md between those markers.
pub fn write_marked(root: &std::path::Path, name: &str, table: &str) -> anyhow::Result<()> {
    let doc = root.join("docs/benchmarks.md");
    let text = std::fs::read_to_string(&doc).context("reading docs/benchmarks.md")?;
    let (begin, end) = (format!("<!-- {name}:begin"), format!("<!-- {name}:end -->"));
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        bail!("docs/benchmarks.md lacks the {name}:begin/{name}:end markers");
    };
    let after = e + end.len();
    std::fs::write(&doc, format!("{}{table}{}", &text[..b], &text[after..]))?;
    eprintln!("wrote docs/benchmarks.md");
    Ok(())
}

/// The median (sorts `v`).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
