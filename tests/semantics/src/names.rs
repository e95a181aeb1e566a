//! Names and timers: a registered name is unique, found by others and freed when its process
//! ends; a delayed message arrives unless cancelled first; a sleeping process can be killed.

use crate::WAIT;
use std::time::{Duration, Instant};
use warren::{ExitReason, Mailbox, Process, RegisterError};

pub(crate) fn names_are_unique_found_by_others_and_freed_on_death() {
    let me: Process<String> = Process::this();
    let mailbox: Mailbox<String> = Mailbox::this();
    me.register("main").expect("a free name");
    assert_eq!(me.register("main"), Err(RegisterError::Taken));
    assert_eq!(me.register(""), Err(RegisterError::BadName));
    assert_eq!(me.register(&"x".repeat(257)), Err(RegisterError::BadName));
    let (worker, down) = warren::spawn_monitor!(|mb: Mailbox<String>| {
        Process::<String>::this()
            .register("worker")
            .expect("a free name");
        let main: Process<String> = warren::whereis("main").expect("main is registered");
        main.send(&"worker up".to_string());
        mb.receive();
    })
    .expect("spawn");
    assert_eq!(mailbox.receive_timeout(WAIT).as_deref(), Some("worker up"));
    assert_eq!(warren::whereis::<String>("worker"), Some(worker));
    assert!(worker.kill());
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert_eq!(warren::whereis::<String>("worker"), None, "freed on death");
    assert_eq!(worker.register("again"), Err(RegisterError::NoProcess));
    assert!(warren::unregister("main"));
    assert!(!warren::unregister("main"), "unregister twice");
    assert_eq!(warren::whereis::<String>("main"), None);
}

pub(crate) fn timers_deliver_unless_cancelled_and_a_sleeper_can_be_killed() {
    let me: Process<u32> = Process::this();
    let mailbox: Mailbox<u32> = Mailbox::this();
    // Far enough apart that a loaded machine cannot fire the cancelled one before its
    // cancel (it would come before the late one).
    let _late = me.send_after(&1, Duration::from_millis(400));
    let cancelled = me.send_after(&2, Duration::from_millis(200));
    assert!(cancelled.cancel());
    me.send(&0);
    assert_eq!(mailbox.receive_timeout(WAIT), Some(0));
    assert_eq!(
        mailbox.receive_timeout(WAIT),
        Some(1),
        "the late one, not the cancelled"
    );
    assert_eq!(mailbox.receive_timeout(Duration::from_millis(300)), None);
    let fired = me.send_after(&3, Duration::from_millis(1));
    assert_eq!(mailbox.receive_timeout(WAIT), Some(3));
    assert!(!fired.cancel(), "cancel after firing");

    let start = Instant::now();
    warren::sleep(Duration::from_millis(30));
    assert!(start.elapsed() >= Duration::from_millis(30));
    let (sleeper, down) =
        warren::spawn_monitor!(|_m: Mailbox<()>| warren::sleep(Duration::from_secs(3600)))
            .expect("spawn");
    warren::sleep(Duration::from_millis(10));
    assert!(sleeper.kill());
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Killed));
}
