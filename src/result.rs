//! The result of a run as a grader reads it (`kvmcage run --result FILE`):
//! one JSON object written by kvmcage after the run, never mixed with the
//! program's output, so a program cannot forge it. The fields and how
//! `status` is decided are in README ("Results for graders").

use serde::Serialize;

use crate::{Outcome, RunStats};

/// One run's result. Field names are the JSON's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResult {
    /// `exited`, `killed`, `timeout`, `cpu-time`, `output-limit`,
    /// `memory-limit` or `error`.
    pub status: &'static str,
    /// The program's exit status when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Its name (SIGSEGV).
    pub signal_name: Option<&'static str>,
    /// kvmcage's one-line report (fault, limit, or kvmcage's own error).
    pub report: Option<String>,
    /// Wall-clock seconds from loading the program to its end.
    pub wall_time_s: f64,
    /// user + system, what the program's getrusage reports for itself.
    pub cpu_time_s: f64,
    /// User CPU time.
    pub user_time_s: f64,
    /// System CPU time.
    pub sys_time_s: f64,
    /// The most guest memory in use at once.
    pub peak_memory_kib: u64,
    /// An allocation was refused because --mem ran out.
    pub memory_limit_hit: bool,
    /// Bytes written to the program's stdio.
    pub output_bytes: u64,
    /// Syscalls made.
    pub syscalls: u64,
    /// KVM exits.
    pub exits: u64,
    /// kvmcage's exit status.
    pub kvmcage_exit_code: i32,
}

impl RunResult {
    /// The result of a run that ended with `outcome`.
    pub fn of_run(outcome: &Outcome, stats: &RunStats) -> Self {
        let memory = stats.memory_limit_hit;
        let (status, exit_code, signal) = match outcome {
            Outcome::Exited(c) if memory && *c != 0 => ("memory-limit", Some(*c), None),
            Outcome::Exited(c) => ("exited", Some(*c), None),
            Outcome::Killed { signal, .. } if memory => ("memory-limit", None, Some(*signal)),
            Outcome::Killed { signal, .. } => ("killed", None, Some(*signal)),
            Outcome::TimedOut(_) => ("timeout", None, None),
            Outcome::CpuTime { signal, .. } => ("cpu-time", None, Some(*signal)),
            Outcome::OutputLimit(_) => ("output-limit", None, None),
            Outcome::MachineFailed(_) => ("error", None, None),
            // Only an embedder cancels (CancelHandle); the CLI never does.
            Outcome::Cancelled => ("cancelled", None, None),
        };
        let secs = |d: std::time::Duration| d.as_secs_f64();
        Self {
            status,
            exit_code,
            signal,
            signal_name: signal.map(crate::report::signal_name),
            report: outcome.report(),
            wall_time_s: secs(stats.wall_time),
            cpu_time_s: secs(stats.user_time + stats.sys_time),
            user_time_s: secs(stats.user_time),
            sys_time_s: secs(stats.sys_time),
            peak_memory_kib: stats.peak_memory_kib,
            memory_limit_hit: memory,
            output_bytes: stats.output_bytes,
            syscalls: stats.syscalls,
            exits: stats.exits,
            kvmcage_exit_code: outcome.exit_code().clamp(0, 255),
        }
    }

    /// The result when kvmcage could not run the program at all.
    pub fn of_error(report: String, kvmcage_exit_code: i32) -> Self {
        Self {
            status: "error",
            exit_code: None,
            signal: None,
            signal_name: None,
            report: Some(report),
            wall_time_s: 0.0,
            cpu_time_s: 0.0,
            user_time_s: 0.0,
            sys_time_s: 0.0,
            peak_memory_kib: 0,
            memory_limit_hit: false,
            output_bytes: 0,
            syscalls: 0,
            exits: 0,
            kvmcage_exit_code,
        }
    }

    /// The JSON text, one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
