//! warren-runtime as a library: two independent runtimes in one host process, typed messages
//! between the host and guests, entering a guest through any export, and a shutdown that
//! leaves nothing behind (ports, locks, pumps, tasks).

#[path = "../../../tests/support/guests.rs"]
mod guests;
use std::time::Duration;
use warren_runtime::{ExitReason, HostMailbox, Runtime};

type Note = (String, u64);

async fn note(host: &HostMailbox) -> Note {
    host.receive_timeout::<Note>(Duration::from_secs(30))
        .await
        .expect("a note from the guest")
}

fn scheduler() -> tokio::runtime::Runtime {
    warren_runtime::scheduler().unwrap()
}

#[test]
fn two_runtimes_in_one_process_share_nothing() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("hello.txt"), "hi").unwrap();
    scheduler().block_on(async {
        let small = Runtime::builder()
            .max_processes(20)
            .max_memory(16 << 20)
            .args(["test_guest", "embed_spawn", "50"])
            .build_file(&guests::guest("test_guest"))
            .unwrap();
        let large = Runtime::builder()
            .max_processes(200)
            .args(["test_guest", "embed_spawn", "50"])
            .dir(data.path(), "/data")
            .build_file(&guests::guest("test_guest"))
            .unwrap();
        assert_eq!((small.process_limit(), large.process_limit()), (20, 200));
        // The same name in both: names are per runtime.
        let (host_s, host_l) = (small.host_mailbox().unwrap(), large.host_mailbox().unwrap());
        host_s.register("host").unwrap();
        host_l.register("host").unwrap();
        let (root_s, root_l) = (small.start().unwrap(), large.start().unwrap());
        // Pids are per runtime too: both roots have the same pid, and are different processes.
        assert_eq!(root_s.pid, root_l.pid);

        // The small runtime hits its own limit (20, its mailbox and root included); the
        // large one does not.
        assert_eq!(note(&host_s).await, ("spawned".into(), 18));
        assert_eq!(note(&host_l).await, ("spawned".into(), 50));
        // Only the large runtime was granted the directory.
        assert_eq!(note(&host_s).await, ("file readable".into(), 0));
        assert_eq!(note(&host_l).await, ("file readable".into(), 1));
        assert_eq!(note(&host_s).await, ("registered svc".into(), 1));
        assert_eq!(note(&host_l).await, ("registered svc".into(), 1));
        assert_eq!(small.process_count(), 20);
        assert_eq!(large.process_count(), 52);

        // A message from the host to a pid reaches that runtime's process only.
        assert!(small.send(root_s.pid, &()).unwrap());
        assert_eq!(root_s.exited().await, ExitReason::Normal);
        assert_eq!(
            large.process_count(),
            52,
            "the large runtime's root is untouched"
        );
        assert_eq!(small.whereis("svc"), None);
        assert_eq!(large.whereis("svc"), Some(root_l.pid));

        assert_eq!(small.shutdown(Duration::from_secs(10)).await, 0);
        assert_eq!(large.process_count(), 52);
        assert_eq!(large.shutdown(Duration::from_secs(10)).await, 0);
    });
}

#[test]
fn shutdown_releases_ports_locks_pumps_and_tasks() {
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler();
    let port = scheduler.block_on(async {
        let runtime = Runtime::builder()
            .args(["test_guest", "embed_hold"])
            .dir(data.path(), "/data")
            .build_file(&guests::guest("test_guest"))
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let root = runtime.start().unwrap();
        let (what, port) = note(&host).await;
        assert_eq!(what, "ready");
        let port = port as u16;
        // Held while the runtime runs.
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
        let held = std::fs::File::open(data.path().join("held.txt")).unwrap();
        assert!(held.try_lock().is_err(), "the guest holds the lock");
        assert_eq!(runtime.pump_count(), 1);
        assert_eq!(runtime.process_count(), 3);

        assert_eq!(runtime.shutdown(Duration::from_secs(10)).await, 0);
        assert_eq!(root.exited().await, ExitReason::Killed);
        assert_eq!(runtime.process_count(), 0);
        assert_eq!(runtime.pump_count(), 0);
        drop(host);
        // The port and the lock are free again, at once.
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        held.try_lock().expect("the lock is free");
        port
    });
    // Every task the runtime started is gone (processes, pumps, timers).
    let metrics = scheduler.handle().metrics();
    for _ in 0..500 {
        if metrics.num_alive_tasks() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(metrics.num_alive_tasks(), 0, "port {port}");
}

#[test]
fn host_enters_a_guest_through_an_export() {
    scheduler().block_on(async {
        let runtime = Runtime::builder()
            .build_file(&guests::guest("test_guest"))
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let started = runtime.start_export("embed_entry").unwrap();
        let (what, pid) = note(&host).await;
        assert_eq!((what.as_str(), pid), ("entered by export", started.pid));
        runtime.send(started.pid, &()).unwrap();
        assert_eq!(started.exited().await, ExitReason::Normal);
        let missing = runtime.start_export("no_such_entry").unwrap_err();
        assert!(
            missing.to_string().contains("no function `no_such_entry`"),
            "{missing}"
        );
        // The host can monitor processes too (the process waits for the host's word, so the
        // monitor is in place before it can end).
        let watched = runtime.start_export("embed_entry").unwrap();
        let monitor = host.monitor(watched.pid).unwrap();
        note(&host).await;
        runtime.send(watched.pid, &()).unwrap();
        assert_eq!(host.wait_exit(monitor).await, ExitReason::Normal);
        assert_eq!(runtime.shutdown(Duration::from_secs(5)).await, 0);
    });
}

/// A runtime built without `warren:net` and `warren:fs` (an embedder that wants processes
/// and messages but no reach outside): a guest that uses neither runs as usual, one that
/// imports either is refused when the runtime is built, naming the function, and so is one
/// importing a function warren's ABI does not have.
#[test]
fn a_runtime_without_net_and_fs_refuses_guests_that_import_them() {
    let build = |imports: &str, body: &str| {
        let wat = format!(
            "(module {imports} (memory (export \"memory\") 1) (func (export \"_start\") {body}))"
        );
        Runtime::builder()
            .without("warren:net")
            .without("warren:fs")
            .max_processes(4)
            .max_memory(1 << 20)
            .build_bytes(wat.as_bytes())
    };
    scheduler().block_on(async {
        // Processes and messages still work: the guest sends itself a message and receives it.
        let runtime = build(
            r#"(import "warren:process" "self" (func $self (result i64)))
               (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
               (import "warren:message" "receive"
                 (func $receive (param i64 i32 i32 i64 i32) (result i64)))"#,
            "(if (i32.ne (call $send (call $self) (i64.const 0) (i32.const 0) (i32.const 3))
                         (i32.const 0)) (then unreachable))
             (if (i64.ne (call $receive (i64.const 0) (i32.const 16) (i32.const 16)
                                        (i64.const 1000) (i32.const 0)) (i64.const 3))
               (then unreachable))",
        )
        .expect("a guest without net or fs imports");
        assert_eq!(runtime.start().unwrap().exited().await, ExitReason::Normal);
        runtime.shutdown(Duration::from_secs(5)).await;

        for (import, call) in [
            (
                r#"(import "warren:net" "tcp_bind" (func (param i32 i32) (result i64)))"#,
                "warren:net.tcp_bind",
            ),
            (
                r#"(import "warren:fs" "open" (func (param i32 i32 i32) (result i64)))"#,
                "warren:fs.open",
            ),
        ] {
            let module = call.split('.').next().unwrap();
            let e = build(import, "").err().expect("refused").to_string();
            assert!(
                e.contains(&format!(
                    "imports {call}, but this runtime leaves {module} out"
                )),
                "{e}"
            );
        }
        let e = build(
            r#"(import "warren:process" "teleport" (func (param i64)))"#,
            "",
        )
        .err()
        .expect("refused")
        .to_string();
        assert!(
            e.contains("warren:process.teleport, which is not a function of warren's ABI"),
            "{e}"
        );
        // The process model itself cannot be left out.
        let e = Runtime::builder()
            .without("warren:process")
            .build_bytes(b"(module)")
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("\"warren:process\" cannot be left out"), "{e}");
    });
}
