#!/bin/sh
# Compiles the static loci binary for one target architecture, natively or across: the
# Dockerfile's `loci-compile` stage runs it on the build platform (BUILDPLATFORM, never under
# emulation) with the repository at the working directory.
#
#   tools/loci-compile.sh TARGETARCH OUT     e.g. tools/loci-compile.sh arm64 /loci
#
# TARGETARCH is Docker's name (amd64, arm64). For another architecture than this machine's it
# needs the target's Rust standard library (rustup's, or Debian's libstd-rust-dev:<arch>) and a
# cross C compiler (gcc-<triple>: ring, zstd, libgit2 and OpenSSL have C parts). In a rustup
# image (RUST_IMAGE=rust:1-bookworm) both are installed here when missing; the toolchain image
# of tools/cross-build.sh has them. CARGO_TARGET_DIR is where cargo builds (default: target);
# CARGO_PROFILE is Cargo.toml's profile (default: release; `quick` compiles fast, unoptimised).
set -eu

arch="${1:?usage: $0 TARGETARCH OUT}"
out="${2:?usage: $0 TARGETARCH OUT}"
case "${arch}" in
    amd64) triple=x86_64-unknown-linux-gnu gcc=x86_64-linux-gnu-gcc deb_arch=amd64 ;;
    arm64) triple=aarch64-unknown-linux-gnu gcc=aarch64-linux-gnu-gcc deb_arch=arm64 ;;
    *)
        echo "loci-compile: no loci build for TARGETARCH=${arch}: loci is built for amd64 and arm64 (--platform linux/amd64 or linux/arm64)" >&2
        exit 1
        ;;
esac
profile="${CARGO_PROFILE:-release}"
case "${profile}" in
    release | quick) ;;
    *)
        echo "loci-compile: unknown CARGO_PROFILE=${profile} (LOCI_CARGO_PROFILE): release (the default) or quick (compiled fast, unoptimised, for tests)" >&2
        exit 1
        ;;
esac
host_triple="$(rustc -vV | sed -n 's/^host: //p')"

if [ "${triple}" != "${host_triple}" ]; then
    if [ ! -d "$(rustc --print sysroot)/lib/rustlib/${triple}/lib" ]; then
        if command -v rustup >/dev/null; then
            echo "loci-compile: rustup target add ${triple}"
            rustup target add "${triple}"
        else
            echo "loci-compile: this Rust toolchain ($(rustc -V), ${host_triple}) has no standard library for ${triple}: install libstd-rust-dev:${deb_arch} (Debian) or use a rustup image, e.g. RUST_IMAGE=rust:1-bookworm, or the toolchain image of tools/cross-build.sh" >&2
            exit 1
        fi
    fi
    if ! command -v "${gcc}" >/dev/null; then
        if command -v apt-get >/dev/null; then
            echo "loci-compile: apt-get install gcc-${gcc%-gcc} libc6-dev-${deb_arch}-cross"
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "gcc-${gcc%-gcc}" "libc6-dev-${deb_arch}-cross" >/dev/null
        else
            echo "loci-compile: no C cross compiler ${gcc} for ${triple} (Debian: gcc-${gcc%-gcc} libc6-dev-${deb_arch}-cross)" >&2
            exit 1
        fi
    fi
    # cargo's linker, and the C compiler and archiver of the cc crate (ring, zstd, libgit2,
    # OpenSSL), for the target; build scripts stay native.
    env_triple="$(echo "${triple}" | tr 'a-z-' 'A-Z_')"
    export "CARGO_TARGET_${env_triple}_LINKER=${gcc}"
    export "CC_$(echo "${triple}" | tr '-' '_')=${gcc}"
    export "AR_$(echo "${triple}" | tr '-' '_')=${gcc%-gcc}-ar"
fi

# crt-static: one binary that runs on every base image (glibc or not), for the target only.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile "${profile}" --locked --target "${triple}"
cp "${CARGO_TARGET_DIR:-target}/${triple}/${profile}/loci" "${out}"
if [ "${triple}" = "${host_triple}" ]; then
    "${out}" --version
fi
