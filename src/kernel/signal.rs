//! Signal dispositions and masks. Handlers are recorded as Linux records
//! them; delivery to a handler is not implemented yet, so a signal whose
//! default action kills does kill, and one with a handler or SIG_IGN is
//! discarded.

use rustix::io::Errno;

use super::{Args, Ctx, Exit, SysResult};

pub const SIGKILL: i32 = 9;
pub const SIGPIPE: i32 = 13;
pub const SIGSTOP: i32 = 19;
pub const SIGXFSZ: i32 = 25;
const NSIG: usize = 64;
const SIG_DFL: u64 = 0;

/// Kernel `struct sigaction` for x86-64: handler, flags, restorer, mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

#[derive(Clone, Debug)]
pub struct Signals {
    pub actions: [SigAction; NSIG],
    pub mask: u64,
    pub altstack: [u64; 3],
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            actions: [SigAction::default(); NSIG],
            mask: 0,
            altstack: [0, 2 /* SS_DISABLE */, 0],
        }
    }
}

/// Signals whose default action is to ignore (SIGCHLD, SIGCONT, SIGURG,
/// SIGWINCH).
fn ignored_by_default(sig: i32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28)
}

impl Signals {
    /// Would `sig` end the process if raised now?
    pub fn kills_by_default(&self, sig: i32) -> bool {
        if sig == SIGKILL {
            return true;
        }
        let Some(a) = usize::try_from(sig - 1)
            .ok()
            .and_then(|i| self.actions.get(i))
        else {
            return false;
        };
        a.handler == SIG_DFL && !ignored_by_default(sig) && sig != SIGSTOP
    }
}

fn int(v: u64) -> i32 {
    v as u32 as i32
}

fn valid_signal(sig: i32) -> Result<usize, Errno> {
    if (1..=NSIG as i32).contains(&sig) {
        Ok((sig - 1) as usize)
    } else {
        Err(Errno::INVAL)
    }
}

pub fn sys_rt_sigaction(cx: &mut Ctx, a: &Args) -> SysResult {
    let (sig, act, oact, size) = (int(a.0[0]), a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::INVAL);
    }
    let idx = valid_signal(sig)?;
    let new = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::INVAL);
        }
        let raw = cx.m.user().read_vec(act, 32)?;
        let w = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        Some(SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3) & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))),
        })
    } else {
        None
    };
    if oact != 0 {
        let o = cx.proc.signals.actions[idx];
        let mut b = [0u8; 32];
        for (i, w) in [o.handler, o.flags, o.restorer, o.mask].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        cx.m.user().write(oact, &b)?;
    }
    if let Some(n) = new {
        cx.proc.signals.actions[idx] = n;
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(cx: &mut Ctx, a: &Args) -> SysResult {
    let (how, set, oset, size) = (int(a.0[0]), a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::INVAL);
    }
    let old = cx.proc.signals.mask;
    let new = if set != 0 {
        let s: u64 = u64::from_le_bytes(
            cx.m.user()
                .read_vec(set, 8)?
                .try_into()
                .map_err(|_| Errno::FAULT)?,
        );
        Some(match how {
            libc::SIG_BLOCK => old | s,
            libc::SIG_UNBLOCK => old & !s,
            libc::SIG_SETMASK => s,
            _ => return Err(Errno::INVAL),
        })
    } else {
        None
    };
    if oset != 0 {
        cx.m.user().write(oset, &old.to_le_bytes())?;
    }
    if let Some(n) = new {
        cx.proc.signals.mask = n & !((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)));
    }
    Ok(0)
}

pub fn sys_sigaltstack(cx: &mut Ctx, a: &Args) -> SysResult {
    let (ss, old) = (a.0[0], a.0[1]);
    let cur = cx.proc.signals.altstack;
    let new = if ss != 0 {
        let raw = cx.m.user().read_vec(ss, 24)?;
        let w = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let (sp, flags, size) = (w(0), w(1) as u32 as i32, w(2));
        const SS_DISABLE: i32 = 2;
        const SS_AUTODISARM: i32 = 1 << 31;
        if flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(Errno::INVAL);
        }
        if flags & SS_DISABLE == 0 && size < 2048 {
            return Err(Errno::NOMEM);
        }
        Some([sp, flags as u32 as u64, size])
    } else {
        None
    };
    if old != 0 {
        let mut b = [0u8; 24];
        for (i, w) in cur.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        cx.m.user().write(old, &b)?;
    }
    if let Some(n) = new {
        cx.proc.signals.altstack = n;
    }
    Ok(0)
}

/// A signal sent to the program itself.
fn send_self(cx: &mut Ctx, sig: i32) -> SysResult {
    if sig == 0 {
        return Ok(0);
    }
    valid_signal(sig)?;
    if cx.proc.signals.kills_by_default(sig) {
        cx.proc.exit = Some(Exit::Signal(sig));
    }
    Ok(0)
}

fn is_self(cx: &Ctx, pid: i32) -> bool {
    pid == cx.proc.id.pid as i32 || pid == 0 || pid == -1
}

pub fn sys_kill(cx: &mut Ctx, a: &Args) -> SysResult {
    let (pid, sig) = (int(a.0[0]), int(a.0[1]));
    if !is_self(cx, pid) {
        return Err(Errno::SRCH);
    }
    send_self(cx, sig)
}

pub fn sys_tkill(cx: &mut Ctx, a: &Args) -> SysResult {
    let (tid, sig) = (int(a.0[0]), int(a.0[1]));
    if tid <= 0 {
        return Err(Errno::INVAL);
    }
    if tid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    send_self(cx, sig)
}

pub fn sys_tgkill(cx: &mut Ctx, a: &Args) -> SysResult {
    let (tgid, tid, sig) = (int(a.0[0]), int(a.0[1]), int(a.0[2]));
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::INVAL);
    }
    if tgid != cx.proc.id.pid as i32 || tid != cx.proc.id.pid as i32 {
        return Err(Errno::SRCH);
    }
    send_self(cx, sig)
}
