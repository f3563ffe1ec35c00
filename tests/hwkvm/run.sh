#!/usr/bin/env bash
# Prove kvmcage's hardware-KVM path: boot Debian's kernel under QEMU's
# software emulator with an emulated AMD-V CPU, load kvm_amd there, and run
# the differential corpus with `kvmcage run --entry strict` (the kvm_pvm
# fallbacks off): `syscall` must reach LSTAR at CPL 0 and `int 0x80` the
# DPL-3 gate. Each program runs natively inside that Linux too, and stdout
# and exit status must match. Prints `N passed, M failed`; exits non-zero on
# any failure or when kvm_amd does not load. See tests/hwkvm/README.md.
#
# Usage: tests/hwkvm/run.sh [--cmd 'COMMAND']   (--cmd: run one command inside;
#        HWKVM_SMP=N: N emulated CPUs, default 2; HWKVM_ACCEL: QEMU's
#        -accel, default tcg,thread=single: see README.md on multi-threaded TCG)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$ROOT/target/hwkvm
mkdir -p "$WORK"
CMD=""
if [ "${1:-}" = "--cmd" ]; then CMD=${2:?--cmd needs a command}; fi
start=$(date +%s)

# 1. Packages, from Debian only: QEMU, busybox, cpio, and the kernel package
#    that linux-image-amd64 names (downloaded and unpacked, not installed).
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
need=()
for p in qemu-system-x86 busybox-static cpio gcc musl-tools; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$kpkg" ]; then
    $sudo apt-get update -qq
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
kver=${kpkg#linux-image-}
if [ ! -d "$WORK/kpkg/lib/modules/$kver" ]; then
    (cd "$WORK" && rm -f linux-image-*.deb && apt-get download -qq "$kpkg" >/dev/null 2>&1 && dpkg -x linux-image-*.deb kpkg)
fi
vmlinuz=$WORK/kpkg/boot/vmlinuz-$kver
moddir=$WORK/kpkg/lib/modules/$kver/kernel

# 2. kvmcage, linked statically so it runs in the initramfs.
RUSTFLAGS='-C target-feature=+crt-static' cargo build -q --release \
    --target x86_64-unknown-linux-gnu --target-dir target/hwkvm-build
kvmcage=$ROOT/target/hwkvm-build/x86_64-unknown-linux-gnu/release/kvmcage

# 3. The corpus: programs from images/ (glibc and musl static builds), with
#    their arguments and stdin. A subset of the full suite, chosen to cover
#    every entry path, faults, memory and the hostile cases in a few minutes
#    of emulated time.
corpus=$WORK/corpus
mkdir -p "$corpus"
build() { # src out compiler flags...
    local src=$1 out=$2; shift 2
    [ "$out" -nt "$src" ] || "$@" -o "$out" "$src"
}
for c in hello args exitcode malloc efault partial sysinfo signals segv ud2 fpe \
         mprotect memory int80 stdin clock; do
    build images/$c.c "$corpus/$c.gcc" gcc -static -O1 -w
    build images/$c.c "$corpus/$c.musl" musl-gcc -static -O1 -w
done
for c in mprotect2 shmprotect forkpage fork threadexit stackgrow; do build images/$c.c "$corpus/$c.gcc" gcc -static -O1 -w; done
build images/jobctl.c "$corpus/jobctl.musl" musl-gcc -static -O1 -w
build images/futexstress.c "$corpus/futexstress.musl" musl-gcc -static -O1 -w
for a in rawsyscall sysenter; do build images/asm/$a.S "$corpus/$a" gcc -nostdlib -static; done
build images/hostile/priv.S "$corpus/priv" gcc -nostdlib -static
for h in args stackbomb fdmax; do build images/hostile/$h.c "$corpus/hostile-$h" gcc -static -O1 -w; done
# name | stdin | command (run natively and as `kvmcage run --entry strict CMD`)
cat > "$corpus/LIST" <<'EOF'
hello-gcc||hello.gcc world
hello-musl||hello.musl world
args-gcc||args.gcc one "two words"
args-musl||args.musl one "two words"
exit-42||exitcode.gcc 42
exit-ret||exitcode.musl ret 9
exit-big||exitcode.gcc big
malloc-gcc||malloc.gcc
malloc-musl||malloc.musl
efault-gcc|input|efault.gcc
efault-musl|input|efault.musl
partial||partial.gcc
sysinfo-gcc||sysinfo.gcc
sysinfo-musl||sysinfo.musl
signals||signals.gcc
abort||signals.musl abort
segv||segv.gcc
ud2||ud2.musl
fpe||fpe.gcc
mprotect-tlb||mprotect.gcc
mprotect-2threads||mprotect2.gcc
shmprotect||shmprotect.gcc /tmp
futexstress||futexstress.musl
threadexit||threadexit.gcc
stackgrow||stackgrow.gcc
forkpage-cow||forkpage.gcc
fork||fork.gcc
jobctl||jobctl.musl
memory-gcc||memory.gcc
memory-musl||memory.musl
guard-page||memory.gcc guard
int80-gcc||int80.gcc
int80-musl||int80.musl
stdin|some input|stdin.musl
clock-vdso||clock.gcc 1000
rawsyscall||rawsyscall
sysenter||sysenter
priv-hlt||priv h
priv-out||priv o
priv-kwrite||priv K
priv-lstar||priv L
hostile-args||hostile-args
stackbomb||hostile-stackbomb
fdmax||hostile-fdmax
EOF

# 4. The initramfs: busybox, the KVM modules (in dependency order), kvmcage,
#    the corpus, and an /init that runs it all and powers off.
rootfs=$WORK/rootfs
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,sbin,dev,proc,sys,tmp,mod,corpus}
cp /bin/busybox "$rootfs/bin/busybox"
for m in virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko; do
    f=$moddir/$m
    [ -f "$f" ] || { f=$(ls "$f".* 2>/dev/null | head -1); }
    case "$f" in
        *.xz) xz -dc "$f" > "$rootfs/mod/$(basename "${m}")" ;;
        *.zst) zstd -dqc "$f" > "$rootfs/mod/$(basename "${m}")" ;;
        *) cp "$f" "$rootfs/mod/" ;;
    esac
done
cp "$kvmcage" "$rootfs/bin/kvmcage"
cp "$corpus"/* "$rootfs/corpus/"
printf '%s\n' "$CMD" > "$rootfs/cmd"
cat > "$rootfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in irqbypass ccp kvm kvm-amd; do insmod /mod/$m.ko 2>&1 | head -2; done
if [ ! -c /dev/kvm ]; then echo "HWKVM: kvm_amd did not load"; poweroff -f; fi
echo "HWKVM: /dev/kvm ready"
kvmcage info
cd /corpus
if [ -s /cmd ] && [ "$(cat /cmd)" != "" ]; then sh -c "$(cat /cmd)"; poweroff -f; fi
pass=0; fail=0
while IFS='|' read -r name input cmd; do
    [ -n "$name" ] || continue
    eval "set -- $cmd"
    prog=./$1; shift
    printf '%s\n' "$input" | head -c "${#input}" > /tmp/in
    # Same environment (HOME and PATH, as kvmcage gives) and same kind of
    # stderr.
    env -i HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "$prog" "$@" < /tmp/in > /tmp/n.out 2>/tmp/n.err; n=$?
    kvmcage run --entry strict "$prog" "$@" < /tmp/in > /tmp/c.out 2>/tmp/c.err; c=$?
    if [ "$n" = "$c" ] && cmp -s /tmp/n.out /tmp/c.out; then
        pass=$((pass + 1)); echo "PASS $name ($c)"
    else
        fail=$((fail + 1))
        echo "FAIL $name: native status $n, kvmcage $c; $(grep -a '^kvmcage:' /tmp/c.err | head -c 300)"
        cmp /tmp/n.out /tmp/c.out 2>&1 | head -1
    fi
done < LIST
echo "$pass passed, $fail failed"
poweroff -f
EOF
chmod +x "$rootfs/init"
(cd "$rootfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.gz"

# 5. Boot: TCG with emulated AMD-V and nested paging, two CPUs on one
#    emulator thread (README.md: multi-threaded TCG corrupts the machine).
log=$WORK/serial.log
timeout 900 qemu-system-x86_64 -accel "${HWKVM_ACCEL:-tcg,thread=single}" -cpu qemu64,+svm,+npt -m 1024 -smp "${HWKVM_SMP:-2}" \
    -nographic -no-reboot -kernel "$vmlinuz" -initrd "$WORK/initramfs.gz" \
    -append 'console=ttyS0 quiet panic=-1' > "$log" 2>&1 || true
tr -d '\r' < "$log" | grep -a -E '^(HWKVM|PASS|FAIL|backend|entry path|[0-9]+ passed)' || true
if [ -n "$CMD" ]; then tr -d '\r' < "$log"; exit 0; fi
elapsed=$(( $(date +%s) - start ))
echo "hwkvm: ${elapsed}s wall time (kernel $kver, QEMU -accel ${HWKVM_ACCEL:-tcg,thread=single} -smp ${HWKVM_SMP:-2}, -cpu qemu64,+svm,+npt)"
grep -a -q 'HWKVM: /dev/kvm ready' "$log" || { echo "hwkvm: kvm_amd did not load" >&2; exit 1; }
result=$(tr -d '\r' < "$log" | grep -a -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
[ -n "$result" ] || { echo "hwkvm: no result line (see $log)" >&2; exit 1; }
tr -d '\r' < "$log" | grep -a -q 'entry path of `syscall`: syscall (LSTAR, CPL 0)' \
    || { echo "hwkvm: syscall did not reach LSTAR at CPL 0" >&2; exit 1; }
tr -d '\r' < "$log" | grep -a -q 'entry path of `int 0x80`: int 0x80 (DPL-3 gate)' \
    || { echo "hwkvm: int 0x80 did not take the DPL-3 gate" >&2; exit 1; }
case "$result" in *", 0 failed") exit 0 ;; *) exit 1 ;; esac
