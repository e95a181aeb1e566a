//! A line-based chat server.
//!
//! ```text
//! warren run chat.wasm 127.0.0.1:7001
//! ```
//!
//! - the root process is the *acceptor*: it hands each connection to a new *session*;
//! - a *hub* process (registered as "hub") knows the sessions and broadcasts every line to
//!   all the others; sessions are linked to it, so a session that dies leaves the room;
//! - a session waits on its socket and its mailbox at once (`select`): lines from the
//!   client go to the hub, lines from the hub go to the client.
//!
//! Type `/nick NAME` to change your name. A client that quits in the middle of a line does
//! not cost the others anything: the partial line is delivered as it is, and everybody else
//! goes on.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use warren::net::{TcpListener, TcpStream};
use warren::select::{Source, select};
use warren::{Mailbox, Pid, Process, Signal};

/// What sessions tell the hub.
#[derive(Serialize, Deserialize)]
enum ToHub {
    Join {
        session: Process<ToSession>,
        name: String,
    },
    Say {
        from: Pid,
        text: String,
    },
    Rename {
        from: Pid,
        name: String,
    },
    Leave {
        from: Pid,
    },
}

/// What the hub tells a session.
#[derive(Serialize, Deserialize)]
enum ToSession {
    Line(String),
}

/// Longest line accepted; longer input is cut into lines of this size.
const MAX_LINE: usize = 4096;

type Members = HashMap<Pid, (Process<ToSession>, String)>;

fn broadcast(members: &Members, from: Option<Pid>, line: String) {
    for (pid, (session, _)) in members {
        if Some(*pid) != from {
            session.send(&ToSession::Line(line.clone()));
        }
    }
}

fn hub(mailbox: Mailbox<ToHub>) {
    // Sessions link to the hub; trapping exits turns a session's death (however it dies)
    // into a message here, so it leaves the room.
    warren::trap_exit(true);
    let mut members = Members::new();
    loop {
        let message = match mailbox.receive_signal() {
            Signal::Message(m) => m,
            Signal::Exit { from, .. } => ToHub::Leave { from },
        };
        match message {
            ToHub::Join { session, name } => {
                broadcast(&members, None, format!("* {name} joined"));
                members.insert(session.pid(), (session, name));
            }
            ToHub::Say { from, text } => {
                if let Some((_, name)) = members.get(&from) {
                    broadcast(&members, Some(from), format!("{name}: {text}"));
                }
            }
            ToHub::Rename { from, name } => {
                if let Some((_, old)) = members.get_mut(&from) {
                    let line = format!("* {old} is now {name}");
                    *old = name;
                    broadcast(&members, None, line);
                }
            }
            ToHub::Leave { from } => {
                if let Some((_, name)) = members.remove(&from) {
                    broadcast(&members, None, format!("* {name} left"));
                }
            }
        }
    }
}

/// Turn a line from the client into a message for the hub.
fn said(me: Pid, line: &[u8]) -> ToHub {
    let text = String::from_utf8_lossy(line)
        .trim_end_matches('\r')
        .to_string();
    match text.strip_prefix("/nick ") {
        Some(name) if !name.trim().is_empty() => ToHub::Rename {
            from: me,
            name: name.trim().to_string(),
        },
        _ => ToHub::Say { from: me, text },
    }
}

fn session(conn: TcpStream, hub: Process<ToHub>, mailbox: Mailbox<ToSession>) {
    let me = warren::this();
    let name = format!("guest{me}");
    hub.link();
    // Join before the welcome: a client that has read its welcome is in the room, so it
    // hears of everyone who connects after it (sent the other way round, a session preempted
    // between the two could join after a later one).
    hub.send(&ToHub::Join {
        session: Process::from_pid(me),
        name: name.clone(),
    });
    let _ = conn.write_all(format!("welcome, {name}! /nick NAME to rename\n").as_bytes());
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match select(&[Source::Messages, Source::Readable(&conn)], None) {
            Some(0) => {
                let ToSession::Line(line) = mailbox.receive();
                if conn.write_all(format!("{line}\n").as_bytes()).is_err() {
                    break;
                }
            }
            _ => match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=i).collect();
                        hub.send(&said(me, &line[..line.len() - 1]));
                    }
                    while pending.len() >= MAX_LINE {
                        let line: Vec<u8> = pending.drain(..MAX_LINE).collect();
                        hub.send(&said(me, &line));
                    }
                }
            },
        }
    }
    // The client is gone, perhaps mid-line: what it typed still reaches the others.
    if !pending.is_empty() {
        hub.send(&said(me, &pending));
    }
    hub.send(&ToHub::Leave { from: me });
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7001".into());
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("chat: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    let hub = warren::spawn!(|mailbox: Mailbox<ToHub>| hub(mailbox)).expect("spawn the hub");
    hub.register("hub").expect("register the hub");
    println!(
        "chat: listening on {}",
        listener.local_addr().expect("bound")
    );
    for conn in listener.incoming().expect("incoming connections") {
        let Ok(conn) = conn else { continue };
        if let Err(e) = warren::spawn!(conn, hub; |mailbox: Mailbox<ToSession>| {
            session(conn, hub, mailbox)
        }) {
            eprintln!("chat: cannot start a session: {e}");
        }
    }
}
