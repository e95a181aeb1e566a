//! Flow control: a process spawned with a bounded mailbox makes a faster sender feel it —
//! wait for room, fail, or have messages dropped, as its bound says — while what must not
//! wait (replies, DOWNs, timers' messages, exit signals) goes beyond the bound.

use crate::WAIT;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use warren::bound::{MailboxBound, WhenFull};
use warren::{ExitReason, Mailbox, Monitor, Process, Reply, RequestError, SendError, SpawnOptions};

/// What a held consumer says to the test's process.
#[derive(Serialize, Deserialize)]
enum Ctl {
    /// Waiting to be let go (answer the reply).
    Ready(Reply<()>),
    /// Let go, it drained its mailbox: the numbers it found, in order.
    Got(Vec<u32>),
}

/// A consumer with a bounded mailbox that receives nothing until the test answers its
/// `Ready` (a reply: never held back by the bound), then drains its mailbox and reports.
struct Held {
    consumer: Process<u32>,
    down: Monitor,
    go: Reply<()>,
}

fn held(bound: MailboxBound) -> Held {
    let me: Process<Ctl> = Process::this();
    let (consumer, down) = SpawnOptions::new()
        .mailbox(bound)
        .spawn_monitor(me, |me: Process<Ctl>, mailbox: Mailbox<u32>| {
            me.request(Ctl::Ready).expect("let go");
            let got: Vec<u32> =
                std::iter::from_fn(|| mailbox.receive_timeout(Duration::ZERO)).collect();
            me.send(&Ctl::Got(got));
        })
        .expect("spawn the consumer");
    let go = match Mailbox::<Ctl>::this().receive_timeout(WAIT) {
        Some(Ctl::Ready(go)) => go,
        _ => panic!("the consumer did not say it was ready"),
    };
    Held { consumer, down, go }
}

impl Held {
    /// Let it go; what it found in its mailbox.
    fn release(self) -> Vec<u32> {
        assert!(self.go.send(&()));
        let got = match Mailbox::<Ctl>::this().receive_timeout(WAIT) {
            Some(Ctl::Got(got)) => got,
            _ => panic!("the consumer did not report"),
        };
        assert_eq!(self.down.wait_timeout(WAIT), Some(ExitReason::Normal));
        got
    }
}

pub(crate) fn a_blocked_sender_waits_for_room_and_every_message_arrives_in_order() {
    const N: u32 = 3000;
    let me: Process<Ctl> = Process::this();
    // A consumer 100x slower than its producer, with room for 10 messages.
    let (consumer, down) = SpawnOptions::new()
        .mailbox(MailboxBound::messages(10))
        .spawn_monitor(me, |me: Process<Ctl>, mailbox: Mailbox<u32>| {
            let mut most = 0;
            for expected in 0..N {
                most = most.max(mailbox.len());
                assert_eq!(mailbox.receive(), expected);
                if expected % 100 == 0 {
                    warren::sleep(Duration::from_millis(1));
                }
            }
            me.send(&Ctl::Got(vec![most as u32]));
        })
        .expect("spawn the consumer");
    let start = Instant::now();
    for i in 0..N {
        assert!(consumer.send(&i), "send {i}");
    }
    let sent_in = start.elapsed();
    match Mailbox::<Ctl>::this().receive_timeout(WAIT) {
        Some(Ctl::Got(most)) => assert!(most[0] <= 10, "{} queued at once", most[0]),
        _ => panic!("the consumer did not finish"),
    }
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Normal));
    // The producer kept the consumer's pace: it waited for room 30 times at least.
    assert!(sent_in >= Duration::from_millis(20), "sent in {sent_in:?}");
}

pub(crate) fn a_full_mailbox_that_fails_sends_hands_the_message_back() {
    let h = held(MailboxBound::messages(5).when_full(WhenFull::Fail));
    for i in 0..5 {
        assert_eq!(h.consumer.try_send(&i).ok(), Some(true), "send {i}");
    }
    assert!(matches!(h.consumer.try_send(&5), Err(SendError::Full)));
    assert!(!h.consumer.send(&6), "a plain send to the full mailbox");
    assert_eq!(h.release(), [0, 1, 2, 3, 4]);
}

pub(crate) fn drop_oldest_keeps_the_newest_messages() {
    let h = held(MailboxBound::messages(5).when_full(WhenFull::DropOldest));
    for i in 0..100 {
        assert!(h.consumer.send(&i), "send {i}");
    }
    assert_eq!(h.release(), [95, 96, 97, 98, 99]);
}

pub(crate) fn drop_newest_keeps_the_oldest_messages() {
    let h = held(MailboxBound::messages(5).when_full(WhenFull::DropNewest));
    for i in 0..100 {
        assert!(h.consumer.send(&i), "send {i}");
    }
    assert_eq!(h.release(), [0, 1, 2, 3, 4]);
}

pub(crate) fn a_full_mailbox_whose_policy_is_to_end_ends_its_process() {
    let h = held(MailboxBound::messages(3).when_full(WhenFull::End));
    for i in 0..4 {
        h.consumer.send(&i);
    }
    match h.down.wait_timeout(WAIT) {
        Some(ExitReason::Limit(why)) => assert!(
            why.starts_with("mailbox: its bound (3 messages) is reached"),
            "{why}"
        ),
        other => panic!("expected limit: mailbox, got {other:?}"),
    }
}

pub(crate) fn send_timeout_gives_up_on_a_mailbox_that_stays_full() {
    let h = held(MailboxBound::messages(1));
    assert_eq!(h.consumer.try_send(&0).ok(), Some(true));
    let start = Instant::now();
    assert!(matches!(
        h.consumer.send_timeout(&1, Duration::from_millis(50)),
        Err(SendError::TimedOut)
    ));
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(h.release(), [0], "the timed-out message was not sent");
}

/// A request is an ordinary message: to a full mailbox it fails at once (policy fail) or
/// waits for room within its timeout (policy block); either way it is not sent.
pub(crate) fn a_request_to_a_full_mailbox_fails_or_times_out_unsent() {
    #[derive(Serialize, Deserialize)]
    struct Ask(Reply<u32>);
    for (when_full, expected) in [
        (WhenFull::Fail, RequestError::Full),
        (WhenFull::Block, RequestError::Timeout),
    ] {
        let h = held(MailboxBound::messages(1).when_full(when_full));
        assert_eq!(h.consumer.try_send(&0).ok(), Some(true));
        // Typed as another message: had it been sent, the consumer would end on it.
        let asked = Process::<Ask>::from_pid(h.consumer.pid());
        assert_eq!(
            asked.request_timeout(Ask, Duration::from_millis(50)),
            Err(expected)
        );
        assert_eq!(h.release(), [0], "the request was not sent");
    }
}

pub(crate) fn a_sender_blocked_on_a_full_mailbox_can_be_killed() {
    let h = held(MailboxBound::messages(1));
    let consumer = h.consumer;
    let (sender, sending) = warren::spawn_monitor!(consumer; |_m: Mailbox<()>| {
        for i in 0..2 {
            consumer.send(&i);
        }
        panic!("the second send returned while the mailbox was full");
    })
    .expect("spawn the sender");
    warren::sleep(Duration::from_millis(50));
    assert!(sender.kill());
    assert_eq!(sending.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert_eq!(h.release(), [0]);
}

pub(crate) fn a_blocked_send_ends_when_the_receiver_dies() {
    let h = held(MailboxBound::messages(1));
    let consumer = h.consumer;
    let me: Process<Ctl> = Process::this();
    let (_sender, sending) = warren::spawn_monitor!(consumer, me; |_m: Mailbox<()>| {
        assert!(consumer.send(&0));
        // Blocks: the mailbox is full, until the consumer is killed.
        let delivered = consumer.send(&1);
        me.send(&Ctl::Got(vec![delivered as u32]));
    })
    .expect("spawn the sender");
    warren::sleep(Duration::from_millis(50));
    assert!(consumer.kill());
    match Mailbox::<Ctl>::this().receive_timeout(WAIT) {
        Some(Ctl::Got(d)) => assert_eq!(d, [0], "the blocked send returned false"),
        _ => panic!("the blocked send did not return"),
    }
    assert_eq!(sending.wait_timeout(WAIT), Some(ExitReason::Normal));
    assert_eq!(h.down.wait_timeout(WAIT), Some(ExitReason::Killed));
}

pub(crate) fn what_must_not_wait_goes_beyond_the_bound() {
    // A full mailbox that fails sends still gets a timer's message, a DOWN, an exit signal
    // and a reply.
    let me: Process<Ctl> = Process::this();
    let (_consumer, down) = SpawnOptions::new()
        .mailbox(MailboxBound::messages(1).when_full(WhenFull::Fail))
        .spawn_monitor(me, |me: Process<Ctl>, mailbox: Mailbox<u32>| {
            warren::trap_exit(true);
            let this: Process<u32> = Process::this();
            assert_eq!(this.try_send(&1).ok(), Some(true));
            assert!(matches!(this.try_send(&2), Err(SendError::Full)));
            let _timer = this.send_after(&3, Duration::from_millis(1));
            let (_p, gone) = warren::spawn_monitor!(|_m: Mailbox<()>| {}).expect("spawn");
            assert_eq!(
                gone.wait_timeout(WAIT),
                Some(ExitReason::Normal),
                "the DOWN"
            );
            let linked = warren::spawn_link!(|_m: Mailbox<()>| {}).expect("spawn");
            me.request(Ctl::Ready).expect("the reply");
            let mut got = Vec::new();
            let mut exits = 0;
            while got.len() < 2 || exits < 1 {
                match mailbox.receive_signal_timeout(WAIT) {
                    Some(warren::Signal::Message(n)) => got.push(n),
                    Some(warren::Signal::Exit { from, .. }) if from == linked.pid() => exits += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(got, [1, 3], "the ordinary message, then the timer's");
        })
        .expect("spawn");
    match Mailbox::<Ctl>::this().receive_timeout(WAIT) {
        Some(Ctl::Ready(go)) => assert!(go.send(&())),
        _ => panic!("the consumer did not ask"),
    }
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Normal));
}

pub(crate) fn a_process_bounds_only_itself_and_its_children() {
    let itself: Process<()> = Process::this();
    let child = warren::spawn!(|m: Mailbox<()>| m.receive()).expect("spawn");
    assert_eq!(
        itself.set_bound(Some(MailboxBound::messages(1))).ok(),
        Some(())
    );
    assert!(
        child.set_bound(Some(MailboxBound::messages(1))).is_ok(),
        "a child"
    );
    // Not its parent's: a child cannot bound the process that spawned it.
    let me = warren::this();
    let (_c, d) = warren::spawn_monitor!(me; |_m: Mailbox<()>| {
        let e = Process::<()>::from_pid(me)
            .set_bound(Some(MailboxBound::messages(1)))
            .expect_err("the parent's mailbox");
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    })
    .expect("spawn");
    assert_eq!(d.wait_timeout(WAIT), Some(ExitReason::Normal));
    Mailbox::<()>::this().set_bound(None);
    child.kill();
}

pub(crate) fn select_waits_for_room_in_any_of_several_mailboxes() {
    use warren::select::{Source, select};
    let a = held(MailboxBound::messages(1));
    let b = held(MailboxBound::messages(1));
    let room = |h: &Held| Source::Room(h.consumer.pid(), 4);
    assert!(a.consumer.send(&1));
    assert_eq!(
        select(&[room(&a), room(&b)], Some(WAIT)),
        Some(1),
        "b has room"
    );
    assert!(b.consumer.send(&2));
    assert_eq!(
        select(&[room(&a), room(&b)], Some(Duration::from_millis(50))),
        None,
        "both are full"
    );
    // Let `a` go from another process: its mailbox drains, and the select wakes for it.
    let go = a.go;
    warren::spawn!(go; |_m: Mailbox<()>| {
        warren::sleep(Duration::from_millis(20));
        go.send(&());
    })
    .expect("spawn");
    assert_eq!(
        select(&[Source::Room(a.consumer.pid(), 4), room(&b)], Some(WAIT)),
        Some(0)
    );
    match Mailbox::<Ctl>::this().receive_timeout(WAIT) {
        Some(Ctl::Got(got)) => assert_eq!(got, [1]),
        _ => panic!("a did not report"),
    }
    assert_eq!(a.down.wait_timeout(WAIT), Some(ExitReason::Normal));
    assert_eq!(b.release(), [2]);
}
