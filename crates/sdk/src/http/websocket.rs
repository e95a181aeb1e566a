//! [`WebSocket`]: messages over an upgraded connection.

use crate::abi;
use crate::handle::{Handle, check, resource_type};
use serde::{Deserialize, Serialize};
use std::io;

/// A WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Text.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// The peer closed: its code and reason, if it gave them. Nothing follows.
    Close(Option<(u16, String)>),
}

/// A WebSocket from [`Request::upgrade`](super::Request::upgrade). Wait for it with
/// [`crate::select::Source::Readable`] beside the mailbox; send it in a message to hand it
/// to another process. Dropping it closes it (code 1000); if its process crashes instead,
/// the host closes it with 1011.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebSocket {
    handle: Handle,
}
resource_type!(WebSocket);

impl WebSocket {
    pub(super) fn from_handle(handle: Handle) -> WebSocket {
        WebSocket { handle }
    }

    fn send_raw(&self, kind: u32, bytes: &[u8]) -> io::Result<()> {
        // SAFETY: pointer and length of `bytes`, read during the call.
        let r =
            unsafe { abi::ws_send(self.handle.raw(), kind, bytes.as_ptr(), bytes.len() as u32) };
        check(r).map(drop)
    }

    /// Send a text message (waits while the host's send queue is full).
    pub fn send_text(&self, text: &str) -> io::Result<()> {
        self.send_raw(abi::WS_TEXT, text.as_bytes())
    }

    /// Send a binary message.
    pub fn send_binary(&self, bytes: &[u8]) -> io::Result<()> {
        self.send_raw(abi::WS_BINARY, bytes)
    }

    /// Send `message` (a `Close` closes).
    pub fn send(&self, message: &Message) -> io::Result<()> {
        match message {
            Message::Text(t) => self.send_text(t),
            Message::Binary(b) => self.send_binary(b),
            Message::Close(c) => {
                let (code, reason) = c.clone().unwrap_or((1000, String::new()));
                self.close_with(code, &reason)
            }
        }
    }

    /// Wait for the next message. After the peer's [`Message::Close`], an error
    /// (`BrokenPipe`).
    pub fn receive(&self) -> io::Result<Message> {
        let mut buf = vec![0u8; 4096];
        loop {
            let mut kind = 0u32;
            // SAFETY: `buf` is live and `cap` bytes long, `kind` a live u32; both written
            // during the call only.
            let n = unsafe {
                abi::ws_receive(
                    self.handle.raw(),
                    buf.as_mut_ptr(),
                    buf.len() as u32,
                    &mut kind,
                )
            };
            let n = check(n)? as usize;
            if n > buf.len() {
                buf.resize(n, 0);
                continue;
            }
            buf.truncate(n);
            return Ok(match kind {
                abi::WS_TEXT => Message::Text(String::from_utf8(buf).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text message that is not UTF-8",
                    )
                })?),
                abi::WS_BINARY => Message::Binary(buf),
                abi::WS_CLOSE => Message::Close((buf.len() >= 2).then(|| {
                    (
                        u16::from_be_bytes([buf[0], buf[1]]),
                        String::from_utf8_lossy(&buf[2..]).into_owned(),
                    )
                })),
                other => {
                    return Err(io::Error::other(format!(
                        "unknown WebSocket message kind {other}"
                    )));
                }
            });
        }
    }

    /// Close with `code` (1000: normal) and a reason of at most 123 bytes.
    pub fn close_with(&self, code: u16, reason: &str) -> io::Result<()> {
        // SAFETY: pointer and length of `reason`, read during the call.
        let r = unsafe {
            abi::ws_close(
                self.handle.raw(),
                code as u32,
                reason.as_ptr(),
                reason.len() as u32,
            )
        };
        check(r as i64).map(drop)
    }

    /// Close normally (1000).
    pub fn close(self) -> io::Result<()> {
        self.close_with(1000, "")
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        // Closed already, or moved away: a harmless error.
        let _ = self.close_with(1000, "");
    }
}
