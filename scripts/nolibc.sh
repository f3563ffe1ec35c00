#!/usr/bin/env bash
# Build the Linux kernel's syscall self-test, nolibc-test, three ways into
# target/nolibc/ (used by tests/nolibc.rs):
#   target/nolibc/bin/nolibc  against nolibc, with the selftest Makefile's
#                             x86_64 flags (its NOLIBC_SYSROOT=0 form)
#   target/nolibc/bin/glibc   gcc -static, as the Makefile's libc-test target
#   target/nolibc/bin/musl    musl-gcc -static, the same way
# Sources come from Debian's linux-source-6.12 (scripts/setup.sh installs
# it): only tools/include/nolibc and tools/testing/selftests/nolibc are
# extracted, into target/nolibc/src/. The kernel headers nolibc includes
# (<linux/*.h>, <asm/*.h>) are the system's, from linux-libc-dev.
# Idempotent: extraction and each build are skipped when already done.
# A flavor that cannot be built is reported on stderr and left out (no
# binary); tests/nolibc.rs then skips it. Exit status 1 only when the
# sources cannot be extracted.
set -euo pipefail
cd "$(dirname "$0")/.."
self=scripts/nolibc.sh

tarball=/usr/src/linux-source-6.12.tar.xz
top=linux-source-6.12
out=target/nolibc
src=$out/src
bin=$out/bin

[ -r "$tarball" ] || {
    echo "nolibc: $tarball not found; run scripts/setup.sh (installs linux-source-6.12)" >&2
    exit 1
}

# 1. Extract (again only when the tarball changed).
stamp=$src/.extracted
want="$(stat -c '%s %Y' "$tarball")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "nolibc: extracting nolibc and its selftest from $tarball" >&2
    rm -rf "$src"
    mkdir -p "$src"
    tar -xJf "$tarball" -C "$src" --strip-components=1 \
        "$top/tools/include/nolibc" "$top/tools/testing/selftests/nolibc"
    echo "$want" >"$stamp"
fi

testdir=$src/tools/testing/selftests/nolibc
sources=("$testdir/nolibc-test.c" "$testdir/nolibc-test-linkage.c")
mkdir -p "$bin"

# build NAME CC FLAGS... [-- LIBS...]: compile the sources to $bin/NAME
# unless it is newer than the extraction and this script; written
# atomically.
build() {
    local name=$1 cc=$2
    shift 2
    local flags=() libs=()
    while (($#)) && [ "$1" != "--" ]; do flags+=("$1"); shift; done
    (($#)) && shift && libs=("$@")
    local dst=$bin/$name
    if [ -x "$dst" ] && [ "$dst" -nt "$stamp" ] && [ "$dst" -nt "$self" ]; then
        return 0
    fi
    echo "nolibc: building $dst with $cc" >&2
    rm -f "$dst"
    if "$cc" "${flags[@]}" -o "$dst.tmp" "${sources[@]}" "${libs[@]}"; then
        mv "$dst.tmp" "$dst"
    else
        rm -f "$dst.tmp"
        return 1
    fi
}

# (a) nolibc: the Makefile's CFLAGS for x86_64 (CFLAGS_x86_64 is empty;
# CFLAGS_STACKPROTECTOR is -mstack-protector-guard=global
# -fstack-protector-all, which gcc 12 accepts) and its nolibc-test rule.
build nolibc gcc -Os -fno-ident -fno-asynchronous-unwind-tables -std=c89 \
    -W -Wall -Wextra -fno-stack-protector \
    -mstack-protector-guard=global -fstack-protector-all \
    -nostdlib -static -include "$src/tools/include/nolibc/nolibc.h" \
    -- -lgcc ||
    echo "nolibc: cannot build the nolibc flavor (see the errors above)" >&2

# (b) glibc: the libc-test rule is `$(HOSTCC) -o $@ nolibc-test.c
# nolibc-test-linkage.c`; -static added for kvmcage. glibc before 2.38
# (Debian 12 has 2.36) has no strlcpy/strlcat, which the stdlib suite names
# but only calls under nolibc (is_nolibc is 0 here, so those lines print
# [SKIPPED]); only then the link gets two stubs that abort if ever called.
# The test sources are not changed.
if ! build glibc gcc -static -w 2>"$out/glibc-build.log"; then
    if grep -q "undefined reference to .strl\(cpy\|cat\)" "$out/glibc-build.log"; then
        echo "nolibc: this glibc has no strlcpy/strlcat; linking two stubs" >&2
        shim=$out/strl-shim.c
        cat >"$shim" <<'EOF'
/* Link-only stubs for glibc < 2.38: nolibc-test calls strlcpy/strlcat only
 * when built against nolibc. */
#include <stddef.h>
#include <stdlib.h>
size_t strlcpy(char *d, const char *s, size_t n) { (void)d; (void)s; (void)n; abort(); }
size_t strlcat(char *d, const char *s, size_t n) { (void)d; (void)s; (void)n; abort(); }
EOF
        sources+=("$shim")
        build glibc gcc -static -w ||
            echo "nolibc: cannot build the glibc flavor (see the errors above)" >&2
        sources=("${sources[@]:0:2}")
    else
        cat "$out/glibc-build.log" >&2
        echo "nolibc: cannot build the glibc flavor (see the errors above)" >&2
    fi
fi

# (c) musl: the same rule with musl-gcc.
build musl musl-gcc -static -w ||
    echo "nolibc: cannot build the musl flavor (see the errors above)" >&2
