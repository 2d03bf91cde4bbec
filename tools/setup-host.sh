#!/usr/bin/env bash
# Prepares this machine (Debian bookworm, as root) for loci's image builds and tests; sourced by
# tests/run.sh, tools/build-keystone.sh and tools/cross-build.sh:
#   - installs the current Docker engine from Debian trixie beside bookworm: docker.io 26.1,
#     docker-cli, docker-buildx 0.13, docker-compose 2.26 and containerd 1.7, pinned to trixie
#     one by one (everything else, libc6, runc and tini included, stays bookworm's: trixie is
#     added at priority 100, and never for qemu);
#   - installs debootstrap, docker-registry + apache2-utils (a local registry), git (git
#     daemon), python3-venv (pip for sdists and bindep comparisons), curl, file, what the
#     release build of loci needs, and bookworm's qemu-user-static;
#   - arm64 emulation: mounts binfmt_misc and registers qemu-aarch64 from
#     /usr/lib/binfmt.d/qemu-aarch64.conf (no systemd needed), so that linux/arm64 images build
#     and run here;
#   - the engine: the one DOCKER_HOST names, used as it is (it must answer); else the default
#     engine (/var/run/docker.sock), started here with the containerd image store
#     (/etc/docker/daemon.json: "features": {"containerd-snapshotter": true}) when none answers,
#     and replaced when it is older than 26 (by its pidfile, /var/run/docker.pid: no other
#     engine on the machine is touched). PLATFORMS with more than this machine's platform
#     (multi-platform images) needs the containerd image store: an engine without it is refused
#     with a hint, never restarted;
#   - builds the static loci binary (target/x86_64-unknown-linux-gnu/release/loci).

if [ "$(id -u)" != 0 ]; then
    echo "$0 needs root (docker, debootstrap, apt-get): run it with sudo" >&2
    exit 1
fi

log() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

# PLATFORMS (tools/build-keystone.sh) beyond this machine's own platform: the engine must keep
# several platforms under one name, which only the containerd image store does.
check_platforms_store() {
    local native
    native="linux/$(dpkg --print-architecture)"
    if [ -n "${PLATFORMS:-}" ] && [ "${PLATFORMS}" != "$native" ] \
        && ! "$DOCKER" info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'; then
        echo "PLATFORMS=$PLATFORMS: the engine at ${DOCKER_HOST:-unix:///var/run/docker.sock} keeps images in the classic store (one platform per image); multi-platform images need the containerd image store: add {\"features\": {\"containerd-snapshotter\": true}} to that engine's daemon.json and restart it (its images then live in a new store), or point DOCKER_HOST at an engine that has it" >&2
        exit 1
    fi
}

# Already done in this process tree (a tool run by another that sourced this file): the
# settings only.
if [ "${LOCI_HOST_READY:-}" = 1 ] && [ -x "$(pwd)/target/x86_64-unknown-linux-gnu/release/loci" ]; then
    DOCKER=/usr/bin/docker
    export DOCKER_BUILDKIT=1
    LOCI_BIN="$(pwd)/target/x86_64-unknown-linux-gnu/release/loci"
    check_platforms_store
    return 0 2>/dev/null || exit 0
fi

engine_packages=(docker.io docker-cli docker-buildx docker-compose containerd)
host_packages=(debootstrap docker-registry apache2-utils git python3 python3-venv curl
               ca-certificates openssl tar gzip build-essential perl make bc file qemu-user-static strace
               jq python3-jsonschema)
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

Package: qemu-user-static qemu-user binfmt-support
Pin: release n=trixie
Pin-Priority: -1
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

# arm64 emulation (binfmt_misc is the kernel's, one table for the machine): mounted when it is
# not, qemu-aarch64 registered when it is not, with the flags of Debian's file (F: the
# interpreter is opened now, so that it runs inside containers too).
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
    log "mount -t binfmt_misc binfmt_misc $binfmt"
    mount -t binfmt_misc binfmt_misc "$binfmt" || {
        echo "cannot mount binfmt_misc on $binfmt: arm64 images cannot be built or run here (a container needs --privileged)" >&2
        exit 1
    }
fi
if [ ! -e "$binfmt/qemu-aarch64" ]; then
    log "registering qemu-aarch64 (/usr/lib/binfmt.d/qemu-aarch64.conf)"
    grep -v '^[#;]' /usr/lib/binfmt.d/qemu-aarch64.conf | grep . > "$binfmt/register"
fi
if ! grep -qx enabled "$binfmt/qemu-aarch64" || ! grep -q '^flags: .*F' "$binfmt/qemu-aarch64"; then
    echo "warning: $binfmt/qemu-aarch64 is disabled or lacks the F flag (registered by another tool?): arm64 containers may not start" >&2
    sed 's/^/  /' "$binfmt/qemu-aarch64" >&2
fi

# Debian's client: another `docker` on PATH may lack buildx or be another version.
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
engine_major() { "$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null | cut -d. -f1 || true; }
if [ -n "${DOCKER_HOST:-}" ]; then
    # Somebody else's engine: used as it is, never started, stopped or reconfigured here.
    if ! "$DOCKER" info >/dev/null 2>&1; then
        echo "DOCKER_HOST=$DOCKER_HOST does not answer: start that engine, or unset DOCKER_HOST to use (and start) the default one" >&2
        exit 1
    fi
    major=$(engine_major)
    if [ -n "$major" ] && [ "$major" -lt 26 ] 2>/dev/null; then
        echo "the engine at DOCKER_HOST=$DOCKER_HOST is Docker $major.x: loci needs 26 or newer (BuildKit 0.13); upgrade it, or unset DOCKER_HOST" >&2
        exit 1
    fi
else
    # The default engine. Only the one this script starts is ever replaced: by its pidfile.
    pidfile=/var/run/docker.pid
    major=$(engine_major)
    if [ -n "$major" ] && [ "$major" -lt 26 ] 2>/dev/null; then
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "the default Docker engine is $major.x (loci needs 26+) and $pidfile names no running process: stop it yourself, then run this again" >&2
            exit 1
        fi
        log "replacing the default Docker engine $major.x (pid $pid, $pidfile) with the installed one (26+)"
        kill "$pid"
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "the old dockerd (pid $pid) did not stop within 30 s" >&2
            exit 1
        fi
    fi
    if ! "$DOCKER" info >/dev/null 2>&1; then
        # The containerd image store: multi-platform images, registry cache, attestations.
        mkdir -p /etc/docker
        python3 - /etc/docker/daemon.json <<'PY'
import json, os, sys
path = sys.argv[1]
conf = {}
if os.path.exists(path):
    with open(path) as f:
        conf = json.load(f)
if conf.get("features", {}).get("containerd-snapshotter") is not True:
    conf.setdefault("features", {})["containerd-snapshotter"] = True
    with open(path, "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    print(f"{path}: containerd image store on")
PY
        log "starting dockerd --bridge=none --iptables=false (log: /var/log/loci-dockerd.log)"
        setsid nohup dockerd --bridge=none --iptables=false --pidfile "$pidfile" \
            >/var/log/loci-dockerd.log 2>&1 < /dev/null &
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
fi
check_platforms_store
"$DOCKER" version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}'
"$DOCKER" buildx version
"$DOCKER" compose version

log "cargo build --release --target x86_64-unknown-linux-gnu (static)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target x86_64-unknown-linux-gnu
LOCI_BIN="$(pwd)/target/x86_64-unknown-linux-gnu/release/loci"
ldd "$LOCI_BIN" 2>&1 | sed 's/^/ldd loci: /' || true
"$LOCI_BIN" --version
# Sourced once: tools called from here (tools/cross-build.sh) need not prepare the host again.
export LOCI_HOST_READY=1
