//! Guest log records as `tracing` events with the guest's own target.
//!
//! `tracing` filters and prints by an event's *callsite*: its static metadata (target, level,
//! field names). A guest's records have targets only known at run time (`my_app::db`), so the
//! host makes one callsite per (target, level) the first time it sees the pair, leaks it (a
//! callsite lives for the program, as a macro's static does) and registers it with `tracing`.
//! A filter such as `RUST_LOG=my_app::db=debug` then applies to a guest's records exactly as
//! to the host's own, and the printed target is the guest's.
//!
//! Bounded: at most [`MAX_SITES`] callsites are made (about 0.5 KiB each); past that (a guest
//! making up targets), records go out on one callsite per level with the target
//! [`OVERFLOW_TARGET`] and the guest's target at the head of the message.
//!
//! Every record carries the fields `pid`, `name` (the process's first registered name, if it
//! has one), `node` (its node number, 0 outside a cluster) and, after records were dropped for
//! the process's rate, `dropped` (how many).

use crate::sync::ReadWriteLocked;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use tracing::callsite::{Callsite, Identifier};
use tracing::field::{FieldSet, Value};
use tracing::metadata::Kind;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata};

/// Most callsites made for guest targets.
pub(crate) const MAX_SITES: usize = 1024;
/// The target of records whose own target found no room.
pub(crate) const OVERFLOW_TARGET: &str = "warren::guest";

const FIELDS: &[&str] = &["message", "pid", "name", "node", "dropped"];

/// A callsite made at run time.
struct Site {
    meta: OnceLock<Metadata<'static>>,
}

impl Callsite for Site {
    fn set_interest(&self, _: Interest) {
        // Every record asks the dispatcher (`enabled`); nothing is cached here.
    }

    fn metadata(&self) -> &Metadata<'_> {
        // Set before the site is registered or used (`make`).
        self.meta
            .get()
            .expect("a guest callsite's metadata is set when it is made")
    }
}

/// Make, register and leak the callsite of `target` at `level`.
fn make(target: &str, level: Level) -> &'static Site {
    let site: &'static Site = Box::leak(Box::new(Site {
        meta: OnceLock::new(),
    }));
    let target: &'static str = Box::leak(target.to_owned().into_boxed_str());
    let _ = site.meta.set(Metadata::new(
        "guest log record",
        target,
        level,
        None,
        None,
        None,
        FieldSet::new(FIELDS, Identifier(site)),
        Kind::EVENT,
    ));
    tracing::callsite::register(site);
    site
}

/// The callsites made so far, by level (error first), then target.
type Sites = RwLock<[HashMap<Box<str>, &'static Site>; 5]>;

fn sites() -> &'static Sites {
    static SITES: OnceLock<Sites> = OnceLock::new();
    SITES.get_or_init(Default::default)
}

/// The overflow callsite of `level`.
fn overflow(level: Level) -> &'static Site {
    static OVERFLOW: OnceLock<[&'static Site; 5]> = OnceLock::new();
    let all = OVERFLOW.get_or_init(|| {
        [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ]
        .map(|l| make(OVERFLOW_TARGET, l))
    });
    all[level_index(level)]
}

fn level_index(level: Level) -> usize {
    match level {
        Level::ERROR => 0,
        Level::WARN => 1,
        Level::INFO => 2,
        Level::DEBUG => 3,
        _ => 4,
    }
}

/// The callsite for `target` at `level`, and whether it is the overflow one.
fn site(target: &str, level: Level) -> (&'static Site, bool) {
    let i = level_index(level);
    if let Some(s) = sites().read_locked()[i].get(target) {
        return (s, false);
    }
    let mut all = sites().write_locked();
    if let Some(s) = all[i].get(target) {
        return (s, false);
    }
    if all.iter().map(HashMap::len).sum::<usize>() >= MAX_SITES {
        return (overflow(level), true);
    }
    let s = make(target, level);
    all[i].insert(target.into(), s);
    (s, false)
}

/// A record's place: its callsite, once the subscriber said it wants it.
pub(crate) struct Wanted {
    site: &'static Site,
    overflow: bool,
}

/// Whether the current subscriber wants a record of `target` at `level`.
pub(crate) fn wanted(target: &str, level: Level) -> Option<Wanted> {
    if level > tracing::level_filters::LevelFilter::current() {
        return None;
    }
    let (site, overflow) = site(target, level);
    let meta = site.metadata();
    tracing::dispatcher::get_default(|d| d.enabled(meta)).then_some(Wanted { site, overflow })
}

/// What a record says besides its message.
pub(crate) struct Fields<'a> {
    pub pid: u64,
    pub name: Option<&'a str>,
    pub node: u64,
    pub dropped: u64,
}

/// Emit a record the subscriber wanted.
pub(crate) fn emit(wanted: Wanted, target: &str, message: &str, f: Fields<'_>) {
    let Some(meta) = wanted.site.meta.get() else {
        return;
    };
    let fields = meta.fields();
    let field = |name: &str| fields.field(name);
    let (Some(m), Some(pid), Some(name), Some(node), Some(dropped)) = (
        field("message"),
        field("pid"),
        field("name"),
        field("node"),
        field("dropped"),
    ) else {
        return;
    };
    let text;
    let message: &str = if wanted.overflow {
        text = format!("{target}: {message}");
        &text
    } else {
        message
    };
    let values: [(&tracing::field::Field, Option<&dyn Value>); 5] = [
        (&m, Some(&message as &dyn Value)),
        (&pid, Some(&f.pid)),
        (&name, f.name.as_ref().map(|n| n as &dyn Value)),
        (&node, Some(&f.node)),
        (
            &dropped,
            (f.dropped > 0).then_some(&f.dropped as &dyn Value),
        ),
    ];
    Event::dispatch(meta, &fields.value_set(&values));
}

/// The most verbose level any target may be emitted at now, as a `warren:log` level.
pub(crate) fn max_level() -> i32 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::OFF => warren_abi::LOG_OFF,
        LevelFilter::ERROR => warren_abi::LOG_ERROR,
        LevelFilter::WARN => warren_abi::LOG_WARN,
        LevelFilter::INFO => warren_abi::LOG_INFO,
        LevelFilter::DEBUG => warren_abi::LOG_DEBUG,
        _ => warren_abi::LOG_TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};

    /// Wants targets starting with `app` or the overflow target; keeps what it is given.
    #[derive(Default)]
    struct Keep(Mutex<Vec<(String, Level, String)>>);

    struct Seen(String);
    impl Visit for Seen {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={:?} ", field.name(), value));
        }
    }

    impl tracing::Subscriber for Keep {
        fn enabled(&self, meta: &Metadata<'_>) -> bool {
            meta.target().starts_with("app") || meta.target() == OVERFLOW_TARGET
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut f = Seen(String::new());
            event.record(&mut f);
            let meta = event.metadata();
            self.0
                .lock()
                .unwrap()
                .push((meta.target().to_string(), *meta.level(), f.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(tracing::level_filters::LevelFilter::TRACE)
        }
    }

    #[test]
    fn records_go_out_under_the_guests_target_and_overflow_is_bounded() {
        let keep = std::sync::Arc::new(Keep::default());
        let dispatch = tracing::Dispatch::from(keep.clone());
        tracing::dispatcher::with_default(&dispatch, || {
            assert!(wanted("other::thing", Level::INFO).is_none());
            let w = wanted("app::db", Level::WARN).expect("wanted");
            let fields = Fields {
                pid: 7,
                name: Some("db"),
                node: 0,
                dropped: 0,
            };
            emit(w, "app::db", "slow query", fields);
            let w = wanted("app::db", Level::WARN).expect("wanted again");
            let fields = Fields {
                pid: 7,
                name: None,
                node: 2,
                dropped: 5,
            };
            emit(w, "app::db", "again", fields);
            // Make up targets until the callsites run out: the rest share the overflow one.
            for i in 0..MAX_SITES + 10 {
                let target = format!("app::made_up_{i}");
                if let Some(w) = wanted(&target, Level::ERROR) {
                    emit(
                        w,
                        &target,
                        "x",
                        Fields {
                            pid: 1,
                            name: None,
                            node: 0,
                            dropped: 0,
                        },
                    );
                }
            }
        });
        let got = keep.0.lock().unwrap();
        assert_eq!(got[0].0, "app::db");
        assert_eq!(got[0].1, Level::WARN);
        assert_eq!(got[0].2, "message=\"slow query\" pid=7 name=\"db\" node=0 ");
        assert_eq!(got[1].2, "message=\"again\" pid=7 node=2 dropped=5 ");
        assert!(
            sites()
                .read()
                .unwrap()
                .iter()
                .map(HashMap::len)
                .sum::<usize>()
                <= MAX_SITES
        );
        let last = got.last().expect("the last made-up record");
        assert_eq!(last.0, OVERFLOW_TARGET);
        assert_eq!(
            last.2,
            format!(
                "message=\"app::made_up_{}: x\" pid=1 node=0 ",
                MAX_SITES + 9
            )
        );
    }
}
