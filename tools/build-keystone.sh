#!/usr/bin/env bash
# Builds, on this machine and for real, the three images of a keystone deployment with loci:
#
#   loci/base:debian          dockerfiles/debian on a debootstrap'ed Debian bookworm
#   loci/requirements:2026.1  PROJECT=requirements: the wheels of the 2026.1 upper-constraints
#   loci/keystone:2026.1      PROJECT=keystone, its wheels taken from the requirements image
#
#     sudo tools/build-keystone.sh
#
# Nothing comes from a container registry (there may be none): the rootfs comes from
# debootstrap, the loci binary is compiled here and handed over with LOCI_IMAGE, the
# requirements tree is tests/fixtures/requirements-2026.1 and keystone's source is its PyPI
# sdist, both pre-seeded in the data dir; the keystone build mounts the requirements image
# (WHEELS, from the local image store) with BuildKit.
# Debian packages come from the Debian archive (APT_MIRROR) and Python packages missing from
# the wheels from PyPI.
#
# Settings (environment):
#   FULL_REQUIREMENTS=1   build every constraint (default: keystone's closure + uwsgi, listed in
#                         tests/fixtures/requirements/keystone-2026.1-closure.txt)
#   KEYSTONE_REPO, KEYSTONE_REF   build keystone from this git repository and ref instead of the
#                         sdist (e.g. https://opendev.org/openstack/keystone stable/2026.1)
#   EXTRA_CA=FILE         extra trusted CA certificates for the base image (default: this host's
#                         /etc/ssl/certs/ca-certificates.crt, so a TLS-intercepting proxy the
#                         host trusts is trusted in the images too; EXTRA_CA= for none)
#   APT_MIRROR, APT_SECURITY_MIRROR   Debian mirrors (default: deb.debian.org)
#   PLATFORMS=linux/amd64,linux/arm64   build every image for these platforms, as one
#                         multi-platform image (a manifest list) each: a Debian rootfs per
#                         architecture from debootstrap (arm64 under qemu), loci cross-compiled
#                         (tools/cross-build.sh), every build `docker build --platform`. Needs
#                         the containerd image store (tools/setup-host.sh sets it up for the
#                         engine it starts). Default: this machine's platform alone, as before.
#                         With REGISTRY, the manifest lists are pushed.
#   REGISTRY=HOST:PORT    push loci/requirements:2026.1 and loci/keystone:2026.1 there afterwards
#                         (tools/publish.sh), as REGISTRY/loci/...
#   COSIGN_KEY=FILE       with REGISTRY: sign every pushed image with this cosign key pair
#                         (`cosign generate-key-pair`; COSIGN_PASSWORD its password) and attach
#                         keystone's CycloneDX SBOM and SLSA provenance as signed attestations,
#                         then verify them (`loci verify`); summary in target/publish/signed.json
#   SOURCE_DATE_EPOCH     also the images' org.opencontainers.image.created label
#
#     REGISTRY=127.0.0.1:5000 COSIGN_KEY=cosign.key tools/build-keystone.sh
#     PLATFORMS=linux/amd64,linux/arm64 REGISTRY=127.0.0.1:5000 tools/build-keystone.sh
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
repo="$(pwd)"
# shellcheck source=setup-host.sh
source tools/setup-host.sh
if [ -n "${COSIGN_KEY:-}" ]; then
    [ -n "${REGISTRY:-}" ] || { echo "COSIGN_KEY signs pushed images: set REGISTRY too" >&2; exit 1; }
    [ -r "$COSIGN_KEY" ] || { echo "COSIGN_KEY=$COSIGN_KEY: cannot read the key (cosign generate-key-pair makes one)" >&2; exit 1; }
    # shellcheck source=setup-signing.sh
    source tools/setup-signing.sh
fi

work="$repo/target/build-keystone"
mkdir -p "$work"
times=()
timed() { # NAME COMMAND...: runs and records the wall time
    local name="$1" start
    shift
    start=$(date +%s)
    "$@"
    times+=("$name: $(( $(date +%s) - start ))s")
    echo "== $name took $(( $(date +%s) - start ))s"
}
# The labels every image gets: loci's commit, and the build time when SOURCE_DATE_EPOCH pins it.
label_args=()
if loci_commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null); then
    label_args+=(--build-arg LOCI_REVISION="$loci_commit")
fi
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    label_args+=(--build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH"
                 --build-arg IMAGE_CREATED="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)")
fi
build() { "$DOCKER" build --network host "${platform_args[@]}" "$@"; }

# The platforms: this machine's alone (single-platform images, as before), or PLATFORMS.
native_platform="linux/$(dpkg --print-architecture)"
platforms="${PLATFORMS:-$native_platform}"
arches=()
IFS=, read -ra wanted_platforms <<< "$platforms"
for p in "${wanted_platforms[@]}"; do
    case "$p" in
        linux/amd64) arches+=(amd64) ;;
        linux/arm64 | linux/arm64/v8) arches+=(arm64) ;;
        *) echo "PLATFORMS=$platforms: unknown platform '$p' (linux/amd64 and linux/arm64 are built)" >&2; exit 1 ;;
    esac
done
platform_args=()
if [ "$platforms" != "$native_platform" ]; then
    platform_args=(--platform "$platforms")
fi

# 1. The loci binary as an image holding only /loci (for each platform: this machine's static
# build, the others cross-compiled).
log "loci binary image"
rm -rf "$work/loci-bin" && mkdir -p "$work/loci-bin"
if [ "${#platform_args[@]}" = 0 ]; then
    cp "$LOCI_BIN" "$work/loci-bin/loci"
    printf 'FROM scratch\nCOPY loci /loci\nENTRYPOINT ["/loci"]\n' > "$work/loci-bin/Dockerfile"
else
    for arch in "${arches[@]}"; do
        if [ "linux/$arch" = "$native_platform" ]; then
            cp "$LOCI_BIN" "$work/loci-bin/loci-$arch"
        else
            timed "cross build loci ($arch)" tools/cross-build.sh "$arch"
            cp "target/cross/linux-$arch/loci" "$work/loci-bin/loci-$arch"
        fi
    done
    printf 'FROM scratch\nARG TARGETARCH\nCOPY loci-${TARGETARCH} /loci\nENTRYPOINT ["/loci"]\n' > "$work/loci-bin/Dockerfile"
fi
build -q -t loci/loci:local "$work/loci-bin" >/dev/null
for arch in "${arches[@]}"; do
    "$DOCKER" run --rm --network none --platform "linux/$arch" loci/loci:local --version
done

# 2. Debian bookworm from debootstrap, without apt caches, docs and locales (another
# architecture's second stage runs under qemu; `docker import --platform` records it).
rootfs() { # ARCH IMAGE
    log "debootstrap --arch=$1 --variant=minbase bookworm"
    rm -rf "$work/rootfs"
    timed "debootstrap ($1)" debootstrap --arch="$1" --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian
    rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/cache/apt/*.bin \
        "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* \
        "$work/rootfs"/usr/share/info/* "$work/rootfs"/usr/share/locale/* "$work/rootfs"/var/log/*.log
    tar -C "$work/rootfs" -c . | "$DOCKER" import --platform "linux/$1" --change 'CMD ["bash"]' - "$2"
    rm -rf "$work/rootfs"
}
rootfs_image=loci/debian:bookworm-minbase
if [ "${#platform_args[@]}" = 0 ]; then
    if ! "$DOCKER" image inspect "$rootfs_image" >/dev/null 2>&1; then
        rootfs "${arches[0]}" "$rootfs_image"
    fi
else
    # One image per architecture, then one name for all of them (a manifest list).
    for arch in "${arches[@]}"; do
        if ! "$DOCKER" image inspect "$rootfs_image-$arch" >/dev/null 2>&1; then
            rootfs "$arch" "$rootfs_image-$arch"
        fi
    done
    rm -rf "$work/rootfs-list" && mkdir -p "$work/rootfs-list"
    # (TARGETARCH is BuildKit's in the global scope: an `ARG TARGETARCH` there would empty it.)
    printf 'FROM %s-${TARGETARCH}\n' "$rootfs_image" > "$work/rootfs-list/Dockerfile"
    rootfs_image=loci/debian:bookworm-minbase-multi
    build -q -t "$rootfs_image" "$work/rootfs-list" >/dev/null
fi

# 3. The base image (Dockerfile.base, as LOCI master builds it), with the extra CA certificates
# in certs/ of a context of its own.
log "base image loci/base:debian"
rm -rf "$work/base" && mkdir -p "$work/base/certs"
cp -r dockerfiles Dockerfile.base "$work/base/"
extra_ca="${EXTRA_CA-/etc/ssl/certs/ca-certificates.crt}"
if [ -n "$extra_ca" ] && [ -f "$extra_ca" ]; then
    cp "$extra_ca" "$work/base/certs/extra-ca.crt"
fi
timed "docker build base" build -f "$work/base/Dockerfile.base" \
    --build-arg FROM="$rootfs_image" \
    --build-arg APT_MIRROR="${APT_MIRROR:-http://deb.debian.org/debian}" \
    --build-arg APT_SECURITY_MIRROR="${APT_SECURITY_MIRROR:-http://deb.debian.org/debian-security}" \
    -t loci/base:debian "$work/base"

# A build context for the top-level Dockerfile: bindep.txt, pydep.txt and a data dir of its own.
context() { # DIR
    rm -rf "$1" && mkdir -p "$1/data"
    cp bindep.txt pydep.txt "$1/"
}
commit_tree() { # DIR TAG: makes a source tree a git repository (pbr and /etc/image_info read it)
    # A fixed date keeps the commit, hence the build context and BuildKit's cache, the same
    # from one run to the next.
    local date="2026-01-01T00:00:00Z"
    git -C "$1" init -q -b master
    git -C "$1" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
        git -C "$1" -c user.name=loci -c user.email=loci@localhost commit -q -m "$2"
    git -C "$1" tag "$2"
}

# 4. The requirements image, from the pre-seeded requirements tree.
log "requirements image loci/requirements:2026.1"
context "$work/requirements"
mkdir -p "$work/requirements/data/requirements"
cp tests/fixtures/requirements-2026.1/*.txt "$work/requirements/data/requirements/"
commit_tree "$work/requirements/data/requirements" 2026.1
only=()
if [ "${FULL_REQUIREMENTS:-0}" != 1 ]; then
    cp tests/fixtures/requirements/keystone-2026.1-closure.txt "$work/requirements/data/closure.txt"
    only=(--build-arg REQUIREMENTS_ONLY_FILE=/tmp/closure.txt)
fi
timed "docker build requirements" build -f Dockerfile --target requirements \
    --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE=loci/loci:local \
    --build-arg PROJECT=requirements --build-arg PROJECT_RELEASE=2026.1 \
    --build-arg PROJECT_REPO=file:///tmp/requirements --build-arg PROJECT_REF=2026.1 \
    --build-arg KEEP_ALL_WHEELS=True "${only[@]}" "${label_args[@]}" \
    -t loci/requirements:2026.1 "$work/requirements"

# 5. keystone: the requirements image mounted as WHEELS, the source pre-seeded or cloned.
log "keystone image loci/keystone:2026.1"
context "$work/keystone"
source_args=()
if [ -n "${KEYSTONE_REPO:-}" ]; then
    source_args=(--build-arg PROJECT_REPO="$KEYSTONE_REPO" --build-arg PROJECT_REF="${KEYSTONE_REF:-stable/2026.1}")
    # The revision label is the commit built (a tag or branch is resolved here).
    if commit=$(git ls-remote "$KEYSTONE_REPO" "${KEYSTONE_REF:-stable/2026.1}" "${KEYSTONE_REF:-stable/2026.1}^{}" 2>/dev/null | awk 'END{print $1}') \
        && [ -n "$commit" ]; then
        source_args+=(--build-arg IMAGE_REVISION="$commit")
    fi
else
    mkdir -p "$work/downloads"
    if ! ls "$work"/downloads/keystone-29.*.tar.gz >/dev/null 2>&1; then
        [ -x "$work/venv/bin/pip" ] || python3 -m venv "$work/venv"
        "$work/venv/bin/pip" download --no-deps --no-binary :all: --dest "$work/downloads" 'keystone==29.*'
    fi
    sdist="$(ls "$work"/downloads/keystone-29.*.tar.gz | sort -V | tail -1)"
    version="$(basename "$sdist" .tar.gz)"
    version="${version#keystone-}"
    tar --no-same-owner -xzf "$sdist" -C "$work/keystone/data"
    mv "$work/keystone/data/keystone-$version" "$work/keystone/data/keystone"
    commit_tree "$work/keystone/data/keystone" "$version"
    source_args=(--build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version"
                 --build-arg IMAGE_REVISION="$(git -C "$work/keystone/data/keystone" rev-parse HEAD)")
fi
timed "docker build keystone" build -f Dockerfile \
    --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE=loci/loci:local \
    --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 \
    --build-arg WHEELS=loci/requirements:2026.1 --build-arg KEEP_ALL_WHEELS=True \
    "${source_args[@]}" "${label_args[@]}" \
    -t loci/keystone:2026.1 "$work/keystone"

# 6. Push, and with COSIGN_KEY sign and attest (tools/publish.sh).
if [ -n "${REGISTRY:-}" ]; then
    log "publish to $REGISTRY${COSIGN_KEY:+, signed with $COSIGN_KEY}"
    timed "publish" env LOCI_BIN="$LOCI_BIN" DOCKER="$DOCKER" \
        bash tools/publish.sh loci/requirements:2026.1 loci/keystone:2026.1
fi

log "done"
printf '%s\n' "${times[@]}"
"$DOCKER" images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E '^loci/(base|requirements|keystone):'
if [ "${#platform_args[@]}" != 0 ]; then
    # The engine shows one size per name: each platform's file system, as `docker export`
    # writes it (a tar of the files).
    for arch in "${arches[@]}"; do
        for image in loci/base:debian loci/requirements:2026.1 loci/keystone:2026.1; do
            id=$("$DOCKER" create --platform "linux/$arch" "$image" none)
            bytes=$("$DOCKER" export "$id" | wc -c)
            "$DOCKER" rm "$id" >/dev/null
            printf '%s linux/%s: %s MB of files\n' "$image" "$arch" "$(( bytes / 1000000 ))"
        done
    done
fi
