//! A small JSON API and a live chat page, served by warren's HTTP host: a process per
//! request, a process per WebSocket.
//!
//! ```text
//! warren run web.wasm 127.0.0.1:8080     # then open http://127.0.0.1:8080/
//! ```
//!
//! - `GET /` is the page; it loads the history from the API and then talks over a WebSocket.
//! - `GET /api/messages` lists the last messages as JSON; `POST /api/messages` with
//!   `{"from": "...", "text": "..."}` adds one (201 with the stored message).
//! - `GET /ws` is a WebSocket: every message posted anywhere arrives on it as JSON, and a
//!   JSON message sent on it is posted.
//! - `GET /events` is the same feed as server-sent events.
//!
//! A *room* process (registered as "room") keeps the history and the subscribers. Every
//! request runs in a fresh process that asks the room and answers; a WebSocket's process
//! lives as long as its socket, waiting on the socket and its mailbox at once (`select`).
//! A handler that crashes answers its request with a 500 and nothing else notices.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use warren::http::{Message, Request, Response, Server, WebSocket};
use warren::select::{Source, select};
use warren::{Mailbox, Process, Reply, spawn};

/// One chat message.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Post {
    from: String,
    text: String,
}

/// What the room is asked.
#[derive(Serialize, Deserialize)]
enum ToRoom {
    /// Store a post and send it to every subscriber; replies with the post as stored.
    Post(Post, Reply<Post>),
    /// The last posts, oldest first.
    History(Reply<Vec<Post>>),
    /// Send every post from now on to this process (until it has ended).
    Subscribe(Process<Post>),
}

/// Posts the room remembers.
const HISTORY: usize = 50;
/// Longest name and text accepted, in characters.
const MAX_FROM: usize = 32;
const MAX_TEXT: usize = 1000;

fn room(_: (), mailbox: Mailbox<ToRoom>) {
    let mut history: VecDeque<Post> = VecDeque::new();
    let mut subscribers: Vec<Process<Post>> = Vec::new();
    loop {
        match mailbox.receive() {
            ToRoom::Post(post, reply) => {
                // A subscriber that has ended is dropped at the first post it misses.
                subscribers.retain(|s| s.send(&post));
                history.push_back(post.clone());
                if history.len() > HISTORY {
                    history.pop_front();
                }
                reply.send(&post);
            }
            ToRoom::History(reply) => {
                reply.send(&history.iter().cloned().collect());
            }
            ToRoom::Subscribe(p) => subscribers.push(p),
        }
    }
}

/// Check and trim a post from a client.
fn clean(post: Post) -> Result<Post, String> {
    let from: String = post.from.trim().chars().take(MAX_FROM).collect();
    let text = post.text.trim();
    if text.is_empty() {
        return Err("the text is empty".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("the text is over {MAX_TEXT} characters"));
    }
    let from = if from.is_empty() {
        "anonymous".into()
    } else {
        from
    };
    Ok(Post {
        from,
        text: text.to_string(),
    })
}

fn route(room: Process<ToRoom>, request: Request) -> Response {
    match (request.method(), request.path()) {
        ("GET", "/") => Response::html(200, include_str!("page.html")),
        ("GET", "/api/messages") => match room.request(ToRoom::History) {
            Ok(history) => Response::json(200, &history),
            Err(e) => Response::text(503, format!("the room is gone: {e}\n")),
        },
        ("POST", "/api/messages") => {
            let post = match request.json::<Post>() {
                Ok(p) => p,
                Err(e) => {
                    return Response::text(400, format!("expected {{\"from\", \"text\"}}: {e}\n"));
                }
            };
            match clean(post) {
                Ok(post) => match room.request(|r| ToRoom::Post(post, r)) {
                    Ok(stored) => Response::json(201, &stored),
                    Err(e) => Response::text(503, format!("the room is gone: {e}\n")),
                },
                Err(why) => Response::text(422, format!("{why}\n")),
            }
        }
        ("GET", "/ws") if request.is_websocket() => match request.upgrade() {
            Ok(ws) => {
                live(room, ws);
                Response::new(101) // answered by the upgrade: ignored
            }
            Err(e) => Response::text(400, format!("{e}\n")),
        },
        ("GET", "/events") => events(room, &request),
        _ => Response::not_found(),
    }
}
// Named, so that after a hot code upgrade each request runs the new version's `route`.
warren::http_handler!(route);

/// A WebSocket's process: posts from the room go out on the socket, messages from the
/// client are posted.
fn live(room: Process<ToRoom>, ws: WebSocket) {
    room.send(&ToRoom::Subscribe(Process::this()));
    let mailbox: Mailbox<Post> = Mailbox::this();
    loop {
        match select(&[Source::Messages, Source::Readable(&ws)], None) {
            Some(0) => {
                let post = mailbox.receive();
                let json = serde_json::to_string(&post).unwrap_or_default();
                if ws.send_text(&json).is_err() {
                    return; // the client has gone
                }
            }
            _ => match ws.receive() {
                Ok(Message::Text(text)) => {
                    let post = serde_json::from_str::<Post>(&text)
                        .map_err(|e| e.to_string())
                        .and_then(clean);
                    match post {
                        Ok(post) => {
                            // The room sends it back to this process too, as to everyone.
                            let _ = room.request(|r| ToRoom::Post(post, r));
                        }
                        Err(why) => {
                            let _ =
                                ws.send_text(&format!("{{\"from\":\"server\",\"text\":{why:?}}}"));
                        }
                    }
                }
                Ok(Message::Binary(_)) => {}
                Ok(Message::Close(_)) | Err(_) => return,
            },
        }
    }
}

/// The feed as server-sent events, until the client goes.
fn events(room: Process<ToRoom>, request: &Request) -> Response {
    let mut out = match request.respond_streaming(
        Response::new(200)
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache"),
    ) {
        Ok(out) => out,
        Err(e) => return Response::text(500, format!("{e}\n")),
    };
    room.send(&ToRoom::Subscribe(Process::this()));
    let mailbox: Mailbox<Post> = Mailbox::this();
    loop {
        let post = mailbox.receive();
        let json = serde_json::to_string(&post).unwrap_or_default();
        if out.event(Some("post"), &json).is_err() {
            return Response::new(200); // the client has gone; answered already: ignored
        }
    }
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    // `web ADDR tls`: HTTPS (and HTTP/2) with the certificate warren was given
    // (`warren run --tls-cert FILE --tls-key FILE web.wasm ADDR tls`).
    let tls = std::env::args().nth(2).as_deref() == Some("tls");
    let room = spawn((), room).expect("start the room");
    let mut server = Server::bind(&addr).expect("bind");
    if tls {
        server = server.tls();
    }
    let addr = server.local_addr().expect("address");
    println!("web: listening on {addr}");
    log::info!(target: "web", "listening on {addr} (tls: {tls})");
    server.serve_with(room, route).expect("serve");
}
