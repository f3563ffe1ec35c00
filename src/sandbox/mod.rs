//! The sandbox's view of the filesystem: which host directories the program
//! sees, where, and whether it may write them.
//!
//! The program sees a view of a system ([`system`]: the host's programs
//! and libraries read-only, a minimal `/etc`, a private `/tmp`; or the
//! `--rootfs` directory; or, with `--no-system`, no host file at all),
//! and the mounts on top of it. `--mount HOST[:GUEST]
//! [:ro|:rw]` makes a host directory visible at a guest path (read-only
//! unless `:rw`), `--tmpfs GUEST[:size=N]` an empty writable directory,
//! private to kvmcage (mode 0700), capped at N bytes and removed after the
//! run. Guest paths are resolved one component at a time over this mount
//! tree ([`namei`]): each host step is an openat2 beneath the directory the
//! walk stands in, with no symlink and no magic link followed by the host;
//! symlinks are followed by guest path, so each lands under the mount that
//! covers its target.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[doc(hidden)]
pub mod namei;
#[doc(hidden)]
pub mod quota;
pub mod system;

pub use system::View;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use thiserror::Error;

/// A mount or --tmpfs that cannot be set up.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The spec as written, and what is wrong with it.
    #[error("bad mount {0:?}: {1}")]
    BadMount(String, String),
    /// The host directory cannot be opened.
    #[error("cannot open mount source {path}")]
    Open {
        /// The host path.
        path: PathBuf,
        /// Why.
        #[source]
        source: Errno,
    },
    /// The --tmpfs directory cannot be made.
    #[error("cannot create a temporary directory for --tmpfs")]
    Tmp(#[source] std::io::Error),
}

/// A mount as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// The host directory.
    pub host: PathBuf,
    /// Where the program sees it (absolute, normalised).
    pub guest: Vec<u8>,
    /// Read-write (`:rw`) rather than read-only.
    pub writable: bool,
}

impl MountSpec {
    /// Parse `HOST[:GUEST][:ro|:rw]`.
    pub fn parse(spec: &str) -> Result<Self, PolicyError> {
        let bad = |why: &str| PolicyError::BadMount(spec.into(), why.into());
        let mut parts: Vec<&str> = spec.split(':').collect();
        let mut writable = false;
        if let Some(last) = parts.last() {
            match *last {
                "ro" if parts.len() > 1 => {
                    parts.pop();
                }
                "rw" if parts.len() > 1 => {
                    writable = true;
                    parts.pop();
                }
                _ => {}
            }
        }
        let (host, guest) = match parts.as_slice() {
            [h] => (*h, *h),
            [h, g] => (*h, *g),
            _ => return Err(bad("expected HOST[:GUEST][:ro|:rw]")),
        };
        if host.is_empty() {
            return Err(bad("empty host path"));
        }
        if !guest.starts_with('/') {
            return Err(bad("the guest path must be absolute"));
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: normalize(b"/", guest.as_bytes()),
            writable,
        })
    }
}

/// One mounted directory.
#[derive(Debug)]
pub struct Mount {
    /// Normalised absolute guest path.
    pub guest: Vec<u8>,
    root: OwnedFd,
    /// The program may change it.
    pub writable: bool,
    /// Its place in the command line (for its device number).
    index: u32,
    /// A --tmpfs's size accounting.
    pub quota: Option<std::sync::Arc<quota::Quota>>,
}

/// The mounts of one run.
#[derive(Debug, Default)]
pub struct Policy {
    mounts: Vec<Mount>,
    /// Host directories made for --tmpfs, removed on drop.
    temp_dirs: Vec<tempfile::TempDir>,
    /// The directory inside each --tmpfs one that the program sees.
    tmpfs_roots: Vec<PathBuf>,
    /// The process that removes them instead, once kvmcage is confined.
    reaper: Option<Reaper>,
}

/// A child forked before confinement that removes the --tmpfs directories
/// when kvmcage closes its end of a pipe: at the end of the run (which then
/// waits for it), or when kvmcage dies in any way, SIGKILL included.
/// A confined kvmcage could not remove them itself: a directory's own entry
/// belongs to its parent, which landlock does not open to it.
#[derive(Debug)]
struct Reaper {
    pid: libc::pid_t,
    pipe: Option<OwnedFd>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid pointer.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
    }
}

/// Make `path` absolute against `cwd` and remove `.`, `..` and repeated
/// slashes; `..` never climbs above `/`.
pub fn normalize(cwd: &[u8], path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let joined: Vec<u8>;
    let full: &[u8] = if path.first() == Some(&b'/') {
        path
    } else {
        joined = [cwd, b"/", path].concat();
        &joined
    };
    for c in full.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(full.len());
    for p in &parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Is `prefix` a path prefix of `path` on a component boundary? The
/// index where the rest starts.
pub(crate) fn under(path: &[u8], prefix: &[u8]) -> Option<usize> {
    if prefix == b"/" {
        return Some(1);
    }
    if path.starts_with(prefix) && (path.len() == prefix.len() || path[prefix.len()] == b'/') {
        Some((prefix.len() + 1).min(path.len()))
    } else {
        None
    }
}

/// `--tmpfs GUEST[:size=N]`: a private, capped, writable directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmpfsSpec {
    /// Where the program sees it.
    pub guest: Vec<u8>,
    /// The most bytes it may hold ([`DEFAULT_TMPFS_SIZE`] unless given).
    pub size: u64,
}

/// The size of a `--tmpfs` without `size=`.
pub const DEFAULT_TMPFS_SIZE: u64 = 64 << 20;

impl TmpfsSpec {
    /// Parse `GUEST[:size=N]`, N in bytes with an optional K, M or G suffix.
    pub fn parse(spec: &str) -> Result<Self, PolicyError> {
        let bad = |why: &str| PolicyError::BadMount(spec.into(), why.into());
        let (guest, size) = match spec.split_once(':') {
            None => (spec, DEFAULT_TMPFS_SIZE),
            Some((g, opt)) => {
                let n = opt
                    .strip_prefix("size=")
                    .ok_or_else(|| bad("expected GUEST[:size=N]"))?;
                (g, parse_size(n).ok_or_else(|| bad("bad size"))?)
            }
        };
        if !guest.starts_with('/') {
            return Err(bad("the guest path must be absolute"));
        }
        Ok(Self {
            guest: normalize(b"/", guest.as_bytes()),
            size,
        })
    }
}

/// `123`, `64K`, `16M`, `1G` (powers of 1024).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, shift) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 10),
        (i, 'm' | 'M') => (&s[..i], 20),
        (i, 'g' | 'G') => (&s[..i], 30),
        _ => (s, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

impl Policy {
    /// Open the mounts' host directories and make the --tmpfs ones.
    pub fn new(specs: &[MountSpec], tmpfs: &[TmpfsSpec]) -> Result<Self, PolicyError> {
        let mut p = Policy::default();
        for spec in specs {
            let root = rustix::fs::open(
                &spec.host,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|source| PolicyError::Open {
                path: spec.host.clone(),
                source,
            })?;
            p.push(spec.guest.clone(), root, spec.writable, None);
        }
        for t in tmpfs {
            // Private (0700), removed when the Policy drops; the program
            // sees a tmpfs's mode, 1777, inside.
            let (dir, inner) =
                private_dir("kvmcage-tmpfs-", 0o1777, None).map_err(PolicyError::Tmp)?;
            let root = rustix::fs::open(
                &inner,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|source| PolicyError::Open {
                path: inner.clone(),
                source,
            })?;
            p.temp_dirs.push(dir);
            p.tmpfs_roots.push(inner);
            let quota = std::sync::Arc::new(quota::Quota::new(t.size));
            p.push(t.guest.clone(), root, true, Some(quota));
        }
        // Deepest guest path first: the deepest mount wins; of two at the
        // same place, the later one (it is mounted on top, as on Linux).
        p.mounts.reverse();
        p.mounts.sort_by_key(|m| std::cmp::Reverse(m.guest.len()));
        Ok(p)
    }

    /// [`Policy::new`] for `view` under the user's `specs` and `tmpfs`
    /// (see [`system::plan`]).
    pub fn for_view(
        view: &View,
        specs: &[MountSpec],
        tmpfs: &[TmpfsSpec],
        who: &system::Identity<'_>,
        tmp_size: u64,
    ) -> Result<Self, PolicyError> {
        let plan = system::plan(view, specs, tmpfs, who, tmp_size)?;
        let mut p = Policy::new(&plan.mounts, &plan.tmpfs)?;
        // Removed with the --tmpfs directories (also by the reaper).
        p.temp_dirs.extend(plan.skeleton);
        Ok(p)
    }

    fn push(
        &mut self,
        guest: Vec<u8>,
        root: OwnedFd,
        writable: bool,
        quota: Option<std::sync::Arc<quota::Quota>>,
    ) {
        let index = self.mounts.len() as u32;
        self.mounts.push(Mount {
            guest,
            root,
            writable,
            index,
            quota,
        });
    }

    /// The host paths of the --tmpfs directories (for tests and cleanup).
    pub fn tmpfs_dirs(&self) -> impl Iterator<Item = &Path> {
        self.tmpfs_roots.iter().map(|d| d.as_path())
    }

    /// Every mount's host directory, and whether it is writable (the
    /// --tmpfs directories are): what landlock opens to kvmcage.
    pub fn roots(&self) -> Vec<(std::os::fd::BorrowedFd<'_>, bool)> {
        use std::os::fd::AsFd;
        self.mounts
            .iter()
            .map(|m| (m.root.as_fd(), m.writable))
            .collect()
    }

    /// Hand the removal of the --tmpfs directories to a reaper process
    /// (see [`Reaper`]). Call while the process has one thread, before
    /// confinement.
    pub fn hand_to_reaper(&mut self) -> std::io::Result<()> {
        if self.temp_dirs.is_empty() || self.reaper.is_some() {
            return Ok(());
        }
        let paths: Vec<std::path::PathBuf> =
            self.temp_dirs.iter().map(|d| d.path().to_owned()).collect();
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        // SAFETY: the caller has one thread (confine::apply checks it
        // right after), so the child may allocate; it only waits on the
        // pipe, removes the directories and _exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            drop(w);
            reap(&r, &paths);
        }
        drop(r);
        // The directories are the reaper's now.
        for d in self.temp_dirs.drain(..) {
            let _ = d.keep();
        }
        self.reaper = Some(Reaper { pid, pipe: Some(w) });
        Ok(())
    }
}

/// A directory under TMPDIR for the run, private to kvmcage (0700) and
/// removed with the `TempDir`, and the one directory inside it the program
/// sees, with the `mode` Linux would give it: other host users cannot
/// reach it, whatever its own mode says.
pub(crate) fn private_dir(
    prefix: &str,
    mode: u32,
    under: Option<&Path>,
) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let mut b = tempfile::Builder::new();
    b.prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700));
    let dir = match under {
        Some(d) => b.tempdir_in(d)?,
        None => b.tempdir()?,
    };
    let inner = dir.path().join("root");
    std::fs::create_dir(&inner)?;
    // Not subject to the umask, as mkdir's mode is.
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(mode))?;
    Ok((dir, inner))
}

/// The reaper's whole life (see [`Reaper`]).
fn reap(pipe: &OwnedFd, paths: &[std::path::PathBuf]) -> ! {
    use std::os::fd::AsRawFd;
    // It outlives a Ctrl-C or SIGTERM sent to the whole process group, so
    // it can clean up after kvmcage's own orderly stop.
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGPIPE,
    ] {
        // SAFETY: SIG_IGN needs no handler.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    // Hold nothing of kvmcage's: not its stdio (a reader waiting for EOF
    // would wait for the reaper too), not /dev/kvm.
    let fd = pipe.as_raw_fd() as u32;
    // SAFETY: closes descriptors only; this process uses none but `pipe`.
    unsafe {
        if fd > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, fd - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, fd + 1, u32::MAX, 0u32);
    }
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(pipe, &mut b) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    for p in paths {
        let _ = std::fs::remove_dir_all(p);
    }
    // SAFETY: ends the child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

impl Policy {
    /// The guest path at which the program sees the host file `host` (an
    /// open descriptor of it), if a mount shows it: the deepest mount whose
    /// host directory holds it, checked by walking the guest path back to
    /// the same inode (a nested mount may hide it).
    pub fn guest_path_of(&self, host: &Path, file: &OwnedFd) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let want = rustix::fs::fstat(file).ok()?;
        let host = std::fs::canonicalize(host).ok()?;
        for m in &self.mounts {
            let root = std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&m.root)
            ))
            .ok()?;
            let Ok(rel) = host.strip_prefix(&root) else {
                continue;
            };
            let guest = normalize(&m.guest, rel.as_os_str().as_bytes());
            let Ok(r) = self.resolve(b"/", &guest, true) else {
                continue;
            };
            if let namei::Found::Host { fd, .. } = r.found {
                let st = rustix::fs::fstat(&fd).ok()?;
                if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino) {
                    return Some(r.path);
                }
            }
        }
        None
    }
}

impl Mount {
    /// The device number the guest sees for files in this mount: an
    /// anonymous device (major 0) per mount, never the host's.
    pub fn dev(&self) -> u64 {
        rustix::fs::makedev(0, 0x40 + self.index)
    }

    /// The filesystem type the mount table shows: tmpfs for a --tmpfs (and
    /// the private /tmp), else the host filesystem's kind.
    pub fn fstype(&self) -> &'static str {
        if self.quota.is_some() {
            return "tmpfs";
        }
        let magic = rustix::fs::fstatfs(&self.root).map_or(0, |s| s.f_type);
        match magic {
            0xEF53 => "ext4",
            0x0102_1994 => "tmpfs",
            0x5846_5342 => "xfs",
            0x9123_683E => "btrfs",
            0x794C_7630 => "overlay",
            0x6969 => "nfs",
            0x6573_5546 => "fuse",
            0x2FC1_2FC1 => "zfs",
            0x0102_1997 => "9p",
            _ => "unknown",
        }
    }
}

impl Policy {
    /// The mounts in mount order: shallowest guest path first, and of two
    /// at one place the lower one first (as /proc/self/mounts lists them).
    pub fn mounts_in_order(&self) -> Vec<&Mount> {
        let mut v: Vec<&Mount> = self.mounts.iter().collect();
        v.sort_by_key(|m| {
            (
                m.guest.iter().filter(|&&b| b == b'/').count() - usize::from(m.guest == b"/"),
                m.index,
            )
        });
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_is_a_chroot() {
        assert_eq!(normalize(b"/", b"a/./b//c/"), b"/a/b/c");
        assert_eq!(normalize(b"/work", b"../../../etc/passwd"), b"/etc/passwd");
        assert_eq!(normalize(b"/x", b"/.."), b"/");
        assert_eq!(normalize(b"/x/y", b".."), b"/x");
    }

    #[test]
    fn mount_specs_parse() {
        let m = MountSpec::parse("/srv/data:/data:rw").unwrap();
        assert_eq!(
            (m.host.as_path(), m.guest.as_slice(), m.writable),
            (Path::new("/srv/data"), &b"/data"[..], true)
        );
        let m = MountSpec::parse("/srv/data").unwrap();
        assert_eq!((m.guest.as_slice(), m.writable), (&b"/srv/data"[..], false));
        let m = MountSpec::parse("/srv:/x/../y:ro").unwrap();
        assert_eq!(m.guest, b"/y");
        assert!(MountSpec::parse("/srv:relative").is_err());
        assert!(MountSpec::parse(":/x").is_err());
    }

    fn mount(host: &Path, guest: &str, writable: bool) -> MountSpec {
        MountSpec {
            host: host.to_owned(),
            guest: guest.as_bytes().to_vec(),
            writable,
        }
    }

    /// Which mount (by writability) and guest path a walk ends in.
    fn at(p: &Policy, path: &str, follow: bool) -> Result<(Option<bool>, String), Errno> {
        let r = p.resolve(b"/", path.as_bytes(), follow)?;
        let w = match &r.found {
            namei::Found::Host { mount, .. } | namei::Found::Absent { mount, .. } => {
                Some(mount.writable)
            }
            _ => None,
        };
        Ok((w, String::from_utf8_lossy(&r.path).into_owned()))
    }

    #[test]
    fn walk_picks_the_deepest_mount_and_lists_virtual_parents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        let specs = [
            mount(dir.path(), "/a", false),
            mount(dir.path(), "/a/b/c", true),
            mount(dir.path(), "/x/y", false),
        ];
        let p = Policy::new(&specs, &[]).unwrap();
        assert_eq!(
            at(&p, "/a/b/c/d", true).unwrap(),
            (Some(true), "/a/b/c/d".into())
        );
        assert_eq!(at(&p, "/a/b", true).unwrap(), (Some(false), "/a/b".into()));
        match p.resolve(b"/", b"/", true).unwrap().found {
            namei::Found::Virtual(mut n) => {
                n.sort();
                assert_eq!(n, vec![b"a".to_vec(), b"x".to_vec()]);
            }
            f => panic!("{f:?}"),
        }
        assert!(matches!(
            p.resolve(b"/", b"/x", true).unwrap().found,
            namei::Found::Virtual(_)
        ));
        assert!(matches!(
            p.resolve(b"/", b"/etc", true).unwrap().found,
            namei::Found::AbsentVirtual
        ));
        assert_eq!(
            p.resolve(b"/", b"/etc/passwd", true).unwrap_err(),
            Errno::NOENT
        );
        assert!(matches!(
            p.resolve(b"/", b"/dev/null", true).unwrap().found,
            namei::Found::Special
        ));
    }

    #[test]
    fn symlinks_land_under_the_mount_that_covers_their_target() {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path();
        std::fs::create_dir_all(outer.join("protected")).unwrap();
        std::fs::write(outer.join("protected/file"), "x").unwrap();
        std::os::unix::fs::symlink("protected", outer.join("lnk")).unwrap();
        std::os::unix::fs::symlink("/w/protected/file", outer.join("abs")).unwrap();
        std::os::unix::fs::symlink("../w/./lnk/../protected", outer.join("dots")).unwrap();
        std::os::unix::fs::symlink("loop", outer.join("loop")).unwrap();
        std::fs::create_dir_all(outer.join("secrets")).unwrap();
        std::fs::write(outer.join("secrets/key"), "k").unwrap();
        std::os::unix::fs::symlink("secrets", outer.join("s")).unwrap();
        let specs = [
            mount(outer, "/w", true),
            mount(&outer.join("protected"), "/w/protected", false),
        ];
        let tmpfs = [TmpfsSpec::parse("/w/secrets").unwrap()];
        let p = Policy::new(&specs, &tmpfs).unwrap();
        // Lexically /w/lnk/file is in the writable mount; by the walk it is
        // the read-only one's file.
        assert_eq!(
            at(&p, "/w/lnk/file", true).unwrap(),
            (Some(false), "/w/protected/file".into())
        );
        assert_eq!(
            at(&p, "/w/lnk/new", true).unwrap(),
            (Some(false), "/w/protected/new".into())
        );
        assert_eq!(
            at(&p, "/w/abs", true).unwrap(),
            (Some(false), "/w/protected/file".into())
        );
        assert_eq!(
            at(&p, "/w/dots", true).unwrap(),
            (Some(false), "/w/protected".into())
        );
        // Not following the last component: the link itself, in /w.
        assert_eq!(
            at(&p, "/w/lnk", false).unwrap(),
            (Some(true), "/w/lnk".into())
        );
        // The tmpfs hides the host's secrets/, through a symlink too.
        assert_eq!(
            p.resolve(b"/", b"/w/s/key", true).unwrap().path,
            b"/w/secrets/key"
        );
        assert!(matches!(
            p.resolve(b"/", b"/w/s/key", true).unwrap().found,
            namei::Found::Absent { .. }
        ));
        assert_eq!(p.resolve(b"/", b"/w/loop", true).unwrap_err(), Errno::LOOP);
        assert_eq!(
            p.resolve(b"/", b"/w/protected/file/x", true).unwrap_err(),
            Errno::NOTDIR
        );
        // Relative to a start directory, and `..` above the root stays there.
        assert_eq!(
            p.resolve(b"/w/protected", b"../lnk/../../../w/protected/file", true)
                .unwrap()
                .path,
            b"/w/protected/file"
        );
    }

    #[test]
    fn tmpfs_specs_parse() {
        assert_eq!(TmpfsSpec::parse("/t").unwrap().size, DEFAULT_TMPFS_SIZE);
        assert_eq!(TmpfsSpec::parse("/t:size=1M").unwrap().size, 1 << 20);
        assert_eq!(TmpfsSpec::parse("/t/../u:size=10").unwrap().guest, b"/u");
        assert!(TmpfsSpec::parse("t").is_err());
        assert!(TmpfsSpec::parse("/t:sz=1").is_err());
        assert!(TmpfsSpec::parse("/t:size=1Q").is_err());
    }

    #[test]
    fn tmpfs_is_private_and_removed() {
        let p = Policy::new(&[], &[TmpfsSpec::parse("/t").unwrap()]).unwrap();
        let dir = p.tmpfs_dirs().next().unwrap().to_owned();
        use std::os::unix::fs::PermissionsExt;
        let mode = |d: &Path| std::fs::metadata(d).unwrap().permissions().mode() & 0o7777;
        // Linux's tmpfs mode inside a directory only kvmcage can enter.
        assert_eq!(mode(&dir), 0o1777);
        assert_eq!(mode(dir.parent().unwrap()), 0o700);
        drop(p);
        assert!(!dir.exists());
    }
}
