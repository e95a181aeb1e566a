//! A pipeline with back-pressure: a producer makes N lines (default 200,000) as fast as it
//! can, P parsers (default 4) turn each into a record, and one writer — slow on purpose —
//! sums them. Every stage's mailbox is bounded with the policy to block, so the producer
//! runs at the writer's pace and nothing piles up: at most 64 lines wait at each parser and
//! 256 records at the writer, whatever the input rate. Without the bounds, the writer's
//! mailbox would grow by every record the parsers make faster than it writes (and end it
//! at its quota).
//!
//! Run: `warren run pipeline.wasm [N] [P]`; it prints what the writer got and the most
//! messages any stage held at once.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use warren::bound::{MailboxBound, WhenFull};
use warren::{Mailbox, Process, SpawnOptions};

/// A parsed line.
#[derive(Serialize, Deserialize)]
struct Record {
    id: u64,
    value: u64,
}

/// What the writer is sent.
#[derive(Serialize, Deserialize)]
enum ToWriter {
    Record(Record),
    /// A parser is done; after the last, the writer reports.
    Done,
}

/// What the writer reports to main: records, their sum, the most it held queued.
#[derive(Serialize, Deserialize)]
struct Report {
    records: u64,
    sum: u64,
    most_queued: usize,
}

/// The writer: slow (it pauses a little every 1,000 records, as a disk or a database
/// would), with a mailbox of 256 records at most.
fn writer((parsers, main): (usize, Process<Report>), mailbox: Mailbox<ToWriter>) {
    let (mut records, mut sum, mut done, mut most_queued) = (0u64, 0u64, 0, 0);
    while done < parsers {
        most_queued = most_queued.max(mailbox.len());
        match mailbox.receive() {
            ToWriter::Record(r) => {
                records += 1;
                sum += r.value;
                if r.id % 1000 == 0 {
                    warren::sleep(Duration::from_millis(1));
                }
            }
            ToWriter::Done => done += 1,
        }
    }
    main.send(&Report {
        records,
        sum,
        most_queued,
    });
}

/// A parser: "id,value" lines in, records out; `None` ends it. Its sends to the writer wait
/// while the writer's mailbox is full, so it slows down — and so does the producer feeding
/// it, whose sends wait while this parser's 64 places are taken.
fn parser(writer: Process<ToWriter>, lines: Mailbox<Option<String>>) {
    while let Some(line) = lines.receive() {
        assert!(lines.len() <= 64, "the parser's bound held");
        let (id, value) = line.split_once(',').expect("id,value");
        writer.send(&ToWriter::Record(Record {
            id: id.parse().expect("an id"),
            value: value.parse().expect("a value"),
        }));
    }
    writer.send(&ToWriter::Done);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(200_000, |s| s.parse().expect("N"));
    let p: usize = args.next().map_or(4, |s| s.parse().expect("P"));
    let start = Instant::now();

    let blocking = |messages| MailboxBound::messages(messages).when_full(WhenFull::Block);
    let main: Process<Report> = Process::this();
    let writer = SpawnOptions::new()
        .mailbox(blocking(256))
        .spawn((p, main), writer)
        .expect("spawn the writer");
    let parsers: Vec<Process<Option<String>>> = (0..p)
        .map(|_| {
            SpawnOptions::new()
                .mailbox(blocking(64))
                .spawn(writer, parser)
                .expect("spawn a parser")
        })
        .collect();

    // The producer: as fast as it can; each send waits while its parser's mailbox is full.
    for id in 0..n {
        parsers[(id % p as u64) as usize].send(&Some(format!("{id},{}", id % 7)));
    }
    for parser in &parsers {
        parser.send(&None);
    }

    let report = Mailbox::<Report>::this().receive();
    let expected: u64 = (0..n).map(|id| id % 7).sum();
    assert_eq!((report.records, report.sum), (n, expected));
    println!(
        "pipeline: {} records, sum {}, in {:.2?}; the writer held at most {} queued (its bound: 256)",
        report.records,
        report.sum,
        start.elapsed(),
        report.most_queued
    );
}
