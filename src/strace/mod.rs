//! strace-style tracing of the guest's system calls: one line per call in
//! strace's format (`--trace`, `--trace-file`), one JSON object per call
//! (`--trace-json`), and a `strace -c` table (`--summary`) with the KVM
//! exits each syscall cost.

mod decode;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use crate::kernel::Call;
use crate::vm::{EntryPath, Machine};
pub use decode::{quote, result as render_result, STRING_LIMIT};

/// Where trace output goes.
#[derive(Default)]
pub struct TraceOptions {
    /// strace-format lines.
    pub text: Option<Box<dyn Write + Send>>,
    /// JSON lines.
    pub json: Option<Box<dyn Write + Send>>,
    /// Print a summary table here at the end.
    pub summary: Option<Box<dyn Write + Send>>,
}

impl TraceOptions {
    /// Is anything traced at all?
    pub fn is_active(&self) -> bool {
        self.text.is_some() || self.json.is_some() || self.summary.is_some()
    }
}

#[derive(Default, Clone, Copy)]
struct Count {
    calls: u64,
    errors: u64,
    time: Duration,
    exits: u64,
}

#[derive(Serialize)]
struct JsonCall<'a> {
    /// The process, and the thread that made the call.
    pid: u32,
    tid: u32,
    nr: u64,
    name: &'a str,
    args: [u64; 6],
    result: i64,
    errno: Option<&'static str>,
    entry: &'static str,
    abi: &'static str,
    ns: u128,
}

/// One finished syscall, as the run loop saw it.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Traced<'a> {
    pub call: &'a Call,
    pub ret: i64,
    pub path: EntryPath,
    /// Time in the dispatcher.
    pub took: Duration,
    /// KVM exits since the previous syscall (its own included).
    pub exits: u64,
    /// exit/exit_group: strace prints `= ?`.
    pub ends_process: bool,
    /// rt_sigreturn: the mask it put back (`rt_sigreturn({mask=[]})`).
    pub sigreturn_mask: Option<u64>,
    /// The call as formatted before it ran (execve: its arguments are
    /// gone afterwards).
    pub head: Option<&'a str>,
    /// The thread that made it, once the run has had more than one
    /// (strace -f's `[pid N]` prefix).
    pub task: Option<u32>,
    /// The process that made it (the JSON record's pid).
    pub pid: u32,
}

/// The tracer of one run.
pub struct Tracer {
    opts: TraceOptions,
    pid: u32,
    i386_mode: bool,
    counts: BTreeMap<String, Count>,
}

/// The name strace gives the call: its own, or for an x32 number (bit 30
/// set) the x86-64 call it would be (kvmcage refuses x32 with ENOSYS).
fn trace_name(call: &Call) -> Option<&'static str> {
    const X32_BIT: u64 = 0x4000_0000;
    call.name().or_else(|| {
        (!call.i386 && call.nr & X32_BIT != 0 && call.nr < X32_BIT + 512)
            .then(|| {
                let base = Call {
                    nr: call.nr & !X32_BIT,
                    ..*call
                };
                base.name()
            })
            .flatten()
    })
}

/// The call as text, without the result: `write(1, "hi\n", 3)`.
pub fn format_call(call: &Call, ret: i64, m: &Machine) -> String {
    let Some(name) = trace_name(call) else {
        let parts: Vec<String> = call.args.0.iter().map(|a| format!("{a:#x}")).collect();
        return format!("syscall_{:#x}({})", call.nr, parts.join(", "));
    };
    let mem = m.user();
    let args = call.args.0;
    if name == "clone" {
        return format!("clone({})", decode::clone_args(&args));
    }
    let parts: Vec<String> = match decode::signature(name) {
        Some(sig) => sig
            .iter()
            .enumerate()
            .map(|(i, k)| decode::render(*k, i, &args, ret, &mem))
            .collect(),
        None => args.iter().map(|a| format!("{a:#x}")).collect(),
    };
    format!("{name}({})", parts.join(", "))
}

impl Tracer {
    /// A tracer writing where `opts` says, for process `pid`.
    pub fn new(opts: TraceOptions, pid: u32) -> Self {
        Self {
            opts,
            pid,
            i386_mode: false,
            counts: BTreeMap::new(),
        }
    }

    /// Record one finished syscall.
    pub fn syscall(&mut self, m: &Machine, ev: &Traced<'_>) {
        let Traced {
            call,
            ret,
            path,
            took,
            exits,
            ends_process,
            sigreturn_mask,
            ..
        } = *ev;
        let name = trace_name(call).unwrap_or("syscall");
        let error = (-4095..0).contains(&ret);
        if let Some(out) = self.opts.text.as_mut() {
            if call.i386 != self.i386_mode {
                self.i386_mode = call.i386;
                let _ = writeln!(
                    out,
                    "[ Process PID={} runs in {} bit mode. ]",
                    self.pid,
                    if call.i386 { 32 } else { 64 }
                );
            }
            let head = match (sigreturn_mask, ev.head) {
                (Some(mask), _) => format!("{name}({{mask={}}})", decode::sigset(mask)),
                (None, Some(h)) => h.to_string(),
                (None, None) => format_call(call, ret, m),
            };
            let res = if ends_process {
                "?".to_string()
            } else {
                decode::result(name, ret)
            };
            let prefix = ev
                .task
                .map(|t| format!("[pid {t:>5}] "))
                .unwrap_or_default();
            let _ = writeln!(out, "{prefix}{head:<39} = {res}");
        }
        if let Some(out) = self.opts.json.as_mut() {
            let rec = JsonCall {
                pid: ev.pid,
                tid: ev.task.unwrap_or(ev.pid),
                nr: call.nr,
                name,
                args: call.args.0,
                result: ret,
                errno: if error {
                    syscalls::Errno::new(-ret as i32).name()
                } else {
                    None
                },
                entry: path.name(),
                abi: if call.i386 { "i386" } else { "x86_64" },
                ns: took.as_nanos(),
            };
            if let Ok(line) = serde_json::to_string(&rec) {
                let _ = writeln!(out, "{line}");
            }
        }
        if self.opts.summary.is_some() {
            let c = self.counts.entry(name.to_string()).or_default();
            c.calls += 1;
            c.errors += u64::from(error);
            c.time += took;
            c.exits += exits;
        }
    }

    /// A signal taken on the way back to user mode: `--- SIGx {...} ---`.
    pub fn signal(&mut self, info: &crate::kernel::signal::SigInfo, task: Option<u32>) {
        if let Some(out) = self.opts.text.as_mut() {
            let prefix = task.map(|t| format!("[pid {t:>5}] ")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{prefix}--- {} {} ---",
                crate::report::signal_name(info.signo()),
                decode::siginfo(info)
            );
        }
    }

    /// A process other than the first ended, or a thread other than a
    /// leader: strace -f's `[pid N] +++ exited with S +++` line for it.
    pub fn process_exited(&mut self, pid: u32, status: &crate::kernel::task::Status) {
        use crate::kernel::task::Status;
        if let Some(out) = self.opts.text.as_mut() {
            let how = match *status {
                Status::Exited(c) => format!("exited with {c}"),
                Status::Killed { signal, core } => format!(
                    "killed by {}{}",
                    crate::report::signal_name(signal),
                    if core { " (core dumped)" } else { "" }
                ),
                Status::Stopped(_) | Status::Continued => return,
            };
            let _ = writeln!(out, "[pid {pid:>5}] +++ {how} +++");
        }
    }

    /// The end of the program: strace's `+++ ... +++` line, and the summary.
    pub fn finish(&mut self, how: &str) {
        if let Some(out) = self.opts.text.as_mut() {
            let _ = writeln!(out, "+++ {how} +++");
            let _ = out.flush();
        }
        if let Some(out) = self.opts.json.as_mut() {
            let _ = out.flush();
        }
        if let Some(mut out) = self.opts.summary.take() {
            let _ = out.write_all(self.summary_table().as_bytes());
            let _ = out.flush();
        }
    }

    /// `strace -c`'s table, with an exits column.
    pub fn summary_table(&self) -> String {
        let total_time: Duration = self.counts.values().map(|c| c.time).sum();
        let mut rows: Vec<(&String, &Count)> = self.counts.iter().collect();
        rows.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(b.1.calls.cmp(&a.1.calls)));
        let line =
            "------ ----------- ----------- --------- --------- --------- ----------------\n";
        let mut s =
            String::from("% time     seconds  usecs/call     calls    errors     exits syscall\n");
        s.push_str(line);
        let pct = |t: Duration| {
            if total_time.is_zero() {
                0.0
            } else {
                t.as_secs_f64() * 100.0 / total_time.as_secs_f64()
            }
        };
        let (mut calls, mut errors, mut exits) = (0, 0, 0);
        for (name, c) in rows {
            calls += c.calls;
            errors += c.errors;
            exits += c.exits;
            let err = if c.errors > 0 {
                c.errors.to_string()
            } else {
                String::new()
            };
            s.push_str(&format!(
                "{:6.2} {:11.6} {:11} {:9} {:>9} {:9} {}\n",
                pct(c.time),
                c.time.as_secs_f64(),
                (c.time.as_micros() as u64) / c.calls.max(1),
                c.calls,
                err,
                c.exits,
                name
            ));
        }
        s.push_str(line);
        s.push_str(&format!(
            "100.00 {:11.6} {:11} {:9} {:>9} {:9} total\n",
            total_time.as_secs_f64(),
            (total_time.as_micros() as u64) / calls.max(1),
            calls,
            if errors > 0 {
                errors.to_string()
            } else {
                String::new()
            },
            exits
        ));
        s
    }
}
