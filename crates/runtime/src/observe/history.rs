//! The totals over time: one sample a second, the last [`SAMPLES`] kept, for the page's
//! charts. Sampling reads a few counters; it never walks the process table.

use super::Source;
use crate::actor::stats::now_ms;
use crate::sync::Locked;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// How many samples are kept (ten minutes).
pub(crate) const SAMPLES: usize = 600;

/// How often a sample is taken.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// The runtime's totals at one moment.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    pub processes: usize,
    pub hibernating: usize,
    /// Counters since the start (rates are their differences).
    pub spawned: u64,
    pub exited: u64,
    pub messages: u64,
    /// Bytes of linear memory of all instances (their size, not what is in RAM).
    pub memory: u64,
    /// Bytes of the whole host process resident in RAM.
    pub resident: u64,
}

impl Sample {
    /// The totals now, if the runtime is still there.
    pub(crate) fn take(source: &Source) -> Option<Sample> {
        let table = source.table.upgrade()?;
        let stats = table.stats();
        Some(Sample {
            t: now_ms(),
            processes: table.len(),
            hibernating: stats.hibernating(),
            spawned: stats.spawned_total(),
            exited: stats.exits_by_kind().iter().sum(),
            messages: stats.messages_total().0,
            memory: stats.memory_total(),
            resident: crate::actor::stats::host_resident(),
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    fn push(&self, s: Sample) {
        let mut v = self.samples.locked();
        if v.len() == SAMPLES {
            v.pop_front();
        }
        v.push_back(s);
    }

    /// The samples, oldest first.
    pub(crate) fn all(&self) -> Vec<Sample> {
        let v = self.samples.locked();
        v.iter().copied().collect()
    }
}

/// Take a sample every [`INTERVAL`] until the runtime is gone.
pub(crate) async fn sample(source: Source) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = Sample::take(&source) else {
            return;
        };
        source.history.push(s);
    }
}
