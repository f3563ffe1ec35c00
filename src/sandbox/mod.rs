//! The sandbox's view of the filesystem: which host directories the program
//! sees, where, and whether it may write them.
//!
//! By default the program sees no host file at all. `--mount HOST[:GUEST]
//! [:ro|:rw]` makes a host directory visible at a guest path (read-only
//! unless `:rw`), `--tmpfs GUEST` an empty writable directory removed after
//! the run. A guest path is made absolute against the guest cwd and
//! normalised lexically (`..` at `/` stays at `/`, as in a chroot); the
//! longest mount prefix picks the mount; the rest is opened from the
//! mount's root directory descriptor with openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS), so `..`, absolute and relative symlinks and
//! /proc magic links cannot leave the mount, and the host kernel does the
//! resolution race-free.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("bad mount {0:?}: {1}")]
    BadMount(String, String),
    #[error("cannot open mount source {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("cannot create a temporary directory for --tmpfs")]
    Tmp(#[source] std::io::Error),
}

/// A mount as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    pub host: PathBuf,
    pub guest: Vec<u8>,
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
    pub writable: bool,
}

/// The mounts of one run.
#[derive(Debug, Default)]
pub struct Policy {
    mounts: Vec<Mount>,
    /// Host directories made for --tmpfs, removed on drop.
    temp_dirs: Vec<PathBuf>,
}

impl Drop for Policy {
    fn drop(&mut self) {
        for d in &self.temp_dirs {
            let _ = std::fs::remove_dir_all(d);
        }
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

/// Is `prefix` a path prefix of `path` on a component boundary?
fn under(path: &[u8], prefix: &[u8]) -> Option<usize> {
    if prefix == b"/" {
        return Some(1);
    }
    if path.starts_with(prefix) && (path.len() == prefix.len() || path[prefix.len()] == b'/') {
        Some((prefix.len() + 1).min(path.len()))
    } else {
        None
    }
}

/// Where a guest path lands.
pub enum Lookup<'a> {
    /// Inside a mount: the path relative to its root ("." for the root).
    Mount(&'a Mount, Vec<u8>),
    /// A directory that exists only because mounts lie below it ("/" or a
    /// parent of a mount point): the names directly under it.
    Virtual(Vec<Vec<u8>>),
    Missing,
}

impl Policy {
    pub fn new(specs: &[MountSpec], tmpfs: &[Vec<u8>]) -> Result<Self, PolicyError> {
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
            p.mounts.push(Mount {
                guest: spec.guest.clone(),
                root,
                writable: spec.writable,
            });
        }
        for guest in tmpfs {
            let dir = std::env::temp_dir().join(format!(
                "kvmcage-tmpfs-{}-{}",
                std::process::id(),
                p.temp_dirs.len()
            ));
            std::fs::create_dir(&dir).map_err(PolicyError::Tmp)?;
            p.temp_dirs.push(dir.clone());
            let root = rustix::fs::open(
                &dir,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|source| PolicyError::Open {
                path: dir.clone(),
                source,
            })?;
            p.mounts.push(Mount {
                guest: normalize(b"/", guest),
                root,
                writable: true,
            });
        }
        // Longest guest path first: the deepest mount wins.
        p.mounts.sort_by_key(|m| std::cmp::Reverse(m.guest.len()));
        Ok(p)
    }

    /// Find what a normalised absolute guest path refers to.
    pub fn lookup(&self, path: &[u8]) -> Lookup<'_> {
        for m in &self.mounts {
            if let Some(skip) = under(path, &m.guest) {
                let rel = &path[skip.min(path.len())..];
                let rel = if rel.is_empty() {
                    b".".to_vec()
                } else {
                    rel.to_vec()
                };
                return Lookup::Mount(m, rel);
            }
        }
        // A parent of some mount point, or the root itself.
        let mut names: Vec<Vec<u8>> = Vec::new();
        for m in &self.mounts {
            if let Some(skip) = under(&m.guest, path) {
                if let Some(next) = m.guest[skip..].split(|&b| b == b'/').next() {
                    if !next.is_empty() && !names.iter().any(|n| n == next) {
                        names.push(next.to_vec());
                    }
                }
            }
        }
        if path == b"/" || !names.is_empty() {
            Lookup::Virtual(names)
        } else {
            Lookup::Missing
        }
    }
}

impl Mount {
    /// Open `rel` inside this mount. `flags` must already be masked to the
    /// allowed set; O_CLOEXEC is always added.
    pub fn open(&self, rel: &[u8], flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
        let path = Path::new(std::ffi::OsStr::from_bytes(rel));
        rustix::fs::openat2(
            self.root.as_fd(),
            path,
            flags | OFlags::CLOEXEC,
            mode,
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// The directory holding `rel`'s last component, and that component
    /// (for mkdir, unlink, rename, link, symlink, readlink, lstat: calls
    /// that must not follow the last component).
    pub fn parent(&self, rel: &[u8]) -> Result<(OwnedFd, Vec<u8>), Errno> {
        let (dir, name) = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&b"."[..], rel),
        };
        if name.is_empty() || name == b"." || name == b".." {
            return Err(Errno::BUSY);
        }
        let fd = self.open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((fd, name.to_vec()))
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

    #[test]
    fn lookup_picks_the_deepest_mount_and_lists_virtual_parents() {
        let dir = std::env::temp_dir();
        let specs = [
            MountSpec {
                host: dir.clone(),
                guest: b"/a".to_vec(),
                writable: false,
            },
            MountSpec {
                host: dir.clone(),
                guest: b"/a/b/c".to_vec(),
                writable: true,
            },
            MountSpec {
                host: dir,
                guest: b"/x/y".to_vec(),
                writable: false,
            },
        ];
        let p = Policy::new(&specs, &[]).unwrap();
        match p.lookup(b"/a/b/c/d") {
            Lookup::Mount(m, rel) => assert_eq!((m.writable, rel.as_slice()), (true, &b"d"[..])),
            _ => panic!("expected the deepest mount"),
        }
        match p.lookup(b"/a/b") {
            Lookup::Mount(m, rel) => assert_eq!((m.writable, rel.as_slice()), (false, &b"b"[..])),
            _ => panic!(),
        }
        match p.lookup(b"/") {
            Lookup::Virtual(mut n) => {
                n.sort();
                assert_eq!(n, vec![b"a".to_vec(), b"x".to_vec()]);
            }
            _ => panic!(),
        }
        assert!(matches!(p.lookup(b"/x"), Lookup::Virtual(_)));
        assert!(matches!(p.lookup(b"/etc"), Lookup::Missing));
        assert!(matches!(p.lookup(b"/ab"), Lookup::Missing));
    }
}
