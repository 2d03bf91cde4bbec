#!/usr/bin/env bash
# Installs what signing images needs on this machine (Debian bookworm, as root), without
# touching anything else: cosign and oras, Go programs from Debian trixie that depend on no
# library (libc6 and everything else stay bookworm's; trixie is at pin priority 100, added by
# tools/setup-host.sh). Sourced by tools/build-keystone.sh and tools/gate.sh when COSIGN_KEY
# is set, and by tests/run.sh with LOCI_SETUP_TEST_REGISTRY=1, which also builds the test
# suite's registry with the OCI referrers API:
#
#   target/ociregistry/ociregistry -addr 127.0.0.1:PORT
#
# Debian's docker-registry (2.8, bookworm to sid) has no referrers API. cue-labs' OCI registry
# library (Debian's golang-github-cue-labs-oci-dev, from trixie) has one; its referrers list
# lacks the artifactType and annotations the OCI 1.1 spec requires (which cosign filters on),
# so tests/fixtures/ociregistry/main.go fills them in from each manifest. It is built with
# trixie's Go 1.24 from Debian's packaged sources, offline (GOPATH mode, nothing fetched).

if [ "$(id -u)" != 0 ]; then
    echo "$0 needs root (apt-get): run it with sudo" >&2
    exit 1
fi

signing_packages=(cosign/trixie oras/trixie)
test_registry_packages=(golang-1.24-go/trixie golang-github-cue-labs-oci-dev/trixie
                        golang-github-opencontainers-image-spec-dev/trixie
                        golang-github-opencontainers-go-digest-dev)
wanted=("${signing_packages[@]}")
if [ "${LOCI_SETUP_TEST_REGISTRY:-0}" = 1 ]; then
    wanted+=("${test_registry_packages[@]}")
fi
missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f '${Status}' "${p%/*}" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    printf '\n== apt-get install %s [%s]\n' "${missing[*]}" "$(date -u +%H:%M:%S)"
    [ -e /etc/apt/sources.list.d/loci-trixie.sources ] || {
        echo "Debian trixie is not in the apt sources: source tools/setup-host.sh first" >&2
        exit 1
    }
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cosign version 2>/dev/null | grep -E '^GitVersion' | sed 's/^/cosign /'
oras version | head -1 | sed 's/^/oras /'

if [ "${LOCI_SETUP_TEST_REGISTRY:-0}" = 1 ]; then
    ociregistry_dir="$(pwd)/target/ociregistry"
    mkdir -p "$ociregistry_dir"
    if [ ! -x "$ociregistry_dir/ociregistry" ] \
        || [ tests/fixtures/ociregistry/main.go -nt "$ociregistry_dir/ociregistry" ]; then
        printf '\n== go build the referrers-API test registry [%s]\n' "$(date -u +%H:%M:%S)"
        GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$ociregistry_dir/cache" GOFLAGS= \
            /usr/lib/go-1.24/bin/go build -o "$ociregistry_dir/ociregistry" \
            tests/fixtures/ociregistry/main.go
    fi
fi
