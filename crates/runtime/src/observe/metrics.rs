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
    let pumps = source.io.upgrade().map_or(0, |io| io.pumps.len());
    let (bound_dropped, bound_refused, blocked_senders) = stats.bounds();
    // (name, type, help, value) of every metric with one sample.
    let single: [(&str, &str, &str, f64); 15] = [
        (
            "warren_processes",
            "gauge",
            "Live processes (host mailboxes included).",
            table.len() as f64,
        ),
        (
            "warren_processes_hibernating",
            "gauge",
            "Processes hibernating (alive, without an instance).",
            stats.hibernating() as f64,
        ),
        (
            "warren_process_limit",
            "gauge",
            "Most processes alive at once.",
            table.limit() as f64,
        ),
        (
            "warren_processes_spawned_total",
            "counter",
            "Processes started since the runtime started (host mailboxes included).",
            stats.spawned_total() as f64,
        ),
        (
            "warren_messages_total",
            "counter",
            "Messages delivered into mailboxes (sends, replies, timers, DOWN and exit messages).",
            messages as f64,
        ),
        (
            "warren_message_bytes_total",
            "counter",
            "Payload bytes of the messages delivered into mailboxes.",
            message_bytes as f64,
        ),
        (
            "warren_mailbox_dropped_total",
            "counter",
            "Messages dropped by full bounded mailboxes (policies drop-oldest, drop-newest).",
            bound_dropped as f64,
        ),
        (
            "warren_mailbox_refused_total",
            "counter",
            "Sends a full bounded mailbox handed back to its sender (policies block, fail).",
            bound_refused as f64,
        ),
        (
            "warren_senders_blocked",
            "gauge",
            "Processes waiting for room in a full bounded mailbox now.",
            blocked_senders as f64,
        ),
        (
            "warren_messages_parked",
            "gauge",
            "Messages from other nodes held back for full bounded mailboxes here now.",
            table.flow().parked() as f64,
        ),
        (
            "warren_memory_bytes",
            "gauge",
            "Linear memory of all live instances, in bytes.",
            stats.memory_total() as f64,
        ),
        (
            "warren_registered_names",
            "gauge",
            "Names registered to local processes.",
            table.registered_names() as f64,
        ),
        (
            "warren_timers",
            "gauge",
            "Timers set and not yet fired or cancelled.",
            table.timers().len() as f64,
        ),
        (
            "warren_pumps",
            "gauge",
            "Host copies (splices) running.",
            pumps as f64,
        ),
        (
            "warren_uptime_seconds",
            "gauge",
            "Seconds since the runtime started.",
            uptime,
        ),
    ];
    let mut out = String::with_capacity(2048);
    let header = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    for (name, kind, help, value) in single {
        header(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    let name = "warren_process_exits_total";
    header(
        &mut out,
        name,
        "counter",
        "Processes ended since the runtime started, by kind of exit reason.",
    );
    for (kind, n) in REASON_KINDS.iter().zip(stats.exits_by_kind()) {
        let _ = writeln!(out, "{name}{{reason=\"{kind}\"}} {n}");
    }
    let name = "warren_version_processes";
    header(
        &mut out,
        name,
        "gauge",
        "Processes running each version of the program the runtime holds (hot code upgrade): \
         the current one and the old one.",
    );
    for v in stats.versions() {
        let state = if v.current { "current" } else { "old" };
        let hash = crate::cluster::hex(&v.hash);
        let _ = writeln!(
            out,
            "{name}{{version=\"{}\",hash=\"{hash}\",state=\"{state}\"}} {}",
            v.number,
            v.process_count()
        );
    }
    let name = "warren_version_loads_total";
    header(
        &mut out,
        name,
        "counter",
        "Versions of the program loaded while it ran (Runtime::load_version, SIGHUP, --watch).",
    );
    let _ = writeln!(out, "{name} {}", stats.loads());
    let (records, dropped) = stats.logs_total();
    let name = "warren_log_records_total";
    header(
        &mut out,
        name,
        "counter",
        "Log records processes emitted (warren:log), by level.",
    );
    for (level, n) in crate::actor::logs::LEVEL_NAMES.iter().zip(records) {
        let _ = writeln!(out, "{name}{{level=\"{level}\"}} {n}");
    }
    let name = "warren_log_dropped_total";
    header(
        &mut out,
        name,
        "counter",
        "Log records dropped because their process was over its log rate.",
    );
    let _ = writeln!(out, "{name} {dropped}");
    if let Some(sched) = source.sched.as_ref().map(|p| p.stats()) {
        let name = "warren_scheduler_polls_total";
        header(
            &mut out,
            name,
            "counter",
            "Polls of a process by warren's scheduler, by worker (\"outside\": on a tokio \
             thread whose socket or timer woke it).",
        );
        for (w, n) in sched.polls_by_worker.iter().enumerate() {
            let _ = writeln!(out, "{name}{{worker=\"{w}\"}} {n}");
        }
        let outside = sched.polls - sched.polls_by_worker.iter().sum::<u64>();
        let _ = writeln!(out, "{name}{{worker=\"outside\"}} {outside}");
        for (name, help, value) in [
            (
                "warren_scheduler_wakes_total",
                "Processes woken, by where: on a worker (queued there) or outside the pool.",
                None,
            ),
            (
                "warren_scheduler_stolen_total",
                "Processes an idle worker took from another worker's queue.",
                Some(sched.stolen),
            ),
            (
                "warren_scheduler_sleeps_total",
                "Times a worker went to sleep for want of work.",
                Some(sched.sleeps),
            ),
        ] {
            header(&mut out, name, "counter", help);
            match value {
                Some(v) => {
                    let _ = writeln!(out, "{name} {v}");
                }
                None => {
                    let _ = writeln!(out, "{name}{{at=\"worker\"}} {}", sched.local_wakes);
                    let _ = writeln!(out, "{name}{{at=\"outside\"}} {}", sched.outside_wakes);
                }
            }
        }
    }
    out
}
