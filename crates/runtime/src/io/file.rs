//! Files opened under granted directories, with advisory locks.
//!
//! A [`FileObj`] is one open file description. Reads and writes through the handle use the
//! file's own cursor; streams read or write at an explicit offset (or append) and keep the
//! file open while they exist. Advisory locks (`flock`) belong to the open file
//! description, so a lock is released by `unlock` or when the last reference to the file —
//! handles in any process *and* streams derived from it — is gone.
//!
//! Regular-file reads and writes are made on the calling worker thread: they hit the page
//! cache and copy straight into guest memory. Waiting for a lock polls, so a process blocked
//! on a lock never holds a worker.

use super::{Backing, ReadSource, Ready, WriteSink};
use crate::sync::Locked;
use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct FileObj {
    file: File,
    /// The path the guest opened it by, for error messages.
    pub path: String,
}

/// Which advisory lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockKind {
    Shared,
    Exclusive,
}

fn ready_now() -> Ready<'static> {
    Box::pin(async { Ok(()) })
}

impl FileObj {
    pub(crate) fn new(file: File, path: String) -> Self {
        FileObj { file, path }
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn seek(&self, pos: SeekFrom) -> io::Result<u64> {
        (&self.file).seek(pos)
    }

    /// Take the lock if it is free now: `Ok(false)` if another holder has it.
    pub(crate) fn try_lock(&self, kind: LockKind) -> io::Result<bool> {
        let r = match kind {
            LockKind::Shared => self.file.try_lock_shared(),
            LockKind::Exclusive => self.file.try_lock(),
        };
        match r {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Wait for the lock (polling, from 1 ms up to 50 ms between tries).
    pub(crate) async fn lock(&self, kind: LockKind) -> io::Result<()> {
        let mut pause = Duration::from_millis(1);
        while !self.try_lock(kind)? {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        Ok(())
    }

    pub(crate) fn unlock(&self) -> io::Result<()> {
        self.file.unlock()
    }

    /// The file on disk (device and inode), for refusing a copy of a file into itself.
    pub(crate) fn backing(&self) -> Option<Backing> {
        let m = self.file.metadata().ok()?;
        Some(Backing::File {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// Reads and writes through a file handle use the file's cursor.
impl ReadSource for FileObj {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    fn ready(&self) -> Ready<'_> {
        ready_now()
    }

    fn backing(&self) -> Option<Backing> {
        FileObj::backing(self)
    }
}

impl WriteSink for FileObj {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }

    fn ready(&self) -> Ready<'_> {
        ready_now()
    }

    fn backing(&self) -> Option<Backing> {
        FileObj::backing(self)
    }
}

/// Reads a file from an offset onwards (the source of `read_via_stream`).
pub(crate) struct FileReader {
    pub file: Arc<FileObj>,
    pub pos: Mutex<u64>,
}

impl ReadSource for FileReader {
    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pos = self.pos.locked();
        let n = self.file.file.read_at(buf, *pos)?;
        *pos += n as u64;
        Ok(n)
    }

    fn ready(&self) -> Ready<'_> {
        ready_now()
    }

    fn backing(&self) -> Option<Backing> {
        self.file.backing()
    }
}

/// Writes a file at an offset onwards, or at its end (the sink of `write_via_stream` and
/// `append_via_stream`).
pub(crate) struct FileWriter {
    pub file: Arc<FileObj>,
    /// `None`: append.
    pub pos: Mutex<Option<u64>>,
}

impl WriteSink for FileWriter {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut pos = self.pos.locked();
        match &mut *pos {
            Some(p) => {
                let n = self.file.file.write_at(buf, *p)?;
                *p += n as u64;
                Ok(n)
            }
            None => {
                let end = (&self.file.file).seek(SeekFrom::End(0))?;
                self.file.file.write_at(buf, end)
            }
        }
    }

    fn ready(&self) -> Ready<'_> {
        ready_now()
    }

    fn backing(&self) -> Option<Backing> {
        self.file.backing()
    }
}
