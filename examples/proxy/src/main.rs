//! A TCP proxy whose bytes never enter a process.
//!
//! ```text
//! warren run proxy.wasm 127.0.0.1:8000 127.0.0.1:7000   # listen, upstream
//! ```
//!
//! For each connection a handler process connects upstream, starts two host copies
//! (client -> upstream, upstream -> client) and exits at once. The copies run in the host
//! and keep both sockets alive until each direction ends; an end in one direction is passed
//! on as a shutdown of the other socket's sending side. The root process monitors the
//! handlers and logs when each has exited, so you can see the bytes keep flowing after.

use warren::net::{TcpListener, TcpStream};
use warren::stream::copy;
use warren::{Mailbox, Monitor};

/// Wire the client to the upstream and return: the host does the rest.
fn wire(client: TcpStream, upstream: String) {
    let server = match TcpStream::connect(&upstream) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proxy: cannot connect to {upstream}: {e}");
            return;
        }
    };
    copy(&client, &server).expect("copy client -> upstream");
    copy(&server, &client).expect("copy upstream -> client");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: proxy LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("proxy: cannot listen on {listen}: {e}");
        std::process::exit(1);
    });
    println!(
        "proxy: listening on {}, forwarding to {upstream}",
        listener.local_addr().expect("bound")
    );
    // The monitor of each handler, reported once it is down.
    let mut handlers: Vec<(u64, Monitor)> = Vec::new();
    let mut served = 0u64;
    for conn in listener.incoming().expect("incoming connections") {
        let Ok(client) = conn else { continue };
        served += 1;
        let upstream = upstream.clone();
        match warren::spawn_monitor!(client, upstream; |_mailbox: Mailbox<()>| {
            wire(client, upstream)
        }) {
            Ok((_, monitor)) => handlers.push((served, monitor)),
            Err(e) => eprintln!("proxy: cannot start a handler: {e}"),
        }
        // Report the handlers that are done (they are, almost at once).
        handlers.retain(
            |(n, m)| match m.wait_timeout(std::time::Duration::from_millis(100)) {
                Some(reason) => {
                    println!(
                        "proxy: handler of connection {n} exited ({reason}); its copies run on"
                    );
                    false
                }
                None => true,
            },
        );
    }
}
