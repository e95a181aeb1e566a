//! `/metrics` in the Prometheus text format (version 0.0.4). Every value is a counter or a
//! gauge read in constant time: a scrape never walks the process table.

use super::Source;
use crate::actor::ProcessTable;
use crate::actor::stats::REASON_KINDS;
use std::fmt::Write as _;

pub(crate) fn render(source: &Source, table: &ProcessTable) -> String {
    let stats = table.stats();
    let (messages, message_bytes) = stats.messages_total();
    let uptime = crate::actor::stats::now_ms().saturating_sub(source.started_at) as f64 / 1000.0;
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric(
        "warren_processes",
        "gauge",
        "Live processes (host mailboxes included).",
        &[("", table.len() as f64)],
    );
    metric(
        "warren_processes_hibernating",
        "gauge",
        "Processes hibernating (alive, without an instance).",
        &[("", stats.hibernating() as f64)],
    );
    metric(
        "warren_process_limit",
        "gauge",
        "Most processes alive at once.",
        &[("", table.limit() as f64)],
    );
    metric(
        "warren_processes_spawned_total",
        "counter",
        "Processes started since the runtime started (host mailboxes included).",
        &[("", stats.spawned_total() as f64)],
    );
    let exits = stats.exits_by_kind();
    let labels: Vec<String> = REASON_KINDS
        .iter()
        .map(|k| format!("{{reason=\"{k}\"}}"))
        .collect();
    let samples: Vec<(&str, f64)> = labels
        .iter()
        .zip(exits)
        .map(|(l, n)| (l.as_str(), n as f64))
        .collect();
    metric(
        "warren_process_exits_total",
        "counter",
        "Processes ended since the runtime started, by kind of exit reason.",
        &samples,
    );
    metric(
        "warren_messages_total",
        "counter",
        "Messages delivered into mailboxes (sends, replies, timers, DOWN and exit messages).",
        &[("", messages as f64)],
    );
    metric(
        "warren_message_bytes_total",
        "counter",
        "Payload bytes of the messages delivered into mailboxes.",
        &[("", message_bytes as f64)],
    );
    metric(
        "warren_memory_bytes",
        "gauge",
        "Linear memory of all live instances, in bytes.",
        &[("", stats.memory_total() as f64)],
    );
    metric(
        "warren_registered_names",
        "gauge",
        "Names registered to local processes.",
        &[("", table.registered_names() as f64)],
    );
    metric(
        "warren_timers",
        "gauge",
        "Timers set and not yet fired or cancelled.",
        &[("", table.timers().len() as f64)],
    );
    metric(
        "warren_pumps",
        "gauge",
        "Host copies (splices) running.",
        &[(
            "",
            source.io.upgrade().map_or(0, |io| io.pumps.len()) as f64,
        )],
    );
    metric(
        "warren_uptime_seconds",
        "gauge",
        "Seconds since the runtime started.",
        &[("", uptime)],
    );
    out
}
