//! futex(2) (kernel/futex/ in Linux) across threads and processes.
//!
//! The waiters are a FIFO table in the process, under its lock, keyed by
//! the word's address (one address space per process: Linux keys private
//! and anonymous futexes the same way); a word in a shared mapping used
//! without FUTEX_PRIVATE_FLAG (a process-shared mutex, a named semaphore)
//! queues in the sandbox's table instead, under its own lock, keyed by the
//! word's guest-physical address, which every process mapping it shares. FUTEX_WAIT compares the word and
//! queues the caller under the lock, then waits in `wait::block_on` with
//! the lock given up; a waker takes waiters off the table and writes their
//! eventfds, so a waiter back from its wait that is no longer queued was
//! woken (0), even if a signal or its timeout came too. The rest is
//! Linux's order of checks and errnos: the argument and address checks,
//! the atomic compare (EAGAIN), the WAKE_OP word update, the CMP_REQUEUE
//! compare, timeouts (relative for FUTEX_WAIT, absolute on
//! CLOCK_MONOTONIC or, with FUTEX_CLOCK_REALTIME, CLOCK_REALTIME for
//! FUTEX_WAIT_BITSET), and the restart rules. The PI operations are ENOSYS:
//! glibc and musl use them only for PTHREAD_PRIO_INHERIT mutexes.
//! futex_waitv queues one waiter per word (each in its word's table) and
//! returns the index of the one a waker took off.

use rustix::io::Errno;
use rustix::time::ClockId;

use super::abi::{AsBytes, FutexWaitv};
use super::wait::{self, Deadline, Wake, Woken, ERESTARTSYS, ERESTART_RESTARTBLOCK};
use super::{Args, Ctx, SysResult};
use crate::mm::uaccess::access_ok;

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
const FUTEX_LOCK_PI2: u32 = 13;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// One waiting thread (on one of its words: futex_waitv queues one
/// waiter per word, `slot` being the word's index).
#[derive(Debug)]
struct Waiter {
    key: u64,
    bitset: u32,
    tid: u32,
    slot: u32,
    waker: Option<std::sync::Arc<wait::Waker>>,
}

/// The process's futex waiters, oldest first; at most one per thread.
#[derive(Debug, Default)]
pub struct FutexTable {
    waiters: std::collections::VecDeque<Waiter>,
}

impl FutexTable {
    fn is_waiting(&self, tid: u32) -> bool {
        self.waiters.iter().any(|w| w.tid == tid)
    }

    fn is_queued(&self, tid: u32, slot: u32) -> bool {
        self.waiters.iter().any(|w| w.tid == tid && w.slot == slot)
    }

    fn cancel(&mut self, tid: u32) {
        self.waiters.retain(|w| w.tid != tid);
    }

    /// A thread that ends waits no more.
    pub fn cancel_thread(&mut self, tid: u32) {
        self.cancel(tid);
    }

    /// Wake up to `n` waiters on `key` whose bitset meets `bitset`, oldest
    /// first; how many.
    pub fn wake(&mut self, key: u64, n: u32, bitset: u32) -> u32 {
        let mut woken = 0;
        self.waiters.retain(|w| {
            if woken < n && w.key == key && w.bitset & bitset != 0 {
                woken += 1;
                if let Some(k) = &w.waker {
                    k.wake();
                }
                false
            } else {
                true
            }
        });
        woken
    }

    /// Wake `n` waiters on `from`, move up to `requeue` more to `to`;
    /// how many were woken plus moved (CMP_REQUEUE's result).
    fn requeue(&mut self, from: u64, to: u64, n: u32, requeue: u32) -> u32 {
        let woken = self.wake(from, n, FUTEX_BITSET_MATCH_ANY);
        let mut moved = 0;
        for w in self.waiters.iter_mut() {
            if moved < requeue && w.key == from {
                w.key = to;
                moved += 1;
            }
        }
        woken + moved
    }
}

/// Which table a futex word's waiters queue in.
#[derive(Clone)]
enum Queue {
    /// The process's own, under its lock: keyed by the word's address.
    Own,
    /// The sandbox's: keyed by the word's guest-physical address.
    Sandbox(std::sync::Arc<parking_lot::Mutex<FutexTable>>),
}

/// The queue and key of the word at `uaddr` (`shared`: no
/// FUTEX_PRIVATE_FLAG).
fn key_of(cx: &Ctx, uaddr: u64, shared: bool) -> (Queue, u64) {
    use crate::vm::layout::{page_down, PAGE_SIZE};
    if shared && cx.proc.mm.find(uaddr).is_some_and(|(_, v)| v.is_shared()) {
        if let Some(t) = cx.proc.mm.pt.translate(cx.m.ram(), page_down(uaddr)) {
            let q = Queue::Sandbox(std::sync::Arc::clone(&cx.proc.tasks.futexes));
            return (q, t.frame + (uaddr & (PAGE_SIZE - 1)));
        }
    }
    (Queue::Own, uaddr)
}

/// Run `f` on the table `q` names.
fn with<R>(cx: &mut Ctx, q: &Queue, f: impl FnOnce(&mut FutexTable) -> R) -> R {
    match q {
        Queue::Own => f(&mut cx.proc.futexes),
        Queue::Sandbox(t) => f(&mut t.lock()),
    }
}

/// A wait that a signal interrupted, to be taken up again by
/// restart_syscall when no handler ran (Linux's restart_block).
#[derive(Clone, Copy, Debug)]
pub struct FutexRestart {
    uaddr: u64,
    val: u32,
    bitset: u32,
    shared: bool,
    deadline: Deadline,
}

/// The futex word's address: 4-byte aligned (EINVAL), in the user half
/// (EFAULT); a shared key also needs the page mapped and writable, as
/// Linux's get_futex_key pins it (a read-only anonymous page is EFAULT).
fn check_key(cx: &Ctx, uaddr: u64, shared: bool) -> Result<(), Errno> {
    if uaddr % 4 != 0 {
        return Err(Errno::INVAL);
    }
    if !access_ok(uaddr, 4) {
        return Err(Errno::FAULT);
    }
    if shared && cx.user().writable_len(uaddr, 4) < 4 {
        return Err(Errno::FAULT);
    }
    Ok(())
}

fn read_word(cx: &Ctx, uaddr: u64) -> Result<u32, Errno> {
    let b = cx.user().read_vec(uaddr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn wait_on(
    cx: &mut Ctx,
    uaddr: u64,
    val: u32,
    bitset: u32,
    shared: bool,
    deadline: Option<Deadline>,
) -> SysResult {
    if bitset == 0 {
        return Err(Errno::INVAL);
    }
    check_key(cx, uaddr, shared)?;
    let tid = cx.proc.me().tid;
    let (q, key) = key_of(cx, uaddr, shared);
    queue_if_equal(cx, &q, uaddr, val, key, bitset, 0)?;
    loop {
        let woken = wait::block_on(cx, &mut [], deadline, Wake::Signal);
        // Taken off the table by a waker: woken, whatever else came.
        if !with(cx, &q, |t| t.is_waiting(tid)) {
            return Ok(0);
        }
        let woken = match woken {
            Ok(w) => w,
            Err(e) => {
                with(cx, &q, |t| t.cancel(tid));
                return Err(e);
            }
        };
        match woken {
            Woken::TimedOut => {
                with(cx, &q, |t| t.cancel(tid));
                return Err(Errno::TIMEDOUT);
            }
            Woken::Signal => {
                with(cx, &q, |t| t.cancel(tid));
                return match deadline {
                    None => Err(ERESTARTSYS),
                    Some(deadline) => {
                        cx.proc.me().restart = Some(super::Restart::Futex(FutexRestart {
                            uaddr,
                            val,
                            bitset,
                            shared,
                            deadline,
                        }));
                        Err(ERESTART_RESTARTBLOCK)
                    }
                };
            }
            // Woken for something else (a signal that was not ours to
            // take, a stale eventfd count): still queued, wait on.
            Woken::Ready | Woken::Woken => continue,
        }
    }
}

/// Queue the calling thread on `key` of table `q` (as word `slot` of its
/// wait) if the word at `uaddr` holds `val`, else EAGAIN. The compare
/// and the queueing are one step under the table's lock: a waker in
/// another process (the sandbox's table) cannot slip between them.
fn queue_if_equal(
    cx: &mut Ctx,
    q: &Queue,
    uaddr: u64,
    val: u32,
    key: u64,
    bitset: u32,
    slot: u32,
) -> Result<(), Errno> {
    let me = cx.proc.me();
    let waiter = Waiter {
        key,
        bitset,
        tid: me.tid,
        slot,
        waker: me.waker.clone(),
    };
    match q {
        Queue::Own => {
            if read_word(cx, uaddr)? != val {
                return Err(Errno::AGAIN);
            }
            cx.proc.futexes.waiters.push_back(waiter);
        }
        Queue::Sandbox(t) => {
            let mut t = t.lock();
            if read_word(cx, uaddr)? != val {
                return Err(Errno::AGAIN);
            }
            t.waiters.push_back(waiter);
        }
    }
    Ok(())
}

/// futex_waitv(2)'s limits and flags (Linux's futex2).
const FUTEX_WAITV_MAX: u64 = 128;
const FUTEX2_SIZE_U32: u32 = 2;
const FUTEX2_SIZE_MASK: u32 = 3;
const FUTEX2_PRIVATE: u32 = FUTEX_PRIVATE_FLAG;

/// futex_waitv(waiters, nr, flags, timeout, clockid): wait until one of
/// `nr` words (struct futex_waitv: val, uaddr, flags, reserved) is woken;
/// its index. Every word is checked and compared first (EINVAL, EFAULT,
/// EAGAIN when one differs); the timeout is absolute on CLOCK_MONOTONIC
/// or CLOCK_REALTIME.
pub fn sys_futex_waitv(cx: &mut Ctx, a: &Args) -> SysResult {
    let [uwaiters, nr, flags, utimeout, clockid, _] = a.0;
    if flags != 0 || nr == 0 || nr > FUTEX_WAITV_MAX || uwaiters == 0 {
        return Err(Errno::INVAL);
    }
    let deadline = if utimeout != 0 {
        let clock = match clockid as u32 as i32 {
            libc::CLOCK_MONOTONIC => ClockId::Monotonic,
            libc::CLOCK_REALTIME => ClockId::Realtime,
            _ => return Err(Errno::INVAL),
        };
        Some(Deadline::at(
            clock,
            super::time::read_timespec(cx, utimeout)?,
        ))
    } else {
        None
    };
    let mut waiters = vec![FutexWaitv::default(); nr as usize];
    cx.user()
        .read(uwaiters, waiters.as_mut_slice().as_bytes_mut())?;
    let mut words = Vec::with_capacity(nr as usize);
    for w in &waiters {
        let (val, uaddr, wflags) = (w.val, w.uaddr, w.flags);
        if w.reserved != 0
            || wflags & !(FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) != 0
            || wflags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32
            || val > u64::from(u32::MAX)
        {
            return Err(Errno::INVAL);
        }
        words.push((uaddr, val as u32, wflags & FUTEX2_PRIVATE == 0));
    }
    // Every entry's flags first (futex_parse_waitv), then the addresses.
    for &(uaddr, _, shared) in &words {
        check_key(cx, uaddr, shared)?;
    }
    let tid = cx.proc.me().tid;
    let mut queues: Vec<Queue> = Vec::with_capacity(words.len());
    let cancel_all = |cx: &mut Ctx, queues: &[Queue]| {
        for q in queues {
            with(cx, q, |t| t.cancel(tid));
        }
    };
    for (i, &(uaddr, val, shared)) in words.iter().enumerate() {
        let (q, key) = key_of(cx, uaddr, shared);
        let queued = queue_if_equal(cx, &q, uaddr, val, key, FUTEX_BITSET_MATCH_ANY, i as u32);
        queues.push(q);
        if let Err(e) = queued {
            cancel_all(cx, &queues);
            return Err(e);
        }
    }
    loop {
        let woken = wait::block_on(cx, &mut [], deadline, Wake::Signal);
        // A word whose waiter a waker took off its table: that one woke.
        let gone = (0..queues.len()).find(|&i| {
            let q = queues[i].clone();
            !with(cx, &q, |t| t.is_queued(tid, i as u32))
        });
        if let Some(i) = gone {
            cancel_all(cx, &queues);
            return Ok(i as u64);
        }
        match woken {
            Err(e) => {
                cancel_all(cx, &queues);
                return Err(e);
            }
            Ok(Woken::TimedOut) => {
                cancel_all(cx, &queues);
                return Err(Errno::TIMEDOUT);
            }
            Ok(Woken::Signal) => {
                cancel_all(cx, &queues);
                return Err(ERESTARTSYS);
            }
            Ok(Woken::Ready | Woken::Woken) => continue,
        }
    }
}

/// restart_syscall for an interrupted timed wait.
pub fn restart(cx: &mut Ctx, r: FutexRestart) -> SysResult {
    wait_on(cx, r.uaddr, r.val, r.bitset, r.shared, Some(r.deadline))
}

/// FUTEX_WAKE_OP's operation on the word at `uaddr2`: returns whether the
/// comparison with the old value holds. The operation is applied even when
/// the comparison code is unknown (ENOSYS after the write, as Linux).
fn wake_op(cx: &mut Ctx, uaddr2: u64, encoded: u32) -> Result<bool, Errno> {
    let op = (encoded >> 28) & 7;
    let cmp = (encoded >> 24) & 15;
    let mut oparg = ((encoded << 8) as i32) >> 20;
    let cmparg = ((encoded << 20) as i32) >> 20;
    if encoded & (8 << 28) != 0 {
        oparg = 1i32.wrapping_shl((oparg & 31) as u32);
    }
    if op > 4 {
        return Err(Errno::NOSYS);
    }
    check_key(cx, uaddr2, false)?;
    if cx.user().writable_len(uaddr2, 4) < 4 {
        return Err(Errno::FAULT);
    }
    // One atomic step, as Linux's arch_futex_atomic_op_inuser: another
    // thread's lock cmpxchg on the word is never lost.
    let old = cx.user().update_u32(uaddr2, |old| {
        let old = old as i32;
        (match op {
            0 => oparg,
            1 => old.wrapping_add(oparg),
            2 => old | oparg,
            3 => old & !oparg,
            _ => old ^ oparg,
        }) as u32
    })? as i32;
    Ok(match cmp {
        0 => old == cmparg,
        1 => old != cmparg,
        2 => old < cmparg,
        3 => old <= cmparg,
        4 => old > cmparg,
        5 => old >= cmparg,
        _ => return Err(Errno::NOSYS),
    })
}

/// The timeout argument, a `struct timespec` (EFAULT, EINVAL before
/// anything else, as Linux's futex syscall checks it).
fn timeout(cx: &Ctx, utime: u64) -> Result<Option<std::time::Duration>, Errno> {
    (utime != 0)
        .then(|| super::time::read_timespec(cx, utime))
        .transpose()
}

/// How many FUTEX_WAKE (and WAKE_OP) wakes for `val`: Linux compares its
/// count after each wake-up (`++ret >= nr_wake`), so zero or a negative
/// count still wakes one waiter.
fn nr(val: u32) -> u32 {
    (val as i32).max(1) as u32
}

pub fn sys_futex(cx: &mut Ctx, a: &Args) -> SysResult {
    let [uaddr, op, val, utime, uaddr2, val3] = a.0;
    let op = op as u32;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let shared = op & FUTEX_PRIVATE_FLAG == 0;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime
        && !matches!(
            cmd,
            FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
        )
    {
        return Err(Errno::NOSYS);
    }
    let (val, val3) = (val as u32, val3 as u32);
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let t = timeout(cx, utime)?;
            let (deadline, bitset) = if cmd == FUTEX_WAIT {
                (t.map(Deadline::after), FUTEX_BITSET_MATCH_ANY)
            } else {
                let clock = if realtime {
                    ClockId::Realtime
                } else {
                    ClockId::Monotonic
                };
                (t.map(|t| Deadline::at(clock, t)), val3)
            };
            wait_on(cx, uaddr, val, bitset, shared, deadline)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(Errno::INVAL);
            }
            check_key(cx, uaddr, shared)?;
            let (q, key) = key_of(cx, uaddr, shared);
            Ok(u64::from(with(cx, &q, |t| t.wake(key, nr(val), bitset))))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let (nr_wake, nr_requeue) = (val as i32, utime as u32 as i32);
            if nr_wake < 0 || nr_requeue < 0 {
                return Err(Errno::INVAL);
            }
            check_key(cx, uaddr, shared)?;
            check_key(cx, uaddr2, shared)?;
            if cmd == FUTEX_CMP_REQUEUE && read_word(cx, uaddr)? != val3 {
                return Err(Errno::AGAIN);
            }
            // Both words queue where the first does (a requeue between a
            // shared and a private word has no common table).
            let (q, key) = key_of(cx, uaddr, shared);
            let (q2, key2) = key_of(cx, uaddr2, shared);
            if std::mem::discriminant(&q) != std::mem::discriminant(&q2) {
                return Err(Errno::INVAL);
            }
            Ok(u64::from(with(cx, &q, |t| {
                t.requeue(key, key2, nr_wake as u32, nr_requeue as u32)
            })))
        }
        FUTEX_WAKE_OP => {
            check_key(cx, uaddr, shared)?;
            let hit = wake_op(cx, uaddr2, val3)?;
            let (q, key) = key_of(cx, uaddr, shared);
            let mut woken = with(cx, &q, |t| t.wake(key, nr(val), FUTEX_BITSET_MATCH_ANY));
            if hit {
                let (q2, key2) = key_of(cx, uaddr2, shared);
                woken += with(cx, &q2, |t| {
                    t.wake(key2, nr(utime as u32), FUTEX_BITSET_MATCH_ANY)
                });
            }
            Ok(u64::from(woken))
        }
        // LOCK_PI, UNLOCK_PI, TRYLOCK_PI, the requeue-PI pair, LOCK_PI2 and
        // anything unknown.
        _ => Err(Errno::NOSYS),
    }
}
