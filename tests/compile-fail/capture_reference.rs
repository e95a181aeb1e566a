// A borrowed capture would point into the parent's memory: it must not compile.
// expect: DeserializeOwned
use warren::{Mailbox, spawn};

fn main() {
    let data = vec![1u8, 2, 3];
    let view = &data;
    let _ = spawn!(view; |_mb: Mailbox<()>| {
        let _ = view.len();
    });
}
