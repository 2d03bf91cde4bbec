#!/usr/bin/env bash
# Benchmark: keystone over the prebuilt base, --no-cache, three ways in one run:
#   one-stage      --target project, WHEELS the requirements image (mounted by BuildKit)
#   two-stage      --target runtime, the same WHEELS
#   two-stage-pypi the default target with no WHEELS (`docker build --build-arg PROJECT=keystone .`):
#                  PyPI against the 2026.1 upper-constraints, sdists compiled in the builder
#                  stage (the default target is the `runtime` stage then)
# Prints per build: wall time, loci's own time (builder + runtime stages), image size, and the
# ratios to the one-stage build; with RUNS > 1, the medians.
#
#     sudo bench/stages.sh [RUNS]      # default RUNS=1
#
# Needs what tools/build-keystone.sh leaves (loci/base:debian, loci/requirements:2026.1,
# loci/loci:local, target/build-keystone/keystone): it is run first when they are missing.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
runs="${1:-1}"
DOCKER=/usr/bin/docker
work=target/build-keystone
ctx="$work/keystone"

if ! "$DOCKER" image inspect loci/requirements:2026.1 >/dev/null 2>&1 || [ ! -d "$ctx/data/keystone" ]; then
    tools/build-keystone.sh
fi
cp tests/fixtures/requirements-2026.1/upper-constraints.txt "$ctx/data/upper-constraints.txt"
version="$(git -C "$ctx/data/keystone" describe --tags)"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A wall own size
for variant in one-stage two-stage two-stage-pypi; do
    case "$variant" in
        one-stage) extra=(--target project --build-arg WHEELS=loci/requirements:2026.1 --build-arg KEEP_ALL_WHEELS=True) ;;
        two-stage) extra=(--target runtime --build-arg WHEELS=loci/requirements:2026.1 --build-arg KEEP_ALL_WHEELS=True) ;;
        two-stage-pypi) extra=(--build-arg UPPER_CONSTRAINTS=/tmp/upper-constraints.txt) ;;
    esac
    walls=(); owns=()
    for run in $(seq 1 "$runs"); do
        tag="loci-bench/keystone:$variant"
        start=$(date +%s.%N)
        "$DOCKER" build --network host --no-cache -q -f Dockerfile "${extra[@]}" \
            --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE=loci/loci:local \
            --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 \
            --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version" \
            -t "$tag" "$ctx" >/dev/null
        end=$(date +%s.%N)
        walls+=("$(echo "$end - $start" | bc)")
        owns+=("$("$DOCKER" run --rm --network none --entrypoint python3 "$tag" -c \
            'import json; d=json.load(open("/etc/image_info/image_info.json")); print(round(d.get("total_seconds", 0) + (d.get("builder_total_seconds") or 0), 1))')")
        echo "$variant run $run: ${walls[-1]} s" >&2
    done
    wall[$variant]=$(printf '%s\n' "${walls[@]}" | median)
    own[$variant]=$(printf '%s\n' "${owns[@]}" | median)
    size[$variant]=$(echo "$("$DOCKER" image inspect -f '{{.Size}}' "loci-bench/keystone:$variant") / 1000000" | bc -l)
done

printf '%-15s %9s %9s %9s %11s %11s\n' build wall_s loci_s size_MB time_ratio size_ratio
for variant in one-stage two-stage two-stage-pypi; do
    printf '%-15s %9.1f %9.1f %9.1f %11.2f %11.2f\n' "$variant" "${wall[$variant]}" "${own[$variant]}" "${size[$variant]}" \
        "$(echo "${wall[$variant]} / ${wall[one-stage]}" | bc -l)" "$(echo "${size[$variant]} / ${size[one-stage]}" | bc -l)"
done
