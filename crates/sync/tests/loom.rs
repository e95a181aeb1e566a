//! loom models of the mailbox queue, the kill switch and the scheduler's pool: every interleaving of the threads
//! below (within loom's bounds) is run, and a lost wake-up shows as a deadlock — the waiting
//! thread parked in `block_on` with nobody left to wake it.
//!
//! `cargo test -p warren-sync --features loom --release --test loom`
//!
//! Interleavings are bounded to 3 preemptions per execution (`LOOM_MAX_PREEMPTIONS` sets
//! another bound): the lost wake-ups these models guard against need one or two (removing
//! the kill switch's second look, or registering a waiter outside the lock that looked,
//! fails them at once), and without a bound the three-thread model runs for many minutes.
#![cfg(feature = "loom")]

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use std::future::poll_fn;
use std::task::Poll;
use warren_sync::kill::KillSwitch;
use warren_sync::mailbox::{Bound, Pushed, Queue, Queued, Refused, WhenFull};
use warren_sync::sched::Pool;

#[derive(Debug, PartialEq)]
struct Msg {
    tag: u64,
    n: u32,
}

impl Queued for Msg {
    fn tag(&self) -> u64 {
        self.tag
    }
    fn cost(&self) -> usize {
        10
    }
}

fn msg(tag: u64, n: u32) -> Msg {
    Msg { tag, n }
}

type Shared = Arc<Queue<Msg>>;

/// A queue without a byte limit, shared between the model's threads.
fn queue() -> Shared {
    Arc::new(Queue::with_limit(usize::MAX))
}

/// A thread pushing `items` to `q` in order; each push must be accepted.
fn pushing(q: &Shared, items: Vec<Msg>) -> thread::JoinHandle<()> {
    let q = q.clone();
    thread::spawn(move || {
        for m in items {
            q.push(m).unwrap();
        }
    })
}

/// Wait (parked, as a task) until `q` holds a message tagged `tag`; take it.
fn take(q: &Shared, tag: u64) -> Msg {
    block_on(poll_fn(|cx| q.poll_take(cx, |t| t == tag)))
}

/// Wait (parked, as a task) until `q` holds a message tagged `tag`, without taking it.
fn ready(q: &Shared, tag: u64) {
    block_on(poll_fn(|cx| q.poll_ready(cx, |t| t == tag)))
}

/// Run `f` under every interleaving loom explores within the preemption bound.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

#[test]
fn a_push_always_wakes_a_waiting_take() {
    model(|| {
        let q = queue();
        let pusher = pushing(&q, vec![msg(0, 1)]);
        assert_eq!(take(&q, 0), msg(0, 1));
        pusher.join().unwrap();
        assert_eq!(q.census(), (0, 0));
    });
}

#[test]
fn a_selective_take_skips_others_and_still_wakes_for_its_tag() {
    model(|| {
        let q = queue();
        let pusher = pushing(&q, vec![msg(0, 1), msg(7, 2)]);
        assert_eq!(take(&q, 7), msg(7, 2));
        pusher.join().unwrap();
        // The ordinary message stayed, in its place.
        assert_eq!(q.try_take_where(|t| t == 0), Some(msg(0, 1)));
    });
}

#[test]
fn two_tasks_waiting_for_different_tags_are_both_woken() {
    // `select` on messages and on signals: two waits on one queue at once.
    model(|| {
        let q = queue();
        let other = {
            let q = q.clone();
            thread::spawn(move || ready(&q, 1))
        };
        let pusher = pushing(&q, vec![msg(1, 1), msg(0, 2)]);
        ready(&q, 0);
        other.join().unwrap();
        pusher.join().unwrap();
        assert_eq!(q.census(), (2, 20));
    });
}

#[test]
fn a_push_racing_a_close_is_queued_and_drained_or_refused_never_kept() {
    model(|| {
        let q = queue();
        let pusher = {
            let q = q.clone();
            thread::spawn(move || q.push(msg(0, 1)))
        };
        q.close();
        let pushed = pusher.join().unwrap();
        assert!(
            matches!(pushed, Ok(()) | Err(Refused::Closed)),
            "{pushed:?}"
        );
        assert_eq!(q.census(), (0, 0), "nothing is kept after the close");
        assert_eq!(q.push(msg(0, 2)), Err(Refused::Closed));
    });
}

#[test]
fn the_byte_limit_holds_under_concurrent_pushes() {
    model(|| {
        // Room for two messages of 10 bytes; three pushers.
        let q = Arc::new(Queue::with_limit(20));
        let pushers: Vec<_> = (0..2)
            .map(|i| {
                let q = q.clone();
                thread::spawn(move || q.push(msg(0, i)).is_ok())
            })
            .collect();
        let mine = q.push(msg(0, 9)).is_ok();
        let accepted = pushers
            .into_iter()
            .map(|p| p.join().unwrap())
            .filter(|ok| *ok)
            .count()
            + usize::from(mine);
        assert_eq!(accepted, 2);
        assert_eq!(q.census(), (2, 20));
    });
}

/// A queue bounded to one message; senders block.
fn bounded_to_one() -> Shared {
    let q = queue();
    q.set_bound(Some(Bound {
        messages: 1,
        bytes: usize::MAX,
        when_full: WhenFull::Block,
    }));
    q
}

/// A sender under `WhenFull::Block`, as the runtime's send and `await_room` loop: push;
/// while handed back, wait (parked) for room and push again.
fn send_blocking(q: &Shared, mut m: Msg) -> Result<(), Refused> {
    loop {
        match q.push_bounded(m)? {
            Pushed::Full(back) => {
                m = back;
                block_on(poll_fn(|cx| q.poll_room(cx, 10)));
            }
            Pushed::Queued { .. } | Pushed::Dropped => return Ok(()),
        }
    }
}

/// A queue bounded to one message and holding one, and a thread sending it a second one
/// (it waits for room): what each model then does decides how the sender ends.
fn a_blocked_sender() -> (Shared, thread::JoinHandle<Result<(), Refused>>) {
    let q = bounded_to_one();
    q.push_bounded(msg(0, 1)).unwrap();
    let sender = {
        let q = q.clone();
        thread::spawn(move || send_blocking(&q, msg(0, 2)))
    };
    (q, sender)
}

#[test]
fn a_take_always_wakes_a_sender_waiting_for_room() {
    model(|| {
        let (q, sender) = a_blocked_sender();
        assert_eq!(q.try_take_where(|t| t == 0), Some(msg(0, 1)));
        sender.join().unwrap().unwrap();
        assert_eq!(q.try_take_where(|t| t == 0), Some(msg(0, 2)));
    });
}

#[test]
fn a_close_always_wakes_a_sender_waiting_for_room() {
    model(|| {
        let (q, sender) = a_blocked_sender();
        q.close();
        assert_eq!(sender.join().unwrap(), Err(Refused::Closed));
        assert_eq!(q.census(), (0, 0));
    });
}

#[test]
fn a_wider_bound_always_wakes_a_sender_waiting_for_room() {
    model(|| {
        let (q, sender) = a_blocked_sender();
        q.set_bound(None);
        sender.join().unwrap().unwrap();
        assert_eq!(q.census(), (2, 20));
    });
}

/// A switch and a thread setting it.
fn a_killer() -> (Arc<KillSwitch>, thread::JoinHandle<()>) {
    let switch = Arc::new(KillSwitch::new());
    let killer = {
        let switch = switch.clone();
        thread::spawn(move || switch.set())
    };
    (switch, killer)
}

#[test]
fn a_kill_always_wakes_the_task() {
    model(|| {
        let (switch, killer) = a_killer();
        // The task's loop, as the runtime's `until_killed` polls it: its work never ends by
        // itself, so only the kill can finish it.
        let mut registered = None;
        block_on(poll_fn(|cx| switch.poll_set(cx, &mut registered)));
        assert!(switch.is_set());
        killer.join().unwrap();
    });
}

#[test]
fn a_kill_is_seen_however_often_the_task_is_polled() {
    model(|| {
        let (switch, killer) = a_killer();
        // Polled twice with the same waker before it waits (a wake-up from its own work):
        // the second poll skips the lock, and the kill must still get through.
        let mut registered = None;
        let mut polls = 0;
        block_on(poll_fn(|cx| {
            polls += 1;
            match switch.poll_set(cx, &mut registered) {
                Poll::Pending if polls == 1 => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                other => other,
            }
        }));
        killer.join().unwrap();
    });
}

/// Worker threads for `pool`, each running until the pool is closed.
fn workers(pool: &Pool) -> Vec<thread::JoinHandle<()>> {
    (0..pool.workers())
        .map(|i| {
            let w = pool.worker(i);
            thread::spawn(move || w.run())
        })
        .collect()
}

#[test]
fn a_task_woken_from_outside_always_runs() {
    model(|| {
        let pool = Pool::new(1);
        let threads = workers(&pool);
        let slot: Arc<loom::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
        let closer = pool.clone();
        let mut polls = 0;
        let task_slot = slot.clone();
        // Pending once (its waker left for another thread), then done: it closes the pool,
        // which ends the worker. A lost wake leaves the worker asleep: a deadlock.
        pool.spawn(poll_fn(move |cx| {
            polls += 1;
            if polls == 1 {
                *task_slot.lock().unwrap() = Some(cx.waker().clone());
                return Poll::Pending;
            }
            closer.close();
            Poll::Ready(())
        }))
        .unwrap();
        let outside = thread::spawn(move || {
            loop {
                if let Some(w) = slot.lock().unwrap().take() {
                    w.wake();
                    return;
                }
                thread::yield_now();
            }
        });
        outside.join().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        pool.drop_tasks();
    });
}

#[test]
fn a_task_woken_while_running_runs_again() {
    model(|| {
        let pool = Pool::new(1);
        let threads = workers(&pool);
        let closer = pool.clone();
        let mut polls = 0;
        // A yield: woken during its own poll, it must be polled again.
        pool.spawn(poll_fn(move |cx| {
            polls += 1;
            if polls == 1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            closer.close();
            Poll::Ready(())
        }))
        .unwrap();
        for t in threads {
            t.join().unwrap();
        }
        pool.drop_tasks();
    });
}

#[test]
fn work_queued_on_one_worker_is_never_stranded() {
    model(|| {
        // Two workers; one task spawns two more on its own worker (the second push wakes
        // the other worker, which may steal); the last to finish closes the pool.
        let pool = Pool::new(2);
        let threads = workers(&pool);
        let left = Arc::new(loom::sync::atomic::AtomicUsize::new(2));
        let on = pool.clone();
        pool.spawn(async move {
            for _ in 0..2 {
                let (left, closer) = (left.clone(), on.clone());
                on.spawn(async move {
                    if left.fetch_sub(1, loom::sync::atomic::Ordering::AcqRel) == 1 {
                        closer.close();
                    }
                })
                .unwrap();
            }
        })
        .unwrap();
        for t in threads {
            t.join().unwrap();
        }
        pool.drop_tasks();
    });
}
