//! The guest side of the host's `embed:counter` module: a named counter shared by every
//! process, held through a handle. Written the way warren's own SDK types are: a
//! `warren::Handle` inside, so a `Counter` moves in messages and spawn captures.

use serde::{Deserialize, Serialize};
use std::io;

#[link(wasm_import_module = "embed:counter")]
unsafe extern "C" {
    fn open(name: *const u8, len: u32) -> i64;
    fn add(handle: u32, by: i64) -> i64;
    fn get(handle: u32) -> i64;
}

/// A handle to a named counter kept by the host.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counter {
    handle: warren::Handle,
}

/// The host returns a value, or a negative error code (warren's codes, with a text).
fn value(r: i64) -> io::Result<i64> {
    if r < 0 {
        Err(warren::host_error(r))
    } else {
        Ok(r)
    }
}

impl Counter {
    /// The counter called `name` (created at 0 on first use).
    pub fn open(name: &str) -> io::Result<Counter> {
        // SAFETY: pointer and length of `name`, read by the host during the call.
        let r = unsafe { open(name.as_ptr(), name.len() as u32) };
        Ok(Counter {
            handle: warren::Handle::from_result(r)?,
        })
    }

    /// Add `by`; the new value.
    pub fn add(&self, by: i64) -> io::Result<i64> {
        // SAFETY: plain integer arguments.
        value(unsafe { add(self.handle.raw(), by) })
    }

    pub fn get(&self) -> io::Result<i64> {
        // SAFETY: plain integer argument.
        value(unsafe { get(self.handle.raw()) })
    }
}
