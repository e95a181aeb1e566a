//! Host resources between processes, asserted inside the guest: a handle moves in a message
//! and is gone from its sender; a port stays bound while any reference to it lives; streams
//! and futures report their ends; pipes join processes; `select` waits on the mailbox, a
//! stream and a future at once; a process blocked in a host call can be killed there, and
//! what it held is released. Each test is a process of its own (`warren::tests!`);
//! `crates/cli/tests/io.rs` runs the program under `warren run` (loopback networking only,
//! the default) and reads its report.

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;
use warren::net::{Incoming, TcpListener, TcpStream, UdpSocket};
use warren::select::{Source, select};
use warren::stream::{HostFuture, StreamWriter, copy, pipe};
use warren::{ExitReason, Mailbox, Process, spawn, spawn_monitor};

/// How long a test waits for what it expects before it fails.
const WAIT: Duration = Duration::from_secs(10);

/// Accept in one process, serve in another: the connection travels in a message, and the
/// acceptor no longer holds it.
fn a_connection_moves_between_processes_in_a_message() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    let server = spawn((), |(), mb: Mailbox<TcpStream>| {
        let conn = mb.receive();
        let mut line = [0u8; 64];
        let n = conn.read(&mut line).expect("read");
        let text = String::from_utf8_lossy(&line[..n]).to_string();
        conn.write_all(format!("served by {}: {text}", warren::this()).as_bytes())
            .expect("write");
    })
    .expect("spawn");
    let incoming = listener.incoming().expect("incoming");
    drop(listener);
    // The acceptor gets the incoming stream in its captures, accepts, and hands the
    // connection to the server in a message.
    let (acceptor, done) = spawn_monitor(
        (incoming, server),
        |(incoming, server): (Incoming, Process<TcpStream>), _: Mailbox<()>| {
            let conn = incoming.accept().expect("accept");
            assert!(server.send(&conn));
            let e = server
                .try_send(&conn)
                .expect_err("a handle sent away cannot be sent again");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(
                e.to_string().starts_with("warren:message.attach: handle ")
                    && e.to_string().ends_with(
                        " is not open in this process (never opened, dropped, or sent away)"
                    ),
                "{e}"
            );
            assert!(
                conn.write_all(b"from the acceptor").is_err(),
                "writing after the move"
            );
        },
    )
    .expect("spawn");
    let client = TcpStream::connect(addr).expect("connect");
    client.write_all(b"ping").expect("write");
    let mut reply = String::new();
    (&client).read_to_string(&mut reply).expect("read");
    assert_eq!(reply, format!("served by {}: ping", server.pid()));
    assert_eq!(done.wait_timeout(WAIT), Some(ExitReason::Normal));
    assert_ne!(acceptor.pid(), server.pid());
}

/// The port stays bound while an `Incoming` made from the listener lives, wherever it went.
fn a_port_stays_bound_until_the_last_reference_goes() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    let incoming = listener.incoming().expect("incoming");
    drop(listener);
    let rebind = TcpListener::bind(addr).map(drop).map_err(|e| e.kind());
    assert_eq!(
        rebind,
        Err(ErrorKind::AddrInUse),
        "while the incoming lives"
    );
    let client = TcpStream::connect(addr).expect("connect");
    let served = incoming.accept().expect("accept");
    served.write_all(b"still listening").expect("write");
    let mut buf = [0u8; 32];
    let n = client.read(&mut buf).expect("read");
    assert_eq!(&buf[..n], b"still listening");
    // Move the incoming to another process, which drops it on exit.
    let (_, m) = spawn_monitor(incoming, |incoming: Incoming, _: Mailbox<()>| {
        drop(incoming);
    })
    .expect("spawn");
    assert_eq!(m.wait_timeout(WAIT), Some(ExitReason::Normal));
    let rebind = TcpListener::bind(addr).map(drop).map_err(|e| e.kind());
    assert_eq!(rebind, Ok(()), "after the last drop");
}

/// `receive()` gives a stream and a future of its end; `send(stream)` a future.
fn socket_streams_and_futures_report_their_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let server = listener.accept().expect("accept");
    // Feed the server's send side from a pipe, in the host.
    let (mut writer, reader) = pipe().expect("pipe");
    let sent: HostFuture<u64> = server.send(reader).expect("send");
    writer.write_all(b"hello through a pipe").expect("write");
    drop(writer);
    assert_eq!(sent.wait().map_err(|e| e.kind()), Ok(20));
    let (mut stream, end) = client.receive().expect("receive");
    assert!(end.poll().is_none(), "the end before reading");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    assert_eq!(text, "hello through a pipe");
    assert_eq!(end.wait().map_err(|e| e.kind()), Ok(()));
    let (stream, end) = client.receive().expect("receive");
    drop(stream);
    assert_eq!(
        end.wait().map_err(|e| e.kind()),
        Err(ErrorKind::BrokenPipe),
        "a dropped stream's end"
    );
}

fn udp_datagrams_arrive_with_their_sender() {
    let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
    a.send_to(b"datagram", b.local_addr().expect("address"))
        .expect("send");
    assert_eq!(select(&[Source::Readable(&b)], Some(WAIT)), Some(0));
    let mut buf = [0u8; 64];
    let (n, from) = b.recv_from(&mut buf).expect("receive");
    assert_eq!(&buf[..n], b"datagram");
    assert_eq!(from, a.local_addr().expect("address"));
}

/// A pipe between processes, and select over the mailbox, a stream and a future.
fn pipes_join_processes_and_select_waits_on_any_source() {
    let (writer, mut reader) = pipe().expect("pipe");
    assert_eq!(
        select(
            &[Source::Readable(&reader)],
            Some(Duration::from_millis(50))
        ),
        None,
        "an empty pipe"
    );
    let me: Process<String> = Process::this();
    let mb: Mailbox<String> = Mailbox::this();
    spawn(
        (writer, me),
        |(mut w, me): (StreamWriter, Process<String>), _: Mailbox<()>| {
            me.send(&"writer started".to_string());
            let block = vec![7u8; 10_000];
            for _ in 0..30 {
                w.write_all(&block).expect("write");
            }
        },
    )
    .expect("spawn");
    assert_eq!(select(&[Source::Messages], Some(WAIT)), Some(0));
    assert_eq!(mb.receive(), "writer started");
    let mut total = 0;
    let mut buf = vec![0u8; 8192];
    loop {
        assert_eq!(
            select(&[Source::Readable(&reader)], Some(WAIT)),
            Some(0),
            "the pipe becomes readable"
        );
        let n = reader.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|&b| b == 7));
        total += n;
    }
    assert_eq!(total, 300_000);
    // A future in a select.
    let (mut w2, r2) = pipe().expect("pipe");
    let (sink, mut out) = pipe().expect("pipe");
    let done = copy(r2, &sink).expect("copy");
    drop(sink);
    assert_eq!(
        select(&[Source::Future(&done)], Some(Duration::from_millis(50))),
        None,
        "the copy is pending"
    );
    w2.write_all(b"abc").expect("write");
    drop(w2);
    assert_eq!(
        select(&[Source::Messages, Source::Future(&done)], Some(WAIT)),
        Some(1),
        "the copy is done"
    );
    assert_eq!(done.wait().map_err(|e| e.kind()), Ok(3));
    let mut copied = String::new();
    out.read_to_string(&mut copied).expect("read");
    assert_eq!(copied, "abc");
}

/// A process blocked in a host call (accept) is killed there, and what it held is released.
fn a_process_blocked_in_a_host_call_is_killed_and_its_port_freed() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let (child, m) = spawn_monitor(listener, |l: TcpListener, _: Mailbox<()>| {
        let _ = l.accept();
        panic!("accept returned");
    })
    .expect("spawn");
    warren::sleep(Duration::from_millis(100));
    assert!(child.kill());
    assert_eq!(m.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert_eq!(
        TcpListener::bind(addr).map(drop).map_err(|e| e.kind()),
        Ok(()),
        "its port after the kill"
    );
}

/// A handle moved into a child's captures is the child's alone: dropping it at once releases
/// it at once (here: the pipe's end of stream), not when the child exits.
fn a_handle_in_spawn_captures_is_released_when_the_child_drops_it() {
    let (w, mut r) = pipe().expect("pipe");
    let child = warren::spawn!(w; |_mb: Mailbox<()>| {
        let w: StreamWriter = w;
        drop(w);
        warren::sleep(Duration::from_secs(3600));
    })
    .expect("spawn");
    let mut buf = [0u8; 8];
    assert_eq!(select(&[Source::Readable(&r)], Some(WAIT)), Some(0));
    assert_eq!(
        r.read(&mut buf).expect("read"),
        0,
        "end of stream while the child lives"
    );
    assert!(child.kill());
}

/// `select` over ordinary messages and exit signals at once wakes for either.
fn select_on_messages_and_signals_wakes_for_a_signal() {
    warren::trap_exit(true);
    let child = warren::spawn_link!(|mb: Mailbox<()>| {
        mb.receive();
        panic!("linked child fails");
    })
    .expect("spawn");
    let mb = Mailbox::<()>::this();
    warren::spawn!(child; |_m: Mailbox<()>| {
        warren::sleep(Duration::from_millis(100));
        child.send(&());
    })
    .expect("spawn");
    assert_eq!(
        select(
            &[Source::Messages, Source::Signals],
            Some(Duration::from_secs(30))
        ),
        Some(1)
    );
    assert!(matches!(
        mb.receive_signal_timeout(WAIT),
        Some(warren::Signal::Exit { .. })
    ));
    warren::trap_exit(false);
}

warren::tests!(
    a_connection_moves_between_processes_in_a_message,
    a_port_stays_bound_until_the_last_reference_goes,
    socket_streams_and_futures_report_their_ends,
    udp_datagrams_arrive_with_their_sender,
    pipes_join_processes_and_select_waits_on_any_source,
    a_process_blocked_in_a_host_call_is_killed_and_its_port_freed,
    a_handle_in_spawn_captures_is_released_when_the_child_drops_it,
    select_on_messages_and_signals_wakes_for_a_signal,
);
