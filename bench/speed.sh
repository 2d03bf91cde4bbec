#!/usr/bin/env bash
# Benchmark of issue 11: build times of loci now against loci at BASELINE (the previous
# defaults: its own Dockerfile and binary, built here), in one run, as medians of RUNS builds.
#
#     sudo bench/speed.sh [RUNS]            # default RUNS=2
#     sudo FULL=1 bench/speed.sh [RUNS]     # also the full 2026.1 requirements image (long;
#                                           # FULL_RUNS=N builds it N times, default RUNS)
#     BASELINE=<commit> ...                 # default 6138c1f, the last commit before issue 11
#
# Figures (each for the baseline and for the current tree, same machine, same hour):
#   1. keystone over the prebuilt base, --no-cache (current: with the package caches cold,
#      i.e. pruned before each build, and warm)
#   2. keystone again after a one-line change to its source, caches warm (BuildKit reruns the
#      RUN because the context changed)
#   3. the requirements image of keystone's closure (97 wheels), --no-cache (current: caches
#      cold and warm)
#   4. (FULL=1) the full 2026.1 requirements image, --no-cache (current: caches cold)
# For each: the wall time of `docker build`, loci's per-step times (from the build log), and
# the image size; then the ratio current/baseline of the medians.
#
# Needs what tools/build-keystone.sh leaves (loci/base:debian and the build contexts under
# target/build-keystone); it is run first when they are missing. Builds use --network host.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo="$(pwd)"
runs="${1:-2}"
baseline="${BASELINE:-6138c1f}"
DOCKER=/usr/bin/docker
work="$repo/target/build-keystone"
out="$repo/target/bench-speed"
mkdir -p "$out"

if ! "$DOCKER" image inspect loci/base:debian >/dev/null 2>&1 || [ ! -d "$work/keystone/data/keystone" ]; then
    tools/build-keystone.sh
fi
# shellcheck source=../tools/setup-host.sh
source tools/setup-host.sh

# The two lois: the current tree's binary (setup-host built it) and the baseline's, each as an
# image holding only /loci, with the Dockerfile of its own tree.
image_of() { # BINARY TAG
    local d
    d="$(mktemp -d)"
    cp "$1" "$d/loci"
    printf 'FROM scratch\nCOPY loci /loci\n' >"$d/Dockerfile"
    "$DOCKER" build -q -t "$2" "$d" >/dev/null
    rm -rf "$d"
}
image_of "$LOCI_BIN" loci-bench/loci:current
base_tree="$repo/target/bench-baseline"
if [ ! -x "$base_tree/loci" ] || [ "$(cat "$base_tree/commit" 2>/dev/null)" != "$baseline" ]; then
    log "building loci at $baseline (the baseline)"
    rm -rf "$base_tree" && mkdir -p "$base_tree"
    git archive "$baseline" | tar -x -C "$base_tree"
    (cd "$base_tree" && RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$repo/target/bench-baseline-target" \
        cargo build --release --locked --target x86_64-unknown-linux-gnu -q)
    cp "$repo/target/bench-baseline-target/x86_64-unknown-linux-gnu/release/loci" "$base_tree/loci"
    echo "$baseline" >"$base_tree/commit"
fi
image_of "$base_tree/loci" loci-bench/loci:baseline
dockerfile_of() { case "$1" in baseline) echo "$base_tree/Dockerfile" ;; *) echo "$repo/Dockerfile" ;; esac; }

# shellcheck source=lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
prune_caches() { "$DOCKER" builder prune -f --filter type=exec.cachemount >/dev/null; }

declare -A walls sizes stepinfo
results="$out/results.txt"
: >"$results"
# build LABEL CONFIG TAG CONTEXT ARGS...: one timed build, its log in $out/LABEL-N.log
build() {
    local label="$1" config="$2" tag="$3" ctx="$4" n start end log
    shift 4
    n=$(($(grep -c "^$label " "$results" || true) + 1))
    log="$out/$label-$n.log"
    start=$(date +%s.%N)
    "$DOCKER" build --network host --progress plain -f "$(dockerfile_of "$config")" \
        --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE="loci-bench/loci:$config" \
        "$@" -t "$tag" "$ctx" >"$log" 2>&1 || { tail -30 "$log"; echo "build $label failed: $log" >&2; exit 1; }
    end=$(date +%s.%N)
    printf '%s %.1f %s %s\n' "$label" "$(echo "$end - $start" | bc)" \
        "$("$DOCKER" image inspect -f '{{.Size}}' "$tag")" "$(steps_of "$log")" >>"$results"
    echo "$label run $n: $(echo "$end - $start" | bc | cut -c1-6) s" >&2
}

req_args=(--target requirements --build-arg PROJECT=requirements --build-arg PROJECT_RELEASE=2026.1
    --build-arg PROJECT_REPO=file:///tmp/requirements --build-arg PROJECT_REF=2026.1 --build-arg KEEP_ALL_WHEELS=True)
version="$(git -C "$work/keystone/data/keystone" describe --tags)"
ks_args=(--build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 --build-arg KEEP_ALL_WHEELS=True
    --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version")

# 3. The requirements image of keystone's closure (also the WHEELS of the keystone builds);
# the current tree's with its package caches pruned first (cold) and as left by that (warm).
for _ in $(seq 1 "$runs"); do
    build requirements-closure-baseline baseline loci-bench/requirements:baseline "$work/requirements" \
        --no-cache "${req_args[@]}" --build-arg REQUIREMENTS_ONLY_FILE=/tmp/closure.txt
    prune_caches
    for temp in cold warm; do
        build "requirements-closure-current-$temp" current loci-bench/requirements:current "$work/requirements" \
            --no-cache "${req_args[@]}" --build-arg REQUIREMENTS_ONLY_FILE=/tmp/closure.txt
    done
done

# 1. keystone over the prebuilt base, --no-cache.
for _ in $(seq 1 "$runs"); do
    build keystone-baseline baseline loci-bench/keystone:baseline "$work/keystone" --no-cache \
        "${ks_args[@]}" --build-arg WHEELS=loci-bench/requirements:baseline
    prune_caches
    build keystone-current-cold current loci-bench/keystone:current "$work/keystone" --no-cache \
        "${ks_args[@]}" --build-arg WHEELS=loci-bench/requirements:current
    build keystone-current-warm current loci-bench/keystone:current "$work/keystone" --no-cache \
        "${ks_args[@]}" --build-arg WHEELS=loci-bench/requirements:current
done

# 2. A one-line change to keystone's source, rebuilt with warm caches (no --no-cache: BuildKit
# reruns the RUN because its context changed). The change is undone at the end.
init="$work/keystone/data/keystone/keystone/__init__.py"
cp "$init" "$out/__init__.py.orig"
trap 'cp "$out/__init__.py.orig" "$init"' EXIT
for config in baseline current; do
    wheels="loci-bench/requirements:$config"
    build "warmup-$config" "$config" "loci-bench/keystone:$config" "$work/keystone" "${ks_args[@]}" --build-arg WHEELS="$wheels"
    for i in $(seq 1 "$runs"); do
        echo "# bench change $config $i $(date +%s%N)" >>"$init"
        build "keystone-rebuild-$config" "$config" "loci-bench/keystone:$config" "$work/keystone" \
            "${ks_args[@]}" --build-arg WHEELS="$wheels"
    done
    cp "$out/__init__.py.orig" "$init"
done

# 4. The full 2026.1 requirements image (every constraint).
if [ "${FULL:-0}" = 1 ]; then
    for _ in $(seq 1 "${FULL_RUNS:-$runs}"); do
        build requirements-full-baseline baseline loci-bench/requirements-full:baseline "$work/requirements" \
            --no-cache "${req_args[@]}"
        prune_caches
        build requirements-full-current current loci-bench/requirements-full:current "$work/requirements" \
            --no-cache "${req_args[@]}"
    done
fi

med() { grep "^$1 " "$results" | awk '{print $2}' | median; }
medsize() { grep "^$1 " "$results" | awk '{print $3/1000000}' | median; }
laststeps() { grep "^$1 " "$results" | tail -1 | cut -d' ' -f4-; }
row() { # FIGURE BASELINE_LABEL CURRENT_LABEL
    local b c
    b=$(med "$2")
    c=$(med "$3")
    printf '%-44s %9s %9s %7.2f %9.1f %9.1f\n' "$1" "$b" "$c" "$(echo "$c / $b" | bc -l)" "$(medsize "$2")" "$(medsize "$3")"
}
{
    echo "loci bench/speed.sh: $runs runs each, medians; baseline $baseline, current $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'); $(nproc) cores; $(date -u +%FT%TZ)"
    printf '%-44s %9s %9s %7s %9s %9s\n' figure base_s now_s ratio base_MB now_MB
    row "1. keystone, --no-cache, caches cold" keystone-baseline keystone-current-cold
    row "1. keystone, --no-cache, caches warm" keystone-baseline keystone-current-warm
    row "2. keystone after a one-line change, warm" keystone-rebuild-baseline keystone-rebuild-current
    row "3. requirements, closure, caches cold" requirements-closure-baseline requirements-closure-current-cold
    row "3. requirements, closure, caches warm" requirements-closure-baseline requirements-closure-current-warm
    if [ "${FULL:-0}" = 1 ]; then
        row "4. requirements, full 2026.1" requirements-full-baseline requirements-full-current
    fi
    echo
    echo "loci's steps (last run of each):"
    for l in keystone-baseline keystone-current-cold keystone-current-warm keystone-rebuild-baseline keystone-rebuild-current \
        requirements-closure-baseline requirements-closure-current-cold requirements-closure-current-warm \
        requirements-full-baseline requirements-full-current; do
        if grep -q "^$l " "$results"; then printf '  %-32s %s\n' "$l" "$(laststeps "$l")"; fi
    done
} | tee "$out/summary.txt"
