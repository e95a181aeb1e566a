//! warren's scheduler with real processes: two processes in a ping-pong stay on one worker
//! (every wake is a wake on the worker that runs them, nothing is stolen), and two busy
//! processes are still shared out between two workers. How the pool behaves with plain
//! futures, and that its wake-ups are never lost, is tested in `warren_sync::sched` and its
//! loom models.

#[path = "../../../tests/support/guests.rs"]
mod guests;
use std::time::Duration;
use warren_runtime::{ExitReason, Runtime, Scheduler, SchedulerStats};

/// Run `guest` with `args` on warren's scheduler with two workers, to its root's end; the
/// scheduler's counts at the end.
fn run(guest: &str, args: &[&str]) -> SchedulerStats {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let mut builder = Runtime::builder()
            .max_processes(100)
            .process_scheduler(Scheduler::Warren)
            .workers(2)
            .arg(guest);
        for a in args {
            builder = builder.arg(*a);
        }
        let runtime = builder.build_file(&guests::guest(guest)).unwrap();
        let root = runtime.start().unwrap();
        let end = tokio::time::timeout(Duration::from_secs(120), root.exited())
            .await
            .unwrap_or_else(|_| panic!("{guest} {args:?} did not finish"));
        assert_eq!(end, ExitReason::Normal, "{guest} {args:?}");
        let stats = runtime.scheduler_stats().expect("warren's scheduler");
        eprintln!("{guest} {args:?}: {stats:?}");
        assert_eq!(runtime.shutdown(Duration::from_secs(10)).await, 0);
        stats
    })
}

#[test]
fn a_ping_pong_stays_on_one_worker() {
    let rounds = 20_000u64;
    let s = run("compare-guest", &["pingpong", &rounds.to_string()]);
    assert_eq!(s.workers, 2);
    // A round trip wakes a side that waits (both, unless a reply was already queued when
    // its receiver looked), on the worker where the other side runs.
    assert!(s.local_wakes >= rounds, "{s:?}");
    // Had the two crossed between workers, each round trip would be a steal or a wake from
    // another thread. A time slice that ends while one is queued behind the other can let
    // the idle worker take one, and the two meet again on one worker: at most a steal a
    // tick, so at least 100 round trips a steal.
    assert!(
        s.stolen < rounds / 100,
        "the ping-pong moved between workers: {s:?}"
    );
    // From outside the pool: the root's start (from this thread) and, while the root runs
    // on a tokio thread (started there), its spawn of the partner; then the root moves to
    // the pool too, at its next epoch check. Had it stayed, each round trip of its time
    // slice there would count here, every one a wake across threads.
    assert!(s.outside_wakes <= 4, "{s:?}");
}

#[test]
fn two_busy_processes_share_two_workers() {
    let s = run("test_guest", &["busy_pair"]);
    // Each computes for many time slices (a poll each): had one worker run both, the other
    // would have polled next to nothing.
    assert!(
        s.polls_by_worker.iter().all(|&p| p >= 20),
        "one worker ran both busy processes: {s:?}"
    );
}
