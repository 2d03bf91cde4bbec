#!/usr/bin/env bash
# Prepares this machine (Debian bookworm, as root) for loci's image builds and tests; sourced by
# tests/run.sh and tools/build-keystone.sh:
#   - installs docker.io (Debian's client /usr/bin/docker, with BuildKit), debootstrap,
#     docker-registry + apache2-utils (a local registry), git (git daemon), python3-venv (pip for
#     sdists and bindep comparisons), curl and what the release build of loci needs;
#   - starts `dockerd --bridge=none --iptables=false` when no engine answers;
#   - builds the static loci binary (target/x86_64-unknown-linux-gnu/release/loci).

if [ "$(id -u)" != 0 ]; then
    echo "$0 needs root (docker, debootstrap, apt-get): run it with sudo" >&2
    exit 1
fi

log() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

host_packages=(docker.io debootstrap docker-registry apache2-utils git python3 python3-venv curl
               ca-certificates openssl tar gzip build-essential perl make)
log "apt-get install ${host_packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${host_packages[@]}" >/dev/null

if ! command -v cargo >/dev/null; then
    for c in "${HOME:-/root}/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
        if [ -x "$c/cargo" ]; then export PATH="$c:$PATH"; break; fi
    done
fi
command -v cargo >/dev/null || { echo "cargo is not installed (rustup, or apt-get install cargo)" >&2; exit 1; }

# Debian's client: another `docker` on PATH may lack BuildKit.
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
if ! "$DOCKER" info >/dev/null 2>&1; then
    log "starting dockerd --bridge=none --iptables=false (log: /var/log/loci-dockerd.log)"
    setsid nohup dockerd --bridge=none --iptables=false >/var/log/loci-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
        "$DOCKER" info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! "$DOCKER" info >/dev/null 2>&1; then
        echo "dockerd did not start:" >&2
        tail -20 /var/log/loci-dockerd.log >&2
        exit 1
    fi
fi
"$DOCKER" version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}'

log "cargo build --release --target x86_64-unknown-linux-gnu (static)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target x86_64-unknown-linux-gnu
LOCI_BIN="$(pwd)/target/x86_64-unknown-linux-gnu/release/loci"
ldd "$LOCI_BIN" 2>&1 | sed 's/^/ldd loci: /' || true
"$LOCI_BIN" --version
