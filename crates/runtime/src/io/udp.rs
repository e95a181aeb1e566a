//! UDP sockets.

use std::io;
use std::net::SocketAddr;
use tokio::net::UdpSocket;

#[derive(Debug)]
pub struct UdpObj {
    pub socket: UdpSocket,
    local: SocketAddr,
}

impl UdpObj {
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let local = socket.local_addr()?;
        Ok(UdpObj { socket, local })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}
