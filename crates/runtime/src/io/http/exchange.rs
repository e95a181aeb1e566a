//! [`Exchange`]: one request and the way to answer it.

use super::HttpLimits;
use super::body::{self, RequestBody};
use super::websocket::WebSocket;
use crate::io::{IoFailure, ReadSource};
use crate::sync::Locked;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use warren_abi::{ERR_BAD_ARGUMENT, ERR_CLOSED};

/// What hyper sends as a response body.
pub(crate) type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// The one answer a request gets, whoever gives it: the process, the body reader (413), or
/// nobody (the sender dropped: the server answers 500).
pub(crate) struct Reply {
    tx: Mutex<Option<oneshot::Sender<Response<ResponseBody>>>>,
}

impl Reply {
    pub(super) fn new() -> (Arc<Reply>, oneshot::Receiver<Response<ResponseBody>>) {
        let (tx, rx) = oneshot::channel();
        (
            Arc::new(Reply {
                tx: Mutex::new(Some(tx)),
            }),
            rx,
        )
    }

    /// Answer, if nobody has yet: false if somebody had (or the request is gone).
    fn send(&self, response: Response<ResponseBody>) -> Result<(), &'static str> {
        let tx = self.tx.locked().take();
        match tx {
            None => Err("the request was answered already"),
            Some(tx) => tx.send(response).map_err(|_| {
                "the request is gone (its client went away, or it timed out and was answered 504)"
            }),
        }
    }

    /// Answer with a short text and close the connection, if nobody answered yet.
    pub(super) fn refuse(&self, status: u16, why: &str) {
        let _ = self.send(plain(status, why, true));
    }
}

/// A plain-text response; `close`: the connection closes after it.
pub(super) fn plain(status: u16, text: &str, close: bool) -> Response<ResponseBody> {
    let mut r = Response::new(body::full(format!("{text}\n")));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// One request: its head (as `warren:http.request_head` gives it), its body (taken once),
/// and its answer.
pub(crate) struct Exchange {
    head: String,
    headers: http::HeaderMap,
    method: http::Method,
    body: Mutex<Option<RequestBody>>,
    upgrade: Mutex<Option<hyper::upgrade::OnUpgrade>>,
    reply: Arc<Reply>,
    limits: HttpLimits,
    peer: SocketAddr,
    /// The connection's slot among the server's, for the WebSocket it may become.
    slot: Arc<tokio::sync::OwnedSemaphorePermit>,
}

impl Exchange {
    pub(super) fn new(
        mut request: http::Request<Incoming>,
        (peer, peer_text): (SocketAddr, &str),
        reply: Arc<Reply>,
        limits: HttpLimits,
        slot: Arc<tokio::sync::OwnedSemaphorePermit>,
    ) -> Exchange {
        let upgrade = request
            .headers()
            .contains_key(header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut request));
        let (parts, incoming) = request.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        // Built by hand: this runs for every request, and `format!` costs more than the rest.
        let mut head = String::with_capacity(64 + target.len() + 32 * parts.headers.len());
        head.push_str(parts.method.as_str());
        head.push(' ');
        head.push_str(target);
        head.push(' ');
        head.push_str(match parts.version {
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_09 => "HTTP/0.9",
            _ => "HTTP/1.1",
        });
        head.push('\n');
        head.push_str(peer_text);
        head.push('\n');
        for (name, value) in &parts.headers {
            head.push_str(name.as_str());
            head.push_str(": ");
            match std::str::from_utf8(value.as_bytes()) {
                Ok(v) => head.push_str(v),
                Err(_) => head.push_str(&String::from_utf8_lossy(value.as_bytes())),
            }
            head.push('\n');
        }
        Exchange {
            head,
            body: Mutex::new(Some(RequestBody::new(
                incoming,
                limits.max_body_bytes,
                reply.clone(),
            ))),
            headers: parts.headers,
            method: parts.method,
            upgrade: Mutex::new(upgrade),
            reply,
            limits,
            peer,
            slot,
        }
    }

    /// The head as text: `METHOD TARGET VERSION`, the peer's address, then one
    /// `name: value` line per header (see docs/abi.md).
    pub(crate) fn head(&self) -> &str {
        &self.head
    }

    /// "GET /path from 127.0.0.1:5000", for messages.
    pub(crate) fn what(&self) -> String {
        let first = self.head.lines().next().unwrap_or_default();
        let request = first.rsplit_once(' ').map_or(first, |(r, _)| r);
        format!("{request} from {}", self.peer)
    }

    /// The body, once.
    pub(crate) fn take_body(&self) -> Result<RequestBody, IoFailure> {
        self.body.locked().take().ok_or_else(|| {
            IoFailure::new(
                ERR_BAD_ARGUMENT,
                format!("the body of {} was taken already", self.what()),
            )
        })
    }

    /// Answer with `status`, the headers in `headers` (`name: value` lines) and `body`.
    pub(crate) fn respond(
        &self,
        status: u32,
        headers: &str,
        body: ResponseBody,
    ) -> Result<(), IoFailure> {
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| !s.is_informational())
            .ok_or_else(|| {
                IoFailure::new(
                    ERR_BAD_ARGUMENT,
                    format!("{status} is not a final HTTP status (200..=999; 1xx are the host's)"),
                )
            })?;
        let mut response = Response::new(body);
        *response.status_mut() = status;
        parse_headers(headers, response.headers_mut())?;
        self.send(response)
    }

    fn send(&self, response: Response<ResponseBody>) -> Result<(), IoFailure> {
        self.reply
            .send(response)
            .map_err(|why| IoFailure::new(ERR_CLOSED, format!("answering {}: {why}", self.what())))
    }

    /// Answer a WebSocket handshake (101, with `headers` added) and return the socket,
    /// which opens once hyper hands over the connection. What the socket holds inbound is
    /// charged to `owner` (the process upgrading).
    pub(crate) fn upgrade(
        &self,
        headers: &str,
        owner: &Arc<super::WsBudget>,
    ) -> Result<WebSocket, IoFailure> {
        let bad = |why: &str| {
            IoFailure::new(
                ERR_BAD_ARGUMENT,
                format!("{} is not a WebSocket handshake: {why}", self.what()),
            )
        };
        let has_token = |name: HeaderName, token: &str| {
            self.headers.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        if self.method != http::Method::GET {
            return Err(bad("the method is not GET"));
        }
        if !has_token(header::UPGRADE, "websocket") {
            return Err(bad("no `upgrade: websocket` header"));
        }
        if !has_token(header::CONNECTION, "upgrade") {
            return Err(bad("no `connection: upgrade` header"));
        }
        if self
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(bad("sec-websocket-version is not 13"));
        }
        let Some(key) = self.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(bad("no sec-websocket-key header"));
        };
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut response = Response::new(body::full(Bytes::new()));
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        parse_headers(headers, response.headers_mut())?;
        let h = response.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&accept).map_err(|e| bad(&e.to_string()))?,
        );
        let Some(on_upgrade) = self.upgrade.locked().take() else {
            return Err(bad("it was upgraded already"));
        };
        self.send(response)?;
        Ok(WebSocket::open(
            on_upgrade,
            self.limits,
            self.what(),
            self.slot.clone(),
            owner,
        ))
    }
}

/// A response body from a readable (the host sends it: a splice).
pub(crate) fn stream_body(source: Arc<dyn ReadSource>) -> ResponseBody {
    body::from_source(source)
}

/// A response body of `bytes`.
pub(crate) fn bytes_body(bytes: Vec<u8>) -> ResponseBody {
    body::full(bytes)
}

/// Parse `name: value` lines (`\n` or `\r\n` ends; empty lines are skipped) into `into`.
fn parse_headers(text: &str, into: &mut http::HeaderMap) -> Result<(), IoFailure> {
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| IoFailure::new(ERR_BAD_ARGUMENT, format!("header {line:?}: {why}"));
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("expected `name: value`".into()))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| bad(format!("bad name: {e}")))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|e| bad(format!("bad value: {e}")))?;
        into.append(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_refuse_what_http_forbids() {
        let mut h = http::HeaderMap::new();
        parse_headers("content-type: text/plain\r\nx-a:  1 \n\nx-a: 2", &mut h).unwrap();
        assert_eq!(h["content-type"], "text/plain");
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        for bad in ["no colon", "bad name: x", "x: \u{7}bell"] {
            let e = parse_headers(bad, &mut http::HeaderMap::new()).unwrap_err();
            assert_eq!(e.code, ERR_BAD_ARGUMENT, "{bad}: {}", e.message);
        }
    }
}
