//! `warren:fs`: files and directories under the granted directories.
//!
//! Paths are guest paths (`/data/log.txt`), resolved against the grants of `--dir
//! host[:guest]` — the same ones WASI preview 1 preopens for the guest's `std::fs`. Anything
//! that would leave a granted directory (`..`, symlinks pointing out) is refused with
//! `ERR_DENIED`, as is a path under no grant. A file handle reads and writes at its cursor
//! through `warren:stream.read`/`write`; `read_via_stream`, `write_via_stream` and
//! `append_via_stream` are the stream-and-future forms. Advisory locks belong to the open
//! file and are released by `unlock` or when its last reference (handles and streams) goes.

use super::abi::*;
use super::guest_memory;
use super::io_bridge::{self, bad_handle, failed, install, io_failed};
use super::stream::start_copy;
use crate::io::file::{FileObj, FileReader, FileWriter, LockKind};
use crate::io::{Grants, IoFailure, Pumps};
use crate::resources::{Resource, ResourceTable};
use std::io::SeekFrom;
use std::sync::{Arc, Mutex};
use wasmtime::{Caller, Linker, Memory};

/// The view `warren:fs` needs.
pub struct FsView<'a> {
    pub table: &'a mut ResourceTable,
    pub memory: &'a mut Option<Memory>,
    pub grants: &'a Arc<Grants>,
    pub pumps: &'a Arc<Pumps>,
}

pub const FILE: &str = "file";

/// Longest path accepted.
const MAX_PATH: u32 = 4096;

/// Read a path argument; `Err(code)` if it is not text.
fn path_arg<T>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> FsView<'_>,
    ptr: u32,
    len: u32,
    call: &'static str,
) -> wasmtime::Result<Result<(Memory, String), i64>> {
    io_bridge::text_arg(
        c,
        |d| get(d).memory,
        |d| get(d).table,
        (ptr, len, MAX_PATH),
        "path",
        call,
    )
}

/// Run `f` on the directory and relative path a guest path resolves to; failures become
/// codes with the path in the message.
fn with_path<T, R>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> FsView<'_>,
    path: &str,
    call: &'static str,
    what: &str,
    f: impl FnOnce(&cap_std::fs::Dir, &std::path::Path) -> std::io::Result<R>,
) -> Result<R, i64> {
    let v = get(c.data_mut());
    let grants = v.grants.clone();
    let (dir, rel) = match grants.resolve(path) {
        Ok(x) => x,
        Err(fail) => return Err(failed(v.table, call, fail)),
    };
    f(dir, &rel).map_err(|e| io_failed(v.table, call, format!("{what} {path}"), &e))
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

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> FsView<'_>,
) -> anyhow::Result<()> {
    let m = FS_MODULE;

    // open(path_ptr, path_len, flags) -> i64: a file handle. flags: OPEN_* bits (READ 1,
    // WRITE 2, CREATE 4, TRUNCATE 8, APPEND 16, CREATE_NEW 32); no READ/WRITE/APPEND bit
    // means read-only.
    linker.func_wrap(
        m,
        "open",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32, flags: u32| {
            const CALL: &str = "warren:fs.open";
            if flags & !OPEN_ALL != 0 {
                return Err(io_bridge::trap(
                    CALL,
                    format!("unknown open flags {flags:#x}"),
                ));
            }
            let (_, path) = match path_arg(&mut c, get, ptr, len, CALL)? {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
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
            let file = match with_path(&mut c, get, &path, CALL, "opening", |d, p| {
                d.open_with(p, &o)
            }) {
                Ok(f) => f.into_std(),
                Err(code) => return Ok(code),
            };
            match file.metadata() {
                Ok(m) if m.is_file() || m.is_dir() => {}
                Ok(m) => {
                    return Ok(failed(
                        get(c.data_mut()).table,
                        CALL,
                        IoFailure::new(
                            ERR_DENIED,
                            format!(
                                "opening {path}: not a regular file ({:?}); FIFOs, devices and \
                                 sockets cannot be opened",
                                m.file_type()
                            ),
                        ),
                    ));
                }
                Err(e) => {
                    return Ok(io_failed(
                        get(c.data_mut()).table,
                        CALL,
                        format!("opening {path}"),
                        &e,
                    ));
                }
            }
            // Regular files ignore O_NONBLOCK, but clear it so the description is as usual.
            clear_nonblocking(&file);
            let obj = FileObj::new(file, path);
            wasmtime::Result::Ok(install(
                get(c.data_mut()).table,
                CALL,
                Resource::new(FILE, Arc::new(obj)),
            ))
        },
    )?;

    // seek(h, offset, whence) -> i64: move the file's cursor; whence 0 = start, 1 = current,
    // 2 = end. Returns the new position.
    linker.func_wrap(
        m,
        "seek",
        move |mut c: Caller<'_, T>, h: u32, offset: i64, whence: u32| {
            const CALL: &str = "warren:fs.seek";
            let pos = match whence {
                0 => match u64::try_from(offset) {
                    Ok(o) => SeekFrom::Start(o),
                    Err(_) => {
                        return Ok(failed(
                            get(c.data_mut()).table,
                            CALL,
                            IoFailure::new(ERR_BAD_ARGUMENT, "a negative offset from the start"),
                        ));
                    }
                },
                1 => SeekFrom::Current(offset),
                2 => SeekFrom::End(offset),
                _ => return Err(io_bridge::trap(CALL, format!("invalid whence {whence}"))),
            };
            let table = get(c.data_mut()).table;
            let f = match table.get_as::<FileObj>(h, FILE) {
                Ok(f) => f,
                Err(e) => return Ok(bad_handle(table, CALL, e)),
            };
            wasmtime::Result::Ok(match f.seek(pos) {
                Ok(p) => p as i64,
                Err(e) => io_failed(table, CALL, format!("seeking in {}", f.path), &e),
            })
        },
    )?;

    // stat(h, out) -> i32: metadata of an open file (24 bytes at out, see docs/abi.md).
    linker.func_wrap(m, "stat", move |mut c: Caller<'_, T>, h: u32, out: u32| {
        const CALL: &str = "warren:fs.stat";
        let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
        guest_memory::range(mem.data_size(&c), out, 24, CALL)?;
        let table = get(c.data_mut()).table;
        let f = match table.get_as::<FileObj>(h, FILE) {
            Ok(f) => f,
            Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
        };
        match f.file().metadata() {
            Ok(md) => {
                let ft = md.file_type();
                let bytes = encode_metadata(
                    md.len(),
                    md.modified().ok(),
                    kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink()),
                    md.permissions().readonly(),
                );
                guest_memory::write(&mut c, mem, out, &bytes, CALL)?;
                Ok(0)
            }
            Err(e) => Ok(io_failed(table, CALL, format!("stat of {}", f.path), &e) as i32),
        }
    })?;

    // stat_path(path_ptr, path_len, out) -> i32: metadata of a path (not following a final
    // symlink), 24 bytes at out.
    linker.func_wrap(
        m,
        "stat_path",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32, out: u32| {
            const CALL: &str = "warren:fs.stat_path";
            let (mem, path) = match path_arg(&mut c, get, ptr, len, CALL)? {
                Ok(p) => p,
                Err(code) => return Ok(code as i32),
            };
            guest_memory::range(mem.data_size(&c), out, 24, CALL)?;
            match with_path(&mut c, get, &path, CALL, "stat of", |d, p| {
                d.symlink_metadata(p)
            }) {
                Ok(md) => {
                    let ft = md.file_type();
                    let bytes = encode_metadata(
                        md.len(),
                        md.modified().ok().map(|t| t.into_std()),
                        kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink()),
                        md.permissions().readonly(),
                    );
                    guest_memory::write(&mut c, mem, out, &bytes, CALL)?;
                    Ok(0)
                }
                Err(code) => Ok(code as i32),
            }
        },
    )?;

    // read_dir(path_ptr, path_len, buf, cap) -> i64: the directory's entries, each a kind
    // byte (as in stat), the name, and a NUL, at buf if they fit in cap; returns their total
    // length (larger than cap: call again with a larger buffer).
    linker.func_wrap(
        m,
        "read_dir",
        move |mut c: Caller<'_, T>, ptr: u32, len: u32, buf: u32, cap: u32| {
            const CALL: &str = "warren:fs.read_dir";
            let (mem, path) = match path_arg(&mut c, get, ptr, len, CALL)? {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            let listing = with_path(&mut c, get, &path, CALL, "listing", |d, p| {
                let mut out = Vec::new();
                let mut entries: Vec<(u8, String)> = Vec::new();
                for e in d.read_dir(p)? {
                    let e = e?;
                    let ft = e.file_type()?;
                    let kind = kind_of(ft.is_file(), ft.is_dir(), ft.is_symlink()) as u8;
                    entries.push((kind, e.file_name().to_string_lossy().into_owned()));
                }
                entries.sort_by(|a, b| a.1.cmp(&b.1));
                for (kind, name) in entries {
                    out.push(kind);
                    out.extend_from_slice(name.as_bytes());
                    out.push(0);
                }
                Ok(out)
            });
            match listing {
                Ok(bytes) => io_bridge::write_text(&mut c, mem, buf, cap, &bytes, CALL),
                Err(code) => Ok(code),
            }
        },
    )?;

    // create_dir / remove_file / remove_dir (path_ptr, path_len) -> i32.
    for name in ["create_dir", "remove_file", "remove_dir"] {
        linker.func_wrap(m, name, move |mut c: Caller<'_, T>, ptr: u32, len: u32| {
            let call: &'static str = match name {
                "create_dir" => "warren:fs.create_dir",
                "remove_file" => "warren:fs.remove_file",
                _ => "warren:fs.remove_dir",
            };
            let (_, path) = match path_arg(&mut c, get, ptr, len, call)? {
                Ok(p) => p,
                Err(code) => return Ok(code as i32),
            };
            let r = with_path(&mut c, get, &path, call, name, |d, p| match name {
                "create_dir" => d.create_dir(p),
                "remove_file" => d.remove_file(p),
                _ => d.remove_dir(p),
            });
            wasmtime::Result::Ok(match r {
                Ok(()) => 0,
                Err(code) => code as i32,
            })
        })?;
    }

    // rename(from_ptr, from_len, to_ptr, to_len) -> i32: both paths under granted
    // directories (possibly different ones on the same file system).
    linker.func_wrap(
        m,
        "rename",
        move |mut c: Caller<'_, T>, fptr: u32, flen: u32, tptr: u32, tlen: u32| {
            const CALL: &str = "warren:fs.rename";
            let (_, from) = match path_arg(&mut c, get, fptr, flen, CALL)? {
                Ok(p) => p,
                Err(code) => return Ok(code as i32),
            };
            let (_, to) = match path_arg(&mut c, get, tptr, tlen, CALL)? {
                Ok(p) => p,
                Err(code) => return Ok(code as i32),
            };
            let v = get(c.data_mut());
            let grants = v.grants.clone();
            let resolved = grants
                .resolve(&from)
                .and_then(|a| Ok((a, grants.resolve(&to)?)));
            let ((fd, fp), (td, tp)) = match resolved {
                Ok(x) => x,
                Err(f) => return Ok(failed(v.table, CALL, f) as i32),
            };
            wasmtime::Result::Ok(match fd.rename(&fp, td, &tp) {
                Ok(()) => 0,
                Err(e) => io_failed(v.table, CALL, format!("renaming {from} to {to}"), &e) as i32,
            })
        },
    )?;

    // read_via_stream(h, offset, out) -> i32: (byte-stream, future) reading the file from
    // `offset` to its end, as two u32 at out. The stream keeps the file open.
    linker.func_wrap(
        m,
        "read_via_stream",
        move |mut c: Caller<'_, T>, h: u32, offset: u64, out: u32| {
            const CALL: &str = "warren:fs.read_via_stream";
            let mem = guest_memory::memory(&mut c, |d| get(d).memory, CALL)?;
            let table = get(c.data_mut()).table;
            let f = match table.get_as::<FileObj>(h, FILE) {
                Ok(f) => f,
                Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
            };
            let what = format!("file {}", f.path);
            let source = FileReader {
                file: f,
                pos: Mutex::new(offset),
            };
            super::stream::install_stream(&mut c, |d| get(d).table, mem, out, source, what, CALL)
        },
    )?;

    // write_via_stream(h, stream, offset) -> i64 / append_via_stream(h, stream) -> i64: a
    // future; a host pump writes the readable `stream` (a byte-stream moves into it) into
    // the file from `offset` on, or at its end. Resolves with the bytes written.
    linker.func_wrap(
        m,
        "write_via_stream",
        move |mut c: Caller<'_, T>, h: u32, stream: u32, offset: u64| {
            let r = via_stream(
                &mut c,
                get,
                "warren:fs.write_via_stream",
                h,
                stream,
                Some(offset),
            );
            wasmtime::Result::Ok(r)
        },
    )?;
    linker.func_wrap(
        m,
        "append_via_stream",
        move |mut c: Caller<'_, T>, h: u32, stream: u32| {
            let r = via_stream(&mut c, get, "warren:fs.append_via_stream", h, stream, None);
            wasmtime::Result::Ok(r)
        },
    )?;

    // lock(h, exclusive) -> i32: wait for a shared (0) or exclusive (1) advisory lock.
    linker.func_wrap_async(
        m,
        "lock",
        move |mut c: Caller<'_, T>, (h, exclusive): (u32, u32)| {
            Box::new(async move {
                const CALL: &str = "warren:fs.lock";
                let kind = lock_kind(exclusive, CALL)?;
                let table = get(c.data_mut()).table;
                let f = match table.get_as::<FileObj>(h, FILE) {
                    Ok(f) => f,
                    Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
                };
                let r = f.lock(kind).await;
                Ok(match r {
                    Ok(()) => 0,
                    Err(e) => io_failed(
                        get(c.data_mut()).table,
                        CALL,
                        format!("locking {}", f.path),
                        &e,
                    ) as i32,
                })
            })
        },
    )?;

    // try_lock(h, exclusive) -> i32: 0 if taken, ERR_WOULD_BLOCK if another holder has it.
    linker.func_wrap(
        m,
        "try_lock",
        move |mut c: Caller<'_, T>, h: u32, exclusive: u32| {
            const CALL: &str = "warren:fs.try_lock";
            let kind = lock_kind(exclusive, CALL)?;
            let table = get(c.data_mut()).table;
            let f = match table.get_as::<FileObj>(h, FILE) {
                Ok(f) => f,
                Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
            };
            wasmtime::Result::Ok(match f.try_lock(kind) {
                Ok(true) => 0,
                Ok(false) => ERR_WOULD_BLOCK,
                Err(e) => io_failed(table, CALL, format!("locking {}", f.path), &e) as i32,
            })
        },
    )?;

    // unlock(h) -> i32.
    linker.func_wrap(m, "unlock", move |mut c: Caller<'_, T>, h: u32| {
        const CALL: &str = "warren:fs.unlock";
        let table = get(c.data_mut()).table;
        let f = match table.get_as::<FileObj>(h, FILE) {
            Ok(f) => f,
            Err(e) => return Ok(bad_handle(table, CALL, e) as i32),
        };
        wasmtime::Result::Ok(match f.unlock() {
            Ok(()) => 0,
            Err(e) => io_failed(table, CALL, format!("unlocking {}", f.path), &e) as i32,
        })
    })?;
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

fn lock_kind(exclusive: u32, call: &'static str) -> wasmtime::Result<LockKind> {
    match exclusive {
        0 => Ok(LockKind::Shared),
        1 => Ok(LockKind::Exclusive),
        _ => Err(io_bridge::trap(
            call,
            format!("invalid lock mode {exclusive}"),
        )),
    }
}

fn via_stream<T>(
    c: &mut Caller<'_, T>,
    get: fn(&mut T) -> FsView<'_>,
    call: &'static str,
    h: u32,
    stream: u32,
    offset: Option<u64>,
) -> i64 {
    let v = get(c.data_mut());
    let f = match v.table.get_as::<FileObj>(h, FILE) {
        Ok(f) => f,
        Err(e) => return bad_handle(v.table, call, e),
    };
    let what = format!("writing {}", f.path);
    let sink = Arc::new(FileWriter {
        file: f,
        pos: Mutex::new(offset),
    });
    start_copy(v.table, v.pumps, call, stream, sink, what)
}
