//! What a process's logging may cost the host, and what it leaves for the observer.
//!
//! A guest emits log records through one host call (`warren:log.record`), which hands each
//! record to the host's logger at once: the host keeps no queue of records. What bounds a
//! process that logs in a loop is its **rate**: a token bucket of
//! [`Quotas::log_records_per_second`](super::Quotas) tokens, refilled continuously, so a
//! process emits at most that many records in any second (a burst of up to one second's worth
//! at once). A record over the rate is dropped and counted; the next record that passes says
//! how many were dropped before it ([`LogBudget::take`]).
//!
//! When an observer runs, each process that logs also keeps its last [`RECENT_LOGS`] lines
//! (each cut to [`RECENT_LOG_TEXT`] bytes) and its counts in a [`LogRing`], allocated on its
//! first record: at most about 2.5 KiB per process that logs, nothing for one that does not.

use std::collections::VecDeque;
use std::time::Instant;
use warren_abi::cut_text as cut;

/// The names of `warren:log` levels 1 (error) to 5 (trace), as the observer and `/metrics`
/// show them.
pub(crate) const LEVEL_NAMES: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Lines of its own log a process keeps for the observer.
pub(crate) const RECENT_LOGS: usize = 8;
/// Longest text of a kept line (target and message), in bytes.
pub(crate) const RECENT_LOG_TEXT: usize = 256;

/// A process's log rate: a token bucket (kept with the process across hibernation).
#[derive(Debug, Default)]
pub(crate) struct LogBudget {
    /// Records it may emit now, and when that was counted (`None`: never logged, full).
    tokens: Option<(u32, Instant)>,
    /// Records dropped since the last one emitted.
    dropped: u64,
}

impl LogBudget {
    /// Take one record's token at `rate` records a second. `Some(n)`: emit it, `n` records
    /// having been dropped since the last one emitted; `None`: drop it (and count it).
    pub(crate) fn take(&mut self, rate: u32, now: Instant) -> Option<u64> {
        let (tokens, since) = self.tokens.unwrap_or((rate, now));
        let elapsed = now.saturating_duration_since(since);
        let earned = (elapsed.as_micros() as u64).saturating_mul(u64::from(rate)) / 1_000_000;
        let (tokens, since) = if earned == 0 {
            (u64::from(tokens), since)
        } else {
            // Count time only in whole tokens, so slow refills are not lost to rounding.
            let used = earned.saturating_mul(1_000_000) / u64::from(rate.max(1));
            let refilled = u64::from(tokens) + earned;
            let since = since + std::time::Duration::from_micros(used);
            if refilled >= u64::from(rate) {
                (u64::from(rate), now)
            } else {
                (refilled, since)
            }
        };
        if tokens == 0 {
            self.tokens = Some((0, since));
            self.dropped += 1;
            return None;
        }
        self.tokens = Some(((tokens - 1) as u32, since));
        Some(std::mem::take(&mut self.dropped))
    }
}

/// One kept line.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// `warren:log` level (1 error .. 5 trace).
    pub level: i32,
    /// The record's target, cut to fit.
    pub target: String,
    /// The message, cut to fit.
    pub message: String,
}

/// A process's last lines and counts, for the observer.
#[derive(Debug, Default)]
pub(crate) struct LogRing {
    lines: VecDeque<LogLine>,
    /// Records emitted.
    pub emitted: u64,
    /// Records dropped for the rate.
    pub dropped: u64,
}

impl LogRing {
    /// Keep an emitted record's line (the oldest goes when full).
    pub(crate) fn push(&mut self, level: i32, target: &str, message: &str) {
        self.emitted += 1;
        if self.lines.len() == RECENT_LOGS {
            self.lines.pop_front();
        }
        let target = cut(target, RECENT_LOG_TEXT / 4);
        let message = cut(message, RECENT_LOG_TEXT - target.len());
        self.lines.push_back(LogLine {
            at_ms: super::stats::now_ms(),
            level,
            target: target.to_string(),
            message: message.to_string(),
        });
    }

    /// The kept lines, oldest first.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.lines.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_one_seconds_worth_then_the_rate() {
        let mut b = LogBudget::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(b.take(10, t0), Some(0));
        }
        assert_eq!(b.take(10, t0), None);
        assert_eq!(b.take(10, t0 + Duration::from_millis(50)), None);
        // 100 ms earns one token; the record that passes counts the two dropped.
        assert_eq!(b.take(10, t0 + Duration::from_millis(100)), Some(2));
        assert_eq!(b.take(10, t0 + Duration::from_millis(150)), None);
        // A long pause refills to one second's worth, no more.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..10 {
            assert!(b.take(10, later).is_some());
        }
        assert_eq!(b.take(10, later), None);
    }

    #[test]
    fn a_slow_rate_is_not_lost_to_rounding() {
        let mut b = LogBudget::default();
        let t0 = Instant::now();
        assert!(b.take(3, t0).is_some());
        assert!(b.take(3, t0).is_some());
        assert!(b.take(3, t0).is_some());
        assert!(b.take(3, t0).is_none());
        // Ten steps of 100 ms earn three tokens at 3 a second (one per 333 ms).
        let mut passed = 0;
        for i in 1..=10 {
            if b.take(3, t0 + Duration::from_millis(100 * i)).is_some() {
                passed += 1;
            }
        }
        assert_eq!(passed, 3);
    }

    #[test]
    fn zero_rate_drops_everything() {
        let mut b = LogBudget::default();
        let t0 = Instant::now();
        assert_eq!(b.take(0, t0), None);
        assert_eq!(b.take(0, t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn the_ring_keeps_the_last_lines_cut() {
        let mut r = LogRing::default();
        for i in 0..20 {
            r.push(3, "app", &format!("line {i}"));
        }
        let lines: Vec<_> = r.lines().map(|l| l.message.clone()).collect();
        assert_eq!(lines.len(), RECENT_LOGS);
        assert_eq!(lines[0], "line 12");
        assert_eq!(r.emitted, 20);
        r.push(1, &"t".repeat(1000), &"é".repeat(1000));
        let last = r.lines().last().unwrap();
        assert!(last.target.len() + last.message.len() <= RECENT_LOG_TEXT);
    }
}
