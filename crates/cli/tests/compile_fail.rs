//! Captures that cannot cross into a process must not compile. Each file in
//! `tests/compile-fail/` is built for wasm32-wasip1 against the SDK; the build must fail with
//! the text of every `// expect:` line in it.
// Heavy (cargo builds its cases): built and run with the `heavy` feature, as scripts/test does.
#![cfg(feature = "heavy")]

mod common;
use std::process::Command;

#[test]
fn bad_captures_do_not_compile() {
    let root = common::repo_root();
    let work = root.join("target/compile-fail");
    let sdk = root.join("crates/sdk");
    let mut cases: Vec<_> = std::fs::read_dir(root.join("tests/compile-fail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 3,
        "expected the compile-fail cases, found {cases:?}"
    );
    for case in cases {
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&case).unwrap();
        let expected: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("// expect:"))
            .map(str::trim)
            .collect();
        assert!(!expected.is_empty(), "{name}: no `// expect:` line");

        let krate = work.join(&name);
        std::fs::create_dir_all(krate.join("src")).unwrap();
        std::fs::write(
            krate.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
                 [dependencies]\nwarren = {{ path = {sdk:?} }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n\n\
                 [workspace]\n"
            ),
        )
        .unwrap();
        std::fs::write(krate.join("src/main.rs"), &source).unwrap();
        // Same dependency versions as the workspace, resolved without the network.
        std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&krate)
            .args([
                "build",
                "--offline",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
            ])
            .arg(work.join("target"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: compiled, but must not");
        for e in expected {
            assert!(
                stderr.contains(e),
                "{name}: compiler output lacks {e:?}:\n{stderr}"
            );
        }
    }
}
