#!/usr/bin/env bash
# Build a selection of the Linux kernel's single-process self-tests
# (tools/testing/selftests in linux-source-6.12) as static x86-64 programs
# into target/selftests/bin/NAME, for tests/selftests.rs, which runs each
# natively and under kvmcage. tests/selftests.rs says which tests are
# selected and why (and why the others are not).
#
# Sources come from Debian's linux-source-6.12 (scripts/setup.sh installs
# it): only the selftest directories built here, the few kernel files they
# include, and the UAPI headers are extracted, into target/selftests/src/.
# The UAPI headers are installed from that same tree into
# target/selftests/usr/include the way `make headers_install` does (the
# selftest Makefiles' KHDR_INCLUDES): the system's linux-libc-dev (6.1 on
# Debian 12) lacks what several tests use (mseal, fchmodat2, cachestat,
# PAGEMAP_SCAN, MEMBARRIER_CMD_GET_REGISTRATIONS, ...).
# Each program is built with its Makefile's flags plus -static (glibc).
# The test sources are not changed.
# Idempotent: extraction, headers and each build are skipped when already
# done. A test that cannot be built is reported on stderr and left out (no
# binary); tests/selftests.rs then skips it. Exit status 1 only when the
# sources cannot be extracted.
set -euo pipefail
cd "$(dirname "$0")/.."
self=scripts/selftests.sh

tarball=/usr/src/linux-source-6.12.tar.xz
top=linux-source-6.12
out=target/selftests
src=$out/src
bin=$out/bin
hdr=$out/usr/include
st=tools/testing/selftests

[ -r "$tarball" ] || {
    echo "selftests: $tarball not found; run scripts/setup.sh (installs linux-source-6.12)" >&2
    exit 1
}

# What is extracted: the selftest directories built below, the shared
# kselftest.h, and what their sources include from outside them.
dirs=(openat2 timers mm x86 vDSO futex prctl sigaltstack rseq membarrier
    proc fchmodat2 cachestat exec core clone3)
paths=("$st/kselftest.h" "$st/kselftest_harness.h")
for d in "${dirs[@]}"; do paths+=("$st/$d"); done
paths+=(
    include/uapi                        # UAPI headers
    arch/x86/include/uapi               # x86 UAPI headers
    arch/x86/entry/syscalls/syscall_64.tbl # for asm/unistd_64.h
    arch/x86/include/asm/desc_defs.h    # x86/sigreturn.c
    tools/include                       # proc (tools/include/uapi), rseq
    tools/arch/x86/include              # tools/include/uapi/asm/errno.h
)

# 1. Extract (again only when the tarball or this list changed).
stamp=$src/.extracted
want="$(stat -c '%s %Y' "$tarball") ${paths[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "selftests: extracting the selected selftests from $tarball" >&2
    rm -rf "$src" "$hdr"
    mkdir -p "$src"
    tar -xJf "$tarball" -C "$src" --strip-components=1 "${paths[@]/#/$top/}"
    echo "$want" >"$stamp"
fi

# 2. Install the UAPI headers as scripts/headers_install.sh does: the same
# sed (its unifdef -U__KERNEL__ step is left to the preprocessor: nothing
# defines __KERNEL__), asm-generic wrappers for the mandatory asm headers
# x86 does not have, and asm/unistd_64.h from syscall_64.tbl as
# scripts/syscallhdr.sh writes it.
if [ ! -f "$hdr/.installed" ] || [ "$hdr/.installed" -ot "$stamp" ] ||
    [ "$hdr/.installed" -ot "$self" ]; then
    echo "selftests: installing the 6.12 UAPI headers into $hdr" >&2
    rm -rf "$hdr" "$hdr.tmp"
    mkdir -p "$hdr.tmp/asm"
    cp -r "$src/include/uapi/." "$hdr.tmp/"
    cp -r "$src/arch/x86/include/uapi/asm/." "$hdr.tmp/asm/"
    find "$hdr.tmp" -name Kbuild -delete
    find "$hdr.tmp" -name '*.h' -exec sed -E -i -e '
        s/([[:space:](])(__user|__force|__iomem)[[:space:]]/\1/g
        s/__attribute_const__([[:space:]]|$)/\1/g
        s@^#include <linux/compiler(|_types).h>@@
        s/(^|[^a-zA-Z0-9])__packed([^a-zA-Z0-9_]|$)/\1__attribute__((packed))\2/g
        s/(^|[[:space:](])(inline|asm|volatile)([[:space:](]|$)/\1__\2__\3/g
        s@#(ifndef|define|endif[[:space:]]*/[*])[[:space:]]*_UAPI@#\1 @
    ' {} +
    sed -n 's/^mandatory-y += //p' "$src/include/uapi/asm-generic/Kbuild" |
        while read -r h; do
            [ -e "$hdr.tmp/asm/$h" ] || echo "#include <asm-generic/$h>" >"$hdr.tmp/asm/$h"
        done
    {
        echo "#ifndef _ASM_UNISTD_64_H"
        echo "#define _ASM_UNISTD_64_H 1"
        echo
        awk '$1 ~ /^[0-9]+$/ && ($2 == "common" || $2 == "64") {
            printf "#define __NR_%s %s\n", $3, $1 }' \
            "$src/arch/x86/entry/syscalls/syscall_64.tbl"
        echo
        echo "#endif /* _ASM_UNISTD_64_H */"
    } >"$hdr.tmp/asm/unistd_64.h"
    mv "$hdr.tmp" "$hdr"
    touch "$hdr/.installed"
fi

mkdir -p "$bin"
built=()
failed=()
fresh=0

# build NAME DIR SOURCES... [-- FLAGS...]: compile $src/$st/DIR/SOURCES
# (relative to DIR) to $bin/NAME with the common flags and FLAGS, unless it
# is newer than the headers and this script; written atomically. The
# common flags are lib.mk's (-D_GNU_SOURCE=, KHDR_INCLUDES), -static, -O2,
# -w (the sources' warnings are not ours) and the selftest Makefiles' usual
# libraries (-lrt -lpthread -lm; linked only where used).
build() {
    local name=$1 dir=$src/$st/$2
    shift 2
    local srcs=() flags=()
    while (($#)) && [ "$1" != "--" ]; do srcs+=("$dir/$1"); shift; done
    (($#)) && shift && flags=("$@")
    local dst=$bin/$name
    if [ -x "$dst" ] && [ "$dst" -nt "$hdr/.installed" ] && [ "$dst" -nt "$self" ]; then
        built+=("$name")
        return 0
    fi
    rm -f "$dst"
    local link=-static
    [[ " ${flags[*]} " == *" -static-pie "* ]] && link=-static-pie
    if gcc $link -O2 -w -D_GNU_SOURCE= -isystem "$hdr" -I "$dir" "${flags[@]}" \
        -o "$dst.tmp" "${srcs[@]}" -lrt -lpthread -lm 2>"$out/build-$name.log"; then
        mv "$dst.tmp" "$dst"
        rm -f "$out/build-$name.log"
        built+=("$name")
        fresh=$((fresh + 1))
    else
        rm -f "$dst.tmp"
        echo "selftests: cannot build $name:" >&2
        grep -m5 'error' "$out/build-$name.log" >&2 || true
        failed+=("$name")
    fi
}

# The selection and the reasons for it are in tests/selftests.rs. Each
# program is named DIR-NAME after its source, DIR/NAME.c.

# openat2: its Makefile adds -fsanitize=address,undefined, which cannot
# link statically; left out.
build openat2-openat2_test openat2 openat2_test.c helpers.c -- -g

# timers: CFLAGS -O3 -Wl,-no-as-needed -Wall.
for t in nanosleep posix_timers mqueue-lat inconsistency-check nsleep-lat set-timer-lat; do
    build "timers-$t" timers "$t.c" -- -O3
done

# mm: CFLAGS -Wall -O2 -I top -U_FORTIFY_SOURCE -no-pie, with vm_util.c
# and thp_settings.c.
for t in mremap_test mremap_dontunmap mlock2-tests on-fault-limit map_fixed_noreplace madv_populate mkdirty mseal_test seal_elf droppable; do
    build "mm-$t" mm "$t.c" vm_util.c thp_settings.c -- -U_FORTIFY_SOURCE -I "$src/$st/.." -no-pie
done

# x86, as its Makefile's 64-bit builds (NAME_64): CFLAGS -O2 -g -std=gnu99
# -pthread -no-pie, -m64.
x86=(-m64 -g -std=gnu99 -pthread -no-pie)
for t in single_step_syscall syscall_nt sigreturn test_vsyscall syscall_arg_fault sigaltstack sigtrap_loop; do
    build "x86-$t" x86 "$t.c" -- "${x86[@]}"
done
build x86-nx_stack x86 nx_stack.c -- "${x86[@]}" -Wl,-z,noexecstack

# vDSO: CFLAGS -std=gnu99 -O2.
for t in vdso_test_gettimeofday vdso_test_getcpu vdso_test_abi; do
    build "vDSO-$t" vDSO "$t.c" parse_vdso.c -- -std=gnu99
done
build vDSO-vdso_test_clock_getres vDSO vdso_test_clock_getres.c -- -std=gnu99
build vDSO-vdso_test_correctness vDSO vdso_test_correctness.c -- -std=gnu99 -ldl
build vDSO-vdso_standalone_test_x86 vDSO vdso_standalone_test_x86.c parse_vdso.c -- -std=gnu99 \
    -nostdlib -fno-asynchronous-unwind-tables -fno-stack-protector

# futex/functional: the single-threaded one; CFLAGS -g -O2 -pthread
# -I../include -I../../ (for kselftest.h).
build futex-futex_wait_wouldblock futex/functional futex_wait_wouldblock.c -- -g -pthread \
    -I "$src/$st/futex/include" -I "$src/$st"
# With threads (issue 15): a waiter thread and a waker.
for t in futex_requeue futex_wait_uninitialized_heap futex_wait_private_mapped_file; do
    build "futex-$t" futex/functional "$t.c" -- -g -pthread \
        -I "$src/$st/futex/include" -I "$src/$st"
done

build prctl-disable-tsc-test prctl disable-tsc-test.c
build sigaltstack-sas sigaltstack sas.c
# rseq: the Makefile links librseq.so (rseq.c); linked in here instead.
build rseq-basic_test rseq basic_test.c rseq.c -- -g -isystem "$src/tools/include"
build membarrier-membarrier_test_single_thread membarrier membarrier_test_single_thread.c -- -g

# proc: CFLAGS -Wall -O2 -Wno-unused-function $(TOOLS_INCLUDES).
for t in fd-001-lookup fd-002-posix-eq proc-self-isnt-kthread proc-self-map-files-001 proc-self-map-files-002 proc-self-syscall proc-self-wchan proc-uptime-001 proc-uptime-002 read self; do
    build "proc-$t" proc "$t.c" -- -isystem "$src/tools/include/uapi"
done

build fchmodat2-fchmodat2_test fchmodat2 fchmodat2_test.c -- -g
build cachestat-test_cachestat cachestat test_cachestat.c
# exec: the Makefile's load_address.static.0x1000 (-fPIE -static-pie,
# max-page-size 0x1000).
build exec-load_address exec load_address.c -- -static-pie -fPIE -Wl,-z,max-page-size=0x1000

# Since processes (issue 16): programs that fork (kselftest_harness.h runs
# each TEST in a child) or exec themselves.
build core-close_range_test core close_range_test.c
build prctl-set-process-name prctl set-process-name.c
build mm-map_populate mm map_populate.c vm_util.c thp_settings.c -- -U_FORTIFY_SOURCE -I "$src/$st/.." -no-pie
for t in recursion-depth null-argv; do
    build "exec-$t" exec "$t.c"
done
build proc-proc-tid0 proc proc-tid0.c -- -isystem "$src/tools/include/uapi"
# A thread made without CLONE_FILES and CLONE_FS; clone3's flag and size
# checks in children; CLONE_CLEAR_SIGHAND.
build proc-thread-self proc thread-self.c -- -isystem "$src/tools/include/uapi"
for t in clone3 clone3_clear_sighand; do
    build "clone3-$t" clone3 "$t.c"
done

if ((fresh)) || ((${#failed[@]})); then
    echo "selftests: ${#built[@]} built ($fresh now), ${#failed[@]} left out${failed:+ (${failed[*]})}" >&2
fi
