#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs the
# unit tests and the integration tests (which boot real guests on /dev/kvm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# (lib, binary, integration tests and doc tests; benches run with cargo bench)
cargo test --release
