#!/usr/bin/env bash
# Prepares this machine (Debian bookworm, as root) for loci's image builds and tests; sourced by
# tests/run.sh and tools/build-keystone.sh:
#   - installs the current Docker engine from Debian trixie beside bookworm: docker.io 26.1,
#     docker-cli, docker-buildx 0.13, docker-compose 2.26 and containerd 1.7, pinned to trixie
#     one by one (everything else, libc6, runc and tini included, stays bookworm's: trixie is
#     added at priority 100);
#   - installs debootstrap, docker-registry + apache2-utils (a local registry), git (git
#     daemon), python3-venv (pip for sdists and bindep comparisons), curl and what the release
#     build of loci needs;
#   - starts `dockerd --bridge=none --iptables=false` when no engine answers (and replaces an
#     older one that does);
#   - builds the static loci binary (target/x86_64-unknown-linux-gnu/release/loci).

if [ "$(id -u)" != 0 ]; then
    echo "$0 needs root (docker, debootstrap, apt-get): run it with sudo" >&2
    exit 1
fi

log() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

engine_packages=(docker.io docker-cli docker-buildx docker-compose containerd)
host_packages=(debootstrap docker-registry apache2-utils git python3 python3-venv curl
               ca-certificates openssl tar gzip build-essential perl make bc strace)
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /etc/apt/sources.list.d/loci-trixie.sources ]; then
    log "adding Debian trixie at pin priority 100 (only the Docker engine is taken from it)"
    cat > /etc/apt/sources.list.d/loci-trixie.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
cat > /etc/apt/preferences.d/loci-trixie <<PREFS
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: ${engine_packages[*]}
Pin: release n=trixie
Pin-Priority: 990
PREFS
log "apt-get install ${engine_packages[*]} (trixie) ${host_packages[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${engine_packages[@]}" "${host_packages[@]}" >/dev/null

if ! command -v cargo >/dev/null; then
    for c in "${HOME:-/root}/.cargo/bin" /root/.cargo/bin /usr/local/cargo/bin; do
        if [ -x "$c/cargo" ]; then export PATH="$c:$PATH"; break; fi
    done
fi
command -v cargo >/dev/null || { echo "cargo is not installed: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
# The oldest Rust that builds the locked crates is Cargo.toml's rust-version (Debian bookworm's
# cargo is far older): say so plainly instead of failing in the middle of a dependency's build.
rust_needed=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
rust_have=$(rustc --version 2>/dev/null | awk '{print $2}')
if [ -n "$rust_needed" ] && ! printf '%s\n%s\n' "$rust_needed" "${rust_have:-0}" | sort -V -C; then
    echo "rustc ${rust_have:-(none)} is older than $rust_needed, which loci's locked crates need: install a newer Rust with rustup (rustup toolchain install stable)" >&2
    exit 1
fi

# Debian's client: another `docker` on PATH may lack buildx or be another version.
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
engine_major=$("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null | cut -d. -f1 || true)
if [ -n "$engine_major" ] && [ "$engine_major" -lt 26 ] 2>/dev/null; then
    log "replacing the running Docker engine $engine_major.x with the installed one (26+)"
    pkill -x dockerd || true
    for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
fi
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
"$DOCKER" buildx version
"$DOCKER" compose version

log "cargo build --release --target x86_64-unknown-linux-gnu (static)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target x86_64-unknown-linux-gnu
LOCI_BIN="$(pwd)/target/x86_64-unknown-linux-gnu/release/loci"
ldd "$LOCI_BIN" 2>&1 | sed 's/^/ldd loci: /' || true
"$LOCI_BIN" --version
