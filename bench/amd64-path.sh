#!/usr/bin/env bash
# Issue 20, "Done when" 5: the amd64 path keeps its speed and size. speed.sh's figures 1 and 2,
# like for like: keystone from its unpacked PyPI sdist (no .git, so pbr reads PKG-INFO and the
# egg-info, neither loci installs git, and both images are whole), built with loci at BASELINE
# (default aab82c6, the last commit before the arm64 work: its Dockerfile and binary) and with
# this tree, alternating, RUNS times each, both from the same wheels (speed.sh's requirements
# image of the current tree); then the installed files of both images compared.
#
#     sudo bench/amd64-path.sh [RUNS]                 # default 3
#     sudo BASELINE=<commit> bench/amd64-path.sh
#
# It takes the images bench/speed.sh leaves (the two binaries, the two requirements images of
# keystone's closure, loci/base:debian) and runs `BASELINE=... bench/speed.sh 1` first when they
# are missing or were made for another baseline. Results in target/bench-amd64-path/.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
runs=${1:-3}
baseline=${BASELINE:-aab82c6}
DOCKER=/usr/bin/docker
out=$repo/target/bench-amd64-path
if [ "$(cat target/bench-baseline/commit 2>/dev/null)" != "$baseline" ] \
    || ! "$DOCKER" image inspect loci-bench/requirements:baseline loci-bench/requirements:current \
        loci-bench/loci:baseline loci-bench/loci:current >/dev/null 2>&1; then
    BASELINE=$baseline bench/speed.sh 1
fi
rm -rf "$out"; mkdir -p "$out/logs"
ctx=$out/ctx; mkdir -p "$ctx/data"
cp target/build-keystone/keystone/bindep.txt target/build-keystone/keystone/pydep.txt "$ctx/"
sdist=$(ls target/build-keystone/downloads/keystone-29.*.tar.gz | sort -V | tail -1)
version=$(basename "$sdist" .tar.gz | sed 's/^keystone-//')
tar --no-same-owner -xzf "$sdist" -C "$ctx/data"
mv "$ctx/data/keystone-$version" "$ctx/data/keystone"
dockerfile_of() { case $1 in baseline) echo "$repo/target/bench-baseline/Dockerfile" ;; *) echo "$repo/Dockerfile" ;; esac; }
# shellcheck source=lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
results=$out/results.txt
: >"$results"
build() { # LABEL CONFIG [DOCKER BUILD ARGS...]
    local label=$1 config=$2 log start
    shift 2
    log=$out/logs/$label-$(($(grep -c "^$label " "$results" || true) + 1)).log
    start=$(date +%s.%N)
    "$DOCKER" build --network host --progress plain -f "$(dockerfile_of "$config")" \
        --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE="loci-bench/loci:$config" \
        --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 --build-arg KEEP_ALL_WHEELS=True \
        --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version" \
        --build-arg WHEELS=loci-bench/requirements:current "$@" -t "loci-bench/keystone-sdist:$config" "$ctx" \
        >"$log" 2>&1 || { tail -30 "$log"; echo "build $label failed: $log" >&2; exit 1; }
    printf '%s %.2f %s\n' "$label" "$(echo "$(date +%s.%N) - $start" | bc)" "$(steps_of "$log")" | tee -a "$results"
}
in_turn() { if [ $(($1 % 2)) = 1 ]; then echo baseline current; else echo current baseline; fi; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# 1. --no-cache (one warm-up each: the package caches as a second build finds them).
for c in baseline current; do build "warmup-$c" "$c" --no-cache; done
for i in $(seq 1 "$runs"); do
    for c in $(in_turn "$i"); do build "fig1-$c" "$c" --no-cache; done
done
# The installed files of the two images of figure 1, before any change to the source.
files_of() { # IMAGE OUT: every file with its sha256, without loci's own records of the build
    local cid d
    cid=$("$DOCKER" create "$1" /nothing)
    d=$(mktemp -d)
    "$DOCKER" export "$cid" | tar -x -C "$d"
    "$DOCKER" rm "$cid" >/dev/null
    # uv writes uv_cache.json (the source tree's mtime) into what it builds from a tree: new in
    # every build, so it is left out, and its line out of the RECORD that lists it.
    (cd "$d" && find . -type f ! -path './etc/image_info/*' ! -name uv_cache.json -print0 | sort -z |
        while IFS= read -r -d '' f; do
            case "$f" in
                */RECORD) printf '%s  %s\n' "$(grep -v '/uv_cache.json,' "$f" | sha256sum | cut -d' ' -f1)" "$f" ;;
                *) sha256sum "$f" ;;
            esac
        done) >"$2"
    du -sb "$d" | cut -f1 >"$2.bytes"
    rm -rf "$d"
}
for c in baseline current; do files_of "loci-bench/keystone-sdist:$c" "$out/files-$c.txt"; done
# 2. a one-line change to keystone's source, caches warm, in turn.
init=$ctx/data/keystone/keystone/__init__.py
cp "$init" "$out/__init__.py.orig"
trap 'cp "$out/__init__.py.orig" "$init"' EXIT
for i in $(seq 1 "$runs"); do
    for c in $(in_turn "$i"); do
        echo "# bench change $c $i $(date +%s%N)" >>"$init"
        build "fig2-$c" "$c"
    done
done
med() { grep "^$1 " "$results" | awk '{print $2}' | median; }
{
    echo "loci bench/amd64-path.sh: $runs runs each, alternating, medians; baseline $baseline, current $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Dockerfile || echo '+changes'); keystone $version sdist; $(nproc) cores; $(date -u +%FT%TZ)"
    echo "engine: $("$DOCKER" info --format '{{.ServerVersion}}, storage {{.Driver}}')$("$DOCKER" info --format '{{json .DriverStatus}}' | grep -q io.containerd.snapshotter && echo ' (containerd image store)')"
    echo "load average at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-46s %9s %9s %7s\n' figure base_s now_s ratio
    for f in "fig1 1. keystone, --no-cache" "fig2 2. keystone after a one-line change"; do
        b=$(med "${f%% *}-baseline"); c=$(med "${f%% *}-current")
        printf '%-46s %9s %9s %7.2f\n' "${f#* }" "$b" "$c" "$(echo "$c / $b" | bc -l)"
    done
    echo "installed files: baseline $(wc -l <"$out/files-baseline.txt") ($(cat "$out/files-baseline.txt.bytes") bytes), current $(wc -l <"$out/files-current.txt") ($(cat "$out/files-current.txt.bytes") bytes); $(if cmp -s "$out/files-baseline.txt" "$out/files-current.txt"; then echo 'every file the same (sha256)'; else echo "DIFFERENT: diff $out/files-baseline.txt $out/files-current.txt"; fi)"
    echo "loci's steps (last run of each):"
    for l in fig1-baseline fig1-current fig2-baseline fig2-current; do
        printf '  %-14s %s\n' "$l" "$(grep "^$l " "$results" | tail -1 | cut -d' ' -f3-)"
    done
} | tee "$out/summary.txt"
