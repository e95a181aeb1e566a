//! Hot code upgrade with real builds of one program in three versions (`tests/upgrade`,
//! built with no features, `v2` and `v3`): a counter keeps its count across upgrades and
//! answers with the new code; its state migrates through a `from:` arm; a resume point that
//! a version no longer declares, a state that no longer decodes, and a process that never
//! reaches an upgrade point each end with the documented reason.

#[path = "../../../tests/support/guests.rs"]
mod guests;
use std::time::Duration;
use warren_runtime::{ExitReason, HostMailbox, Runtime};

const WAIT: Duration = Duration::from_secs(20);

/// The next `(version, value)` a process of the guest told the host.
async fn told(host: &HostMailbox) -> (u32, u64) {
    host.receive_timeout(WAIT)
        .await
        .expect("an answer from the guest")
}

/// The held versions and how many processes run each, current first.
fn numbers(runtime: &Runtime) -> Vec<(u32, usize)> {
    runtime
        .versions()
        .iter()
        .map(|v| (v.number, v.processes))
        .collect()
}

/// Send `n` to the process registered as `name`.
fn send(runtime: &Runtime, name: &str, n: u64) -> u64 {
    let pid = runtime.whereis(name).unwrap_or_else(|| panic!("no {name}"));
    assert!(runtime.send(pid, &n).unwrap(), "{name} is alive");
    pid
}

#[test]
fn a_program_upgraded_twice_keeps_its_state_and_runs_the_new_code() {
    let v1 = guests::guest_with_features("upgrade_guest", "");
    let v2 = guests::guest_with_features("upgrade_guest", "v2");
    let v3 = guests::guest_with_features("upgrade_guest", "v3");
    let tokio = warren_runtime::scheduler().unwrap();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .max_processes(64)
            .build_file(&v1)
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let root = runtime.start().unwrap();
        assert_eq!(told(&host).await, (1, 0));
        assert_eq!(root.exited().await, ExitReason::Normal);

        // Version 1: the counter adds what it is sent.
        send(&runtime, "counter", 5);
        assert_eq!(told(&host).await, (1, 5));
        send(&runtime, "echo", 7);
        assert_eq!(told(&host).await, (1, 7));
        send(&runtime, "gauge", 0);
        assert_eq!(told(&host).await, (1, "\"calm\"".len() as u64));
        let stubborn = send(&runtime, "stubborn", 1);
        assert_eq!(told(&host).await, (1, 1));
        let stubborn_down = host.monitor(stubborn).unwrap();

        // Version 2: the same processes, the new code: the counter adds ten times, and
        // keeps the count it had. The stubborn process never hibernates: still version 1.
        let loaded = runtime.load_version_file(&v2).await.unwrap();
        assert_eq!((loaded.version, loaded.previous), (2, Some(1)));
        send(&runtime, "counter", 5);
        assert_eq!(told(&host).await, (2, 55));
        send(&runtime, "echo", 7);
        assert_eq!(told(&host).await, (2, 7));
        send(&runtime, "gauge", 0);
        assert_eq!(told(&host).await, (2, "\"calm\"".len() as u64));
        send(&runtime, "stubborn", 2);
        assert_eq!(told(&host).await, (1, 2));
        // The server loop answers on version 1, then moves at its checkpoint.
        send(&runtime, "tally", 1);
        assert_eq!(told(&host).await, (1, 1));
        send(&runtime, "tally", 1);
        assert_eq!(told(&host).await, (2, 2));
        // counter, echo and gauge moved to version 2 when they woke at their named points,
        // tally at its checkpoint; stubborn and the supervisor's worker never hibernate.
        // The supervisor moves on its own, within a second of the load.
        let tree = runtime.whereis("tree").expect("the supervisor");
        let deadline = std::time::Instant::now() + WAIT;
        while runtime.process_version(tree) != Some(2) {
            assert!(
                std::time::Instant::now() < deadline,
                "the supervisor stays on version 1"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let worker = send(&runtime, "worker", 1);
        assert_eq!(told(&host).await, (1, 9001));
        assert_eq!(numbers(&runtime), [(2, 5), (1, 2)]);

        // Version 3 purges version 1: the stubborn process ends saying so.
        let echo_down = host.monitor(runtime.whereis("echo").unwrap()).unwrap();
        let gauge_down = host.monitor(runtime.whereis("gauge").unwrap()).unwrap();
        let loaded = runtime.load_version_file(&v3).await.unwrap();
        assert_eq!(loaded.purged, Some((1, 2)), "stubborn and the worker");
        assert_eq!(
            host.wait_exit(stubborn_down).await,
            ExitReason::Upgrade("version 1 was purged".into())
        );
        // The counter's state migrates from version 2's bare count (55 + 10), and counts
        // its first message since version 3.
        send(&runtime, "counter", 1);
        assert_eq!(told(&host).await, (3, 65 * 1000 + 1));
        send(&runtime, "counter", 1);
        assert_eq!(told(&host).await, (3, 75 * 1000 + 2));
        // Version 3 declares no `echo` point, and its gauge's state is of another type.
        send(&runtime, "echo", 7);
        assert_eq!(
            host.wait_exit(echo_down).await,
            ExitReason::Upgrade("version 3 has no resume point \"upgrade_guest::echo\"".into())
        );
        send(&runtime, "gauge", 0);
        match host.wait_exit(gauge_down).await {
            ExitReason::Upgrade(why) => assert!(
                why.starts_with(
                    "the captures of upgrade_guest::gauge do not decode as this version's `u64`"
                ),
                "{why}"
            ),
            other => panic!("the gauge ended with {other}"),
        }
        // The supervisor restarts its purged worker on version 3: it moved there first, on
        // the worker's exit signal, whose handling is version 3's code.
        let deadline = std::time::Instant::now() + WAIT;
        let restarted = loop {
            match runtime.whereis("worker") {
                Some(pid) if pid != worker => break pid,
                _ => {
                    assert!(std::time::Instant::now() < deadline, "no new worker");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        assert_eq!(runtime.process_version(restarted), Some(3));
        assert_eq!(runtime.process_version(tree), Some(3));
        send(&runtime, "worker", 2);
        assert_eq!(told(&host).await, (3, 9002));
        // The tally moves again, its state unchanged.
        send(&runtime, "tally", 1);
        assert_eq!(told(&host).await, (2, 3));
        send(&runtime, "tally", 1);
        assert_eq!(told(&host).await, (3, 4));
        assert_eq!(
            runtime.process_count(),
            5,
            "counter, tally, the supervisor, its worker and the host's mailbox"
        );
        assert_eq!(runtime.shutdown(Duration::from_secs(5)).await, 0);
    });
}
