//! Distribution across real OS processes: a `nats-server -js` on a free port and three or
//! four `warren run --cluster` nodes. Node `a` runs a scenario of tests/guest/src/dist.rs;
//! `b` and `c` serve with the same module, `odd` with another one, `bare` with none (it
//! fetches the one of the first spawn order from the cluster).
// Heavy (nats-server): built and run with the `heavy` feature, as scripts/test does.
#![cfg(feature = "heavy")]

mod common;

use common::cluster::Nats;
use common::{guest, run_with_limit};
use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

/// Start node `a` with `cmd`, reading its stdout line by line.
fn start_a(
    cmd: &mut std::process::Command,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    let mut a = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting node a");
    let out = std::io::BufReader::new(a.stdout.take().expect("stdout"));
    (a, out)
}

#[test]
fn processes_spawn_message_link_monitor_and_name_each_other_across_nodes() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let _c = nats.serve("c", Some(&guest("test_guest")));
    let _odd = nats.serve("odd", Some(&guest("hello")));
    let _bare = nats.serve("bare", None);
    let run = run_with_limit(
        &mut nats.node_command("a", "dist_basic"),
        Duration::from_secs(120),
    );
    run.assert_code(0).assert_stdout_has(
        "across nodes: spawn, messages, links, monitors, handles and names held",
    );
}

#[test]
fn kill_9_of_a_node_fires_links_and_monitors_with_noconnection_and_frees_its_names() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let mut c = nats.serve("c", Some(&guest("test_guest")));
    let (mut a, mut out) = start_a(&mut nats.node_command("a", "dist_node_down"));
    let mut before = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).expect("reading node a") > 0,
            "node a ended before it was ready: {before:?}"
        );
        if line.trim() == "ready" {
            break;
        }
        before.push(line.trim().to_string());
    }
    assert_eq!(
        before,
        Vec::<String>::new(),
        "node a said more before it was ready"
    );
    c.kill_9();
    let after: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    let status = a.wait().expect("node a's end");
    assert_eq!(after, ["node c down: links, monitors and names saw it"]);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_serving_node_leaves_cleanly_on_sigterm_and_bad_cluster_flags_are_refused() {
    let nats = Nats::start();
    let mut b = nats.serve("b", Some(&guest("test_guest")));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.terminate(), Some(0));

    // No secret, and no explicit --cluster-insecure: refused before connecting.
    let mut cmd = common::warren();
    cmd.args(["run", "--cluster", &nats.url_for("x"), "--node", "x"])
        .arg(guest("hello"));
    run_with_limit(&mut cmd, Duration::from_secs(60))
        .assert_code(2)
        .assert_stderr_has("needs the cluster's secret")
        .assert_stderr_has("--cluster-insecure");
    // A secret others may read, a node name that is no subject token: refused.
    let loose = nats.dir().join("loose.secret");
    std::fs::write(&loose, "x".repeat(64)).unwrap();
    let mut cmd = common::warren();
    cmd.args(["run", "--cluster", &nats.url_for("x"), "--node", "x"])
        .arg("--cluster-secret")
        .arg(&loose)
        .arg(guest("hello"));
    run_with_limit(&mut cmd, Duration::from_secs(60))
        .assert_code(2)
        .assert_stderr_has("chmod 600");
    let mut cmd = common::warren();
    cmd.args(["run", "--cluster", &nats.url_for("x"), "--node", "x.y"])
        .arg("--cluster-secret")
        .arg(&nats.secret)
        .arg(guest("hello"));
    run_with_limit(&mut cmd, Duration::from_secs(60))
        .assert_code(2)
        .assert_stderr_has("cannot name a node");
    // No server there: a clear error, exit 2; insecure mode says what it is.
    let mut cmd = common::warren();
    cmd.args(["run", "--cluster", "nats://127.0.0.1:1", "--node", "x"])
        .arg("--cluster-insecure")
        .arg(guest("hello"));
    let run = run_with_limit(&mut cmd, Duration::from_secs(60));
    run.assert_code(2)
        .assert_stderr_has("WITHOUT AUTHENTICATION")
        .assert_stderr_has("--cluster nats://127.0.0.1:1: connecting to the NATS server");
    // A secret is never overwritten.
    let again = common::warren()
        .arg("cluster-secret")
        .arg(&nats.secret)
        .output()
        .expect("warren cluster-secret");
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    // --node without --cluster.
    let mut cmd = common::warren();
    cmd.args(["run", "--node", "x"]).arg(guest("hello"));
    run_with_limit(&mut cmd, Duration::from_secs(60)).assert_code(2);
}

/// Node a running examples/work_queue with `args`, its stdout, and its first two lines.
fn work_queue(
    nats: &Nats,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
    [String; 2],
) {
    let (a, mut out) = start_a(nats.warren_node("a").arg(guest("work_queue")).args(args));
    let mut line = || {
        let mut l = String::new();
        out.read_line(&mut l).expect("a line of node a");
        l.trim().to_string()
    };
    let first = [line(), line()];
    (a, out, first)
}

#[test]
fn the_work_queue_example_spreads_jobs_over_three_nodes() {
    let nats = Nats::start();
    // b and c start without a module: they fetch the example's from the cluster.
    let _b = nats.serve("b", None);
    let _c = nats.serve("c", None);
    let (mut a, out, first) = work_queue(&nats, &["3", "200"]);
    assert_eq!(first, ["3 nodes: a, b, c", "working: 6 workers"]);
    let rest: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    assert_eq!(a.wait().expect("node a's end").code(), Some(0), "{rest:?}");
    assert_eq!(
        rest[0], "200 jobs done, 0 wrong in a sample of 8",
        "{rest:?}"
    );
    // Every worker asked before the first job went out: every node did some.
    let by_node = rest[1].strip_prefix("by node: ").expect("by node");
    let nodes: Vec<&str> = by_node
        .split(", ")
        .map(|n| n.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(nodes, ["a", "b", "c"], "{by_node}");
}

#[test]
fn the_work_queue_example_hands_the_jobs_of_a_killed_node_to_the_others() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("work_queue")));
    let mut c = nats.serve("c", Some(&guest("work_queue")));
    let (mut a, out, first) = work_queue(&nats, &["3", "600"]);
    assert_eq!(first, ["3 nodes: a, b, c", "working: 6 workers"]);
    // Every worker holds a job now: c's two go back to the queue when it dies.
    c.kill_9();
    let rest: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    assert_eq!(a.wait().expect("node a's end").code(), Some(0), "{rest:?}");
    assert_eq!(
        rest[0], "600 jobs done, 0 wrong in a sample of 24",
        "{rest:?}"
    );
}

/// `warren deploy MODULE` to the cluster, with `args` (`--node NAME`...), as the deployer.
fn deploy(nats: &Nats, module: &std::path::Path, args: &[&str]) -> common::Run {
    let mut deploy = common::warren();
    deploy
        .args([
            "deploy",
            "--cluster",
            &nats.deployer_url(),
            "--cluster-secret",
        ])
        .arg(&nats.secret)
        .args(args)
        .arg(module);
    run_with_limit(&mut deploy, Duration::from_secs(120))
}

#[test]
fn a_rolling_deploy_upgrades_node_by_node_while_the_work_queue_runs_and_no_job_is_lost() {
    let nats = Nats::start();
    let v2 = common::guest_with_features("work_queue", "v2");
    // b and c start without a module (they fetch version 1 with the first spawn), a runs
    // it from the file.
    let _b = nats.serve("b", None);
    let _c = nats.serve("c", None);
    // 4000 jobs take about four times as long as the four deploys (measured: 19.5 s against
    // 4.8 s, on 2 cores).
    let (mut a, out, first) = work_queue(&nats, &["3", "4000"]);
    assert_eq!(first, ["3 nodes: a, b, c", "working: 6 workers"]);

    // Version 2, node by node while the jobs run: each node loads it, and its workers move
    // to it after their next job; meanwhile the queue (on a, version 1 until the last step)
    // hands jobs to workers of both versions.
    for node in ["b", "c", "a"] {
        let run = deploy(&nats, &v2, &["--node", node]);
        run.assert_code(0).assert_stdout_has("to 1 node");
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!("({node}): ")))
            .unwrap_or_else(|| panic!("no line for node {node}: {}", run.stdout));
        assert!(
            line.contains("version 2 (") && line.contains("is current; version 1 is old"),
            "{line}"
        );
    }
    // Deployed again to every node: nothing changes.
    deploy(&nats, &v2, &[])
        .assert_code(0)
        .assert_stdout_has("to 3 nodes")
        .assert_stdout_has("(b): unchanged: version 2");

    let rest: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    assert_eq!(a.wait().expect("node a's end").code(), Some(0), "{rest:?}");
    assert_eq!(
        rest[0], "4000 jobs done, 0 wrong in a sample of 160",
        "{rest:?}"
    );
    // Every node's workers moved: each signed jobs with version 2's code.
    for node in ["a", "b", "c"] {
        assert!(
            rest[1].contains(&format!("{node} (version 2) ")),
            "{node}: {}",
            rest[1]
        );
    }
}

#[test]
fn a_node_that_missed_the_deploy_loads_the_deployed_version_when_a_spawn_names_it() {
    let nats = Nats::start();
    let v2 = common::guest_with_features("work_queue", "v2");
    let _b = nats.serve("b", Some(&guest("work_queue")));
    deploy(&nats, &v2, &[])
        .assert_code(0)
        .assert_stdout_has("to 1 node")
        .assert_stdout_has("(b): version 2 (");
    // A module that does not load: the node says why and keeps version 2; exit 1.
    let junk = nats.dir().join("junk.wasm");
    std::fs::write(&junk, b"not a module").unwrap();
    deploy(&nats, &junk, &[])
        .assert_code(1)
        .assert_stdout_has("(b): not loaded: the new version was not loaded")
        .assert_stdout_has("version 2 keeps running");
    // A node that is not up: said so, exit 1.
    deploy(&nats, &v2, &["--node", "d"])
        .assert_code(1)
        .assert_stdout_has("node d: not loaded: not up");
    // Without the secret: refused before connecting.
    let mut unsigned = common::warren();
    unsigned
        .args(["deploy", "--cluster", &nats.deployer_url()])
        .arg(&v2);
    run_with_limit(&mut unsigned, Duration::from_secs(60))
        .assert_code(2)
        .assert_stderr_has("needs the cluster's secret");
    // c starts after the deploy, from version 1's file: it runs version 1 until a spawn
    // names version 2, the cluster's deployed one.
    let _c = nats.serve("c", Some(&guest("work_queue")));
    let (mut a, out) = start_a(nats.warren_node("a").arg(&v2).args(["3", "200"]));
    let lines: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    assert_eq!(a.wait().expect("node a's end").code(), Some(0), "{lines:?}");
    assert_eq!(
        lines[..3],
        [
            "3 nodes: a, b, c",
            "working: 6 workers",
            "200 jobs done, 0 wrong in a sample of 8"
        ],
        "{lines:?}"
    );
    let by_node = lines[3].strip_prefix("by node: ").expect("by node");
    let nodes: Vec<&str> = by_node
        .split(", ")
        .map(|n| n.rsplit_once(' ').map_or(n, |(who, _)| who))
        .collect();
    assert_eq!(
        nodes,
        ["a (version 2)", "b (version 2)", "c (version 2)"],
        "{by_node}"
    );
}

#[test]
fn a_frame_lost_from_a_stream_tears_the_peer_down_with_noconnection_instead_of_a_silent_gap() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let _c = nats.serve("c", Some(&guest("test_guest")));
    let (mut a, mut out) = start_a(&mut nats.node_command("a", "dist_gap"));
    let mut ready = String::new();
    out.read_line(&mut ready).expect("node a's first line");
    let nums: Vec<u32> = ready
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("not ready: {ready:?}"))
        .split(' ')
        .map(|n| n.parse().expect("a node number"))
        .collect();
    let (a_num, b_num) = (nums[0], nums[1]);
    // A frame from b (made with the cluster's secret, published by b's user) of a session
    // newer than b's (sessions are the sender's clock), in its middle (sequence 5): the
    // start of a stream was lost.
    let keys = common::forge::Keys::from_file(&nats.secret);
    let session = common::forge::now_ms() * 1_000_000;
    let frame = keys.frame(common::forge::DATA_END, b_num, a_num, session, 5, &[0]);
    let mut raw = common::forge::Raw::connect(&nats.addr(), "b");
    raw.publish(&format!("warren.node.{a_num}.b"), &frame);
    raw.ping();
    let rest: Vec<String> = out.lines().map(|l| l.expect("a line")).collect();
    assert_eq!(a.wait().expect("node a's end").code(), Some(0), "{rest:?}");
    assert_eq!(
        rest,
        ["the gap tore b down with noconnection, and b came back"]
    );
}

#[test]
fn a_process_flooding_a_slow_link_waits_for_room_and_the_others_still_get_through() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("test_guest")));
    // Node a reaches the server over a 10 MB/s link, with a 1 MiB send mark: the 40 MiB
    // flood is far past the mark (and past the 4 MiB that signals may queue at most).
    let slow = nats.slow_link("a", 10 << 20);
    let run = run_with_limit(
        common::warren()
            .args(["run", "--cluster", &slow, "--node", "a"])
            .args(["--cluster-send-mark", "1M", "--cluster-secret"])
            .arg(&nats.secret)
            .arg(guest("test_guest"))
            .arg("dist_flood"),
        Duration::from_secs(180),
    );
    run.assert_code(0)
        .assert_stdout_has("flood: 160 sent, ")
        .assert_stdout_has("probes through, no link fired, the hog killed");
}

#[test]
fn a_bounded_mailbox_on_another_node_slows_fails_or_times_out_its_senders_and_loses_nothing() {
    let nats = Nats::start();
    let _b = nats.serve("b", Some(&guest("test_guest")));
    let run = run_with_limit(
        &mut nats.node_command("a", "dist_bounded"),
        Duration::from_secs(180),
    );
    run.assert_code(0)
        .assert_stdout_has("bounded across nodes: 20000 items at the consumer's pace");
}

/// Nodes started at the same moment on a fresh server race to create the cluster's buckets;
/// the server answers the slower creates with an error ("subjects overlap with an existing
/// stream"), which once stopped a node from joining. Every node must join, every time.
#[test]
fn nodes_started_at_once_on_a_fresh_server_all_join() {
    let names = ["a", "b", "c", "d", "odd"];
    for _round in 0..3 {
        let nats = Nats::start();
        let mut nodes: Vec<std::process::Child> = names
            .iter()
            .map(|name| {
                nats.warren_node(name)
                    .arg("--serve")
                    .arg(guest("test_guest"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("starting a node")
            })
            .collect();
        for (name, node) in names.iter().zip(&mut nodes) {
            let mut err = std::io::BufReader::new(node.stderr.take().expect("stderr"));
            let mut said = String::new();
            loop {
                let mut line = String::new();
                let n = err.read_line(&mut line).expect("a node's stderr");
                said.push_str(&line);
                assert!(n > 0, "node {name} ended without joining:\n{said}");
                if line.contains("serves the cluster") {
                    break;
                }
            }
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        }
        for mut node in nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}
