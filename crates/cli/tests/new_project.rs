//! `warren new` as a new user meets it: a project outside this repository that builds and
//! runs with plain `cargo run`, and whose tests run as warren processes under `cargo test` —
//! a failing one is reported and the others still run.

mod common;
use common::{run_with_limit, warren};
use std::time::Duration;
#[cfg(feature = "heavy")]
use {common::repo_root, std::path::Path, std::process::Command};

/// cargo, in the project, with a target directory kept between test runs (the SDK and its
/// dependencies build once).
#[cfg(feature = "heavy")]
fn cargo(project: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(project)
        .args(args)
        .env("CARGO_TARGET_DIR", repo_root().join("target/warren-new"))
        .env_remove("RUSTFLAGS");
    cmd
}

#[cfg(feature = "heavy")]
const BUILD: Duration = Duration::from_secs(600);

#[test]
#[cfg(feature = "heavy")] // heavy (cargo builds a project): scripts/test runs it
fn a_new_project_runs_and_tests_under_warren() {
    let tmp = tempfile::tempdir().unwrap();
    run_with_limit(
        warren().current_dir(tmp.path()).args(["new", "hello"]),
        Duration::from_secs(60),
    )
    .assert_code(0)
    .assert_stdout_has("created the warren project hello")
    .assert_stdout_has("cd hello && cargo run");
    let project = tmp.path().join("hello");
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/main.rs",
        "tests/processes.rs",
    ] {
        assert!(project.join(file).is_file(), "{file} missing");
    }

    // cargo run: built for wasm32-wasip1 and run by `warren run`.
    run_with_limit(&mut cargo(&project, &["run", "--quiet"]), BUILD)
        .assert_code(0)
        .assert_stdout_has("counter: 15")
        .assert_stdout_has("3 squared is 9")
        .assert_stdout_has("13: the worker failed")
        .assert_stdout_has("4 squared is 16");

    // cargo test: the template's tests pass, each in its own process.
    run_with_limit(&mut cargo(&project, &["test", "--quiet"]), BUILD)
        .assert_code(0)
        .assert_stdout_has("test a_process_answers_a_request ... ok")
        .assert_stdout_has("test a_monitor_reports_a_crash ... ok")
        .assert_stdout_has("test result: ok. 2 passed; 0 failed");

    // A failing test is reported with its reason; the tests after it still run.
    let tests = project.join("tests/processes.rs");
    let text = std::fs::read_to_string(&tests).unwrap();
    let text = text.replace(
        "warren::tests!(a_process_answers_a_request, a_monitor_reports_a_crash);",
        "fn fails_on_purpose() {\n    assert_eq!(2 + 2, 5, \"arithmetic is broken\");\n}\n\n\
         fn runs_after_the_failure() {}\n\n\
         warren::tests!(a_process_answers_a_request, fails_on_purpose, \
         a_monitor_reports_a_crash, runs_after_the_failure);",
    );
    std::fs::write(&tests, text).unwrap();
    let run = run_with_limit(&mut cargo(&project, &["test", "--quiet"]), BUILD);
    run.assert_code(101)
        .assert_stdout_has("test fails_on_purpose ... FAILED")
        .assert_stdout_has("test runs_after_the_failure ... ok")
        .assert_stdout_has(
            "fails_on_purpose: panic: assertion `left == right` failed: arithmetic is broken",
        )
        .assert_stdout_has("test result: FAILED. 3 passed; 1 failed");

    // A filter picks tests by name.
    run_with_limit(
        &mut cargo(&project, &["test", "--quiet", "--", "monitor"]),
        BUILD,
    )
    .assert_code(0)
    .assert_stdout_has("test a_monitor_reports_a_crash ... ok")
    .assert_stdout_has("1 passed; 0 failed; 3 filtered out");
}

#[test]
fn warren_new_refuses_bad_names_and_existing_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], why: &str| {
        run_with_limit(
            warren().current_dir(tmp.path()).arg("new").args(args),
            Duration::from_secs(60),
        )
        .assert_code(2)
        .assert_stderr_has(why);
    };
    refused(&["9lives"], "is not a crate name");
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    refused(&["taken"], "exists already");
    // A dangling symlink under the project's name: refused, and nothing is written where
    // it points.
    let target = tmp.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, tmp.path().join("planted")).unwrap();
    refused(&["planted"], "exists already");
    assert!(!target.exists());
    refused(
        &["lost", "--sdk", "/nonexistent"],
        "the warren guest SDK is not at /nonexistent",
    );
}
