//! Building the guest programs once per test binary. Shared by the tests of
//! `crates/runtime`, `crates/cli` and `examples/embed-host` (each includes this file by
//! path): nothing here depends on the test binary's package, only on its crate being two
//! directories below the repository's root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every guest program of the repository (`scripts/guests`, the one list the scripts read
/// too). Built together, once, into `target/guests`.
pub fn guests() -> impl Iterator<Item = &'static str> {
    include_str!("../../scripts/guests")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Path of a guest's `.wasm`, building all guests first (once per test binary; cargo makes it
/// a no-op when they are fresh). The guest target dir is separate from the one `cargo test`
/// holds locked.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = repo_root();
        let target = root.join("target/guests");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(&target);
        for g in guests() {
            cmd.args(["-p", g]);
        }
        let status = cmd.status().expect("running cargo to build the guests");
        assert!(status.success(), "building the guests failed");
        target.join("wasm32-wasip1/release")
    });
    dir.join(format!("{name}.wasm"))
}
