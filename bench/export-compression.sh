#!/usr/bin/env bash
# What BuildKit's export costs a keystone build on the containerd image store, by the
# compression of the image's layers: the default (gzip), zstd and uncompressed, in turn, RUNS
# times each (medians). Keystone from its unpacked PyPI sdist, `--no-cache`, over
# tools/build-keystone.sh's base, wheels and binary (it runs first when they are missing).
#
#     sudo bench/export-compression.sh [RUNS]     # default 3
#
# Only the exporter's options differ (`--output type=image,compression=...,force-compression=true`):
# loci's own time (its "built in" line) is printed beside the wall time to show it is the same.
# Results in target/bench-export-compression/.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
runs=${1:-3}
DOCKER=/usr/bin/docker
out=$repo/target/bench-export-compression
if ! "$DOCKER" image inspect loci/base:debian loci/requirements:2026.1 loci/loci:local >/dev/null 2>&1 \
    || ! ls target/build-keystone/downloads/keystone-29.*.tar.gz >/dev/null 2>&1; then
    tools/build-keystone.sh
fi
"$DOCKER" info --format '{{json .DriverStatus}}' | grep -q io.containerd.snapshotter ||
    { echo "the engine at ${DOCKER_HOST:-unix:///var/run/docker.sock} keeps images in the classic store: this bench is about the containerd image store's export" >&2; exit 1; }
rm -rf "$out"; mkdir -p "$out/logs" "$out/ctx/data"
ctx=$out/ctx
cp target/build-keystone/keystone/bindep.txt target/build-keystone/keystone/pydep.txt "$ctx/"
sdist=$(ls target/build-keystone/downloads/keystone-29.*.tar.gz | sort -V | tail -1)
version=$(basename "$sdist" .tar.gz | sed 's/^keystone-//')
tar --no-same-owner -xzf "$sdist" -C "$ctx/data"
mv "$ctx/data/keystone-$version" "$ctx/data/keystone"
common=(--network host --progress plain -f Dockerfile --no-cache --build-arg FROM=loci/base:debian
    --build-arg LOCI_IMAGE=loci/loci:local --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1
    --build-arg KEEP_ALL_WHEELS=True --build-arg PROJECT_REPO=file:///tmp/keystone
    --build-arg PROJECT_REF="$version" --build-arg WHEELS=loci/requirements:2026.1)
output_of() { # KIND: the --output of that compression
    case $1 in
        gzip) echo "type=image,name=loci-bench/keystone-export:gzip" ;;
        zstd) echo "type=image,name=loci-bench/keystone-export:zstd,compression=zstd,force-compression=true" ;;
        uncompressed) echo "type=image,name=loci-bench/keystone-export:uncompressed,compression=uncompressed,force-compression=true" ;;
    esac
}
# shellcheck source=lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
results=$out/results.txt
: >"$results"
build() { # LABEL
    local log start
    log=$out/logs/$1-$(($(grep -c "^$1 " "$results" || true) + 1)).log
    start=$(date +%s.%N)
    "$DOCKER" buildx build "${common[@]}" --output "$(output_of "$1")" "$ctx" >"$log" 2>&1 ||
        { tail -30 "$log"; echo "build $1 failed: $log" >&2; exit 1; }
    printf '%s %.2f %s\n' "$1" "$(echo "$(date +%s.%N) - $start" | bc)" \
        "$(grep -oE 'built in [0-9.]+s' "$log" | tail -1 | grep -oE '[0-9.]+')" | tee -a "$results"
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
build gzip >/dev/null # warm-up: the package caches
: >"$results"
kinds=(gzip zstd uncompressed)
for i in $(seq 1 "$runs"); do
    for k in $(seq 0 2); do build "${kinds[$(((i + k) % 3))]}"; done
done
{
    echo "loci bench/export-compression.sh: $runs runs each, in turn, medians; $(git rev-parse --short HEAD); keystone $version sdist; $(nproc) cores; $(date -u +%FT%TZ)"
    echo "engine $("$DOCKER" info --format '{{.ServerVersion}}'), containerd image store; load average at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-14s %8s %8s %10s\n' layers wall_s loci_s image_MB
    for k in "${kinds[@]}"; do
        printf '%-14s %8s %8s %10s\n' "$k" "$(grep "^$k " "$results" | awk '{print $2}' | median)" \
            "$(grep "^$k " "$results" | awk '{print $3}' | median)" \
            "$("$DOCKER" image inspect -f '{{.Size}}' "loci-bench/keystone-export:$k" | awk '{printf "%.1f", $1/1000000}')"
    done
} | tee "$out/summary.txt"
