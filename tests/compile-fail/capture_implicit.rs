// Using a variable without naming it as a capture would capture it silently: not allowed.
// expect: closures can only be coerced to `fn` types if they do not capture any variables
use warren::{Mailbox, spawn};

fn main() {
    let secret = String::from("not listed");
    let _ = spawn!(|_mb: Mailbox<()>| {
        println!("{secret}");
    });
}
