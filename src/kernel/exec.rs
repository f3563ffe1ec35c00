//! Finding and reading what a program start runs: a name searched in the
//! guest's PATH, a path in the sandbox's view or on the host, `#!` scripts
//! through their interpreter, and the ELF interpreter (PT_INTERP) of a
//! dynamically linked program, read from the sandbox's view. Nothing here
//! touches the guest: the result is loaded by `loader`, so a failure leaves
//! no trace (the order execve needs).

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use thiserror::Error;

use crate::loader::{self, LoadError};
use crate::sandbox::namei::Found;
use crate::sandbox::Policy;

/// The search path a program gets in a system view unless `--env PATH=`
/// says otherwise (docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// `#!` scripts nest at most this deep (Linux's exec_binprm: ELOOP past
/// depth 5; measured on this host: 5 nested scripts run, 6 do not).
pub const MAX_SCRIPT_DEPTH: u32 = 5;
/// Linux reads a script's `#!` line from the first 256 bytes
/// (BINPRM_BUF_SIZE).
const BINPRM_BUF_SIZE: usize = 256;
/// The largest program or interpreter file kvmcage looks at (only its
/// headers and segments are read: see `read_image`).
const MAX_FILE: u64 = 1 << 40;
/// The guest descriptor a `#!` script from the host (outside the view)
/// is handed to its interpreter as, `/dev/fd/3`, as Linux's binfmt_script
/// names a script it was given by descriptor.
pub const HOST_SCRIPT_FD: i32 = 3;

/// Where a file came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// This guest path in the sandbox's view.
    Guest(Vec<u8>),
    /// This host path, outside the view (the program the user named).
    Host(PathBuf),
}

/// A file to run, read.
#[derive(Debug)]
pub struct Binary {
    /// Open for reading (close-on-exec on the host).
    pub file: OwnedFd,
    /// What the loader needs of it: the headers and the PT_LOAD and
    /// PT_INTERP ranges at their offsets (zero elsewhere, never touched),
    /// or the `#!` line.
    pub data: Vec<u8>,
    /// Where it is.
    pub source: Source,
    /// The name it was run by (execve's filename, as Linux passes it on to
    /// a script's interpreter and in AT_EXECFN).
    pub called: Vec<u8>,
    /// Bytes of segments read into `data`.
    segment_bytes: u64,
}

impl Binary {
    /// Its name for messages.
    pub fn name(&self) -> String {
        match &self.source {
            Source::Guest(p) => String::from_utf8_lossy(p).into_owned(),
            Source::Host(p) => p.display().to_string(),
        }
    }
}

/// What a start runs.
#[derive(Debug)]
pub struct Program {
    /// The ELF file that runs (the innermost `#!` interpreter for a script).
    pub main: Binary,
    /// Its PT_INTERP, read from the view.
    pub interp: Option<Binary>,
    /// argv after `#!` rewriting.
    pub argv: Vec<Vec<u8>>,
    /// The outermost file when it is a `#!` script from the host: the
    /// caller gives it to the program as descriptor [`HOST_SCRIPT_FD`].
    pub host_script: Option<Binary>,
}

/// Why a program cannot start; Linux's errno for execve and the exit
/// status timeout(1) and docker give for a command they cannot run.
#[derive(Debug, Error)]
pub enum ExecError {
    /// A name without a slash found nowhere in PATH.
    #[error("{0}: not found in the sandbox's PATH ({1})")]
    NotInPath(String, String),
    /// No such file.
    #[error("{0}: No such file or directory")]
    NotFound(String),
    /// A directory, a special file, or no execute permission.
    #[error("{0}: Permission denied (not an executable regular file)")]
    Denied(String),
    /// A dynamically linked program whose interpreter the view lacks.
    #[error("{program}: its ELF interpreter {interp} is not in the sandbox's view{hint}")]
    NoInterpreter {
        /// The program.
        program: String,
        /// PT_INTERP.
        interp: String,
        /// What would show it.
        hint: &'static str,
    },
    /// A `#!` script whose interpreter is missing.
    #[error("{script}: its #! interpreter {interp} is not in the sandbox's view")]
    NoScriptInterpreter {
        /// The script.
        script: String,
        /// The interpreter it names.
        interp: String,
    },
    /// An ELF interpreter that cannot be loaded (Linux: ELIBBAD).
    #[error("its ELF interpreter cannot be loaded: {0}")]
    BadInterpreter(LoadError),
    /// `#!` scripts nested deeper than Linux allows.
    #[error("{0}: too many levels of #! interpreters")]
    TooDeep(String),
    /// The file could not be read.
    #[error("{0}: cannot read it: {1}")]
    Io(String, Errno),
    /// Not a program kvmcage can load.
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl ExecError {
    /// The status `kvmcage run` exits with: 127 not found, 126 found but
    /// not runnable.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::NotInPath(..)
            | ExecError::NotFound(_)
            | ExecError::NoInterpreter { .. }
            | ExecError::NoScriptInterpreter { .. } => 127,
            _ => 126,
        }
    }

    /// execve's errno for it.
    pub fn errno(&self) -> Errno {
        match self {
            ExecError::NotInPath(..)
            | ExecError::NotFound(_)
            | ExecError::NoInterpreter { .. }
            | ExecError::NoScriptInterpreter { .. } => Errno::NOENT,
            ExecError::Denied(_) => Errno::ACCESS,
            ExecError::TooDeep(_) => Errno::LOOP,
            ExecError::BadInterpreter(_) => Errno::LIBBAD,
            ExecError::Io(_, e) => *e,
            ExecError::Load(LoadError::NoMemory { .. }) => Errno::NOMEM,
            ExecError::Load(_) => Errno::NOEXEC,
        }
    }
}

/// Where the lookups start: the process's root and working directory
/// (guest paths), and the view.
pub struct Place<'a> {
    /// The sandbox's mounts.
    pub policy: &'a Policy,
    /// The process's root (`chroot`), `/` unless changed.
    pub root: &'a [u8],
    /// Its working directory.
    pub cwd: &'a [u8],
    /// Bytes of files kvmcage may still read for this start (guest memory:
    /// the program and its interpreter must fit in it together).
    pub budget: crate::kernel::SyncCell<u64>,
}

impl<'a> Place<'a> {
    /// A start from `cwd` under `root`, reading at most `budget` bytes.
    pub fn new(policy: &'a Policy, root: &'a [u8], cwd: &'a [u8], budget: u64) -> Self {
        Self {
            policy,
            root,
            cwd,
            budget: crate::kernel::SyncCell::new(budget),
        }
    }

    fn read(&self, file: OwnedFd, source: Source, called: Vec<u8>) -> Result<Binary, ExecError> {
        let b = binary(file, source, called, self.budget.get())?;
        self.budget
            .set(self.budget.get().saturating_sub(b.segment_bytes));
        Ok(b)
    }
}

/// Open the guest path `path` for execution as Linux's open_exec: it must
/// be a regular file with execute permission.
fn open_guest(at: &Place<'_>, path: &[u8]) -> Result<(OwnedFd, Vec<u8>), Errno> {
    let r = at.policy.resolve_in(at.root, at.cwd, path, true)?;
    match r.found {
        Found::Host { fd, .. } => Ok((reopen_executable(&fd)?, r.path)),
        Found::Absent { .. } | Found::AbsentVirtual => Err(Errno::NOENT),
        Found::Virtual(_) | Found::Special => Err(Errno::ACCESS),
    }
}

/// A regular file the host lets kvmcage execute (the view shows files
/// with their host modes).
pub(crate) fn check_executable(fd: impl std::os::fd::AsFd) -> Result<(), Errno> {
    let st = rustix::fs::fstat(fd)?;
    if !rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() || st.st_mode & 0o111 == 0 {
        return Err(Errno::ACCESS);
    }
    Ok(())
}

/// Open for reading the very file `fd` (O_PATH or not) names, once it is
/// known to be an executable regular file: never a FIFO, whose open would
/// wait for a writer (and O_NONBLOCK besides).
pub(crate) fn reopen_executable(fd: impl std::os::fd::AsFd) -> Result<OwnedFd, Errno> {
    check_executable(&fd)?;
    // openat: the confined kvmcage's seccomp list has no open.
    let file = rustix::fs::openat(
        rustix::fs::CWD,
        format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd())
        ),
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // The same inode, still a regular file.
    check_executable(&file)?;
    Ok(file)
}

fn pread_exact(file: &OwnedFd, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(file, &mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// What the loader needs of `file`: a buffer as long as the file (zeroed
/// memory the host only commits where it is written) holding the ELF
/// header, the program headers and the PT_LOAD and PT_INTERP ranges, or
/// the first BINPRM_BUF_SIZE bytes of anything else. The ranges read are
/// at most `budget` bytes (guest memory: segments larger could not be
/// mapped), so a sparse or huge file costs kvmcage no more than the guest
/// could hold.
fn read_image(file: &OwnedFd, budget: u64) -> Result<(Vec<u8>, u64), Errno> {
    use linux_loader::elf::{Elf64_Ehdr, Elf64_Phdr};
    const EHDR: usize = std::mem::size_of::<Elf64_Ehdr>();
    const PHDR: usize = std::mem::size_of::<Elf64_Phdr>();
    let size = rustix::fs::fstat(file)?.st_size as u64;
    if size > MAX_FILE {
        return Err(Errno::FBIG);
    }
    let mut head = vec![0u8; (size as usize).min(BINPRM_BUF_SIZE.max(EHDR))];
    let got = pread_exact(file, &mut head, 0)?;
    if got < head.len() || !head.starts_with(b"\x7fELF") {
        head.truncate(got.min(BINPRM_BUF_SIZE));
        return Ok((head, 0));
    }
    let mut eh = Elf64_Ehdr::default();
    vm_memory::ByteValued::as_mut_slice(&mut eh).copy_from_slice(&head[..EHDR]);
    // The program headers, at most the 64 KiB the loader accepts.
    let ph_len = (usize::from(eh.e_phnum) * PHDR).min(65536);
    let mut phs = vec![0u8; ph_len];
    if eh.e_phoff < size {
        pread_exact(file, &mut phs, eh.e_phoff)?;
    }
    // The ranges the loader reads, each clamped to the file.
    let clamp = |off: u64, len: u64| (off.min(size), off.saturating_add(len).min(size));
    let mut ranges = vec![
        clamp(0, head.len() as u64),
        clamp(eh.e_phoff, ph_len as u64),
    ];
    let mut left = budget;
    for ph in phs.chunks_exact(PHDR) {
        let mut p = Elf64_Phdr::default();
        vm_memory::ByteValued::as_mut_slice(&mut p).copy_from_slice(ph);
        if p.p_type != 1 && p.p_type != 3 {
            continue;
        }
        let (from, to) = clamp(p.p_offset, p.p_filesz);
        left = left.checked_sub(to - from).ok_or(Errno::NOMEM)?;
        ranges.push((from, to));
    }
    // A buffer as long as the furthest range, not the file: a sparse file
    // may be far larger than what the guest could ever map.
    let needed = ranges.iter().map(|&(_, to)| to).max().unwrap_or(0) as usize;
    let mut data = zeroed(needed)?;
    data[..head.len()].copy_from_slice(&head);
    for &(from, to) in &ranges[1..] {
        if from < to {
            pread_exact(file, &mut data[from as usize..to as usize], from)?;
        }
    }
    Ok((data, budget - left))
}

/// `len` zero bytes the host commits only where they are written
/// (calloc-style), or ENOMEM where an ordinary Vec would abort kvmcage.
fn zeroed(len: usize) -> Result<Vec<u8>, Errno> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).map_err(|_| Errno::NOMEM)?;
    // SAFETY: `layout` has a non-zero size (len > 0, checked above).
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return Err(Errno::NOMEM);
    }
    // SAFETY: `p` comes from the global allocator with `layout` (size and
    // capacity `len`, align 1, as Vec<u8> uses) and its `len` bytes are
    // initialised (zero); the Vec takes sole ownership of it.
    Ok(unsafe { Vec::from_raw_parts(p, len, len) })
}

fn binary(
    file: OwnedFd,
    source: Source,
    called: Vec<u8>,
    budget: u64,
) -> Result<Binary, ExecError> {
    let mut b = Binary {
        file,
        data: Vec::new(),
        source,
        called,
        segment_bytes: 0,
    };
    (b.data, b.segment_bytes) = read_image(&b.file, budget).map_err(|e| match e {
        Errno::NOMEM => ExecError::Load(LoadError::NoMemory {
            path: b.name(),
            what: "its segments are larger than guest memory".into(),
        }),
        e => ExecError::Io(b.name(), e),
    })?;
    Ok(b)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The file the user named: a name without a slash is searched in `path`
/// (the guest's PATH) in the view; an absolute path is the view's when the
/// view has it, else the host's; a relative path with a slash is the
/// host's (relative to kvmcage's own directory, as a shell means it).
pub fn locate(at: &Place<'_>, name: &std::path::Path, path: &[u8]) -> Result<Binary, ExecError> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = name.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(ExecError::NotFound(String::new()));
    }
    if !bytes.contains(&b'/') {
        // execvp's search: EACCES is remembered and the search goes on; a
        // missing file or directory is skipped.
        let mut denied = None;
        for dir in path.split(|&b| b == b':') {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let cand = [dir, b"/", bytes].concat();
            match open_guest(at, &cand) {
                Ok((fd, guest)) => return at.read(fd, Source::Guest(guest), cand),
                Err(Errno::ACCESS) => {
                    denied.get_or_insert(cand);
                }
                Err(_) => {}
            }
        }
        return Err(match denied {
            Some(c) => ExecError::Denied(lossy(&c)),
            None => ExecError::NotInPath(lossy(bytes), lossy(path)),
        });
    }
    if bytes.starts_with(b"/") {
        match open_guest(at, bytes) {
            Ok((fd, guest)) => return at.read(fd, Source::Guest(guest), bytes.to_vec()),
            Err(Errno::NOENT | Errno::NOTDIR) => {}
            Err(Errno::ACCESS) => return Err(ExecError::Denied(lossy(bytes))),
            Err(e) => return Err(ExecError::Io(lossy(bytes), e)),
        }
    }
    let shown = name.display().to_string();
    let fd = rustix::fs::open(name, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).map_err(
        |e| match e {
            Errno::NOENT | Errno::NOTDIR => ExecError::NotFound(shown.clone()),
            Errno::ACCESS => ExecError::Denied(shown.clone()),
            e => ExecError::Io(shown.clone(), e),
        },
    )?;
    let fd = reopen_executable(&fd).map_err(|e| match e {
        Errno::ACCESS => ExecError::Denied(shown.clone()),
        e => ExecError::Io(shown.clone(), e),
    })?;
    at.read(fd, Source::Host(name.to_owned()), bytes.to_vec())
}

/// A `#!` line: the interpreter and its optional single argument, as
/// Linux's binfmt_script splits it.
type Shebang = (Vec<u8>, Option<Vec<u8>>);

fn shebang(data: &[u8]) -> Option<Result<Shebang, ()>> {
    let head = data.get(..data.len().min(BINPRM_BUF_SIZE))?;
    let line = head.strip_prefix(b"#!")?;
    // A file shorter than the buffer ends in Linux's zero padding.
    let complete = line.contains(&b'\n') || data.len() < BINPRM_BUF_SIZE;
    let line = line.split(|&b| b == b'\n').next().unwrap_or(b"");
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line = &line[line.iter().position(|b| !blank(b)).unwrap_or(line.len())..];
    let end = line
        .iter()
        .position(|b| blank(b) || *b == 0)
        .unwrap_or(line.len());
    let (interp, rest) = line.split_at(end);
    // A name cut by the 256-byte buffer cannot be trusted (Linux: ENOEXEC).
    if interp.is_empty() || (!complete && rest.is_empty()) {
        return Some(Err(()));
    }
    let rest = rest.split(|&b| b == 0).next().unwrap_or(b"");
    let s = rest.iter().position(|b| !blank(b)).unwrap_or(rest.len());
    let e = rest.iter().rposition(|b| !blank(b)).map_or(s, |i| i + 1);
    let arg = (s < e).then(|| rest[s..e].to_vec());
    Some(Ok((interp.to_vec(), arg)))
}

/// Resolve what `first` (the file the user or execve named) runs with
/// `argv`: `#!` scripts through their interpreters (depth
/// [`MAX_SCRIPT_DEPTH`]), then the ELF's PT_INTERP from the view.
pub fn prepare(at: &Place<'_>, first: Binary, argv: Vec<Vec<u8>>) -> Result<Program, ExecError> {
    let mut argv = argv;
    let mut main = first;
    let mut host_script = None;
    for depth in 0.. {
        let Some(line) = shebang(&main.data) else {
            break;
        };
        let (interp, arg) = line.map_err(|()| {
            ExecError::Load(LoadError::NotElf(format!(
                "{} (a #! line with no interpreter)",
                main.name()
            )))
        })?;
        if depth == MAX_SCRIPT_DEPTH {
            return Err(ExecError::TooDeep(main.name()));
        }
        // argv[0] gives way to the interpreter, its argument and the
        // script's file name as it was run.
        let script_name = match &main.source {
            Source::Guest(_) => main.called.clone(),
            Source::Host(_) => format!("/dev/fd/{HOST_SCRIPT_FD}").into_bytes(),
        };
        let mut next = vec![interp.clone()];
        next.extend(arg);
        next.push(script_name);
        next.extend(argv.into_iter().skip(1));
        argv = next;
        let (fd, guest) = open_guest(at, &interp).map_err(|e| match e {
            Errno::NOENT | Errno::NOTDIR => ExecError::NoScriptInterpreter {
                script: main.name(),
                interp: lossy(&interp),
            },
            Errno::ACCESS => ExecError::Denied(lossy(&interp)),
            e => ExecError::Io(lossy(&interp), e),
        })?;
        let next = at.read(fd, Source::Guest(guest), interp.clone())?;
        let script = std::mem::replace(&mut main, next);
        if matches!(script.source, Source::Host(_)) {
            host_script = Some(script);
        }
    }
    let name = main.name();
    let interp = match loader::interpreter(&name, &main.data)? {
        None => None,
        Some(path) => {
            let (fd, guest) = open_guest(at, &path).map_err(|e| match e {
                Errno::NOENT | Errno::NOTDIR => ExecError::NoInterpreter {
                    program: name.clone(),
                    interp: lossy(&path),
                    hint: if at.policy.covers(b"/usr") {
                        ""
                    } else {
                        " (--no-system shows only the mounts)"
                    },
                },
                Errno::ACCESS => ExecError::Denied(lossy(&path)),
                e => ExecError::Io(lossy(&path), e),
            })?;
            let b = at.read(fd, Source::Guest(guest), path)?;
            // Linux: an interpreter it cannot load is ELIBBAD.
            loader::check(&b.name(), &b.data, loader::Place::Interpreter)
                .map_err(ExecError::BadInterpreter)?;
            Some(b)
        }
    };
    // Everything that can fail before the first mapping, so that execve
    // leaves the caller intact (ENOEXEC).
    loader::check(&name, &main.data, loader::Place::Program)?;
    Ok(Program {
        main,
        interp,
        argv,
        host_script,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_split_as_linux() {
        let ok = |s: &[u8]| shebang(s).unwrap().unwrap();
        assert_eq!(ok(b"#!/bin/sh\necho"), (b"/bin/sh".to_vec(), None));
        assert_eq!(
            ok(b"#! /usr/bin/env  python3 -u \n"),
            (b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec()))
        );
        assert_eq!(ok(b"#!/bin/sh"), (b"/bin/sh".to_vec(), None));
        assert!(shebang(b"\x7fELF").is_none());
        assert!(shebang(b"#!\n").unwrap().is_err());
        let long = [b"#!/".as_slice(), &[b'a'; 300]].concat();
        assert!(shebang(&long).unwrap().is_err());
    }
}

// ---- loading an image, and execve ----------------------------------------

/// The CPU facts every image's auxiliary vector carries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    /// AT_HWCAP.
    pub hwcap: u64,
    /// AT_HWCAP2.
    pub hwcap2: u64,
    /// AT_MINSIGSTKSZ.
    pub minsigstksz: u64,
}

/// Linux's MAX_ARG_STRLEN: one argument or environment string.
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Linux's TASK_COMM_LEN - 1.
const COMM_MAX: usize = 15;

/// Load `program` into the process's (empty) address space with `argv`,
/// `envp` and AT_EXECFN `execfn`, set what the process shows of it (exe,
/// cmdline, auxv, comm, brk); returns the registers to start it with.
/// The one loading path: the initial program and execve both come here.
pub fn load_image(
    m: &mut crate::vm::Machine,
    vcpu: &crate::vm::Vcpu,
    proc: &mut super::Process,
    program: Program,
    envp: &[Vec<u8>],
    execfn: &[u8],
) -> Result<kvm_bindings::kvm_regs, LoadError> {
    let Program {
        main, interp, argv, ..
    } = program;
    let name = main.name();
    let elf = loader::load(m, &mut proc.mm, &name, &main.data, loader::Place::Program)?;
    proc.mm.brk_start = elf.brk;
    proc.mm.brk = elf.brk;
    let vdso = loader::map_vdso(m, vcpu, &mut proc.mm)?;
    let (entry, interp_base) = match interp {
        Some(i) => {
            let ie = loader::load(
                m,
                &mut proc.mm,
                &i.name(),
                &i.data,
                loader::Place::Interpreter,
            )?;
            (ie.entry, ie.bias)
        }
        None => (elf.entry, 0),
    };
    if let Source::Guest(p) = &main.source {
        proc.id.exe = p.clone();
    }
    proc.exe_file = Some(std::sync::Arc::new(main.file));
    proc.cmdline = argv
        .iter()
        .flat_map(|a| a.iter().copied().chain([0]))
        .collect();
    let base = execfn.rsplit(|&b| b == b'/').next().unwrap_or(execfn);
    proc.task.comm = base[..base.len().min(COMM_MAX)].to_vec();
    let mut random = [0u8; 16];
    rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty()).map_err(|e| {
        LoadError::Unsupported {
            path: name.clone(),
            what: format!("getrandom: {e}"),
        }
    })?;
    let info = loader::StackInfo {
        argv: &argv,
        envp,
        execfn,
        random,
        uid: proc.id.uid,
        gid: proc.id.gid,
        hwcap: proc.exec_facts.hwcap,
        hwcap2: proc.exec_facts.hwcap2,
        minsigstksz: proc.exec_facts.minsigstksz,
        vdso: Some(vdso),
        interp_base,
    };
    let (rsp, auxv) = loader::build_stack(m, &mut proc.mm, &elf, &info)?;
    proc.auxv = auxv;
    Ok(kvm_bindings::kvm_regs {
        rip: entry,
        rsp,
        rflags: 0x202,
        ..Default::default()
    })
}

/// What other processes see of `proc`'s program in /proc/PID.
pub fn image_of(proc: &super::Process) -> super::task::Image {
    super::task::Image {
        cmdline: proc.cmdline.clone(),
        comm: super::process::comm(proc),
        exe: proc.id.exe.clone(),
    }
}

/// argv or envp from the program: a NULL-terminated array of string
/// pointers. E2BIG past Linux's limits (each string MAX_ARG_STRLEN, all of
/// them with their pointers `MAX_ARG_BYTES`), which also bounds the walk.
fn read_strings(cx: &super::Ctx, addr: u64, total: &mut usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    for i in 0u64.. {
        let at = addr.checked_add(i * 8).ok_or(Errno::FAULT)?;
        let mut p = [0u8; 8];
        cx.user().read(at, &mut p)?;
        let p = u64::from_le_bytes(p);
        if p == 0 {
            break;
        }
        let s = match cx.user().read_cstr(p, MAX_ARG_STRLEN) {
            Err(Errno::NAMETOOLONG) => return Err(Errno::TOOBIG),
            r => r?,
        };
        *total += s.len() + 1 + 8;
        if *total > loader::MAX_ARG_BYTES {
            return Err(Errno::TOOBIG);
        }
        out.push(s);
    }
    Ok(out)
}

/// Linux's de_thread: the process's other threads end (their vCPUs must
/// run neither the old image as it goes nor the new one), and a caller
/// that is not the leader takes the leader's id. They are kicked and
/// leave the table at their next turn (run.rs); the caller waits with the
/// locks given up. A signal that ends the process, or the run's end,
/// interrupts the wait.
fn de_thread(cx: &mut super::Ctx) -> Result<(), Errno> {
    if cx.proc.threads.len() == 1 {
        return Ok(());
    }
    let me = cx.proc.me().tid;
    for t in cx.proc.threads.iter_mut().filter(|t| t.tid != me) {
        t.doomed = true;
    }
    loop {
        cx.proc.kick_others();
        if cx.proc.threads.len() == 1 {
            break;
        }
        if cx.proc.exiting || cx.proc.expiry.expired() {
            return Err(super::wait::ERESTARTNOINTR);
        }
        super::wait::unlocked(cx, || {
            std::thread::sleep(std::time::Duration::from_micros(200))
        });
    }
    let pid = cx.proc.id.pid;
    if me != pid {
        // The caller takes the leader's id; its own is free again.
        cx.proc.tasks.lock().free_tid(pid, me);
    }
    cx.proc.me().tid = pid;
    Ok(())
}

pub fn sys_execve(cx: &mut super::Ctx, a: &super::Args) -> super::SysResult {
    execve_common(cx, libc::AT_FDCWD, a.0[0], a.0[1], a.0[2], 0)
}

pub fn sys_execveat(cx: &mut super::Ctx, a: &super::Args) -> super::SysResult {
    execve_common(
        cx,
        super::int(a.0[0]),
        a.0[1],
        a.0[2],
        a.0[3],
        a.0[4] as u32,
    )
}

fn execve_common(
    cx: &mut super::Ctx,
    dirfd: i32,
    path: u64,
    argv: u64,
    envp: u64,
    flags: u32,
) -> super::SysResult {
    let empty_path = libc::AT_EMPTY_PATH as u32;
    let nofollow = libc::AT_SYMLINK_NOFOLLOW as u32;
    if flags & !(empty_path | nofollow) != 0 {
        return Err(Errno::INVAL);
    }
    let name = cx.user().read_cstr(path, crate::mm::uaccess::PATH_MAX)?;
    // The file first, as Linux opens it before copying the strings: its
    // errors come before argv's EFAULT.
    let (fd, guest) = if name.is_empty() {
        if flags & empty_path == 0 {
            return Err(Errno::NOENT);
        }
        let f = cx.proc.files().file(dirfd)?;
        let fd = f.host().ok_or(Errno::ACCESS)?;
        (reopen_executable(fd)?, f.path.clone())
    } else {
        super::path::exec_open(cx, dirfd, &name, flags & nofollow == 0)?
    };
    // Linux's bprm->filename: what the interpreter of a script gets, and
    // AT_EXECFN.
    let called = if name.is_empty() {
        format!("/dev/fd/{dirfd}").into_bytes()
    } else if name.starts_with(b"/") || dirfd == libc::AT_FDCWD {
        name.clone()
    } else {
        [format!("/dev/fd/{dirfd}/").as_bytes(), &name].concat()
    };
    let mut total = 0;
    let mut argv = read_strings(cx, argv, &mut total)?;
    let envp = read_strings(cx, envp, &mut total)?;
    // Linux 5.18+: an empty argv gets an empty argv[0].
    if argv.is_empty() {
        argv.push(Vec::new());
    }
    let program = {
        let super::FsFields { cwd, root, .. } = cx.proc.fs().get();
        let at = Place::new(&cx.proc.policy, &root, &cwd, cx.proc.id.mem_size);
        let first = at
            .read(fd, Source::Guest(guest), called.clone())
            .map_err(|e| e.errno())?;
        prepare(&at, first, argv).map_err(|e| {
            log::debug!("execve: {e}");
            e.errno()
        })?
    };
    // The strings as the new stack holds them (with a script's
    // interpreter, its argument and name): E2BIG before the old image goes.
    if loader::strings_size(&program.argv, &envp, &called) > loader::MAX_ARG_BYTES {
        return Err(Errno::TOOBIG);
    }
    let execfn = called;
    // The point of no return: the old image goes (Linux's
    // begin_new_exec), after every other thread has ended.
    // Made on the vCPU's own thread (never for the exitless gate).
    cx.vcpu()?;
    de_thread(cx)?;
    if !cx.proc.mm.borrowed && !cx.proc.mm.lent_to.is_empty() {
        // A vfork child still runs on this address space: it keeps it
        // (Linux's mm stays with it), this process gets a new one.
        let Some(pt) = cx.m.new_root() else {
            cx.proc.exit = Some(super::Exit::Signal(libc::SIGKILL));
            return Err(Errno::NOMEM);
        };
        let old = std::mem::replace(&mut cx.proc.mm, super::mm::Mm::on(pt));
        cx.vcpu()?.set_cr3(pt.root());
        let tasks = std::sync::Arc::clone(&cx.proc.tasks);
        if let Some(mut old) = super::wait::unlocked(cx, move || tasks.hand_over(old)) {
            old.destroy(cx.m);
        }
        cx.m.enter_space(pt);
    } else if cx.proc.mm.borrowed {
        // A vfork child leaves its parent's address space for one of its
        // own; the parent goes on once the new image is in place.
        let Some(pt) = cx.m.new_root() else {
            cx.proc.exit = Some(super::Exit::Signal(libc::SIGKILL));
            return Err(Errno::NOMEM);
        };
        cx.proc.mm = super::mm::Mm::on(pt);
        cx.vcpu()?.set_cr3(pt.root());
        cx.m.enter_space(pt);
    } else {
        if cx.proc.mm.unmap_all(cx.m).is_err() {
            cx.proc.exit = Some(super::Exit::Signal(libc::SIGKILL));
            return Err(Errno::NOMEM);
        }
        cx.proc.mm = super::mm::Mm::on(cx.proc.mm.pt);
    }
    // The attachments go (their mappings went with the old space).
    super::ipc::detach_all(cx);
    cx.proc.files_for_exec();
    cx.proc.sig().reset_for_exec();
    cx.proc.timers.clear_posix();
    // Their queued signals go too: a timer of the new image reusing an id
    // must not fold its expiries into an old signal.
    super::signal::forget_all_timers(cx.proc);
    cx.proc.task.membarrier_private = false;
    cx.proc.task.membarrier_global = false;
    cx.proc.task.dumpable = true;
    cx.proc.me().clear_child_tid = 0;
    cx.proc.me().robust_list = (0, 0);
    cx.proc.me().restart = None;
    let vcpu = cx.vcpu.as_deref_mut().ok_or(Errno::NOSYS)?;
    {
        let s = vcpu.sregs_mut();
        s.fs.base = 0;
        s.gs.base = 0;
    }
    let loaded = vcpu
        .reset_xsave()
        .map_err(|e| LoadError::Unsupported {
            path: String::new(),
            what: e.to_string(),
        })
        .and_then(|()| load_image(cx.m, vcpu, cx.proc, program, &envp, &execfn));
    match loaded {
        Ok(regs) => {
            *cx.regs = regs;
            cx.proc.tasks.vfork_release(cx.proc.id.pid);
            cx.proc.tasks.set_image(cx.proc.id.pid, image_of(cx.proc));
            // The whole register file is new: no RCX/R11 rewrite, no restart.
            cx.proc.me().sigreturned = true;
            Ok(0)
        }
        Err(e) => {
            // Past the point of no return Linux kills with SIGSEGV.
            log::debug!("execve after the point of no return: {e}");
            cx.proc.exit = Some(super::Exit::Signal(libc::SIGSEGV));
            Err(Errno::NOMEM)
        }
    }
}
