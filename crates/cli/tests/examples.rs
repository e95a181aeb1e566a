//! The examples a user would copy run and report what they measured.

mod common;
use common::run_guest;

#[test]
fn hello_prints_ten_greetings_in_index_order() {
    let run = run_guest(&[], "hello", &["tester"]);
    run.assert_code(0);
    let lines = run.stdout_lines();
    assert_eq!(lines.len(), 10, "{run:#?}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with("Hello, tester from process "), "{line}");
        assert!(line.ends_with(&format!("(#{i})")), "{line}");
    }
}

#[test]
fn ping_pong_completes_its_round_trips() {
    run_guest(&[], "ping_pong", &["2000"])
        .assert_code(0)
        .assert_stdout_has("ping_pong: 2000 round trips in")
        .assert_stdout_has("us/round-trip");
}

#[test]
fn ring_passes_the_token_around() {
    run_guest(&[], "ring", &["300", "3"])
        .assert_code(0)
        .assert_stdout_has("ring: 300 processes")
        .assert_stdout_has("900 hops");
}

#[test]
fn spawn_many_spawns_and_holds_processes() {
    run_guest(
        &["--max-processes", "2100", "--dir", "/proc:/proc"],
        "spawn_many",
        &["2000"],
    )
    .assert_code(0)
    .assert_stdout_has("spawn_many: 2000 spawns + replies")
    .assert_stdout_has("spawn_many: 2000 idle processes: resident");
}

#[test]
fn spawn_many_reports_the_process_limit_clearly() {
    run_guest(&["--max-processes", "50"], "spawn_many", &["100"])
        .assert_code(1)
        .assert_stderr_has("raise --max-processes");
}

#[test]
fn readme_tour_runs() {
    run_guest(&[], "tour", &[])
        .assert_code(0)
        .assert_stdout_has("panic: boom at examples/tour/src/main.rs:");
}

#[test]
fn a_pipeline_with_bounded_mailboxes_runs_at_its_slowest_stage_pace() {
    let run = run_guest(&[], "pipeline", &["20000", "2"]);
    run.assert_code(0)
        .assert_stdout_has("pipeline: 20000 records, sum 59997,");
    let line = run.line("pipeline:");
    let most: usize = line
        .split("held at most ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the most the writer held");
    assert!(most <= 256, "{line}");
}

#[test]
fn every_rust_block_in_the_readme_is_code_of_an_example() {
    let root = common::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let examples: Vec<String> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("src/main.rs")).ok())
        .collect();
    let blocks: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .filter_map(|s| s.split("```").next())
        .collect();
    assert!(blocks.len() >= 2, "README has its Rust blocks");
    for block in blocks {
        assert!(
            examples.iter().any(|e| e.contains(block)),
            "README block is in no example:\n{block}"
        );
    }
}

#[test]
fn readme_tour_is_the_tour_example() {
    let root = common::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let code = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("README has a rust block");
    let tour = std::fs::read_to_string(root.join("examples/tour/src/main.rs")).unwrap();
    assert!(
        tour.ends_with(code),
        "README's tour and examples/tour/src/main.rs differ"
    );
}

#[test]
fn supervisor_example_keeps_answering_through_crashes() {
    let run = run_guest(&[], "supervisor", &["10"]);
    run.assert_code(0)
        .assert_stdout_has("10^2 = 100")
        .assert_stdout_has("request for 3 failed (panic: worker gives up on request #3")
        .assert_stdout_has("supervisor: 10 answers, 4 restarts, stopped cleanly");
}

#[test]
fn chaos_example_ends_with_every_worker_alive() {
    run_guest(&["--max-processes", "3000"], "chaos", &["1000", "1"])
        .assert_code(0)
        .assert_stdout_has("chaos: 1000 workers under 10 supervisors")
        .assert_stdout_has("workers alive: 1000 before, 1000 after");
}

#[test]
#[cfg(feature = "heavy")] // heavy (100,000 processes): scripts/test runs it
fn presence_holds_a_hundred_thousand_hibernating_users_with_few_instances() {
    // 100,000 users, each its own process, but at most 2,000 instances: every user
    // hibernates between messages, so the pool stays small (and vm.max_map_count does not
    // matter).
    // ~40 s in the dev profile on 2 busy cores: more time than other runs get.
    let mut cmd = common::warren();
    cmd.args([
        "run",
        "--max-processes",
        "100100",
        "--max-instances",
        "2000",
    ])
    .arg(common::guest("presence"))
    .arg("100000");
    common::run_with_limit(&mut cmd, std::time::Duration::from_secs(400))
        .assert_code(0)
        .assert_stdout_has("presence: 100000 users started and hibernated")
        .assert_stdout_has("presence: 200000 wake-ups")
        .assert_stdout_has("presence: 100000 users online, then stopped");
}

/// examples/upgrade as the README runs it: `warren run --wait --watch`, then its second
/// build copied over the file. The counter and the tally answer with version 2's code and
/// go on from the totals version 1 reached.
#[test]
fn upgrade_example_keeps_counting_on_the_new_code() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.wasm");
    let v1 = common::guest_with_features("upgrade", "");
    let v2 = common::guest_with_features("upgrade", "v2");
    std::fs::copy(&v1, &app).unwrap();
    let mut child = common::warren()
        .args(["run", "--wait", "--watch"])
        .arg(&app)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting warren");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = |prefix: &str| -> u64 {
        loop {
            let line = lines
                .next()
                .expect("the example goes on")
                .expect("reading its output");
            if let Some(n) = line.strip_prefix(prefix) {
                return n.parse().expect("a count");
            }
        }
    };
    let before = next("counter (version 1): ");
    std::fs::write(&app, std::fs::read(&v2).unwrap()).unwrap();
    // Going on from where version 1 was; once the ticker has moved too (after at most one
    // more tick of 1), by ticks of 10.
    let after = next("counter (version 2): ");
    assert!(after > before, "{before} -> {after}");
    let (one, two) = (next("counter (version 2): "), next("counter (version 2): "));
    assert_eq!(two, one + 10);
    let (one, two) = (next("tally (version 2): "), next("tally (version 2): "));
    assert_eq!(two, one + 10);
    let _ = child.kill();
    let _ = child.wait();
}
