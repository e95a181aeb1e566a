//! Files and directories under the directories granted with `warren run --dir
//! host[:guest]`.
//!
//! Paths are the guest's (`/data/log.txt`): the same names `std::fs` sees through WASI. A
//! path under no granted directory, or one that would leave it (`..`, a symlink pointing
//! out), fails with `PermissionDenied`. A [`File`] is a handle: it can be sent to another
//! process, and streams read or written from it keep it open. Advisory locks
//! ([`File::lock_exclusive`], [`File::lock_shared`]) belong to the open file: they are
//! released by [`File::unlock`] or when the last handle *and* stream of it are gone.

use crate::abi;
use crate::handle::{Handle, bytes, check, error, resource_type};
use crate::stream::{ByteStream, HostFuture, pair};
use serde::{Deserialize, Serialize};
use std::io;
use std::time::{Duration, SystemTime};

use warren_abi::{
    OPEN_APPEND as APPEND, OPEN_CREATE as CREATE, OPEN_CREATE_NEW as CREATE_NEW, OPEN_READ as READ,
    OPEN_TRUNCATE as TRUNCATE, OPEN_WRITE as WRITE,
};

fn status(rc: i32) -> io::Result<()> {
    if rc < 0 {
        Err(error(rc as i64))
    } else {
        Ok(())
    }
}

/// An open file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct File {
    handle: Handle,
}
resource_type!(File, Readable, Writable);

/// How to open a file, as `std::fs::OpenOptions`.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    flags: u32,
}

impl OpenOptions {
    /// Options that open read-only, as `File::open` does.
    pub fn new() -> Self {
        Self::default()
    }

    fn set(mut self, flag: u32, on: bool) -> Self {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
        self
    }

    /// Open for reading.
    pub fn read(self, on: bool) -> Self {
        self.set(READ, on)
    }

    /// Open for writing (at the cursor, from the start).
    pub fn write(self, on: bool) -> Self {
        self.set(WRITE, on)
    }

    /// Open for appending: every write goes to the end.
    pub fn append(self, on: bool) -> Self {
        self.set(APPEND, on)
    }

    /// Create the file if it does not exist.
    pub fn create(self, on: bool) -> Self {
        self.set(CREATE, on)
    }

    /// Cut the file to length 0 when opening.
    pub fn truncate(self, on: bool) -> Self {
        self.set(TRUNCATE, on)
    }

    /// Fail with `AlreadyExists` if the file exists.
    pub fn create_new(self, on: bool) -> Self {
        self.set(CREATE_NEW, on)
    }

    /// Open `path` (a guest path under a granted directory) with these options.
    pub fn open(&self, path: &str) -> io::Result<File> {
        // SAFETY: pointer and length of `path`, read during the call.
        let r = unsafe { abi::open(path.as_ptr(), path.len() as u32, self.flags) };
        Ok(File {
            handle: Handle::from_result(r)?,
        })
    }
}

/// What a file or directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else.
    Other,
}

impl FileType {
    fn from_host(kind: u32) -> Self {
        match kind {
            1 => FileType::File,
            2 => FileType::Dir,
            3 => FileType::Symlink,
            _ => FileType::Other,
        }
    }
}

/// A file's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    len: u64,
    modified: Option<SystemTime>,
    file_type: FileType,
    readonly: bool,
}

impl Metadata {
    fn decode(raw: &[u8; 24]) -> Self {
        let u64_at = |i: usize| u64::from_le_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
        let ns = u64_at(8);
        Metadata {
            len: u64_at(0),
            modified: (ns != 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)),
            file_type: FileType::from_host(u32_at(16)),
            readonly: u32_at(20) != 0,
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether its size is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// When it was last modified, if known.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// What it is.
    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    /// Whether it is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type == FileType::File
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Dir
    }

    /// Whether it is read-only.
    pub fn readonly(&self) -> bool {
        self.readonly
    }
}

impl File {
    /// Open for reading.
    pub fn open(path: &str) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Create (or truncate) for writing.
    pub fn create(path: &str) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Options to open a file with (read, write, create, ...).
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// The metadata of the open file.
    pub fn metadata(&self) -> io::Result<Metadata> {
        let mut raw = [0u8; 24];
        // SAFETY: `raw` is a live 24-byte buffer, written during the call.
        status(unsafe { abi::stat(self.handle.raw(), raw.as_mut_ptr()) })?;
        Ok(Metadata::decode(&raw))
    }

    /// The file from `offset` to its end as a [`ByteStream`], and a future that resolves
    /// when the stream has been read to the end. The stream keeps the file (and its locks)
    /// alive.
    pub fn read_via_stream(&self, offset: u64) -> io::Result<(ByteStream, HostFuture<()>)> {
        let h = self.handle.raw();
        // SAFETY: `out` is a live buffer of two u32, written during the call.
        let (s, f) = pair(|out| unsafe { abi::read_via_stream(h, offset, out) })?;
        Ok((ByteStream::from_handle(s), HostFuture::from_handle(f)))
    }

    /// Write everything `stream` yields into the file from `offset` on, in the host; returns
    /// at once with a future of the byte count.
    pub fn write_via_stream(&self, stream: ByteStream, offset: u64) -> io::Result<HostFuture<u64>> {
        use crate::handle::Resource;
        // SAFETY: plain integer arguments.
        let r = unsafe { abi::write_via_stream(self.handle.raw(), stream.raw_handle(), offset) };
        HostFuture::from_result(r)
    }

    /// Append everything `stream` yields to the file, in the host.
    pub fn append_via_stream(&self, stream: ByteStream) -> io::Result<HostFuture<u64>> {
        use crate::handle::Resource;
        // SAFETY: plain integer arguments.
        let r = unsafe { abi::append_via_stream(self.handle.raw(), stream.raw_handle()) };
        HostFuture::from_result(r)
    }

    /// Wait for a shared advisory lock.
    pub fn lock_shared(&self) -> io::Result<()> {
        // SAFETY: plain integer arguments.
        status(unsafe { abi::lock(self.handle.raw(), 0) })
    }

    /// Wait for an exclusive advisory lock.
    pub fn lock_exclusive(&self) -> io::Result<()> {
        // SAFETY: plain integer arguments.
        status(unsafe { abi::lock(self.handle.raw(), 1) })
    }

    /// Take a shared lock if free now; `Ok(false)` if another holder has it.
    pub fn try_lock_shared(&self) -> io::Result<bool> {
        self.try_lock(0)
    }

    /// Take an exclusive lock if free now; `Ok(false)` if another holder has it.
    pub fn try_lock_exclusive(&self) -> io::Result<bool> {
        self.try_lock(1)
    }

    fn try_lock(&self, exclusive: u32) -> io::Result<bool> {
        // SAFETY: plain integer arguments.
        match unsafe { abi::try_lock(self.handle.raw(), exclusive) } {
            abi::ERR_WOULD_BLOCK => Ok(false),
            rc => status(rc).map(|()| true),
        }
    }

    /// Release the lock this file holds.
    pub fn unlock(&self) -> io::Result<()> {
        // SAFETY: plain integer argument.
        status(unsafe { abi::unlock(self.handle.raw()) })
    }
}

impl io::Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::stream::read(self.handle.raw(), buf)
    }
}

impl io::Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::stream::write(self.handle.raw(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for File {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let (offset, whence) = match pos {
            io::SeekFrom::Start(o) => (
                i64::try_from(o).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
                0,
            ),
            io::SeekFrom::Current(o) => (o, 1),
            io::SeekFrom::End(o) => (o, 2),
        };
        // SAFETY: plain integer arguments.
        check(unsafe { abi::seek(self.handle.raw(), offset, whence) })
    }
}

/// Metadata of a path (a final symlink is not followed).
pub fn metadata(path: &str) -> io::Result<Metadata> {
    let mut raw = [0u8; 24];
    // SAFETY: `path` and `raw` are live across the call; the host writes 24 bytes to `raw`.
    status(unsafe { abi::stat_path(path.as_ptr(), path.len() as u32, raw.as_mut_ptr()) })?;
    Ok(Metadata::decode(&raw))
}

/// One entry of [`read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name.
    pub name: String,
    /// What it is.
    pub file_type: FileType,
}

/// The entries of a directory, sorted by name.
pub fn read_dir(path: &str) -> io::Result<Vec<DirEntry>> {
    // SAFETY: `path` and the buffer are live across the call; the host writes at most cap.
    let raw = bytes(|p, cap| unsafe { abi::read_dir(path.as_ptr(), path.len() as u32, p, cap) })?;
    Ok(raw
        .split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| DirEntry {
            file_type: FileType::from_host(e[0] as u32),
            name: String::from_utf8_lossy(&e[1..]).into_owned(),
        })
        .collect())
}

fn path_call(path: &str, f: unsafe extern "C" fn(*const u8, u32) -> i32) -> io::Result<()> {
    // SAFETY: pointer and length of `path`, read during the call.
    status(unsafe { f(path.as_ptr(), path.len() as u32) })
}

/// Create a directory.
pub fn create_dir(path: &str) -> io::Result<()> {
    path_call(path, abi::create_dir)
}

/// Remove a file.
pub fn remove_file(path: &str) -> io::Result<()> {
    path_call(path, abi::remove_file)
}

/// Remove an empty directory.
pub fn remove_dir(path: &str) -> io::Result<()> {
    path_call(path, abi::remove_dir)
}

/// Rename a file or directory (both paths under granted directories).
pub fn rename(from: &str, to: &str) -> io::Result<()> {
    // SAFETY: both strings are live across the call, which only reads them.
    status(unsafe {
        abi::rename(
            from.as_ptr(),
            from.len() as u32,
            to.as_ptr(),
            to.len() as u32,
        )
    })
}

/// The whole file.
pub fn read(path: &str) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    io::Read::read_to_end(&mut File::open(path)?, &mut out)?;
    Ok(out)
}

/// Create or truncate the file and write `data`.
pub fn write(path: &str, data: &[u8]) -> io::Result<()> {
    io::Write::write_all(&mut File::create(path)?, data)
}
