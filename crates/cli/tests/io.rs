//! I/O through real sockets and files: the example servers against real clients (std
//! sockets, `redis-cli`), handles moving between processes, reference-counted release of
//! ports and locks, host splices outliving their process, permission denials, and bad
//! handles from a hand-written module.

mod common;
use common::{Server, run_file, run_guest, warren};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

fn scenario(flags: &[&str], args: &[&str]) -> common::Run {
    let run = run_guest(flags, "test_guest", args);
    run.assert_code(0);
    run
}

fn read_line(s: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    s.read_line(&mut line).expect("a line");
    line.trim_end().to_string()
}

#[test]
fn echo_serves_concurrent_clients() {
    let server = Server::start("echo", &[]);
    let clients: Vec<_> = (0..8u8)
        .map(|i| {
            let mut s = server.connect();
            std::thread::spawn(move || {
                let payload: Vec<u8> = (0..200_000u32).map(|j| (j as u8) ^ i).collect();
                let writer = {
                    let mut w = s.try_clone().unwrap();
                    let p = payload.clone();
                    std::thread::spawn(move || {
                        w.write_all(&p).unwrap();
                        w.shutdown(Shutdown::Write).unwrap();
                    })
                };
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == payload, "client {i}: echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn chat_broadcasts_and_survives_a_client_quitting_mid_line() {
    let server = Server::start("chat", &[]);
    let mut a = BufReader::new(server.connect());
    assert!(read_line(&mut a).starts_with("welcome, "));
    let mut b = BufReader::new(server.connect());
    assert!(read_line(&mut b).starts_with("welcome, "));
    assert!(read_line(&mut a).ends_with(" joined"));
    let mut c = BufReader::new(server.connect());
    read_line(&mut c);
    read_line(&mut a);
    read_line(&mut b);

    a.get_mut().write_all(b"/nick alice\nhello all\n").unwrap();
    for r in [&mut b, &mut c] {
        assert!(read_line(r).ends_with(" is now alice"));
        assert_eq!(read_line(r), "alice: hello all");
    }
    assert!(read_line(&mut a).ends_with(" is now alice"));
    // b quits in the middle of a line: what it typed reaches the others, who go on.
    b.get_mut()
        .write_all(b"/nick bob\nunfinished thou")
        .unwrap();
    b.get_mut().shutdown(Shutdown::Both).unwrap();
    drop(b);
    for r in [&mut a, &mut c] {
        assert!(read_line(r).ends_with(" is now bob"));
        assert_eq!(read_line(r), "bob: unfinished thou");
        assert_eq!(read_line(r), "* bob left");
    }
    c.get_mut().write_all(b"still here\n").unwrap();
    let line = read_line(&mut a);
    assert!(line.ends_with(": still here"), "{line}");
}

/// An upstream echo server in the test process.
fn upstream_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let _ = std::io::copy(&mut conn, &mut w);
                let _ = w.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

#[test]
fn proxy_bytes_flow_after_the_handler_exits() {
    let upstream = upstream_echo();
    let mut server = Server::start("proxy", &[&upstream]);
    let mut client = server.connect();
    // Nothing is sent until the handler process that wired the connection has exited.
    let line = server.wait_for_line("handler of connection 1 exited");
    assert!(line.contains("(normal)"), "{line}");
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut w = client.try_clone().unwrap();
        let p = payload.clone();
        std::thread::spawn(move || {
            w.write_all(&p).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "bytes through the proxy differ");
}

fn redis_cli(port: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", port])
        .args(args)
        .output()
        .expect("running redis-cli (Debian package redis-tools; .ci/run installs it)");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn kv_answers_redis_cli() {
    let server = Server::start("kv", &["4"]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let r = |args: &[&str]| redis_cli(&port, args);
    assert_eq!(r(&["PING"]), "PONG");
    assert_eq!(r(&["ECHO", "hi there"]), "hi there");
    assert_eq!(r(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(r(&["GET", "greeting"]), "hello");
    assert_eq!(r(&["GET", "missing"]), "");
    assert_eq!(r(&["INCR", "counter"]), "1");
    assert_eq!(r(&["INCR", "counter"]), "2");
    assert_eq!(
        r(&["INCR", "greeting"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(r(&["MSET", "k1", "v1", "k2", "v2", "k3", "v3"]), "OK");
    assert_eq!(r(&["MGET", "k1", "nope", "k3"]), "v1\n\nv3");
    assert_eq!(r(&["EXISTS", "k1", "k2", "nope"]), "2");
    assert_eq!(r(&["KEYS", "k*"]), "k1\nk2\nk3");
    assert_eq!(r(&["DEL", "k1", "k2", "nope"]), "2");
    assert_eq!(r(&["KEYS", "*"]), "counter\ngreeting\nk3");
    assert_eq!(r(&["SET", "short", "lived", "EX", "1"]), "OK");
    assert_eq!(r(&["GET", "short"]), "lived");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(r(&["GET", "short"]), "");
    assert_eq!(
        r(&["SET", "a", "b", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        r(&["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(r(&["NOSUCH"]), "ERR unknown command 'NOSUCH'");
    assert_eq!(r(&["DBSIZE"]), "3");
    // Many clients at once, over the shards.
    let out = Command::new("redis-benchmark")
        .args(["-p", &port, "-q", "-n", "2000", "-c", "20", "-t", "set,get"])
        .output();
    if let Ok(out) = out {
        assert!(out.status.success(), "redis-benchmark: {out:?}");
    }
    assert_eq!(r(&["GET", "counter"]), "2");
}

#[test]
fn network_outside_the_allow_list_is_denied() {
    scenario(&[], &["io_net_denied"]).assert_stdout_has("network allow-list (loopback) held");
    scenario(&["--allow-net", "0.0.0.0"], &["io_net_denied", "bind-any"])
        .assert_stdout_has("network allow-list (bind-any) held");
    scenario(
        &["--allow-net", "192.168.77.0/24:80"],
        &["io_net_denied", "rules"],
    )
    .assert_stdout_has("network allow-list (rules) held");
    let bad = run_guest(
        &["--allow-net", "10.0.0.0/40"],
        "test_guest",
        &["io_net_denied"],
    );
    bad.assert_code(2).assert_stderr_has(
        "--allow-net: network rule \"10.0.0.0/40\": the prefix length is out of range",
    );
}

fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc", dir.path().join("etc_link")).unwrap();
    dir
}

fn dir_flag(dir: &tempfile::TempDir) -> String {
    format!("{}:/data", dir.path().display())
}

#[test]
fn files_under_granted_directories_and_no_escape() {
    let dir = data_dir();
    let host = dir.path().display().to_string();
    scenario(&["--dir", &dir_flag(&dir)], &["io_files", &host])
        .assert_stdout_has("files under the grant, none outside");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("from_std.txt")).unwrap(),
        "written by std"
    );
}

#[test]
fn a_file_lock_lasts_until_the_last_handle_and_stream_are_gone() {
    let dir = data_dir();
    scenario(&["--dir", &dir_flag(&dir)], &["io_file_lock"])
        .assert_stdout_has("the lock lasted until its last handle and stream");
}

#[test]
fn a_splice_into_a_file_outlives_the_process_that_started_it() {
    let dir = data_dir();
    scenario(&["--dir", &dir_flag(&dir)], &["io_splice_file"])
        .assert_stdout_has("the splice outlived its starter");
    let text = std::fs::read_to_string(dir.path().join("spliced.txt")).unwrap();
    // Seen from the host too: the overwrite at offset 5 joined the first two lines.
    assert_eq!(text.lines().next(), Some("line ZEROne 1"));
    assert_eq!(text.lines().count(), 999);
}

/// A hand-written module (no SDK) passing bad handles gets error codes; bad pointers and
/// malformed arguments trap that process only.
#[test]
fn hand_written_module_with_bad_handles() {
    let dir = tempfile::tempdir().unwrap();
    let imports = r#"
      (import "warren:stream" "read" (func $read (param i32 i32 i32) (result i64)))
      (import "warren:stream" "write" (func $write (param i32 i32 i32) (result i64)))
      (import "warren:stream" "pipe" (func $pipe (param i32) (result i32)))
      (import "warren:stream" "copy" (func $copy (param i32 i32) (result i64)))
      (import "warren:stream" "future_wait" (func $fwait (param i32 i64 i32) (result i32)))
      (import "warren:resource" "drop" (func $drop (param i32) (result i32)))
      (import "warren:net" "tcp_accept" (func $accept (param i32) (result i64)))
      (import "warren:net" "tcp_connect" (func $connect (param i32 i32) (result i64)))
      (import "warren:fs" "open" (func $open (param i32 i32 i32) (result i64)))
      (import "warren:fs" "lock" (func $lock (param i32 i32) (result i32)))
      (import "warren:message" "attach" (func $attach (param i32 i32) (result i32)))
      (import "warren:message" "claim" (func $claim (param i32) (result i64)))
      (import "warren:select" "wait" (func $select (param i32 i32 i64) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 300) "\ff\fe not utf-8")"#;
    let codes = dir.path().join("codes.wat");
    std::fs::write(
        &codes,
        format!(
            r#"(module {imports}
          (func $expect (param i64 i64) (if (i64.ne (local.get 0) (local.get 1)) (then unreachable)))
          (func (export "_start")
            ;; a handle never opened: ERR_BAD_HANDLE (-8)
            (call $expect (call $read (i32.const 999) (i32.const 0) (i32.const 10)) (i64.const -8))
            (call $expect (i64.extend_i32_s (call $drop (i32.const 999))) (i64.const -8))
            (call $expect (call $accept (i32.const 0)) (i64.const -8))
            ;; a pipe: writer and reader handles at 100 and 104
            (call $expect (i64.extend_i32_s (call $pipe (i32.const 100))) (i64.const 0))
            ;; handles of the wrong kind: ERR_WRONG_HANDLE (-9)
            (call $expect (call $read (i32.load (i32.const 100)) (i32.const 0) (i32.const 10)) (i64.const -9))
            (call $expect (call $write (i32.load (i32.const 104)) (i32.const 0) (i32.const 10)) (i64.const -9))
            (call $expect (call $accept (i32.load (i32.const 104))) (i64.const -9))
            (call $expect (i64.extend_i32_s (call $fwait (i32.load (i32.const 104)) (i64.const 0) (i32.const 0))) (i64.const -9))
            (call $expect (i64.extend_i32_s (call $lock (i32.load (i32.const 100)) (i32.const 1))) (i64.const -9))
            (call $expect (call $copy (i32.load (i32.const 100)) (i32.load (i32.const 104))) (i64.const -9))
            ;; attaching an unknown or a repeated handle moves nothing: -8
            (i32.store (i32.const 200) (i32.const 999))
            (call $expect (i64.extend_i32_s (call $attach (i32.const 200) (i32.const 1))) (i64.const -8))
            (i32.store (i32.const 200) (i32.load (i32.const 100)))
            (i32.store (i32.const 204) (i32.load (i32.const 100)))
            (call $expect (i64.extend_i32_s (call $attach (i32.const 200) (i32.const 2))) (i64.const -8))
            ;; no message carries resources: -8
            (call $expect (call $claim (i32.const 0)) (i64.const -8))
            ;; a select on a dropped handle: -8
            (call $expect (i64.extend_i32_s (call $drop (i32.load (i32.const 104)))) (i64.const 0))
            (i32.store (i32.const 400) (i32.const 2))
            (i32.store (i32.const 404) (i32.load (i32.const 104)))
            (i64.store (i32.const 408) (i64.const 0))
            (call $expect (i64.extend_i32_s (call $select (i32.const 400) (i32.const 1) (i64.const 0))) (i64.const -8))
            ;; the writer still works after a failed attach: writing into a pipe whose reader
            ;; is gone is ERR_CONNECTION_RESET (-15)
            (call $expect (call $write (i32.load (i32.const 100)) (i32.const 0) (i32.const 1)) (i64.const -15))
            ;; text that is not UTF-8: ERR_BAD_ARGUMENT (-3)
            (call $expect (call $connect (i32.const 300) (i32.const 12)) (i64.const -3))
            (call $expect (call $open (i32.const 300) (i32.const 12) (i32.const 1)) (i64.const -3))
            ;; unknown open flags and lock modes are argument values, not ABI breaches: -3
            (call $expect (call $open (i32.const 300) (i32.const 1) (i32.const 4096)) (i64.const -3))
            (call $expect (i64.extend_i32_s (call $lock (i32.const 999) (i32.const 7))) (i64.const -3))))"#
        ),
    )
    .unwrap();
    run_file(&[], &codes, &[]).assert_code(0);

    let cases = [
        (
            "(i32.wrap_i64 (call $read (i32.const 1) (i32.const 65530) (i32.const 100)))",
            "",
        ),
        (
            "(call $pipe (i32.const 65533))",
            "warren:stream.pipe: buffer at 0xfffd of 8 bytes",
        ),
        (
            "(call $select (i32.const 0) (i32.const 0) (i64.const 0))",
            "warren:select.wait: 0 entries",
        ),
        (
            "(call $select (i32.const 65530) (i32.const 1) (i64.const 0))",
            "warren:select.wait: buffer at 0xfffa of 16 bytes",
        ),
        (
            "(call $select (i32.const 500) (i32.const 1) (i64.const 0))",
            "warren:select.wait: unknown entry kind 0",
        ),
        (
            "(call $attach (i32.const 65535) (i32.const 4))",
            "warren:message.attach: buffer at 0xffff of 16 bytes",
        ),
    ];
    for (i, (call, expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.wat"));
        let body = if i == 0 {
            // A real readable handle with a buffer past the end of memory.
            format!(
                "(drop (call $pipe (i32.const 100))) (drop {})",
                call.replace("(i32.const 1)", "(i32.load (i32.const 104))")
            )
        } else {
            format!("(drop {call})")
        };
        std::fs::write(
            &file,
            format!(r#"(module {imports} (func (export "_start") {body}))"#),
        )
        .unwrap();
        let expected = if i == 0 {
            "warren:stream.read: buffer at 0xfffa of 100 bytes"
        } else {
            expected
        };
        run_file(&[], &file, &[])
            .assert_code(1)
            .assert_stderr_has(expected);
    }
}

#[test]
fn help_tells_the_network_default() {
    let out = warren().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--allow-net"), "{help}");
    assert!(help.contains("loopback only"), "{help}");
}
