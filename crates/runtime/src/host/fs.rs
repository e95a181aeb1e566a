//! `warren:fs`: files and directories under the granted directories.
//!
//! Paths are guest paths (`/data/log.txt`), resolved against the granted directories — the
//! same ones WASI preview 1 preopens for the guest's `std::fs`. Anything that would leave a
//! granted directory (`..`, symlinks pointing out) is refused with `ERR_DENIED`, as is a path
//! under no grant. A file handle reads and writes at its cursor through
//! `warren:stream.read`/`write`; `read_via_stream`, `write_via_stream` and
//! `append_via_stream` are the stream-and-future forms. Advisory locks belong to the open
//! file and are released by `unlock` or when its last reference (handles and streams) goes.

use super::abi::*;
use super::call::{CallState, GuestMemory, HostError, HostResult};
use super::io_bridge;
use crate::io::file::{FileObj, FileReader, FileWriter, LockKind};
use crate::io::handles::{self, FILE};
use crate::io::{Copies, Grants};
use crate::resources::ResourceTable;
use std::io::SeekFrom;
use std::sync::{Arc, Mutex};
use wasmtime::{Caller, Linker};

/// The view `warren:fs` needs.
pub(crate) struct FsView<'a> {
    /// The process's handles.
    pub table: &'a mut ResourceTable,
    /// Memory and last error.
    pub call: &'a mut CallState,
    /// The granted directories.
    pub grants: &'a Arc<Grants>,
    /// The process's host copies.
    pub copies: &'a mut Copies,
}

/// Longest path accepted.
const MAX_PATH: u32 = 4096;

/// A path argument: UTF-8 of at most MAX_PATH bytes, else ERR_BAD_ARGUMENT.
fn path_arg<'m>(mem: &'m GuestMemory<'_>, ptr: u32, len: u32) -> HostResult<&'m str> {
    mem.text(ptr, len, MAX_PATH, "path")
}

/// Metadata as the 24 bytes `stat` writes: size u64, modified (ns since the Unix epoch, 0 if
/// unknown) u64, kind u32 (1 file, 2 directory, 3 symlink, 0 other), readonly u32.
fn encode_metadata(
    len: u64,
    modified: Option<std::time::SystemTime>,
    kind: u32,
    readonly: bool,
) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&len.to_le_bytes());
    let modified = modified
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    out[8..16].copy_from_slice(&modified.to_le_bytes());
    out[16..20].copy_from_slice(&kind.to_le_bytes());
    out[20..].copy_from_slice(&u32::from(readonly).to_le_bytes());
    out
}

/// The kind number of `stat` and `read_dir`.
fn kind_of(is_file: bool, is_dir: bool, is_symlink: bool) -> u32 {
    if is_file {
        1
    } else if is_dir {
        2
    } else if is_symlink {
        3
    } else {
        0
    }
}

impl FsView<'_> {
    /// Run `f` on the directory and relative path a guest path resolves to; failures name
    /// the path and what was being done.
    fn at<R>(
        &self,
        path: &str,
        what: &str,
        f: impl FnOnce(&cap_std::fs::Dir, &std::path::Path) -> std::io::Result<R>,
    ) -> HostResult<R> {
        let (dir, rel) = self.grants.resolve(path)?;
        f(dir, &rel).map_err(|e| HostError::io(format!("{what} {path}"), &e))
    }

    /// The open file behind handle `h`.
    fn file(&self, h: u32) -> HostResult<Arc<FileObj>> {
        Ok(self.table.get_as::<FileObj>(h, FILE)?)
    }

    /// `open`: a file handle.
    pub(crate) fn open(
        &mut self,
        mem: &GuestMemory<'_>,
        ptr: u32,
        len: u32,
        flags: u32,
    ) -> HostResult<i64> {
        let path = path_arg(mem, ptr, len)?;
        if flags & !OPEN_ALL != 0 {
            return Err(HostError::bad_argument(format!(
                "unknown open flags {flags:#x}"
            )));
        }
        let mut o = cap_std::fs::OpenOptions::new();
        // Non-blocking, so that opening a FIFO without a writer (or a device) in a granted
        // directory cannot block a worker thread; such files are then refused below.
        cap_std::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NONBLOCK);
        let write = flags & (OPEN_WRITE | OPEN_APPEND) != 0;
        o.read(flags & OPEN_READ != 0 || !write)
            .write(flags & OPEN_WRITE != 0)
            .append(flags & OPEN_APPEND != 0)
            .create(flags & OPEN_CREATE != 0)
            .truncate(flags & OPEN_TRUNCATE != 0)
            .create_new(flags & OPEN_CREATE_NEW != 0);
        let file = self
            .at(path, "opening", |d, p| d.open_with(p, &o))?
            .into_std();
        match file.metadata() {
            Ok(m) if m.is_file() || m.is_dir() => {}
            Ok(m) => {
                return Err(HostError::fail(
                    ERR_DENIED,
                    format!(
                        "opening {path}: not a regular file ({:?}); FIFOs, devices and sockets \
                         cannot be opened",
                        m.file_type()
                    ),
                ));
            }
            Err(e) => return Err(HostError::io(format!("opening {path}"), &e)),
        }
        // Regular files ignore O_NONBLOCK, but clear it so the description is as usual.
        clear_nonblocking(&file);
        let obj = FileObj::new(file, path.to_string());
        Ok(self.table.push(handles::file(obj))? as i64)
    }

    /// `seek`: move the cursor; the new position.
    pub(crate) fn seek(&mut self, h: u32, offset: i64, whence: u32) -> HostResult<i64> {
        let pos = match whence {
            0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| {
                HostError::bad_argument(format!("a negative offset ({offset}) from the start"))
            })?),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return Err(HostError::bad_argument(format!("invalid whence {whence}"))),
        };
        let f = self.file(h)?;
        let p = f
            .seek(pos)
            .map_err(|e| HostError::io(format!("seeking in {}", f.path), &e))?;
        Ok(p as i64)
    }

    /// `stat`: metadata of an open file.
    pub(crate) fn stat(&mut self, mem: &mut GuestMemory<'_>, h: u32, out: u32) -> HostResult<i32> {
        mem.range(out, 24)?;
        let f = self.file(h)?;
        let md = f
            .file()
            .metadata()
            .map_err(|e| HostError::io(format!("stat of {}", f.path), &e))?;
        let ft = md.file_type();
        let kind = kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink());
        let readonly = md.permissions().readonly();
        mem.write(
            out,
            &encode_metadata(md.len(), md.modified().ok(), kind, readonly),
        )?;
        Ok(0)
    }

    /// `stat_path`: metadata of a path (not following a final symlink).
    pub(crate) fn stat_path(
        &mut self,
        mem: &mut GuestMemory<'_>,
        (ptr, len): (u32, u32),
        out: u32,
    ) -> HostResult<i32> {
        let path = path_arg(mem, ptr, len)?.to_string();
        mem.range(out, 24)?;
        let md = self.at(&path, "stat of", |d, p| d.symlink_metadata(p))?;
        let ft = md.file_type();
        let kind = kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink());
        let modified = md.modified().ok().map(|t| t.into_std());
        let readonly = md.permissions().readonly();
        mem.write(out, &encode_metadata(md.len(), modified, kind, readonly))?;
        Ok(0)
    }

    /// `read_dir`: the entries of a directory, sorted by name.
    pub(crate) fn read_dir(
        &mut self,
        mem: &mut GuestMemory<'_>,
        (ptr, len): (u32, u32),
        (buf, cap): (u32, u32),
    ) -> HostResult<i64> {
        let path = path_arg(mem, ptr, len)?.to_string();
        let listing = self.at(&path, "listing", |d, p| {
            let mut entries: Vec<(u8, String)> = Vec::new();
            for e in d.read_dir(p)? {
                let e = e?;
                let ft = e.file_type()?;
                let kind = kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink()) as u8;
                entries.push((kind, e.file_name().to_string_lossy().into_owned()));
            }
            entries.sort_by(|a, b| a.1.cmp(&b.1));
            let mut out = Vec::new();
            for (kind, name) in entries {
                out.push(kind);
                out.extend_from_slice(name.as_bytes());
                out.push(0);
            }
            Ok(out)
        })?;
        mem.write_text(buf, cap, &listing)
    }

    /// `create_dir`, `remove_file`, `remove_dir`: one change to a path.
    pub(crate) fn change(
        &mut self,
        mem: &GuestMemory<'_>,
        (ptr, len): (u32, u32),
        change: Change,
    ) -> HostResult<i32> {
        let path = path_arg(mem, ptr, len)?;
        match change {
            Change::CreateDir => self.at(path, "creating directory", |d, p| d.create_dir(p)),
            Change::RemoveFile => self.at(path, "removing file", |d, p| d.remove_file(p)),
            Change::RemoveDir => self.at(path, "removing directory", |d, p| d.remove_dir(p)),
        }?;
        Ok(0)
    }

    /// `rename`: both paths under granted directories.
    pub(crate) fn rename(
        &mut self,
        mem: &GuestMemory<'_>,
        from: (u32, u32),
        to: (u32, u32),
    ) -> HostResult<i32> {
        let from = path_arg(mem, from.0, from.1)?;
        let to = path_arg(mem, to.0, to.1)?;
        let (fd, fp) = self.grants.resolve(from)?;
        let (td, tp) = self.grants.resolve(to)?;
        fd.rename(&fp, td, &tp)
            .map_err(|e| HostError::io(format!("renaming {from} to {to}"), &e))?;
        Ok(0)
    }

    /// `read_via_stream`: the file from `offset` as (stream, future) at `out`.
    pub(crate) fn read_via_stream(
        &mut self,
        mem: &mut GuestMemory<'_>,
        h: u32,
        offset: u64,
        out: u32,
    ) -> HostResult<i32> {
        let f = self.file(h)?;
        let what = format!("file {}", f.path);
        let source = FileReader {
            file: f,
            pos: Mutex::new(offset),
        };
        io_bridge::install_stream(self.table, mem, out, source, what)
    }

    /// `write_via_stream` (at `offset`) / `append_via_stream` (`None`): a host copy of a
    /// stream into the file; its future.
    pub(crate) fn write_via_stream(
        &mut self,
        h: u32,
        stream: u32,
        offset: Option<u64>,
    ) -> HostResult<i64> {
        let f = self.file(h)?;
        let what = format!("writing {}", f.path);
        let sink = Arc::new(FileWriter {
            file: f,
            pos: Mutex::new(offset),
        });
        io_bridge::start_copy(self.table, self.copies, stream, sink, what)
    }

    /// `try_lock`: take a lock if free.
    pub(crate) fn try_lock(&mut self, h: u32, exclusive: u32) -> HostResult<i32> {
        let kind = lock_kind(exclusive)?;
        let f = self.file(h)?;
        match f.try_lock(kind) {
            Ok(true) => Ok(0),
            Ok(false) => Err(HostError::fail(
                ERR_WOULD_BLOCK,
                format!("{} is locked by another holder", f.path),
            )),
            Err(e) => Err(HostError::io(format!("locking {}", f.path), &e)),
        }
    }

    /// `unlock`.
    pub(crate) fn unlock(&mut self, h: u32) -> HostResult<i32> {
        let f = self.file(h)?;
        f.unlock()
            .map_err(|e| HostError::io(format!("unlocking {}", f.path), &e))?;
        Ok(0)
    }
}

/// What `create_dir`, `remove_file` and `remove_dir` do.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    /// `create_dir`.
    CreateDir,
    /// `remove_file`.
    RemoveFile,
    /// `remove_dir`.
    RemoveDir,
}

/// `lock`: wait for an advisory lock.
async fn lock<T: 'static>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> FsView<'_>,
    h: u32,
    exclusive: u32,
) -> HostResult<i32> {
    let kind = lock_kind(exclusive)?;
    let f = get(c.data_mut()).file(h)?;
    f.lock(kind)
        .await
        .map_err(|e| HostError::io(format!("locking {}", f.path), &e))?;
    Ok(0)
}

/// Add `warren:fs` to `linker`; `get` projects the store data onto its view.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> FsView<'_>,
) -> anyhow::Result<()> {
    crate::host_calls!(linker: T, FS_MODULE, get, {
        // open(path_ptr, path_len, flags) -> i64: a file handle. flags: OPEN_* bits (READ 1,
        // WRITE 2, CREATE 4, TRUNCATE 8, APPEND 16, CREATE_NEW 32; others ERR_BAD_ARGUMENT);
        // no READ/WRITE/APPEND bit means read-only.
        fn open(ptr: u32, len: u32, flags: u32) => |v, mem| v.open(mem, ptr, len, flags);

        // seek(h, offset, whence) -> i64: move the file's cursor; whence 0 = start, 1 =
        // current, 2 = end (else ERR_BAD_ARGUMENT). Returns the new position.
        fn seek(h: u32, offset: i64, whence: u32) => |v| v.seek(h, offset, whence);

        // stat(h, out) -> i32: metadata of an open file (24 bytes at out, see docs/abi.md).
        fn stat(h: u32, out: u32) => |v, mem| v.stat(mem, h, out);

        // stat_path(path_ptr, path_len, out) -> i32: metadata of a path (not following a
        // final symlink), 24 bytes at out.
        fn stat_path(ptr: u32, len: u32, out: u32) => |v, mem| v.stat_path(mem, (ptr, len), out);

        // read_dir(path_ptr, path_len, buf, cap) -> i64: the directory's entries, each a kind
        // byte (as in stat), the name, and a NUL, at buf if they fit in cap; returns their
        // total length (larger than cap: call again with a larger buffer).
        fn read_dir(ptr: u32, len: u32, buf: u32, cap: u32)
            => |v, mem| v.read_dir(mem, (ptr, len), (buf, cap));

        // create_dir(path_ptr, path_len) -> i32.
        fn create_dir(ptr: u32, len: u32) => |v, mem| v.change(mem, (ptr, len), Change::CreateDir);

        // remove_file(path_ptr, path_len) -> i32.
        fn remove_file(ptr: u32, len: u32) => |v, mem| v.change(mem, (ptr, len), Change::RemoveFile);

        // remove_dir(path_ptr, path_len) -> i32: an empty directory.
        fn remove_dir(ptr: u32, len: u32) => |v, mem| v.change(mem, (ptr, len), Change::RemoveDir);

        // rename(from_ptr, from_len, to_ptr, to_len) -> i32: both paths under granted
        // directories (possibly different ones on the same file system).
        fn rename(fptr: u32, flen: u32, tptr: u32, tlen: u32)
            => |v, mem| v.rename(mem, (fptr, flen), (tptr, tlen));

        // read_via_stream(h, offset, out) -> i32: (byte-stream, future) reading the file from
        // `offset` to its end, as two u32 at out. The stream keeps the file open.
        fn read_via_stream(h: u32, offset: u64, out: u32)
            => |v, mem| v.read_via_stream(mem, h, offset, out);

        // write_via_stream(h, stream, offset) -> i64: a future; a host pump writes the
        // readable `stream` (a byte-stream moves into it) into the file from `offset` on.
        // Resolves with the bytes written.
        fn write_via_stream(h: u32, stream: u32, offset: u64)
            => |v| v.write_via_stream(h, stream, Some(offset));

        // append_via_stream(h, stream) -> i64: as write_via_stream, at the file's end.
        fn append_via_stream(h: u32, stream: u32) => |v| v.write_via_stream(h, stream, None);

        // lock(h, exclusive) -> i32: wait for a shared (0) or exclusive (1) advisory lock
        // (another mode: ERR_BAD_ARGUMENT).
        async fn lock(h: u32, exclusive: u32) => |c| lock(c, get, h, exclusive);

        // try_lock(h, exclusive) -> i32: 0 if taken, ERR_WOULD_BLOCK if another holder has it.
        fn try_lock(h: u32, exclusive: u32) => |v| v.try_lock(h, exclusive);

        // unlock(h) -> i32.
        fn unlock(h: u32) => |v| v.unlock(h);
    });
    Ok(())
}

fn clear_nonblocking(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a file descriptor this function borrows open; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

fn lock_kind(exclusive: u32) -> HostResult<LockKind> {
    match exclusive {
        0 => Ok(LockKind::Shared),
        1 => Ok(LockKind::Exclusive),
        _ => Err(HostError::bad_argument(format!(
            "invalid lock mode {exclusive}"
        ))),
    }
}
