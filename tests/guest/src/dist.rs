//! Cluster scenarios, run on node `a` while nodes `b` and `c` (and `odd`, another module)
//! serve: `warren run --cluster URL --node a test_guest.wasm dist_basic` (see
//! crates/cli/tests/cluster.rs).

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::time::Duration;
use warren::node::{self, Node};
use warren::{Mailbox, Process, Reply, Signal, SpawnError};

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

fn basic() {
    let (b, c) = nodes();
    wait_all(&["odd", "bare"]);
    let me = node::this().expect("in a cluster");
    println!("this node: {}", me.name().unwrap_or_default());
    let mut names: Vec<String> = node::list().into_iter().filter_map(Node::name).collect();
    names.sort();
    println!("nodes up: {}", names.join(","));

    // A capturing closure spawned on b runs there with its captures.
    let text = String::from("hello");
    let n = 42u64;
    let w = warren::spawn!(on b; text, n; |mailbox: Mailbox<Work>| worker((text, n), mailbox))
        .expect("spawn on b");
    println!("pid on node b: {}", w.node() == b);
    let (here, text, n) = w.request(Work::WhoAmI).expect("who");
    println!("remote spawn: {here} {text} {n}");

    // Request/reply with a process on c.
    let wc = node::spawn_on(c, (String::new(), 0), worker).expect("spawn on c");
    println!(
        "request across nodes: {:?}",
        wc.request(|r| Work::Square(12, r))
    );

    // Order: 10,000 messages arrive in send order.
    for i in 0..10_000 {
        wc.send(&Work::Seq(i));
    }
    println!("ordering: {:?}", wc.request(Work::Count));

    // A link across nodes: the remote panic arrives as an exit signal.
    warren::trap_exit(true);
    let linked = node::spawn_link_on(b, (String::new(), 0), worker).expect("spawn_link on b");
    linked.send(&Work::Panic);
    match Mailbox::<()>::this().receive_signal_timeout(Duration::from_secs(10)) {
        Some(Signal::Exit { from, reason }) => {
            println!("link fired: {} {reason}", from == linked.pid())
        }
        _ => println!("link fired: nothing came"),
    }
    warren::trap_exit(false);

    // A monitor across nodes sees a remote kill.
    let (victim, monitor) =
        node::spawn_monitor_on(c, (String::new(), 0), worker).expect("spawn_monitor on c");
    println!("kill across nodes: {}", victim.kill());
    println!(
        "monitor across nodes: {:?}",
        monitor.wait_timeout(Duration::from_secs(10))
    );
    // Monitoring a dead remote pid: noproc.
    println!(
        "monitor of a dead remote pid: {:?}",
        victim.monitor().wait_timeout(Duration::from_secs(10))
    );

    // Handles cannot leave their node: the send is refused and the pipe stays usable.
    let (mut writer, mut reader) = warren::stream::pipe().expect("pipe");
    let carrier: Process<warren::stream::ByteStream> = Process::from_pid(w.pid());
    match carrier.try_send(&reader) {
        Err(e) => println!("handle send refused: {e}"),
        Ok(sent) => println!("handle send refused: no, sent={sent}"),
    }
    writer.write_all(b"still mine").expect("write");
    drop(writer);
    let mut back = String::new();
    reader.read_to_string(&mut back).expect("read");
    println!("handle still usable: {back}");
    let (w2, r2) = warren::stream::pipe().expect("pipe");
    let refused = node::spawn_on(b, r2, |r2, _m: Mailbox<()>| drop(r2));
    println!("spawn with a handle: {:?}", refused.err());
    drop(w2);

    // Global names: registered on b, found from here, usable.
    println!(
        "register_global on b: {:?}",
        w.request(|r| Work::Register("svc".into(), r))
    );
    let found = node::whereis_global::<Work>("svc");
    println!(
        "whereis_global: {}",
        found.map(|p| p.pid()) == Some(w.pid())
    );
    println!(
        "taken: {:?}",
        Process::<Work>::this().register_global("svc")
    );
    // The name goes when its process exits.
    w.send(&Work::Stop);
    let mut freed = false;
    for _ in 0..1000 {
        if node::whereis_global::<Work>("svc").is_none() {
            freed = true;
            break;
        }
        warren::sleep(Duration::from_millis(10));
    }
    println!("global name freed on exit: {freed}");

    // A node running another module refuses spawns with a clear reason.
    if let Some(odd) = node::wait_for("odd", Duration::from_secs(20)) {
        match node::spawn_on(odd, (String::new(), 0), worker) {
            Err(SpawnError::Remote(why)) => println!("other module: {why}"),
            other => println!("other module: {:?}", other.map(|p| p.pid())),
        }
    }
    // Spawning on a node that is not up.
    let ghost = Node::of(999_999 << 40);
    println!(
        "spawn on a missing node: {}",
        matches!(
            node::spawn_on(ghost, (String::new(), 0), worker),
            Err(SpawnError::NoConnection(_))
        )
    );
    wc.send(&Work::Stop);

    // A node started without a module fetches this one from the cluster for the spawn.
    let bare = node::lookup("bare").expect("node bare is up");
    let text = String::from("x");
    let n = 1u64;
    match warren::spawn!(on bare; text, n; |mailbox: Mailbox<Work>| worker((text, n), mailbox)) {
        Ok(p) => {
            let (here, text, n) = p.request(Work::WhoAmI).expect("who");
            println!("module fetched: {here} {text} {n}");
            p.send(&Work::Stop);
        }
        Err(e) => println!("module fetched: no: {e}"),
    }
}

/// With a linked and a monitored process on c, and a global name held on c: print
/// "ready", wait for the test to kill -9 node c, then report what fired.
fn node_down() {
    let (_b, c) = nodes();
    warren::trap_exit(true);
    let linked = node::spawn_link_on(c, (String::new(), 0), worker).expect("spawn_link on c");
    let (_watched, monitor) =
        node::spawn_monitor_on(c, (String::new(), 0), worker).expect("spawn_monitor on c");
    let node_monitor = c.monitor();
    let events = node::watch().expect("in a cluster");
    println!(
        "leader on c: {:?}",
        linked.request(|r| Work::Register("leader".into(), r))
    );
    println!(
        "whereis leader on c: {}",
        node::whereis_global::<Work>("leader").map(|p| p.node()) == Some(c)
    );
    println!(
        "taking leader while c is up: {:?}",
        Process::<Work>::this().register_global("leader")
    );
    println!("ready");
    let started = std::time::Instant::now();
    match Mailbox::<()>::this().receive_signal_timeout(Duration::from_secs(30)) {
        Some(Signal::Exit { from, reason }) => {
            println!("link: {} {reason}", from == linked.pid())
        }
        _ => println!("link: nothing came"),
    }
    println!(
        "monitor: {:?}",
        monitor.wait_timeout(Duration::from_secs(10))
    );
    println!(
        "node monitor: {:?}",
        node_monitor.wait_timeout(Duration::from_secs(10))
    );
    let event = events.next_timeout(Duration::from_secs(10));
    println!("node event: {}", event == Some(node::NodeEvent::Down(c)));
    events.cancel();
    let secs = started.elapsed().as_secs_f64();
    println!("within the timeout: {}", secs < 10.0);
    println!("c is up: {}", c.is_up());
    println!("send to c: {}", linked.send(&Work::Stop));
    println!(
        "taking leader after c died: {:?}",
        Process::<Work>::this().register_global("leader")
    );
    println!(
        "whereis leader: {}",
        node::whereis_global::<Work>("leader").map(|p| p.pid()) == Some(warren::this())
    );
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
    match Mailbox::<()>::this().receive_signal_timeout(Duration::from_secs(30)) {
        Some(Signal::Exit { from, reason }) => {
            println!("link: {} {reason}", from == linked.pid())
        }
        _ => println!("link: nothing came"),
    }
    // b beats again: it is up, and takes spawns and requests.
    let b = node::wait_for("b", Duration::from_secs(10)).expect("b is up again");
    let again = node::spawn_on(b, (String::new(), 0), worker).expect("spawn on b again");
    println!(
        "after the reset: {:?}",
        again.request(|r| Work::Square(3, r))
    );
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
            if !sink.send(&Work::Bulk(i, vec![i as u8; FLOOD_BYTES])) {
                println!("flood: send {i} failed");
                return;
            }
        }
        println!("flood: sent {FLOOD}");
    })
    .expect("spawn the flooder");
    let (mut sent, mut failed) = (0u64, 0u64);
    loop {
        match probes.try_send(&Work::Seq(sent)) {
            Ok(true) => sent += 1,
            _ => failed += 1,
        }
        if flooding.wait_timeout(Duration::from_millis(20)).is_some() {
            break;
        }
    }
    println!("probes: {sent} sent, {failed} failed");
    println!("flood arrived: {:?}", sink.request(Work::Count));
    println!(
        "probes arrived: {}",
        probes.request(Work::Count) == Ok((sent, true))
    );
    match Mailbox::<()>::this().receive_signal_timeout(Duration::ZERO) {
        None => println!("links: none fired"),
        Some(s) => println!("links: {s:?}"),
    }
    // A process that never stops flooding spends its life waiting for room
    // (`await_room`); a kill there ends it, and only it.
    let (hog, hogging) = warren::spawn_monitor!(sink; |_m: Mailbox<()>| loop {
        sink.send(&Work::Bulk(0, vec![0; FLOOD_BYTES]));
    })
    .expect("spawn the hog");
    warren::sleep(Duration::from_secs(1));
    println!("hog killed: {}", hog.kill());
    println!("hog: {:?}", hogging.wait_timeout(Duration::from_secs(10)));
    println!(
        "b after the hog: {}",
        probes.request(Work::Count) == Ok((sent, true))
    );
}

/// Node a while a publisher without the cluster's secret attacks it (crates/cli/tests/
/// cluster_trust.rs): link a worker on b, say who is who (`ready A B ROOT`), wait — trapping
/// exits — until the test creates the file `done`, then tell whether anything was touched.
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
        if start.elapsed() > Duration::from_secs(300) {
            println!("the test never said it was done");
            return;
        }
        warren::sleep(Duration::from_millis(50));
    }
    match Mailbox::<()>::this().receive_signal_timeout(Duration::from_millis(100)) {
        Some(Signal::Exit { from, reason }) => {
            println!("link: fired ({} {reason})", from == linked.pid())
        }
        _ => println!("link: none fired"),
    }
    let names: Vec<String> = node::list().into_iter().filter_map(Node::name).collect();
    println!("nodes up: {}", names.join(","));
    println!(
        "b still the same: {}",
        node::lookup("b").map(Node::number) == Some(b.number())
    );
    println!("worker on b: {:?}", linked.request(|r| Work::Square(3, r)));
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
        m.wait();
    }
    Process::<()>::this()
        .register_global("dropped")
        .expect("register dropped");
    println!("unregistered: {}", node::unregister_global("dropped"));
    // Releases run after the exits: wait until the last name is free.
    let last = format!("passing-{}", n.saturating_sub(1));
    let start = std::time::Instant::now();
    while node::whereis_global::<()>(&last).is_some() && start.elapsed() < Duration::from_secs(30) {
        warren::sleep(Duration::from_millis(20));
    }
    println!("names: {n} registered and released");
}

/// Spawn on the bare nodes `b`, `c` and `d` (started without a module; `c` trusts only
/// another module's hash) and say where each process runs, or why it does not.
fn bare() {
    wait_all(&["b", "c", "d"]);
    for name in ["b", "c", "d"] {
        let n = node::lookup(name).expect("a bare node");
        match node::spawn_on(n, (String::from("here"), 7), worker) {
            Ok(w) => println!("on {name}: {:?}", w.request(Work::WhoAmI)),
            Err(e) => println!("on {name}: refused: {e}"),
        }
    }
    let mut names: Vec<String> = node::list().into_iter().filter_map(Node::name).collect();
    names.sort();
    println!("nodes up: {}", names.join(","));
}
