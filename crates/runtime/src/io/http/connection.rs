//! [`HttpConnection`]: one connection's requests, in order, for the process serving it.

use super::Exchange;
use crate::sync::Locked;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The requests of one connection, taken in order by its process (`warren:http.next`).
/// hyper hands them over one at a time (HTTP/1.1 answers in order, pipelined or not), so
/// the queue holds at most one. When the process drops this, the connection's next request
/// is answered 500 and the connection closes.
pub(crate) struct HttpConnection {
    requests: Mutex<mpsc::Receiver<Arc<Exchange>>>,
    peer: SocketAddr,
}

impl HttpConnection {
    /// A connection from `peer`, and the sender its requests come through.
    pub(super) fn new(peer: SocketAddr) -> (mpsc::Sender<Arc<Exchange>>, HttpConnection) {
        let (tx, rx) = mpsc::channel(1);
        (
            tx,
            HttpConnection {
                requests: Mutex::new(rx),
                peer,
            },
        )
    }

    /// The next request, or `None` once the client closed the connection.
    pub(crate) async fn next(&self) -> Option<Arc<Exchange>> {
        // One process takes from it at a time (the one holding the handle is suspended in
        // this call); the lock is held only inside each poll.
        std::future::poll_fn(|cx| self.requests.locked().poll_recv(cx)).await
    }

    /// The client's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }
}
