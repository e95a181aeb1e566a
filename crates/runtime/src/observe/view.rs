//! What the observer answers, as JSON: built from a snapshot taken for the request.

use super::Source;
use super::history::Sample;
use crate::actor::logs::LEVEL_NAMES;
use crate::actor::stats::{ExitRecord, ProcessState, REASON_KINDS, reason_kind};
use crate::actor::{Pid, ProcessRef, ProcessTable};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Most rows one page may hold.
pub(crate) const MAX_PAGE: usize = 1000;

/// Most processes shown in one spawn tree.
const MAX_TREE: usize = 500;

/// The totals, settings and exit counts.
pub(crate) fn summary(source: &Source, table: &ProcessTable) -> Value {
    let stats = table.stats();
    let (messages, message_bytes) = stats.messages_total();
    let exits = stats.exits_by_kind();
    let now = crate::actor::stats::now_ms();
    let (resident, proportional) = crate::actor::stats::host_memory();
    json!({
        "node": table.node(),
        "started_at": source.started_at,
        "now": now,
        "uptime_ms": now.saturating_sub(source.started_at),
        "processes": table.len(),
        "hibernating": stats.hibernating(),
        "process_limit": table.limit(),
        "spawned": stats.spawned_total(),
        "exited": exits.iter().sum::<u64>(),
        "exits": exit_counts(&exits),
        "messages": messages,
        "message_bytes": message_bytes,
        "memory": stats.memory_total(),
        "resident": resident,
        "proportional": proportional,
        "names": table.registered_names(),
        "timers": table.timers().len(),
        "pumps": source.io.upgrade().map_or(0, |io| io.pumps.len()),
        "allow_kill": source.allow_kill,
        "allow_upgrade": source.allow_upgrade,
        "cpu_measured": stats.measures_cpu(),
        "versions": stats.versions().iter().map(|v| json!({
            "version": v.number,
            "hash": crate::cluster::hex(&v.hash),
            "current": v.current,
            "processes": v.process_count(),
        })).collect::<Vec<_>>(),
        "version_loads": stats.loads(),
    })
}

fn exit_counts(exits: &[u64; REASON_KINDS.len()]) -> Value {
    let map: serde_json::Map<String, Value> = REASON_KINDS
        .iter()
        .zip(exits)
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    Value::Object(map)
}

pub(crate) fn history(samples: &[Sample]) -> Value {
    json!({
        "interval_ms": super::history::INTERVAL.as_millis() as u64,
        "samples": samples,
    })
}

/// What a page of the table asks for.
#[derive(Debug, Clone)]
pub(crate) struct TableQuery {
    pub offset: usize,
    pub limit: usize,
    pub sort: SortKey,
    pub descending: bool,
    /// Matches a pid or a registered name (a substring, case-insensitive).
    pub text: Option<String>,
    pub state: Option<ProcessState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    Pid,
    Name,
    State,
    Mailbox,
    MailboxBytes,
    Memory,
    Cpu,
    Spawned,
    Parent,
}

impl SortKey {
    pub(crate) fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "pid" => SortKey::Pid,
            "name" => SortKey::Name,
            "state" => SortKey::State,
            "mailbox" => SortKey::Mailbox,
            "mailbox_bytes" => SortKey::MailboxBytes,
            "memory" => SortKey::Memory,
            "cpu" => SortKey::Cpu,
            "spawned" => SortKey::Spawned,
            "parent" => SortKey::Parent,
            _ => return None,
        })
    }
}

pub(crate) fn parse_state(s: &str) -> Option<ProcessState> {
    ProcessState::ALL.into_iter().find(|st| st.name() == s)
}

/// One process's cheap fields (no lock but its mailbox's).
struct Row {
    p: Arc<ProcessRef>,
    names: Vec<String>,
    state: ProcessState,
    mailbox: usize,
    mailbox_bytes: usize,
    memory: u64,
    cpu_ticks: u64,
}

impl Row {
    fn new(p: Arc<ProcessRef>, names: &HashMap<Pid, Vec<String>>) -> Row {
        let s = p.stats();
        let (mailbox, mailbox_bytes) = p.mailbox.census();
        Row {
            names: names.get(&p.pid()).cloned().unwrap_or_default(),
            state: s.state(),
            mailbox,
            mailbox_bytes,
            memory: s.memory(),
            cpu_ticks: s.cpu_ticks(),
            p,
        }
    }

    fn json(&self, table: &ProcessTable) -> Value {
        let s = self.p.stats();
        json!({
            "pid": self.p.pid(),
            "name": self.names.first(),
            "names": self.names,
            "state": self.state.name(),
            "mailbox": self.mailbox,
            "mailbox_bytes": self.mailbox_bytes,
            "memory": self.memory,
            "resident": self.p.stats().resident(),
            "cpu_us": table.stats().clock().to_ns(self.cpu_ticks) / 1000,
            "spawned_at": s.spawned_at(),
            "parent": s.parent(),
            "handles": s.handle_count(),
            "links": self.p.relations().links.len(),
            "traps_exit": self.p.traps_exit(),
            "blocked_on": s.blocked_on(),
            "mailbox_bound": bound_json(&self.p),
            "version": self.p.version(),
        })
    }
}

/// A process's mailbox bound and what it did (null without a bound and nothing counted).
fn bound_json(p: &ProcessRef) -> Value {
    let c = p.mailbox.counters();
    match p.mailbox.bound() {
        None if c.dropped == 0 && c.refused == 0 => Value::Null,
        bound => json!({
            "bound": bound.map(|b| crate::actor::describe_bound(&b)),
            "when_full": bound.map(|b| format!("{:?}", b.when_full)),
            "dropped": c.dropped,
            "refused": c.refused,
            "waiting_senders": c.waiting_senders,
        }),
    }
}

/// One page of the table, sorted and filtered as asked, with the count of each state.
pub(crate) fn processes(table: &ProcessTable, q: &TableQuery) -> Value {
    let names = table.names().all();
    let all = table.all();
    let total = all.len();
    let mut states: HashMap<ProcessState, usize> = HashMap::new();
    let needle = q.text.as_ref().map(|t| t.to_lowercase());
    let mut rows: Vec<Row> = all
        .into_iter()
        .map(|p| Row::new(p, &names))
        .inspect(|r| *states.entry(r.state).or_default() += 1)
        .filter(|r| q.state.is_none_or(|s| r.state == s))
        .filter(|r| {
            needle.as_ref().is_none_or(|n| {
                r.p.pid().to_string().contains(n.as_str())
                    || r.names
                        .iter()
                        .any(|x| x.to_lowercase().contains(n.as_str()))
            })
        })
        .collect();
    let matched = rows.len();
    let order = |a: &Row, b: &Row| {
        let o = match q.sort {
            SortKey::Pid => a.p.pid().cmp(&b.p.pid()),
            SortKey::Name => a.names.first().cmp(&b.names.first()),
            SortKey::State => a.state.cmp(&b.state),
            SortKey::Mailbox => a.mailbox.cmp(&b.mailbox),
            SortKey::MailboxBytes => a.mailbox_bytes.cmp(&b.mailbox_bytes),
            SortKey::Memory => a.memory.cmp(&b.memory),
            SortKey::Cpu => a.cpu_ticks.cmp(&b.cpu_ticks),
            SortKey::Spawned => a.p.stats().spawned_at().cmp(&b.p.stats().spawned_at()),
            SortKey::Parent => a.p.stats().parent().cmp(&b.p.stats().parent()),
        };
        // Descending reverses the key; ties stay in pid order either way.
        let o = if q.descending { o.reverse() } else { o };
        o.then(a.p.pid().cmp(&b.p.pid()))
    };
    // Only the rows up to the end of the page are put in order: selecting them is linear, so
    // the first pages of 100,000 processes cost a walk, not a sort. Pids break ties, so the
    // order is total and pages put together are the whole table.
    let end = q
        .offset
        .saturating_add(q.limit.min(MAX_PAGE))
        .min(rows.len());
    if end < rows.len() {
        if end > 0 {
            rows.select_nth_unstable_by(end - 1, order);
        }
        rows.truncate(end);
    }
    rows.sort_unstable_by(order);
    let page: Vec<Value> = rows
        .iter()
        .skip(q.offset)
        .take(q.limit.min(MAX_PAGE))
        .map(|r| r.json(table))
        .collect();
    let states: serde_json::Map<String, Value> = ProcessState::ALL
        .into_iter()
        .map(|s| {
            (
                s.name().to_string(),
                json!(states.get(&s).copied().unwrap_or(0)),
            )
        })
        .collect();
    json!({
        "total": total,
        "matched": matched,
        "offset": q.offset,
        "rows": page,
        "states": states,
    })
}

/// One process in full: its row, links, monitors both ways, handles, names and the tree of
/// processes it spawned. `None` if it is not alive.
pub(crate) fn process(table: &ProcessTable, pid: Pid) -> Option<Value> {
    let p = table.get(pid)?;
    let names = table.names().all();
    let all = table.all();
    let mut children: HashMap<Pid, Vec<&Arc<ProcessRef>>> = HashMap::new();
    for c in &all {
        children.entry(c.stats().parent()).or_default().push(c);
    }
    for v in children.values_mut() {
        v.sort_by_key(|c| c.pid());
    }
    let rel = p.relations();
    let named = |pids: &[Pid]| -> Vec<Value> {
        pids.iter()
            .map(|x| json!({"pid": x, "name": names.get(x).and_then(|n| n.first())}))
            .collect()
    };
    let mut budget = MAX_TREE;
    let tree = tree(&p, &children, &names, &mut budget);
    // Its ancestors, nearest first, as far as they are alive.
    let mut ancestors = Vec::new();
    let mut up = p.stats().parent();
    while up != 0 && ancestors.len() < 64 {
        let Some(a) = table.get(up) else { break };
        ancestors.push(json!({"pid": up, "name": names.get(&up).and_then(|n| n.first())}));
        up = a.stats().parent();
    }
    let handles: Vec<Value> = p
        .stats()
        .handles()
        .into_iter()
        .map(|(kind, n)| json!({"kind": kind, "count": n}))
        .collect();
    let logs = p.stats().logs().map(|(lines, emitted, dropped)| {
        let lines: Vec<Value> = lines
            .iter()
            .map(|l| {
                json!({
                    "at": l.at_ms,
                    "level": usize::try_from(l.level - 1).ok().and_then(|i| LEVEL_NAMES.get(i)),
                    "target": l.target,
                    "message": l.message,
                })
            })
            .collect();
        json!({"lines": lines, "emitted": emitted, "dropped": dropped})
    });
    Some(json!({
        "process": Row::new(p.clone(), &names).json(table),
        "links": named(&rel.links),
        "monitored_by": named(&rel.monitored_by),
        "monitoring": named(&rel.monitoring),
        "handles": handles,
        "logs": logs,
        "ancestors": ancestors,
        "tree": tree,
        "waits_on": waits_on(table, &p),
    }))
}

/// The chain of processes `p` waits for room in (each blocked on a send to the next), as far
/// as it goes, and whether it comes back to one already in it: processes blocked on each
/// other's full mailboxes wait for good (a deadlock, shown to the user; the runtime goes on).
fn waits_on(table: &ProcessTable, p: &ProcessRef) -> Value {
    let mut chain = Vec::new();
    let mut next = p.stats().blocked_on();
    let mut deadlock = false;
    while let Some(pid) = next {
        if pid == p.pid() || chain.contains(&pid) {
            deadlock = true;
            chain.push(pid);
            break;
        }
        chain.push(pid);
        if chain.len() >= 64 {
            break;
        }
        next = table.get(pid).and_then(|q| q.stats().blocked_on());
    }
    json!({ "chain": chain, "deadlock": deadlock })
}

fn tree(
    p: &Arc<ProcessRef>,
    children: &HashMap<Pid, Vec<&Arc<ProcessRef>>>,
    names: &HashMap<Pid, Vec<String>>,
    budget: &mut usize,
) -> Value {
    *budget = budget.saturating_sub(1);
    let links = p.relations().links;
    let mine = children.get(&p.pid()).map_or(&[][..], |v| v.as_slice());
    let mut kids = Vec::new();
    let mut more = 0;
    for c in mine {
        if *budget == 0 {
            more += 1;
            continue;
        }
        let mut node = tree(c, children, names, budget);
        node["linked"] = json!(links.contains(&c.pid()));
        kids.push(node);
    }
    json!({
        "pid": p.pid(),
        "name": names.get(&p.pid()).and_then(|n| n.first()),
        "state": p.stats().state().name(),
        "traps_exit": p.traps_exit(),
        "children": kids,
        "more": more,
    })
}

/// The recent exits, newest first, and the counts by reason since the start.
pub(crate) fn exits(table: &ProcessTable, limit: usize) -> Value {
    let stats = table.stats();
    let recent: Vec<Value> = stats
        .recent_exits()
        .iter()
        .rev()
        .take(limit)
        .map(|e| exit_json(table, e))
        .collect();
    json!({
        "counts": exit_counts(&stats.exits_by_kind()),
        "recent": recent,
    })
}

fn exit_json(table: &ProcessTable, e: &ExitRecord) -> Value {
    json!({
        "pid": e.pid,
        "name": e.names.first(),
        "parent": e.parent,
        "kind": REASON_KINDS[reason_kind(&e.reason)],
        "reason": e.reason.to_string(),
        "at": e.at,
        "lifetime_ms": e.lifetime_ms,
        "cpu_us": table.stats().clock().to_ns(e.cpu_ticks) / 1000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::ExitReason;

    fn query() -> TableQuery {
        TableQuery {
            offset: 0,
            limit: 10,
            sort: SortKey::Pid,
            descending: false,
            text: None,
            state: None,
        }
    }

    #[test]
    fn pages_sort_filter_and_count_states() {
        let t = ProcessTable::new(1000, "");
        let ps: Vec<_> = (0..30).map(|_| t.register().unwrap()).collect();
        t.register_name("alpha", ps[3].pid()).unwrap();
        ps[5].stats().suspended();
        t.deliver(&ps[7], crate::actor::Message::new(0, vec![1, 2, 3]));
        let page = processes(
            &t,
            &TableQuery {
                offset: 10,
                ..query()
            },
        );
        assert_eq!(page["total"], 30);
        assert_eq!(page["rows"].as_array().unwrap().len(), 10);
        assert_eq!(page["rows"][0]["pid"], ps[10].pid());
        assert_eq!(page["states"]["waiting"], 1);
        assert_eq!(page["states"]["running"], 29);
        let by_mailbox = processes(
            &t,
            &TableQuery {
                sort: SortKey::Mailbox,
                descending: true,
                ..query()
            },
        );
        assert_eq!(by_mailbox["rows"][0]["pid"], ps[7].pid());
        // What the mailbox is charged: the payload and the per-message overhead.
        assert_eq!(
            by_mailbox["rows"][0]["mailbox_bytes"],
            crate::actor::Message::new(0, vec![1, 2, 3]).cost()
        );
        let named = processes(
            &t,
            &TableQuery {
                text: Some("ALP".into()),
                ..query()
            },
        );
        assert_eq!(named["matched"], 1);
        assert_eq!(named["rows"][0]["name"], "alpha");
        let waiting = processes(
            &t,
            &TableQuery {
                state: Some(ProcessState::Waiting),
                ..query()
            },
        );
        assert_eq!(waiting["rows"][0]["pid"], ps[5].pid());
    }

    #[test]
    fn pages_put_together_are_the_whole_table_in_order() {
        let t = ProcessTable::new(1000, "");
        let ps: Vec<_> = (0..30).map(|_| t.register().unwrap()).collect();
        for (i, p) in ps.iter().enumerate() {
            for _ in 0..(i * 7) % 5 {
                t.deliver(p, crate::actor::Message::new(0, vec![0; 8]));
            }
        }
        let q = TableQuery {
            sort: SortKey::Mailbox,
            descending: true,
            ..query()
        };
        let pids = |page: &Value| -> Vec<(u64, u64)> {
            page["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["mailbox"].as_u64().unwrap(), r["pid"].as_u64().unwrap()))
                .collect()
        };
        let whole = pids(&processes(
            &t,
            &TableQuery {
                limit: 1000,
                ..q.clone()
            },
        ));
        assert_eq!(whole.len(), 30);
        // Longest mailbox first; among equals, the lower pid first.
        assert!(
            whole
                .windows(2)
                .all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)),
            "{whole:?}"
        );
        let mut paged = Vec::new();
        for offset in (0..35).step_by(7) {
            paged.extend(pids(&processes(
                &t,
                &TableQuery {
                    offset,
                    limit: 7,
                    ..q.clone()
                },
            )));
        }
        assert_eq!(paged, whole);
    }

    #[test]
    fn a_process_shows_its_tree_links_monitors_and_exits_are_kept() {
        let t = ProcessTable::new(1000, "");
        let sup = t.register().unwrap();
        let a = t.register_child(sup.pid()).unwrap();
        let b = t.register_child(sup.pid()).unwrap();
        let grandchild = t.register_child(a.pid()).unwrap();
        t.link(sup.pid(), a.pid());
        let watcher = t.register().unwrap();
        t.monitor(watcher.pid(), sup.pid()).unwrap();
        let v = process(&t, sup.pid()).unwrap();
        assert_eq!(v["tree"]["children"][0]["pid"], a.pid());
        assert_eq!(v["tree"]["children"][0]["linked"], true);
        assert_eq!(v["tree"]["children"][1]["linked"], false);
        assert_eq!(
            v["tree"]["children"][0]["children"][0]["pid"],
            grandchild.pid()
        );
        assert_eq!(v["links"][0]["pid"], a.pid());
        assert_eq!(v["monitored_by"][0]["pid"], watcher.pid());
        let g = process(&t, grandchild.pid()).unwrap();
        assert_eq!(g["ancestors"][0]["pid"], a.pid());
        assert_eq!(g["ancestors"][1]["pid"], sup.pid());
        t.register_name("worker", b.pid()).unwrap();
        t.exit(b.pid(), &ExitReason::Panic("boom".into()));
        let e = exits(&t, 10);
        assert_eq!(e["counts"]["panic"], 1);
        assert_eq!(e["recent"][0]["pid"], b.pid());
        assert_eq!(e["recent"][0]["name"], "worker");
        assert_eq!(e["recent"][0]["parent"], sup.pid());
        assert!(process(&t, b.pid()).is_none());
    }

    #[test]
    fn processes_blocked_on_each_others_full_mailboxes_are_shown_as_a_deadlock() {
        let t = ProcessTable::new(1000, "");
        let a = t.register().unwrap();
        let b = t.register().unwrap();
        let c = t.register().unwrap();
        a.stats().set_blocked_on(Some(b.pid()));
        let v = process(&t, a.pid()).unwrap();
        assert_eq!(v["waits_on"]["chain"], json!([b.pid()]));
        assert_eq!(v["waits_on"]["deadlock"], false);
        b.stats().set_blocked_on(Some(c.pid()));
        c.stats().set_blocked_on(Some(a.pid()));
        let v = process(&t, a.pid()).unwrap();
        assert_eq!(v["waits_on"]["chain"], json!([b.pid(), c.pid(), a.pid()]));
        assert_eq!(v["waits_on"]["deadlock"], true);
        // The rows say whom each waits on, and a bounded mailbox what it did.
        b.mailbox.set_bound(Some(warren_sync::mailbox::Bound {
            messages: 1,
            bytes: usize::MAX,
            when_full: crate::actor::WhenFull::DropNewest,
        }));
        t.deliver(&b, crate::actor::Message::new(0, vec![1]));
        let rows = processes(&t, &query());
        let row_b = rows["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pid"] == b.pid())
            .unwrap()
            .clone();
        assert_eq!(row_b["blocked_on"], c.pid());
        assert_eq!(row_b["mailbox_bound"]["bound"], "1 messages");
        assert_eq!(row_b["mailbox_bound"]["when_full"], "DropNewest");
    }
}
