//! Messages and captures: what a process is given at spawn and what it is sent arrives
//! intact, typed and in order; a receive can time out; a request picks its reply out of the
//! mailbox and leaves the rest queued.

use crate::WAIT;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use warren::{ExitReason, Mailbox, Process, Reply, RequestError};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Config {
    name: String,
    weights: Vec<f64>,
    tags: BTreeMap<String, Option<u32>>,
    nested: (u8, Vec<(i64, String)>, bool),
}

pub(crate) fn captures_of_many_shapes_arrive_intact() {
    let config = Config {
        name: "ünïcødé name".into(),
        weights: vec![0.5, -1.25, f64::MAX],
        tags: [("a".to_string(), Some(1)), ("b".to_string(), None)]
            .into_iter()
            .collect(),
        nested: (255, vec![(-9, "x".into()), (i64::MIN, String::new())], true),
    };
    let big: Vec<u32> = (0..50_000).collect();
    let me: Process<(Config, u64, usize)> = Process::this();
    let mailbox: Mailbox<(Config, u64, usize)> = Mailbox::this();
    let sent = config.clone();
    warren::spawn!(sent, big, me; |_m: Mailbox<()>| {
        let sum: u64 = big.iter().map(|&x| x as u64).sum();
        me.send(&(sent, sum, big.len()));
    })
    .expect("spawn");
    let (back, sum, len) = mailbox.receive_timeout(WAIT).expect("the child reports");
    assert_eq!(back, config);
    assert_eq!((sum, len), (1_249_975_000, 50_000));
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Msg {
    Text(String),
    Number(i64),
    Bytes(Vec<u8>),
}

pub(crate) fn typed_messages_arrive_in_order_and_a_child_needs_no_captures() {
    let me: Process<Msg> = Process::this();
    let mailbox: Mailbox<Msg> = Mailbox::this();
    let echo = warren::spawn!(me; |mb: Mailbox<Msg>| {
        for _ in 0..3 {
            me.send(&mb.receive());
        }
    })
    .expect("spawn");
    let sent = [
        Msg::Text("hello".into()),
        Msg::Number(-42),
        Msg::Bytes(vec![1, 2, 3]),
    ];
    for m in &sent {
        assert!(echo.send(m));
    }
    for m in sent {
        assert_eq!(mailbox.receive_timeout(WAIT), Some(m));
    }
    let (p, down) = warren::spawn_monitor!(|_mb: Mailbox<()>| {}).expect("spawn");
    assert!(p.pid() > 0);
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Normal));
}

pub(crate) fn a_receive_times_out_on_an_empty_mailbox_then_gets_a_later_message() {
    let mailbox: Mailbox<u32> = Mailbox::this();
    assert_eq!(mailbox.receive_timeout(Duration::from_millis(30)), None);
    let me: Process<u32> = Process::this();
    warren::spawn!(me; |_m: Mailbox<()>| {
        std::thread::sleep(Duration::from_millis(20));
        me.send(&5);
    })
    .expect("spawn");
    assert_eq!(mailbox.receive_timeout(WAIT), Some(5));
}

#[derive(Serialize, Deserialize)]
enum Server {
    /// Send two ordinary messages to `noise`, then answer `reply`.
    NoisyDouble(i64, Process<String>, Reply<i64>),
    Ignore(Reply<i64>),
}

pub(crate) fn a_request_picks_its_reply_and_leaves_other_messages_in_order() {
    let server = warren::spawn!(|mb: Mailbox<Server>| loop {
        match mb.receive() {
            Server::NoisyDouble(x, noise, reply) => {
                noise.send(&"first".to_string());
                noise.send(&"second".to_string());
                reply.send(&(x * 2));
            }
            Server::Ignore(_) => {}
        }
    })
    .expect("spawn");
    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    assert_eq!(server.request(|r| Server::NoisyDouble(21, me, r)), Ok(42));
    assert_eq!(mailbox.receive_timeout(WAIT).as_deref(), Some("first"));
    assert_eq!(mailbox.receive_timeout(WAIT).as_deref(), Some("second"));
    assert_eq!(
        server.request_timeout(Server::Ignore, Duration::from_millis(30)),
        Err(RequestError::Timeout)
    );
    assert!(server.kill());
    assert!(matches!(
        server.request(Server::Ignore),
        Err(RequestError::Exited(_))
    ));
    assert_eq!(mailbox.receive_timeout(Duration::from_millis(10)), None);
}

pub(crate) fn a_message_larger_than_the_receive_buffer_arrives_intact() {
    let me: Process<Vec<u8>> = Process::this();
    let mailbox: Mailbox<Vec<u8>> = Mailbox::this();
    warren::spawn!(me; |_m: Mailbox<()>| {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        me.send(&data);
    })
    .expect("spawn");
    let data = mailbox.receive_timeout(WAIT).expect("the child sends");
    assert_eq!(data.len(), 3_000_000);
    assert!(data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

static mut COUNTER: u32 = 0;

pub(crate) fn statics_are_per_process() {
    // SAFETY: a wasm32-wasip1 process is single-threaded.
    unsafe { COUNTER = 41 };
    let me: Process<u32> = Process::this();
    let mailbox: Mailbox<u32> = Mailbox::this();
    warren::spawn!(me; |_m: Mailbox<()>| {
        // SAFETY: as above.
        me.send(&unsafe { COUNTER });
    })
    .expect("spawn");
    assert_eq!(mailbox.receive_timeout(WAIT), Some(0), "the child's copy");
    // SAFETY: as above.
    assert_eq!(unsafe { COUNTER }, 41, "the parent's copy");
}
