//! Cluster scenarios, run on node `a` while nodes `b` and `c` (and `odd`, another module)
//! serve: `warren run --cluster URL --node a test_guest.wasm dist_basic` (see
//! crates/cli/tests/cluster.rs).

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::time::Duration;
use warren::bound::{MailboxBound, WhenFull};
use warren::node::{self, Node};
use warren::{
    ExitReason, Mailbox, Process, RegisterError, Reply, SendError, Signal, SpawnError, SpawnOptions,
};

#[derive(Serialize, Deserialize)]
enum Work {
    Square(u64, Reply<u64>),
    /// Its node's name, and its captures.
    WhoAmI(Reply<(String, String, u64)>),
    Panic,
    Seq(u64),
    /// A `Seq` with a payload.
    Bulk(u64, Vec<u8>),
    /// How many `Seq` (or `Bulk`) came, and whether in order.
    Count(Reply<(u64, bool)>),
    /// Register a global name for itself.
    Register(String, Reply<bool>),
    Stop,
}

fn worker((text, n): (String, u64), mailbox: Mailbox<Work>) {
    let (mut next, mut in_order) = (0u64, true);
    loop {
        match mailbox.receive() {
            Work::Square(x, r) => {
                r.send(&(x * x));
            }
            Work::WhoAmI(r) => {
                let here = node::this().and_then(Node::name).unwrap_or_default();
                r.send(&(here, text.clone(), n));
            }
            Work::Panic => panic!(
                "boom on {}",
                node::this().and_then(Node::name).unwrap_or_default()
            ),
            Work::Seq(i) | Work::Bulk(i, _) => {
                in_order &= i == next;
                next = i + 1;
            }
            Work::Count(r) => {
                r.send(&(next, in_order));
            }
            Work::Register(name, r) => {
                r.send(&Process::<Work>::this().register_global(&name).is_ok());
            }
            Work::Stop => return,
        }
    }
}

fn nodes() -> (Node, Node) {
    let wait = Duration::from_secs(20);
    let b = node::wait_for("b", wait).expect("node b is up");
    let c = node::wait_for("c", wait).expect("node c is up");
    (b, c)
}

/// Wait until the nodes named are all up (and `a` sees them).
fn wait_all(names: &[&str]) {
    for n in names {
        node::wait_for(n, Duration::from_secs(20)).unwrap_or_else(|| panic!("node {n} is up"));
    }
}

pub fn run(scenario: &str) -> bool {
    match scenario {
        "dist_basic" => basic(),
        "dist_node_down" => node_down(),
        "dist_gap" => gap(),
        "dist_flood" => flood(),
        "dist_bounded" => bounded(),
        "dist_bare" => bare(),
        "dist_trust" => trust(&std::env::args().nth(2).unwrap_or_default()),
        "dist_names" => names(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(100),
        ),
        _ => return false,
    }
    true
}

/// How long a scenario waits for what it expects from another node before it fails.
const WAIT: Duration = Duration::from_secs(10);

/// The names of the nodes up, sorted.
fn nodes_up() -> Vec<String> {
    let mut names: Vec<String> = node::list().into_iter().filter_map(Node::name).collect();
    names.sort();
    names
}

/// The exit signal that arrives next (this process traps exits), as (from, reason).
fn next_exit(within: Duration) -> (u64, ExitReason) {
    match Mailbox::<()>::this().receive_signal_timeout(within) {
        Some(Signal::Exit { from, reason }) => (from, reason),
        Some(Signal::Message(())) => panic!("a message instead of an exit signal"),
        None => panic!("no exit signal within {within:?}"),
    }
}

fn basic() {
    let (b, c) = nodes();
    wait_all(&["odd", "bare"]);
    let me = node::this().expect("in a cluster");
    assert_eq!(me.name().as_deref(), Some("a"));
    assert_eq!(nodes_up(), ["b", "bare", "c", "odd"]);

    // A capturing closure spawned on b runs there with its captures.
    let text = String::from("hello");
    let n = 42u64;
    let w = warren::spawn!(on b; text, n; |mailbox: Mailbox<Work>| worker((text, n), mailbox))
        .expect("spawn on b");
    assert_eq!(w.node(), b, "the pid is on node b");
    assert_eq!(
        w.request(Work::WhoAmI),
        Ok(("b".to_string(), "hello".to_string(), 42))
    );

    // Request/reply with a process on c.
    let wc = node::spawn_on(c, (String::new(), 0), worker).expect("spawn on c");
    assert_eq!(wc.request(|r| Work::Square(12, r)), Ok(144));

    // Order: 10,000 messages arrive in send order.
    for i in 0..10_000 {
        wc.send(&Work::Seq(i));
    }
    assert_eq!(wc.request(Work::Count), Ok((10_000, true)));

    // A link across nodes: the remote panic arrives as an exit signal.
    warren::trap_exit(true);
    let linked = node::spawn_link_on(b, (String::new(), 0), worker).expect("spawn_link on b");
    linked.send(&Work::Panic);
    let (from, reason) = next_exit(WAIT);
    assert_eq!(from, linked.pid());
    assert!(
        matches!(reason, ExitReason::Panic(ref m) if m.starts_with("boom on b at")),
        "{reason}"
    );
    warren::trap_exit(false);

    // A monitor across nodes sees a remote kill.
    let (victim, monitor) =
        node::spawn_monitor_on(c, (String::new(), 0), worker).expect("spawn_monitor on c");
    assert!(victim.kill(), "kill across nodes");
    assert_eq!(monitor.wait_timeout(WAIT), Some(ExitReason::Killed));
    // Monitoring a dead remote pid: noproc.
    assert_eq!(
        victim.monitor().wait_timeout(WAIT),
        Some(ExitReason::NoProc)
    );

    // Handles cannot leave their node: the send is refused and the pipe stays usable.
    let (mut writer, mut reader) = warren::stream::pipe().expect("pipe");
    let carrier: Process<warren::stream::ByteStream> = Process::from_pid(w.pid());
    let e = carrier
        .try_send(&reader)
        .expect_err("a handle sent to another node");
    assert!(
        e.to_string().contains("handles cannot leave their node"),
        "{e}"
    );
    writer.write_all(b"still mine").expect("write");
    drop(writer);
    let mut back = String::new();
    reader.read_to_string(&mut back).expect("read");
    assert_eq!(back, "still mine", "the handle is still usable");
    let (w2, r2) = warren::stream::pipe().expect("pipe");
    let refused = node::spawn_on(b, r2, |r2, _m: Mailbox<()>| drop(r2));
    assert_eq!(
        refused.err(),
        Some(SpawnError::NotLocal),
        "a spawn with a handle"
    );
    drop(w2);

    // Global names: registered on b, found from here, usable.
    assert_eq!(w.request(|r| Work::Register("svc".into(), r)), Ok(true));
    let found = node::whereis_global::<Work>("svc");
    assert_eq!(found.map(|p| p.pid()), Some(w.pid()));
    assert_eq!(
        Process::<Work>::this().register_global("svc"),
        Err(RegisterError::Taken)
    );
    // The name goes when its process exits.
    w.send(&Work::Stop);
    let freed = (0..1000).any(|_| {
        let gone = node::whereis_global::<Work>("svc").is_none();
        if !gone {
            warren::sleep(Duration::from_millis(10));
        }
        gone
    });
    assert!(freed, "the global name is freed when its process exits");

    // A node running another module refuses spawns with a clear reason.
    let odd = node::wait_for("odd", Duration::from_secs(20)).expect("node odd is up");
    match node::spawn_on(odd, (String::new(), 0), worker) {
        Err(SpawnError::Remote(why)) => assert!(
            why.contains("runs module") && why.contains("every node must run the same module"),
            "{why}"
        ),
        other => panic!("a node of another module: {:?}", other.map(|p| p.pid())),
    }
    // Spawning on a node that is not up.
    let ghost = Node::of(999_999 << 40);
    assert!(matches!(
        node::spawn_on(ghost, (String::new(), 0), worker),
        Err(SpawnError::NoConnection(_))
    ));
    wc.send(&Work::Stop);

    // A node started without a module fetches this one from the cluster for the spawn.
    let bare = node::lookup("bare").expect("node bare is up");
    let text = String::from("x");
    let n = 1u64;
    let p = warren::spawn!(on bare; text, n; |mailbox: Mailbox<Work>| worker((text, n), mailbox))
        .expect("a bare node fetches the module");
    assert_eq!(
        p.request(Work::WhoAmI),
        Ok(("bare".to_string(), "x".to_string(), 1))
    );
    p.send(&Work::Stop);
    println!("across nodes: spawn, messages, links, monitors, handles and names held");
}

/// With a linked and a monitored process on c, and a global name held on c: print
/// "ready", wait for the test to kill -9 node c, then check what fired.
fn node_down() {
    let (_b, c) = nodes();
    warren::trap_exit(true);
    let linked = node::spawn_link_on(c, (String::new(), 0), worker).expect("spawn_link on c");
    let (_watched, monitor) =
        node::spawn_monitor_on(c, (String::new(), 0), worker).expect("spawn_monitor on c");
    let node_monitor = c.monitor();
    let events = node::watch().expect("in a cluster");
    assert_eq!(
        linked.request(|r| Work::Register("leader".into(), r)),
        Ok(true)
    );
    assert_eq!(
        node::whereis_global::<Work>("leader").map(|p| p.node()),
        Some(c)
    );
    assert_eq!(
        Process::<Work>::this().register_global("leader"),
        Err(RegisterError::Taken),
        "taking leader while c is up"
    );
    println!("ready");
    let started = std::time::Instant::now();
    let (from, reason) = next_exit(Duration::from_secs(30));
    assert_eq!((from, reason), (linked.pid(), ExitReason::NoConnection));
    assert_eq!(monitor.wait_timeout(WAIT), Some(ExitReason::NoConnection));
    assert_eq!(
        node_monitor.wait_timeout(WAIT),
        Some(ExitReason::NoConnection)
    );
    assert_eq!(events.next_timeout(WAIT), Some(node::NodeEvent::Down(c)));
    events.cancel();
    let secs = started.elapsed().as_secs_f64();
    assert!(secs < 10.0, "noticed after {secs} s");
    assert!(!c.is_up());
    assert!(!linked.send(&Work::Stop), "a send to c");
    assert_eq!(
        Process::<Work>::this().register_global("leader"),
        Ok(()),
        "taking leader after c died"
    );
    assert_eq!(
        node::whereis_global::<Work>("leader").map(|p| p.pid()),
        Some(warren::this())
    );
    println!("node c down: links, monitors and names saw it");
}

/// Print "ready A B" (this node's and b's numbers) with a process on b linked; the test then
/// injects a frame "from b" that breaks the stream's sequence. The link must fire with
/// noconnection (never a silent hole), and b must be usable again afterwards.
fn gap() {
    let (b, _) = nodes();
    warren::trap_exit(true);
    let linked = node::spawn_link_on(b, (String::new(), 0), worker).expect("spawn_link on b");
    println!(
        "ready {} {}",
        node::this().map_or(0, Node::number),
        b.number()
    );
    let (from, reason) = next_exit(Duration::from_secs(30));
    assert_eq!((from, reason), (linked.pid(), ExitReason::NoConnection));
    // b beats again: it is up, and takes spawns and requests.
    let b = node::wait_for("b", WAIT).expect("b is up again");
    let again = node::spawn_on(b, (String::new(), 0), worker).expect("spawn on b again");
    assert_eq!(again.request(|r| Work::Square(3, r)), Ok(9));
    println!("the gap tore b down with noconnection, and b came back");
}

/// Messages for b: how many, and how large, the flooder sends.
const FLOOD: u64 = 160;
const FLOOD_BYTES: usize = 256 << 10;

/// Run with a slow link to the NATS server and a small send mark: one process sends b
/// `FLOOD` messages of `FLOOD_BYTES` as fast as it can, while this one sends b small
/// probes. The flooder waits for room instead of failing, so every message of both arrives
/// in order and no link to b fires.
fn flood() {
    let b = node::wait_for("b", Duration::from_secs(20)).expect("node b is up");
    warren::trap_exit(true);
    let sink = node::spawn_link_on(b, (String::new(), 0), worker).expect("sink on b");
    let probes = node::spawn_link_on(b, (String::new(), 0), worker).expect("probe sink on b");
    let (_flooder, flooding) = warren::spawn_monitor!(sink; |_m: Mailbox<()>| {
        for i in 0..FLOOD {
            assert!(sink.send(&Work::Bulk(i, vec![i as u8; FLOOD_BYTES])), "flood: send {i}");
        }
    })
    .expect("spawn the flooder");
    let (mut sent, mut failed) = (0u64, 0u64);
    let flooded = loop {
        match probes.try_send(&Work::Seq(sent)) {
            Ok(true) => sent += 1,
            _ => failed += 1,
        }
        if let Some(reason) = flooding.wait_timeout(Duration::from_millis(20)) {
            break reason;
        }
    };
    assert_eq!(flooded, ExitReason::Normal, "the flooder sent all {FLOOD}");
    assert_eq!(
        (sent > 0, failed),
        (true, 0),
        "probes: {sent} sent, {failed} failed"
    );
    assert_eq!(
        sink.request(Work::Count),
        Ok((FLOOD, true)),
        "the flood arrived"
    );
    assert_eq!(
        probes.request(Work::Count),
        Ok((sent, true)),
        "the probes arrived"
    );
    if let Some(s) = Mailbox::<()>::this().receive_signal_timeout(Duration::ZERO) {
        panic!("a link fired: {s:?}");
    }
    // A process that never stops flooding spends its life waiting for room
    // (`await_room`); a kill there ends it, and only it.
    let (hog, hogging) = warren::spawn_monitor!(sink; |_m: Mailbox<()>| loop {
        sink.send(&Work::Bulk(0, vec![0; FLOOD_BYTES]));
    })
    .expect("spawn the hog");
    warren::sleep(Duration::from_secs(1));
    assert!(hog.kill(), "the hog is killed");
    assert_eq!(hogging.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert_eq!(
        probes.request(Work::Count),
        Ok((sent, true)),
        "b after the hog"
    );
    println!("flood: {FLOOD} sent, {sent} probes through, no link fired, the hog killed");
}

/// Node a while a publisher without the cluster's secret attacks it (crates/cli/tests/
/// cluster_trust.rs): link a worker on b, say who is who (`ready A B ROOT`), wait — trapping
/// exits — until the test creates the file `done`, then check that nothing was touched.
fn trust(done: &str) {
    let b = node::wait_for("b", Duration::from_secs(20)).expect("node b is up");
    warren::trap_exit(true);
    let linked = node::spawn_link_on(b, (String::new(), 0), worker).expect("spawn_link on b");
    println!(
        "ready {} {} {}",
        node::this().map_or(0, Node::number),
        b.number(),
        Process::<()>::this().pid()
    );
    let start = std::time::Instant::now();
    while !std::path::Path::new(done).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the test never said it was done"
        );
        warren::sleep(Duration::from_millis(50));
    }
    if let Some(Signal::Exit { from, reason }) =
        Mailbox::<()>::this().receive_signal_timeout(Duration::from_millis(100))
    {
        panic!(
            "a link fired (from the worker on b: {}): {reason}",
            from == linked.pid()
        );
    }
    assert_eq!(nodes_up(), ["b"]);
    assert_eq!(
        node::lookup("b").map(Node::number),
        Some(b.number()),
        "b is still the same node"
    );
    assert_eq!(
        linked.request(|r| Work::Square(3, r)),
        Ok(9),
        "the worker on b"
    );
    println!("untouched");
}

/// Register and drop `n` global names, each by a process of its own that exits (its names
/// are released), and one more dropped by name: the bucket keeps no trace of them.
fn names(n: u64) {
    for i in 0..n {
        let (_p, m) = warren::spawn_monitor!(i; |_m: Mailbox<()>| {
            Process::<()>::this()
                .register_global(&format!("passing-{i}"))
                .expect("a fresh global name");
        })
        .expect("spawn a registrar");
        assert_eq!(m.wait(), ExitReason::Normal, "registrar {i}");
    }
    Process::<()>::this()
        .register_global("dropped")
        .expect("register dropped");
    assert!(node::unregister_global("dropped"));
    // Releases run after the exits: wait until the last name is free.
    let last = format!("passing-{}", n.saturating_sub(1));
    let start = std::time::Instant::now();
    while node::whereis_global::<()>(&last).is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{last} still registered"
        );
        warren::sleep(Duration::from_millis(20));
    }
    println!("names: {n} registered and released");
}

/// Spawn on the bare nodes `b`, `c` and `d` (started without a module; `c` trusts only
/// another module's hash): b and d fetch this module and run the process, c refuses.
fn bare() {
    wait_all(&["b", "c", "d"]);
    for name in ["b", "d"] {
        let n = node::lookup(name).expect("a bare node");
        let w = node::spawn_on(n, (String::from("here"), 7), worker)
            .unwrap_or_else(|e| panic!("a spawn on {name}: {e}"));
        assert_eq!(
            w.request(Work::WhoAmI),
            Ok((name.to_string(), "here".to_string(), 7))
        );
    }
    let c = node::lookup("c").expect("a bare node");
    match node::spawn_on(c, (String::from("here"), 7), worker) {
        Err(e) => assert!(e.to_string().contains("trusts only"), "{e}"),
        Ok(_) => panic!("c ran a module it does not trust"),
    }
    assert_eq!(nodes_up(), ["b", "c", "d"]);
    println!("bare nodes: b and d fetched the module, c refused it");
}

/// What a bounded consumer of `bounded` takes.
#[derive(Serialize, Deserialize)]
enum Flow {
    Item(u64),
    /// Items taken so far, whether in order, and the most messages its mailbox held at once.
    Report(Reply<(u64, bool, usize)>),
}

/// What a consumer asks the scenario's process before it takes anything: the answer (a
/// reply: never held back by a bound) lets it go.
#[derive(Serialize, Deserialize)]
struct Ready(Reply<()>);

/// A consumer that takes nothing until let go, then takes items, `pace` each.
fn consumer((root, pace): (Process<Ready>, Duration), mailbox: Mailbox<Flow>) {
    let _ = root.request(Ready);
    let (mut next, mut in_order, mut most) = (0u64, true, 0usize);
    loop {
        most = most.max(mailbox.len());
        match mailbox.receive() {
            Flow::Item(i) => {
                in_order &= i == next;
                next = i + 1;
                if !pace.is_zero() {
                    warren::sleep(pace);
                }
            }
            Flow::Report(r) => {
                r.send(&(next, in_order, most));
            }
        }
    }
}

/// A held consumer on `b` (linked), and the reply that lets it go.
fn consumer_on(b: Node, bound: MailboxBound, pace: Duration) -> (Process<Flow>, Reply<()>) {
    let consumer = SpawnOptions::new()
        .on(b)
        .link()
        .mailbox(bound)
        .spawn((Process::<Ready>::this(), pace), consumer)
        .expect("a bounded consumer on b");
    match Mailbox::<Ready>::this().receive_timeout(WAIT) {
        Some(Ready(go)) => (consumer, go),
        None => panic!("the consumer on b did not say it was ready"),
    }
}

/// Bounded mailboxes across nodes: a producer on `a` feels a held consumer's bound on `b`
/// (blocked, failed, timed out) while other traffic between the nodes flows; nothing is lost
/// or reordered; blocked senders can be killed, and are let go when their receiver dies.
///
/// Messages on their way when `b` says "full" are parked there (a round trip's worth), so a
/// producer is held only after that: the counts are far above any round trip's.
fn bounded() {
    const ITEMS: u64 = 20_000;
    let b = node::wait_for("b", Duration::from_secs(20)).expect("node b is up");
    warren::trap_exit(true);

    // Block (the default policy): the producer waits while the consumer takes nothing, and
    // then goes at its pace; the consumer never holds more than its bound, and gets every
    // item in order.
    let (slow, go) = consumer_on(b, MailboxBound::messages(4), Duration::ZERO);
    let (_producer, producing) = warren::spawn_monitor!(slow; |_m: Mailbox<()>| {
        for i in 0..ITEMS {
            assert!(slow.send(&Flow::Item(i)), "send {i}");
        }
    })
    .expect("spawn the producer");
    // Meanwhile other processes' traffic with b is not held up behind it.
    let echo = node::spawn_link_on(b, (String::new(), 0), worker).expect("a worker on b");
    for x in 0..20u64 {
        assert_eq!(
            echo.request_timeout(|r| Work::Square(x, r), WAIT),
            Ok(x * x),
            "a request to another process of b while the producer waits"
        );
    }
    assert_eq!(
        producing.wait_timeout(Duration::ZERO),
        None,
        "the producer cannot be done while the consumer takes nothing"
    );
    assert!(go.send(&()));
    assert_eq!(
        producing.wait_timeout(Duration::from_secs(120)),
        Some(ExitReason::Normal)
    );
    let (taken, in_order, most) = slow.request_timeout(Flow::Report, WAIT).expect("a report");
    assert_eq!((taken, in_order), (ITEMS, true), "every item, in order");
    assert!(
        most <= 4,
        "the bound held on b: {most} messages queued at once"
    );

    // Fail: sends fail once b said the mailbox is full; every send that succeeded arrives
    // (those on their way when a heard it too), in order.
    let (held, go) = consumer_on(
        b,
        MailboxBound::messages(2).when_full(WhenFull::Fail),
        Duration::ZERO,
    );
    let (mut sent, mut full) = (0u64, 0u64);
    while full < 5 {
        match held.try_send(&Flow::Item(sent)) {
            Ok(true) => sent += 1,
            Err(SendError::Full) => full += 1,
            other => panic!("a send to a full failing mailbox: {other:?}"),
        }
        assert!(sent < 10 * ITEMS, "no send failed: {sent} went");
    }
    assert!(go.send(&()));
    // The report's request is an ordinary message too: it fails until b said there is room.
    let report = loop {
        match held.request_timeout(Flow::Report, WAIT) {
            Ok(report) => break report,
            Err(warren::RequestError::Full) => warren::sleep(Duration::from_millis(10)),
            Err(e) => panic!("a report: {e}"),
        }
    };
    assert_eq!(
        (report.0, report.1),
        (sent, true),
        "what was sent arrived, in order"
    );

    // A consumer never let go: a send with a timeout gives up; a blocked sender is killed
    // while it waits; another is let go when the consumer dies.
    let (stuck, _never) = consumer_on(b, MailboxBound::messages(1), Duration::ZERO);
    let mut timed_out = 0u64;
    while timed_out == 0 {
        match stuck.send_timeout(&Flow::Item(0), Duration::from_millis(20)) {
            Ok(true) => {}
            Err(SendError::TimedOut) => timed_out += 1,
            other => panic!("a send with a timeout: {other:?}"),
        }
    }
    let blocked = || {
        warren::spawn_monitor!(stuck; |_m: Mailbox<()>| {
            stuck.send(&Flow::Item(u64::MAX));
        })
        .expect("spawn a blocked sender")
    };
    let (killed, killed_down) = blocked();
    let (_freed, freed_down) = blocked();
    assert_eq!(
        killed_down.wait_timeout(Duration::from_millis(200)),
        None,
        "it waits"
    );
    assert!(killed.kill());
    assert_eq!(killed_down.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert_eq!(freed_down.wait_timeout(Duration::ZERO), None, "it waits");
    assert!(stuck.kill());
    assert_eq!(
        freed_down.wait_timeout(WAIT),
        Some(ExitReason::Normal),
        "a sender blocked on a consumer that died goes on"
    );
    println!(
        "bounded across nodes: {ITEMS} items at the consumer's pace (at most {most} queued), \
         {sent} sent and {full} failed, timeouts, kills and a dead receiver held"
    );
}
