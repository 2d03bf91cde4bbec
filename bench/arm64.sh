#!/usr/bin/env bash
# arm64 on this x86_64 machine, end to end, with its figures: the emulated test the suite
# skips (tests/e2e_arm64.rs, far beyond the suite's time budget on 2 cores) and the fast ones.
#
#     sudo bench/arm64.sh
#     sudo LOCI_E2E_SECOND_DOCKER_HOST=unix:///run/other/docker.sock bench/arm64.sh
#
# 1. tools/cross-build.sh arm64: the static aarch64 loci, cross-compiled (its time, cold the
#    first time on an engine, then with BuildKit's cargo caches);
# 2. that binary under qemu in an arm64 Debian bookworm container (`--version`, `plan`);
# 3. `PLATFORMS=linux/amd64,linux/arm64 tools/build-keystone.sh`: base, requirements and keystone
#    as manifest lists, arm64 under emulation (each build's time, each platform's size);
# 4. all three pushed to a docker-registry on 127.0.0.1, both platforms found in each index,
#    the arm64 wheels checked (aarch64 or pure Python), each keystone pulled back by its
#    digest (by the engine LOCI_E2E_SECOND_DOCKER_HOST names, a second, clean one; else by this
#    one after its local copies are removed) and issuing a token;
# 5. keystone for arm64 in two stages (`--target runtime`), issuing a token.
#
# The figures are printed at the end (E2E-* lines of target/e2e/timings.txt; logs in
# target/e2e/logs/). bench/README.md keeps the last run's.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
export PLATFORMS=linux/amd64,linux/arm64
# shellcheck source=../tools/setup-host.sh
source tools/setup-host.sh
unset PLATFORMS
# The cross build's figure is the release binary's (the suite compiles the `quick` profile).
export LOCI_CARGO_PROFILE="${LOCI_CARGO_PROFILE:-release}"

mkdir -p target/e2e
: > target/e2e/timings.txt
started=$(date +%s)
log "cargo test --test e2e_arm64 -- --include-ignored (one test at a time)"
set +e
cargo test --test e2e_arm64 -- --include-ignored --test-threads 1 --nocapture
status=$?
set -e
log "arm64 figures ($(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ); loci $(git rev-parse --short HEAD))"
cat target/e2e/timings.txt
echo "bench/arm64.sh: $(( $(date +%s) - started ))s in all; cargo test exit status $status"
exit "$status"
