//! UDP sockets.

use std::io;
use std::net::SocketAddr;
use tokio::net::UdpSocket;

#[derive(Debug)]
pub(crate) struct UdpObj {
    pub socket: UdpSocket,
    local: SocketAddr,
}

impl UdpObj {
    pub(crate) async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        Ok(UdpObj { socket, local })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}
