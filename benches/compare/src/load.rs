//! The TCP echo load client: C connections, each writing a SIZE-byte message and reading
//! its echo back, as fast as it can, for a fixed time. It runs on one thread, so it is a
//! bounded load: it cannot take both cores from the server it measures.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Drive the echo server at `addr`; returns completed round trips per second.
pub fn run(addr: &str, connections: usize, size: usize, seconds: f64) -> anyhow::Result<f64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..connections {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            conns.push(s);
        }
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|mut s| {
                tokio::spawn(async move {
                    let msg = vec![42u8; size];
                    let mut back = vec![0u8; size];
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        s.write_all(&msg).await?;
                        s.read_exact(&mut back).await?;
                        done += 1;
                    }
                    anyhow::Ok(done)
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await??;
        }
        Ok(total as f64 / seconds)
    })
}
