//! After churn — thousands of processes killed and restarted by supervisors — the runtime is
//! empty again once the program ends: no processes (so no stores), no names, no timers, no
//! tasks. Uses warren-runtime as a library to look inside.

#[path = "../../../tests/support/guests.rs"]
mod guests;
use std::time::Duration;
use warren_runtime::{ExitReason, Runtime, Started};

/// Start a guest's root process in a fresh runtime.
async fn start(guest: &str, args: &[&str]) -> (Runtime, Started) {
    let mut builder = Runtime::builder().max_processes(3000).arg(guest);
    for a in args {
        builder = builder.arg(*a);
    }
    let runtime = builder.build_file(&guests::guest(guest)).unwrap();
    let root = runtime.start().unwrap();
    (runtime, root)
}

/// Run a guest until its root ends normally and every other process has ended too.
async fn run_to_the_end(guest: &str, args: &[&str]) -> Runtime {
    let (runtime, root) = start(guest, args).await;
    assert_eq!(
        root.exited().await,
        ExitReason::Normal,
        "{guest} ended abnormally"
    );
    tokio::time::timeout(Duration::from_secs(30), runtime.wait_empty())
        .await
        .expect("every process ends once the program is done");
    runtime
}

/// No process task is left on warren's scheduler, and no task on tokio but the one that
/// stops the scheduler with tokio (alive as long as the runtime is).
async fn assert_no_tasks_left(runtime: &Runtime) {
    let metrics = tokio::runtime::Handle::current().metrics();
    let left = || {
        let processes = runtime.scheduler_stats().map_or(0, |s| s.live);
        (processes, metrics.num_alive_tasks())
    };
    for _ in 0..500 {
        if left() == (0, 1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (processes, tokio) = left();
    panic!("{processes} process tasks and {tokio} tokio tasks still alive (expected 0 and 1)");
}

#[test]
fn churn_leaves_nothing_behind() {
    let scheduler = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    scheduler.block_on(async {
        // 1,000 supervised workers, a chaos monkey killing them for a second.
        let runtime = run_to_the_end("chaos", &["1000", "1"]).await;
        assert_eq!(runtime.process_count(), 0);
        assert_eq!(runtime.registered_names(), 0);
        assert_eq!(runtime.pending_timers(), 0);
        assert_no_tasks_left(&runtime).await;
        drop(runtime);

        // A worker that re-registers its name after every crash, and timers that fire or are
        // cancelled.
        for (guest, args) in [
            ("supervisor", &["30"][..]),
            ("semantics_guest", &["timers"][..]),
        ] {
            let runtime = run_to_the_end(guest, args).await;
            assert_eq!(runtime.process_count(), 0, "{guest}");
            assert_eq!(runtime.registered_names(), 0, "{guest}");
            assert_eq!(runtime.pending_timers(), 0, "{guest}");
            assert_no_tasks_left(&runtime).await;
        }
    });
}

#[test]
fn shutdown_stops_processes_left_running() {
    let scheduler = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    scheduler.block_on(async {
        // spawn_many's root ends while its 200 idle processes still wait in receive.
        let (runtime, root) = start("spawn_many", &["200"]).await;
        assert_eq!(root.exited().await, ExitReason::Normal);
        assert_eq!(runtime.process_count(), 200);
        assert_eq!(runtime.shutdown(Duration::from_secs(10)).await, 0);
        assert_eq!(runtime.process_count(), 0);
        assert_no_tasks_left(&runtime).await;
    });
}
