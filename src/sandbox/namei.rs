//! Guest path resolution over the mount tree: Linux's namei, by guest path.
//!
//! A path is walked one component at a time from the guest root or a guest
//! directory. Each step picks the mount that covers the guest path reached
//! so far (the deepest mount point on the path, as Linux's mount tree
//! does), then opens that one component on the host with
//! `openat2(O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` from the directory the walk stands in, which
//! lies in that mount. A symlink is read with `readlinkat` and its target
//! walked again by guest path (from the guest root when it is absolute),
//! at most [`MAXSYMLINKS`] times (ELOOP past it). `..` pops one component
//! of the guest path, which holds no symlink, and never climbs above `/`.
//!
//! So a symlink planted in a writable mount that points into a nested
//! read-only mount, or at a directory a `--tmpfs` hides, lands under the
//! mount that covers its target, with that mount's rules; a symlink that
//! leaves its mount (`/lib64 -> usr/lib64`) lands in whatever covers the
//! target; and every host open stays beneath a mount root.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{Mount, Policy};

/// Linux's limit on symlinks followed in one lookup.
pub const MAXSYMLINKS: u32 = 40;

/// Guest directories whose contents kvmcage makes up; the walk stops there
/// and hands the rest of the path, lexically normalised, to the caller.
const SPECIAL: [&[u8]; 3] = [b"/dev", b"/proc", b"/.kvmcage"];

/// How one step of a host walk is opened: never through a symlink, never
/// out of the directory it starts from.
pub fn beneath() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// What a resolved guest path names.
#[derive(Debug)]
pub enum Found<'p> {
    /// An object in a mount: `fd` is an O_PATH descriptor of it (of the
    /// symlink itself when the last component was not followed), `dir` the
    /// directory holding it and `name` its name there ("." for a mount
    /// root, a path's final "." or "..", and `/`).
    Host {
        mount: &'p Mount,
        dir: OwnedFd,
        name: Vec<u8>,
        fd: OwnedFd,
    },
    /// The last component does not exist; its directory does, in a mount.
    Absent {
        mount: &'p Mount,
        dir: OwnedFd,
        name: Vec<u8>,
    },
    /// The last component does not exist, and its directory is virtual.
    AbsentVirtual,
    /// A directory that exists because mounts lie below it: its names.
    Virtual(Vec<Vec<u8>>),
    /// Below /dev, /proc or /.kvmcage: kvmcage's own nodes.
    Special,
}

/// openat2's RESOLVE_* restrictions on a walk (RESOLVE_IN_ROOT is the
/// `root` of [`Policy::resolve_scoped`], RESOLVE_NO_MAGICLINKS the
/// caller's: magic links are kvmcage's own nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// RESOLVE_NO_SYMLINKS: a symlink to follow is ELOOP.
    pub no_symlinks: bool,
    /// RESOLVE_BENEATH: the walk may not leave `root` (an absolute path or
    /// symlink, a `..` at `root`): EXDEV.
    pub beneath: bool,
    /// RESOLVE_NO_XDEV: the walk may not cross into another mount (nor
    /// kvmcage's own /dev, /proc): EXDEV.
    pub no_xdev: bool,
}

/// The end of a walk.
#[derive(Debug)]
pub struct Resolved<'p> {
    /// The guest path reached: absolute, normalised, free of symlinks
    /// (after the last component when it was followed).
    pub path: Vec<u8>,
    pub found: Found<'p>,
    /// The path ended in "/" (the object must be a directory).
    pub trailing_slash: bool,
    /// The last component was "." (1) or ".." (2).
    pub dots: u8,
}

/// Where the walk stands: a host directory in a mount, or a virtual one.
enum Here<'p> {
    Host(&'p Mount, OwnedFd),
    Virtual,
}

/// What one component is.
enum Step<'p> {
    Host(&'p Mount, OwnedFd, rustix::fs::FileType),
    Virtual,
    Missing,
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn parent_of(path: &[u8]) -> Vec<u8> {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/".to_vec(),
        Some(i) => path[..i].to_vec(),
    }
}

/// Is `path` /dev, /proc or /.kvmcage, or below one of them?
pub fn is_special(path: &[u8]) -> bool {
    SPECIAL
        .iter()
        .any(|s| path.starts_with(s) && (path.len() == s.len() || path[s.len()] == b'/'))
}

fn os(b: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(b))
}

impl Mount {
    /// An O_PATH descriptor of this mount's root directory.
    fn root_dir(&self) -> Result<OwnedFd, Errno> {
        rustix::fs::openat2(
            self.root.as_fd(),
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            beneath(),
        )
    }
}

impl Policy {
    /// The deepest mount whose guest path covers `path`.
    fn mount_for(&self, path: &[u8]) -> Option<&Mount> {
        // Sorted deepest first (Policy::new).
        self.mounts
            .iter()
            .find(|m| super::under(path, &m.guest).is_some())
    }

    /// Is `path` a proper ancestor of some mount point (so a virtual
    /// directory when nothing else is there)?
    fn holds_mount_point(&self, path: &[u8]) -> bool {
        path == b"/"
            || self
                .mounts
                .iter()
                .any(|m| m.guest.len() > path.len() && super::under(&m.guest, path).is_some())
    }

    /// The names directly below a virtual directory.
    fn virtual_names(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for m in &self.mounts {
            if m.guest.len() <= path.len() {
                continue;
            }
            if let Some(skip) = super::under(&m.guest, path) {
                if let Some(next) = m.guest[skip..].split(|&b| b == b'/').next() {
                    if !next.is_empty() && !names.iter().any(|n| n == next) {
                        names.push(next.to_vec());
                    }
                }
            }
        }
        names
    }

    /// One component `name` below `here` (at guest path `next`).
    fn step<'p>(&'p self, here: &Here<'p>, name: &[u8], next: &[u8]) -> Result<Step<'p>, Errno> {
        let fallback = || {
            if self.holds_mount_point(next) {
                Step::Virtual
            } else {
                Step::Missing
            }
        };
        let Some(m) = self.mount_for(next) else {
            return Ok(fallback());
        };
        let fd = if m.guest == next {
            m.root_dir()?
        } else {
            match here {
                Here::Host(hm, dir) if std::ptr::eq(*hm, m) => match rustix::fs::openat2(
                    dir,
                    os(name),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                    beneath(),
                ) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => return Ok(fallback()),
                    Err(e) => return Err(e),
                },
                // The mount covers `next` but the walk stands in a virtual
                // directory above it: nothing of the mount is there.
                _ => return Ok(fallback()),
            }
        };
        let st = rustix::fs::fstat(&fd)?;
        Ok(Step::Host(
            m,
            fd,
            rustix::fs::FileType::from_raw_mode(st.st_mode),
        ))
    }

    /// Where the symlink-free guest directory `path` is (a walk from the
    /// root that shares the caller's symlink budget).
    fn locate<'p>(&'p self, path: &[u8], links: &mut u32) -> Result<Here<'p>, Errno> {
        if path == b"/" {
            return Ok(match self.mount_for(b"/") {
                Some(m) => Here::Host(m, m.root_dir()?),
                None => Here::Virtual,
            });
        }
        let r = self.walk_scoped(b"/", b"/", path, true, links, Scope::default())?;
        match r.found {
            Found::Host { mount, fd, .. } => Ok(Here::Host(mount, fd)),
            Found::Virtual(_) => Ok(Here::Virtual),
            Found::Special => Err(Errno::NOTDIR),
            Found::Absent { .. } | Found::AbsentVirtual => Err(Errno::NOENT),
        }
    }

    /// Resolve `path` from the guest directory `start` (absolute and
    /// symlink-free: the cwd or a directory descriptor's path). `follow`:
    /// whether a symlink in the last component is followed.
    pub fn resolve(&self, start: &[u8], path: &[u8], follow: bool) -> Result<Resolved<'_>, Errno> {
        self.resolve_in(b"/", start, path, follow)
    }

    /// `resolve` for a process whose root directory is `root` (chroot):
    /// an absolute path or symlink target starts there, and `..` stops
    /// there, as Linux's follow_dotdot. Paths in and out stay the sandbox's
    /// (global) guest paths.
    pub fn resolve_in(
        &self,
        root: &[u8],
        start: &[u8],
        path: &[u8],
        follow: bool,
    ) -> Result<Resolved<'_>, Errno> {
        if path.is_empty() {
            return Err(Errno::NOENT);
        }
        self.walk_scoped(root, start, path, follow, &mut 0, Scope::default())
    }

    /// `resolve_in` under openat2's restrictions `scope`.
    pub fn resolve_scoped(
        &self,
        root: &[u8],
        start: &[u8],
        path: &[u8],
        follow: bool,
        scope: Scope,
    ) -> Result<Resolved<'_>, Errno> {
        if path.is_empty() {
            return Err(Errno::NOENT);
        }
        self.walk_scoped(root, start, path, follow, &mut 0, scope)
    }

    /// The parent of the directory `here` at guest path `cur`: the host's
    /// ".." inside a mount (O(1), and still beneath the mount root since
    /// `cur` is below it), else a walk from the root to the parent (a mount
    /// root or a virtual directory: as shallow as the mount points).
    fn up<'p>(&'p self, here: Here<'p>, cur: &[u8], links: &mut u32) -> Result<Here<'p>, Errno> {
        let parent = parent_of(cur);
        if let Here::Host(m, fd) = &here {
            if m.guest != cur && m.guest != parent {
                let up = rustix::fs::openat(
                    fd,
                    "..",
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                return Ok(Here::Host(m, up));
            }
        }
        self.locate(&parent, links)
    }

    fn walk_scoped(
        &self,
        root: &[u8],
        start: &[u8],
        path: &[u8],
        follow: bool,
        links: &mut u32,
        scope: Scope,
    ) -> Result<Resolved<'_>, Errno> {
        if scope.beneath && path.first() == Some(&b'/') {
            return Err(Errno::XDEV);
        }
        let trailing_slash = path.len() > 1 && path.last() == Some(&b'/');
        // Components still to walk, the next one last.
        let mut todo: Vec<Vec<u8>> = Vec::new();
        let push = |todo: &mut Vec<Vec<u8>>, p: &[u8]| {
            for c in p.rsplit(|&b| b == b'/').filter(|c| !c.is_empty()) {
                todo.push(c.to_vec());
            }
        };
        push(&mut todo, path);
        let mut cur: Vec<u8> = if path.first() == Some(&b'/') {
            root.to_vec()
        } else {
            start.to_vec()
        };
        if self.is_special_walk(&cur, &todo) {
            return Ok(self.special(&cur, &todo, trailing_slash));
        }
        let mut here = self.locate(&cur, links)?;
        // RESOLVE_NO_XDEV: the mount the walk starts in (None: virtual).
        let home: Option<*const Mount> = match &here {
            Here::Host(m, _) => Some(*m as *const Mount),
            Here::Virtual => None,
        };
        let crosses = |m: Option<&Mount>| scope.no_xdev && m.map(|m| m as *const Mount) != home;
        let mut dots = 0;
        while let Some(c) = todo.pop() {
            let last = todo.is_empty();
            dots = 0;
            match c.as_slice() {
                b"." => {
                    dots = 1;
                    continue;
                }
                b".." => {
                    dots = 2;
                    if scope.beneath && cur == root {
                        return Err(Errno::XDEV);
                    }
                    if cur != b"/" && cur != root {
                        here = self.up(here, &cur, links)?;
                        cur = parent_of(&cur);
                        let m = match &here {
                            Here::Host(m, _) => Some(*m),
                            Here::Virtual => None,
                        };
                        if crosses(m) {
                            return Err(Errno::XDEV);
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let next = join(&cur, &c);
            if self.is_special_walk(&next, &todo) {
                if scope.no_xdev {
                    return Err(Errno::XDEV);
                }
                return Ok(self.special(&next, &todo, trailing_slash));
            }
            let step = self.step(&here, &c, &next)?;
            match &step {
                Step::Virtual if crosses(None) => return Err(Errno::XDEV),
                Step::Host(m, ..) if crosses(Some(m)) => return Err(Errno::XDEV),
                _ => {}
            }
            match step {
                Step::Missing => {
                    if !last {
                        return Err(Errno::NOENT);
                    }
                    let found = match here {
                        Here::Host(mount, dir) => Found::Absent {
                            mount,
                            dir,
                            name: c,
                        },
                        Here::Virtual => Found::AbsentVirtual,
                    };
                    return Ok(Resolved {
                        path: next,
                        found,
                        trailing_slash,
                        dots: 0,
                    });
                }
                Step::Virtual => {
                    cur = next;
                    here = Here::Virtual;
                }
                Step::Host(_, fd, ty) if ty.is_symlink() && (!last || follow || trailing_slash) => {
                    if scope.no_symlinks {
                        return Err(Errno::LOOP);
                    }
                    *links += 1;
                    if *links > MAXSYMLINKS {
                        return Err(Errno::LOOP);
                    }
                    let target = rustix::fs::readlinkat(&fd, "", Vec::new())?.into_bytes();
                    if target.is_empty() {
                        return Err(Errno::NOENT);
                    }
                    if scope.beneath && target.first() == Some(&b'/') {
                        return Err(Errno::XDEV);
                    }
                    push(&mut todo, &target);
                    if target.first() == Some(&b'/') {
                        cur = root.to_vec();
                        if self.is_special_walk(&cur, &todo) {
                            return Ok(self.special(&cur, &todo, trailing_slash));
                        }
                        here = self.locate(&cur, links)?;
                    }
                }
                Step::Host(m, fd, ty) => {
                    if last {
                        let dir = match here {
                            Here::Host(hm, dir) if std::ptr::eq(hm, m) => dir,
                            // A mount root: its own directory.
                            _ => m.root_dir()?,
                        };
                        let name = if m.guest == next { b".".to_vec() } else { c };
                        if trailing_slash && !ty.is_dir() && !ty.is_symlink() {
                            return Err(Errno::NOTDIR);
                        }
                        return Ok(Resolved {
                            path: next,
                            found: Found::Host {
                                mount: m,
                                dir,
                                name,
                                fd,
                            },
                            trailing_slash,
                            dots: 0,
                        });
                    }
                    if !ty.is_dir() {
                        return Err(Errno::NOTDIR);
                    }
                    cur = next;
                    here = Here::Host(m, fd);
                }
            }
        }
        // The walk ended on a directory it stands in: "/", or a final "."
        // or "..", or a symlink to one of those.
        let found = match here {
            Here::Host(mount, fd) => Found::Host {
                mount,
                dir: fd.try_clone().map_err(|_| Errno::NOMEM)?,
                name: b".".to_vec(),
                fd,
            },
            Here::Virtual => Found::Virtual(self.virtual_names(&cur)),
        };
        Ok(Resolved {
            path: cur,
            found,
            trailing_slash,
            dots,
        })
    }

    /// Is a mount at `guest`?
    pub fn covers(&self, guest: &[u8]) -> bool {
        self.mounts.iter().any(|m| m.guest == guest)
    }

    /// Does a walk standing at `at`, with `todo` (next component last)
    /// still to go, enter kvmcage's own nodes? Not when a mount below them
    /// covers where it is going (/dev/shm in /dev): then /dev is walked as
    /// the directory holding that mount point.
    fn is_special_walk(&self, at: &[u8], todo: &[Vec<u8>]) -> bool {
        if !is_special(at) {
            return false;
        }
        let mut full = at.to_vec();
        for c in todo.iter().rev() {
            full.push(b'/');
            full.extend_from_slice(c);
        }
        let full = super::normalize(b"/", &full);
        !self
            .mounts
            .iter()
            .any(|m| is_special(&m.guest) && super::under(&full, &m.guest).is_some())
    }

    /// The walk reached kvmcage's own nodes at `at`; the rest is lexical.
    fn special(&self, at: &[u8], todo: &[Vec<u8>], trailing_slash: bool) -> Resolved<'_> {
        let mut rest: Vec<u8> = Vec::new();
        for c in todo.iter().rev() {
            rest.push(b'/');
            rest.extend_from_slice(c);
        }
        let mut full = at.to_vec();
        full.extend_from_slice(&rest);
        Resolved {
            path: super::normalize(b"/", &full),
            found: Found::Special,
            trailing_slash,
            dots: 0,
        }
    }
}
