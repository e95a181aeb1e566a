//! Failures stay in the process that has them: a panic, a trap, bad input to the host's ABI
//! or a busy loop ends (or slows) only that process, and the reason it ends with says what
//! happened; `exit` ends the caller with any reason, from any depth.

use crate::WAIT;
use std::time::Duration;
use warren::{ExitReason, Mailbox, Process, Signal};

/// The reason a monitored process ended with, or a panic naming what was waited for.
fn reason_of(down: &warren::Monitor, what: &str) -> ExitReason {
    down.wait_timeout(WAIT)
        .unwrap_or_else(|| panic!("{what} did not end within {WAIT:?}"))
}

pub(crate) fn a_panic_is_the_exit_reason_of_its_process_only() {
    let (_p, down) = warren::spawn_monitor!(|_m: Mailbox<()>| {
        let v: Vec<u32> = Vec::new();
        if v.is_empty() {
            panic!("boom {}", 42);
        }
    })
    .expect("spawn");
    let reason = reason_of(&down, "the panicking child").to_string();
    assert!(
        reason.starts_with("panic: boom 42 at tests/semantics/src/failures.rs:"),
        "{reason}"
    );
}

pub(crate) fn traps_end_only_the_process_that_traps() {
    let (_p, down) =
        warren::spawn_monitor!(|_m: Mailbox<()>| std::arch::wasm32::unreachable()).expect("spawn");
    let reason = reason_of(&down, "the unreachable child").to_string();
    assert!(
        reason.starts_with("trap: wasm trap: wasm `unreachable` instruction executed"),
        "{reason}"
    );
    let (_p, down) = warren::spawn_monitor!(|_m: Mailbox<()>| {
        // Read far beyond linear memory: an out-of-bounds trap in this process only.
        let p = 0xffff_fff0usize as *const u64;
        // SAFETY: none; this is the point of the test (the runtime must contain it).
        let v = unsafe { std::ptr::read_volatile(p) };
        println!("unexpectedly read {v}");
    })
    .expect("spawn");
    let reason = reason_of(&down, "the out-of-bounds child").to_string();
    assert!(
        reason.starts_with("trap: wasm trap: out of bounds memory access"),
        "{reason}"
    );
}

pub(crate) fn a_killed_process_is_gone_and_a_monitor_of_it_says_noproc() {
    let (p, down) = warren::spawn_monitor!(|mb: Mailbox<()>| loop {
        mb.receive();
    })
    .expect("spawn");
    assert!(p.kill());
    assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Killed));
    assert!(!p.kill(), "kill again");
    assert_eq!(p.monitor().wait_timeout(WAIT), Some(ExitReason::NoProc));
}

mod raw {
    #[link(wasm_import_module = "warren:message")]
    unsafe extern "C" {
        pub(super) fn send(pid: i64, tag: i64, ptr: *const u8, len: u32) -> i32;
        pub(super) fn receive(
            tag: i64,
            ptr: *mut u8,
            cap: u32,
            timeout_ms: i64,
            tag_out: *mut u64,
        ) -> i64;
        pub(super) fn take(ptr: *mut u8, len: u32) -> i32;
        pub(super) fn new_tag() -> i64;
    }
    #[link(wasm_import_module = "warren:process")]
    unsafe extern "C" {
        #[allow(clippy::too_many_arguments)]
        pub(super) fn spawn(
            t: u32,
            f: u32,
            p: *const u8,
            l: u32,
            m: i64,
            flags: u32,
            mem: i64,
            fuel: i64,
        ) -> i64;
        pub(super) fn spawn_args(ptr: *mut u8, len: u32) -> i32;
        pub(super) fn kill(pid: i64) -> i32;
    }
}

/// Bad input to the host's ABI: an error code for a bad value, a trap of the caller (only)
/// for a bad pointer. The test's own process plays the root's part for `spawn_args`: it was
/// spawned with arguments, so a fresh child with none is asked instead.
pub(crate) fn bad_abi_input_is_an_error_code_or_a_trap_of_the_caller() {
    // SAFETY: the pointers are valid or null with length 0; the values are wrong on purpose.
    unsafe {
        assert_eq!(
            raw::send(1 << 40, 0, [1u8].as_ptr(), 1),
            -2,
            "send to unknown pid"
        );
        assert_eq!(
            raw::send(-5, 0, [1u8].as_ptr(), 1),
            -2,
            "send to negative pid"
        );
        assert_eq!(
            raw::take(std::ptr::null_mut(), 0),
            -3,
            "take with nothing pending"
        );
        assert_eq!(raw::kill(1 << 40), -2, "kill unknown");
    }
    let cases = [
        (
            "send out of bounds",
            "trap: warren:message.send: buffer at 0xffff0000 of 1048576 bytes is outside linear memory",
        ),
        (
            "receive into out-of-bounds buffer",
            "trap: warren:message.receive: buffer at 0xfffffff0",
        ),
        (
            "spawn with out-of-bounds captures",
            "trap: warren:process.spawn: buffer at 0xfffffff0",
        ),
        ("spawn with garbage table indices", "normal"),
    ];
    for (case, (name, expected)) in cases.into_iter().enumerate() {
        let (_p, down) =
            warren::spawn_monitor!(case; |_mb: Mailbox<()>| bad_call(case)).expect("spawn");
        let reason = reason_of(&down, name).to_string();
        assert!(reason.starts_with(expected), "{name}: {reason}");
    }
}

fn bad_call(case: usize) {
    // SAFETY: none: these calls are wrong on purpose; the host must contain them.
    unsafe {
        match case {
            0 => {
                raw::send(1, 0, 0xffff_0000usize as *const u8, 0x10_0000);
            }
            1 => {
                raw::receive(0, 0xffff_fff0usize as *mut u8, 64, 0, std::ptr::null_mut());
            }
            2 => {
                raw::spawn(1, 1, 0xffff_fff0usize as *const u8, 64, 0, 0, 0, 0);
            }
            _ => {
                // The host accepts any indices (it cannot know the table's types); the child
                // traps on its first call through them, and only the child. It is monitored
                // from before it runs: it may trap before a monitor set up later would see it.
                let tag = raw::new_tag();
                let pid = raw::spawn(0xdead, 0xbeef, std::ptr::null(), 0, tag, 0, 0, 0);
                assert!(pid > 0, "spawn with garbage indices: {pid}");
                let mut buf = vec![0u8; 4096];
                let mut got = 0u64;
                let len = raw::receive(tag, buf.as_mut_ptr(), buf.len() as u32, 10_000, &mut got);
                assert!(len >= 0, "the garbage child's DOWN did not come: {len}");
                let reason = ExitReason::decode(&buf[..len as usize])
                    .expect("the DOWN carries an exit reason")
                    .to_string();
                assert!(
                    reason.starts_with("trap: wasm trap: undefined element"),
                    "garbage child: {reason}"
                );
            }
        }
    }
}

/// `spawn_args` when there are no captures to fetch is an error code. A test's process was
/// spawned with captures (its index), but the SDK's entry took them: asking again finds none,
/// as the root (spawned with none) does.
pub(crate) fn spawn_args_with_no_captures_left_is_an_error_code() {
    // SAFETY: null with length 0 is never written.
    assert_eq!(unsafe { raw::spawn_args(std::ptr::null_mut(), 0) }, -3);
}

/// Busy loops on more processes than there are worker threads cannot starve a ping-pong:
/// epoch interruption makes each yield every tick.
pub(crate) fn busy_loops_do_not_starve_other_processes() {
    let busy: Vec<Process<()>> = (0..4)
        .map(|_| {
            warren::spawn!(|_m: Mailbox<()>| loop {
                std::hint::black_box(());
            })
            .expect("spawn")
        })
        .collect();
    warren::sleep(Duration::from_millis(50)); // let the loops occupy the workers
    let me: Process<u32> = Process::this();
    let mailbox: Mailbox<u32> = Mailbox::this();
    let ponger = warren::spawn!(me; |balls: Mailbox<u32>| loop {
        let n = balls.receive();
        me.send(&(n + 1));
    })
    .expect("spawn");
    let mut n = 0;
    for _ in 0..10_000 {
        ponger.send(&n);
        n = mailbox.receive_timeout(WAIT).expect("the ponger answers");
    }
    assert_eq!(n, 10_000);
    ponger.kill();
    for b in busy {
        let down = b.monitor();
        assert!(b.kill());
        assert_eq!(down.wait_timeout(WAIT), Some(ExitReason::Killed));
    }
}

fn deep_exit(depth: u32, reason: ExitReason) -> u32 {
    if depth == 0 {
        warren::exit(reason);
    }
    deep_exit(depth - 1, reason) + 1
}

/// `exit(reason)` ends the caller with that reason from any depth, and it travels along a
/// link like any other; `Process::exit` sends a trappable exit signal.
pub(crate) fn exit_ends_the_caller_with_its_reason_from_any_depth() {
    let (_p, d) = warren::spawn_monitor!(|_m: Mailbox<()>| {
        deep_exit(10, ExitReason::Normal);
    })
    .expect("spawn");
    assert_eq!(d.wait_timeout(WAIT), Some(ExitReason::Normal));
    let (_p, d) = warren::spawn_monitor!(|_m: Mailbox<()>| {
        deep_exit(3, ExitReason::Exit(3));
    })
    .expect("spawn");
    assert_eq!(d.wait_timeout(WAIT), Some(ExitReason::Exit(3)));
    let (_p, d) = warren::spawn_monitor!(|mb: Mailbox<()>| {
        warren::spawn_link!(|_m: Mailbox<()>| warren::exit(ExitReason::Panic("giving up".into())))
            .expect("spawn");
        mb.receive();
    })
    .expect("spawn");
    match d.wait_timeout(WAIT) {
        Some(ExitReason::Linked(_, reason)) => {
            assert_eq!(*reason, ExitReason::Panic("giving up".into()))
        }
        other => panic!("expected linked(_, panic: giving up), got {other:?}"),
    }

    let me: Process<(u64, ExitReason)> = Process::this();
    let mailbox: Mailbox<(u64, ExitReason)> = Mailbox::this();
    let (trapper, d1) = warren::spawn_monitor!(me; |mb: Mailbox<()>| {
        warren::trap_exit(true);
        me.send(&(0, ExitReason::Normal));
        if let Signal::Exit { from, reason } = mb.receive_signal() {
            me.send(&(from, reason));
        }
    })
    .expect("spawn");
    mailbox.receive_timeout(WAIT).expect("the trapper is ready");
    assert!(trapper.exit(&ExitReason::Panic("stop".into())));
    assert_eq!(
        mailbox.receive_timeout(WAIT),
        Some((warren::this(), ExitReason::Panic("stop".into())))
    );
    assert_eq!(d1.wait_timeout(WAIT), Some(ExitReason::Normal));
    let (plain, d2) = warren::spawn_monitor!(|mb: Mailbox<()>| mb.receive()).expect("spawn");
    plain.exit(&ExitReason::Normal);
    assert_eq!(
        d2.wait_timeout(Duration::from_millis(30)),
        None,
        "normal is ignored"
    );
    plain.exit(&ExitReason::Limit("quota".into()));
    match d2.wait_timeout(WAIT) {
        Some(ExitReason::Linked(from, reason)) => {
            assert_eq!(
                (from, *reason),
                (warren::this(), ExitReason::Limit("quota".into()))
            )
        }
        other => panic!("expected linked(me, limit: quota), got {other:?}"),
    }
}

#[link(wasm_import_module = "warren:message")]
unsafe extern "C" {
    #[link_name = "send"]
    fn raw_send(pid: i64, tag: i64, ptr: *const u8, len: u32) -> i32;
    #[link_name = "receive"]
    fn raw_receive(tag: i64, ptr: *mut u8, cap: u32, timeout_ms: i64, tag_out: *mut u64) -> i64;
}

/// Tags the runtime gives meaning to cannot be forged: the exit-signal tag is refused, and a
/// message under a tag this process does not hold (never given out, or guessed) is dropped.
pub(crate) fn reserved_and_unheld_tags_cannot_be_forged() {
    let me = warren::this() as i64;
    // SAFETY: pointer and length of a static byte string.
    assert_eq!(
        unsafe { raw_send(me, 1, b"x".as_ptr(), 1) },
        -3,
        "the exit-signal tag"
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { raw_send(me, 12345, b"x".as_ptr(), 1) },
        0,
        "an unheld tag"
    );
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is a live 8-byte buffer, written during the call only.
    let got = unsafe { raw_receive(12345, buf.as_mut_ptr(), 8, 50, std::ptr::null_mut()) };
    assert!(got < 0, "a message under an unheld tag was queued ({got})");
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Wrong {
    a: String,
    b: u64,
}

/// A message of another type than the mailbox's ends the receiver with a reason that names
/// the expected type, instead of decoding as garbage.
pub(crate) fn a_message_of_the_wrong_type_ends_the_receiver_with_a_clear_reason() {
    let (receiver, down) = warren::spawn_monitor!(|mb: Mailbox<u8>| {
        let n = mb.receive();
        panic!("decoded {n} from a message of another type");
    })
    .expect("spawn");
    Process::<Wrong>::from_pid(receiver.pid()).send(&Wrong {
        a: "x".repeat(100),
        b: 7,
    });
    let reason = reason_of(&down, "the receiver").to_string();
    assert!(
        reason.starts_with("panic: warren: received a message that is not a `u8`"),
        "{reason}"
    );
}
