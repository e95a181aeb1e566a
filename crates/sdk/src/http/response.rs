//! [`Response`]: a status, headers and a body; [`IntoResponse`]: what a handler returns.

use crate::fs::File;
use crate::stream::ByteStream;
use std::fmt::Display;
use std::io;

/// A response body.
#[derive(Debug)]
pub(super) enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// Sent by the host from this stream (a splice: the bytes never enter the process).
    Stream(ByteStream),
}

/// An HTTP response, built and then returned from a handler (or given to
/// [`Request::respond`](super::Request::respond)).
///
/// ```no_run
/// use warren::http::Response;
/// let r = Response::new(201).header("location", "/items/7").body("created\n");
/// # let _ = r;
/// ```
#[derive(Debug)]
pub struct Response {
    pub(super) status: u16,
    headers: Vec<(String, String)>,
    pub(super) body: Body,
}

impl Response {
    /// A response with `status` and no body yet.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// `status` with a plain-text body.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(text.into())
    }

    /// `status` with an HTML body.
    pub fn html(status: u16, html: impl Into<String>) -> Response {
        Response::new(status)
            .header("content-type", "text/html; charset=utf-8")
            .body(html.into())
    }

    /// `status` with `value` as a JSON body.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(bytes) => Response::new(status)
                .header("content-type", "application/json")
                .body(bytes),
            Err(e) => Response::text(500, format!("cannot encode the response as JSON: {e}")),
        }
    }

    /// 404 with a short text.
    pub fn not_found() -> Response {
        Response::text(404, "not found\n")
    }

    /// Add a header (a name may repeat).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body: these bytes.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Response {
        self.body = Body::Bytes(bytes.into());
        self
    }

    /// The body: what `stream` yields, sent by the host (chunked, unless a
    /// `content-length` header says how long it is).
    pub fn stream(mut self, stream: ByteStream) -> Response {
        self.body = Body::Stream(stream);
        self
    }

    /// The body: the whole file, sent by the host from the file itself (the bytes never
    /// pass through this process), with its length as `content-length`.
    pub fn file(self, file: &File) -> io::Result<Response> {
        let len = file.metadata()?.len();
        let (stream, _end) = file.read_via_stream(0)?;
        Ok(self
            .header("content-length", len.to_string())
            .stream(stream))
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers as the host takes them: `name: value` lines.
    pub(super) fn head_text(&self) -> String {
        let mut text = String::new();
        for (n, v) in &self.headers {
            text.push_str(n);
            text.push_str(": ");
            text.push_str(v);
            text.push('\n');
        }
        text
    }
}

/// What a handler may return.
pub trait IntoResponse {
    /// The response to answer with; `None`: the handler answered itself (else the host
    /// answers 500).
    fn into_response(self) -> Option<Response>;
}

impl IntoResponse for Response {
    fn into_response(self) -> Option<Response> {
        Some(self)
    }
}

/// The handler answered itself ([`Request::respond`](super::Request::respond), a stream,
/// a WebSocket).
impl IntoResponse for () {
    fn into_response(self) -> Option<Response> {
        None
    }
}

/// An error is answered 500 with its text.
impl<T: IntoResponse, E: Display> IntoResponse for Result<T, E> {
    fn into_response(self) -> Option<Response> {
        match self {
            Ok(r) => r.into_response(),
            Err(e) => Some(Response::text(500, format!("{e}\n"))),
        }
    }
}
