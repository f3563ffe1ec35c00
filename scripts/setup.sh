#!/usr/bin/env bash
# Install what kvmcage's tests need, idempotently: checks each Debian
# package with dpkg -s first, so a second run does nothing.
set -euo pipefail
# python3, perl and mawk: the Debian programs tests/dynamic.rs runs.
packages=(gcc g++ binutils musl-tools busybox-static strace linux-source-6.12 python3 perl mawk)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }
# tests/threads.rs builds a Rust std::thread program for musl.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
    echo "setup: adding the x86_64-unknown-linux-musl Rust target"
    rustup target add x86_64-unknown-linux-musl >/dev/null
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "setup: warning: /dev/kvm is missing or not accessible; kvmcage needs it" >&2
fi
