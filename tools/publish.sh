#!/usr/bin/env bash
# Pushes local images to a registry and, given a cosign key, signs them and attaches their
# CycloneDX SBOM and SLSA provenance as signed attestations, then verifies all of it:
#
#     REGISTRY=127.0.0.1:5000 COSIGN_KEY=cosign.key tools/publish.sh loci/keystone:2026.1 ...
#
# Each IMAGE is tagged REGISTRY/IMAGE and pushed (`docker push`: an index with BuildKit's own
# provenance attestation when the engine keeps attestations, i.e. the containerd image store).
# With COSIGN_KEY, `loci sign` signs every pushed digest (for an index: the index and each of
# its images), reading each image's SBOM (/etc/image_info/sbom.cdx.json) and build inputs out
# of the pushed image, and `loci verify` checks the result with the key's public half.
# tools/build-keystone.sh and tools/gate.sh call this script when REGISTRY is set.
#
# Settings (environment):
#   REGISTRY           registry host[:port] (and path prefix) to push to (required)
#   COSIGN_KEY         a cosign private key (`cosign generate-key-pair`); unset: push only
#   COSIGN_PASSWORD    its password (cosign reads it; empty for a key made without one)
#   LOCI_SIGN_SUMMARY  where `loci sign` writes the digests of what it signed and attached
#                      (default target/publish/signed.json)
#   LOCI_BIN           the loci binary (default: the static release build)
#   REGISTRY_PROTOCOL, REGISTRY_INSECURE, REGISTRY_AUTH_FILE   as for WHEELS images (README)
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
DOCKER=${DOCKER:-/usr/bin/docker}
LOCI_BIN=${LOCI_BIN:-$(pwd)/target/x86_64-unknown-linux-gnu/release/loci}
: "${REGISTRY:?REGISTRY=host:port names the registry to push to}"
[ "$#" -gt 0 ] || { echo "usage: REGISTRY=host:port [COSIGN_KEY=file] $0 IMAGE..." >&2; exit 2; }
[ -x "$LOCI_BIN" ] || { echo "$LOCI_BIN is missing: build it (tools/setup-host.sh does)" >&2; exit 1; }
if [ -n "${COSIGN_KEY:-}" ]; then
    [ -r "$COSIGN_KEY" ] || {
        echo "COSIGN_KEY=$COSIGN_KEY: cannot read the key (make a pair with: cosign generate-key-pair)" >&2
        exit 1
    }
    command -v cosign >/dev/null || { echo "cosign is not installed: source tools/setup-signing.sh" >&2; exit 1; }
fi

pinned=()
for image in "$@"; do
    target="${REGISTRY%/}/$image"
    "$DOCKER" tag "$image" "$target"
    printf '\n== docker push %s [%s]\n' "$target" "$(date -u +%H:%M:%S)"
    digest=$("$DOCKER" push "$target" | tee /dev/stderr | sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' | tail -1)
    [ -n "$digest" ] || { echo "docker push $target printed no digest" >&2; exit 1; }
    name="$target"
    case "${target##*/}" in *:*) name="${target%:*}" ;; esac
    pinned+=("$name@$digest")
    echo "pushed $target@$digest"
done

[ -n "${COSIGN_KEY:-}" ] || { echo "COSIGN_KEY is not set: pushed, not signed"; exit 0; }

summary=${LOCI_SIGN_SUMMARY:-$(pwd)/target/publish/signed.json}
mkdir -p "$(dirname "$summary")"
builder=(--builder-version "docker=$("$DOCKER" version --format '{{.Server.Version}}')"
         --builder-version "buildx=$("$DOCKER" buildx version | awk '{print $2}')"
         --builder-version "loci=$("$LOCI_BIN" --version | awk '{print $2}')")
printf '\n== loci sign %s [%s]\n' "${pinned[*]}" "$(date -u +%H:%M:%S)"
"$LOCI_BIN" sign --key "$COSIGN_KEY" "${builder[@]}" --summary "$summary" "${pinned[@]}"

public="$(dirname "$summary")/cosign.pub"
cosign public-key --key "$COSIGN_KEY" > "$public"
printf '\n== loci verify --key %s [%s]\n' "$public" "$(date -u +%H:%M:%S)"
"$LOCI_BIN" verify --key "$public" "${pinned[@]}"
echo "signed and attested: $summary"
