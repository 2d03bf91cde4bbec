#!/usr/bin/env bash
# Cross-compiles the static loci binary for other architectures on this x86_64 machine, in one
# command (as root, like the other tools):
#
#     sudo tools/cross-build.sh              # arm64: target/cross/linux-arm64/loci
#     sudo tools/cross-build.sh arm64 amd64  # several (Docker's names): target/cross/linux-<arch>/loci
#
# rustup cannot fetch other targets here, and sid's rustc must not land on a bookworm host (it
# pulls a newer libc6), so the toolchain lives in an image of its own: Debian sid from
# debootstrap (`loci/debian:sid-minbase`), with rustc/cargo, the target's standard library
# (`libstd-rust-dev:arm64`) and gcc-aarch64-linux-gnu from sid's archive (tools/cross/Dockerfile,
# tagged by its hash: `loci/rust-cross:<hash>`). The binary is then compiled by the Dockerfile's
# own `loci-compile` stage with RUST_IMAGE set to that image, on the build platform, never under
# emulation; crates.io's downloads and cargo's target dir are BuildKit cache mounts, so the
# second run only recompiles what changed.
#
# Settings (environment):
#   EXTRA_CA=FILE   extra trusted CA certificates for the toolchain image (default: this host's
#                   /etc/ssl/certs/ca-certificates.crt: crates.io through a TLS-intercepting
#                   proxy the host trusts; EXTRA_CA= for none)
#   SID_MIRROR      Debian mirror for sid (default: http://deb.debian.org/debian)
#   LOCI_CARGO_PROFILE=quick
#                   compile fast and unoptimised (the suite's check of the cross toolchain);
#                   default: release, the binary images use
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
# shellcheck source=setup-host.sh
source tools/setup-host.sh
say() { printf '\n== cross-build: %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }

arches=("$@")
[ "${#arches[@]}" -gt 0 ] || arches=(arm64)
for arch in "${arches[@]}"; do
    case "$arch" in
        amd64 | arm64) ;;
        *) echo "cross-build: unknown architecture '$arch': amd64 or arm64 (Docker's names)" >&2; exit 2 ;;
    esac
done
started=$(date +%s)
work="$(pwd)/target/cross"
mkdir -p "$work"

# 1. Debian sid, from debootstrap (once per engine).
sid_image=loci/debian:sid-minbase
if ! "$DOCKER" image inspect "$sid_image" >/dev/null 2>&1; then
    say "debootstrap --variant=minbase sid"
    rm -rf "$work/rootfs-sid"
    debootstrap --variant=minbase sid "$work/rootfs-sid" "${SID_MIRROR:-http://deb.debian.org/debian}"
    rm -rf "$work/rootfs-sid"/var/cache/apt/archives/*.deb "$work/rootfs-sid"/var/lib/apt/lists/*
    tar -C "$work/rootfs-sid" -c . | "$DOCKER" import --change 'CMD ["bash"]' - "$sid_image"
    rm -rf "$work/rootfs-sid"
fi

# 2. The toolchain image, named by what it is built from.
ctx="$work/toolchain"
rm -rf "$ctx" && mkdir -p "$ctx"
cp tools/cross/Dockerfile "$ctx/"
extra_ca="${EXTRA_CA-/etc/ssl/certs/ca-certificates.crt}"
if [ -n "$extra_ca" ] && [ -f "$extra_ca" ]; then
    cp "$extra_ca" "$ctx/extra-ca.crt"
else
    : > "$ctx/extra-ca.crt"
fi
hash=$(cat "$ctx/Dockerfile" "$ctx/extra-ca.crt" <("$DOCKER" image inspect -f '{{.Id}}' "$sid_image") \
    | sha256sum | cut -c1-12)
toolchain="loci/rust-cross:$hash"
if ! "$DOCKER" image inspect "$toolchain" >/dev/null 2>&1; then
    say "toolchain image $toolchain (sid: rustc, cargo, libstd-rust-dev:arm64, gcc-aarch64-linux-gnu)"
    "$DOCKER" build --network host --build-arg FROM="$sid_image" -t "$toolchain" "$ctx"
fi
"$DOCKER" run --rm --network none "$toolchain" sh -c 'rustc -V; cargo -V; aarch64-linux-gnu-gcc --version | head -1'

# 3. The binaries: the Dockerfile's compile stage for each platform, exported to target/.
for arch in "${arches[@]}"; do
    case "$arch" in
        amd64) triple=x86_64-unknown-linux-gnu ;;
        arm64) triple=aarch64-unknown-linux-gnu ;;
    esac
    say "loci for linux/$arch ($triple)"
    one=$(date +%s)
    out="$work/linux-$arch"
    rm -rf "$out"
    "$DOCKER" build --network host --platform "linux/$arch" --target loci-builder \
        --build-arg RUST_IMAGE="$toolchain" --build-arg LOCI_CARGO_PROFILE="${LOCI_CARGO_PROFILE:-release}" -o "type=local,dest=$out" .
    echo "cross-build: target/cross/linux-$arch/loci ($triple) in $(( $(date +%s) - one ))s: $(file -b "$out/loci")"
done
echo "cross-build: done in $(( $(date +%s) - started ))s"
