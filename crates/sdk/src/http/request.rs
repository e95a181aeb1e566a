//! [`Request`]: what a handler is given, and the ways to answer it.

use super::response::{Body, IntoResponse, Response};
use super::websocket::WebSocket;
use crate::abi;
use crate::handle::{Handle, check, resource_type};
use crate::stream::{ByteStream, pair};
use std::cell::Cell;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;
use warren_abi::query::percent_decode as decode;

/// One HTTP request. Answer it once: return a [`Response`] from the handler, or call
/// [`respond`](Request::respond), [`respond_streaming`](Request::respond_streaming) or
/// [`upgrade`](Request::upgrade). A request its process drops unanswered (it crashed, or
/// returned `()` without answering) is answered 500 by the host.
#[derive(Debug)]
pub struct Request {
    /// Shared with the entry that runs the handler, which answers with what it returns
    /// after the handler dropped its `Request`.
    handle: Rc<Handle>,
    /// The head as the host gave it; the fields below are ranges of it (parsed once,
    /// without an allocation per header).
    head: String,
    method: Range<usize>,
    target: Range<usize>,
    version: Range<usize>,
    peer: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>)>,
    answered: Rc<Cell<bool>>,
}

impl Request {
    /// Read the head of the request behind `handle`.
    pub(super) fn from_handle(handle: Handle) -> Request {
        let head = crate::handle::text_sized(1024, |ptr, cap| {
            // SAFETY: `ptr` is a live buffer of `cap` bytes, written during the call only.
            unsafe { abi::request_head(handle.raw(), ptr, cap) }
        })
        .unwrap_or_else(|e| panic!("warren::http: cannot read the request head: {e}"));
        let base = head.as_ptr() as usize;
        let range = |part: &str| {
            let start = part.as_ptr() as usize - base;
            start..start + part.len()
        };
        let mut lines = head.split('\n');
        let first = lines.next().unwrap_or_default();
        let mut words = first.splitn(3, ' ');
        let method = range(words.next().unwrap_or_default());
        let target = range(words.next().unwrap_or_default());
        let version = range(words.next().unwrap_or_default());
        let peer = range(lines.next().unwrap_or_default());
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (range(n), range(v)))
            .collect();
        Request {
            handle: Rc::new(handle),
            method,
            target,
            version,
            peer,
            headers,
            head,
            answered: Rc::new(Cell::new(false)),
        }
    }

    /// Run `handler` on this request and answer with what it returns (unless it answered).
    pub(super) fn serve<R: IntoResponse>(self, handler: impl FnOnce(Request) -> R) {
        let handle = self.handle.clone();
        let answered = self.answered.clone();
        if let Some(response) = handler(self).into_response()
            && !answered.get()
        {
            // A failure here is the client gone, or the request timed out (answered 504).
            let _ = send(&handle, response);
        }
    }

    /// The method: `GET`, `POST`, ...
    pub fn method(&self) -> &str {
        &self.head[self.method.clone()]
    }

    /// The request target as sent: path and query (`/search?q=warren`).
    pub fn target(&self) -> &str {
        match &self.head[self.target.clone()] {
            "" => "/",
            t => t,
        }
    }

    /// The path, without the query (`/search`), as sent (not percent-decoded).
    pub fn path(&self) -> &str {
        self.target().split('?').next().unwrap_or("/")
    }

    /// The query, without the `?` (`q=warren`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// The first value of a query parameter, percent-decoded (`+` is a space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k) == name).then(|| decode(v))
        })
    }

    /// The protocol version (`HTTP/1.1`).
    pub fn version(&self) -> &str {
        &self.head[self.version.clone()]
    }

    /// The client's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.head[self.peer.clone()].parse().ok()
    }

    /// Every header as (name, value), in order, names in lower case.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (&self.head[n.clone()], &self.head[v.clone()]))
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether this is a WebSocket handshake ([`Request::upgrade`] it).
    pub fn is_websocket(&self) -> bool {
        self.header("upgrade").is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
        })
    }

    /// The body, streamed: each read suspends the process until bytes come (the host
    /// sends `100 Continue` if the client waits for it). Can be taken once.
    pub fn body(&self) -> io::Result<ByteStream> {
        // SAFETY: `out` is a live buffer of two u32, written during the call.
        let (stream, _end) = pair(|out| unsafe { abi::request_body(self.handle.raw(), out) })?;
        Ok(ByteStream::from_handle(stream))
    }

    /// The whole body (at most the runtime's body limit; over it, an error, and the host
    /// answers 413).
    pub fn body_bytes(&self) -> io::Result<Vec<u8>> {
        // Sized from the declared length (the host has checked it against the limit), so a
        // large body is not grown by doubling (which leaves freed blocks it does not fit
        // into) — but only as far as bytes really came: a client that declares 64 MiB and
        // sends nothing must not make the handler hold 64 MiB (or end it at its limit).
        const FIRST: usize = 64 << 10;
        let declared = self
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0);
        let mut out = Vec::with_capacity(declared.min(FIRST));
        let mut body = self.body()?;
        (&mut body).take(FIRST as u64).read_to_end(&mut out)?;
        if out.len() == FIRST {
            // As large as it said so far: take room for the rest at once.
            out.reserve_exact(declared.saturating_sub(FIRST));
            body.read_to_end(&mut out)?;
        }
        Ok(out)
    }

    /// The whole body as UTF-8 text.
    pub fn body_text(&self) -> io::Result<String> {
        String::from_utf8(self.body_bytes()?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the body is not UTF-8"))
    }

    /// The body decoded from JSON.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> io::Result<T> {
        serde_json::from_slice(&self.body_bytes()?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("the body: {e}")))
    }

    /// Answer now (the process may go on doing other work afterwards).
    pub fn respond(&self, response: Response) -> io::Result<()> {
        send(&self.handle, response)?;
        self.mark_answered();
        Ok(())
    }

    /// Answer with `head` (its status and headers; its body must be empty) and a body this
    /// process writes, e.g. server-sent events: the client gets each write as it comes.
    /// Without a `content-length` header the body is chunked. The body ends when the
    /// [`BodyWriter`] is dropped or [`finish`](BodyWriter::finish)ed; if the process dies
    /// first, the response is cut off (the client sees an incomplete body, not a short
    /// one).
    pub fn respond_streaming(&self, head: Response) -> io::Result<BodyWriter> {
        if !matches!(head.body, Body::Empty) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "respond_streaming takes a head without a body: the body is what you write",
            ));
        }
        let writer = respond(&self.handle, &head, (abi::HTTP_BODY_WRITER, 0, 0))?;
        let handle = Handle::from_raw(writer as u32);
        self.mark_answered();
        Ok(BodyWriter { handle })
    }

    /// Accept a WebSocket handshake (the host answers `101 Switching Protocols`).
    pub fn upgrade(&self) -> io::Result<WebSocket> {
        self.upgrade_with(&[])
    }

    /// [`Request::upgrade`], with headers of your own on the 101 (a chosen
    /// `sec-websocket-protocol`, cookies).
    pub fn upgrade_with(&self, headers: &[(&str, &str)]) -> io::Result<WebSocket> {
        let text: String = headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
        // SAFETY: pointer and length of `text`, read during the call.
        let r = unsafe { abi::upgrade(self.handle.raw(), text.as_ptr(), text.len() as u32) };
        let handle = Handle::from_result(r)?;
        self.mark_answered();
        Ok(WebSocket::from_handle(handle))
    }

    fn mark_answered(&self) {
        self.answered.set(true);
    }
}

/// The body of a response a process writes ([`Request::respond_streaming`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct BodyWriter {
    handle: Handle,
}
resource_type!(BodyWriter, Writable);

impl BodyWriter {
    /// Write one server-sent event (`event:` if given, then `data:` lines).
    pub fn event(&mut self, event: Option<&str>, data: &str) -> io::Result<()> {
        let mut text = String::new();
        if let Some(e) = event {
            text.push_str("event: ");
            text.push_str(e);
            text.push('\n');
        }
        for line in data.split('\n') {
            text.push_str("data: ");
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
        io::Write::write_all(self, text.as_bytes())
    }

    /// The body is complete (as dropping it says).
    pub fn finish(self) -> io::Result<()> {
        // SAFETY: plain integer argument.
        check(unsafe { abi::close_writer(self.handle.raw()) } as i64).map(drop)
    }
}

impl io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::stream::write(self.handle.raw(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        // A normal end completes the body. (A crash never gets here: the host then cuts the
        // response off.) After `finish`, or once moved away, this is a harmless error.
        // SAFETY: plain integer argument.
        unsafe { abi::close_writer(self.handle.raw()) };
    }
}

/// Send `response` on the request behind `handle`.
fn send(handle: &Handle, response: Response) -> io::Result<()> {
    let (kind, a, b) = match &response.body {
        Body::Empty => (abi::HTTP_BODY_BYTES, 0, 0),
        Body::Bytes(b) => (abi::HTTP_BODY_BYTES, b.as_ptr() as u32, b.len() as u32),
        Body::Stream(s) => (
            abi::HTTP_BODY_STREAM,
            crate::handle::Resource::raw_handle(s),
            0,
        ),
    };
    respond(handle, &response, (kind, a, b)).map(drop)
}

/// `warren:http.respond` with `response`'s status and head and the body `(kind, a, b)`;
/// the call's result.
fn respond(handle: &Handle, response: &Response, (kind, a, b): (u32, u32, u32)) -> io::Result<u64> {
    let text = response.head_text();
    // SAFETY: pointer and length of `text`, and for bytes those of the response's own body
    // (borrowed by `response` across the call), read during the call only.
    let r = unsafe {
        abi::respond(
            handle.raw(),
            response.status as u32,
            text.as_ptr(),
            text.len() as u32,
            kind,
            a,
            b,
        )
    };
    check(r)
}
