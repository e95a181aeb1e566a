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

/// A guest built with `features` (a version of one program, for the hot code upgrade tests),
/// copied to a file of its own: `target/guests-variants/NAME-FEATURES.wasm`. Built once per
/// test binary and feature set, into a target directory of its own so that no other build
/// of the same guest (with other features) overwrites it between the build and the copy.
pub fn guest_with_features(name: &str, features: &str) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static BUILT: Mutex<Option<HashMap<(String, String), PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (name.to_string(), features.to_string());
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(&key) {
        return path.clone();
    }
    let root = repo_root();
    let target = root.join("target/guests-variants");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            name,
        ])
        .arg("--target-dir")
        .arg(&target);
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    let status = cmd.status().expect("running cargo to build a guest");
    assert!(
        status.success(),
        "building {name} with features {features:?} failed"
    );
    let label = if features.is_empty() {
        "default"
    } else {
        features
    };
    let out = target.join(format!("{name}-{}.wasm", label.replace([',', ' '], "+")));
    std::fs::copy(
        target.join(format!("wasm32-wasip1/release/{name}.wasm")),
        &out,
    )
    .expect("copying the built guest");
    built
        .get_or_insert_with(HashMap::new)
        .insert(key, out.clone());
    out
}
