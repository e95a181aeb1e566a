//! The observer (`warren run --observe`) against real clients: its page driven in headless
//! Chromium over WebDriver (Debian packages `chromium` and `chromium-driver`; `scripts/test`
//! installs them), its JSON and its Prometheus `/metrics`.
//!
//! Set `WARREN_SCREENSHOT=PATH` to save a screenshot of the page (the README's).

mod common;

use common::{guest, warren};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
#[cfg(feature = "heavy")]
use std::process::Command;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `warren run --observe 127.0.0.1:0 FLAGS WASM ARGS`, killed when dropped.
struct Observed {
    child: Child,
    /// host:port of the observer.
    addr: String,
    /// The token printed at start, if one was (the browser tests use it).
    #[cfg_attr(not(feature = "heavy"), allow(dead_code))]
    token: String,
}

impl Observed {
    fn start(flags: &[&str], wasm: &str, args: &[&str]) -> Observed {
        let mut child = warren()
            .args(["run", "--observe", "127.0.0.1:0"])
            .args(flags)
            .arg(guest(wasm))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting warren");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let addr = loop {
            let mut line = String::new();
            let n = stderr
                .read_line(&mut line)
                .expect("reading warren's stderr");
            assert!(n > 0, "warren ended before serving the observer");
            if let Some(rest) = line.split("observer at http://").nth(1) {
                break rest.to_string();
            }
        };
        let token = addr
            .split("#token=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let addr = addr.split('/').next().unwrap_or_default().to_string();
        // Keep draining stderr (panics of the workload) so warren never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Observed { child, addr, token }
    }

    fn get(&self, path: &str) -> (u16, String) {
        http(&self.addr, "GET", path, &[], "")
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection; (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // A `Host` among the headers replaces the default (the address connected to).
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or(addr, |(_, v)| *v);
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
    {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    // Read the head, then as much body as it announces: chromedriver keeps the connection
    // open whatever `Connection: close` says.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("reading the response head");
        assert!(
            n > 0,
            "{method} {path}: the connection closed before a response"
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &raw[head_end..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut buf).expect("reading the response body");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let rest = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    let body = if chunked { unchunk(&rest) } else { rest };
    (status, body)
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Retry `f` until it returns `Some` or `limit` passes.
fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A headless Chromium session through chromedriver (for the heavy tests).
#[cfg(feature = "heavy")]
struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

#[cfg(feature = "heavy")]
impl Browser {
    fn open() -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "running chromedriver (Debian package chromium-driver; scripts/test installs it)",
            );
        let addr = format!("127.0.0.1:{port}");
        eventually("chromedriver to listen", Duration::from_secs(30), || {
            TcpStream::connect(&addr).ok()
        });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1500,1100",
                         format!("--user-data-dir={}", profile.path().display())],
            },
        }}});
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let v = b.call("POST", "/session", caps);
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        b
    }

    /// A WebDriver command: its `value`, or the error WebDriver answered.
    fn try_call(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let body = if method == "GET" {
            String::new()
        } else {
            body.to_string()
        };
        let (status, text) = http(&self.addr, method, path, &[], &body);
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        if status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!("WebDriver {method} {path}: {status} {v}"))
        }
    }

    /// A WebDriver command that must succeed; its `value`.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn try_session(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        self.try_call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.session("POST", "/url", json!({ "url": url }));
    }

    fn script(&self, js: &str) -> Value {
        self.session("POST", "/execute/sync", json!({ "script": js, "args": [] }))
    }

    /// Click the element `css` selects, as a user would; an error if there is none (or it
    /// went away between being found and being clicked: the page refreshes every second).
    fn try_click(&self, css: &str) -> Result<(), String> {
        let e = self.try_session(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        )?;
        let id = e
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no element {css}: {e}"))?
            .to_string();
        self.try_session("POST", &format!("/element/{id}/click"), json!({}))
            .map(drop)
    }

    /// Click the element `css` selects, trying again while it is missing or replaced.
    fn click(&self, css: &str) {
        let mut last = String::new();
        for _ in 0..50 {
            match self.try_click(css) {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("clicking {css}: {last}");
    }

    /// Accept the confirm dialog a click opened; false if none opened within 10 s.
    fn accept_dialog(&self) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let (status, _) = http(
                &self.addr,
                "POST",
                &format!("/session/{}/alert/accept", self.session),
                &[],
                "{}",
            );
            if status == 200 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn screenshot(&self, path: &str) {
        use base64::Engine as _;
        let png = self.session("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a PNG");
        std::fs::write(path, bytes).expect("writing the screenshot");
    }

    /// The process table's rows as the page shows them.
    fn rows(&self) -> Vec<(u64, String, String)> {
        let v = self.script(
            "return [...document.querySelectorAll('#procs tbody tr')].map(tr => [
                Number(tr.dataset.pid), tr.querySelector('.c-name').textContent,
                tr.querySelector('.c-state').textContent.trim()]);",
        );
        v.as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        (
                            r[0].as_u64().unwrap_or(0),
                            r[1].as_str().unwrap_or("").to_string(),
                            r[2].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The recent exits as the page shows them: (pid, name, kind, reason).
    fn exits(&self) -> Vec<(u64, String, String, String)> {
        let v = self.script(
            "return [...document.querySelectorAll('#exits tbody tr')].map(tr => [
                Number(tr.dataset.pid), tr.querySelector('.c-name').textContent,
                tr.querySelector('.c-kind').textContent.trim(),
                tr.querySelector('.c-reason').textContent]);",
        );
        v.as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        let s = |i: usize| r[i].as_str().unwrap_or("").to_string();
                        (r[0].as_u64().unwrap_or(0), s(1), s(2), s(3))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(feature = "heavy")]
impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                &self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                "",
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

const LONG: Duration = Duration::from_secs(30);

#[test]
#[cfg(feature = "heavy")] // heavy (Chromium): scripts/test runs it
fn the_page_shows_processes_exits_restarts_and_kills_with_the_flag() {
    let w = Observed::start(&["--observe-allow-kill"], "supervisor", &["serve"]);
    let browser = Browser::open();
    browser.go(&format!("http://{}/", w.addr));

    // The table shows the root, the supervisor and the registered worker.
    let worker = eventually("the squarer row", LONG, || {
        let rows = browser.rows();
        let w = rows.iter().find(|r| r.1 == "squarer")?;
        (rows.len() == 3).then_some(w.0)
    });
    let rows = browser.rows();
    assert!(rows.iter().any(|r| r.0 == 1), "the root process: {rows:?}");
    assert!(
        worker > 2,
        "the worker is spawned after the root and the supervisor"
    );
    assert!(
        rows.iter()
            .all(|r| ["running", "runnable", "waiting"].contains(&r.2.as_str())),
        "{rows:?}"
    );

    // Its crashes show as exits with their reason, and each restart as a new row.
    let crashed = eventually("a crash in the exits", LONG, || {
        browser
            .exits()
            .into_iter()
            .find(|e| e.1 == "squarer" && e.2 == "panic")
    });
    assert!(
        crashed.3.contains("worker gives up on request #3"),
        "{crashed:?}"
    );

    // Kill the current worker with its button; it may crash on its own meanwhile (every
    // third request), so try again with the next one until a kill lands.
    let (target, killed) = 'outer: {
        for _ in 0..10 {
            let target = eventually("a live squarer", LONG, || {
                browser
                    .rows()
                    .into_iter()
                    .find(|r| r.1 == "squarer")
                    .map(|r| r.0)
            });
            // The worker may have crashed (and its row gone) since the table was read.
            if browser
                .try_click(&format!("#procs button.kill[data-pid=\"{target}\"]"))
                .is_err()
            {
                continue;
            }
            if !browser.accept_dialog() {
                continue; // the click missed the button (it was being replaced)
            }
            let outcome = eventually("the worker's exit", LONG, || {
                browser.exits().into_iter().find(|e| e.0 == target)
            });
            if outcome.2 == "killed" {
                break 'outer (target, outcome);
            }
        }
        panic!("no kill landed in 10 tries");
    };
    assert_eq!(killed.3, "killed");
    let restarted = eventually("the restarted worker", LONG, || {
        let rows = browser.rows();
        let w = rows.iter().find(|r| r.1 == "squarer")?;
        (w.0 != target && !rows.iter().any(|r| r.0 == target)).then_some(w.0)
    });
    let status = browser.script("return document.querySelector('#status').textContent;");
    assert!(
        status
            .as_str()
            .is_some_and(|s| s.contains(&format!("killed process {target}")) || s == "live"),
        "{status}"
    );
    let counts = browser.script(
        "return [...document.querySelectorAll('#exit-counts .chip')].map(c => c.dataset.kind);",
    );
    assert!(counts.to_string().contains("killed"), "{counts}");

    // The supervisor's tree: a worker (the current one: it crashes every few seconds),
    // linked.
    let exits = w.json("/api/exits");
    let sup = exits["recent"]
        .as_array()
        .and_then(|r| r.iter().find(|e| e["pid"] == target))
        .and_then(|e| e["parent"].as_u64())
        .expect("the killed worker's parent");
    assert!(restarted > target);
    browser.click(&format!("#procs tr[data-pid=\"{sup}\"] .c-pid"));
    eventually("the supervisor's tree", LONG, || {
        let v = browser.script(
            "return [...document.querySelectorAll('#detail-body ul.tree ul.tree li')]
                 .map(li => li.textContent).join('|');",
        );
        v.as_str()
            .filter(|t| t.contains("linked") && t.contains("squarer"))
            .map(str::to_string)
    });
    let detail = browser.script("return document.querySelector('#detail-body').textContent;");
    assert!(detail.to_string().contains("traps exits"), "{detail}");

    // The charts have samples.
    eventually("the charts", LONG, || {
        let n = browser.script("return document.querySelectorAll('#totals path.line').length;");
        (n.as_u64() == Some(7)).then_some(())
    });
    if let Ok(path) = std::env::var("WARREN_SCREENSHOT") {
        std::thread::sleep(Duration::from_secs(3)); // a few more samples in the charts
        browser.script(&format!(
            "document.querySelector('#procs tr[data-pid=\"{sup}\"]').click();"
        ));
        std::thread::sleep(Duration::from_millis(1500));
        browser.screenshot(&path);
    }

    // A kill request without the observer's header is refused (another page cannot send it).
    let (status, body) = http(
        &w.addr,
        "POST",
        &format!("/api/processes/{sup}/kill"),
        &[],
        "",
    );
    assert_eq!(status, 403, "{body}");
    assert!(w.json(&format!("/api/processes/{sup}"))["process"]["pid"] == sup);
}

#[test]
#[cfg(feature = "heavy")] // heavy (Chromium): scripts/test runs it
fn the_page_loads_a_new_version_with_the_flag_and_the_token_of_its_url() {
    let v2 = std::fs::read(common::guest_with_features("upgrade_guest", "v2")).unwrap();
    let w = Observed::start(&["--wait", "--observe-allow-upgrade"], "upgrade_guest", &[]);
    assert!(!w.token.is_empty(), "a load needs a token: one is printed");
    let browser = Browser::open();
    browser.go(&format!("http://{}/#token={}", w.addr, w.token));
    eventually("the Load version button", LONG, || {
        let shown =
            browser.script("return getComputedStyle(document.getElementById('upgrade')).display");
        (shown.as_str() != Some("none")).then_some(())
    });
    // What choosing a file does: its bytes go to loadVersion (a file chooser cannot be
    // driven headless).
    let hex: String = v2.iter().map(|b| format!("{b:02x}")).collect();
    browser.script(&format!(
        "const b = new Uint8Array('{hex}'.match(/../g).map(x => parseInt(x, 16))); \
         loadVersion(new File([b], 'v2.wasm')); return null;"
    ));
    let status = eventually("the page to say what the load did", LONG, || {
        let text = browser.script("return document.getElementById('status').textContent");
        let text = text.as_str().unwrap_or_default().to_string();
        text.contains("v2.wasm: ").then_some(text)
    });
    assert!(status.contains("version 2 ("), "{status}");
    assert!(status.contains("is current; version 1 is old"), "{status}");
    let versions = &w.json("/api/summary")["versions"];
    assert_eq!(versions[0]["version"], 2, "{versions}");

    // Without the token (a page opened without it), the load is refused and says why.
    browser.go(&format!("http://{}/", w.addr));
    eventually("the Load version button", LONG, || {
        let shown =
            browser.script("return getComputedStyle(document.getElementById('upgrade')).display");
        (shown.as_str() != Some("none")).then_some(())
    });
    browser.script(
        "loadVersion(new File([new Uint8Array([0, 97, 115, 109])], 'x.wasm')); return null;",
    );
    let status = eventually("the page to say the load was refused", LONG, || {
        let text = browser.script("return document.getElementById('status').textContent");
        let text = text.as_str().unwrap_or_default().to_string();
        text.contains("x.wasm was not loaded").then_some(text)
    });
    assert!(status.contains("token"), "{status}");
}

#[test]
#[cfg(feature = "heavy")] // heavy (Chromium): scripts/test runs it
fn without_the_flag_the_page_has_no_kill_button_and_kills_are_refused() {
    let w = Observed::start(&[], "supervisor", &["serve"]);
    let browser = Browser::open();
    browser.go(&format!("http://{}/", w.addr));
    let worker = eventually("the squarer row", LONG, || {
        browser
            .rows()
            .into_iter()
            .find(|r| r.1 == "squarer")
            .map(|r| r.0)
    });
    let buttons = browser.script("return document.querySelectorAll('button.kill').length;");
    assert_eq!(buttons, 0);
    let meta = browser.script("return document.querySelector('#meta').textContent;");
    assert!(meta.to_string().contains("kill off"), "{meta}");
    let (status, body) = http(
        &w.addr,
        "POST",
        &format!("/api/processes/{worker}/kill"),
        &[("x-warren-observer", "kill")],
        "",
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--observe-allow-kill"), "{body}");
}

#[test]
fn a_process_shows_its_last_log_lines_and_metrics_count_records_and_drops() {
    let w = Observed::start(&["--max-log-rate", "10"], "test_guest", &["logs_observed"]);
    let pid = eventually("chatty", LONG, || {
        w.json("/api/processes?q=chatty")["rows"][0]["pid"].as_u64()
    });
    let logs = eventually("chatty's logs", LONG, || {
        let logs = w.json(&format!("/api/processes/{pid}"))["logs"].clone();
        (logs["emitted"].as_u64()? + logs["dropped"].as_u64()? == 12).then_some(logs)
    });
    assert_eq!(logs["emitted"], 10, "{logs}");
    assert_eq!(logs["dropped"], 2, "{logs}");
    let lines = logs["lines"].as_array().expect("lines");
    // The last 8 of the 10 emitted, oldest first.
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert_eq!(
        messages,
        (2..10).map(|i| format!("line {i}")).collect::<Vec<_>>(),
        "{logs}"
    );
    assert_eq!(lines[0]["level"], "info");
    assert_eq!(lines[0]["target"], "app::chatty");
    let text = w.get("/metrics").1;
    assert!(
        text.lines()
            .any(|l| l == "warren_log_records_total{level=\"info\"} 10"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "warren_log_dropped_total 2"),
        "{text}"
    );
}

#[test]
fn bounded_mailboxes_their_drops_blocked_senders_and_a_deadlock_are_shown() {
    let w = Observed::start(&[], "test_guest", &["observed_deadlock"]);
    let metric = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.split(' ').next() == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    // Set up once both wait and the root has its name.
    let text = eventually("the deadlock", LONG, || {
        let m = w.get("/metrics").1;
        (metric(&m, "warren_senders_blocked") == Some(2.0)
            && m.contains("warren_registered_names 3"))
        .then_some(m)
    });
    assert_eq!(
        metric(&text, "warren_mailbox_dropped_total"),
        Some(3.0),
        "{text}"
    );
    assert!(
        metric(&text, "warren_mailbox_refused_total").is_some_and(|n| n >= 2.0),
        "{text}"
    );
    let pid_of = |name: &str| {
        w.json(&format!("/api/processes?q={name}"))["rows"][0]["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("no process {name}"))
    };
    let (a, b) = (pid_of("left"), pid_of("right"));
    let detail = w.json(&format!("/api/processes/{a}"));
    assert_eq!(detail["process"]["blocked_on"], b, "{detail}");
    assert_eq!(
        detail["waits_on"]["chain"],
        serde_json::json!([b, a]),
        "{detail}"
    );
    assert_eq!(detail["waits_on"]["deadlock"], true, "{detail}");
    assert_eq!(detail["process"]["mailbox_bound"]["bound"], "1 messages");
    assert_eq!(detail["process"]["mailbox_bound"]["when_full"], "Block");
    // The runtime goes on: the observer answers, and the deadlocked pair can be killed.
    let rows = w.json("/api/processes?sort=mailbox&desc=1");
    assert!(
        rows["rows"].as_array().is_some_and(|r| r.len() >= 4),
        "{rows}"
    );
}

#[test]
fn metrics_and_json_count_a_known_workload() {
    let w = Observed::start(&[], "test_guest", &["observed_workload"]);
    // The workload is done once its root has registered its name.
    eventually("the workload", LONG, || {
        let m = w.get("/metrics").1;
        m.contains("warren_registered_names 1").then_some(())
    });
    let (status, text) = w.get("/metrics");
    assert_eq!(status, 200);
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.split(' ').next() == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(value("warren_processes"), 1.0);
    assert_eq!(value("warren_processes_spawned_total"), 8.0);
    assert_eq!(value("warren_process_exits_total{reason=\"normal\"}"), 5.0);
    assert_eq!(value("warren_process_exits_total{reason=\"panic\"}"), 2.0);
    assert_eq!(value("warren_process_exits_total{reason=\"killed\"}"), 0.0);
    // 5 sends and 7 DOWN messages.
    assert_eq!(value("warren_messages_total"), 12.0);
    assert_eq!(value("warren_registered_names"), 1.0);
    assert_eq!(value("warren_timers"), 0.0);
    let memory = value("warren_memory_bytes");
    assert!(memory >= 65536.0 && memory % 65536.0 == 0.0, "{memory}");
    // warren's scheduler polled the 8 processes, on its workers or on tokio's threads.
    let polls: f64 = text
        .lines()
        .filter(|l| l.starts_with("warren_scheduler_polls_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(polls >= 8.0, "{polls} polls in\n{text}");
    // One version of the program, the one it was started with, runs the one live process.
    let versions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("warren_version_processes{"))
        .collect();
    assert_eq!(versions.len(), 1, "{text}");
    assert!(
        versions[0].starts_with("warren_version_processes{version=\"1\",hash=\"")
            && versions[0].ends_with("\",state=\"current\"} 1"),
        "{}",
        versions[0]
    );
    assert_eq!(value("warren_version_loads_total"), 0.0);
    for name in [
        "warren_processes",
        "warren_messages_total",
        "warren_process_exits_total",
        "warren_scheduler_polls_total",
        "warren_scheduler_wakes_total",
        "warren_scheduler_stolen_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has a type"
        );
    }

    // The same in JSON, and the one live process as a row.
    let s = w.json("/api/summary");
    assert_eq!(s["spawned"], 8);
    assert_eq!(s["messages"], 12);
    assert_eq!(s["exits"]["panic"], 2);
    assert_eq!(s["memory"].as_f64(), Some(memory));
    let page = w.json("/api/processes?sort=memory&order=desc&q=observed");
    assert_eq!(page["matched"], 1);
    let row = &page["rows"][0];
    assert_eq!(row["name"], "observed");
    assert_eq!(row["state"], "waiting");
    assert_eq!(row["parent"], 0);
    assert_eq!(row["version"], 1);
    assert_eq!(s["versions"][0]["version"], 1);
    assert_eq!(s["versions"][0]["current"], true);
    assert_eq!(s["versions"][0]["processes"], 1);
    assert_eq!(s["versions"][0]["hash"].as_str().map(str::len), Some(64));
    assert_eq!(row["memory"].as_f64(), Some(memory));
    // What is resident is asked of the kernel: some of its pages, never more than it has;
    // and the host's own resident and proportional sizes.
    let resident = row["resident"].as_f64().unwrap_or(-1.0);
    assert!(
        resident > 0.0 && resident <= memory,
        "{resident} of {memory}"
    );
    let host = s["resident"].as_f64().unwrap_or(0.0);
    let pss = s["proportional"].as_f64().unwrap_or(0.0);
    assert!(host > resident && pss > 0.0, "{s}");
    let root = w.json("/api/processes/1");
    assert_eq!(
        root["handles"],
        json!([{"kind": "tcp-listener", "count": 1}]),
        "{root}"
    );
    assert_eq!(root["process"]["handles"], 1);
    assert_eq!(root["process"]["names"], json!(["observed"]));
    let exits = w.json("/api/exits");
    let recent = exits["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 7);
    assert!(
        recent
            .iter()
            .filter(|e| e["kind"] == "panic")
            .all(
                |e| e["reason"].as_str().is_some_and(|r| r.contains("planned")) && e["parent"] == 1
            )
    );
    // Server-sent events: a summary event at once.
    let mut s = TcpStream::connect(&w.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /api/events HTTP/1.1\r\nHost: {}\r\n\r\n", w.addr).unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while !got.contains("\"spawned\":8") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the event stream ended: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        got.contains("text/event-stream") && got.contains("event: summary"),
        "{got}"
    );
    // Bad requests say what is wrong.
    let (status, body) = w.get("/api/processes?sort=size");
    assert_eq!(status, 400);
    assert!(body.contains("expected pid, name"), "{body}");
    assert_eq!(w.get("/api/processes/99999").0, 404);
    assert_eq!(w.get("/api/processes/abc").0, 400);
    assert_eq!(w.get("/nowhere").0, 404);
}

#[test]
fn a_rebound_name_or_another_origin_gets_nothing_and_beyond_loopback_kills_need_the_token() {
    let w = Observed::start(&["--observe-allow-kill"], "supervisor", &["serve"]);
    let port = w.addr.rsplit(':').next().unwrap_or_default().to_string();
    // A page of evil.example whose name was rebound to 127.0.0.1: its requests name it.
    let evil = format!("evil.example:{port}");
    let (status, body) = http(&w.addr, "GET", "/api/processes", &[("Host", &evil)], "");
    assert_eq!(status, 421, "{body}");
    assert!(body.contains("--observe-host"), "{body}");
    let (status, _) = http(&w.addr, "GET", "/", &[("Host", &evil)], "");
    assert_eq!(status, 421);
    // Event streams are bounded (16), so they cannot take every connection.
    let streams: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(&w.addr).unwrap();
            write!(s, "GET /api/events HTTP/1.1\r\nHost: {}\r\n\r\n", w.addr).unwrap();
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
            s
        })
        .collect();
    let (status, body) = http(&w.addr, "GET", "/api/events", &[], "");
    assert_eq!(status, 503, "{body}");
    drop(streams);
    let local = format!("localhost:{port}");
    let (status, _) = http(&w.addr, "GET", "/api/summary", &[("Host", &local)], "");
    assert_eq!(status, 200);
    // A kill from a page of another origin (however it got the header on) is refused.
    let squarer = eventually("the squarer", LONG, || {
        w.json("/api/processes?q=squarer")["rows"][0]["pid"].as_u64()
    });
    let kill = format!("/api/processes/{squarer}/kill");
    let (status, body) = http(
        &w.addr,
        "POST",
        &kill,
        &[
            ("x-warren-observer", "kill"),
            ("Origin", "http://evil.example"),
        ],
        "",
    );
    assert_eq!(status, 403, "{body}");

    // Beyond loopback only when asked, and then kills need the token printed at start.
    let refused = warren()
        .args(["run", "--observe", "0.0.0.0:0"])
        .arg(guest("hello"))
        .output()
        .expect("warren");
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--observe-public"), "{err}");
    let mut child = warren()
        .args([
            "run",
            "--observe",
            "0.0.0.0:0",
            "--observe-public",
            "--observe-allow-kill",
        ])
        .arg(guest("supervisor"))
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warren");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (port, token) = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).expect("stderr") > 0,
            "no observer line"
        );
        if let Some(rest) = line.split("observer at http://0.0.0.0:").nth(1) {
            let port = rest.split('/').next().unwrap_or_default().to_string();
            let token = rest
                .split("#token=")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .expect("a token in the URL")
                .to_string();
            break (port, token);
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = format!("127.0.0.1:{port}");
    let squarer = eventually("the squarer", LONG, || {
        let (_, body) = http(&addr, "GET", "/api/processes?q=squarer", &[], "");
        serde_json::from_str::<Value>(&body).ok()?["rows"][0]["pid"].as_u64()
    });
    let kill = format!("/api/processes/{squarer}/kill");
    let (status, body) = http(&addr, "POST", &kill, &[("x-warren-observer", "kill")], "");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("token"), "{body}");
    let (status, body) = http(
        &addr,
        "POST",
        &kill,
        &[
            ("x-warren-observer", "kill"),
            ("x-warren-observer-token", "wrong"),
        ],
        "",
    );
    assert_eq!(status, 403, "{body}");
    let (status, body) = http(
        &addr,
        "POST",
        &kill,
        &[
            ("x-warren-observer", "kill"),
            ("x-warren-observer-token", &token),
        ],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let _ = child.kill();
    let _ = child.wait();
}
