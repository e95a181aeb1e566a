// A capture whose type is not Serialize + DeserializeOwned cannot cross into a process.
// expect: the trait bound `Handle: serde::Serialize` is not satisfied
use warren::{Mailbox, spawn};

struct Handle {
    fd: i32,
}

fn main() {
    let handle = Handle { fd: 3 };
    let _ = spawn!(handle; |_mb: Mailbox<()>| {
        let _ = handle.fd;
    });
}
