//! I/O scenarios that depend on what `warren run` grants: the network allow-list
//! (`--allow-net`) and directories (`--dir HOST:/data`), asserted inside the guest; each
//! prints one line when it got what it expected (crates/cli/tests/io.rs waits for it). How
//! resources move between processes whatever the grants is `tests/resources`.

use std::io::{ErrorKind, Read, Write};
use warren::fs::{self, File, OpenOptions};
use warren::net::{TcpListener, TcpStream, UdpSocket};
use warren::stream::{ByteStream, HostFuture, copy, pipe};
use warren::{ExitReason, Mailbox, Process, spawn, spawn_monitor};

pub fn run(scenario: &str, arg: Option<&str>) -> bool {
    match scenario {
        "io_net_denied" => net_denied(arg),
        "io_files" => files(arg),
        "io_file_lock" => file_lock(),
        "io_splice_file" => splice_file(),
        "embed_spawn" => embed_spawn(
            std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(10),
        ),
        "embed_hold" => embed_hold(),
        _ => return false,
    }
    true
}

/// What a network call that should be refused gave: its error's kind and text.
fn refused(what: &str, r: std::io::Result<()>) -> (ErrorKind, String) {
    match r {
        Ok(()) => panic!("{what}: allowed"),
        Err(e) => (e.kind(), e.to_string()),
    }
}

/// The network allow-list, as `warren run` sets it: `io_net_denied` with no `--allow-net`
/// (loopback only), `io_net_denied bind-any` with `--allow-net 0.0.0.0`, and
/// `io_net_denied rules` with `--allow-net 192.168.77.0/24:80`.
fn net_denied(mode: Option<&str>) {
    let mode = mode.unwrap_or("loopback");
    let rules = match mode {
        "loopback" => "loopback only",
        "bind-any" => "0.0.0.0",
        "rules" => "192.168.77.0/24:80",
        other => panic!("unknown mode {other:?}"),
    };
    let (kind, text) = refused(
        "connect 10.1.2.3:80",
        TcpStream::connect("10.1.2.3:80").map(drop),
    );
    assert_eq!(kind, ErrorKind::PermissionDenied, "{text}");
    assert!(
        text.contains(&format!("not allowed by the network allow-list ({rules}"))
            && text.contains("allow it in the allow-list"),
        "{text}"
    );
    // A rule for 0.0.0.0 allows binding it, never connecting to it (Linux would route that
    // to this host).
    let bind_any = TcpListener::bind("0.0.0.0:0").map(drop);
    if mode == "bind-any" {
        bind_any.expect("bind 0.0.0.0 under a rule for it");
    } else {
        assert_eq!(
            refused("bind 0.0.0.0", bind_any).0,
            ErrorKind::PermissionDenied
        );
    }
    let udp = UdpSocket::bind("127.0.0.1:0").and_then(|u| u.send_to(b"x", "192.0.2.1:53"));
    assert_eq!(
        refused("udp to 192.0.2.1:53", udp.map(drop)).0,
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        refused(
            "connect nonsense",
            TcpStream::connect("not an address").map(drop)
        )
        .0,
        ErrorKind::InvalidInput
    );
    // With rules, loopback is no longer implied.
    let loopback = TcpListener::bind("127.0.0.1:0").map(drop);
    if mode != "loopback" {
        assert_eq!(refused("loopback", loopback).0, ErrorKind::PermissionDenied);
    } else {
        loopback.expect("loopback");
    }
    // A host name no rule names is refused before any DNS query (which could leak data).
    let (kind, text) = refused(
        "connect by name",
        TcpStream::connect("warren-test.invalid:80").map(drop),
    );
    assert!(
        kind == ErrorKind::PermissionDenied && text.contains("not looked up"),
        "{kind:?}: {text}"
    );
    assert_eq!(
        refused("connect 0.0.0.0", TcpStream::connect("0.0.0.0:9").map(drop)).0,
        ErrorKind::PermissionDenied
    );
    println!("network allow-list ({mode}) held");
}

/// The kind of a failed file operation.
fn kind(r: std::io::Result<()>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind())
}

/// Files under `--dir HOST:/data` (`io_files HOST`), and refusals outside it.
fn files(host_dir: Option<&str>) {
    let host_dir = host_dir.expect("give the granted host directory as the argument");
    fs::create_dir("/data/sub").expect("create_dir");
    let mut f = File::create("/data/sub/a.txt").expect("create");
    f.write_all(b"hello files").expect("write");
    drop(f);
    let mut f = OpenOptions::new()
        .append(true)
        .open("/data/sub/a.txt")
        .expect("open to append");
    f.write_all(b", appended").expect("append");
    let mut f = File::open("/data/sub/a.txt").expect("open");
    let mut text = String::new();
    f.read_to_string(&mut text).expect("read");
    assert_eq!(text, "hello files, appended");
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(6)).expect("seek");
    let mut five = [0u8; 5];
    f.read_exact(&mut five).expect("read");
    assert_eq!(&five, b"files");
    let md = f.metadata().expect("metadata");
    assert_eq!((md.len(), md.is_file(), md.is_dir()), (21, true, false));
    assert_eq!(
        std::fs::read_to_string("/data/sub/a.txt").ok().as_deref(),
        Some("hello files, appended"),
        "std::fs sees it"
    );
    std::fs::write("/data/from_std.txt", "written by std").expect("std::fs::write");
    assert_eq!(
        fs::read("/data/from_std.txt").expect("read std's file"),
        b"written by std"
    );
    fs::rename("/data/sub/a.txt", "/data/sub/b.txt").expect("rename");
    let names: Vec<String> = fs::read_dir("/data/sub")
        .expect("read_dir")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["b.txt"]);
    assert_eq!(
        kind(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open("/data/sub/b.txt")
                .map(drop)
        ),
        Some(ErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(File::open("/data/nope").map(drop)),
        Some(ErrorKind::NotFound)
    );
    assert_eq!(
        kind(fs::remove_dir("/data/sub")),
        Some(ErrorKind::DirectoryNotEmpty)
    );
    fs::remove_file("/data/sub/b.txt").expect("remove_file");
    fs::remove_dir("/data/sub").expect("remove_dir");
    assert_eq!(
        kind(fs::metadata("/data/sub").map(drop)),
        Some(ErrorKind::NotFound)
    );
    for (what, path) in [
        ("outside the grants", "/etc/passwd"),
        ("dot-dot escape", "/data/../etc/passwd"),
        ("symlink escape", "/data/etc_link/passwd"),
    ] {
        assert_eq!(
            kind(File::open(path).map(drop)),
            Some(ErrorKind::PermissionDenied),
            "{what}"
        );
    }
    assert_eq!(
        kind(std::fs::read("/data/../etc/passwd").map(drop)),
        Some(ErrorKind::PermissionDenied),
        "std dot-dot escape"
    );
    let e = File::open("/etc/passwd").expect_err("outside the grants");
    assert_eq!(
        e.to_string(),
        format!(
            "warren:fs.open: \"/etc/passwd\" is not under a granted directory \
             (granted: /data = {host_dir}); grant the directory to the runtime"
        )
    );
    println!("files under the grant, none outside");
}

/// An advisory lock is released only when the last handle *and* stream are gone.
fn file_lock() {
    fs::write("/data/locked.txt", b"0123456789").expect("write");
    let first = File::open("/data/locked.txt").expect("open");
    first.lock_exclusive().expect("lock");
    let (stream, _end) = first.read_via_stream(2).expect("stream");
    let other = File::open("/data/locked.txt").expect("open");
    let try_lock = || other.try_lock_exclusive().map_err(|e| e.kind());
    assert_eq!(try_lock(), Ok(false), "while held");
    drop(first);
    assert_eq!(
        try_lock(),
        Ok(false),
        "after the handle went, the stream alive"
    );
    // The stream moves to another process, which reads it and ends.
    let (_, m) = spawn_monitor(stream, |mut s: ByteStream, _: Mailbox<()>| {
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        assert_eq!(text, "23456789");
    })
    .expect("spawn");
    assert_eq!(m.wait(), ExitReason::Normal, "the reader");
    assert_eq!(try_lock(), Ok(true), "after the stream went too");
    other.unlock().expect("unlock");
    let third = File::open("/data/locked.txt").expect("open");
    assert_eq!(
        third.try_lock_shared().map_err(|e| e.kind()),
        Ok(true),
        "a third after unlock"
    );
    println!("the lock lasted until its last handle and stream");
}

/// A host copy into a file outlives the process that started it.
fn splice_file() {
    let (mut writer, reader) = pipe().expect("pipe");
    let me: Process<HostFuture<u64>> = Process::this();
    let mb: Mailbox<HostFuture<u64>> = Mailbox::this();
    let (_, m) = spawn_monitor(
        (reader, me),
        |(reader, me): (ByteStream, Process<HostFuture<u64>>), _: Mailbox<()>| {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open("/data/spliced.txt")
                .expect("open");
            let done = file.append_via_stream(reader).expect("append_via_stream");
            me.send(&done);
        },
    )
    .expect("spawn");
    assert_eq!(m.wait(), ExitReason::Normal, "the starter");
    let done = mb.receive();
    for i in 0..1000 {
        writeln!(writer, "line {i}").expect("write");
    }
    drop(writer);
    assert_eq!(done.wait().map_err(|e| e.kind()), Ok(8890));
    let text = String::from_utf8(fs::read("/data/spliced.txt").expect("read")).expect("utf-8");
    assert_eq!(text.lines().count(), 1000);
    assert_eq!(text.lines().last(), Some("line 999"));
    // write_via_stream at an offset overwrites in place ("line 0\nline 1" -> "line ZEROne 1").
    let file = OpenOptions::new()
        .write(true)
        .open("/data/spliced.txt")
        .expect("open");
    let (mut writer, reader) = pipe().expect("pipe");
    let done = file.write_via_stream(reader, 5).expect("write_via_stream");
    writer.write_all(b"ZERO").expect("write");
    drop(writer);
    assert_eq!(done.wait().map_err(|e| e.kind()), Ok(4));
    let text = String::from_utf8(fs::read("/data/spliced.txt").expect("read")).expect("utf-8");
    assert_eq!(text.lines().next(), Some("line ZEROne 1"));
    println!("the splice outlived its starter");
}

/// For crates/cli/tests/embedding.rs: report to the host's mailbox ("host") how many idle
/// processes could be spawned, whether a granted file is readable, and hold on.
pub fn embed_spawn(n: usize) {
    let host: Process<(String, u64)> = warren::whereis("host").expect("a host mailbox");
    let children = (0..n)
        .map_while(|_| spawn((), |(), mb: Mailbox<()>| mb.receive()).ok())
        .count();
    host.send(&("spawned".to_string(), children as u64));
    let readable = fs::read("/data/hello.txt").is_ok();
    host.send(&("file readable".to_string(), readable as u64));
    let me: Process<()> = Process::from_pid(warren::this());
    host.send(&(
        "registered svc".to_string(),
        me.register("svc").is_ok() as u64,
    ));
    Mailbox::<()>::this().receive();
}

/// For crates/cli/tests/embedding.rs: hold a listening port, an advisory lock (in a child
/// process) and a host pump, tell the host, and wait to be shut down.
pub fn embed_hold() {
    let host: Process<(String, u64)> = warren::whereis("host").expect("a host mailbox");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let file = File::create("/data/held.txt").unwrap();
    file.lock_exclusive().unwrap();
    let (_, locked) = spawn_monitor(file, |file: File, mb: Mailbox<()>| {
        let _keep = file;
        mb.receive();
    })
    .unwrap();
    let (writer, reader) = pipe().unwrap();
    let sink = OpenOptions::new()
        .append(true)
        .open("/data/held.txt")
        .unwrap();
    let _pump = copy(reader, &sink).unwrap();
    host.send(&("ready".to_string(), port as u64));
    let _keep = (listener, writer, locked);
    Mailbox::<()>::this().receive();
}

/// An entry the host starts by name (`Runtime::start_export`), without `_start`: it sends
/// the host a note, then ends when the host answers (so the host can monitor it first).
#[unsafe(no_mangle)]
pub extern "C" fn embed_entry() {
    let host: Process<(String, u64)> = warren::whereis("host").expect("a host mailbox");
    host.send(&("entered by export".to_string(), warren::this()));
    Mailbox::<()>::this().receive();
}
