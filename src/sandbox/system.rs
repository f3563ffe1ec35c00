//! The view of a system the program gets unless told otherwise: the
//! host's programs and libraries read-only, an `/etc` that holds only what
//! programs need to start, and a private `/tmp`; or a root directory the
//! user gives (`--rootfs`); or nothing but the mounts (`--no-system`).
//!
//! The default view is a small skeleton directory made for the run and
//! mounted read-only at `/`: the host's merged-usr symlinks (`/bin ->
//! usr/bin`), an `etc/` written here, and an empty directory for each
//! mount point, so `ls /` shows them. `/usr` and the host's real `/bin`,
//! `/lib64`... directories are read-only mounts on top of it; symlinks
//! between them resolve by guest path ([`super::namei`]).

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{MountSpec, PolicyError, TmpfsSpec};

/// What the program sees of a system besides the mounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// The host's `/usr`, `/bin`, `/sbin`, `/lib*` read-only, a minimal
    /// `/etc` (see [`ETC_COPIED`]), a private `/tmp`.
    #[default]
    System,
    /// A host directory (an exported container image, a debootstrap tree)
    /// as `/`, read-only unless `writable`, and a private `/tmp`.
    Rootfs {
        /// The directory.
        dir: PathBuf,
        /// `--rootfs DIR:rw`.
        writable: bool,
    },
    /// Only the mounts and --tmpfs directories (`--no-system`).
    Empty,
}

impl View {
    /// Parse `--rootfs DIR[:ro|:rw]`.
    pub fn rootfs(spec: &str) -> Result<Self, PolicyError> {
        let (dir, writable) = match spec.rsplit_once(':') {
            Some((d, "rw")) => (d, true),
            Some((d, "ro")) => (d, false),
            _ => (spec, false),
        };
        if dir.is_empty() {
            return Err(PolicyError::BadMount(spec.into(), "empty directory".into()));
        }
        Ok(View::Rootfs {
            dir: dir.into(),
            writable,
        })
    }

    /// Whether the program gets a system (PATH, HOME, /tmp).
    pub fn is_system(&self) -> bool {
        !matches!(self, View::Empty)
    }
}

/// The host's top-level directories of programs and libraries, shown
/// read-only in the default view (those that exist; a symlink such as
/// merged-usr's `/bin -> usr/bin` is shown as the same symlink).
pub const SYSTEM_DIRS: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Host `/etc` files copied into the default view's `/etc` (when the host
/// has them; a symlink is copied as a symlink). Nothing secret: no
/// shadow, sudoers, ssh keys, machine-id.
pub const ETC_COPIED: [&str; 10] = [
    "ld.so.cache",
    "ld.so.conf",
    "localtime",
    "timezone",
    "os-release",
    "debian_version",
    "nsswitch.conf",
    "protocols",
    "services",
    "shells",
];

/// Host `/etc` directories shown read-only in the default view: the
/// dynamic loader's configuration and the alternatives' symlinks
/// (`awk -> /usr/bin/mawk`).
pub const ETC_MOUNTED: [&str; 2] = ["ld.so.conf.d", "alternatives"];

/// Files of the default view's `/etc` written by kvmcage.
pub const ETC_MADE: [&str; 5] = ["passwd", "group", "hosts", "resolv.conf", "hostname"];

/// Who the program is, for the default view's `/etc`.
#[derive(Clone, Debug)]
pub struct Identity<'a> {
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// uname's nodename.
    pub hostname: &'a [u8],
}

/// The mounts and --tmpfs directories of a run: the view's own first, the
/// user's on top (a later mount at the same place wins), and the skeleton
/// directory to remove after the run.
pub struct Plan {
    /// Mounts, view first.
    pub mounts: Vec<MountSpec>,
    /// --tmpfs directories, view first.
    pub tmpfs: Vec<TmpfsSpec>,
    /// The default view's skeleton (its root is mounted at `/`).
    pub skeleton: Option<tempfile::TempDir>,
}

/// Lay out `view` under the user's `mounts` and `tmpfs`; `tmp_size` caps
/// the private `/tmp`.
pub fn plan(
    view: &View,
    mounts: &[MountSpec],
    tmpfs: &[TmpfsSpec],
    who: &Identity<'_>,
    tmp_size: u64,
) -> Result<Plan, PolicyError> {
    let mut plan = Plan {
        mounts: Vec::new(),
        tmpfs: Vec::new(),
        skeleton: None,
    };
    let user_has = |guest: &[u8]| {
        mounts.iter().any(|m| m.guest == guest) || tmpfs.iter().any(|t| t.guest == guest)
    };
    match view {
        View::Empty => {}
        View::Rootfs { dir, writable } => {
            if !dir.is_dir() {
                return Err(PolicyError::BadMount(
                    dir.display().to_string(),
                    "--rootfs needs a directory".into(),
                ));
            }
            plan.mounts.push(MountSpec {
                host: dir.clone(),
                guest: b"/".to_vec(),
                writable: *writable,
            });
        }
        View::System => {
            let (skel, root) = skeleton(mounts, tmpfs, who).map_err(PolicyError::Tmp)?;
            plan.mounts.push(MountSpec {
                host: root,
                guest: b"/".to_vec(),
                writable: false,
            });
            // The host's real directories among them, at the same paths.
            let dirs = SYSTEM_DIRS.iter().map(|d| format!("/{d}"));
            let etc = ETC_MOUNTED.iter().map(|d| format!("/etc/{d}"));
            for path in dirs.chain(etc) {
                if is_real_dir(Path::new(&path)) {
                    plan.mounts.push(MountSpec {
                        host: PathBuf::from(&path),
                        guest: path.into_bytes(),
                        writable: false,
                    });
                }
            }
            plan.skeleton = Some(skel);
        }
    }
    if view.is_system() && !user_has(b"/tmp") {
        plan.tmpfs.push(TmpfsSpec {
            guest: b"/tmp".to_vec(),
            size: tmp_size,
        });
    }
    plan.mounts.extend_from_slice(mounts);
    plan.tmpfs.extend_from_slice(tmpfs);
    Ok(plan)
}

fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Make the default view's root (see the module comment): the private
/// directory and the root inside it.
fn skeleton(
    mounts: &[MountSpec],
    tmpfs: &[TmpfsSpec],
    who: &Identity<'_>,
) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    use std::os::unix::fs::{symlink, PermissionsExt};
    // In memory when /dev/shm is there: making some 50 small files costs
    // ~2 ms on an ext4 TMPDIR and ~0.4 ms on tmpfs (measured here).
    let shm = Path::new("/dev/shm");
    let in_memory = rustix::fs::access(
        shm,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_ok()
        && rustix::fs::statfs(shm).is_ok_and(|s| s.f_type == libc::TMPFS_MAGIC);
    let (skel, root_dir) = super::private_dir("kvmcage-root-", 0o755, in_memory.then_some(shm))?;
    let root = root_dir.as_path();
    for d in ["dev", "proc", "tmp", "etc"] {
        std::fs::create_dir(root.join(d))?;
    }
    for d in SYSTEM_DIRS {
        let host = Path::new("/").join(d);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                symlink(std::fs::read_link(&host)?, root.join(d))?
            }
            Ok(m) if m.is_dir() => std::fs::create_dir(root.join(d))?,
            _ => {}
        }
    }
    let etc = root.join("etc");
    for name in ETC_COPIED {
        let host = Path::new("/etc").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                symlink(std::fs::read_link(&host)?, etc.join(name))?;
            }
            // Bounded: these are small text files and the loader's cache.
            Ok(m) if m.is_file() && m.len() <= 16 << 20 => {
                std::fs::copy(&host, etc.join(name))?;
            }
            _ => {}
        }
    }
    for d in ETC_MOUNTED {
        if is_real_dir(&Path::new("/etc").join(d)) {
            std::fs::create_dir(etc.join(d))?;
        }
    }
    let write = |name: &str, text: &[u8]| -> std::io::Result<()> {
        let mut f = std::fs::File::create(etc.join(name))?;
        f.write_all(text)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))
    };
    let (passwd, group) = accounts(who.uid, who.gid);
    write("passwd", passwd.as_bytes())?;
    write("group", group.as_bytes())?;
    let mut hosts = b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_vec();
    let mut hostname = who.hostname.to_vec();
    if !hostname.is_empty() {
        hosts.extend_from_slice(b"127.0.1.1\t");
        hosts.extend_from_slice(who.hostname);
        hosts.push(b'\n');
        hostname.push(b'\n');
    }
    write("hosts", &hosts)?;
    write("resolv.conf", b"")?;
    write("hostname", &hostname)?;
    // A directory for each mount point the skeleton holds, so that a
    // listing of its parent shows it.
    let points = mounts
        .iter()
        .map(|m| &m.guest)
        .chain(tmpfs.iter().map(|t| &t.guest));
    for g in points {
        let rel = Path::new(std::ffi::OsStr::from_bytes(
            g.strip_prefix(b"/").unwrap_or(g),
        ));
        let first = rel.components().next();
        let inside_skeleton = first.is_some_and(|c| {
            let c = c.as_os_str().to_str().unwrap_or("");
            !SYSTEM_DIRS.contains(&c) && !super::namei::is_special(format!("/{c}").as_bytes())
        });
        if inside_skeleton {
            // Below an etc/ of kvmcage's own or a new name: make it.
            std::fs::create_dir_all(root.join(rel))?;
        }
    }
    Ok((skel, root_dir))
}

/// `/etc/passwd` and `/etc/group`: root, the program's user, nobody.
fn accounts(uid: u32, gid: u32) -> (String, String) {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/sh\n");
    let mut group = String::from("root:x:0:\n");
    if gid != 0 && gid != 65534 {
        group.push_str(&format!("user:x:{gid}:\n"));
    }
    if uid != 0 && uid != 65534 {
        passwd.push_str(&format!("user:x:{uid}:{gid}:kvmcage user:/tmp:/bin/sh\n"));
    }
    passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    group.push_str("nogroup:x:65534:\n");
    (passwd, group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_spec() {
        assert_eq!(
            View::rootfs("/srv/img:rw").unwrap(),
            View::Rootfs {
                dir: "/srv/img".into(),
                writable: true
            }
        );
        assert_eq!(
            View::rootfs("/srv/img").unwrap(),
            View::Rootfs {
                dir: "/srv/img".into(),
                writable: false
            }
        );
        assert!(View::rootfs(":rw").is_err());
    }

    #[test]
    fn accounts_name_the_user_once() {
        let (p, g) = accounts(1000, 1000);
        assert!(p.contains("user:x:1000:1000:"));
        assert!(g.contains("user:x:1000:"));
        let (p, g) = accounts(0, 0);
        assert_eq!(p.lines().count(), 2);
        assert_eq!(g.lines().count(), 2);
    }

    #[test]
    fn default_view_holds_no_secret() {
        let who = Identity {
            uid: 1000,
            gid: 1000,
            hostname: b"box",
        };
        let p = plan(&View::System, &[], &[], &who, 1 << 20).unwrap();
        let skel = p.mounts[0].host.as_path();
        for secret in ["shadow", "gshadow", "sudoers", "ssh", "machine-id"] {
            assert!(!skel.join("etc").join(secret).exists(), "{secret}");
        }
        assert!(skel.join("etc/passwd").is_file());
        assert!(p.tmpfs.iter().any(|t| t.guest == b"/tmp"));
        assert!(p.mounts.iter().all(|m| !m.writable));
        assert!(p.mounts.iter().all(|m| !m.host.starts_with("/etc")
            || ETC_MOUNTED
                .iter()
                .any(|d| m.host == Path::new("/etc").join(d))));
    }
}
