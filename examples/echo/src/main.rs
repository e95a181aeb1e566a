//! A TCP echo server: one process per connection.
//!
//! ```text
//! warren run echo.wasm 127.0.0.1:7000
//! ```
//!
//! The root process accepts; each connection moves into a process of its own (the
//! `TcpStream` is a handle, captured by `spawn!` like any other value), which echoes until
//! the client closes. A client that misbehaves can only break its own process.

use warren::Mailbox;
use warren::net::{TcpListener, TcpStream};

/// Echo everything back until the peer closes.
fn echo(conn: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("echo: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "echo: listening on {}",
        listener.local_addr().expect("bound")
    );
    for conn in listener.incoming().expect("incoming connections") {
        match conn {
            Ok(conn) => {
                if let Err(e) = warren::spawn!(conn; |_mailbox: Mailbox<()>| echo(conn)) {
                    eprintln!("echo: cannot start a connection process: {e}");
                }
            }
            Err(e) => eprintln!("echo: accept failed: {e}"),
        }
    }
}
