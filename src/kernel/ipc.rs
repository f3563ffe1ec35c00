//! System V IPC inside the sandbox: shared memory segments, semaphore sets
//! and message queues, in an IPC namespace of the sandbox's own (as a
//! container's: keys and ids never meet the host's).
//!
//! A segment is a memfd of kvmcage's own, counted against --mem; each
//! shmat maps it through a shared slot (vm/shared.rs), so two attachments
//! alias. Semaphores and messages are kvmcage's bookkeeping; a call that
//! must wait (semop, msgsnd to a full queue, msgrcv of an empty one) waits
//! in the one waiting place and ends with EINTR for a handler (none of
//! these calls restart, as on Linux) or EAGAIN at a semtimedop timeout.
//!
//! Limits are Linux's defaults where they bound a single object (SEMMSL,
//! SEMOPM, SEMVMX, MSGMAX, MSGMNB) and smaller where they bound the
//! sandbox's host memory: [`MAX_OBJECTS`] of each kind, [`MAX_SEMS`]
//! semaphores in all.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;

use super::abi::{AsBytes, Ipc64Perm, Msqid64Ds, Sembuf, Semid64Ds, Shmid64Ds};
use super::mm::VmaKind;
use super::{int, wait, Args, Ctx, SysResult};
use crate::vm::layout::{page_up, Gva, PAGE_SIZE};

const IPC_PRIVATE: i32 = 0;
const IPC_CREAT: i32 = 0o1000;
const IPC_EXCL: i32 = 0o2000;
const IPC_NOWAIT: i32 = 0o4000;
const IPC_RMID: i32 = 0;
const IPC_SET: i32 = 1;
const IPC_STAT: i32 = 2;
/// Set by 64-bit-layout callers; the layout is the same here.
const IPC_64: i32 = 0x100;
/// Linux's IPCMNI: ids are index + SEQ * this.
const SEQ_MULTIPLIER: i32 = 32768;
/// Objects of each kind one sandbox may have (SHMMNI is 4096).
pub const MAX_OBJECTS: usize = 256;
/// Semaphores in all sets together.
pub const MAX_SEMS: usize = 65536;
const SEMMSL: i32 = 32000;
const SEMOPM: usize = 500;
const SEMVMX: i32 = 32767;
const MSGMAX: u64 = 8192;
const MSGMNB: u64 = 16384;
const SHM_RDONLY: i32 = 0o10000;
const SHM_RND: i32 = 0o20000;
const SHM_REMAP: i32 = 0o40000;
const SHM_DEST: u32 = 0o1000;
const MSG_NOERROR: i32 = 0o10000;
const MSG_EXCEPT: i32 = 0o20000;
const MSG_COPY: i32 = 0o40000;

/// struct ipc64_perm's fields.
#[derive(Clone, Debug, Default)]
struct Perm {
    key: i32,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    mode: u32,
    seq: u16,
}

impl Perm {
    fn abi(&self) -> Ipc64Perm {
        Ipc64Perm {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            seq: self.seq,
            ..Ipc64Perm::default()
        }
    }

    /// IPC_SET: uid, gid and the permission bits from a guest ipc64_perm.
    fn set(&mut self, new: &Ipc64Perm) {
        self.uid = new.uid;
        self.gid = new.gid;
        self.mode = (self.mode & !0o777) | (new.mode & 0o777);
    }
}

fn now() -> i64 {
    rustix::time::clock_gettime(rustix::time::ClockId::Realtime).tv_sec
}

/// One kind's objects, by index; ids carry a sequence number.
#[derive(Debug)]
struct Table<T> {
    objs: BTreeMap<i32, (Perm, T)>,
    seq: u16,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            objs: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<T> Table<T> {
    fn id_of(idx: i32, p: &Perm) -> i32 {
        idx + i32::from(p.seq) * SEQ_MULTIPLIER
    }

    /// The index of id `id` (EINVAL for an unknown or stale one).
    fn index(&self, id: i32) -> Result<i32, Errno> {
        if id < 0 {
            return Err(Errno::INVAL);
        }
        let idx = id % SEQ_MULTIPLIER;
        match self.objs.get(&idx) {
            Some((p, _)) if Self::id_of(idx, p) == id => Ok(idx),
            _ => Err(Errno::INVAL),
        }
    }

    fn get(&mut self, id: i32) -> Result<&mut (Perm, T), Errno> {
        let idx = self.index(id)?;
        self.objs.get_mut(&idx).ok_or(Errno::INVAL)
    }

    fn by_key(&self, key: i32) -> Option<i32> {
        if key == IPC_PRIVATE {
            return None;
        }
        self.objs
            .iter()
            .find(|(_, (p, _))| p.key == key)
            .map(|(&i, (p, _))| Self::id_of(i, p))
    }

    fn insert(&mut self, mut p: Perm, t: T) -> Result<i32, Errno> {
        if self.objs.len() >= MAX_OBJECTS {
            return Err(Errno::NOSPC);
        }
        let idx = (0..).find(|i| !self.objs.contains_key(i)).unwrap_or(0);
        self.seq = self.seq.wrapping_add(1) % (i32::MAX / SEQ_MULTIPLIER) as u16;
        p.seq = self.seq;
        let id = Self::id_of(idx, &p);
        self.objs.insert(idx, (p, t));
        Ok(id)
    }
}

/// A shared memory segment.
#[derive(Debug)]
struct Shm {
    fd: OwnedFd,
    size: u64,
    /// Frames counted against --mem for it.
    charge: u64,
    nattch: u64,
    cpid: i32,
    lpid: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
}

#[derive(Debug)]
struct SemSet {
    vals: Vec<(u16, i32)>, // value, pid of the last op
    otime: i64,
    ctime: i64,
}

#[derive(Debug)]
struct Queue {
    msgs: VecDeque<(i64, Vec<u8>)>,
    cbytes: u64,
    qbytes: u64,
    lspid: i32,
    lrpid: i32,
    stime: i64,
    rtime: i64,
    ctime: i64,
}

/// The sandbox's IPC namespace: every process of the run sees the same.
#[derive(Debug, Default)]
pub struct Namespace {
    shm: Table<Shm>,
    sem: Table<SemSet>,
    msg: Table<Queue>,
    /// Threads waiting in semop, msgsnd or msgrcv: woken by any change.
    waiters: Vec<std::sync::Weak<wait::Waker>>,
}

impl Namespace {
    /// Something changed that a waiter may wait for.
    fn changed(&mut self) {
        for w in self.waiters.drain(..) {
            if let Some(w) = w.upgrade() {
                w.wake();
            }
        }
    }
}

/// A process's view of it: the namespace and its own attachments.
#[derive(Debug, Default)]
pub struct Ipc {
    ns: std::sync::Arc<parking_lot::Mutex<Namespace>>,
    /// shmat attachments: start -> (shmid, length, the slot it maps).
    attached: BTreeMap<Gva, (i32, u64, crate::vm::layout::Gpa)>,
}

impl Ipc {
    /// A fork's child's: the same namespace, the same attachments (each
    /// segment one more attachment; the child's address space maps them).
    pub fn for_fork(&self) -> Self {
        let mut ns = self.ns.lock();
        for &(id, _, _) in self.attached.values() {
            if let Ok((_, s)) = ns.shm.get(id) {
                s.nattch += 1;
            }
        }
        Self {
            ns: std::sync::Arc::clone(&self.ns),
            attached: self.attached.clone(),
        }
    }

    /// The process ended (its address space is gone): its attachments
    /// go, and a removed segment with its last one; the frames it charged
    /// are given back to `frames`.
    pub fn exit(&mut self, frames: &crate::vm::memory::FrameAllocator) {
        let mut ns = self.ns.lock();
        for (id, _, _) in std::mem::take(&mut self.attached).into_values() {
            if let Some(charge) = ns.release_attachment(id, 0) {
                frames.uncharge(charge);
            }
        }
    }
}

impl Namespace {
    /// One attachment of segment `id` goes (by `pid`); the frames to give
    /// back when that was the last one of a removed segment.
    fn release_attachment(&mut self, id: i32, pid: i32) -> Option<u64> {
        let idx = self.shm.index(id).ok()?;
        let mut destroy = false;
        if let Some((p, s)) = self.shm.objs.get_mut(&idx) {
            s.nattch = s.nattch.saturating_sub(1);
            s.lpid = pid;
            s.dtime = now();
            destroy = s.nattch == 0 && p.mode & SHM_DEST != 0;
        }
        if destroy {
            return self.shm.objs.remove(&idx).map(|(_, s)| s.charge);
        }
        None
    }
}

/// Look up or create an object of `table` for *get's (key, flags).
fn get_common<T>(
    me: &super::Identity,
    table: &mut Table<T>,
    key: i32,
    flags: i32,
    check: impl FnOnce(&T) -> Result<(), Errno>,
    make: impl FnOnce() -> Result<T, Errno>,
) -> SysResult {
    if let Some(id) = table.by_key(key) {
        if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
            return Err(Errno::EXIST);
        }
        let (p, t) = table.get(id)?;
        // The permission bits asked for must be granted (one owner).
        let want = (flags & 0o777) as u32;
        let owner = if me.uid == p.uid || me.uid == p.cuid {
            (p.mode >> 6) & 7
        } else {
            p.mode & 7
        };
        let asked = (want >> 6) | ((want >> 3) & 7) | (want & 7);
        if me.uid != 0 && asked & !owner != 0 {
            return Err(Errno::ACCESS);
        }
        check(t)?;
        return Ok(id as u64);
    }
    if key != IPC_PRIVATE && flags & IPC_CREAT == 0 {
        return Err(Errno::NOENT);
    }
    let t = make()?;
    let perm = Perm {
        key,
        uid: me.uid,
        gid: me.gid,
        cuid: me.uid,
        cgid: me.gid,
        mode: (flags & 0o777) as u32,
        seq: 0,
    };
    Ok(table.insert(perm, t)? as u64)
}

// ---- shared memory ------------------------------------------------------

pub fn sys_shmget(cx: &mut Ctx, a: &Args) -> SysResult {
    let (key, size, flags) = (int(a.0[0]), a.0[1], int(a.0[2]));
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let mut ipc = ns.lock();
    let me = cx.proc.id.clone();
    let r = get_common(
        &me,
        &mut ipc.shm,
        key,
        flags,
        |s| {
            if size > s.size {
                Err(Errno::INVAL)
            } else {
                Ok(())
            }
        },
        || {
            if size == 0 || size > u64::MAX - (1 << 24) {
                return Err(Errno::INVAL);
            }
            let len = page_up(size).ok_or(Errno::INVAL)?;
            let frames = len / PAGE_SIZE;
            if !cx.m.frames().charge(frames) {
                return Err(Errno::NOSPC);
            }
            match super::mm::anon_memfd(len) {
                Ok(fd) => Ok(Shm {
                    fd,
                    size,
                    charge: frames,
                    nattch: 0,
                    cpid: cx.proc.id.pid as i32,
                    lpid: 0,
                    atime: 0,
                    dtime: 0,
                    ctime: now(),
                }),
                Err(e) => {
                    cx.m.frames().uncharge(frames);
                    Err(e)
                }
            }
        },
    );
    drop(ipc);
    r
}

pub fn sys_shmat(cx: &mut Ctx, a: &Args) -> SysResult {
    let (id, addr, flags) = (int(a.0[0]), a.0[1], int(a.0[2]));
    // A vfork child maps nothing into its parent's address space.
    if cx.proc.mm.borrowed {
        return Err(Errno::NOMEM);
    }
    let (fd, len, key) = {
        let mut ns = cx.proc.ipc.ns.lock();
        let (p, s) = ns.shm.get(id)?;
        let fd = rustix::io::fcntl_dupfd_cloexec(&s.fd, 0)?;
        (fd, page_up(s.size).ok_or(Errno::INVAL)?, p.key)
    };
    let start = if addr != 0 {
        let a = if flags & SHM_RND != 0 {
            addr & !(PAGE_SIZE - 1)
        } else if addr & (PAGE_SIZE - 1) != 0 {
            return Err(Errno::INVAL);
        } else {
            addr
        };
        if !crate::vm::layout::is_user_range(a, len) || a < crate::vm::layout::USER_MIN {
            return Err(Errno::INVAL);
        }
        if flags & SHM_REMAP == 0 && cx.proc.mm.overlaps(a, a + len) {
            return Err(Errno::INVAL);
        }
        a
    } else {
        if flags & SHM_REMAP != 0 {
            return Err(Errno::INVAL);
        }
        cx.proc.mm.find_free(len).ok_or(Errno::NOMEM)?
    };
    let writable = flags & SHM_RDONLY == 0;
    let prot = (libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 }) as u32;
    let slot = cx.m.add_shared(fd.as_fd(), 0, len, writable)?;
    let name = format!("/SYSV{:08x} (deleted)", key as u32);
    let name = cx.proc.mm.file_name(name.as_bytes());
    // A replaced attachment is gone.
    let gone: Vec<Gva> = cx
        .proc
        .ipc
        .attached
        .range(..start + len)
        .filter(|(&s, &(_, l, _))| s + l > start)
        .map(|(&s, _)| s)
        .collect();
    for s in gone {
        detach(cx, s, false);
    }
    if let Err(e) = cx.proc.mm.map_shared(cx.m, start, len, prot, slot, name) {
        cx.proc.mm.drop_slots(cx.m, vec![slot]);
        return Err(e);
    }
    let pid = cx.proc.id.pid as i32;
    if let Ok((_, s)) = cx.proc.ipc.ns.lock().shm.get(id) {
        s.nattch += 1;
        s.lpid = pid;
        s.atime = now();
    }
    cx.proc.ipc.attached.insert(start, (id, len, slot));
    Ok(start)
}

/// Forget the attachment at `start` (unmapping it when `unmap`); a removed
/// segment goes with its last attachment.
fn detach(cx: &mut Ctx, start: Gva, unmap: bool) {
    let Some((id, len, slot)) = cx.proc.ipc.attached.remove(&start) else {
        return;
    };
    // A vfork child's mappings are its parent's: they stay.
    if unmap && !cx.proc.mm.borrowed {
        // Only the attachment's own pages (a later mmap in the range stays).
        let mine: Vec<(Gva, Gva)> = cx
            .proc
            .mm
            .vmas()
            .filter(|(s, v)| {
                *s < start + len
                    && v.end > start
                    && matches!(v.kind, VmaKind::Shared { slot: sl, .. } if sl == slot)
            })
            .map(|(s, v)| (s, v.end))
            .collect();
        for (s, e) in mine {
            let _ = cx.proc.mm.unmap(cx.m, s, e - s);
        }
    }
    let pid = cx.proc.id.pid as i32;
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let released = ns.lock().release_attachment(id, pid);
    if let Some(charge) = released {
        cx.m.frames().uncharge(charge);
    }
}

/// execve: every attachment goes, as Linux's exit_shm on exec.
pub(crate) fn detach_all(cx: &mut Ctx) {
    let all: Vec<Gva> = cx.proc.ipc.attached.keys().copied().collect();
    for start in all {
        detach(cx, start, true);
    }
}

pub fn sys_shmdt(cx: &mut Ctx, a: &Args) -> SysResult {
    let addr = a.0[0];
    if addr & (PAGE_SIZE - 1) != 0
        || !cx.proc.ipc.attached.contains_key(&addr)
        || cx.proc.mm.borrowed
    {
        return Err(Errno::INVAL);
    }
    detach(cx, addr, true);
    Ok(0)
}

pub fn sys_shmctl(cx: &mut Ctx, a: &Args) -> SysResult {
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let mut t = ns.lock();
    let (id, cmd, buf) = (int(a.0[0]), int(a.0[1]) & !IPC_64, a.0[2]);
    match cmd {
        IPC_STAT => {
            let (p, s) = t.shm.get(id)?;
            let ds = Shmid64Ds {
                shm_perm: p.abi(),
                shm_segsz: s.size,
                shm_atime: s.atime,
                shm_dtime: s.dtime,
                shm_ctime: s.ctime,
                shm_cpid: s.cpid,
                shm_lpid: s.lpid,
                shm_nattch: s.nattch,
                ..Shmid64Ds::default()
            };
            cx.user().write_obj(buf, &ds)?;
            Ok(0)
        }
        IPC_SET => {
            let new: Shmid64Ds = cx.user().read_obj(buf)?;
            let (p, s) = t.shm.get(id)?;
            p.set(&new.shm_perm);
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let idx = t.shm.index(id)?;
            let Some((p, s)) = t.shm.objs.get_mut(&idx) else {
                return Err(Errno::INVAL);
            };
            if s.nattch > 0 {
                // Marked: its key is free, it lives while attached.
                p.mode |= SHM_DEST;
                p.key = IPC_PRIVATE;
                return Ok(0);
            }
            if let Some((_, s)) = t.shm.objs.remove(&idx) {
                cx.m.frames().uncharge(s.charge);
            }
            Ok(0)
        }
        _ => Err(Errno::INVAL),
    }
}

// ---- semaphores ---------------------------------------------------------

pub fn sys_semget(cx: &mut Ctx, a: &Args) -> SysResult {
    let (key, nsems, flags) = (int(a.0[0]), int(a.0[1]), int(a.0[2]));
    if !(0..=SEMMSL).contains(&nsems) {
        return Err(Errno::INVAL);
    }
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let mut ipc = ns.lock();
    let in_use: usize = ipc.sem.objs.values().map(|(_, s)| s.vals.len()).sum();
    let me = cx.proc.id.clone();
    let r = get_common(
        &me,
        &mut ipc.sem,
        key,
        flags,
        |s| {
            if nsems as usize > s.vals.len() {
                Err(Errno::INVAL)
            } else {
                Ok(())
            }
        },
        || {
            if nsems == 0 {
                return Err(Errno::INVAL);
            }
            if in_use + nsems as usize > MAX_SEMS {
                return Err(Errno::NOSPC);
            }
            Ok(SemSet {
                vals: vec![(0, 0); nsems as usize],
                otime: 0,
                ctime: now(),
            })
        },
    );
    drop(ipc);
    r
}

const GETPID: i32 = 11;
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;

pub fn sys_semctl(cx: &mut Ctx, a: &Args) -> SysResult {
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let mut t = ns.lock();
    // Waiters look again (they re-check once this call lets go).
    t.changed();
    let (id, num, cmd, arg) = (int(a.0[0]), int(a.0[1]), int(a.0[2]) & !IPC_64, a.0[3]);
    let pid = cx.proc.id.pid as i32;
    let nsems = t.sem.get(id)?.1.vals.len();
    let one = |num: i32| {
        usize::try_from(num)
            .ok()
            .filter(|&n| n < nsems)
            .ok_or(Errno::INVAL)
    };
    match cmd {
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            let n = one(num)?;
            let (_, s) = t.sem.get(id)?;
            Ok(match cmd {
                GETVAL => u64::from(s.vals[n].0),
                GETPID => s.vals[n].1 as u64,
                // Nobody else can be waiting: one process.
                _ => 0,
            })
        }
        SETVAL => {
            let n = one(num)?;
            let v = int(arg);
            if !(0..=SEMVMX).contains(&v) {
                return Err(Errno::RANGE);
            }
            let (_, s) = t.sem.get(id)?;
            s.vals[n] = (v as u16, pid);
            s.ctime = now();
            Ok(0)
        }
        GETALL => {
            let (_, s) = t.sem.get(id)?;
            let vals: Vec<u16> = s.vals.iter().map(|v| v.0).collect();
            cx.user().write(arg, vals.as_slice().as_bytes())?;
            Ok(0)
        }
        SETALL => {
            let mut vals = vec![0u16; nsems];
            cx.user().read(arg, vals.as_mut_slice().as_bytes_mut())?;
            if vals.iter().any(|&v| i32::from(v) > SEMVMX) {
                return Err(Errno::RANGE);
            }
            let (_, s) = t.sem.get(id)?;
            for (slot, v) in s.vals.iter_mut().zip(vals) {
                *slot = (v, pid);
            }
            s.ctime = now();
            Ok(0)
        }
        IPC_STAT => {
            let (p, s) = t.sem.get(id)?;
            let ds = Semid64Ds {
                sem_perm: p.abi(),
                sem_otime: s.otime,
                sem_ctime: s.ctime,
                sem_nsems: s.vals.len() as u64,
                ..Semid64Ds::default()
            };
            cx.user().write_obj(arg, &ds)?;
            Ok(0)
        }
        IPC_SET => {
            let new: Semid64Ds = cx.user().read_obj(arg)?;
            let (p, s) = t.sem.get(id)?;
            p.set(&new.sem_perm);
            s.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let idx = t.sem.index(id)?;
            t.sem.objs.remove(&idx);
            Ok(0)
        }
        _ => Err(Errno::INVAL),
    }
}

/// Apply `ops` (sem_num, sem_op, sem_flg) all or none: Ok(true) done,
/// Ok(false) one must wait (`nowait`: its IPC_NOWAIT).
fn try_semop(
    s: &mut SemSet,
    ops: &[(usize, i16, i16)],
    pid: i32,
) -> Result<Result<(), bool>, Errno> {
    let mut vals: Vec<i32> = s.vals.iter().map(|v| i32::from(v.0)).collect();
    for &(n, op, flg) in ops {
        let v = vals[n];
        if op == 0 {
            if v != 0 {
                return Ok(Err(i32::from(flg) & IPC_NOWAIT != 0));
            }
            continue;
        }
        let r = v + i32::from(op);
        if r < 0 {
            return Ok(Err(i32::from(flg) & IPC_NOWAIT != 0));
        }
        if r > SEMVMX {
            return Err(Errno::RANGE);
        }
        vals[n] = r;
    }
    for &(n, _, _) in ops {
        s.vals[n] = (vals[n] as u16, pid);
    }
    s.otime = now();
    Ok(Ok(()))
}

fn semop_common(cx: &mut Ctx, id: i32, sops: u64, nsops: u64, timeout: u64) -> SysResult {
    if nsops < 1 {
        return Err(Errno::INVAL);
    }
    if nsops as usize > SEMOPM {
        return Err(Errno::TOOBIG);
    }
    let mut bufs = vec![Sembuf::default(); nsops as usize];
    cx.user().read(sops, bufs.as_mut_slice().as_bytes_mut())?;
    let deadline = if timeout != 0 {
        Some(wait::Deadline::after(super::time::read_timespec(
            cx, timeout,
        )?))
    } else {
        None
    };
    let ops: Vec<(u16, i16, i16)> = bufs
        .iter()
        .map(|b| (b.sem_num, b.sem_op, b.sem_flg))
        .collect();
    let pid = cx.proc.id.pid as i32;
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let nsems = ns.lock().sem.get(id)?.1.vals.len();
    if ops.iter().any(|o| usize::from(o.0) >= nsems) {
        return Err(Errno::FBIG);
    }
    let ops: Vec<(usize, i16, i16)> = ops
        .into_iter()
        .map(|(n, o, f)| (usize::from(n), o, f))
        .collect();
    let waker = cx.proc.me().waker.clone();
    loop {
        {
            let mut t = ns.lock();
            // (The set may be removed while waiting: EIDRM.)
            let s = match t.sem.get(id) {
                Ok((_, s)) => s,
                Err(_) => return Err(Errno::IDRM),
            };
            match try_semop(s, &ops, pid)? {
                Ok(()) => {
                    t.changed();
                    return Ok(0);
                }
                Err(true) => return Err(Errno::AGAIN),
                Err(false) => {}
            }
            // Another process's semop or semctl wakes it.
            if let Some(w) = &waker {
                t.waiters.push(std::sync::Arc::downgrade(w));
            }
        }
        match wait::block_on(cx, &mut [], deadline, wait::Wake::Signal)? {
            wait::Woken::Signal => return Err(Errno::INTR),
            wait::Woken::TimedOut => return Err(Errno::AGAIN),
            wait::Woken::Ready | wait::Woken::Woken => {}
        }
    }
}

pub fn sys_semop(cx: &mut Ctx, a: &Args) -> SysResult {
    semop_common(cx, int(a.0[0]), a.0[1], a.0[2], 0)
}

pub fn sys_semtimedop(cx: &mut Ctx, a: &Args) -> SysResult {
    semop_common(cx, int(a.0[0]), a.0[1], a.0[2], a.0[3])
}

// ---- message queues -----------------------------------------------------

pub fn sys_msgget(cx: &mut Ctx, a: &Args) -> SysResult {
    let (key, flags) = (int(a.0[0]), int(a.0[1]));
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let mut ipc = ns.lock();
    let me = cx.proc.id.clone();
    let r = get_common(
        &me,
        &mut ipc.msg,
        key,
        flags,
        |_| Ok(()),
        || {
            Ok(Queue {
                msgs: VecDeque::new(),
                cbytes: 0,
                qbytes: MSGMNB,
                lspid: 0,
                lrpid: 0,
                stime: 0,
                rtime: 0,
                ctime: now(),
            })
        },
    );
    drop(ipc);
    r
}

pub fn sys_msgsnd(cx: &mut Ctx, a: &Args) -> SysResult {
    let (id, msgp, size, flags) = (int(a.0[0]), a.0[1], a.0[2], int(a.0[3]));
    let mtype: i64 = cx.user().read_obj(msgp)?;
    if size > MSGMAX || id < 0 || mtype < 1 {
        return Err(Errno::INVAL);
    }
    let text = cx.user().read_vec(msgp + 8, size as usize)?;
    let pid = cx.proc.id.pid as i32;
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let waker = cx.proc.me().waker.clone();
    loop {
        {
            let mut t = ns.lock();
            let (_, q) = t.msg.get(id).map_err(|_| Errno::INVAL)?;
            if q.cbytes + size <= q.qbytes && (q.msgs.len() as u64) < q.qbytes {
                q.cbytes += size;
                q.msgs.push_back((mtype, text));
                q.lspid = pid;
                q.stime = now();
                t.changed();
                return Ok(0);
            }
            if flags & IPC_NOWAIT != 0 {
                return Err(Errno::AGAIN);
            }
            if let Some(w) = &waker {
                t.waiters.push(std::sync::Arc::downgrade(w));
            }
        }
        if wait::block_on(cx, &mut [], None, wait::Wake::Signal)? == wait::Woken::Signal {
            return Err(Errno::INTR);
        }
    }
}

pub fn sys_msgrcv(cx: &mut Ctx, a: &Args) -> SysResult {
    let (id, msgp, size, typ, flags) = (int(a.0[0]), a.0[1], a.0[2], a.0[3] as i64, int(a.0[4]));
    if (size as i64) < 0 || id < 0 {
        return Err(Errno::INVAL);
    }
    if flags & MSG_COPY != 0 {
        // Checkpoint/restore's peek: not in the sandbox.
        return Err(Errno::NOSYS);
    }
    let pid = cx.proc.id.pid as i32;
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let waker = cx.proc.me().waker.clone();
    loop {
        let mut t = ns.lock();
        let (_, q) = t.msg.get(id).map_err(|_| Errno::INVAL)?;
        let pick = if typ == 0 {
            (!q.msgs.is_empty()).then_some(0)
        } else if typ > 0 {
            q.msgs
                .iter()
                .position(|(t, _)| (*t == typ) != (flags & MSG_EXCEPT != 0))
        } else {
            // The lowest type <= |typ|, the first of them.
            q.msgs
                .iter()
                .enumerate()
                .filter(|(_, (t, _))| *t <= typ.saturating_neg())
                .min_by_key(|(i, (t, _))| (*t, *i))
                .map(|(i, _)| i)
        };
        if let Some(i) = pick {
            let len = q.msgs[i].1.len() as u64;
            if len > size && flags & MSG_NOERROR == 0 {
                return Err(Errno::TOOBIG);
            }
            let (mt, text) = q.msgs.remove(i).expect("picked");
            q.cbytes -= len;
            q.lrpid = pid;
            q.rtime = now();
            t.changed();
            drop(t);
            let n = len.min(size) as usize;
            cx.user().write_obj(msgp, &mt)?;
            cx.user().write(msgp + 8, &text[..n])?;
            return Ok(n as u64);
        }
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::NOMSG);
        }
        if let Some(w) = &waker {
            t.waiters.push(std::sync::Arc::downgrade(w));
        }
        drop(t);
        if wait::block_on(cx, &mut [], None, wait::Wake::Signal)? == wait::Woken::Signal {
            return Err(Errno::INTR);
        }
    }
}

pub fn sys_msgctl(cx: &mut Ctx, a: &Args) -> SysResult {
    let ns = std::sync::Arc::clone(&cx.proc.ipc.ns);
    let mut t = ns.lock();
    // Waiters look again (they re-check once this call lets go).
    t.changed();
    let (id, cmd, buf) = (int(a.0[0]), int(a.0[1]) & !IPC_64, a.0[2]);
    match cmd {
        IPC_STAT => {
            let (p, q) = t.msg.get(id)?;
            let ds = Msqid64Ds {
                msg_perm: p.abi(),
                msg_stime: q.stime,
                msg_rtime: q.rtime,
                msg_ctime: q.ctime,
                msg_cbytes: q.cbytes,
                msg_qnum: q.msgs.len() as u64,
                msg_qbytes: q.qbytes,
                msg_lspid: q.lspid,
                msg_lrpid: q.lrpid,
                ..Msqid64Ds::default()
            };
            cx.user().write_obj(buf, &ds)?;
            Ok(0)
        }
        IPC_SET => {
            let new: Msqid64Ds = cx.user().read_obj(buf)?;
            let qbytes = new.msg_qbytes;
            let (p, q) = t.msg.get(id)?;
            // Raising the limit past MSGMNB takes CAP_SYS_RESOURCE, which
            // the sandbox never gives (its memory is bounded by it).
            if qbytes > MSGMNB {
                return Err(Errno::PERM);
            }
            p.set(&new.msg_perm);
            q.qbytes = qbytes;
            q.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let idx = t.msg.index(id)?;
            t.msg.objs.remove(&idx);
            Ok(0)
        }
        _ => Err(Errno::INVAL),
    }
}
