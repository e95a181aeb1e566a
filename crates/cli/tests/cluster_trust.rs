//! The cluster's trust boundary, attacked: a NATS server configured as docs/distribution.md
//! advises (a user per node), nodes holding the cluster's secret, and an `intruder` user
//! allowed to publish and subscribe to anything but without the secret — the worst a
//! misconfigured server or a leaked credential gives. Each test plays one attack and checks
//! that the cluster did not notice it.
// Heavy (nats-server): built and run with the `heavy` feature, as scripts/test does.
#![cfg(feature = "heavy")]

mod common;

use common::cluster::Nats;
use common::forge::{self, Keys, Raw};
use common::guest;
use std::io::BufRead;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Node `a` running `dist_trust` (it links a worker on b and waits for `done`), its stdout,
/// its stderr's file, and what its first line says: (a's number, b's number, a's root pid).
fn start_trust(
    nats: &Nats,
) -> (
    Child,
    std::io::BufReader<std::process::ChildStdout>,
    std::path::PathBuf,
    (u32, u32, u64),
    std::path::PathBuf,
) {
    let done = nats.dir().join("done");
    let stderr = nats.dir().join("a.stderr");
    let mut a = nats
        .warren_node("a")
        .arg("--dir")
        .arg(nats.dir())
        .arg(guest("test_guest"))
        .arg("dist_trust")
        .arg(&done)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).expect("a's stderr"))
        .spawn()
        .expect("starting node a");
    let mut out = std::io::BufReader::new(a.stdout.take().expect("stdout"));
    let mut ready = String::new();
    out.read_line(&mut ready).expect("node a's first line");
    let f: Vec<u64> = ready
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| {
            panic!(
                "not ready: {ready:?} {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        })
        .split(' ')
        .map(|n| n.parse().expect("a number"))
        .collect();
    (a, out, done, (f[0] as u32, f[1] as u32, f[2]), stderr)
}

/// Wait until `stderr` (a node's, in a file) has a line containing `needle`.
fn until_logged(stderr: &std::path::Path, needle: &str) {
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(stderr)
        .unwrap_or_default()
        .contains(needle)
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node a never logged {needle:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tell node a the attack is over; its verdict lines, after checking it exited with 0.
fn verdict(
    mut a: Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    done: &std::path::Path,
    stderr: &std::path::Path,
) -> (Vec<String>, String) {
    std::fs::write(done, "").expect("done");
    let rest: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    let status = a.wait().expect("node a's end");
    let err = std::fs::read_to_string(stderr).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{rest:?}\n{err}");
    (rest, err)
}

/// What the intruder hears on `warren.>` from now on (the first 10,000 messages).
type Recording = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

fn record(nats: &Nats) -> Recording {
    let mut recorder = Raw::connect(&nats.addr(), "intruder");
    recorder.subscribe("warren.>", 1);
    recorder.ping();
    let recorded = Recording::default();
    let keep = recorded.clone();
    std::thread::spawn(move || {
        while let Some(m) = recorder.next() {
            let mut r = keep.lock().unwrap_or_else(|p| p.into_inner());
            if r.len() < 10_000 {
                r.push(m);
            }
        }
    });
    recorded
}

/// What node a says when no link fired, b is the only node up and still the same node, and
/// the worker on b still answers (asserted in the guest: tests/guest/src/dist.rs, `trust`).
const UNTOUCHED: [&str; 1] = ["untouched"];

#[test]
fn without_the_secret_frames_beats_and_replays_neither_kill_nor_impersonate_nor_tear_down() {
    let nats = Nats::start();
    // The intruder listens from the start: it records b's frames to a and b's beats.
    let recorded = record(&nats);
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let (a, out, done, (a_num, b_num, root), stderr) = start_trust(&nats);

    let mut evil = Raw::connect(&nats.addr(), "intruder");
    let wrong = Keys::wrong();
    let now = forge::now_ms() * 1_000_000;
    let kill = forge::kill_batch(root);
    // A Kill "from b" for a's root process: made with another secret, with none (an
    // insecure node's zeros), in the old unauthenticated format, on every subject shape.
    let with_wrong = wrong.frame(forge::DATA_END, b_num, a_num, now, 0, &kill);
    let mut zeros = with_wrong.clone();
    zeros[26..58].fill(0);
    let mut v1 = vec![1u8, forge::DATA_END];
    v1.extend_from_slice(&b_num.to_le_bytes());
    v1.extend_from_slice(&now.to_le_bytes());
    v1.extend_from_slice(&0u64.to_le_bytes());
    v1.extend_from_slice(&kill);
    for frame in [&with_wrong, &zeros, &v1] {
        for subject in [
            format!("warren.node.{a_num}.b"),
            format!("warren.node.{a_num}"),
            format!("warren.node.{a_num}.x"),
        ] {
            evil.publish(&subject, frame);
        }
    }
    // Five "b is leaving" beats, forged, and in the old format on the old subject.
    for i in 0..5 {
        evil.publish(
            "warren.beat.b",
            &wrong.beat(b_num, "b", true, 1_000_000 + i, forge::now_ms()),
        );
        let mut old = vec![1u8];
        forge::varint(&mut old, u64::from(b_num));
        old.extend_from_slice(&[1, b'b', 0, 1]);
        evil.publish("warren.beat", &old);
        evil.publish("warren.beat.b", &old);
    }
    // A frame made with the real secret (a node's), but on a subject that names another
    // node than the one it claims to come from: refused too.
    let keys = Keys::from_file(&nats.secret);
    let misnamed = keys.frame(forge::DATA_END, b_num, a_num, now, 0, &kill);
    evil.publish(&format!("warren.node.{a_num}.c"), &misnamed);
    // Replays: everything b sent a so far, and b's beats, again (once the recorder has
    // heard some of each: it reads on a thread of its own).
    evil.ping();
    let from_b = format!("warren.node.{a_num}.b");
    let start = std::time::Instant::now();
    let replay: Vec<(String, Vec<u8>)> = loop {
        let r = recorded.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let frames = r.iter().filter(|(s, _)| *s == from_b).count();
        let beats = r.iter().filter(|(s, _)| s == "warren.beat.b").count();
        if frames > 0 && beats > 0 {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "recorded {frames} frames, {beats} beats"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for (subject, payload) in &replay {
        if *subject == from_b || subject == "warren.beat.b" {
            evil.publish(subject, payload);
        }
    }
    // Deploy records: one sealed with another secret, and one sealed with the real one
    // but an hour old (a replay of a deploy long past): neither makes a node load anything.
    // (The bucket keeps one value: each is written once a watcher has seen the one before.)
    let module = [0x42u8; 32];
    let hour_ago = forge::now_ms() - 3_600_000;
    evil.publish(
        "$KV.warren_deploy.deploy",
        &wrong.deploy_record(&module, "evil", forge::now_ms()),
    );
    evil.ping();
    until_logged(&stderr, "dropped a forged deploy record");
    evil.publish(
        "$KV.warren_deploy.deploy",
        &keys.deploy_record(&module, "deploy", hour_ago),
    );
    evil.ping();
    until_logged(
        &stderr,
        "ignored a deploy record of module 424242424242 by deploy",
    );
    // A node is not fooled by what does not verify; the link and the worker are b's.
    std::thread::sleep(Duration::from_millis(300));
    let (rest, err) = verdict(a, out, &done, &stderr);
    assert_eq!(rest, UNTOUCHED, "{err}");
    assert!(err.contains("dropped a forged frame"), "{err}");
    assert!(!err.contains("deploy of 424242424242"), "{err}");
}

#[test]
fn the_servers_permissions_keep_an_application_user_off_the_clusters_subjects() {
    let nats = Nats::start();
    // What docs/distribution.md's configuration gives a client that is not a node.
    for (user, subject) in [
        ("outsider", "warren.node.1.b"),
        ("outsider", "warren.beat.b"),
        ("outsider", "$JS.API.STREAM.LIST"),
        ("b", "warren.node.1.c"),
        ("b", "warren.beat.c"),
        ("b", "$KV.warren_nodes.n63"),
    ] {
        let mut raw = Raw::connect(&nats.addr(), user);
        let refused = raw.publish_refused(subject, b"x");
        assert!(
            refused.contains("Permissions Violation"),
            "{user} on {subject}: {refused}"
        );
    }
}

#[test]
fn fake_peers_and_unfinished_batches_from_a_publisher_without_the_secret_hold_no_memory() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let (a, out, done, (a_num, _b_num, _root), stderr) = start_trust(&nats);
    std::thread::sleep(Duration::from_millis(500));
    let before = forge::rss_kib(a.id());
    let mut evil = Raw::connect(&nats.addr(), "intruder");
    let wrong = Keys::wrong();
    // 1,500 fake peers beating with 1 MB names...
    let big = "n".repeat(1_000_000);
    for i in 0..1_500u32 {
        evil.publish(
            &format!("warren.beat.fake{i}"),
            &wrong.beat(1000 + i, &big, false, 1, forge::now_ms()),
        );
        if i.is_multiple_of(100) {
            evil.ping();
        }
    }
    // ... and three fake senders each starting 400 batches of 1 MB that never end.
    let chunk = vec![0xabu8; 1_000_000];
    for sender in 0..3u32 {
        for i in 0..400u64 {
            let f = wrong.frame(forge::DATA_MORE, 2000 + sender, a_num, 1 + i, 0, &chunk);
            evil.publish(&format!("warren.node.{a_num}.f{sender}"), &f);
            if i.is_multiple_of(50) {
                evil.ping();
            }
        }
    }
    evil.ping();
    // Give a's dispatcher the time to read what is in flight.
    std::thread::sleep(Duration::from_secs(3));
    let after = forge::rss_kib(a.id());
    let (rest, err) = verdict(a, out, &done, &stderr);
    assert_eq!(rest, UNTOUCHED, "{err}");
    // Before authentication this flood grew the node by 2.65 GiB for good.
    assert!(
        after < before + 256 * 1024,
        "node a grew from {before} KiB to {after} KiB"
    );
    eprintln!("node a: {before} KiB before the flood, {after} KiB after");
}

#[test]
fn a_bare_node_runs_only_modules_an_authenticated_node_names_and_junk_stored_first_is_replaced() {
    let nats = Nats::start();
    let test_guest = guest("test_guest");
    let hello = guest("hello");
    let mut evil = Raw::connect(&nats.addr(), "intruder");
    // Junk under the test guest's name, stored before any node runs.
    let name = forge::sha256_hex(&test_guest);
    evil.put_object(
        "warren_modules",
        &name,
        b"\0asm junk that is not the module",
    );
    // A foreign node (without the secret) runs hello: its module is in the bucket too.
    let wrong_secret = nats.dir().join("wrong.secret");
    let made = common::warren()
        .arg("cluster-secret")
        .arg(&wrong_secret)
        .output()
        .expect("a second secret");
    assert!(made.status.success());
    let _x = common::cluster::Node::from(
        common::warren()
            .args([
                "run",
                "--cluster",
                &nats.url_for("x"),
                "--node",
                "x",
                "--serve",
            ])
            .arg("--cluster-secret")
            .arg(&wrong_secret)
            .arg(&hello)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node x"),
    );
    // b trusts the test guest, c only hello, d any module an authenticated node names.
    let trust = |n: &str, hash: &str| {
        common::cluster::Node::from(
            nats.warren_node(n)
                .args(["--serve", "--trust-module", hash])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("a bare node"),
        )
    };
    let _b = trust("b", &name);
    let _c = trust("c", &forge::sha256_hex(&hello));
    let _d = nats.serve("d", None);
    // The intruder orders d (by its beats' number) to run hello, in a forged frame.
    let mut listen = Raw::connect(&nats.addr(), "intruder");
    listen.subscribe("warren.beat.d", 1);
    let (_, beat) = listen.next_message();
    let d_num = forge::beat_node(&beat);
    let hello_hash: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(std::fs::read(&hello).expect("hello")).into()
    };
    let order = forge::spawn_batch(5u64 << 40 | 1, &hello_hash);
    evil.publish(
        &format!("warren.node.{d_num}.x"),
        &Keys::wrong().frame(
            forge::DATA_END,
            5,
            d_num,
            forge::now_ms() * 1_000_000,
            0,
            &order,
        ),
    );
    evil.ping();
    let run = common::run_with_limit(
        &mut nats.node_command("a", "dist_bare"),
        Duration::from_secs(120),
    );
    run.assert_code(0)
        .assert_stdout_has("bare nodes: b and d fetched the module, c refused it");
}

/// The messages a JetStream stream holds, from the server's monitoring endpoint.
fn stream_messages(nats: &Nats, stream: &str) -> u64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", nats.monitor)).expect("monitor");
    s.write_all(b"GET /jsz?accounts=true&streams=true HTTP/1.0\r\n\r\n")
        .expect("asking");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("an answer");
    let json = body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let v: serde_json::Value = serde_json::from_str(json).expect("JSON");
    v["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .find(|st| st["name"] == stream)
        .and_then(|st| st["state"]["messages"].as_u64())
        .unwrap_or_else(|| panic!("no stream {stream} in {json}"))
}

#[test]
fn global_names_registered_and_dropped_leave_nothing_in_the_bucket() {
    let nats = Nats::start();
    let run = common::run_with_limit(
        nats.node_command("a", "dist_names").arg("300"),
        Duration::from_secs(120),
    );
    run.assert_code(0)
        .assert_stdout_has("names: 300 registered and released");
    // 301 names came and went; a deletion's marker is purged with it. (Node a's own entry
    // is in the node bucket, not here.)
    let left = stream_messages(&nats, "KV_warren_names");
    assert_eq!(left, 0, "the name bucket holds {left} messages");
}

/// The bus fuzzer: for `WARREN_CLUSTER_FUZZ_SECS` seconds (5 by default; `scripts/fuzz-cluster
/// SECONDS` runs it longer) an intruder publishes hostile frames and beats at node a —
/// random bytes, truncated and oversized ones, well-formed ones with a wrong MAC, replays of
/// b's real traffic, on every subject shape — while the test watches a's memory. Then a must
/// be untouched: its link to b holds, b is the same node, b's worker answers.
#[test]
fn hostile_frames_for_a_while_leave_a_node_responsive_and_its_memory_bounded() {
    let secs: u64 = std::env::var("WARREN_CLUSTER_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("WARREN_CLUSTER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let nats = Nats::start();
    let recorded = record(&nats);
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let (a, out, done, (a_num, b_num, root), stderr) = start_trust(&nats);
    std::thread::sleep(Duration::from_millis(500));
    let before = forge::rss_kib(a.id());
    let mut peak = before;
    let mut evil = Raw::connect(&nats.addr(), "intruder");
    let wrong = Keys::wrong();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rng = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let start = std::time::Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let r = rng();
        let from = match r % 4 {
            0 => b_num,
            1 => a_num,
            2 => 0,
            _ => (rng() % 5000) as u32,
        };
        let name = ["b", "a", "x", "fake", "b.c", ""][(rng() % 6) as usize];
        let subject = match rng() % 5 {
            0 => format!("warren.node.{a_num}.{name}"),
            1 => format!("warren.node.{a_num}"),
            2 => format!("warren.beat.{name}"),
            3 => "warren.beat".to_string(),
            _ => format!("warren.node.{}.{name}", rng() % 8),
        }
        .replace("..", ".")
        .trim_end_matches('.')
        .to_string();
        let len = match rng() % 8 {
            0 => 0,
            1 => 900_000,
            _ => (rng() % 300) as usize,
        };
        let fill = rng().to_le_bytes();
        let body: Vec<u8> = (0..len).map(|i| fill[i % 8] ^ (i as u8)).collect();
        let payload = match rng() % 6 {
            0 => body,
            1 => {
                let mut f = wrong.frame((rng() % 4) as u8, from, a_num, rng(), rng() % 4, &body);
                f.truncate((rng() as usize) % (f.len() + 1));
                f
            }
            2 => wrong.frame(
                (rng() % 3) as u8,
                from,
                a_num,
                rng(),
                rng() % 3,
                &forge::kill_batch(root),
            ),
            3 => wrong.beat(from, name, rng() % 2 == 0, rng(), forge::now_ms()),
            _ => {
                let replay = recorded.lock().unwrap();
                if let Some((s, p)) = replay.get((rng() as usize) % replay.len().max(1)) {
                    evil.publish(s, p);
                    sent += 1;
                }
                continue;
            }
        };
        if !subject.is_empty() {
            evil.publish(&subject, &payload);
            sent += 1;
        }
        if sent.is_multiple_of(200) {
            evil.ping();
            peak = peak.max(forge::rss_kib(a.id()));
        }
    }
    evil.ping();
    std::thread::sleep(Duration::from_millis(500));
    peak = peak.max(forge::rss_kib(a.id()));
    let (rest, err) = verdict(a, out, &done, &stderr);
    assert_eq!(rest, UNTOUCHED, "{err}");
    assert!(
        peak < before + 256 * 1024,
        "node a grew from {before} KiB to {peak} KiB under {sent} hostile messages"
    );
    eprintln!("{sent} hostile messages in {secs} s: node a {before} KiB -> peak {peak} KiB");
}
