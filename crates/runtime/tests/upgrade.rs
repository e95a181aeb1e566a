//! Hot code upgrade, the runtime's side (docs/upgrade.md): versions loaded while processes
//! run, which version each start runs, the purge by a third load, and the modules a load
//! refuses — with the running version serving on, untouched.
//!
//! The guests are small hand-written modules, one per "version": each says its number when
//! its root starts (`_start`) and its number + 100 when a spawned process starts
//! (`warren_entry`), so the host sees which version's code each process runs. A root spawns
//! a child each time it receives a message: the child must run the root's version (its
//! function-table indices belong to that build), whatever is current.

use std::time::Duration;
use warren_runtime::{Error, ExitReason, Loaded, Runtime, VersionInfo};

const WAIT: Duration = Duration::from_secs(10);

/// Version `n` of the program.
fn program(n: u8) -> String {
    with(n, "", "")
}

/// Version `n` of the program, with more `imports` and `extra` fields.
fn with(n: u8, imports: &str, extra: &str) -> String {
    let child = n + 100;
    format!(
        r#"(module
  {imports}
  (import "warren:registry" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
  (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
  (import "warren:process" "spawn"
    (func $spawn (param i32 i32 i32 i32 i64 i32 i64 i64) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "host")
  (data (i32.const 8) "\{n:02x}\{child:02x}")
  (func $tell (param i32)
    (drop (call $send (call $whereis (i32.const 0) (i32.const 4)) (i64.const 0)
                      (local.get 0) (i32.const 1))))
  (func $wait
    (drop (call $receive (i64.const 0) (i32.const 64) (i32.const 64) (i64.const -1) (i32.const 0))))
  (func (export "_start")
    (call $tell (i32.const 8))
    (loop $each
      (call $wait)
      (drop (call $spawn (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                         (i64.const 0) (i32.const 0) (i64.const 0) (i64.const 0)))
      (br $each)))
  (func (export "warren_entry") (param i32 i32 i32)
    (call $tell (i32.const 9))
    (loop $forever (call $wait) (br $forever)))
  {extra})"#
    )
}

/// Run `test` with a runtime built from version 1 and a host mailbox registered as "host".
fn with_runtime<F, Fut>(test: F)
where
    F: FnOnce(Runtime, warren_runtime::HostMailbox) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    with_first(program(1), test)
}

/// The next byte a process told the host.
async fn told(host: &warren_runtime::HostMailbox) -> u8 {
    host.receive_timeout(WAIT)
        .await
        .expect("a process to say its version")
}

fn numbers(versions: &[VersionInfo]) -> Vec<(u32, bool, usize)> {
    versions
        .iter()
        .map(|v| (v.number, v.current, v.processes))
        .collect()
}

#[test]
fn new_starts_run_the_loaded_version_and_running_processes_keep_theirs() {
    with_runtime(|runtime, host| async move {
        let first = runtime.start().unwrap();
        assert_eq!(told(&host).await, 1);

        let loaded = runtime.load_version(program(2)).await.unwrap();
        assert_eq!(
            (loaded.version, loaded.previous, loaded.purged),
            (2, Some(1), None)
        );
        assert!(loaded.to_string().starts_with("version 2 ("), "{loaded}");

        // A root started now runs version 2; the first one still runs version 1.
        let second = runtime.start().unwrap();
        assert_eq!(told(&host).await, 2);
        assert_eq!(numbers(&runtime.versions()), [(2, true, 1), (1, false, 1)]);

        // Each root's children run their root's version, whatever is current.
        assert!(runtime.send_bytes(first.pid, vec![0]));
        assert_eq!(told(&host).await, 101);
        assert!(runtime.send_bytes(second.pid, vec![0]));
        assert_eq!(told(&host).await, 102);
        assert_eq!(numbers(&runtime.versions()), [(2, true, 2), (1, false, 2)]);
    });
}

#[test]
fn a_third_load_purges_the_oldest_version_and_its_processes_end_saying_so() {
    with_runtime(|runtime, host| async move {
        let first = runtime.start().unwrap();
        assert_eq!(told(&host).await, 1);
        assert!(runtime.send_bytes(first.pid, vec![0]));
        assert_eq!(told(&host).await, 101);

        runtime.load_version(program(2)).await.unwrap();
        let second = runtime.start().unwrap();
        assert_eq!(told(&host).await, 2);
        let second_pid = second.pid;

        // Version 1's root and its child end; version 2's root lives on.
        let loaded = runtime.load_version(program(3)).await.unwrap();
        assert_eq!((loaded.version, loaded.previous), (3, Some(2)));
        assert_eq!(loaded.purged, Some((1, 2)));
        assert!(
            loaded
                .to_string()
                .ends_with("version 1 was purged (2 processes ended)")
        );
        let reason = tokio::time::timeout(WAIT, first.exited()).await.unwrap();
        assert_eq!(reason, ExitReason::Upgrade("version 1 was purged".into()));
        assert_eq!(reason.to_string(), "upgrade: version 1 was purged");
        assert_eq!(numbers(&runtime.versions()), [(3, true, 0), (2, false, 1)]);

        // Version 2's root still spawns version 2's children.
        assert!(runtime.send_bytes(second_pid, vec![0]));
        assert_eq!(told(&host).await, 102);
        runtime.start().unwrap();
        assert_eq!(told(&host).await, 3);
    });
}

#[test]
fn a_monitor_sees_the_purge_reason() {
    with_runtime(|runtime, host| async move {
        let first = runtime.start().unwrap();
        assert_eq!(told(&host).await, 1);
        let watch = host.monitor(first.pid).unwrap();
        runtime.load_version(program(2)).await.unwrap();
        runtime.load_version(program(3)).await.unwrap();
        let reason = tokio::time::timeout(WAIT, host.wait_exit(watch))
            .await
            .unwrap();
        assert_eq!(reason, ExitReason::Upgrade("version 1 was purged".into()));
    });
}

#[test]
fn loading_the_current_module_changes_nothing_and_the_old_one_comes_back() {
    with_runtime(|runtime, host| async move {
        let again = runtime.load_version(program(1)).await.unwrap();
        assert_eq!((again.version, again.previous), (1, None));
        assert!(again.to_string().starts_with("unchanged"), "{again}");

        runtime.load_version(program(2)).await.unwrap();
        let back: Loaded = runtime.load_version(program(1)).await.unwrap();
        assert_eq!(
            (back.version, back.previous, back.purged),
            (1, Some(2), None)
        );
        runtime.start().unwrap();
        assert_eq!(told(&host).await, 1);
        assert_eq!(numbers(&runtime.versions()), [(1, true, 1), (2, false, 0)]);

        // The next new version is numbered after every one seen.
        let next = runtime.load_version(program(3)).await.unwrap();
        assert_eq!((next.version, next.purged), (3, Some((2, 0))));
    });
}

/// A refused module changes nothing: the same version stays current and serves new starts.
async fn refused(runtime: &Runtime, host: &warren_runtime::HostMailbox, module: &str, why: &str) {
    match runtime.load_version(module.as_bytes()).await {
        Err(e @ Error::Upgrade(_)) => {
            let text = e.to_string();
            assert!(
                text.starts_with("the new version was not loaded: "),
                "{text}"
            );
            assert!(text.contains(why), "{text:?} does not say {why:?}");
        }
        other => panic!("expected a refusal saying {why:?}, got {other:?}"),
    }
    assert_eq!(numbers(&runtime.versions())[0].0, 1);
    runtime.start().unwrap();
    assert_eq!(told(host).await, 1);
}

#[test]
fn bad_modules_are_refused_and_the_running_version_serves_on() {
    with_runtime(|runtime, host| async move {
        refused(&runtime, &host, "not a module", "not a WebAssembly module").await;
        refused(&runtime, &host, "(module (func", "invalid module").await;
        let no_entry = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
        refused(&runtime, &host, no_entry, "has no `warren_entry` export").await;
        let no_memory = r#"(module (func (export "warren_entry") (param i32 i32 i32)))"#;
        refused(&runtime, &host, no_memory, "has no `memory` export").await;
        let wrong_entry = r#"(module (memory (export "memory") 1)
            (func (export "warren_entry") (param i32)))"#;
        refused(
            &runtime,
            &host,
            wrong_entry,
            "is not a function (i32, i32, i32) -> ()",
        )
        .await;
        let not_warren = with(2, r#"(import "warren:process" "teleport" (func))"#, "");
        refused(&runtime, &host, &not_warren, "warren:process.teleport").await;
        let other_import = with(2, r#"(import "env" "missing" (func))"#, "");
        refused(&runtime, &host, &other_import, "does not link").await;
        let wrong_type = with(
            2,
            r#"(import "warren:process" "self" (func (param i32)))"#,
            "",
        );
        refused(&runtime, &host, &wrong_type, "does not link").await;
        let traps = with(2, "", "(func $boom unreachable) (start $boom)");
        refused(&runtime, &host, &traps, "does not start: trap").await;
        let huge = program(2).replace(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 64)",
        );
        refused(
            &runtime,
            &host,
            &huge,
            "needs more memory at start than the memory limit",
        )
        .await;
        assert_eq!(numbers(&runtime.versions()), [(1, true, 10)]);
        // A good one still loads afterwards, numbered 2.
        assert_eq!(runtime.load_version(program(2)).await.unwrap().version, 2);
    });
}

#[test]
fn a_start_function_that_never_returns_is_refused_after_the_probe_time() {
    with_runtime(|runtime, host| async move {
        // A busy loop: preempted, then killed when the probe's time is up (10 s).
        let spins = with(2, "", "(func $spin (loop $l (br $l))) (start $spin)");
        refused(&runtime, &host, &spins, "did not start in 10 s").await;
        assert_eq!(runtime.load_version(program(2)).await.unwrap().version, 2);
    });
}

#[test]
fn one_load_at_a_time() {
    with_runtime(|runtime, host| async move {
        // Version 2's start function registers its process as "probe" and waits for a
        // message: its load stays in its probe until the host lets it go.
        let stalls = with(
            2,
            r#"(import "warren:registry" "register" (func $register (param i32 i32 i64) (result i32)))
               (import "warren:process" "self" (func $self (result i64)))"#,
            r#"(data (i32.const 16) "probe")
               (func $hold
                 (drop (call $register (i32.const 16) (i32.const 5) (call $self)))
                 (call $wait))
               (start $hold)"#,
        );
        let slow = runtime.clone();
        let first = tokio::spawn(async move { slow.load_version(stalls).await });
        let probe = loop {
            if let Some(pid) = runtime.whereis("probe") {
                break pid;
            }
            tokio::task::yield_now().await;
        };
        match runtime.load_version(program(3)).await {
            Err(Error::Upgrade(why)) => {
                assert!(why.contains("another version is loading"), "{why}")
            }
            other => panic!("a second load while one runs: {other:?}"),
        }
        // Version 2 is not held before its probe ends.
        assert_eq!(numbers(&runtime.versions()), [(1, true, 0)]);
        assert!(runtime.send_bytes(probe, vec![0]));
        let loaded = tokio::time::timeout(WAIT, first)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((loaded.version, loaded.previous), (2, Some(1)));
        runtime.load_version(program(3)).await.unwrap();
        runtime.start().unwrap();
        assert_eq!(told(&host).await, 3);
    });
}

/// Version `n` of a program whose root says `n`, then runs `then` — hibernating or upgrading
/// at a resume point named by the text at 32 (`app::serve`, or `app::other` at 48) — and
/// which exports the resume point `app::serve` (saying `n + 200`) if `serves`. Woken through
/// its indices, a process says `n + 100`.
fn sleeper(n: u8, serves: bool, then: &str) -> String {
    let (child, resumed) = (n + 100, n + 200);
    let point = if serves {
        r#"(func (export "warren_resume:app::serve") (param i32)
             (call $tell (i32.const 10))
             (loop $forever (call $wait) (br $forever)))"#
    } else {
        ""
    };
    format!(
        r#"(module
  (import "warren:registry" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
  (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
  (import "warren:process" "hibernate"
    (func $hibernate (param i32 i32 i32 i32 i32 i32)))
  (import "warren:process" "upgrade"
    (func $upgrade (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "host")
  (data (i32.const 8) "\{n:02x}\{child:02x}\{resumed:02x}")
  (data (i32.const 32) "app::serve")
  (data (i32.const 48) "app::other")
  (func $tell (param i32)
    (drop (call $send (call $whereis (i32.const 0) (i32.const 4)) (i64.const 0)
                      (local.get 0) (i32.const 1))))
  (func $wait
    (drop (call $receive (i64.const 0) (i32.const 64) (i32.const 64) (i64.const -1) (i32.const 0))))
  (func (export "_start")
    (call $tell (i32.const 8))
    {then})
  (func (export "warren_entry") (param i32 i32 i32)
    (call $tell (i32.const 9))
    (loop $forever (call $wait) (br $forever)))
  {point})"#
    )
}

const HIBERNATE_AT_SERVE: &str = "(call $hibernate (i32.const 0) (i32.const 0) (i32.const 0) \
                                  (i32.const 0) (i32.const 32) (i32.const 10))";
const HIBERNATE_AT_OTHER: &str = "(call $hibernate (i32.const 0) (i32.const 0) (i32.const 0) \
                                  (i32.const 0) (i32.const 48) (i32.const 10))";
const UPGRADE_AT_SERVE: &str = "(call $wait) (call $upgrade (i32.const 0) (i32.const 0) \
                                (i32.const 0) (i32.const 0) (i32.const 32) (i32.const 10))";
const UPGRADE_AT_OTHER: &str = "(call $wait) (call $upgrade (i32.const 0) (i32.const 0) \
                                (i32.const 0) (i32.const 0) (i32.const 48) (i32.const 10))";

/// Run `test` with a runtime built from `first` and a host mailbox registered as "host".
fn with_first<F, Fut>(first: String, test: F)
where
    F: FnOnce(Runtime, warren_runtime::HostMailbox) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let tokio = warren_runtime::scheduler().unwrap();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .max_processes(64)
            .max_memory(1 << 20)
            .build_bytes(first.as_bytes())
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        test(runtime.clone(), host).await;
        assert_eq!(runtime.shutdown(Duration::from_secs(5)).await, 0);
    });
}

#[test]
fn a_process_hibernated_at_a_named_point_wakes_on_the_current_version() {
    with_first(
        sleeper(1, true, HIBERNATE_AT_SERVE),
        |runtime, host| async move {
            let root = runtime.start().unwrap();
            assert_eq!(told(&host).await, 1);
            // Woken with its own version current: through its indices.
            assert!(runtime.send_bytes(root.pid, vec![0]));
            assert_eq!(told(&host).await, 101);

            let sleeper = runtime.start().unwrap();
            assert_eq!(told(&host).await, 1);
            // Hibernated at its named point (until then it is awake on version 1).
            while runtime.hibernating() != 1 {
                tokio::task::yield_now().await;
            }
            runtime.load_version(sleeper_v(2, true)).await.unwrap();
            // A third load purges version 1: the awake root ends, the hibernated one (at a
            // named point) does not.
            let loaded = runtime.load_version(sleeper_v(3, true)).await.unwrap();
            assert_eq!(loaded.purged, Some((1, 1)));
            let reason = tokio::time::timeout(WAIT, root.exited()).await.unwrap();
            assert_eq!(reason, ExitReason::Upgrade("version 1 was purged".into()));
            assert!(runtime.send_bytes(sleeper.pid, vec![0]));
            assert_eq!(told(&host).await, 203);
            assert_eq!(numbers(&runtime.versions()), [(3, true, 1), (2, false, 0)]);
        },
    );
}

/// Version `n` of the sleeper, its root hibernating at `app::serve`.
fn sleeper_v(n: u8, serves: bool) -> String {
    sleeper(n, serves, HIBERNATE_AT_SERVE)
}

#[test]
fn a_name_the_version_does_not_export_is_an_unnamed_point() {
    with_first(
        sleeper(1, true, HIBERNATE_AT_OTHER),
        |runtime, host| async move {
            let root = runtime.start().unwrap();
            assert_eq!(told(&host).await, 1);
            runtime.load_version(sleeper_v(2, true)).await.unwrap();
            // It keeps version 1: woken through its indices.
            assert!(runtime.send_bytes(root.pid, vec![0]));
            assert_eq!(told(&host).await, 101);
            assert_eq!(numbers(&runtime.versions()), [(2, true, 0), (1, false, 1)]);
        },
    );
}

#[test]
fn a_resume_point_missing_in_the_current_version_ends_the_process_saying_so() {
    with_first(sleeper_v(1, true), |runtime, host| async move {
        let root = runtime.start().unwrap();
        assert_eq!(told(&host).await, 1);
        runtime.load_version(sleeper_v(2, false)).await.unwrap();
        assert!(runtime.send_bytes(root.pid, vec![0]));
        let reason = tokio::time::timeout(WAIT, root.exited()).await.unwrap();
        assert_eq!(
            reason.to_string(),
            "upgrade: version 2 has no resume point \"app::serve\""
        );
    });
}

#[test]
fn upgrade_moves_to_the_current_version_at_once() {
    with_first(
        sleeper(1, true, UPGRADE_AT_SERVE),
        |runtime, host| async move {
            let root = runtime.start().unwrap();
            assert_eq!(told(&host).await, 1);
            runtime
                .load_version(sleeper(2, true, UPGRADE_AT_SERVE))
                .await
                .unwrap();
            // One message: it upgrades, and runs version 2's point without another.
            assert!(runtime.send_bytes(root.pid, vec![0]));
            assert_eq!(told(&host).await, 202);
            assert_eq!(numbers(&runtime.versions()), [(2, true, 1), (1, false, 0)]);

            // With its own version current, `upgrade` re-enters it through its indices.
            let again = runtime.start().unwrap();
            assert_eq!(told(&host).await, 2);
            assert!(runtime.send_bytes(again.pid, vec![0]));
            assert_eq!(told(&host).await, 102);
        },
    );
}

#[test]
fn upgrade_at_a_point_the_version_does_not_export_ends_the_process_saying_so() {
    with_first(
        sleeper(1, true, UPGRADE_AT_OTHER),
        |runtime, _host| async move {
            let root = runtime.start().unwrap();
            assert!(runtime.send_bytes(root.pid, vec![0]));
            let reason = tokio::time::timeout(WAIT, root.exited()).await.unwrap();
            assert_eq!(
                reason.to_string(),
                "upgrade: version 1 has no resume point \"app::other\" to upgrade at (declare it \
             with warren::resume_point!)"
            );
        },
    );
}

/// A program whose every instance upgrades at once at its own resume point `app::serve`, so
/// a process started on it makes a new instance per round, forever; `other` says 1 and waits.
const UPGRADES_FOREVER: &str = r#"(module
  (import "warren:registry" "whereis" (func $whereis (param i32 i32) (result i64)))
  (import "warren:message" "send" (func $send (param i64 i64 i32 i32) (result i32)))
  (import "warren:message" "receive" (func $receive (param i64 i32 i32 i64 i32) (result i64)))
  (import "warren:process" "upgrade" (func $upgrade (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "host")
  (data (i32.const 8) "\01")
  (data (i32.const 32) "app::serve")
  (func $again
    (call $upgrade (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 32)
                   (i32.const 10)))
  (func (export "_start") (call $again))
  (func (export "warren_entry") (param i32 i32 i32) (call $again))
  (func (export "warren_resume:app::serve") (param i32) (call $again))
  (func (export "other")
    (drop (call $send (call $whereis (i32.const 0) (i32.const 4)) (i64.const 0)
                      (i32.const 8) (i32.const 1)))
    (drop (call $receive (i64.const 0) (i32.const 64) (i32.const 64) (i64.const -1)
                         (i32.const 0)))))"#;

#[test]
fn a_process_upgrading_in_a_loop_shares_its_worker_and_can_be_killed() {
    let tokio = warren_runtime::scheduler().unwrap();
    tokio.block_on(async {
        // One worker. (A process started by the host takes its first steps on a tokio
        // thread, so this shows that others run and a kill ends the loop; that a looping
        // upgrade yields its worker is `process::execute`'s `yield_once`.)
        let runtime = Runtime::builder()
            .max_processes(16)
            .max_memory(1 << 20)
            .workers(1)
            .build_bytes(UPGRADES_FOREVER.as_bytes())
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let looping = runtime.start().unwrap();
        for _ in 0..20 {
            let other = runtime.start_export("other").unwrap();
            assert_eq!(told(&host).await, 1, "another process runs meanwhile");
            assert!(runtime.kill(other.pid));
        }
        assert!(runtime.kill(looping.pid));
        let reason = tokio::time::timeout(WAIT, looping.exited()).await.unwrap();
        assert_eq!(reason, ExitReason::Killed);
        assert_eq!(runtime.shutdown(Duration::from_secs(5)).await, 0);
    });
}

#[test]
fn loads_in_a_row_hold_two_versions_at_most() {
    with_runtime(|runtime, host| async move {
        let first = runtime.start().unwrap();
        assert_eq!(told(&host).await, 1);
        let down = host.monitor(first.pid).unwrap();
        for n in 2..=30u8 {
            let loaded = runtime.load_version(program(n)).await.unwrap();
            assert_eq!(
                (loaded.version, loaded.previous),
                (n as u32, Some(n as u32 - 1))
            );
            let held: Vec<u32> = runtime.versions().iter().map(|v| v.number).collect();
            assert_eq!(held, [n as u32, n as u32 - 1]);
        }
        // The first root ended with the purge of version 1, at the third load.
        assert_eq!(
            host.wait_exit(down).await,
            ExitReason::Upgrade("version 1 was purged".into())
        );
        runtime.start().unwrap();
        assert_eq!(told(&host).await, 30);
    });
}
