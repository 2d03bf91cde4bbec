#!/usr/bin/env bash
# Benchmark: wall time and size of a keystone image built by loci over a prebuilt base, with
# each installer backend (pip, uv), online (wheels + PyPI, LOCI's default) and offline
# (KEEP_ALL_WHEELS=True: the wheels alone, `--no-index`).
#
#     sudo bench/keystone.sh [RUNS]      # default RUNS=2
#
# Needs the images and build contexts tools/build-keystone.sh leaves behind (it is run first
# when they are missing). Every build is `--no-cache`, so each one does all of loci's work; the
# base image and the wheels are reused. Targets (Debian bookworm): 30 s and 295 MB.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
runs="${1:-2}"
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1
work=target/build-keystone

if ! "$DOCKER" image inspect loci/keystone:2026.1 >/dev/null 2>&1 || [ ! -d "$work/keystone/data/keystone" ]; then
    tools/build-keystone.sh
fi
version="$(git -C "$work/keystone/data/keystone" describe --tags)"

printf '%-8s %-8s %-4s %10s %10s\n' installer wheels run seconds size_MB
for installer in pip uv; do
    for mode in online offline; do
        keep=False
        [ "$mode" = offline ] && keep=True
        for run in $(seq 1 "$runs"); do
            tag="loci-bench/keystone:$installer-$mode"
            start=$(date +%s.%N)
            "$DOCKER" build --network host --no-cache -q -f Dockerfile \
                --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE=loci/loci:local \
                --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 \
                --build-arg WHEELS=loci/requirements:2026.1 --build-arg KEEP_ALL_WHEELS="$keep" \
                --build-arg INSTALLER="$installer" \
                --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version" \
                -t "$tag" "$work/keystone" >/dev/null
            end=$(date +%s.%N)
            size=$("$DOCKER" image inspect -f '{{.Size}}' "$tag")
            printf '%-8s %-8s %-4s %10.1f %10.1f\n' "$installer" "$mode" "$run" \
                "$(echo "$end - $start" | bc)" "$(echo "$size / 1000000" | bc -l)"
        done
    done
done
