//! I/O scenarios: sockets, files, pipes, streams, futures, select, and handles moving
//! between processes. Each prints facts, one per line, for crates/cli/tests/io.rs.

use std::io::{Read, Write};
use std::time::Duration;
use warren::fs::{self, File, OpenOptions};
use warren::net::{Incoming, TcpListener, TcpStream, UdpSocket};
use warren::select::{Source, select};
use warren::stream::{ByteStream, HostFuture, StreamWriter, copy, pipe};
use warren::{Mailbox, Process, spawn, spawn_monitor};

pub fn run(scenario: &str) -> bool {
    match scenario {
        "io_handle_passing" => handle_passing(),
        "io_listener_refcount" => listener_refcount(),
        "io_stream_future" => stream_future(),
        "io_udp" => udp(),
        "io_pipe_select" => pipe_select(),
        "io_net_denied" => net_denied(),
        "io_files" => files(),
        "io_file_lock" => file_lock(),
        "io_splice_file" => splice_file(),
        "io_kill_blocked" => kill_blocked(),
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

/// Accept in one process, serve in another: the connection travels in a message.
fn handle_passing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = spawn((), |(), mb: Mailbox<TcpStream>| {
        let conn = mb.receive();
        let mut line = [0u8; 64];
        let n = conn.read(&mut line).unwrap();
        let text = String::from_utf8_lossy(&line[..n]).to_string();
        conn.write_all(format!("served by {}: {text}", warren::this()).as_bytes())
            .unwrap();
    })
    .unwrap();
    let incoming = listener.incoming().unwrap();
    drop(listener);
    // The acceptor gets the incoming stream in its captures, accepts, and hands the
    // connection to the server in a message.
    let (acceptor, done) = spawn_monitor(
        (incoming, server),
        |(incoming, server): (Incoming, Process<TcpStream>), _: Mailbox<()>| {
            let conn = incoming.accept().unwrap();
            server.send(&conn);
            println!("acceptor {} handed the connection over", warren::this());
            let again = server.try_send(&conn);
            println!(
                "sending it again: {}",
                match again {
                    Ok(_) => "sent?!".to_string(),
                    Err(e) => format!("error {:?}: {e}", e.kind()),
                }
            );
            let used = conn.write_all(b"from the acceptor");
            println!("acceptor writing after the move: {}", used.is_err());
        },
    )
    .unwrap();
    let client = TcpStream::connect(addr).unwrap();
    client.write_all(b"ping").unwrap();
    let mut reply = String::new();
    (&client).read_to_string(&mut reply).unwrap();
    println!(
        "reply: {}",
        reply.replace(&server.pid().to_string(), "SERVER")
    );
    println!("acceptor exited: {}", done.wait());
    println!(
        "acceptor is not the server: {}",
        acceptor.pid() != server.pid()
    );
}

/// The port stays bound while an `Incoming` made from the listener lives.
fn listener_refcount() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = listener.incoming().unwrap();
    drop(listener);
    let rebind = TcpListener::bind(addr);
    println!(
        "rebind while incoming lives: {:?}",
        rebind.as_ref().map(|_| ()).map_err(|e| e.kind())
    );
    let client = TcpStream::connect(addr).unwrap();
    let served = incoming.accept().unwrap();
    served.write_all(b"still listening").unwrap();
    let mut buf = [0u8; 32];
    let n = client.read(&mut buf).unwrap();
    println!(
        "through the incoming: {}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Move the incoming to another process, which drops it on exit.
    let (_, m) = spawn_monitor(incoming, |incoming: Incoming, _: Mailbox<()>| {
        drop(incoming);
    })
    .unwrap();
    m.wait();
    let rebind = TcpListener::bind(addr);
    println!(
        "rebind after the last drop: {:?}",
        rebind.as_ref().map(|_| ()).map_err(|e| e.kind())
    );
}

/// `receive()` gives a stream and a future; `send(stream)` a future; both outlive nothing.
fn stream_future() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let server = listener.accept().unwrap();
    // Feed the server's send side from a pipe, in the host.
    let (mut writer, reader) = pipe().unwrap();
    let sent: HostFuture<u64> = server.send(reader).unwrap();
    writer.write_all(b"hello through a pipe").unwrap();
    drop(writer);
    println!("sent: {:?}", sent.wait().map_err(|e| e.kind()));
    let (mut stream, end) = client.receive().unwrap();
    println!("end before reading: {:?}", end.poll().map(|r| r.is_ok()));
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    println!("received: {text}");
    println!("end: {:?}", end.wait().map_err(|e| e.kind()));
    let (stream, end) = client.receive().unwrap();
    drop(stream);
    println!(
        "dropped stream's end: {:?}",
        end.wait().map_err(|e| e.kind())
    );
}

fn udp() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(b"datagram", b.local_addr().unwrap()).unwrap();
    println!(
        "readable: {:?}",
        select(&[Source::Readable(&b)], Some(Duration::from_secs(5)))
    );
    let mut buf = [0u8; 64];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    println!(
        "got {:?} from a: {}",
        String::from_utf8_lossy(&buf[..n]),
        from == a.local_addr().unwrap()
    );
}

/// A pipe between processes, and select over the mailbox, a stream and a future.
fn pipe_select() {
    let (writer, mut reader) = pipe().unwrap();
    println!(
        "empty pipe, 50 ms: {:?}",
        select(
            &[Source::Readable(&reader)],
            Some(Duration::from_millis(50))
        )
    );
    let me: Process<String> = Process::from_pid(warren::this());
    let mb: Mailbox<String> = Mailbox::this();
    spawn(
        (writer, me),
        |(mut w, me): (StreamWriter, Process<String>), _: Mailbox<()>| {
            me.send(&"writer started".to_string());
            let block = vec![7u8; 10_000];
            for _ in 0..30 {
                w.write_all(&block).unwrap();
            }
        },
    )
    .unwrap();
    println!(
        "messages or pipe: {:?}",
        select(&[Source::Messages], Some(Duration::from_secs(5)))
    );
    println!("message: {}", mb.receive());
    let mut total = 0;
    let mut buf = vec![0u8; 8192];
    loop {
        match select(&[Source::Readable(&reader)], Some(Duration::from_secs(5))) {
            Some(0) => {}
            other => panic!("pipe not readable: {other:?}"),
        }
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == 7));
        total += n;
    }
    println!("read through the pipe: {total}");
    // A future in a select.
    let (w2, r2) = pipe().unwrap();
    let (sink, mut out) = pipe().unwrap();
    let done = copy(r2, &sink).unwrap();
    drop(sink);
    println!(
        "copy pending: {:?}",
        select(&[Source::Future(&done)], Some(Duration::from_millis(50)))
    );
    let mut w2 = w2;
    w2.write_all(b"abc").unwrap();
    drop(w2);
    println!(
        "copy done: {:?}",
        select(
            &[Source::Messages, Source::Future(&done)],
            Some(Duration::from_secs(5))
        )
    );
    println!("copied: {:?}", done.wait().map_err(|e| e.kind()));
    let mut copied = String::new();
    out.read_to_string(&mut copied).unwrap();
    println!("out of the copy: {copied}");
}

fn net_denied() {
    let show = |r: std::io::Result<()>| match r {
        Ok(()) => "allowed".to_string(),
        Err(e) => format!("{:?}: {e}", e.kind()),
    };
    println!(
        "connect 10.1.2.3:80: {}",
        show(TcpStream::connect("10.1.2.3:80").map(drop))
    );
    println!(
        "bind 0.0.0.0: {}",
        show(TcpListener::bind("0.0.0.0:0").map(drop))
    );
    println!(
        "udp to 192.0.2.1:53: {}",
        show(
            UdpSocket::bind("127.0.0.1:0")
                .and_then(|u| u.send_to(b"x", "192.0.2.1:53"))
                .map(drop)
        )
    );
    println!(
        "connect nonsense: {}",
        show(TcpStream::connect("not an address").map(drop))
    );
    println!(
        "loopback: {}",
        show(TcpListener::bind("127.0.0.1:0").map(drop))
    );
    println!(
        "connect by name: {}",
        show(TcpStream::connect("warren-test.invalid:80").map(drop))
    );
    println!(
        "connect 0.0.0.0: {}",
        show(TcpStream::connect("0.0.0.0:9").map(drop))
    );
}

/// Files under `--dir HOST:/data`, and refusals outside it.
fn files() {
    let kind = |r: std::io::Result<()>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    };
    fs::create_dir("/data/sub").unwrap();
    let mut f = File::create("/data/sub/a.txt").unwrap();
    f.write_all(b"hello files").unwrap();
    drop(f);
    let mut f = OpenOptions::new()
        .append(true)
        .open("/data/sub/a.txt")
        .unwrap();
    f.write_all(b", appended").unwrap();
    let mut f = File::open("/data/sub/a.txt").unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    println!("read back: {text}");
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(6)).unwrap();
    let mut five = [0u8; 5];
    f.read_exact(&mut five).unwrap();
    println!("after seek: {}", String::from_utf8_lossy(&five));
    let md = f.metadata().unwrap();
    println!(
        "metadata: len {} file {} dir {}",
        md.len(),
        md.is_file(),
        md.is_dir()
    );
    println!(
        "std::fs sees it: {:?}",
        std::fs::read_to_string("/data/sub/a.txt").ok()
    );
    std::fs::write("/data/from_std.txt", "written by std").unwrap();
    println!(
        "warren::fs sees std's file: {:?}",
        fs::read("/data/from_std.txt").map(String::from_utf8)
    );
    fs::rename("/data/sub/a.txt", "/data/sub/b.txt").unwrap();
    let names: Vec<String> = fs::read_dir("/data/sub")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    println!("after rename: {names:?}");
    println!(
        "create_new on existing: {}",
        kind(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open("/data/sub/b.txt")
                .map(drop)
        )
    );
    println!("open missing: {}", kind(File::open("/data/nope").map(drop)));
    println!(
        "remove non-empty dir: {}",
        kind(fs::remove_dir("/data/sub"))
    );
    fs::remove_file("/data/sub/b.txt").unwrap();
    fs::remove_dir("/data/sub").unwrap();
    println!("removed: {}", kind(fs::metadata("/data/sub").map(drop)));
    println!(
        "outside the grants: {}",
        kind(File::open("/etc/passwd").map(drop))
    );
    println!(
        "dot-dot escape: {}",
        kind(File::open("/data/../etc/passwd").map(drop))
    );
    println!(
        "symlink escape: {}",
        kind(File::open("/data/etc_link/passwd").map(drop))
    );
    println!(
        "std dot-dot escape: {}",
        kind(std::fs::read("/data/../etc/passwd").map(drop))
    );
    let e = File::open("/etc/passwd").unwrap_err();
    println!("message: {e}");
}

/// An advisory lock is released only when the last handle *and* stream are gone.
fn file_lock() {
    fs::write("/data/locked.txt", b"0123456789").unwrap();
    let first = File::open("/data/locked.txt").unwrap();
    first.lock_exclusive().unwrap();
    let (stream, _end) = first.read_via_stream(2).unwrap();
    let other = File::open("/data/locked.txt").unwrap();
    println!(
        "other while held: {:?}",
        other.try_lock_exclusive().map_err(|e| e.kind())
    );
    drop(first);
    println!(
        "other after the handle went, stream alive: {:?}",
        other.try_lock_exclusive().map_err(|e| e.kind())
    );
    // The stream moves to another process, which reads it and ends.
    let (_, m) = spawn_monitor(stream, |mut s: ByteStream, _: Mailbox<()>| {
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        println!("the stream read: {text}");
    })
    .unwrap();
    m.wait();
    println!(
        "other after the stream went too: {:?}",
        other.try_lock_exclusive().map_err(|e| e.kind())
    );
    other.unlock().unwrap();
    let third = File::open("/data/locked.txt").unwrap();
    println!(
        "third after unlock: {:?}",
        third.try_lock_shared().map_err(|e| e.kind())
    );
}

/// A host copy into a file outlives the process that started it.
fn splice_file() {
    let (mut writer, reader) = pipe().unwrap();
    let me: Process<HostFuture<u64>> = Process::from_pid(warren::this());
    let mb: Mailbox<HostFuture<u64>> = Mailbox::this();
    let (_, m) = spawn_monitor(
        (reader, me),
        |(reader, me): (ByteStream, Process<HostFuture<u64>>), _: Mailbox<()>| {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open("/data/spliced.txt")
                .unwrap();
            let done = file.append_via_stream(reader).unwrap();
            me.send(&done);
        },
    )
    .unwrap();
    println!("starter exited: {}", m.wait());
    let done = mb.receive();
    for i in 0..1000 {
        writeln!(writer, "line {i}").unwrap();
    }
    drop(writer);
    println!("copied: {:?}", done.wait().map_err(|e| e.kind()));
    let text = String::from_utf8(fs::read("/data/spliced.txt").unwrap()).unwrap();
    println!(
        "lines in the file: {} last: {:?}",
        text.lines().count(),
        text.lines().last()
    );
    // write_via_stream at an offset overwrites in place ("line 0\nline 1" -> "line ZEROne 1").
    let file = OpenOptions::new()
        .write(true)
        .open("/data/spliced.txt")
        .unwrap();
    let (mut writer, reader) = pipe().unwrap();
    let done = file.write_via_stream(reader, 5).unwrap();
    writer.write_all(b"ZERO").unwrap();
    drop(writer);
    println!(
        "written at offset 5: {:?}",
        done.wait().map_err(|e| e.kind())
    );
    let text = String::from_utf8(fs::read("/data/spliced.txt").unwrap()).unwrap();
    println!("first line now: {:?}", text.lines().next());
}

/// A process blocked in a host call (accept) is killed there, and what it held is released.
fn kill_blocked() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (child, m) = spawn_monitor(listener, |l: TcpListener, _: Mailbox<()>| {
        let _ = l.accept();
        println!("accept returned?!");
    })
    .unwrap();
    warren::sleep(Duration::from_millis(100));
    child.kill();
    println!("blocked child: {}", m.wait());
    println!(
        "its port after the kill: {:?}",
        TcpListener::bind(addr).map(drop).map_err(|e| e.kind())
    );
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
