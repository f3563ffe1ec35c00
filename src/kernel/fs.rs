//! Descriptors and the file syscalls.
//!
//! The descriptor table starts with the program's stdin, stdout and stderr,
//! which are kvmcage's own; no other host descriptor is ever reachable. The
//! guest has no filesystem yet: every path lookup ends in ENOENT except the
//! few names Linux itself provides (`/proc/self/exe`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

use rustix::fs::OFlags;
use rustix::io::Errno;

use super::abi::{AsBytes, Flock, Iovec, Pollfd, Stat, Statfs, Timespec, Timeval};
use super::signal::{SIGPIPE, SIGXFSZ};
use super::wait;
use super::{int, Args, Ctx, Exit, SysResult};
use crate::mm::uaccess::{access_ok, MAX_RW_COUNT};
use crate::vm::layout::PAGE_SIZE;

/// Linux's UIO_MAXIOV.
const UIO_MAXIOV: u64 = 1024;
/// Host-side buffer per step of a read or write.
const CHUNK: usize = 64 << 10;
/// Default RLIMIT_NOFILE soft limit.
pub const NOFILE: usize = 1024;

/// A /dev node kvmcage emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dev {
    Null,
    Zero,
    Full,
    Random,
}

impl Dev {
    /// The device number Linux gives it (major 1).
    pub fn rdev(self) -> u64 {
        let minor = match self {
            Dev::Null => 3,
            Dev::Zero => 5,
            Dev::Full => 7,
            Dev::Random => 8,
        };
        rustix::fs::makedev(1, minor)
    }
}

/// What an open descriptor refers to.
#[derive(Debug)]
pub enum FileKind {
    /// One of the program's standard streams: kvmcage's own fd 0, 1 or 2,
    /// or the descriptor the embedder gave (`Sandbox::stdout`...).
    Stdio(RawFd),
    /// A host file, directory or pipe, opened O_CLOEXEC inside a mount (or
    /// made by pipe2). `writable` is false on a read-only mount.
    Host { fd: OwnedFd, writable: bool },
    /// An emulated /dev node.
    Dev(Dev),
    /// A directory that exists only in the guest's namespace (`/`, parents
    /// of mount points, /dev, /proc/self): its entries. Made again when
    /// read from offset 0 (/proc/self/fd then shows the descriptor that
    /// reads it, as on Linux).
    Dir(parking_lot::Mutex<Vec<(Vec<u8>, u8)>>),
    /// A read-only text file generated when opened (/proc/self/maps).
    /// Made again when read from offset 0, as Linux's seq files.
    Text(parking_lot::Mutex<Vec<u8>>),
    /// A signalfd: the signals it takes.
    SignalFd(crate::kernel::SyncCell<u64>),
    /// /proc/PID/mem or pagemap of the process `pid` that opened it.
    Mem {
        which: crate::kernel::procmem::MemFile,
        pid: u32,
    },
}

/// How a host file's metadata is shown to the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// The st_dev the guest sees (a mount's own number), if not the host's.
    pub dev: Option<u64>,
    /// Files owned by kvmcage's host user appear owned by the program
    /// (true in writable mounts, where the program made them).
    pub owned: bool,
}

#[derive(Debug)]
pub struct OpenFile {
    pub kind: FileKind,
    /// The guest path it was opened by (for *at calls and /proc/self/fd).
    pub path: Vec<u8>,
    /// O_ACCMODE and status flags as opened (F_SETFL and FIONBIO change
    /// O_APPEND and O_NONBLOCK of kvmcage's own files here; a host file's
    /// are the host's).
    pub flags: crate::kernel::SyncCell<u32>,
    /// Position in a Dir or Text file.
    pub pos: crate::kernel::SyncCell<u64>,
    /// How its metadata is shown.
    pub view: View,
    /// A --tmpfs inode: its hold on the tmpfs's size accounting.
    pub tmpfs: Option<crate::sandbox::quota::Hold>,
    /// `never_blocks`, found out once (a descriptor's file type is fixed).
    never_blocks: std::sync::OnceLock<bool>,
}

impl OpenFile {
    pub fn new(kind: FileKind, path: Vec<u8>, flags: u32) -> Self {
        Self {
            kind,
            path,
            flags: crate::kernel::SyncCell::new(flags),
            pos: crate::kernel::SyncCell::new(0),
            view: View::default(),
            tmpfs: None,
            never_blocks: std::sync::OnceLock::new(),
        }
    }

    /// The tmpfs quota this file's writes count against.
    pub fn quota(&self) -> Option<&crate::sandbox::quota::Quota> {
        self.tmpfs.as_ref().map(|h| h.quota())
    }

    /// The host descriptor behind it, if it has one.
    pub fn host(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            // SAFETY: a Stdio descriptor is kvmcage's own 0-2 (open for the
            // life of the process; kvmcage never closes them) or one the
            // Sandbox holds open until the run, and so this file, is over
            // (Files::stdio_from).
            FileKind::Stdio(fd) => Some(unsafe { BorrowedFd::borrow_raw(*fd) }),
            FileKind::Host { fd, .. } => Some(fd.as_fd()),
            _ => None,
        }
    }

    /// The host descriptor, or EBADF for kvmcage's own files (which have
    /// none: no host call is ever made on them).
    fn host_fd(&self) -> Result<BorrowedFd<'_>, Errno> {
        self.host().ok_or(Errno::BADF)
    }

    pub fn readable(&self) -> bool {
        self.flags.get() & 3 != libc::O_WRONLY as u32
    }

    pub fn writable(&self) -> bool {
        self.flags.get() & 3 != libc::O_RDONLY as u32
    }
}

#[derive(Clone, Debug)]
struct Slot {
    file: Arc<OpenFile>,
    cloexec: bool,
}

/// A descriptor table (Linux's files_struct): the threads and processes
/// that share it (CLONE_FILES) hold handles to one table. Its lock is a
/// leaf (PROCESSES.md 6): held for a lookup or an update, never across
/// another lock; a file a change drops is dropped after it is let go.
#[derive(Debug)]
pub struct Files {
    table: Arc<parking_lot::Mutex<Vec<Option<Slot>>>>,
}

impl Files {
    fn from_slots(slots: Vec<Option<Slot>>) -> Self {
        Self {
            table: Arc::new(parking_lot::Mutex::new(slots)),
        }
    }

    /// Descriptors 0, 1 and 2 on kvmcage's own.
    pub fn stdio() -> Self {
        Self::stdio_from([0, 1, 2])
    }

    /// Descriptors 0, 1 and 2 on these host descriptors, which must stay
    /// open for the whole run (kvmcage's own 0-2, or descriptors the
    /// `Sandbox` holds until the run returns).
    pub fn stdio_from(host: [RawFd; 3]) -> Self {
        // The host descriptor decides what stdio may do; the guest's view
        // does not restrict it further.
        let slot = |(guest, fd): (usize, RawFd)| {
            Some(Slot {
                file: Arc::new(OpenFile::new(
                    FileKind::Stdio(fd),
                    format!("/dev/fd/{guest}").into_bytes(),
                    libc::O_RDWR as u32,
                )),
                cloexec: false,
            })
        };
        Self::from_slots(host.into_iter().enumerate().map(slot).collect())
    }

    fn get(&self, fd: i32) -> Result<Slot, Errno> {
        let t = self.table.lock();
        usize::try_from(fd)
            .ok()
            .and_then(|i| t.get(i))
            .and_then(|s| s.clone())
            .ok_or(Errno::BADF)
    }

    pub fn file(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.get(fd).map(|s| s.file)
    }

    pub fn is_open(&self, fd: i32) -> bool {
        self.get(fd).is_ok()
    }

    /// Whether descriptor `fd` is close-on-exec.
    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.get(fd).map(|s| s.cloexec)
    }

    /// Install `slot` at the lowest free descriptor in [min, limit).
    fn install_lowest(&self, min: usize, limit: usize, slot: Slot) -> Result<i32, Errno> {
        let mut t = self.table.lock();
        let fd = (min..)
            .find(|&i| t.get(i).is_none_or(|s| s.is_none()))
            .ok_or(Errno::MFILE)?;
        if fd >= limit {
            return Err(Errno::MFILE);
        }
        if t.len() <= fd {
            t.resize(fd + 1, None);
        }
        t[fd] = Some(slot);
        Ok(fd as i32)
    }

    /// Install a new file at the lowest free descriptor below `limit`.
    pub fn open(&self, file: OpenFile, cloexec: bool, limit: usize) -> Result<i32, Errno> {
        self.share(Arc::new(file), cloexec, limit)
    }

    /// The size of the descriptor table as Linux would have grown it.
    pub fn capacity(&self) -> usize {
        self.table.lock().len().next_power_of_two().max(64)
    }

    /// The open descriptors, in order.
    pub fn fds(&self) -> Vec<(i32, Arc<OpenFile>)> {
        self.table
            .lock()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as i32, s.file.clone())))
            .collect()
    }

    /// The open descriptors and their files' paths, in order (no file is
    /// held past the call).
    pub fn paths(&self) -> Vec<(i32, Vec<u8>)> {
        self.table
            .lock()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as i32, s.file.path.clone())))
            .collect()
    }

    /// Install another descriptor for an open file (dup-like).
    pub fn share(&self, file: Arc<OpenFile>, cloexec: bool, limit: usize) -> Result<i32, Errno> {
        self.install_lowest(0, limit, Slot { file, cloexec })
    }

    /// dup and F_DUPFD: another descriptor for `old`'s file, the lowest
    /// free one in [min, limit).
    pub fn dup(&self, old: i32, min: usize, limit: usize, cloexec: bool) -> Result<i32, Errno> {
        let file = self.file(old)?;
        self.install_lowest(min, limit, Slot { file, cloexec })
    }

    /// dup2/dup3: `new` names `old`'s file (closing what it named).
    pub fn dup_to(&self, old: i32, new: usize, cloexec: bool) -> Result<(), Errno> {
        let gone = {
            let mut t = self.table.lock();
            let file = usize::try_from(old)
                .ok()
                .and_then(|i| t.get(i))
                .and_then(|s| s.as_ref())
                .ok_or(Errno::BADF)?
                .file
                .clone();
            if t.len() <= new {
                t.resize(new + 1, None);
            }
            t[new].replace(Slot { file, cloexec })
        };
        drop(gone);
        Ok(())
    }

    /// F_SETFD, FIOCLEX/FIONCLEX.
    pub fn set_cloexec(&self, fd: i32, on: bool) -> Result<(), Errno> {
        let mut t = self.table.lock();
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| t.get_mut(i))
            .and_then(|s| s.as_mut())
            .ok_or(Errno::BADF)?;
        slot.cloexec = on;
        Ok(())
    }

    /// close(2): EBADF if `fd` is not open.
    pub fn remove(&self, fd: i32) -> Result<(), Errno> {
        let gone = {
            let mut t = self.table.lock();
            usize::try_from(fd)
                .ok()
                .and_then(|i| t.get_mut(i))
                .and_then(Option::take)
                .ok_or(Errno::BADF)?
        };
        drop(gone);
        Ok(())
    }

    /// Close `fd` if it still names `file` (undoing an install when the
    /// call fails after it; a process sharing the table may have closed
    /// and reused the number meanwhile).
    pub fn remove_if(&self, fd: i32, file: &Arc<OpenFile>) {
        let gone = {
            let mut t = self.table.lock();
            usize::try_from(fd)
                .ok()
                .and_then(|i| t.get_mut(i))
                .filter(|s| s.as_ref().is_some_and(|s| Arc::ptr_eq(&s.file, file)))
                .and_then(Option::take)
        };
        drop(gone);
    }

    /// close_range: close (or mark close-on-exec) the open descriptors in
    /// [first, last]; the walk is over the table, never the range.
    pub fn close_range(&self, first: u32, last: u32, cloexec: bool) {
        let mut gone = Vec::new();
        {
            let mut t = self.table.lock();
            let end = t.len().min(last as usize + 1);
            for s in t.get_mut(first as usize..end).into_iter().flatten() {
                if cloexec {
                    if let Some(s) = s {
                        s.cloexec = true;
                    }
                } else if let Some(s) = s.take() {
                    gone.push(s);
                }
            }
        }
        drop(gone);
    }

    /// A copy of the table: the same open file descriptions (one offset,
    /// one host descriptor), its own slots (fork, unshare(CLONE_FILES)).
    pub fn copy(&self) -> Self {
        Self::from_slots(self.table.lock().clone())
    }

    /// Another handle to the same table (CLONE_FILES).
    pub fn handle(&self) -> Self {
        Self {
            table: self.table.clone(),
        }
    }

    /// Whether another thread or process holds this table too.
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.table) > 1
    }

    /// Whether `other` is a handle to this same table.
    pub fn same(&self, other: &Files) -> bool {
        Arc::ptr_eq(&self.table, &other.table)
    }

    /// unshare(CLONE_FILES): a table of its own, if another holds this one.
    pub fn unshare(&mut self) {
        if self.is_shared() {
            *self = self.copy();
        }
    }

    /// The holder ends: its handle goes (the table closes with its last
    /// holder).
    pub fn close_all(&mut self) {
        let gone = std::mem::replace(self, Self::from_slots(Vec::new()));
        drop(gone);
    }

    /// execve: a table of its own (Linux's unshare_files), without the
    /// close-on-exec descriptors.
    pub fn close_on_exec(&mut self) {
        self.unshare();
        let mut gone = Vec::new();
        {
            let mut t = self.table.lock();
            for s in t.iter_mut() {
                if s.as_ref().is_some_and(|s| s.cloexec) {
                    gone.push(s.take());
                }
            }
        }
        drop(gone);
    }
}

/// Can a host read or write of `fd` block: a pipe, socket or terminal
/// without O_NONBLOCK (regular files and directories never do)?
pub(super) fn may_block(fd: BorrowedFd<'_>) -> bool {
    let Ok(st) = rustix::fs::fstat(fd) else {
        return false;
    };
    use rustix::fs::FileType as T;
    if matches!(
        T::from_raw_mode(st.st_mode),
        T::RegularFile | T::Directory | T::BlockDevice
    ) {
        return false;
    }
    rustix::fs::fcntl_getfl(fd).is_ok_and(|f| !f.contains(rustix::fs::OFlags::NONBLOCK))
}

/// Is `file` one of the program's own sockets (read and write go through
/// the socket code: a datagram is one message whatever its size)? The
/// standard streams stay on the plain path, with their output limits.
fn is_host_socket(file: &OpenFile) -> bool {
    matches!(&file.kind, FileKind::Host { fd, .. } if is_socket(fd.as_fd()))
}

/// Is `fd` a socket?
pub(super) fn is_socket(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstat(fd)
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_socket())
}

/// Can a host write of `fd` block? As `may_block`, but only for pipes,
/// sockets and terminals: an anonymous inode (a timerfd) that has no write
/// operation must reach the host at once for its EINVAL, not wait for a
/// POLLOUT that never comes.
fn may_block_write(fd: BorrowedFd<'_>) -> bool {
    use rustix::fs::FileType as T;
    may_block(fd)
        && rustix::fs::fstat(fd).is_ok_and(|st| {
            matches!(
                T::from_raw_mode(st.st_mode),
                T::Fifo | T::Socket | T::CharacterDevice
            )
        })
}

/// Bytes a write to the pipe `fd` can take without blocking (None when
/// `fd` is no pipe).
fn pipe_room(fd: BorrowedFd<'_>) -> Option<usize> {
    let cap = rustix::pipe::fcntl_getpipe_size(fd).ok()?;
    let queued = rustix::io::ioctl_fionread(fd).ok()? as usize;
    Some(cap.saturating_sub(queued))
}

/// Write all of `buf` to a host descriptor. A descriptor that may block is
/// written only as far as it takes without blocking, waiting in between in
/// `wait::block_on`: a signal for the program or the run's end stops the
/// write with what it wrote (ERESTARTSYS if nothing).
fn host_write_all(cx: &mut Ctx, fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<usize, Errno> {
    let blocking = may_block_write(fd);
    let mut done = 0;
    while !buf.is_empty() {
        let mut part = buf;
        if blocking {
            if !wait::wait_fd(cx, fd, libc::POLLOUT)? {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(wait::ERESTARTSYS)
                };
            }
            if let Some(room) = pipe_room(fd) {
                // POLLOUT promises at least PIPE_BUF bytes of room.
                part = &buf[..buf.len().min(room.max(libc::PIPE_BUF))];
            }
        }
        // A blocking descriptor that cannot be waited on for room (an
        // eventfd near its limit) writes with the kick unblocked, so a
        // signal or the run's end interrupts it.
        let r = if blocking || may_block(fd) {
            wait::interruptible(cx, || rustix::io::write(fd, part))
        } else {
            rustix::io::write(fd, part)
        };
        match r {
            Err(Errno::INTR) if !blocking && done == 0 => return Err(wait::ERESTARTSYS),
            Err(Errno::INTR) if !blocking => break,
            Ok(0) => break,
            Ok(n) => {
                done += n;
                buf = &buf[n..];
            }
            Err(Errno::INTR) | Err(Errno::AGAIN) if blocking => continue,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Write `[buf, buf+count)` of guest memory to `file`, streaming; a fault
/// part-way gives the short count (EFAULT if nothing was written).
fn write_from_user(cx: &mut Ctx, file: &OpenFile, buf: u64, count: u64) -> SysResult {
    let mut count = count.min(MAX_RW_COUNT);
    if is_host_socket(file) {
        return super::socket::write_iov(cx, file, &[(buf, count)]);
    }
    match &file.kind {
        FileKind::Stdio(_) | FileKind::Host { .. } => {}
        FileKind::Mem { which, pid } if file.writable() => {
            let n = super::procmem::write(cx, *which, *pid, file.pos.get(), buf, count)?;
            file.pos.set(file.pos.get().wrapping_add(n));
            return Ok(n);
        }
        // /dev/null and friends take everything without reading it.
        FileKind::Dev(d) if file.writable() => {
            return match d {
                Dev::Full => Err(Errno::NOSPC),
                _ => Ok(count),
            }
        }
        _ => return Err(Errno::BADF),
    }
    if !access_ok(buf, count) {
        return Err(Errno::FAULT);
    }
    if is_pipe_like(file) {
        // pipe_write copies page-sized chunks and drops a chunk whose copy
        // faults: only whole chunks before the bad page are written.
        let readable = cx.user().readable_len(buf, count);
        if readable < count {
            count = readable - readable % PAGE_SIZE;
            if count == 0 {
                return Err(Errno::FAULT);
            }
        }
    }
    count = apply_write_limits(cx, file, None, count)?;
    let r = write_chunks(cx, file, buf, count);
    written(file);
    r
}

fn write_chunks(cx: &mut Ctx, file: &OpenFile, buf: u64, count: u64) -> SysResult {
    let mut done = 0u64;
    let mut tmp = vec![0u8; CHUNK.min(count as usize)];
    while done < count {
        let want = ((count - done) as usize).min(CHUNK);
        let got = cx.user().read_prefix(buf + done, &mut tmp[..want]);
        if got == 0 {
            break;
        }
        match host_write_all(cx, file.host_fd()?, &tmp[..got]) {
            Ok(n) => {
                done += n as u64;
                if n < got {
                    return Ok(done);
                }
            }
            Err(e) => {
                if done > 0 {
                    return Ok(done);
                }
                if e == Errno::PIPE && file.host().is_some_and(sigpipe_on_epipe) {
                    raise_sigpipe(cx);
                }
                return Err(e);
            }
        }
        if got < want {
            break;
        }
    }
    if done == 0 && count > 0 {
        return Err(Errno::FAULT);
    }
    Ok(done)
}

/// The one place every write to a host description passes: how many of
/// `count` bytes at `pos` (None: the file's position, or its end under
/// O_APPEND) may be written.
/// - --max-output: every write that reaches kvmcage's own stdin, stdout or
///   stderr description counts; the run is stopped once it is reached.
/// - RLIMIT_FSIZE (--max-file-size) on regular files: a short write up to
///   the limit, then SIGXFSZ and EFBIG, as Linux.
/// - a --tmpfs's size: a short write, then ENOSPC.
pub fn apply_write_limits(
    cx: &mut Ctx,
    file: &OpenFile,
    pos: Option<u64>,
    count: u64,
) -> Result<u64, Errno> {
    let mut count = count;
    if let FileKind::Stdio(_) = &file.kind {
        use std::sync::atomic::Ordering;
        // Counted as offered (a short host write may take less), for all
        // processes together.
        let before = cx.proc.output_written.fetch_add(count, Ordering::AcqRel);
        if let Some(max) = cx.proc.max_output {
            let left = max.saturating_sub(before);
            if count > left {
                cx.proc
                    .output_written
                    .fetch_sub(count - left, Ordering::AcqRel);
                count = left;
                cx.proc.exit = Some(Exit::OutputLimit(max));
            }
        }
    }
    let Some(host) = file.host() else {
        return Ok(count);
    };
    if let Some(q) = file.quota() {
        count = q.room(count)?;
    }
    if let Some(limit) = cx.proc.rlimits.fsize() {
        let Ok(st) = rustix::fs::fstat(host) else {
            return Ok(count);
        };
        if !rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() {
            return Ok(count);
        }
        let append = rustix::fs::fcntl_getfl(host).is_ok_and(|f| f.contains(OFlags::APPEND));
        let pos = match pos {
            // pwrite on an O_APPEND file appends too (Linux).
            _ if append => st.st_size as u64,
            Some(p) => p,
            None => rustix::fs::seek(host, rustix::fs::SeekFrom::Current(0)).unwrap_or(0),
        };
        match super::process::fsize_allows(Some(limit), pos, count) {
            Some(n) => count = n,
            None => return Err(file_too_big(cx)),
        }
    }
    Ok(count)
}

/// RLIMIT_FSIZE was crossed: SIGXFSZ (whose default action kills) and EFBIG.
pub fn file_too_big(cx: &mut Ctx) -> Errno {
    super::signal::send_to_self(cx, SIGXFSZ);
    Errno::FBIG
}

/// A size a file may be made (truncate, fallocate) under RLIMIT_FSIZE.
pub fn check_file_size(cx: &mut Ctx, end: u64) -> Result<(), Errno> {
    match cx.proc.rlimits.fsize() {
        Some(limit) if end > limit => Err(file_too_big(cx)),
        _ => Ok(()),
    }
}

/// After a write to `file`: a tmpfs counts what the host now holds.
fn written(file: &OpenFile) {
    if let (Some(q), Some(fd)) = (file.quota(), file.host()) {
        q.update(fd);
    }
}

/// Does the host descriptor behind `file` have pipe write semantics?
/// Does no read, write or seek of `file` ever wait: a regular file or
/// directory of the host (or a standard stream redirected to one), an
/// emulated device, generated /proc text? (The exitless gate's service
/// thread makes only such calls: `crate::exitless`.)
pub fn never_blocks(file: &OpenFile) -> bool {
    *file.never_blocks.get_or_init(|| never_blocks_now(file))
}

fn never_blocks_now(file: &OpenFile) -> bool {
    match &file.kind {
        FileKind::Dev(_) | FileKind::Dir(_) | FileKind::Text(_) => true,
        FileKind::Stdio(_) | FileKind::Host { .. } => file.host().is_some_and(|fd| {
            rustix::fs::fstat(fd).is_ok_and(|st| {
                matches!(
                    rustix::fs::FileType::from_raw_mode(st.st_mode),
                    rustix::fs::FileType::RegularFile | rustix::fs::FileType::Directory
                )
            })
        }),
        FileKind::SignalFd(_) | FileKind::Mem { .. } => false,
    }
}

fn is_pipe_like(file: &OpenFile) -> bool {
    let Some(fd) = file.host() else {
        return false;
    };
    rustix::fs::fstat(fd)
        .map(|st| {
            let t = rustix::fs::FileType::from_raw_mode(st.st_mode);
            matches!(t, rustix::fs::FileType::Fifo | rustix::fs::FileType::Socket)
        })
        .unwrap_or(false)
}

/// Would a read of `file` return 0 without copying anything: a regular
/// file at or past its end, /dev/null, or an empty pipe with no writer?
/// (An empty pipe that still has writers would block on Linux and fault
/// when data came; kvmcage answers EFAULT at once.)
fn at_eof(file: &OpenFile) -> bool {
    let Some(fd) = file.host() else {
        return false;
    };
    let Ok(st) = rustix::fs::fstat(fd) else {
        return false;
    };
    match rustix::fs::FileType::from_raw_mode(st.st_mode) {
        rustix::fs::FileType::RegularFile => rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0))
            .is_ok_and(|pos| pos >= st.st_size as u64),
        rustix::fs::FileType::CharacterDevice => {
            st.st_rdev == rustix::fs::makedev(1, 3) // /dev/null
        }
        // An empty pipe whose writers are gone.
        rustix::fs::FileType::Fifo => {
            let mut pfd = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            let hup = rustix::event::poll(&mut pfd, Some(&rustix::event::Timespec::default()))
                .is_ok_and(|_| pfd[0].revents().contains(rustix::event::PollFlags::HUP));
            hup && rustix::io::ioctl_fionread(fd).is_ok_and(|n| n == 0)
        }
        _ => false,
    }
}

/// Does EPIPE from `fd` come with SIGPIPE? Pipes and stream sockets
/// raise it; a seqpacket or datagram socket answers EPIPE alone (Linux's
/// unix_dgram_sendmsg).
pub(super) fn sigpipe_on_epipe(fd: BorrowedFd<'_>) -> bool {
    !is_socket(fd) || super::socket::sockopt_int(fd, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
}

/// EPIPE also sends SIGPIPE (its default action kills).
pub(super) fn raise_sigpipe(cx: &mut Ctx) {
    super::signal::send_to_self(cx, SIGPIPE);
}

/// Read from `file` into `[buf, buf+count)`: only as much as the buffer can
/// take is read from the host, so a bad buffer loses no input.
fn read_to_user(cx: &mut Ctx, file: &OpenFile, buf: u64, count: u64) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    if is_host_socket(file) {
        return super::socket::read_iov(cx, file, &[(buf, count)]);
    }
    if !matches!(file.kind, FileKind::Stdio(_) | FileKind::Host { .. }) {
        return read_emulated(cx, file, buf, count);
    }
    if count == 0 {
        return Ok(0);
    }
    if !access_ok(buf, count) {
        return Err(Errno::FAULT);
    }
    let room = cx.user().writable_len(buf, count.min(CHUNK as u64));
    if room == 0 {
        // Linux faults only when there is something to copy.
        return if at_eof(file) {
            Ok(0)
        } else {
            Err(Errno::FAULT)
        };
    }
    let mut tmp = vec![0u8; room as usize];
    let fd = file.host_fd()?;
    let blocking = may_block(fd);
    let n = loop {
        // A read that would block waits in the one waiting place first, so
        // a signal or the run's end interrupts it.
        if blocking && !wait::wait_fd(cx, fd, libc::POLLIN)? {
            return Err(wait::ERESTARTSYS);
        }
        let r = if blocking {
            wait::interruptible(cx, || rustix::io::read(fd, &mut tmp))
        } else {
            rustix::io::read(fd, &mut tmp)
        };
        match r {
            Err(Errno::INTR) | Err(Errno::AGAIN) if blocking => continue,
            r => break r?,
        }
    };
    cx.user().write(buf, &tmp[..n])?;
    Ok(n as u64)
}

/// read() of a file kvmcage emulates.
fn read_emulated(cx: &mut Ctx, file: &OpenFile, buf: u64, count: u64) -> SysResult {
    if !file.readable() {
        return Err(Errno::BADF);
    }
    let data: Vec<u8> = match &file.kind {
        FileKind::SignalFd(mask) => return read_signalfd(cx, file, mask.get(), buf, count),
        FileKind::Mem { which, pid } => {
            let n = super::procmem::read(cx, file, *which, *pid, file.pos.get(), buf, count)?;
            file.pos.set(file.pos.get().wrapping_add(n));
            return Ok(n);
        }
        FileKind::Dir(_) => return Err(Errno::ISDIR),
        FileKind::Dev(Dev::Null) => return Ok(0),
        FileKind::Dev(d @ (Dev::Zero | Dev::Full | Dev::Random)) => {
            return read_device(cx, *d, buf, count)
        }
        FileKind::Text(t) => {
            if file.pos.get() == 0 {
                super::path::regenerate(cx, file)?;
            }
            let t = t.lock();
            let pos = (file.pos.get() as usize).min(t.len());
            let n = (t.len() - pos).min(count as usize);
            t[pos..pos + n].to_vec()
        }
        _ => return Err(Errno::BADF),
    };
    if data.is_empty() {
        return Ok(0);
    }
    let n = cx.user().write_prefix(buf, &data);
    if n == 0 {
        return Err(Errno::FAULT);
    }
    if matches!(file.kind, FileKind::Text(_)) {
        file.pos.set(file.pos.get() + n as u64);
    }
    Ok(n as u64)
}

/// read() of a signalfd: one `signalfd_siginfo` per pending signal of its
/// set that fits, waiting for one unless O_NONBLOCK.
fn read_signalfd(cx: &mut Ctx, file: &OpenFile, mask: u64, buf: u64, count: u64) -> SysResult {
    const SIZE: u64 = 128;
    if count < SIZE {
        return Err(Errno::INVAL);
    }
    let mut done = 0;
    while done + SIZE <= count {
        let Some(info) = cx.proc.sig().dequeue_from(mask) else {
            if done > 0 {
                break;
            }
            if file.flags.get() & libc::O_NONBLOCK as u32 != 0 {
                return Err(Errno::AGAIN);
            }
            match wait::block_on(cx, &mut [], None, wait::Wake::SignalIn(mask))? {
                wait::Woken::Signal if cx.proc.sig().pending() & mask == 0 => {
                    return Err(wait::ERESTARTSYS)
                }
                _ => continue,
            }
        };
        cx.user().write(buf + done, &info.signalfd())?;
        done += SIZE;
    }
    Ok(done)
}

/// signalfd4 (and signalfd): a new signalfd, or a new set for one.
pub fn sys_signalfd4(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, umask, size, flags) = (int(a.0[0]), a.0[1], a.0[2], a.0[3] as u32);
    let allowed = (libc::O_NONBLOCK | libc::O_CLOEXEC) as u32;
    if flags & !allowed != 0 || size != 8 {
        return Err(Errno::INVAL);
    }
    let raw = cx.user().read_vec(umask, 8)?;
    let mask =
        u64::from_le_bytes(raw.try_into().map_err(|_| Errno::FAULT)?) & !super::signal::UNBLOCKABLE;
    if fd != -1 {
        let file = cx.proc.files().file(fd)?;
        let FileKind::SignalFd(m) = &file.kind else {
            return Err(Errno::INVAL);
        };
        m.set(mask);
        return Ok(fd as u64);
    }
    let file = OpenFile::new(
        FileKind::SignalFd(crate::kernel::SyncCell::new(mask)),
        b"anon_inode:[signalfd]".to_vec(),
        libc::O_RDWR as u32 | (flags & libc::O_NONBLOCK as u32),
    );
    super::path::install(cx, file, flags & libc::O_CLOEXEC as u32 != 0)
}

pub fn sys_signalfd(cx: &mut Ctx, a: &Args) -> SysResult {
    sys_signalfd4(cx, &Args([a.0[0], a.0[1], a.0[2], 0, 0, 0]))
}

/// A read of /dev/zero, /dev/full or /dev/urandom fills the whole buffer
/// (up to MAX_RW_COUNT), chunk by chunk; a fault part-way gives the short
/// count, as Linux.
fn read_device(cx: &mut Ctx, dev: Dev, buf: u64, count: u64) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    let mut chunk = vec![0u8; CHUNK.min(count as usize)];
    let mut done = 0u64;
    while done < count {
        let want = ((count - done) as usize).min(CHUNK);
        if dev == Dev::Random {
            rustix::rand::getrandom(&mut chunk[..want], rustix::rand::GetRandomFlags::empty())?;
        }
        let n = cx.user().write_prefix(buf + done, &chunk[..want]);
        done += n as u64;
        // A signal or the end of the run interrupts a long read, as
        // Linux's signal_pending() check between pages does.
        if n < want || cx.proc.expiry.expired() {
            break;
        }
    }
    if done == 0 && count > 0 {
        return Err(Errno::FAULT);
    }
    Ok(done)
}

pub fn sys_read(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = cx.proc.files().file(int(a.0[0]))?;
    read_to_user(cx, &file, a.0[1], a.0[2])
}

/// pread64/pwrite64/preadv/pwritev: the file and the offset (argument 3);
/// host files only (a pipe or device is ESPIPE).
fn positioned(cx: &Ctx, a: &Args) -> Result<(Arc<OpenFile>, u64), Errno> {
    let file = cx.proc.files().file(int(a.0[0]))?;
    let off = a.0[3] as i64;
    if off < 0 {
        return Err(Errno::INVAL);
    }
    if file.host().is_none() || is_pipe_like(&file) {
        return Err(Errno::SPIPE);
    }
    Ok((file, off as u64))
}

pub fn sys_pread64(cx: &mut Ctx, a: &Args) -> SysResult {
    let f = cx.proc.files().file(int(a.0[0]))?;
    if let FileKind::Mem { which, pid } = f.kind {
        if !f.readable() {
            return Err(Errno::BADF);
        }
        // Offsets are addresses: loff_t is unsigned here, as Linux's
        // FMODE_UNSIGNED_OFFSET.
        let count = a.0[2].min(MAX_RW_COUNT);
        return super::procmem::read(cx, &f, which, pid, a.0[3], a.0[1], count);
    }
    if let FileKind::Text(t) = &f.kind {
        // Generated /proc text reads at any offset, as Linux's seq files.
        let off = a.0[3] as i64;
        if off < 0 {
            return Err(Errno::INVAL);
        }
        if off == 0 {
            super::path::regenerate(cx, &f)?;
        }
        let t = t.lock();
        let start = (off as u64).min(t.len() as u64) as usize;
        let n = (t.len() - start).min(a.0[2].min(MAX_RW_COUNT) as usize);
        if n == 0 {
            return Ok(0);
        }
        let w = cx.user().write_prefix(a.0[1], &t[start..start + n]);
        return if w == 0 {
            Err(Errno::FAULT)
        } else {
            Ok(w as u64)
        };
    }
    let (file, off) = positioned(cx, a)?;
    let count = a.0[2].min(MAX_RW_COUNT).min(CHUNK as u64 * 16);
    if count == 0 {
        return Ok(0);
    }
    if !access_ok(a.0[1], count) {
        return Err(Errno::FAULT);
    }
    let room = cx.user().writable_len(a.0[1], count);
    if room == 0 {
        return Err(Errno::FAULT);
    }
    let mut tmp = vec![0u8; room as usize];
    let n = rustix::io::pread(file.host_fd()?, &mut tmp, off)?;
    cx.user().write(a.0[1], &tmp[..n])?;
    Ok(n as u64)
}

pub fn sys_pwrite64(cx: &mut Ctx, a: &Args) -> SysResult {
    {
        let f = cx.proc.files().file(int(a.0[0]))?;
        if let FileKind::Mem { which, pid } = f.kind {
            if !f.writable() {
                return Err(Errno::BADF);
            }
            let count = a.0[2].min(MAX_RW_COUNT);
            return super::procmem::write(cx, which, pid, a.0[3], a.0[1], count);
        }
    }
    let (file, off) = positioned(cx, a)?;
    let count = a.0[2].min(MAX_RW_COUNT).min(CHUNK as u64 * 16);
    if !access_ok(a.0[1], count) {
        return Err(Errno::FAULT);
    }
    let mut tmp = vec![0u8; count as usize];
    let got = cx.user().read_prefix(a.0[1], &mut tmp);
    if got == 0 && count > 0 {
        return Err(Errno::FAULT);
    }
    let n = apply_write_limits(cx, &file, Some(off), got as u64)?;
    tmp.truncate(n as usize);
    let r = rustix::io::pwrite(file.host_fd()?, &tmp, off);
    written(&file);
    Ok(r? as u64)
}

pub fn sys_write(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = cx.proc.files().file(int(a.0[0]))?;
    write_from_user(cx, &file, a.0[1], a.0[2])
}

/// Read and check an iovec array: count <= UIO_MAXIOV, no negative length,
/// every buffer passes access_ok, total clamped to MAX_RW_COUNT.
pub(super) fn read_iovecs(cx: &Ctx, iov: u64, cnt: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if cnt > UIO_MAXIOV {
        return Err(Errno::INVAL);
    }
    let mut vecs = vec![Iovec::default(); cnt as usize];
    cx.user().read(iov, vecs.as_mut_slice().as_bytes_mut())?;
    let mut out = Vec::with_capacity(cnt as usize);
    let mut total = 0u64;
    for &Iovec {
        iov_base: base,
        iov_len: len,
    } in &vecs
    {
        if len > i64::MAX as u64 {
            return Err(Errno::INVAL);
        }
        let len = len.min(MAX_RW_COUNT - total);
        if !access_ok(base, len) {
            return Err(Errno::FAULT);
        }
        total += len;
        out.push((base, len));
    }
    Ok(out)
}

pub fn sys_writev(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = cx.proc.files().file(int(a.0[0]))?;
    let iovs = read_iovecs(cx, a.0[1], a.0[2])?;
    if is_host_socket(&file) {
        // One message of all the buffers.
        return super::socket::write_iov(cx, &file, &iovs);
    }
    let mut done = 0u64;
    for (base, len) in iovs {
        if len == 0 {
            continue;
        }
        match write_from_user(cx, &file, base, len) {
            Ok(n) => {
                done += n;
                if n < len {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

pub fn sys_readv(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = cx.proc.files().file(int(a.0[0]))?;
    let iovs = read_iovecs(cx, a.0[1], a.0[2])?;
    if is_host_socket(&file) {
        return super::socket::read_iov(cx, &file, &iovs);
    }
    let mut done = 0u64;
    for (base, len) in iovs {
        if len == 0 {
            continue;
        }
        match read_to_user(cx, &file, base, len) {
            Ok(n) => {
                done += n;
                // A short read (pipe, tty, EOF) ends the vector, as Linux.
                if n < len {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

pub fn sys_close(cx: &mut Ctx, a: &Args) -> SysResult {
    cx.proc.files().remove(int(a.0[0]))?;
    Ok(0)
}

/// close_range(first, last, flags): close (or with CLOSE_RANGE_CLOEXEC mark
/// close-on-exec) the open descriptors in [first, last]; with
/// CLOSE_RANGE_UNSHARE, in a table of the caller's own first (one another
/// thread or process shares is copied, as unshare(CLONE_FILES)).
pub fn sys_close_range(cx: &mut Ctx, a: &Args) -> SysResult {
    const UNSHARE: u32 = 2;
    const CLOEXEC: u32 = 4;
    let (first, last, flags) = (a.0[0] as u32, a.0[1] as u32, a.0[2] as u32);
    if flags & !(UNSHARE | CLOEXEC) != 0 || first > last {
        return Err(Errno::INVAL);
    }
    if flags & UNSHARE != 0 {
        cx.proc.unshare_files();
    }
    cx.proc
        .files()
        .close_range(first, last, flags & CLOEXEC != 0);
    Ok(0)
}

/// flock on the host file: the lock is the host kernel's, so it is shared
/// with whoever else locks that file. A lock that has to wait waits with
/// the kick unblocked, as F_SETLKW, so a signal or the run's end interrupts
/// it (EINTR for the program, restarted per SA_RESTART as Linux's
/// ERESTARTSYS).
pub fn sys_flock(cx: &mut Ctx, a: &Args) -> SysResult {
    const LOCK_SH: u32 = 1;
    const LOCK_EX: u32 = 2;
    const LOCK_NB: u32 = 4;
    const LOCK_UN: u32 = 8;
    let (fd, op) = (int(a.0[0]), a.0[1] as u32);
    let file = cx.proc.files().file(fd)?;
    let kind = match op & !LOCK_NB {
        LOCK_SH => LOCK_SH,
        LOCK_EX => LOCK_EX,
        LOCK_UN => LOCK_UN,
        _ => return Err(Errno::INVAL),
    };
    let Some(host) = file.host() else {
        // kvmcage's own files (/dev/null, /proc) take locks nobody else
        // can see: nothing to wait for.
        return Ok(0);
    };
    use rustix::fs::FlockOperation as F;
    let nb = op & LOCK_NB != 0;
    let how = match (kind, nb) {
        (LOCK_SH, false) => F::LockShared,
        (LOCK_SH, true) => F::NonBlockingLockShared,
        (LOCK_EX, false) => F::LockExclusive,
        (LOCK_EX, true) => F::NonBlockingLockExclusive,
        _ => F::Unlock,
    };
    if nb || kind == LOCK_UN {
        rustix::fs::flock(host, how)?;
        return Ok(0);
    }
    // Try without waiting first; wait interruptibly only if it must.
    let try_how = if kind == LOCK_SH {
        F::NonBlockingLockShared
    } else {
        F::NonBlockingLockExclusive
    };
    match rustix::fs::flock(host, try_how) {
        Err(Errno::WOULDBLOCK) => {}
        r => return r.map(|_| 0),
    }
    match wait::interruptible(cx, || rustix::fs::flock(host, how)) {
        Err(Errno::INTR) => Err(wait::ERESTARTSYS),
        r => r.map(|_| 0),
    }
}

pub fn sys_dup(cx: &mut Ctx, a: &Args) -> SysResult {
    let limit = cx.proc.rlimits.nofile();
    Ok(cx.proc.files().dup(int(a.0[0]), 0, limit, false)? as u64)
}

fn dup_to(cx: &mut Ctx, old: i32, new: i32, cloexec: bool) -> SysResult {
    let limit = cx.proc.rlimits.nofile();
    let new_idx = usize::try_from(new).map_err(|_| Errno::BADF)?;
    cx.proc.files().file(old)?;
    if new_idx >= limit {
        return Err(Errno::BADF);
    }
    cx.proc.files().dup_to(old, new_idx, cloexec)?;
    Ok(new_idx as u64)
}

pub fn sys_dup2(cx: &mut Ctx, a: &Args) -> SysResult {
    let (old, new) = (int(a.0[0]), int(a.0[1]));
    if old == new {
        cx.proc.files().file(old)?;
        return Ok(new as u64);
    }
    dup_to(cx, old, new, false)
}

pub fn sys_dup3(cx: &mut Ctx, a: &Args) -> SysResult {
    let (old, new, flags) = (int(a.0[0]), int(a.0[1]), int(a.0[2]));
    if flags & !libc::O_CLOEXEC != 0 || old == new {
        return Err(Errno::INVAL);
    }
    dup_to(cx, old, new, flags & libc::O_CLOEXEC != 0)
}

/// F_LINUX_SPECIFIC_BASE + 4 (Linux 6.12).
const F_CREATED_QUERY: i32 = 1028;

pub fn sys_fcntl(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, cmd, arg) = (int(a.0[0]), int(a.0[1]), a.0[2]);
    let slot = cx.proc.files().get(fd)?;
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(int(arg)).map_err(|_| Errno::INVAL)?;
            let limit = cx.proc.rlimits.nofile();
            if min >= limit {
                return Err(Errno::INVAL);
            }
            let cloexec = cmd == libc::F_DUPFD_CLOEXEC;
            Ok(cx.proc.files().dup(fd, min, limit, cloexec)? as u64)
        }
        libc::F_GETFD => Ok(u64::from(slot.cloexec)),
        libc::F_SETFD => {
            let on = arg & libc::FD_CLOEXEC as u64 != 0;
            cx.proc.files().set_cloexec(fd, on)?;
            Ok(0)
        }
        libc::F_GETFL => match slot.file.host() {
            Some(fd) => Ok(u64::from(rustix::fs::fcntl_getfl(fd)?.bits())),
            None => Ok(u64::from(slot.file.flags.get())),
        },
        // O_APPEND and O_NONBLOCK on the guest's own host files; on
        // kvmcage's stdio it would change kvmcage's too: accepted, ignored.
        libc::F_SETFL => {
            let keep = rustix::fs::OFlags::APPEND | rustix::fs::OFlags::NONBLOCK;
            let new = rustix::fs::OFlags::from_bits_retain(arg as u32) & keep;
            match &slot.file.kind {
                FileKind::Host { fd, .. } => rustix::fs::fcntl_setfl(fd, new)?,
                FileKind::Stdio(_) => {}
                _ => set_status(&slot.file, keep.bits(), new.bits()),
            }
            Ok(0)
        }
        libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_GETLK
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => record_lock(cx, &slot.file, cmd, arg),
        // A pipe's buffer: the host pipe's (EBADF for anything else, as
        // Linux); larger than Linux's default pipe-max-size is EPERM for
        // an unprivileged program.
        libc::F_GETPIPE_SZ => {
            let fd = pipe_of(&slot.file)?;
            Ok(rustix::pipe::fcntl_getpipe_size(fd)? as u64)
        }
        libc::F_SETPIPE_SZ => {
            let fd = pipe_of(&slot.file)?;
            const PIPE_MAX_SIZE: u64 = 1 << 20;
            let want = arg as u32 as u64;
            if want > PIPE_MAX_SIZE {
                return Err(Errno::PERM);
            }
            rustix::pipe::fcntl_setpipe_size(fd, want as usize)?;
            Ok(rustix::pipe::fcntl_getpipe_size(fd)? as u64)
        }
        // Seals are a memfd's own (the host's EINVAL for other files).
        libc::F_ADD_SEALS => {
            let fd = slot.file.host_fd().map_err(|_| Errno::INVAL)?;
            let seals = rustix::fs::SealFlags::from_bits_retain(arg as u32);
            rustix::fs::fcntl_add_seals(fd, seals)?;
            Ok(0)
        }
        libc::F_GET_SEALS => {
            let fd = slot.file.host_fd().map_err(|_| Errno::INVAL)?;
            Ok(u64::from(rustix::fs::fcntl_get_seals(fd)?.bits()))
        }
        // Linux 6.12: was the file created by the open that made this
        // description? The host knows for its own files (older hosts:
        // EINVAL, as Linux before 6.12); kvmcage's own files were not.
        F_CREATED_QUERY => match slot.file.host() {
            Some(fd) => {
                // SAFETY: fcntl on a descriptor the file holds open, with an
                // integer argument the host ignores.
                let r = unsafe {
                    libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), F_CREATED_QUERY, 0)
                };
                if r < 0 {
                    Err(super::last_errno())
                } else {
                    Ok(r as u64)
                }
            }
            None => Ok(0),
        },
        _ => Err(Errno::INVAL),
    }
}

/// Record locks (fcntl F_GETLK/F_SETLK/F_SETLKW and the OFD forms): the
/// host's own locks on host files, so other host processes holding the
/// file see them; kvmcage's own files have nobody to conflict with. A
/// blocked F_SETLKW gives up when the run is being stopped. The guest
/// never sees a host pid (l_pid of another process's lock reads 0).
fn record_lock(cx: &mut Ctx, file: &OpenFile, cmd: i32, arg: u64) -> SysResult {
    let getlk = matches!(cmd, libc::F_GETLK | libc::F_OFD_GETLK);
    let mut lock: Flock = cx.user().read_obj(arg)?;
    let (ty, whence) = (lock.l_type, lock.l_whence);
    if !matches!(i32::from(ty), libc::F_RDLCK | libc::F_WRLCK | libc::F_UNLCK)
        || !matches!(
            i32::from(whence),
            libc::SEEK_SET | libc::SEEK_CUR | libc::SEEK_END
        )
    {
        return Err(Errno::INVAL);
    }
    // OFD locks need l_pid 0 (Linux: EINVAL otherwise).
    if matches!(
        cmd,
        libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW
    ) && lock.l_pid != 0
    {
        return Err(Errno::INVAL);
    }
    let Some(host) = file.host() else {
        if getlk {
            lock.l_type = libc::F_UNLCK as i16;
            cx.user().write_obj(arg, &lock)?;
        }
        return Ok(0);
    };
    // SAFETY: a zeroed flock is valid; we fill its fields from the copy.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = ty;
    fl.l_whence = whence;
    fl.l_start = lock.l_start;
    fl.l_len = lock.l_len;
    fl.l_pid = lock.l_pid;
    loop {
        // A waiting F_SETLKW cannot be polled: it runs with the kick
        // unblocked, so a signal or the run's end interrupts it.
        let rc = wait::interruptible(cx, || {
            // SAFETY: `host` is an open descriptor; `fl` lives across the
            // call and is the struct flock these commands take.
            unsafe {
                libc::fcntl(
                    std::os::fd::AsRawFd::as_raw_fd(&host),
                    cmd,
                    &mut fl as *mut libc::flock,
                )
            }
        });
        if rc >= 0 {
            break;
        }
        let e = super::last_errno();
        if e == Errno::INTR {
            cx.proc.fire_timers_waiting();
            if cx.proc.sig().deliverable().is_some() || cx.proc.expiry.expired() {
                return Err(wait::ERESTARTSYS);
            }
            continue;
        }
        return Err(e);
    }
    if getlk {
        // As Linux's fcntl_getlk: the caller's struct with the answer's
        // fields (its padding as it was).
        lock.l_type = fl.l_type;
        lock.l_whence = fl.l_whence;
        lock.l_start = fl.l_start;
        lock.l_len = fl.l_len;
        lock.l_pid = if fl.l_pid == -1 { -1 } else { 0 };
        cx.user().write_obj(arg, &lock)?;
    }
    Ok(0)
}

const TCGETS: u64 = 0x5401;
const TIOCGWINSZ: u64 = 0x5413;
const FIONREAD: u64 = 0x541b;

/// The host pipe behind a guest descriptor (not kvmcage's stdio, which
/// is kvmcage's own): EBADF otherwise, as Linux's pipe_fcntl.
fn pipe_of(f: &OpenFile) -> Result<BorrowedFd<'_>, Errno> {
    match &f.kind {
        FileKind::Host { fd, .. }
            if rustix::fs::fstat(fd)
                .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_fifo()) =>
        {
            Ok(fd.as_fd())
        }
        _ => Err(Errno::BADF),
    }
}

/// Set the `mask` bits of a kvmcage file's status flags to `bits`.
fn set_status(f: &OpenFile, mask: u32, bits: u32) {
    f.flags.set(f.flags.get() & !mask | bits & mask);
}

/// ioctls every descriptor takes (Linux's do_vfs_ioctl).
const FIONBIO: u64 = 0x5421;
const FIONCLEX: u64 = 0x5450;
const FIOCLEX: u64 = 0x5451;

pub fn sys_ioctl(cx: &mut Ctx, a: &Args) -> SysResult {
    let (fd, req, arg) = (int(a.0[0]), a.0[1] as u32 as u64, a.0[2]);
    let file = cx.proc.files().file(fd)?;
    match req {
        FIOCLEX | FIONCLEX => {
            cx.proc.files().set_cloexec(fd, req == FIOCLEX)?;
            return Ok(0);
        }
        // O_NONBLOCK as F_SETFL sets it (asyncio and Python's
        // setblocking use this): on the guest's own host files; kvmcage's
        // stdio keeps its mode (accepted, as F_SETFL), and its own /dev
        // and /proc files never block.
        FIONBIO => {
            let mut on = [0u8; 4];
            cx.user().read(arg, &mut on)?;
            let on = i32::from_le_bytes(on) != 0;
            match &file.kind {
                FileKind::Host { fd, .. } => {
                    let mut fl = rustix::fs::fcntl_getfl(fd)?;
                    fl.set(rustix::fs::OFlags::NONBLOCK, on);
                    rustix::fs::fcntl_setfl(fd, fl)?;
                }
                FileKind::Stdio(_) => {}
                _ => {
                    let nb = libc::O_NONBLOCK as u32;
                    set_status(&file, nb, if on { nb } else { 0 });
                }
            }
            return Ok(0);
        }
        _ => {}
    }
    if file.host().is_none() {
        return Err(Errno::NOTTY);
    }
    // Only queries pass through, never a request that changes the host's
    // terminal. The buffer sizes are the kernel's struct sizes.
    let size = match req {
        TCGETS => 36,    // struct termios (kernel)
        TIOCGWINSZ => 8, // struct winsize
        FIONREAD => 4,   // int
        _ => return Err(Errno::NOTTY),
    };
    let mut buf = [0u8; 36];
    // SAFETY: these three requests write at most `size` <= 36 bytes into
    // `buf`, which is 36 bytes long and lives across the call; the fd is a
    // valid borrowed descriptor.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&file.host_fd()?),
            req as _,
            buf.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::NOTTY));
    }
    cx.user().write(arg, &buf[..size])?;
    Ok(0)
}

/// A host stat as the guest sees it: the mount's device number, and the
/// program's own ids on files kvmcage's user owns in a writable mount.
pub fn guest_stat(mut st: rustix::fs::Stat, view: View, id: &super::Identity) -> Stat {
    if let Some(dev) = view.dev {
        st.st_dev = dev;
    }
    if view.owned {
        if st.st_uid == id.host_uid {
            st.st_uid = id.uid;
        }
        if st.st_gid == id.host_gid {
            st.st_gid = id.gid;
        }
    }
    stat_abi(&st)
}

/// The kernel's x86-64 `struct stat` from a host stat.
pub fn stat_abi(st: &rustix::fs::Stat) -> Stat {
    Stat {
        st_dev: st.st_dev,
        st_ino: st.st_ino,
        st_nlink: st.st_nlink,
        st_mode: st.st_mode,
        st_uid: st.st_uid,
        st_gid: st.st_gid,
        st_rdev: st.st_rdev,
        st_size: st.st_size,
        st_blksize: st.st_blksize,
        st_blocks: st.st_blocks,
        st_atime: st.st_atime,
        st_atime_nsec: st.st_atime_nsec as i64,
        st_mtime: st.st_mtime,
        st_mtime_nsec: st.st_mtime_nsec as i64,
        st_ctime: st.st_ctime,
        st_ctime_nsec: st.st_ctime_nsec as i64,
        ..Stat::default()
    }
}

pub fn sys_lseek(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = cx.proc.files().file(int(a.0[0]))?;
    if let FileKind::Mem { .. } = file.kind {
        // Any offset, as Linux's mem_lseek: it is an address.
        let new = match int(a.0[2]) {
            libc::SEEK_SET => a.0[1],
            libc::SEEK_CUR => file.pos.get().wrapping_add(a.0[1]),
            _ => return Err(Errno::INVAL),
        };
        file.pos.set(new);
        return Ok(new);
    }
    if file.host().is_none() {
        // Emulated files: Text and Dir keep a position; devices stay at 0.
        let (off, whence) = (a.0[1] as i64, int(a.0[2]));
        let len = match &file.kind {
            FileKind::Text(t) => t.lock().len() as i64,
            _ => 0,
        };
        let base = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => file.pos.get() as i64,
            libc::SEEK_END => len,
            _ => return Err(Errno::INVAL),
        };
        let new = base
            .checked_add(off)
            .filter(|n| *n >= 0)
            .ok_or(Errno::INVAL)?;
        if !matches!(file.kind, FileKind::Dev(_)) {
            file.pos.set(new as u64);
        }
        return Ok(new as u64);
    }
    let off = a.0[1] as i64;
    let pos = match int(a.0[2]) {
        libc::SEEK_SET => {
            rustix::fs::SeekFrom::Start(u64::try_from(off).map_err(|_| Errno::INVAL)?)
        }
        libc::SEEK_CUR => rustix::fs::SeekFrom::Current(off),
        libc::SEEK_END => rustix::fs::SeekFrom::End(off),
        _ => return Err(Errno::INVAL),
    };
    rustix::fs::seek(file.host_fd()?, pos)
}

/// preadv/pwritev: each iovec at the running offset, through the host.
fn positioned_vec(cx: &mut Ctx, a: &Args, write: bool) -> SysResult {
    let (file, off) = positioned(cx, a)?;
    let iovs = read_iovecs(cx, a.0[1], a.0[2])?;
    if write {
        let total = iovs
            .iter()
            .fold(0u64, |t, &(_, l)| t.saturating_add(l))
            .min(MAX_RW_COUNT);
        let allowed = apply_write_limits(cx, &file, Some(off), total)?;
        let r = vectored(cx, &file, off, &iovs, allowed, true);
        written(&file);
        return r;
    }
    vectored(cx, &file, off, &iovs, MAX_RW_COUNT, false)
}

/// preadv/pwritev's loop: at most `limit` bytes in all.
fn vectored(
    cx: &mut Ctx,
    file: &OpenFile,
    off: u64,
    iovs: &[(u64, u64)],
    limit: u64,
    write: bool,
) -> SysResult {
    let mut done = 0u64;
    for &(base, len) in iovs {
        let mut left = len.min(limit - done);
        let mut at = base;
        while left > 0 {
            let n = left.min(CHUNK as u64);
            let r = if write {
                let mut tmp = vec![0u8; n as usize];
                let got = cx.user().read_prefix(at, &mut tmp);
                if got == 0 {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::FAULT)
                    };
                }
                file.host_fd()
                    .and_then(|fd| rustix::io::pwrite(fd, &tmp[..got], off + done))
            } else {
                let room = cx.user().writable_len(at, n);
                if room == 0 {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::FAULT)
                    };
                }
                let mut tmp = vec![0u8; room as usize];
                file.host_fd()
                    .and_then(|fd| rustix::io::pread(fd, &mut tmp, off + done))
                    .and_then(|k| {
                        cx.user().write(at, &tmp[..k])?;
                        Ok(k)
                    })
            };
            match r {
                Ok(0) => return Ok(done),
                Ok(k) => {
                    done += k as u64;
                    at += k as u64;
                    left -= k as u64;
                    if (k as u64) < n {
                        return Ok(done);
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            }
        }
    }
    Ok(done)
}

pub fn sys_preadv(cx: &mut Ctx, a: &Args) -> SysResult {
    positioned_vec(cx, a, false)
}

/// preadv2/pwritev2's RWF_* flags.
const RWF_DSYNC: u64 = 0x2;
const RWF_SYNC: u64 = 0x4;
const RWF_APPEND: u64 = 0x10;
/// Every flag Linux 6.14 knows (HIPRI, DSYNC, SYNC, NOWAIT, APPEND,
/// NOAPPEND, ATOMIC, DONTCACHE); others are EOPNOTSUPP.
const RWF_KNOWN: u64 = 0xff;

pub fn sys_preadv2(cx: &mut Ctx, a: &Args) -> SysResult {
    vec2(cx, a, false)
}

pub fn sys_pwritev2(cx: &mut Ctx, a: &Args) -> SysResult {
    vec2(cx, a, true)
}

/// preadv2/pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags): preadv and
/// pwritev, or readv and writev at the file position when the offset is
/// -1. RWF_DSYNC and RWF_SYNC sync what was written, RWF_APPEND writes at
/// the end; RWF_HIPRI, RWF_NOWAIT and the cache hints change nothing a
/// program can observe here (kvmcage's reads do not wait on the page
/// cache differently).
fn vec2(cx: &mut Ctx, a: &Args, write: bool) -> SysResult {
    let flags = a.0[5];
    if flags & !RWF_KNOWN != 0 {
        return Err(Errno::OPNOTSUPP);
    }
    let fd = int(a.0[0]);
    let r = if a.0[3] as i64 == -1 {
        let plain = Args([a.0[0], a.0[1], a.0[2], 0, 0, 0]);
        if write {
            sys_writev(cx, &plain)
        } else {
            sys_readv(cx, &plain)
        }
    } else if write && flags & RWF_APPEND != 0 {
        let f = cx.proc.files().file(fd)?;
        let end = rustix::fs::fstat(f.host_fd()?)?.st_size as u64;
        positioned_vec(cx, &Args([a.0[0], a.0[1], a.0[2], end, 0, 0]), true)
    } else {
        positioned_vec(cx, a, write)
    };
    if write && r.is_ok() && flags & (RWF_DSYNC | RWF_SYNC) != 0 {
        let f = cx.proc.files().file(fd)?;
        if let Ok(h) = f.host_fd() {
            if flags & RWF_SYNC != 0 {
                rustix::fs::fsync(h)?;
            } else {
                rustix::fs::fdatasync(h)?;
            }
        }
    }
    r
}

pub fn sys_pwritev(cx: &mut Ctx, a: &Args) -> SysResult {
    positioned_vec(cx, a, true)
}

/// Move up to `count` bytes from `in_fd` (at `*in_ptr`, or its position)
/// to `out_fd` (at `*out_ptr`, or its position) through a host buffer:
/// sendfile and copy_file_range.
fn splice_files(
    cx: &mut Ctx,
    out_fd: i32,
    out_ptr: u64,
    in_fd: i32,
    in_ptr: u64,
    count: u64,
) -> SysResult {
    let (input, output) = (cx.proc.files().file(in_fd)?, cx.proc.files().file(out_fd)?);
    let (Some(src), Some(dst)) = (input.host(), output.host()) else {
        return Err(Errno::INVAL);
    };
    let read_off = |cx: &Ctx, ptr: u64| -> Result<Option<u64>, Errno> {
        if ptr == 0 {
            return Ok(None);
        }
        let raw = cx.user().read_vec(ptr, 8)?;
        let v = i64::from_le_bytes(raw.try_into().map_err(|_| Errno::FAULT)?);
        if v < 0 {
            return Err(Errno::INVAL);
        }
        Ok(Some(v as u64))
    };
    let mut off = read_off(cx, in_ptr)?;
    let mut out_off = read_off(cx, out_ptr)?;
    let count = count.min(MAX_RW_COUNT);
    let count = apply_write_limits(cx, &output, out_off, count)?;
    let r = splice_chunks(cx, src, dst, off.as_mut(), out_off.as_mut(), count);
    written(&output);
    let done = r?;
    // An offset is Some only when its pointer was given.
    for (ptr, o) in [(in_ptr, off), (out_ptr, out_off)] {
        if let Some(o) = o {
            cx.user().write_obj(ptr, &o)?;
        }
    }
    Ok(done)
}

fn splice_chunks(
    cx: &mut Ctx,
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    mut off: Option<&mut u64>,
    mut out_off: Option<&mut u64>,
    count: u64,
) -> SysResult {
    let mut done = 0u64;
    let mut tmp = vec![0u8; CHUNK.min(count as usize)];
    let blocking = off.is_none() && may_block(src);
    while done < count {
        let want = ((count - done) as usize).min(CHUNK);
        // A source that may block (a pipe another process writes) is read
        // as read(2) reads it: waiting first in the one waiting place,
        // then reading with the locks given up, never blocking with them
        // held (the writer could never take its turn).
        if blocking && done > 0 {
            // What it moved is returned once the source has nothing more
            // right now, as splice from a pipe does.
            let mut p = [rustix::event::PollFd::new(
                &src,
                rustix::event::PollFlags::IN,
            )];
            let ready = rustix::event::poll(&mut p, Some(&rustix::time::Timespec::default()))
                .is_ok_and(|n| n > 0);
            if !ready {
                break;
            }
        } else if blocking && !wait::wait_fd(cx, src, libc::POLLIN)? {
            return Err(wait::ERESTARTSYS);
        }
        let n = match off.as_deref() {
            Some(&o) => rustix::io::pread(src, &mut tmp[..want], o),
            None if blocking => wait::interruptible(cx, || rustix::io::read(src, &mut tmp[..want])),
            None => rustix::io::read(src, &mut tmp[..want]),
        };
        let n = match n {
            Ok(n) => n,
            Err(Errno::INTR) | Err(Errno::AGAIN) if blocking && done == 0 => continue,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        let w = match out_off.as_deref() {
            Some(&o) => rustix::io::pwrite(dst, &tmp[..n], o),
            None => host_write_all(cx, dst, &tmp[..n]),
        };
        let w = match w {
            Ok(w) => w,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        done += w as u64;
        if let Some(o) = off.as_deref_mut() {
            *o += w as u64;
        }
        if let Some(o) = out_off.as_deref_mut() {
            *o += w as u64;
        }
        if w < n {
            break;
        }
    }
    Ok(done)
}

pub fn sys_sendfile(cx: &mut Ctx, a: &Args) -> SysResult {
    splice_files(cx, int(a.0[0]), 0, int(a.0[1]), a.0[2], a.0[3])
}

pub fn sys_copy_file_range(cx: &mut Ctx, a: &Args) -> SysResult {
    if a.0[5] != 0 {
        return Err(Errno::INVAL); // no flags are defined
    }
    splice_files(cx, int(a.0[2]), a.0[3], int(a.0[0]), a.0[1], a.0[4])
}

/// The kernel's struct statfs for a descriptor's filesystem.
pub(super) fn statfs_of(file: &OpenFile) -> Result<Statfs, Errno> {
    let Some(fd) = file.host() else {
        // kvmcage's own /dev, /proc and virtual directories: a full,
        // read-only filesystem the size of one page per entry (statvfs
        // of "/" must not show zero blocks and inodes).
        let entries = match &file.kind {
            FileKind::Dir(e) => e.lock().len() as u64 + 2,
            _ => 1,
        };
        let proc = file.path == b"/proc" || file.path.starts_with(b"/proc/");
        return Ok(Statfs {
            // PROC_SUPER_MAGIC for /proc; /dev and the rest are tmpfs.
            f_type: if proc { 0x9fa0 } else { 0x0102_1994 },
            f_bsize: 4096,
            f_blocks: entries, // f_bfree, f_bavail 0
            f_files: entries,  // f_ffree 0
            f_namelen: 255,
            f_frsize: 4096,
            f_flags: 1, // ST_RDONLY
            ..Statfs::default()
        });
    };
    let st = rustix::fs::fstatfs(fd)?;
    let mut out = Statfs {
        f_type: st.f_type as i64,
        f_bsize: st.f_bsize as i64,
        f_blocks: st.f_blocks,
        f_bfree: st.f_bfree,
        f_bavail: st.f_bavail,
        f_files: st.f_files,
        f_ffree: st.f_ffree,
        f_namelen: st.f_namelen as i64,
        f_frsize: st.f_frsize as i64,
        ..Statfs::default()
    };
    if let Some(q) = file.quota() {
        // A --tmpfs (or the private /tmp, /dev/shm) is a tmpfs of its own
        // size, as `df` shows one on Linux, not the host disk under it.
        let bsize = 4096;
        let (max_inodes, inodes) = q.inodes();
        let free = q.cap().saturating_sub(q.used()) / bsize;
        out.f_type = 0x0102_1994;
        out.f_bsize = bsize as i64;
        out.f_blocks = q.cap() / bsize;
        out.f_bfree = free;
        out.f_bavail = free;
        out.f_files = max_inodes;
        out.f_ffree = max_inodes.saturating_sub(inodes);
        out.f_frsize = bsize as i64;
    }
    let ro = matches!(
        file.kind,
        FileKind::Host {
            writable: false,
            ..
        }
    );
    // ST_RDONLY on read-only mounts.
    out.f_flags = st.f_flags as i64 | i64::from(ro);
    Ok(out)
}

pub fn sys_fstatfs(cx: &mut Ctx, a: &Args) -> SysResult {
    let st = statfs_of(cx.proc.files().file(int(a.0[0]))?.as_ref())?;
    cx.user().write_obj(a.0[1], &st)?;
    Ok(0)
}

pub fn sys_fadvise64(cx: &mut Ctx, a: &Args) -> SysResult {
    let file = cx.proc.files().file(int(a.0[0]))?;
    if is_pipe_like(&file) {
        return Err(Errno::SPIPE);
    }
    if !(0..=5).contains(&int(a.0[3])) || (a.0[2] as i64) < 0 {
        return Err(Errno::INVAL);
    }
    Ok(0)
}

/// Wait until one of `entries` (fd, events) is ready or `timeout_ms`
/// passes; returns each entry's revents. Host-backed descriptors are
/// polled on the host in `wait::block_on`, so a signal for the program or
/// the run's end interrupts (ERESTARTNOHAND: EINTR when a handler runs);
/// kvmcage's own files are always ready, a bad descriptor is POLLNVAL.
fn wait_ready(
    cx: &mut Ctx,
    entries: &[(i32, i16)],
    timeout_ms: Option<u64>,
) -> Result<Vec<i16>, Errno> {
    let mut deadline =
        timeout_ms.map(|ms| wait::Deadline::after(std::time::Duration::from_millis(ms)));
    let mut revents = vec![0i16; entries.len()];
    let mut host: Vec<(usize, Arc<OpenFile>)> = Vec::new();
    let mut sigfds: Vec<(usize, u64)> = Vec::new();
    for (i, &(fd, events)) in entries.iter().enumerate() {
        if fd < 0 {
            continue;
        }
        match cx.proc.files().file(fd) {
            Err(_) => revents[i] = libc::POLLNVAL,
            Ok(f) if f.host().is_some() => host.push((i, f)),
            Ok(f) => match &f.kind {
                FileKind::SignalFd(m) => sigfds.push((i, m.get())),
                _ => revents[i] = events & (libc::POLLIN | libc::POLLOUT),
            },
        }
    }
    // A signalfd is readable while a signal of its set is pending.
    let sig_ready = |cx: &mut Ctx, revents: &mut [i16]| {
        for &(i, m) in &sigfds {
            if cx.proc.sig().pending() & m != 0 {
                revents[i] = entries[i].1 & libc::POLLIN;
            }
        }
    };
    sig_ready(cx, &mut revents);
    let wake = match sigfds.iter().fold(0, |s, (_, m)| s | m) {
        0 => wait::Wake::Signal,
        set => wait::Wake::SignalIn(set),
    };
    if revents.iter().any(|&r| r != 0) {
        // Something is ready already: look at the host ones without waiting.
        deadline = Some(wait::Deadline::now());
    }
    let mut polls: Vec<wait::Poll<'_>> = host
        .iter()
        .filter_map(|(i, f)| Some(wait::Poll::new(f.host()?, entries[*i].1)))
        .collect();
    loop {
        match wait::block_on(cx, &mut polls, deadline, wake)? {
            wait::Woken::Signal => {
                sig_ready(cx, &mut revents);
                if revents.iter().any(|&r| r != 0) && cx.proc.sig().deliverable().is_none() {
                    break;
                }
                return Err(wait::ERESTARTNOHAND);
            }
            wait::Woken::Woken => continue,
            wait::Woken::Ready | wait::Woken::TimedOut => break,
        }
    }
    for ((i, _), p) in host.iter().zip(&polls) {
        revents[*i] = p.revents;
    }
    Ok(revents)
}

fn poll_common(cx: &mut Ctx, fds: u64, nfds: u64, timeout_ms: Option<u64>) -> SysResult {
    if nfds > cx.proc.rlimits.nofile() as u64 {
        return Err(Errno::INVAL);
    }
    let mut polls = vec![Pollfd::default(); nfds as usize];
    cx.user().read(fds, polls.as_mut_slice().as_bytes_mut())?;
    let entries: Vec<(i32, i16)> = polls.iter().map(|p| (p.fd, p.events)).collect();
    let revents = wait_ready(cx, &entries, timeout_ms)?;
    for (p, &r) in polls.iter_mut().zip(&revents) {
        p.revents = r;
    }
    cx.user().write(fds, polls.as_slice().as_bytes())?;
    Ok(revents.iter().filter(|&&r| r != 0).count() as u64)
}

/// select/pselect6 as poll over the descriptors in the three sets.
fn select_common(cx: &mut Ctx, a: &Args, timeout_ms: Option<u64>) -> SysResult {
    let n = int(a.0[0]);
    if !(0..=1024).contains(&n) {
        return Err(Errno::INVAL);
    }
    // Linux looks only at descriptors below the size of the process's
    // descriptor table (at least 64, a power of two); higher bits are
    // ignored, not EBADF.
    let n = n.min(cx.proc.files().capacity() as i32);
    let bytes = (n as usize).div_ceil(64) * 8;
    let read_set = |addr: u64| -> Result<Vec<u8>, Errno> {
        if addr == 0 {
            Ok(vec![0; bytes])
        } else {
            cx.user().read_vec(addr, bytes)
        }
    };
    let sets = [read_set(a.0[1])?, read_set(a.0[2])?, read_set(a.0[3])?];
    let bit = |set: &[u8], fd: usize| set[fd / 8] & (1 << (fd % 8)) != 0;
    let mut entries: Vec<(i32, i16)> = Vec::new();
    for fd in 0..n as usize {
        let mut ev = 0i16;
        if bit(&sets[0], fd) {
            ev |= libc::POLLIN;
        }
        if bit(&sets[1], fd) {
            ev |= libc::POLLOUT;
        }
        if bit(&sets[2], fd) {
            ev |= libc::POLLPRI;
        }
        if ev != 0 {
            if !cx.proc.files().is_open(fd as i32) {
                return Err(Errno::BADF);
            }
            entries.push((fd as i32, ev));
        }
    }
    let revents = wait_ready(cx, &entries, timeout_ms)?;
    let mut out = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    let mut count = 0u64;
    for (&(fd, ev), &r) in entries.iter().zip(&revents) {
        let fd = fd as usize;
        let hits = [
            ev & libc::POLLIN != 0 && r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            ev & libc::POLLOUT != 0 && r & (libc::POLLOUT | libc::POLLERR) != 0,
            ev & libc::POLLPRI != 0 && r & libc::POLLPRI != 0,
        ];
        for (k, hit) in hits.iter().enumerate() {
            if *hit {
                out[k][fd / 8] |= 1 << (fd % 8);
                count += 1;
            }
        }
    }
    for (k, addr) in [a.0[1], a.0[2], a.0[3]].into_iter().enumerate() {
        if addr != 0 {
            cx.user().write(addr, &out[k])?;
        }
    }
    Ok(count)
}

/// A timeout argument in ms: a timeval (select) or a timespec (pselect6,
/// ppoll); None for NULL (wait forever).
pub(super) fn timeout_ms(cx: &Ctx, addr: u64, nsec_unit: bool) -> Result<Option<u64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let d = if nsec_unit {
        cx.user().read_obj::<Timespec>(addr)?.to_duration()?
    } else {
        cx.user().read_obj::<Timeval>(addr)?.to_duration()?
    };
    Ok(Some(
        d.as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(d.subsec_millis())),
    ))
}

pub fn sys_select(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = timeout_ms(cx, a.0[4], false)?;
    select_common(cx, a, t)
}

pub fn sys_pselect6(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = timeout_ms(cx, a.0[4], true)?;
    // The sixth argument: { const sigset_t *ss; size_t ss_len }.
    let (uset, size) = if a.0[5] != 0 {
        let raw = cx.user().read_vec(a.0[5], 16)?;
        let w = |i: usize| u64::from_le_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        (w(0), w(8))
    } else {
        (0, 0)
    };
    super::signal::with_wait_mask(cx, uset, size, |cx| select_common(cx, a, t))
}

pub fn sys_poll(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = a.0[2] as u32 as i32;
    poll_common(cx, a.0[0], a.0[1], (t >= 0).then_some(t as u64))
}

pub fn sys_ppoll(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = timeout_ms(cx, a.0[2], true)?;
    super::signal::with_wait_mask(cx, a.0[3], a.0[4], |cx| poll_common(cx, a.0[0], a.0[1], t))
}
