//! The sandbox's processes (PROCESSES.md 2, 9): the table of pids, who is
//! whose parent, process groups and sessions, and the zombies waiting for
//! wait4.
//!
//! Each process is its own `Arc<Mutex<Process>>`; this table holds a weak
//! reference to each live one and the status of each zombie. Its lock is a
//! leaf: it is taken with or without a process lock held, and no process
//! lock is ever taken under it. A thread that acts on another process
//! (kill, a child's exit notifying its parent) looks it up here, lets its
//! own locks go (`wait::unlocked`) and then locks the other: no thread
//! holds two process locks.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use parking_lot::{Condvar, Mutex};
use rustix::io::Errno;

use super::Process;

/// A process as the others reach it.
pub type ProcRef = Arc<Mutex<Process>>;

/// Linux's default pid_max: ids wrap below it.
pub const PID_MAX: u32 = 4_194_304;

/// --max-procs when not given: fork is EAGAIN past it.
pub const DEFAULT_MAX_PROCS: usize = 256;

/// How a process ended, or what happened to it, as wait4 reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Killed {
        signal: i32,
        core: bool,
    },
    /// Stopped by this signal (WUNTRACED).
    Stopped(i32),
    /// Continued by SIGCONT (WCONTINUED).
    Continued,
}

impl Status {
    /// wait4's status word.
    pub fn wait_status(self) -> i32 {
        match self {
            Status::Exited(c) => (c & 0xff) << 8,
            Status::Killed { signal, core } => signal | if core { 0x80 } else { 0 },
            Status::Stopped(sig) => (sig << 8) | 0x7f,
            Status::Continued => 0xffff,
        }
    }

    /// SIGCHLD's and waitid's (si_code, si_status).
    pub fn code_and_status(self) -> (i32, i32) {
        match self {
            Status::Exited(c) => (libc::CLD_EXITED, c),
            Status::Killed { signal, core: true } => (libc::CLD_DUMPED, signal),
            Status::Killed { signal, .. } => (libc::CLD_KILLED, signal),
            Status::Stopped(sig) => (libc::CLD_STOPPED, sig),
            Status::Continued => (libc::CLD_CONTINUED, libc::SIGCONT),
        }
    }
}

/// A process's program as others see it.
#[derive(Clone, Debug, Default)]
pub struct Image {
    pub cmdline: Vec<u8>,
    pub comm: Vec<u8>,
    pub exe: Vec<u8>,
}

/// One process in the table.
#[derive(Debug)]
pub struct Entry {
    /// The live process (dangling once it is a zombie).
    pub proc: Weak<Mutex<Process>>,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// The signal its parent gets when it ends (clone's exit_signal;
    /// SIGCHLD from fork), 0 for none.
    pub exit_signal: i32,
    /// Set once it ended: a zombie until its parent reaps it.
    pub zombie: Option<Status>,
    /// A vfork child released its parent (exec or exit).
    pub vfork_done: bool,
    /// It called execve (setpgid on it is EACCES from then on).
    pub execed: bool,
    /// What other processes see of it in /proc/PID: its argv (each
    /// NUL-terminated), comm and executable, as of its last execve.
    pub image: Image,
    /// Its CPU time (user, system) and its reaped children's, once it
    /// ended: what wait4's rusage and the parent's RUSAGE_CHILDREN get.
    pub cpu: (std::time::Duration, std::time::Duration),
    /// Its threads' ids other than the pid (/proc/PID/task).
    pub tids: Vec<u32>,
    /// A stop not yet reported to a WUNTRACED wait: the signal.
    pub stop_event: Option<i32>,
    /// A continue not yet reported to a WCONTINUED wait.
    pub continued: bool,
}

/// The table and its counters.
#[derive(Debug)]
pub struct Table {
    pub procs: BTreeMap<u32, Entry>,
    /// Thread ids in use that are not a process's pid.
    threads: std::collections::BTreeSet<u32>,
    next_id: u32,
    /// --max-procs: live processes at most (RLIMIT_NPROC).
    pub max_procs: usize,
    /// More than one task has existed: trace lines say `[pid N]`.
    pub many: bool,
}

impl Table {
    /// A free id for a process or a thread (they share one space, as
    /// Linux's pids and tids do), counting up and wrapping below pid_max.
    fn alloc_id(&mut self) -> Option<u32> {
        for _ in 0..PID_MAX {
            let id = self.next_id;
            self.next_id = if id + 1 >= PID_MAX { 2 } else { id + 1 };
            if !self.procs.contains_key(&id) && !self.threads.contains(&id) {
                return Some(id);
            }
        }
        None
    }

    /// A new thread's id, in process `pid`.
    pub fn alloc_tid(&mut self, pid: u32) -> Option<u32> {
        let id = self.alloc_id()?;
        self.threads.insert(id);
        if let Some(e) = self.procs.get_mut(&pid) {
            e.tids.push(id);
        }
        self.many = true;
        Some(id)
    }

    /// A thread of process `pid` whose id is not the pid ended.
    pub fn free_tid(&mut self, pid: u32, tid: u32) {
        self.threads.remove(&tid);
        if let Some(e) = self.procs.get_mut(&pid) {
            e.tids.retain(|&t| t != tid);
        }
    }

    /// Processes alive now (not zombies).
    pub fn live(&self) -> usize {
        self.procs.values().filter(|e| e.zombie.is_none()).count()
    }

    /// Register a new process made by `parent` (a pid from `alloc_pid`).
    pub fn insert(&mut self, pid: u32, parent: u32, proc: &ProcRef, exit_signal: i32) {
        let (pgid, sid, image) = self
            .procs
            .get(&parent)
            .map_or((pid, pid, Image::default()), |p| {
                (p.pgid, p.sid, p.image.clone())
            });
        self.procs.insert(
            pid,
            Entry {
                proc: Arc::downgrade(proc),
                ppid: parent,
                pgid,
                sid,
                exit_signal,
                zombie: None,
                vfork_done: false,
                execed: false,
                image,
                cpu: Default::default(),
                tids: Vec::new(),
                stop_event: None,
                continued: false,
            },
        );
        self.many = true;
    }

    /// A pid for a new process, or EAGAIN past --max-procs (zombies count
    /// until they are reaped, as with Linux's RLIMIT_NPROC).
    pub fn alloc_pid(&mut self) -> Result<u32, Errno> {
        if self.procs.len() >= self.max_procs {
            return Err(Errno::AGAIN);
        }
        self.alloc_id().ok_or(Errno::AGAIN)
    }

    /// The live process `pid`.
    pub fn get(&self, pid: u32) -> Option<ProcRef> {
        self.procs.get(&pid)?.proc.upgrade()
    }

    /// The live processes for which `f(pid, entry)` holds.
    pub fn matching(&self, f: impl Fn(u32, &Entry) -> bool) -> Vec<(u32, ProcRef)> {
        self.procs
            .iter()
            .filter(|(&pid, e)| e.zombie.is_none() && f(pid, e))
            .filter_map(|(&pid, e)| Some((pid, e.proc.upgrade()?)))
            .collect()
    }
}

/// The process table, shared by every process of the run.
#[derive(Debug)]
pub struct Tasks {
    table: Mutex<Table>,
    /// Notified when a vfork child releases its parent.
    pub changed: Condvar,
    /// Futex waiters on words of shared mappings, keyed by guest-physical
    /// address (kernel/futex.rs). Its lock is a leaf.
    pub futexes: Arc<Mutex<super::futex::FutexTable>>,
}

impl Tasks {
    /// The table of a run whose first process is `pid`.
    pub fn new(pid: u32) -> Self {
        Self {
            table: Mutex::new(Table {
                procs: BTreeMap::new(),
                threads: Default::default(),
                next_id: pid + 1,
                max_procs: DEFAULT_MAX_PROCS,
                many: false,
            }),
            changed: Condvar::new(),
            futexes: Default::default(),
        }
    }

    pub fn lock(&self) -> parking_lot::MutexGuard<'_, Table> {
        self.table.lock()
    }

    /// Register the first process (pid 1 of the run, its own group and
    /// session leader).
    pub fn insert_first(&self, pid: u32, proc: &ProcRef) {
        let mut t = self.table.lock();
        t.procs.insert(
            pid,
            Entry {
                proc: Arc::downgrade(proc),
                ppid: 0,
                pgid: pid,
                sid: pid,
                exit_signal: 0,
                zombie: None,
                vfork_done: false,
                execed: false,
                image: Image::default(),
                cpu: Default::default(),
                tids: Vec::new(),
                stop_event: None,
                continued: false,
            },
        );
    }

    /// Process `pid` runs a new program (its first, or an execve).
    pub fn set_image(&self, pid: u32, image: Image) {
        if let Some(e) = self.table.lock().procs.get_mut(&pid) {
            e.image = image;
        }
    }

    /// Process `pid` ended with `status`: it becomes a zombie (or goes at
    /// once if its parent does not wait, `reap`), its children go to
    /// `init`. Its parent and the signal to send it, if any, and whether
    /// `init` got zombies to reap.
    pub fn exited(
        &self,
        pid: u32,
        status: Status,
        init: u32,
        cpu: (std::time::Duration, std::time::Duration),
    ) -> Option<(u32, i32, bool)> {
        let mut t = self.table.lock();
        let mut orphaned_zombie = false;
        for (_, e) in t.procs.iter_mut().filter(|(_, e)| e.ppid == pid) {
            e.ppid = init;
            // Its new parent hears of its end by SIGCHLD (Linux's
            // reparent_leader).
            e.exit_signal = libc::SIGCHLD;
            orphaned_zombie |= e.zombie.is_some();
        }
        let e = t.procs.get_mut(&pid)?;
        e.zombie = Some(status);
        e.cpu = cpu;
        // A zombie has no memory: its argv is not kept.
        e.image.cmdline = Vec::new();
        e.vfork_done = true;
        let parent = (e.ppid, e.exit_signal, orphaned_zombie);
        drop(t);
        self.changed.notify_all();
        Some(parent)
    }

    /// Remove a zombie nobody will wait for.
    pub fn reap(&self, pid: u32) {
        let mut t = self.table.lock();
        if t.procs.get(&pid).is_some_and(|e| e.zombie.is_some()) {
            t.procs.remove(&pid);
        }
    }

    /// Process `pid` stopped (`Status::Stopped`) or continued: recorded
    /// for its parent's wait, and the parent gets SIGCHLD unless its
    /// action has SA_NOCLDSTOP (its waiting threads are woken either way).
    /// Call with no process lock held.
    pub fn notify_parent(&self, pid: u32, what: Status) {
        let ppid = {
            let mut t = self.table.lock();
            let Some(e) = t.procs.get_mut(&pid) else {
                return;
            };
            match what {
                Status::Stopped(sig) => {
                    e.stop_event = Some(sig);
                    e.continued = false;
                }
                Status::Continued => {
                    e.stop_event = None;
                    e.continued = true;
                }
                _ => return,
            }
            e.ppid
        };
        let Some(parent) = self.table.lock().get(ppid) else {
            return;
        };
        let mut pp = parent.lock();
        let act = pp.signals.actions[libc::SIGCHLD as usize - 1];
        if act.flags & super::signal::SA_NOCLDSTOP == 0 {
            let (code, st) = what.code_and_status();
            let uid = pp.id.uid;
            pp.post(super::signal::SigInfo::child(
                libc::SIGCHLD,
                code,
                pid,
                uid,
                st,
            ));
        } else {
            for t in &pp.threads {
                t.kick();
            }
        }
    }

    /// Is `pid` the run's first process (whose parent is outside)? It is
    /// the container's init: stop signals do not stop it.
    pub fn is_first(&self, pid: u32) -> bool {
        self.table
            .lock()
            .procs
            .get(&pid)
            .is_none_or(|e| e.ppid == 0)
    }

    /// A process's address space must go (its process ended or execs): if
    /// a vfork child still runs on it, that child takes it over (its own
    /// from then on, every mapping as the parent left it, the other
    /// borrowers still listed) and `None` is returned; else it is the
    /// caller's to destroy. Call with no process lock held.
    pub fn hand_over(&self, mut mm: super::mm::Mm) -> Option<super::mm::Mm> {
        while let Some(pid) = mm.lent_to.pop() {
            let Some(child) = self.table.lock().get(pid) else {
                continue;
            };
            let mut c = child.lock();
            if c.mm.borrowed && c.mm.pt.root() == mm.pt.root() {
                c.mm = mm;
                return None;
            }
        }
        Some(mm)
    }

    /// A vfork child execs: its parent goes on.
    pub fn vfork_release(&self, pid: u32) {
        if let Some(e) = self.table.lock().procs.get_mut(&pid) {
            e.vfork_done = true;
            e.execed = true;
        }
        self.changed.notify_all();
    }
}
