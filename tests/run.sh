#!/usr/bin/env bash
# The whole test suite of loci, unit tests and Docker end-to-end tests, on a Debian bookworm
# machine with Rust (cargo) installed:
#
#     sudo tests/run.sh            # or, as root: tests/run.sh
#
# It installs what the tests need (docker.io, debootstrap, docker-registry, git, ...), starts
# dockerd when none is running, builds the static release binary, and runs `cargo test` with
# the Docker tests included (`--include-ignored`: a plain `cargo test` lists them as ignored).
# Every server the tests start listens on 127.0.0.1 only; every build uses --network host.
#
# Environment:
#   LOCI_E2E_FULL_REQUIREMENTS=1   build every wheel of upper-constraints.txt in the
#                                  requirements image instead of keystone's closure (slow)
#   LOCI_TEST_FILTER=NAME          passed to cargo test as a test name filter
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
repo="$(pwd)"

if [ "$(id -u)" != 0 ]; then
    echo "tests/run.sh needs root (docker, debootstrap, apt-get): run sudo tests/run.sh" >&2
    exit 1
fi

log() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }
started=$(date +%s)

# 1. Packages. docker.io: Debian's docker client and engine with BuildKit; debootstrap: the
# base rootfs; docker-registry + apache2-utils: the local registry (and htpasswd for auth);
# git: git daemon serving test repositories; python3-venv: pip for sdists and bindep
# comparisons; curl, ca-certificates, build tools: the release build of loci.
packages=(docker.io debootstrap docker-registry apache2-utils git python3 python3-venv curl
          ca-certificates tar gzip build-essential perl make)
log "apt-get install ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if ! command -v cargo >/dev/null; then
    for c in "$HOME/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
        if [ -x "$c/cargo" ]; then export PATH="$c:$PATH"; break; fi
    done
fi
command -v cargo >/dev/null || { echo "cargo is not installed (rustup or apt-get install cargo)" >&2; exit 1; }

# 2. dockerd (Debian's client: /usr/bin/docker; another `docker` on PATH may lack BuildKit).
export DOCKER_BUILDKIT=1
if ! /usr/bin/docker info >/dev/null 2>&1; then
    log "starting dockerd --bridge=none --iptables=false"
    mkdir -p /var/log
    setsid nohup dockerd --bridge=none --iptables=false >/var/log/loci-tests-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
        /usr/bin/docker info >/dev/null 2>&1 && break
        sleep 1
    done
    /usr/bin/docker info >/dev/null 2>&1 || { echo "dockerd did not start:" >&2; tail -20 /var/log/loci-tests-dockerd.log >&2; exit 1; }
fi
/usr/bin/docker version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}'

# 3. The static release binary (the tests put it in a FROM scratch image and mount it).
log "cargo build --release --target x86_64-unknown-linux-gnu (static)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target x86_64-unknown-linux-gnu
bin="$repo/target/x86_64-unknown-linux-gnu/release/loci"
ldd "$bin" 2>&1 | sed 's/^/ldd: /' || true
"$bin" --version

# 4. Every test, the Docker ones included.
mkdir -p target/e2e
: > target/e2e/timings.txt
log "cargo test -- --include-ignored"
set +e
cargo test --no-fail-fast -- --include-ignored ${LOCI_TEST_FILTER:+"$LOCI_TEST_FILTER"}
status=$?
set -e

log "wall times and sizes (target/e2e/timings.txt; build logs in target/e2e/logs)"
cat target/e2e/timings.txt || true
echo "tests/run.sh: $(( $(date +%s) - started ))s in all, cargo test exit status $status"
exit $status
