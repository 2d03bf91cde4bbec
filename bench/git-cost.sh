#!/usr/bin/env bash
# What giving pbr its git costs a keystone build (issue 19), against a baseline commit:
#
#   sudo bench/git-cost.sh [RUNS]                   # default 2; medians of RUNS builds
#   sudo BASELINE=<commit> bench/git-cost.sh        # default 570161b, the last commit before
#   sudo BASELINE_BIN=/path/to/loci bench/git-cost.sh   # a baseline static binary built already
#
# keystone 29's sdist over tools/build-keystone.sh's base and requirements image (run that
# first), `--no-cache`, with the package caches warm, two ways:
#   sdist  the unpacked sdist (PKG-INFO, egg-info, no .git): pbr takes the file list from
#          SOURCES.txt, no git is installed, before or after the fix;
#   git    the same tree committed to git, as tools/build-keystone.sh and tools/gate.sh seed
#          it: pbr lists the files with git; the baseline installed no git and built keystone
#          with 5 of its 597 package files, the fix installs (and purges) git.
# Printed: docker's wall time and loci's own (medians), keystone's RECORD lines in the image
# and the image size; logs in target/bench-git-cost/.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
runs=${1:-2}
baseline=${BASELINE:-570161b}
work="$repo/target/bench-git-cost"
mkdir -p "$work/logs"
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1
for img in loci/base:debian loci/requirements:2026.1; do
    "$DOCKER" image inspect "$img" >/dev/null 2>&1 || { echo "bench/git-cost.sh: $img is missing: run tools/build-keystone.sh first" >&2; exit 1; }
done
sdist=$(ls target/build-keystone/downloads/keystone-29.*.tar.gz 2>/dev/null | sort -V | tail -1)
[ -n "$sdist" ] || { echo "bench/git-cost.sh: no keystone sdist in target/build-keystone/downloads: run tools/build-keystone.sh first" >&2; exit 1; }

# The two binaries, each as a LOCI_IMAGE.
current_bin="$repo/target/x86_64-unknown-linux-gnu/release/loci"
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release --target x86_64-unknown-linux-gnu
baseline_bin=${BASELINE_BIN:-}
if [ -z "$baseline_bin" ]; then
    rm -rf "$work/baseline" && mkdir -p "$work/baseline"
    git archive "$baseline" | tar -x -C "$work/baseline"
    (cd "$work/baseline" && RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release --target x86_64-unknown-linux-gnu)
    baseline_bin="$work/baseline/target/x86_64-unknown-linux-gnu/release/loci"
fi
binary_image() { # NAME BIN
    rm -rf "$work/bin-$1" && mkdir -p "$work/bin-$1"
    cp "$2" "$work/bin-$1/loci"
    printf 'FROM scratch\nCOPY loci /loci\nENTRYPOINT ["/loci"]\n' > "$work/bin-$1/Dockerfile"
    "$DOCKER" build -q -t "loci-bench/loci:$1" "$work/bin-$1" >/dev/null
}
binary_image baseline "$baseline_bin"
binary_image current "$current_bin"

# The two contexts.
version=$(basename "$sdist" .tar.gz); version=${version#keystone-}
context() { # VARIANT
    local ctx="$work/ctx-$1"
    rm -rf "$ctx" && mkdir -p "$ctx/data"
    cp bindep.txt pydep.txt "$ctx/"
    tar --no-same-owner -xzf "$sdist" -C "$ctx/data"
    mv "$ctx/data/keystone-$version" "$ctx/data/keystone"
    if [ "$1" = git ]; then
        git -C "$ctx/data/keystone" init -q -b master
        git -C "$ctx/data/keystone" add -A
        GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
            git -C "$ctx/data/keystone" -c user.name=loci -c user.email=loci@localhost commit -q -m "$version"
        git -C "$ctx/data/keystone" tag "$version"
    fi
}
context sdist
context git

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) m = a[(NR+1)/2]; else m = (a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m}'; }
declare -A wall own
build() { # BINARY VARIANT RUN
    local tag="loci-bench/keystone:$1-$2" log="$work/logs/$1-$2-$3.log" start end
    start=$(date +%s.%N)
    "$DOCKER" build --no-cache --network host --progress plain -f Dockerfile \
        --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE="loci-bench/loci:$1" \
        --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 \
        --build-arg WHEELS=loci/requirements:2026.1 --build-arg KEEP_ALL_WHEELS=True \
        --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version" \
        -t "$tag" "$work/ctx-$2" > "$log" 2>&1
    end=$(date +%s.%N)
    wall[$1-$2]+="$(echo "$end - $start" | bc) "
    own[$1-$2]+="$(sed -n 's/.*==> keystone built in \([0-9.]*\)s.*/\1/p' "$log" | tail -1) "
}
# A warm-up build fills the package caches; then the runs, alternating.
build current git 0
for run in $(seq 1 "$runs"); do
    for variant in sdist git; do
        for bin in baseline current; do build "$bin" "$variant" "$run"; done
    done
done

printf '\nloci bench/git-cost.sh: %s runs each, medians; baseline %s, current %s; %s cores; %s\n' \
    "$runs" "$baseline" "$(git rev-parse --short HEAD)" "$(nproc)" "$(date -u +%FT%TZ)"
printf '%-18s %10s %10s %14s %10s\n' build "docker_s" "loci_s" "RECORD lines" "size_MB"
for variant in sdist git; do
    for bin in baseline current; do
        tag="loci-bench/keystone:$bin-$variant"
        lines=$("$DOCKER" run --rm --network none --entrypoint sh "$tag" -c \
            'cat /var/lib/openstack/lib/python3*/site-packages/keystone-*.dist-info/RECORD | wc -l')
        size=$(( $("$DOCKER" image inspect --format '{{.Size}}' "$tag") / 100000 ))
        printf '%-18s %10s %10s %14s %10s\n' "$bin $variant" \
            "$(printf '%s\n' ${wall[$bin-$variant]} | median)" \
            "$(printf '%s\n' ${own[$bin-$variant]} | median)" "$lines" "$(( size / 10 )).$(( size % 10 ))"
    done
done
