//! Generating a hostile module: every host function imported, and bodies that call them in
//! random order with arguments picked for trouble — pointers at and past the end of memory,
//! huge lengths, unknown and negative handles and pids, reserved tags, every flag bit,
//! timeouts at `i64::MIN`/`MAX`, nested and malformed exit reasons, select arrays with
//! duplicates — some calls repeated in a loop (floods).
//!
//! The module also exports `pinger`, a process that answers every 8-byte message by sending
//! it back to the pid it contains: the fuzzer's proof that the runtime still serves others.
//! Pids 1 and 2 (the fuzzer's host mailbox and the pinger) are never used as arguments, so
//! only a runtime bug can stop the pinger.

use crate::abi::{Arg, HOST_FNS};
use crate::rng::Rng;
use std::fmt::Write;

/// Where calls that write a pair of handles are often pointed (and handles read back from).
const OUT: u32 = 1024;
/// Bytes of linear memory (two pages).
const MEMORY: u64 = 2 * 65536;
/// How many bodies (entry points) a module has.
pub const BODIES: usize = 4;

/// The data the bodies point at: (offset, bytes).
fn data() -> Vec<(u32, Vec<u8>)> {
    let mut select = Vec::new();
    for (kind, handle, value) in [
        (1u32, 0u32, 0i64),
        (2, 1, 0),
        (3, 2, 0),
        (4, 3, -1),
        (5, 64, 2),
        (1, 0, 0),
    ] {
        select.extend(kind.to_le_bytes());
        select.extend(handle.to_le_bytes());
        select.extend(value.to_le_bytes());
    }
    let mut nested = Vec::new();
    for _ in 0..3 {
        nested.push(7u8);
        nested.extend([0; 8]);
    }
    nested.push(0);
    // 7,000 nested `linked` levels: what once overflowed the host's stack.
    let mut deep = Vec::new();
    for _ in 0..7000 {
        deep.push(7u8);
        deep.extend([0; 8]);
    }
    deep.push(0);
    vec![
        (256, b"127.0.0.1:0".to_vec()),
        (272, b"localhost:1".to_vec()),
        (288, b"/data/f".to_vec()),
        (304, b"/data/d".to_vec()),
        (320, b"/data/../x".to_vec()),
        (336, b"example.invalid:80".to_vec()),
        (360, nested),
        (400, vec![2, b'x']),
        (408, vec![0]),
        (416, vec![7, 5, 0, 0, 0, 0, 0, 0, 0, 1, b'y']),
        (432, b"hello".to_vec()),
        (448, vec![10, b'u']),
        (512, select),
        (
            640,
            [1u32, 2, 1, 3]
                .iter()
                .flat_map(|h| h.to_le_bytes())
                .collect(),
        ),
        (65536, deep),
    ]
}

fn pick<T: Copy>(rng: &mut Rng, values: &[T]) -> T {
    values[rng.below(values.len() as u64) as usize]
}

/// A value of kind `arg`, as a WAT constant expression.
fn value(rng: &mut Rng, arg: Arg) -> String {
    let v32 = |v: u32| format!("(i32.const {})", v as i32);
    let v64 = |v: i64| format!("(i64.const {v})");
    match arg {
        Arg::Ptr => {
            if rng.below(4) == 0 {
                // Where calls that return two handles put them (and handles are read from).
                v32(OUT)
            } else if rng.below(5) == 0 {
                v32(rng.below(MEMORY) as u32)
            } else {
                v32(pick(
                    rng,
                    &[
                        0,
                        256,
                        272,
                        288,
                        304,
                        320,
                        336,
                        360,
                        400,
                        408,
                        416,
                        432,
                        512,
                        528,
                        640,
                        1024,
                        4096,
                        65536,
                        131064,
                        131071,
                        131072,
                        131073,
                        0xFFFF_FFF0,
                        u32::MAX,
                    ],
                ))
            }
        }
        Arg::Len => v32(pick(
            rng,
            &[
                0,
                1,
                2,
                5,
                7,
                8,
                10,
                11,
                16,
                18,
                28,
                32,
                48,
                64,
                80,
                1024,
                63001,
                65536,
                131072,
                0x7FFF_FFFF,
                u32::MAX,
            ],
        )),
        // Handles that exist: the last call's result, or a pair a call wrote at OUT; else a
        // number that may or may not be open.
        Arg::Handle => match rng.below(4) {
            0 => "(i32.wrap_i64 (local.get $r))".into(),
            1 => format!("(i32.load (i32.const {}))", OUT + 4 * rng.below(2) as u32),
            _ => v32(pick(
                rng,
                &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 0x7FFF_FFFF, u32::MAX],
            )),
        },
        Arg::Small => v32(pick(
            rng,
            &[0, 1, 2, 3, 4, 5, 7, 8, 16, 32, 63, 64, 0xFF, u32::MAX],
        )),
        Arg::Index => v32(pick(rng, &[0, 1, 2, 3, 1000, u32::MAX])),
        Arg::Pid => {
            if rng.below(4) == 0 {
                v64(pick(rng, &[-1, 0, i64::MAX, i64::MIN, 1 << 40]))
            } else {
                v64(3 + rng.below(30) as i64)
            }
        }
        Arg::Tag => v64(pick(
            rng,
            &[0, 1, -1, -2, 2, 3, 4, 12345, i64::MAX, i64::MIN, 1 << 62],
        )),
        Arg::Millis => v64(pick(rng, &[0, 0, 1, 1, 5, 20, -1, i64::MAX, i64::MIN, -2])),
        Arg::Wide => v64(pick(
            rng,
            &[
                0,
                1,
                -1,
                4096,
                1 << 20,
                1 << 30,
                u32::MAX as i64,
                i64::MAX,
                i64::MIN,
            ],
        )),
    }
}

/// `(call $hN args)` for the named host function.
fn named(module: &str, name: &str, args: &str) -> String {
    let i = index_of(module, name);
    let call = format!("(call $h{i} {args})");
    match HOST_FNS[i].result {
        Some("i64") => format!("(local.set $r {call})"),
        Some(_) => format!("(local.set $r (i64.extend_i32_s {call}))"),
        None => call,
    }
}

/// A short sequence that random calls rarely hit but hostile guests write on purpose: a
/// pipe or a file copied into itself, a child spawned and then signalled, a select over the
/// mailbox twice.
fn recipe(rng: &mut Rng, out: &mut String) {
    let load = |k: u32| format!("(i32.load (i32.const {}))", OUT + 4 * k);
    let lines = match rng.below(5) {
        0 => vec![
            named("warren:stream", "pipe", &format!("(i32.const {OUT})")),
            named(
                "warren:stream",
                "write",
                &format!("{} (i32.const 432) (i32.const 5)", load(0)),
            ),
            named("warren:stream", "copy", &format!("{} {}", load(1), load(0))),
        ],
        1 => vec![
            named(
                "warren:fs",
                "open",
                "(i32.const 288) (i32.const 7) (i32.const 3)",
            ),
            "(local.set $h (i32.wrap_i64 (local.get $r)))".into(),
            named(
                "warren:fs",
                "read_via_stream",
                &format!("(local.get $h) (i64.const 0) (i32.const {OUT})"),
            ),
            named(
                "warren:fs",
                "append_via_stream",
                &format!("(local.get $h) {}", load(0)),
            ),
        ],
        2 => vec![
            named(
                "warren:process",
                "spawn",
                &format!(
                    "(i32.const 0) (i32.const {}) (i32.const 0) (i32.const 0) (i64.const 0) \
                     (i32.const {}) (i64.const 0) (i64.const 0)",
                    rng.below(BODIES as u64),
                    rng.below(2)
                ),
            ),
            named(
                "warren:process",
                ["kill", "link", "monitor", "unlink"][rng.below(4) as usize],
                "(local.get $r)",
            ),
            named(
                "warren:process",
                "exit_signal",
                "(local.get $r) (i32.const 400) (i32.const 2)",
            ),
        ],
        3 => vec![
            named("warren:process", "trap_exit", "(i32.const 1)"),
            named(
                "warren:select",
                "wait",
                "(i32.const 512) (i32.const 5) (i64.const 20)",
            ),
        ],
        _ => vec![
            named("warren:net", "tcp_bind", "(i32.const 256) (i32.const 11)"),
            "(local.set $h (i32.wrap_i64 (local.get $r)))".into(),
            named(
                "warren:net",
                "local_addr",
                "(local.get $h) (i32.const 2048) (i32.const 64)",
            ),
            named(
                "warren:net",
                "tcp_connect",
                "(i32.const 2048) (i32.wrap_i64 (local.get $r))",
            ),
            named(
                "warren:stream",
                "copy",
                "(i32.wrap_i64 (local.get $r)) (i32.wrap_i64 (local.get $r))",
            ),
        ],
    };
    for l in lines {
        let _ = writeln!(out, "    {l}");
    }
}

/// One call (maybe repeated in a loop), as WAT instructions.
fn call(rng: &mut Rng, segments: &[(u32, Vec<u8>)], out: &mut String) {
    if rng.below(10) == 0 {
        return recipe(rng, out);
    }
    let i = rng.below(HOST_FNS.len() as u64) as usize;
    let f = &HOST_FNS[i];
    // A pointer followed by a length is, two times in three, one of the data segments whole
    // (an address, a path, an exit reason, select entries): calls that get past the argument
    // checks reach deeper.
    let mut args: Vec<String> = Vec::new();
    let mut j = 0;
    while j < f.params.len() {
        if f.params[j] == Arg::Ptr && f.params.get(j + 1) == Some(&Arg::Len) && rng.below(3) != 0 {
            let (offset, bytes) = &segments[rng.below(segments.len() as u64) as usize];
            args.push(format!("(i32.const {offset})"));
            args.push(format!("(i32.const {})", bytes.len()));
            j += 2;
        } else {
            args.push(value(rng, f.params[j]));
            j += 1;
        }
    }
    let mut one = format!("(call $h{i} {})", args.join(" "));
    // Keep the result (a handle, a pid, a tag) for the next calls to use.
    match f.result {
        Some("i64") => one = format!("(local.set $r {one})"),
        Some(_) => one = format!("(local.set $r (i64.extend_i32_s {one}))"),
        None => {}
    }
    // Now and then, a flood: the same call many times.
    if rng.below(8) == 0 {
        let times = pick(rng, &[10, 100, 1000]);
        let _ = writeln!(
            out,
            "    (local.set $i (i32.const 0))
    (block $done (loop $again
      {one}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const {times})))))"
        );
    } else {
        let _ = writeln!(out, "    {one}");
    }
}

/// The text of a module generated from `rng`: imports, data, [`BODIES`] bodies exported as
/// `fuzz0`.., `_start` (body 0), `warren_entry` (a body chosen by the spawn's function
/// index), and `pinger`.
pub fn generate(rng: &mut Rng, calls: usize) -> String {
    let mut m = String::from("(module\n");
    for (i, f) in HOST_FNS.iter().enumerate() {
        let params: Vec<&str> = f
            .params
            .iter()
            .map(|a| if a.is_i64() { "i64" } else { "i32" })
            .collect();
        let params = if params.is_empty() {
            String::new()
        } else {
            format!(" (param {})", params.join(" "))
        };
        let result = f
            .result
            .map(|r| format!(" (result {r})"))
            .unwrap_or_default();
        let _ = writeln!(
            m,
            "  (import \"{}\" \"{}\" (func $h{i}{params}{result}))",
            f.module, f.name
        );
    }
    let _ = writeln!(m, "  (memory (export \"memory\") 2)");
    let segments = data();
    for (offset, bytes) in &segments {
        let text: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
        let _ = writeln!(m, "  (data (i32.const {offset}) \"{text}\")");
    }
    for b in 0..BODIES {
        let _ = writeln!(
            m,
            "  (func $b{b} (export \"fuzz{b}\") (local $i i32) (local $r i64) (local $h i32)"
        );
        let n = 1 + rng.below(calls as u64) as usize;
        for _ in 0..n {
            call(rng, &segments, &mut m);
        }
        let _ = writeln!(m, "  )");
    }
    let _ = writeln!(m, "  (func (export \"_start\") (call $b0))");
    // A spawned process runs the body its function index names (modulo the count).
    let _ = writeln!(
        m,
        "  (func (export \"warren_entry\") (param i32 i32 i32)
    (block (block (block (block
      (br_table 0 1 2 3 (i32.rem_u (local.get 1) (i32.const {BODIES}))))
      (call $b0) (return)) (call $b1) (return)) (call $b2) (return)) (call $b3))"
    );
    let receive = index_of("warren:message", "receive");
    let send = index_of("warren:message", "send");
    let _ = writeln!(
        m,
        "  (func (export \"pinger\")
    (loop $serve
      (if (i64.eq (call $h{receive} (i64.const 0) (i32.const 2048) (i32.const 8) (i64.const -1) (i32.const 0))
                  (i64.const 8))
        (then (drop (call $h{send} (i64.load (i32.const 2048)) (i64.const 0) (i32.const 2048) (i32.const 8)))))
      (br $serve)))"
    );
    m.push_str(")\n");
    m
}

fn index_of(module: &str, name: &str) -> usize {
    HOST_FNS
        .iter()
        .position(|f| f.module == module && f.name == name)
        .expect("the ABI table has it")
}
