//! Hibernated processes seen from the host: they hold no instance (the pool slots go back),
//! stay alive and findable, and wake for a message. The guest side is
//! `tests/guest/src/hibernate.rs`.

#[path = "../../../tests/support/guests.rs"]
mod guests;
use std::time::Duration;
use warren_runtime::{ExitReason, Runtime};

#[test]
fn a_thousand_hibernated_processes_need_no_instances_and_wake_for_a_message() {
    // Fewer pool slots than processes would not do without hibernation: each process is one
    // slot only while it runs.
    hibernate_wake_and_stop(1000, 200);
}

#[test]
#[cfg(feature = "heavy")] // heavy (a million processes): scripts/test runs it
fn a_million_processes_spawn_hibernate_wake_and_exit_leaving_nothing_behind() {
    hibernate_wake_and_stop(1_000_000, 2000);
}

/// `n` sleepers on `instances` pool slots: spawned (in waves), all hibernating, each woken by
/// a request it answers, all hibernating again, then stopped — and nothing left behind.
fn hibernate_wake_and_stop(n: u64, instances: usize) {
    warren_runtime::scheduler().unwrap().block_on(async {
        let runtime = Runtime::builder()
            .max_processes(n as usize + 10)
            .max_instances(instances)
            .max_memory(16 << 20)
            .args(["test_guest", "hibernate_idle", &n.to_string()])
            .build_file(&guests::guest("test_guest"))
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let root = runtime.start().unwrap();
        let note = |what: &'static str| {
            let host = &host;
            async move {
                let (name, n): (String, u64) = host
                    .receive_timeout(PATIENCE)
                    .await
                    .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
                assert_eq!(name, what);
                n
            }
        };
        assert_eq!(note("spawned").await, n);
        wait_for(
            || runtime.hibernating() == n as usize,
            "every sleeper hibernating",
        )
        .await;
        // Alive: the root, the host mailbox and every sleeper.
        assert_eq!(runtime.process_count(), n as usize + 2);

        // Each wakes for a request, answers (with its count of wake-ups), hibernates again.
        assert!(runtime.send(root.pid, &"go".to_string()).unwrap());
        assert_eq!(note("woken").await, n);
        wait_for(
            || runtime.hibernating() == n as usize,
            "every sleeper hibernating again",
        )
        .await;

        assert!(runtime.send(root.pid, &"stop".to_string()).unwrap());
        assert_eq!(root.exited().await, ExitReason::Normal);
        wait_for(|| runtime.process_count() == 1, "every sleeper gone").await;
        assert_eq!(runtime.hibernating(), 0);
        assert_eq!(
            runtime.registered_names(),
            1,
            "only the host mailbox's name is left"
        );
        assert_eq!(runtime.shutdown(Duration::from_secs(5)).await, 0);
    });
}

/// How long a step may take: a million processes in a debug build on two cores take a while.
const PATIENCE: Duration = Duration::from_secs(600);

#[test]
fn a_hibernated_process_is_killed_where_it_sleeps() {
    warren_runtime::scheduler().unwrap().block_on(async {
        let runtime = Runtime::builder()
            .max_processes(20)
            .max_memory(16 << 20)
            .args(["test_guest", "hibernate_idle", "3"])
            .build_file(&guests::guest("test_guest"))
            .unwrap();
        let host = runtime.host_mailbox().unwrap();
        host.register("host").unwrap();
        let _root = runtime.start().unwrap();
        let _: (String, u64) = host.receive_timeout(Duration::from_secs(60)).await.unwrap();
        wait_for(|| runtime.hibernating() == 3, "the sleepers hibernating").await;
        // A shutdown kills every process, the hibernated ones where they wait.
        assert_eq!(runtime.shutdown(Duration::from_secs(5)).await, 0);
        assert_eq!(runtime.hibernating(), 0);
    });
}

async fn wait_for(done: impl Fn() -> bool, what: &str) {
    let until = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
