//! Shared memory: guest pages that are a host object's pages.
//!
//! A `MAP_SHARED` mapping the program makes (of a file in a writable mount,
//! of a memfd, of anonymous or /dev/zero memory, a SysV segment) is a host
//! `MAP_SHARED` mapping of a host descriptor, registered with KVM as a
//! memory slot of its own at a guest-physical range above RAM. The
//! program's page-table entries point into that range, so its loads and
//! stores reach the host's page cache: `read`/`write` of the file see them
//! at once, two mappings of one file alias, and nothing is copied back at
//! msync, munmap or exit.
//!
//! The host never touches a slot's memory through its mapping (a file
//! truncated under it would be SIGBUS in kvmcage): uaccess reads and writes
//! a slot page with pread/pwrite on the slot's descriptor, which are short
//! past the end of the file (EFAULT for the program, as Linux). Pages past
//! the end of the file get no page-table entry, so the program's access is
//! a page fault that kvmcage turns into SIGBUS.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use rustix::io::Errno;

use super::layout::{Gpa, PAGE_SIZE};

/// Slots one sandbox may hold (KVM allows 32,764 on current kernels; each
/// costs KVM a memslot and kvmcage a descriptor).
pub const MAX_SLOTS: usize = 4096;

/// One host mapping registered as a KVM memory slot.
#[derive(Debug)]
pub struct Slot {
    pub gpa: Gpa,
    pub len: u64,
    /// The host mapping's address (never dereferenced by kvmcage).
    host: usize,
    /// The descriptor it maps (kvmcage's own duplicate).
    pub fd: OwnedFd,
    /// Where in the file the slot starts.
    pub file_off: u64,
    /// Mapped read-write on the host (the descriptor was opened for
    /// writing); otherwise read-only.
    pub writable: bool,
    /// Frames of the pool counted for it (memory only the slot holds: a
    /// memfd of kvmcage's own), given back when it goes.
    pub charge: u64,
    /// Address spaces that map it (a fork's child maps its parent's).
    users: u32,
    kvm_slot: u32,
}

impl Slot {
    /// Offset in the file of the slot page at `gpa`.
    pub fn file_offset(&self, gpa: Gpa) -> u64 {
        self.file_off + (gpa - self.gpa)
    }
}

/// The slots of one machine.
#[derive(Debug)]
pub struct SharedSlots {
    slots: BTreeMap<Gpa, Slot>,
    /// Guest-physical range slots are placed in.
    base: Gpa,
    limit: Gpa,
    /// KVM slot numbers free for reuse (0 is RAM).
    free_ids: Vec<u32>,
    next_id: u32,
    /// The host address range reserved for the slots' mappings (the slot
    /// at `gpa` is mapped at `window + (gpa - base)`), so that seccomp can
    /// let the MMU-notifier toggle add PROT_EXEC there and nowhere else;
    /// None if it could not be reserved (the kernel then places each).
    window: Option<usize>,
    /// Guest-physical ranges whose part of the window could not be put
    /// back to the reservation: never given to a slot again.
    lost: BTreeMap<Gpa, u64>,
}

/// At most this much guest-physical (and reserved host) space for shared
/// mappings at once.
const WINDOW_BYTES: u64 = 1 << 40;

impl SharedSlots {
    /// Slots in `[base, limit)`: above RAM, below the guest's physical
    /// address width.
    pub fn new(base: Gpa, limit: Gpa) -> Self {
        let limit = limit.min(base.saturating_add(WINDOW_BYTES));
        let len = (limit - base) as usize;
        // SAFETY: a new private reservation (no access, no memory) at an
        // address the kernel picks; slots are mapped over parts of it with
        // MAP_FIXED and put back to this state when they go (`unmap`); the
        // whole is unmapped in Drop.
        let window = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        Self {
            slots: BTreeMap::new(),
            base,
            limit,
            free_ids: Vec::new(),
            next_id: 1,
            window: (window != libc::MAP_FAILED && len > 0).then_some(window as usize),
            lost: BTreeMap::new(),
        }
    }

    /// The host range reserved for the slots' mappings (address, length).
    pub fn host_window(&self) -> Option<(u64, u64)> {
        self.window.map(|w| (w as u64, self.limit - self.base))
    }

    /// The slot holding `gpa`.
    pub fn find(&self, gpa: Gpa) -> Option<&Slot> {
        let (_, s) = self.slots.range(..=gpa).next_back()?;
        (gpa < s.gpa + s.len).then_some(s)
    }

    pub fn find_mut(&mut self, gpa: Gpa) -> Option<&mut Slot> {
        let (_, s) = self.slots.range_mut(..=gpa).next_back()?;
        (gpa < s.gpa + s.len).then_some(s)
    }

    pub fn contains(&self, gpa: Gpa) -> bool {
        self.find(gpa).is_some()
    }

    /// The lowest free guest-physical range of `len` bytes.
    fn place(&self, len: u64) -> Option<Gpa> {
        let mut taken: Vec<(Gpa, u64)> = self.slots.values().map(|s| (s.gpa, s.len)).collect();
        taken.extend(self.lost.iter().map(|(&g, &l)| (g, l)));
        taken.sort_unstable();
        let mut at = self.base;
        for (gpa, n) in taken {
            if gpa >= at && gpa - at >= len {
                break;
            }
            at = at.max(gpa + n);
        }
        (at.checked_add(len)? <= self.limit).then_some(at)
    }

    /// Map `[file_off, file_off+len)` of `fd` shared on the host and give
    /// it to the guest at a new guest-physical range; its base.
    pub fn add(
        &mut self,
        vm: Option<&VmFd>,
        fd: BorrowedFd<'_>,
        file_off: u64,
        len: u64,
        writable: bool,
    ) -> Result<Gpa, Errno> {
        if len == 0 || len % PAGE_SIZE != 0 || self.slots.len() >= MAX_SLOTS {
            return Err(Errno::NOMEM);
        }
        let gpa = self.place(len).ok_or(Errno::NOMEM)?;
        let fd = rustix::io::fcntl_dupfd_cloexec(fd, 0)?;
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // In the reserved window (free there: `place` found the guest
        // range free, and the host range mirrors it), or where the kernel
        // picks.
        let (at, fixed) = match self.window {
            Some(w) => (w + (gpa - self.base) as usize, libc::MAP_FIXED),
            None => (0, 0),
        };
        // SAFETY: a new mapping of a descriptor we own, either where the
        // kernel picks or over a part of our own reservation that no slot
        // uses (MAP_FIXED replaces only that PROT_NONE reservation);
        // nothing else refers to it until it is registered below, and it
        // goes only in `remove` (or drop), after KVM has let go of it.
        let host = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                len as usize,
                prot,
                libc::MAP_SHARED | fixed,
                fd.as_raw_fd(),
                file_off as libc::off_t,
            )
        };
        if host == libc::MAP_FAILED {
            let e = Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::NOMEM);
            // A failed MAP_FIXED may have taken the reservation away
            // already: put it back, so nothing of the host lands there.
            if fixed != 0 {
                self.release_host(gpa, at, len);
            }
            return Err(e);
        }
        let kvm_slot = self.free_ids.pop().unwrap_or_else(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        let slot = Slot {
            gpa,
            len,
            host: host as usize,
            fd,
            file_off,
            writable,
            charge: 0,
            users: 1,
            kvm_slot,
        };
        if let Some(vm) = vm {
            if let Err(e) = register(vm, &slot, len) {
                self.free_ids.push(kvm_slot);
                self.release_host(slot.gpa, slot.host, slot.len);
                return Err(e);
            }
        }
        self.slots.insert(gpa, slot);
        Ok(gpa)
    }

    /// One more address space maps the slot at `gpa` (fork).
    pub fn share(&mut self, gpa: Gpa) {
        if let Some(s) = self.slots.get_mut(&gpa) {
            s.users = s.users.saturating_add(1);
        }
    }

    /// An address space no longer maps the slot at `gpa`: the last one
    /// takes it from the guest and unmaps it. The frames it had charged
    /// (0 while others still map it).
    pub fn remove(&mut self, vm: Option<&VmFd>, gpa: Gpa) -> u64 {
        match self.slots.get_mut(&gpa) {
            Some(s) if s.users > 1 => {
                s.users -= 1;
                return 0;
            }
            _ => {}
        }
        let Some(slot) = self.slots.remove(&gpa) else {
            return 0;
        };
        let charge = slot.charge;
        if let Some(vm) = vm {
            if let Err(e) = register(vm, &slot, 0) {
                // KVM may still reach the pages: keep the mapping alive,
                // and its range taken (no later slot goes over it).
                log::warn!("cannot remove KVM slot {}: {e}", slot.kvm_slot);
                self.slots.insert(gpa, Slot { users: 0, ..slot });
                return charge;
            }
        }
        self.free_ids.push(slot.kvm_slot);
        self.release_host(slot.gpa, slot.host, slot.len);
        charge
    }

    /// Copy from the slot page(s) at `gpa` into `buf`; false when the file
    /// ends first.
    pub fn read(&self, gpa: Gpa, buf: &mut [u8]) -> bool {
        let Some(s) = self.find(gpa) else {
            return false;
        };
        if gpa + buf.len() as u64 > s.gpa + s.len {
            return false;
        }
        let want = buf.len();
        rustix::io::pread(&s.fd, buf, s.file_offset(gpa)).is_ok_and(|n| n == want)
    }

    /// Copy `buf` to the slot page(s) at `gpa`, never past the end of the
    /// file; false when it ends first.
    pub fn write(&self, gpa: Gpa, buf: &[u8]) -> bool {
        let Some(s) = self.find(gpa) else {
            return false;
        };
        if !s.writable || gpa + buf.len() as u64 > s.gpa + s.len {
            return false;
        }
        let off = s.file_offset(gpa);
        let size = rustix::fs::fstat(&s.fd).map_or(0, |st| st.st_size as u64);
        if off + buf.len() as u64 > size {
            return false;
        }
        rustix::io::pwrite(&s.fd, buf, off).is_ok_and(|n| n == buf.len())
    }

    /// Make KVM forget its translations to `[gpa, gpa+len)` of a slot (a
    /// protection round trip on the host mapping fires the MMU notifier),
    /// as `GuestRam::drop_cached_translations` does for RAM: in the
    /// reserved window the round trip adds PROT_EXEC and takes it away,
    /// never refusing a vCPU that writes the range meanwhile (its KVM_RUN
    /// would fail with EFAULT); outside it (no window), PROT_NONE.
    pub fn drop_cached_translations(&self, gpa: Gpa, len: u64) -> bool {
        let Some(s) = self.find(gpa) else {
            return false;
        };
        if gpa + len > s.gpa + s.len {
            return false;
        }
        let host = s.host + (gpa - s.gpa) as usize;
        let prot = if s.writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let (toggle, end) = match self.host_window() {
            Some((w, wlen)) => (prot | libc::PROT_EXEC, w + wlen),
            None => (libc::PROT_NONE, host as u64 + len),
        };
        crate::vm::memory::toggle_pieces(host as u64, len, end).all(|(at, n)| {
            // SAFETY: [at, at+n) lies inside the slot's own mapping
            // (checked above), which kvmcage never dereferences (nor jumps
            // into); the second call restores the mapping's protection.
            unsafe {
                libc::mprotect(at as *mut libc::c_void, n as usize, toggle) == 0
                    && libc::mprotect(at as *mut libc::c_void, n as usize, prot) == 0
            }
        })
    }

    /// `drop_cached_translations` for a run of frames that may cross from
    /// one slot into the next (each slot is its own host mapping).
    pub fn drop_cached_span(&self, gpa: Gpa, len: u64) -> bool {
        let end = gpa.saturating_add(len);
        let mut at = gpa;
        while at < end {
            let Some(s) = self.find(at) else {
                return false;
            };
            let piece_end = end.min(s.gpa + s.len);
            if !self.drop_cached_translations(at, piece_end - at) {
                return false;
            }
            at = piece_end;
        }
        true
    }

    /// Does the host hold the slot page at `gpa` in memory (mincore)?
    pub fn resident(&self, gpa: Gpa) -> bool {
        let Some(s) = self.find(gpa) else {
            return false;
        };
        let host = s.host + (gpa - s.gpa) as usize;
        let mut v = 0u8;
        // SAFETY: one page inside the slot's mapping; mincore writes one
        // byte to `v` and reads nothing of the page.
        let rc = unsafe { libc::mincore(host as *mut libc::c_void, PAGE_SIZE as usize, &mut v) };
        rc == 0 && v & 1 != 0
    }

    /// msync of `[gpa, gpa+len)` of a slot.
    pub fn sync(&self, gpa: Gpa, len: u64, flags: i32) -> Result<(), Errno> {
        let Some(s) = self.find(gpa) else {
            return Ok(());
        };
        let len = len.min(s.gpa + s.len - gpa);
        let host = s.host + (gpa - s.gpa) as usize;
        // SAFETY: a range inside the slot's mapping; msync reads no user
        // memory of ours.
        let rc = unsafe { libc::msync(host as *mut libc::c_void, len as usize, flags) };
        if rc < 0 {
            return Err(
                Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL)
            );
        }
        Ok(())
    }

    /// The descriptor's identity, for telling which slots map one file.
    pub fn inode(&self, gpa: Gpa) -> Option<(u64, u64)> {
        let s = self.find(gpa)?;
        let st = rustix::fs::fstat(s.fd.as_fd()).ok()?;
        Some((st.st_dev, st.st_ino))
    }
}

/// KVM_SET_USER_MEMORY_REGION for `slot` with `size` (0 deletes it).
fn register(vm: &VmFd, slot: &Slot, size: u64) -> Result<(), Errno> {
    let region = kvm_userspace_memory_region {
        slot: slot.kvm_slot,
        flags: 0,
        guest_phys_addr: slot.gpa,
        memory_size: size,
        userspace_addr: slot.host as u64,
    };
    // SAFETY: the region is the slot's own host mapping of `slot.len`
    // bytes, which stays mapped until the slot is deleted from KVM
    // (`SharedSlots::remove`), and the VM is dropped before the slots
    // (Machine's field order).
    unsafe { vm.set_user_memory_region(region) }.map_err(|e| Errno::from_raw_os_error(e.errno()))
}

impl SharedSlots {
    /// A slot's host mapping at `host` (guest-physical `gpa`, `len`
    /// bytes) goes: back to the reservation in the window (a range that
    /// cannot be is never used again), unmapped outside it.
    fn release_host(&mut self, gpa: Gpa, host: usize, len: u64) {
        let (ptr, n) = (host as *mut libc::c_void, len as usize);
        if self.window.is_some() {
            // SAFETY: the slot's own range inside our reservation, no
            // longer registered with KVM and never dereferenced by
            // kvmcage: replaced by the reservation's PROT_NONE again.
            let back = unsafe {
                libc::mmap(
                    ptr,
                    n,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if back == libc::MAP_FAILED {
                log::warn!("cannot reserve the shared window at GPA {gpa:#x} again");
                self.lost.insert(gpa, len);
            }
        } else {
            // SAFETY: the slot's own mapping, no longer registered with
            // KVM and never dereferenced by kvmcage.
            unsafe { libc::munmap(ptr, n) };
        }
    }
}

impl Drop for SharedSlots {
    fn drop(&mut self) {
        // The VM (dropped first, Machine's field order) held the slots;
        // their mappings go with the window, or one by one.
        match self.window {
            // SAFETY: our own reservation and the slot mappings inside it,
            // none registered with KVM any more, none dereferenced.
            Some(w) => unsafe {
                libc::munmap(w as *mut libc::c_void, (self.limit - self.base) as usize);
            },
            None => {
                for s in self.slots.values() {
                    // SAFETY: each slot's own mapping, no longer
                    // registered with KVM (the VM is gone) and never
                    // dereferenced by kvmcage.
                    unsafe { libc::munmap(s.host as *mut libc::c_void, s.len as usize) };
                }
            }
        }
    }
}
