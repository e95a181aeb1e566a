//! Hibernation scenarios. They assert inside the guest (a failed check panics, and the root's
//! exit reason says which), and print one line at the end; `hibernate_idle` also talks to a
//! host mailbox for crates/runtime/tests/hibernate.rs.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::time::Duration;
use warren::net::{TcpListener, TcpStream};
use warren::stream::{ByteStream, pipe};
use warren::{ExitReason, Mailbox, Process, Reply, Signal, hibernate, hibernate_watching, spawn};

pub fn run(scenario: &str, arg: Option<&str>) -> bool {
    match scenario {
        "hibernate" => keeps_everything(),
        "hibernate_idle" => idle(arg.and_then(|a| a.parse().ok()).unwrap_or(1000)),
        "hibernate_socket" => socket(),
        "hibernate_supervisor" => sleepy_supervisor(),
        _ => return false,
    }
    true
}

#[derive(Serialize, Deserialize)]
enum Cmd {
    /// The next number of a sequence the counter checks (nothing lost, nothing reordered).
    Seq(u64),
    Get(Reply<u64>),
    /// Read what the pipe it holds carries, and answer it.
    ReadPipe(Reply<String>),
    /// Set a timer to itself, then hibernate: the timer's message wakes it.
    Tick(Process<String>),
    Tock(Process<String>),
    Crash,
    Stop,
}

/// A counter that hibernates after every message, carrying its state and a pipe reader.
fn counter(state: (u64, Option<ByteStream>), mailbox: Mailbox<Cmd>) {
    let (mut next, mut reader) = state;
    match mailbox.receive() {
        Cmd::Seq(n) => {
            assert_eq!(n, next, "hibernation lost or reordered a message");
            next += 1;
        }
        Cmd::Get(reply) => {
            reply.send(&next);
        }
        Cmd::ReadPipe(reply) => {
            let mut text = String::new();
            reader
                .take()
                .expect("the pipe reader survived hibernation")
                .read_to_string(&mut text)
                .expect("reading the pipe after hibernation");
            reply.send(&text);
        }
        Cmd::Tick(to) => {
            let me: Process<Cmd> = Process::this();
            let _timer = me.send_after(&Cmd::Tock(to), Duration::from_millis(30));
        }
        Cmd::Tock(to) => {
            to.send(&"tock".to_string());
        }
        Cmd::Crash => panic!("crashed after hibernating"),
        Cmd::Stop => return,
    }
    let state = (next, reader);
    warren::hibernate!(state; |mailbox: Mailbox<Cmd>| counter(state, mailbox))
}

fn keeps_everything() {
    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    let (mut writer, reader) = pipe().unwrap();
    let c = spawn((0u64, Some(reader)), counter).unwrap();
    c.register("counter").unwrap();
    let down = c.monitor();
    // Messages sent while it hibernates arrive, all and in order.
    for n in 0..2000 {
        c.send(&Cmd::Seq(n));
    }
    assert_eq!(c.request(Cmd::Get).unwrap(), 2000);
    // Its name, still its own.
    let found: Process<Cmd> = warren::whereis("counter").expect("the name survived");
    assert_eq!(found.pid(), c.pid());
    // A handle carried in its captures across many hibernations.
    writer.write_all(b"through the pipe").unwrap();
    drop(writer);
    assert_eq!(c.request(Cmd::ReadPipe).unwrap(), "through the pipe");
    // A timer it set fires into its hibernation and wakes it.
    c.send(&Cmd::Tick(me));
    assert_eq!(mailbox.receive(), "tock");
    // A link made before it hibernated carries its crash; the monitor sees the real reason.
    warren::trap_exit(true);
    c.link();
    c.send(&Cmd::Crash);
    let signals: Mailbox<()> = Mailbox::this();
    match signals.receive_signal() {
        Signal::Exit { from, reason } => {
            assert_eq!(from, c.pid());
            assert!(
                matches!(reason, ExitReason::Panic(ref m) if m.contains("crashed after hibernating")),
                "{reason}"
            );
        }
        Signal::Message(()) => panic!("expected the counter's exit signal"),
    }
    assert!(matches!(down.wait(), ExitReason::Panic(_)));
    assert!(
        warren::whereis::<Cmd>("counter").is_none(),
        "the name went with the process"
    );
    println!("hibernate: messages, name, handle, timer, link and monitor kept");
}

/// Spawn `n` processes that hibernate at once; tell the host, wait for its go, then wake each
/// with a request (each answers and hibernates again) and tell the host again.
fn idle(n: usize) {
    let host: Process<(String, u64)> = warren::whereis("host").expect("a host mailbox");
    let me: Process<()> = Process::this();
    let up: Mailbox<()> = Mailbox::this();
    // In waves, each sleeper saying it is up before it hibernates: a wave needs only that many
    // instances at once, however many sleepers there are in all.
    let mut sleepers: Vec<Process<Cmd>> = Vec::with_capacity(n);
    for wave in (0..n).step_by(1000) {
        let size = 1000.min(n - wave);
        for _ in 0..size {
            sleepers.push(
                spawn(me, |parent: Process<()>, _mb: Mailbox<Cmd>| {
                    parent.send(&());
                    hibernate(0u64, sleeper)
                })
                .expect("spawning a sleeper"),
            );
        }
        for _ in 0..size {
            up.receive();
        }
    }
    host.send(&("spawned".to_string(), n as u64));
    let go: Mailbox<String> = Mailbox::this();
    assert_eq!(go.receive(), "go");
    let mut total = 0;
    for s in &sleepers {
        total += s.request(Cmd::Get).expect("a sleeper answers");
    }
    host.send(&("woken".to_string(), total));
    assert_eq!(go.receive(), "stop");
    for s in &sleepers {
        s.send(&Cmd::Stop);
    }
}

fn sleeper(seen: u64, mailbox: Mailbox<Cmd>) {
    match mailbox.receive() {
        Cmd::Get(reply) => {
            reply.send(&(seen + 1));
        }
        Cmd::Stop => return,
        _ => panic!("a sleeper takes Get and Stop only"),
    }
    hibernate(seen + 1, sleeper)
}

/// A process per connection that hibernates while its peer is quiet: it wakes for data on
/// its socket (not only for messages), echoes it upper-cased, and ends at the peer's end.
fn socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server_side = listener.accept().unwrap();
    let (handler, down) = warren::spawn_monitor(server_side, |conn: TcpStream, _m: Mailbox<()>| {
        hibernate_watching(conn, |c| c, shout)
    })
    .unwrap();
    let mut buf = [0u8; 64];
    for word in ["hello", "again"] {
        // Give the handler time to hibernate first: its wake-up is then the socket's doing.
        warren::sleep(Duration::from_millis(20));
        client.write_all(word.as_bytes()).unwrap();
        let n = client.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], word.to_uppercase().as_bytes());
    }
    // A message wakes it too (and it just goes back to sleep on its socket).
    handler.send(&());
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        down.wait(),
        ExitReason::Normal,
        "the handler ends at the peer's end"
    );
    println!("hibernate_socket: woken by its socket twice, ended at the peer's end");
}

fn shout(conn: TcpStream, mailbox: Mailbox<()>) {
    // Woken by a message: take it, and wait on the socket again.
    if mailbox.receive_timeout(Duration::ZERO).is_some() {
        hibernate_watching(conn, |c| c, shout)
    }
    let mut buf = [0u8; 64];
    match conn.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => {
            conn.write_all(buf[..n].to_ascii_uppercase().as_slice())
                .unwrap();
            hibernate_watching(conn, |c| c, shout)
        }
    }
}

/// A supervisor that hibernates after 10 ms idle: after each sleep its children, its removal
/// of a temporary child, its restart count and its restart history are as they were.
#[derive(Serialize, Deserialize)]
struct Sleepy;

impl warren::supervisor::Supervise for Sleepy {
    fn children(&self) -> Vec<warren::supervisor::Child> {
        use warren::supervisor::{Child, Restart};
        vec![
            Child::worker("a", Restart::Permanent, (), idle_worker),
            Child::worker("b", Restart::Permanent, (), idle_worker),
            Child::worker("c", Restart::Temporary, (), idle_worker),
        ]
    }
    fn max_restarts(&self) -> usize {
        1
    }
    fn period(&self) -> Duration {
        Duration::from_secs(60)
    }
    fn hibernate_after(&self) -> Option<Duration> {
        Some(Duration::from_millis(10))
    }
}

fn idle_worker(_: (), mailbox: Mailbox<()>) {
    loop {
        mailbox.receive();
    }
}

type Children = Vec<(String, Option<u64>)>;

fn children_of(sup: &warren::supervisor::Supervisor) -> Children {
    warren::supervisor::which_children(sup).expect("supervisor alive")
}

fn pid_of(children: &[(String, Option<u64>)], name: &str) -> Option<u64> {
    children
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, p)| *p)
}

/// Kill child `name` and wait until the supervisor reports it running again.
fn kill_and_wait(sup: &warren::supervisor::Supervisor, name: &str) {
    let before = pid_of(&children_of(sup), name).expect("child running");
    Process::<()>::from_pid(before).kill();
    for _ in 0..5000 {
        if pid_of(&children_of(sup), name).is_some_and(|p| p != before) {
            return;
        }
        warren::sleep(Duration::from_millis(2));
    }
    panic!("child {name} was not restarted");
}

fn sleepy_supervisor() {
    use warren::supervisor;
    let nap = || warren::sleep(Duration::from_millis(60));
    let sup = supervisor::start(Sleepy).unwrap();
    let down = sup.monitor();
    let first = children_of(&sup);
    assert_eq!(first.len(), 3);
    nap();
    assert_eq!(
        children_of(&sup),
        first,
        "children kept across a hibernation"
    );
    // The temporary child is forgotten when it ends, and stays forgotten.
    let c = pid_of(&first, "c").unwrap();
    Process::<()>::from_pid(c).kill();
    while children_of(&sup).len() != 2 {
        warren::sleep(Duration::from_millis(2));
    }
    nap();
    assert_eq!(children_of(&sup).len(), 2);
    // One restart is allowed; the history of it survives a hibernation, so the second
    // within the period is one too many.
    kill_and_wait(&sup, "a");
    nap();
    assert_eq!(supervisor::count_restarts(&sup), Some(1));
    nap();
    let b = pid_of(&children_of(&sup), "b").unwrap();
    Process::<()>::from_pid(b).kill();
    let reason = down.wait().to_string();
    assert!(reason.contains("restart intensity exceeded"), "{reason}");
    println!("hibernate_supervisor: children, restarts and their history kept across hibernations");
}
