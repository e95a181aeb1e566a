//! The native tokio side of warren's benchmark comparison (`benches/compare`).
//!
//! ```text
//! compare-tokio spawn N | idle N | pingpong N | ring N LAPS | echo ADDR | maxn BUDGET_MIB
//! ```
//!
//! Each workload prints `result NAME VALUE UNIT`, like the warren guest and the Erlang module
//! doing the same work. Written as a tokio programmer would: a task per process, an
//! unbounded mpsc channel as its mailbox, the multi-threaded runtime with a worker per core.
//! Everything runs in spawned tasks (a future driven by `block_on` runs on the calling
//! thread, not on a worker, which would handicap tokio).

use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn result(name: &str, value: f64, unit: &str) {
    println!("result {name} {value:.3} {unit}");
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

async fn spawn(n: usize) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t0 = Instant::now();
    for _ in 0..n {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(());
        });
    }
    for _ in 0..n {
        rx.recv().await;
    }
    result(
        "spawn",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/spawn",
    );
}

/// An idle process: a task waiting on its mailbox.
fn idle_task() -> mpsc::UnboundedSender<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        rx.recv().await;
    });
    tx
}

async fn idle(n: usize) {
    idle_as(n, "idle").await
}

async fn idle_as(n: usize, name: &str) {
    let before = rss_bytes();
    let tasks: Vec<_> = (0..n).map(|_| idle_task()).collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = rss_bytes();
    result(name, (after - before) as f64 / n as f64, "bytes/process");
    drop(tasks);
}

/// `n` parked tasks, each woken once by a request it answers: time per wake-up.
async fn wake(n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (tx, mut rx) = mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<()>>();
            tokio::spawn(async move {
                while let Some(reply) = rx.recv().await {
                    let _ = reply.send(());
                }
            });
            tx
        })
        .collect();
    let t0 = std::time::Instant::now();
    for t in &tasks {
        let (reply, answer) = tokio::sync::oneshot::channel();
        t.send(reply).expect("a task answers");
        answer.await.expect("a task answers");
    }
    result(
        "wake",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/wake",
    );
}

async fn pingpong(n: usize) {
    let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<()>();
    let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        while ping_rx.recv().await.is_some() {
            let _ = pong_tx.send(());
        }
    });
    let t0 = Instant::now();
    for _ in 0..n {
        ping_tx.send(()).unwrap();
        pong_rx.recv().await.unwrap();
    }
    result(
        "pingpong",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/round-trip",
    );
}

async fn ring(n: usize, laps: usize) {
    let (first_tx, mut back_rx) = {
        let (last_tx, back_rx) = mpsc::unbounded_channel::<u64>();
        let mut next = last_tx;
        for _ in 0..n - 1 {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let to = next;
            tokio::spawn(async move {
                while let Some(token) = rx.recv().await {
                    if to.send(token).is_err() {
                        return;
                    }
                }
            });
            next = tx;
        }
        (next, back_rx)
    };
    // One untimed lap, as the others do.
    first_tx.send(0).unwrap();
    back_rx.recv().await.unwrap();
    let t0 = Instant::now();
    for lap in 0..laps {
        first_tx.send(lap as u64).unwrap();
        back_rx.recv().await.unwrap();
    }
    result(
        "ring",
        t0.elapsed().as_secs_f64() * 1e6 / (n * laps) as f64,
        "us/hop",
    );
}

/// Fan-out: one publisher, `n` subscriber tasks, `m` messages each sent to every one.
async fn fanout(n: usize, m: usize) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let subscribers: Vec<_> = (0..n)
        .map(|_| {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let done = done_tx.clone();
            tokio::spawn(async move {
                for _ in 0..m {
                    rx.recv().await.expect("the publisher is alive");
                }
                let _ = done.send(());
            });
            tx
        })
        .collect();
    let t0 = Instant::now();
    for i in 0..m as u64 {
        for s in &subscribers {
            s.send(i).expect("a subscriber is alive");
        }
    }
    for _ in 0..n {
        done_rx.recv().await.expect("a subscriber is done");
    }
    result(
        "fanout",
        t0.elapsed().as_secs_f64() * 1e6 / (n * m) as f64,
        "us/delivery",
    );
}

/// Flow control: a producer sends `n` messages into a bounded channel of 100 (a send waits
/// while it is full) read by a consumer task.
async fn flow(n: usize) {
    let (tx, mut rx) = mpsc::channel::<u64>(100);
    let consumer = tokio::spawn(async move {
        let mut sum = 0u64;
        for _ in 0..n {
            sum = sum.wrapping_add(rx.recv().await.expect("the producer is alive"));
        }
        sum
    });
    let t0 = Instant::now();
    for i in 0..n as u64 {
        tx.send(i).await.expect("the consumer is alive");
    }
    let sum = consumer.await.expect("the consumer ends");
    assert_eq!(sum, (0..n as u64).sum::<u64>());
    result(
        "flow",
        t0.elapsed().as_secs_f64() * 1e6 / n as f64,
        "us/message",
    );
}

async fn echo(addr: String) {
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!(
        "tokio: listening on {}",
        listener.local_addr().expect("bound")
    );
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let _ = conn.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

async fn maxn(budget_mib: u64) {
    let budget = budget_mib << 20;
    let base = rss_bytes();
    let mut tasks = Vec::new();
    loop {
        let batch: Vec<_> = (0..1_000).map(|_| idle_task()).collect();
        tokio::task::yield_now().await;
        if rss_bytes() - base > budget {
            break;
        }
        tasks.extend(batch);
    }
    result("maxn", tasks.len() as f64, "processes");
}

/// The HTTPS rows' native side: [`http_hello`] behind rustls (ring, as warren's host uses),
/// TLS 1.2 and 1.3, ALPN http/1.1 (wrk speaks HTTP/1.1).
async fn https_hello(addr: String, cert: String, key: String) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .expect("the certificate")
        .collect::<Result<_, _>>()
        .expect("the certificate");
    let key = PrivateKeyDer::from_pem_file(&key).expect("the key");
    #[allow(deprecated)] // ring, as warren's host uses
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the identity");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    serve_hello(addr, Some(acceptor)).await
}

/// The HTTP row's native side: the same hyper HTTP/1.1 server warren's host uses, answering
/// `hello\n` from a task per connection. Prints `listening on ADDR`.
async fn http_hello(addr: String) {
    serve_hello(addr, None).await
}

async fn serve_hello(addr: String, tls: Option<tokio_rustls::TlsAcceptor>) {
    use http_body_util::Full;
    use hyper::body::Incoming;
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("address"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|_req: hyper::Request<Incoming>| async {
                let mut r = hyper::Response::new(Full::new(bytes::Bytes::from_static(b"hello\n")));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                Ok::<_, std::convert::Infallible>(r)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive(true);
            match tls {
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = builder.serve_connection(io, service).await;
                }
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = builder.serve_connection(io, service).await;
                }
            }
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args.first().cloned().unwrap_or_default();
    let nums: Vec<usize> = args.iter().skip(1).filter_map(|a| a.parse().ok()).collect();
    let num = move |i: usize| -> usize {
        *nums
            .get(i)
            .unwrap_or_else(|| panic!("argument {} must be a number", i + 1))
    };
    let addr = args.get(1).cloned().unwrap_or_else(|| "127.0.0.1:0".into());
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let (cert, key) = (arg(2), arg(3));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let work = async move {
        match workload.as_str() {
            "spawn" => spawn(num(0)).await,
            "idle" => idle(num(0)).await,
            // tokio has no hibernation: an idle task is already just its state machine.
            "hibernate" => idle_as(num(0), "hibernate").await,
            "wake" => wake(num(0)).await,
            "pingpong" => pingpong(num(0)).await,
            "ring" => ring(num(0), num(1)).await,
            "fanout" => fanout(num(0), num(1)).await,
            "flow" => flow(num(0)).await,
            "echo" => echo(addr).await,
            "http_hello" => http_hello(addr).await,
            "https_hello" => https_hello(addr, cert, key).await,
            "maxn" => maxn(num(0) as u64).await,
            _ => eprintln!(
                "usage: compare-tokio spawn N | idle N | hibernate N | wake N | pingpong N | ring N LAPS | echo ADDR | maxn MIB | http_hello ADDR | https_hello ADDR CERT KEY"
            ),
        }
    };
    rt.block_on(rt.spawn(work)).expect("the workload panicked");
}
