//! The program's memory as the host reaches it, below `kernel/` and
//! `loader/` (PROCESSES.md's module layout): `uaccess`, the one gate
//! through which the host follows a guest pointer. It depends on `vm`
//! (guest RAM, the frame pool, page tables, shared slots) and on nothing
//! of the kernel's.

pub mod uaccess;
