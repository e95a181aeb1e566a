//! A second language on the raw ABI: C guests built with clang and wasi-libc against
//! `include/warren.h`, run by the real `warren` binary. `scripts/test` installs the Debian
//! packages they need (clang, lld, wasi-libc, libclang-rt-14-dev-wasm32).
// Heavy (clang): built and run with the `heavy` feature, as scripts/test does.
#![cfg(feature = "heavy")]

mod common;
use common::{Server, repo_root, run_with_limit, warren};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The C programs, built once per test run into `target/c-guests`.
fn c_guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let root = repo_root();
        let out = root.join("target/c-guests");
        std::fs::create_dir_all(&out).expect("target/c-guests");
        for (name, source) in [
            ("echo-c", "examples/c-echo/echo.c"),
            ("abi-check", "tests/c/abi_check.c"),
        ] {
            let status = Command::new("clang")
                .current_dir(&root)
                .args(["--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror"])
                .args(["-I", "include", source, "-o"])
                .arg(out.join(format!("{name}.wasm")))
                .status()
                .expect(
                    "running clang (install clang, lld, wasi-libc and \
                     libclang-rt-14-dev-wasm32; scripts/test does)",
                );
            assert!(status.success(), "clang could not build {source}");
        }
        out
    });
    dir.join(format!("{name}.wasm"))
}

#[test]
fn every_function_of_warren_h_links_against_the_runtime() {
    // warren links imports by module, name and wasm type: a wrong signature in the header
    // would fail here, at instantiation. (The header's declarations are made from the table
    // of host functions: crates/abi/tests/generated.rs.)
    run_with_limit(
        warren().arg("run").arg(c_guest("abi-check")),
        Duration::from_secs(60),
    )
    .assert_code(0)
    .assert_stdout_has(&format!(
        "warren.h: {} functions linked",
        warren_abi::calls::CALLS.len()
    ));
}

#[test]
fn the_c_echo_example_spawns_monitors_and_echoes_over_real_sockets() {
    let (server, lines) = Server::launch(&c_guest("echo-c"), &["127.0.0.1:0"]);
    let addr = server.addr.clone();
    assert_eq!(
        lines,
        ["squarer 2: 12 squared is 144", "crasher 3 ended: panic"]
    );

    // Three clients at once, each with its own process; one sends 1 MiB.
    let clients: Vec<_> = (0..3)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(&addr).expect("connecting");
                conn.set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let payload: Vec<u8> = (0..if i == 0 { 1 << 20 } else { 1000 })
                    .map(|b| (b * 7 + i) as u8)
                    .collect();
                let mut writer = conn.try_clone().unwrap();
                let sent = payload.clone();
                let w = std::thread::spawn(move || {
                    writer.write_all(&sent).unwrap();
                    writer.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut back = Vec::new();
                conn.read_to_end(&mut back).expect("reading the echo");
                w.join().unwrap();
                assert!(back == payload, "client {i}: the echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
}
