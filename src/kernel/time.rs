//! Clocks and sleeping, answered from the host's clocks.

use rustix::io::Errno;
use rustix::time::ClockId;

use super::abi;
use super::wait::{block_on, Deadline, Wake, Woken, ERESTARTNOHAND, ERESTART_RESTARTBLOCK};
use super::{Args, Ctx, Restart, SysResult};

/// The host clock a guest clock id reads: the fixed ids, and the CPU
/// clocks of the program's own process or thread by their dynamic ids
/// (pthread_getcpuclockid, clock_getcpuclockid: `~pid << 3 | type`; pid 0
/// is the caller).
pub fn clock_for(cx: &Ctx, id: i32) -> Result<ClockId, Errno> {
    if id < 0 {
        let pid = !(id >> 3);
        if pid != 0 && pid != cx.proc.id.pid as i32 {
            return Err(Errno::INVAL);
        }
        // Type 2 is CPUCLOCK_SCHED; PROF (0) and VIRT (1) read the same
        // here; 3 is no clock. The one thread is the process.
        return match id & 7 {
            0..=2 | 4..=6 => Ok(if id & 4 != 0 {
                ClockId::ThreadCPUTime
            } else {
                ClockId::ProcessCPUTime
            }),
            _ => Err(Errno::INVAL),
        };
    }
    clock(id)
}

fn clock(id: i32) -> Result<ClockId, Errno> {
    Ok(match id {
        libc::CLOCK_REALTIME => ClockId::Realtime,
        libc::CLOCK_TAI => ClockId::Tai,
        libc::CLOCK_MONOTONIC => ClockId::Monotonic,
        libc::CLOCK_PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        libc::CLOCK_THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        libc::CLOCK_MONOTONIC_RAW => ClockId::MonotonicRaw,
        libc::CLOCK_REALTIME_COARSE => ClockId::RealtimeCoarse,
        libc::CLOCK_MONOTONIC_COARSE => ClockId::MonotonicCoarse,
        libc::CLOCK_BOOTTIME => ClockId::Boottime,
        _ => return Err(Errno::INVAL),
    })
}

pub fn sys_clock_gettime(cx: &mut Ctx, a: &Args) -> SysResult {
    let id = clock_for(cx, a.0[0] as u32 as i32)?;
    let t = if id == ClockId::ProcessCPUTime {
        abi::Timespec::from_duration(super::process::cpu_clock().0)
    } else {
        rustix::time::clock_gettime(id).into()
    };
    cx.user().write_obj(a.0[1], &t)?;
    Ok(0)
}

pub fn sys_clock_getres(cx: &mut Ctx, a: &Args) -> SysResult {
    let id = a.0[0] as u32 as i32;
    clock_for(cx, id)?;
    let coarse = matches!(
        id,
        libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE
    );
    let res = abi::Timespec {
        tv_sec: 0,
        tv_nsec: if coarse { 4_000_000 } else { 1 },
    };
    if a.0[1] != 0 {
        cx.user().write_obj(a.0[1], &res)?;
    }
    Ok(0)
}

pub fn sys_gettimeofday(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = rustix::time::clock_gettime(ClockId::Realtime);
    if a.0[0] != 0 {
        let tv = abi::Timeval {
            tv_sec: t.tv_sec,
            tv_usec: t.tv_nsec / 1000,
        };
        cx.user().write_obj(a.0[0], &tv)?;
    }
    if a.0[1] != 0 {
        // struct timezone: minutes west, dst type; Linux keeps zeros.
        cx.user().write(a.0[1], &[0u8; 8])?;
    }
    Ok(0)
}

pub fn sys_time(cx: &mut Ctx, a: &Args) -> SysResult {
    let t = rustix::time::clock_gettime(ClockId::Realtime).tv_sec;
    if a.0[0] != 0 {
        cx.user().write_obj(a.0[0], &t)?;
    }
    Ok(t as u64)
}

/// Read a `struct timespec`, EINVAL unless 0 <= nsec < 1e9 and sec >= 0.
pub fn read_timespec(cx: &Ctx, addr: u64) -> Result<std::time::Duration, Errno> {
    cx.user().read_obj::<abi::Timespec>(addr)?.to_duration()
}

/// A relative sleep a signal interrupted: its end, and where the time left
/// goes (Linux's restart_block.nanosleep).
#[derive(Clone, Copy, Debug)]
pub struct SleepRestart {
    deadline: Deadline,
    rem: u64,
}

/// Sleep until `deadline`. A signal ends a relative sleep with the time
/// left written to `rem` and ERESTART_RESTARTBLOCK (EINTR if a handler
/// runs, restart_syscall otherwise); an absolute one with ERESTARTNOHAND.
fn sleep_until(cx: &mut Ctx, deadline: Deadline, rem: Option<u64>) -> SysResult {
    loop {
        match block_on(cx, &mut [], Some(deadline), Wake::Signal)? {
            Woken::TimedOut => return Ok(0),
            Woken::Signal => break,
            Woken::Ready | Woken::Woken => continue,
        }
    }
    let Some(rem) = rem else {
        return Err(ERESTARTNOHAND);
    };
    if rem != 0 {
        let left = deadline.left();
        cx.user()
            .write_obj(rem, &abi::Timespec::from_duration(left))?;
    }
    cx.proc.me().restart = Some(Restart::Sleep(SleepRestart { deadline, rem }));
    Err(ERESTART_RESTARTBLOCK)
}

pub fn sys_nanosleep(cx: &mut Ctx, a: &Args) -> SysResult {
    let d = read_timespec(cx, a.0[0])?;
    sleep_until(cx, Deadline::after(d), Some(a.0[1]))
}

pub fn sys_clock_nanosleep(cx: &mut Ctx, a: &Args) -> SysResult {
    let (id, flags, req, rem) = (a.0[0] as u32 as i32, a.0[1] as u32 as i32, a.0[2], a.0[3]);
    let clk = clock_for(cx, id)?;
    match clk {
        ClockId::ThreadCPUTime => return Err(Errno::INVAL),
        // Linux's raw and coarse clocks cannot be slept on.
        ClockId::MonotonicRaw | ClockId::RealtimeCoarse | ClockId::MonotonicCoarse => {
            return Err(Errno::OPNOTSUPP)
        }
        _ => {}
    }
    let d = read_timespec(cx, req)?;
    if flags & libc::TIMER_ABSTIME != 0 {
        sleep_until(cx, Deadline::at(clk, d), None)
    } else {
        sleep_until(cx, Deadline::after(d), Some(rem))
    }
}

/// restart_syscall: continue the sleep or wait a signal interrupted
/// (EINTR when there is none, as Linux's do_no_restart_syscall).
pub fn sys_restart_syscall(cx: &mut Ctx, _a: &Args) -> SysResult {
    match cx.proc.me().restart.take() {
        Some(Restart::Sleep(r)) => sleep_until(cx, r.deadline, Some(r.rem)),
        Some(Restart::Futex(r)) => super::futex::restart(cx, r),
        None => Err(Errno::INTR),
    }
}
