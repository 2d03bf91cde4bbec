#!/usr/bin/env bash
# Benchmark of issue 23: keystone built the way a LOCI user builds it, side by side with
# upstream LOCI master, in one run, as medians of RUNS builds taken in turn (a, b, c, a, b, c...).
#
#     sudo bench/git-path.sh [RUNS]          # default RUNS=3
#     REBUILDS=N                             # one-line source changes rebuilt, caches warm
#                                            # (default RUNS); 0 skips them
#     BASELINE_BIN=/path/to/loci             # also the git path with this static binary (e.g.
#                                            # main's) in every run, and the two images'
#                                            # contents compared
#
# Every build is `--no-cache`, with `--network host`, over the base built from Dockerfile.base
# (tools/build-keystone.sh makes it; it is run first when its images are missing):
#   a. loci, git path: PROJECT_REPO a `git daemon` on 127.0.0.1 serving keystone's repository
#      at a tag (the repository is made from keystone's PyPI sdist: one commit, tagged with the
#      sdist's version), WHEELS the requirements image of keystone's closure
#      (loci/requirements:2026.1) pushed to a docker-registry on 127.0.0.1 and named there;
#   b. loci, sdist path: the same keystone sdist unpacked in the data dir (no .git), the same
#      WHEELS;
#   c. LOCI master: its Dockerfile and scripts (copied from ../shared/reference/loci-master
#      into the work dir), the same git source, WHEELS its own requirements image of the same
#      closure (built by its `requirements` target, from BuildKit's cache when nothing of it
#      changed since the last run; pushed to the same registry), over the
#      same base with what LOCI master's Dockerfile.base adds (git, patch, sudo, bind9-host,
#      python3-venv, libpython3; and /etc/lsb-release, which its scripts source and Debian
#      does not ship; its bindep.txt without libmariadbclient-dev, which bookworm lacks).
# KEEP_ALL_WHEELS=True everywhere (the wheels alone, `--no-index`), so no build depends on
# PyPI's speed for the project's own dependencies (LOCI's venv tools still come from PyPI, as
# its setup_venv installs them).
# Then (REBUILDS) a one-line change to keystone's source, rebuilt with caches warm (no
# --no-cache: BuildKit reruns the RUN because the context changed), on the sdist path (the git
# path's context does not change with the repository: BuildKit would reuse the layer); and as
# many one-line changes over the last sdist image with only keystone reinstalled by the venv's
# pip in a RUN of its own: the floor of a layout with the project in a layer of its own.
#
# Printed: the medians of docker's wall time, of loci's own time and of the engine's export of
# the image after the RUN (BuildKit's "exporting to image": the new layer's diff and compression,
# its unpack into the engine's image store), the ratios to LOCI master, the issue's targets
# beside those parts, loci's step times (medians, from the build log's step headers), the
# image sizes, and the load average over the run. Raw results and logs: target/bench-git-path/.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
runs=${1:-3}
rebuilds=${REBUILDS:-$runs}
out="$repo/target/bench-git-path"
reference=${LOCI_MASTER:-/work/shared/reference/loci-master}
[ -f "$reference/Dockerfile" ] || { echo "bench/git-path.sh: no LOCI master at $reference (LOCI_MASTER=DIR names its checkout)" >&2; exit 1; }

DOCKER=/usr/bin/docker
results="$out/results.txt"
if [ "${SUMMARY_ONLY:-0}" = 1 ]; then
    # The summary of the last run again, from its results and images (after a change to the
    # printing, or to add BASELINE_BIN's comparison text).
    [ -f "$out/run.env" ] || { echo "bench/git-path.sh: no run in $out to summarise" >&2; exit 1; }
    # shellcheck source=/dev/null
    source "$out/run.env"
else
if ! /usr/bin/docker image inspect loci/base:debian >/dev/null 2>&1 ||
    ! /usr/bin/docker image inspect loci/requirements:2026.1 >/dev/null 2>&1 ||
    ! ls target/build-keystone/downloads/keystone-29.*.tar.gz >/dev/null 2>&1; then
    tools/build-keystone.sh
fi
# shellcheck source=../tools/setup-host.sh
source tools/setup-host.sh
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$out" && mkdir -p "$out/logs"

# The binary under test, as a LOCI_IMAGE.
mkdir -p "$out/bin"
cp "$LOCI_BIN" "$out/bin/loci"
printf 'FROM scratch\nCOPY loci /loci\nENTRYPOINT ["/loci"]\n' >"$out/bin/Dockerfile"
"$DOCKER" build -q -t loci-bench/loci:git-path "$out/bin" >/dev/null
if [ -n "${BASELINE_BIN:-}" ]; then
    mkdir -p "$out/bin-baseline"
    cp "$BASELINE_BIN" "$out/bin-baseline/loci"
    cp "$out/bin/Dockerfile" "$out/bin-baseline/"
    "$DOCKER" build -q -t loci-bench/loci:baseline "$out/bin-baseline" >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "${init:-}" ] && [ -f "$out/__init__.py.orig" ]; then cp "$out/__init__.py.orig" "$init"; fi
}
trap cleanup EXIT

# A docker-registry on 127.0.0.1 (Debian's), holding both requirements images.
rport=$(free_port)
mkdir -p "$out/registry"
cat >"$out/registry/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $out/registry/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$rport
EOF
docker-registry serve "$out/registry/config.yml" >"$out/registry/log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$rport/v2/" >/dev/null && break; sleep 0.1; done
reg=127.0.0.1:$rport

# keystone's repository, made from its sdist, served by git daemon at the sdist's version.
sdist=$(ls target/build-keystone/downloads/keystone-29.*.tar.gz | sort -V | tail -1)
version=$(basename "$sdist" .tar.gz)
version=${version#keystone-}
mkdir -p "$out/src" "$out/git"
tar --no-same-owner -xzf "$sdist" -C "$out/src"
tree="$out/src/keystone-$version"
git -C "$tree" init -q -b master
git -C "$tree" add -A
GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
    git -C "$tree" -c user.name=loci -c user.email=loci@localhost commit -q -m "keystone $version"
git -C "$tree" tag -a -m "keystone $version" "$version"
git clone -q --bare "$tree" "$out/git/keystone.git"
gport=$(free_port)
# git-daemon itself, not the git wrapper (which forks it: killing the wrapper leaves it running).
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --base-path="$out/git" \
    --listen=127.0.0.1 --port="$gport" "$out/git" >"$out/git-daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do git ls-remote "git://127.0.0.1:$gport/keystone.git" >/dev/null 2>&1 && break; sleep 0.1; done
git ls-remote "git://127.0.0.1:$gport/keystone.git" "refs/tags/$version" | grep -q . ||
    { echo "bench/git-path.sh: git daemon on 127.0.0.1:$gport does not serve keystone at $version" >&2; exit 1; }
keystone_repo="git://127.0.0.1:$gport/keystone.git"

# The build contexts.
ctx_git="$out/ctx-git"      # nothing in data/: the source is cloned
ctx_sdist="$out/ctx-sdist"  # the unpacked sdist in data/
for c in "$ctx_git" "$ctx_sdist"; do mkdir -p "$c/data" && cp bindep.txt pydep.txt "$c/"; done
tar --no-same-owner -xzf "$sdist" -C "$ctx_sdist/data"
mv "$ctx_sdist/data/keystone-$version" "$ctx_sdist/data/keystone"
ctx_master="$out/ctx-loci-master"
mkdir -p "$ctx_master/data"
cp -r "$reference/Dockerfile" "$reference/scripts" "$reference/bindep.txt" "$reference/pydep.txt" "$ctx_master/"
# LOCI master is Ubuntu-first: its bindep.txt names libmariadbclient-dev for Debian's
# requirements profile, a package Debian dropped after buster (apt refuses the whole install
# on bookworm); keystone's closure needs no MySQL headers, so the copy leaves that line out.
sed -i '/^libmariadbclient-dev /d' "$ctx_master/bindep.txt"

# loci's requirements image, pushed and named by the registry.
log "pushing loci/requirements:2026.1 to $reg"
"$DOCKER" tag loci/requirements:2026.1 "$reg/loci/requirements:2026.1"
"$DOCKER" push -q "$reg/loci/requirements:2026.1" >/dev/null

# LOCI master's base: ours plus what its Dockerfile.base installs.
log "LOCI master's base and requirements image (its own, of the same closure)"
mkdir -p "$out/master-base"
cat >"$out/master-base/Dockerfile" <<'EOF'
FROM loci/base:debian
RUN apt-get update && apt-get install -y --no-install-recommends git netbase patch sudo bind9-host \
        python3 python3-venv lsb-release && \
    apt-get install -y --no-install-recommends "libpython3.$(python3 -c 'import sys; print(sys.version_info.minor)')" && \
    . /etc/os-release && printf 'DISTRIB_ID=Debian\nDISTRIB_RELEASE=%s\nDISTRIB_CODENAME=%s\n' "$VERSION_ID" "$VERSION_CODENAME" > /etc/lsb-release && \
    apt-get clean && rm -rf /var/lib/apt/lists/*
EOF
"$DOCKER" build -q --network host -t loci-bench/loci-master-base:debian "$out/master-base" >/dev/null
# Its requirements tree: upper-constraints reduced to keystone's closure (the names of
# tests/fixtures/requirements/keystone-2026.1-closure.txt), as loci's image is.
mkdir -p "$out/master-req/data/requirements"
cp "$ctx_master/Dockerfile" "$ctx_master/bindep.txt" "$ctx_master/pydep.txt" "$out/master-req/"
cp -r "$ctx_master/scripts" "$out/master-req/"
cp tests/fixtures/requirements-2026.1/global-requirements.txt "$out/master-req/data/requirements/"
python3 - tests/fixtures/requirements/keystone-2026.1-closure.txt tests/fixtures/requirements-2026.1/upper-constraints.txt \
    >"$out/master-req/data/requirements/upper-constraints.txt" <<'PY'
import re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
names = {norm(l.strip()) for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")}
for line in open(sys.argv[2]):
    name = re.split(r"[=<>!;\[ ]", line.strip(), 1)[0]
    if name and norm(name) in names:
        sys.stdout.write(line)
PY
start=$(date +%s.%N)
# (BuildKit's cache serves it again when nothing of it changed: it is an input, not a figure.)
"$DOCKER" build --network host --progress plain --target requirements \
    --build-arg FROM=loci-bench/loci-master-base:debian --build-arg WHEELS=scratch \
    --build-arg PROJECT=requirements --build-arg PROJECT_REF=2026.1 --build-arg KEEP_ALL_WHEELS=True \
    -t "$reg/loci-master/requirements:2026.1" "$out/master-req" >"$out/logs/loci-master-requirements.log" 2>&1 ||
    { tail -30 "$out/logs/loci-master-requirements.log"; echo "LOCI master's requirements build failed" >&2; exit 1; }
master_req_s=$(echo "$(date +%s.%N) - $start" | bc)
"$DOCKER" push -q "$reg/loci-master/requirements:2026.1" >/dev/null

steps_of() { # LOG: "name=seconds ..." of loci's step headers, and `clone`: the early clone's
    # own time (in its thread, while the package steps ran; absent when there was none)
    grep -oE '==> \[[0-9]+/[0-9]+\] [a-z-]+ done in [0-9.]+(ms|s|m[0-9.]+s)?' "$1" |
        awk '{t=$6; if (t ~ /ms$/) {sub(/ms$/,"",t); t=t/1000} else if (t ~ /m/) {split(t,p,"m"); sub(/s$/,"",p[2]); t=p[1]*60+p[2]} else {sub(/s$/,"",t)}; printf "%s=%.2f ", $3, t}'
    sed -n 's/.*(in \([0-9.]*\)s, while the steps before this one ran).*/clone=\1 /p' "$1" | head -1 | tr -d '\n'
}
export_of() { # LOG: "TOTAL LAYERS UNPACK" (seconds) of BuildKit's "exporting to image", the
    # engine's own work after the RUN: all of it, the new layers' diff and compression, and
    # their unpack into the engine's image store
    local id t l u
    id=$(sed -n 's/^#\([0-9]*\) exporting to image$/\1/p' "$1" | tail -1)
    if [ -n "$id" ]; then
        t=$(sed -n "s/^#$id DONE \([0-9.]*\)s$/\1/p" "$1" | tail -1)
        l=$(sed -n "s/^#$id exporting layers \([0-9.]*\)s done$/\1/p" "$1" | tail -1)
        u=$(sed -n "s/^#$id unpacking to .* \([0-9.]*\)s done$/\1/p" "$1" | tail -1)
    fi
    echo "${t:-nan} ${l:-nan} ${u:-nan}"
}
loci_of() { # LOG: loci's own time (its last line), or the RUN's time for LOCI master
    local s
    s=$(sed -n 's/.*==> keystone built in \([0-9.]*\)s.*/\1/p' "$1" | tail -1)
    if [ -z "$s" ]; then
        # BuildKit's DONE line of the longest step (LOCI master's project.sh RUN).
        s=$(grep -oE '^#[0-9]+ DONE [0-9.]+s' "$1" | awk '{sub(/s$/,"",$3); if ($3 > m) m = $3} END {print m + 0}')
    fi
    echo "${s:-nan}"
}
: >"$results"
build() { # LABEL TAG CONTEXT DOCKER-ARGS...
    local label="$1" tag="$2" ctx="$3" n log start wall
    shift 3
    n=$(($(grep -c "^$label " "$results" || true) + 1))
    log="$out/logs/$label-$n.log"
    start=$(date +%s.%N)
    "$DOCKER" build --network host --progress plain "$@" -t "$tag" "$ctx" >"$log" 2>&1 ||
        { tail -30 "$log"; echo "build $label failed: $log" >&2; exit 1; }
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    printf '%s %.2f %s %s %s %s\n' "$label" "$wall" "$(loci_of "$log")" \
        "$("$DOCKER" image inspect -f '{{.Size}}' "$tag")" "$(export_of "$log")" "$(steps_of "$log")" >>"$results"
    printf '%s run %s: %.1f s (load %s)\n' "$label" "$n" "$wall" "$(cut -d' ' -f1 /proc/loadavg)" >&2
}
loci_args=(-f "$repo/Dockerfile" --build-arg FROM=loci/base:debian --build-arg LOCI_IMAGE=loci-bench/loci:git-path
    --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 --build-arg KEEP_ALL_WHEELS=True
    --build-arg WHEELS="$reg/loci/requirements:2026.1")
git_args=(--build-arg PROJECT_REPO="$keystone_repo" --build-arg PROJECT_REF="$version")
master_args=(--build-arg FROM=loci-bench/loci-master-base:debian --build-arg WHEELS="$reg/loci-master/requirements:2026.1"
    --build-arg PROJECT=keystone --build-arg PROJECT_RELEASE=2026.1 --build-arg KEEP_ALL_WHEELS=True "${git_args[@]}")

# One warm-up of each (fills the package caches and pulls WHEELS), then the runs, in turn.
log "warm-up builds"
build warmup-git loci-bench/keystone:git "$ctx_git" --no-cache "${loci_args[@]}" "${git_args[@]}"
build warmup-sdist loci-bench/keystone:sdist "$ctx_sdist" --no-cache "${loci_args[@]}" \
    --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version"
build warmup-loci-master loci-bench/keystone:loci-master "$ctx_master" --no-cache "${master_args[@]}"
for run in $(seq 1 "$runs"); do
    log "run $run of $runs"
    # With BASELINE_BIN, the two git-path builds swap places every other run (the first build
    # after LOCI master's is the slower one on a loaded machine).
    order=(git)
    if [ -n "${BASELINE_BIN:-}" ]; then
        if [ $((run % 2)) = 1 ]; then order=(git git-baseline); else order=(git-baseline git); fi
    fi
    for label in "${order[@]}"; do
        if [ "$label" = git ]; then
            build git loci-bench/keystone:git "$ctx_git" --no-cache "${loci_args[@]}" "${git_args[@]}"
        else
            build git-baseline loci-bench/keystone:git-baseline "$ctx_git" --no-cache "${loci_args[@]}" "${git_args[@]}" \
                --build-arg LOCI_IMAGE=loci-bench/loci:baseline
        fi
    done
    build sdist loci-bench/keystone:sdist "$ctx_sdist" --no-cache "${loci_args[@]}" \
        --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version"
    build loci-master loci-bench/keystone:loci-master "$ctx_master" --no-cache "${master_args[@]}"
done
# A one-line change rebuilt, caches warm.
init="$ctx_sdist/data/keystone/keystone/__init__.py"
cp "$init" "$out/__init__.py.orig"
for i in $(seq 1 "$rebuilds"); do
    echo "# bench change $i $(date +%s%N)" >>"$init"
    build rebuild loci-bench/keystone:sdist "$ctx_sdist" "${loci_args[@]}" \
        --build-arg PROJECT_REPO=file:///tmp/keystone --build-arg PROJECT_REF="$version"
done
# The floor of a one-line change if the project were a layer of its own over its dependencies
# (what no loci build does today: its one RUN writes the packages, the venv and the project in
# one layer): over the last sdist image, one RUN that reinstalls only keystone from the changed
# tree with the venv's pip (no loci, no dependencies, no build isolation: pbr and setuptools
# are in the venv), caches warm. Its wall time is what such a layout would cost at the least.
mkdir -p "$out/project-layer"
cat >"$out/project-layer/Dockerfile" <<'EOF'
FROM loci-bench/keystone:sdist
USER root
RUN --mount=type=bind,source=data,target=/tmp/src \
    cp -a /tmp/src/keystone /tmp/keystone && \
    /var/lib/openstack/bin/pip install --no-deps --no-index --no-build-isolation --no-compile \
        --force-reinstall /tmp/keystone && rm -rf /tmp/keystone /root/.cache
EOF
for i in $(seq 1 "$rebuilds"); do
    echo "# bench change, project layer $i $(date +%s%N)" >>"$init"
    build project-layer loci-bench/keystone:project-layer "$ctx_sdist" -f "$out/project-layer/Dockerfile"
done
cp "$out/__init__.py.orig" "$init"
cat >"$out/run.env" <<EOF
runs=$runs
version=$version
load_start="$load_start"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
master_req_s=$master_req_s
loci_rev="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Dockerfile || echo '+changes')"
ended="$(date -u +%FT%TZ)"
EOF
# shellcheck source=/dev/null
source "$out/run.env"
fi
# What an image holds, for comparing two builds of it: the package list (and which packages
# apt holds as dependencies only: what a child image's autoremove would take), pip freeze,
# every installed distribution's RECORD (its files with their hashes), and whether git is there.
# uv writes uv_cache.json into the dist-info of what it builds from a local tree: the tree's
# mtime, new in every build whatever the binary (it is listed, without its hash).
content() { # IMAGE
    "$DOCKER" run --rm --network none --entrypoint sh "$1" -c '
        echo "## packages"; dpkg-query -W -f "\${Package} \${Version}\n" | sort
        echo "## installed as dependencies only (apt-mark showauto)"; apt-mark showauto | sort
        echo "## pip freeze"; /var/lib/openstack/bin/python -m pip freeze --all 2>/dev/null | sort
        for r in /var/lib/openstack/lib/python3*/site-packages/*.dist-info/RECORD; do
            echo "## $r"; sort "$r"
        done
        echo "## git"; command -v git || echo "no git"' |
        sed -E 's|^(.*/uv_cache\.json),.*|\1 (the source tree mtime uv records)|'
}
content loci-bench/keystone:git >"$out/content-git.txt"
content loci-bench/keystone:sdist >"$out/content-sdist.txt"
if grep -q "^git-baseline " "$results"; then
    content loci-bench/keystone:git-baseline >"$out/content-git-baseline.txt"
fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else printf "%.1f\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { grep "^$1 " "$results" | awk -v c="$2" '{print $c}' | median; }
master_wall=$(col loci-master 2)
step_medians() { # LABEL: each step's median over the runs
    local k
    for k in $(grep "^$1 " "$results" | head -1 | cut -d' ' -f8- | tr ' ' '\n' | grep = | cut -d= -f1); do
        printf '%s=%s ' "$k" "$(grep "^$1 " "$results" | tr ' ' '\n' | grep "^$k=" | cut -d= -f2 | median)"
    done
}
{
    echo "loci bench/git-path.sh: $runs runs each, alternating, medians; loci $loci_rev; keystone $version; $(nproc) cores; $ended"
    echo "load average (1/5/15 min) at the start: $load_start; at the end: $load_end"
    echo "LOCI master's requirements image (closure, once; BuildKit's cache when unchanged): $(printf '%.0f' "$master_req_s") s"
    printf '%-34s %8s %8s %9s %12s %9s\n' build wall_s loci_s export_s "wall/LOCI" size_MB
    for l in git git-baseline sdist loci-master rebuild project-layer; do
        grep -q "^$l " "$results" || continue
        w=$(col "$l" 2)
        printf '%-34s %8s %8s %9s %12.2f %9.1f\n' "$(case $l in git) echo "a. loci, git path";; git-baseline) echo "a. loci, git path, BASELINE_BIN";; sdist) echo "b. loci, sdist path";;
            loci-master) echo "c. LOCI master, git path";; rebuild) echo "loci, one-line change, warm";;
            project-layer) echo "floor: project layer alone, warm";; esac)" \
            "$w" "$(col "$l" 3)" "$(col "$l" 5)" "$(echo "$w / $master_wall" | bc -l)" "$(grep "^$l " "$results" | awk '{print $4/1000000}' | median)"
    done
    # The issue's targets beside what the engine alone takes of a build (its export after the
    # RUN; wall - loci - export is the rest of its own work: the context, the mounts, the solve).
    printf 'targets: git path <= 10 s wall and <= 0.15 x LOCI master = %.1f s; one-line change <= 5 s\n' \
        "$(echo "0.15 * $master_wall" | bc -l)"
    for l in git rebuild project-layer; do
        grep -q "^$l " "$results" || continue
        w=$(col "$l" 2) r=$(col "$l" 3) e=$(col "$l" 5)
        printf '  %-13s wall %s s = %s %s s + export %s s (%s s the layer, %s s its unpack) + the rest %.1f s\n' \
            "$l" "$w" "$([ "$l" = project-layer ] && echo "its RUN (pip)" || echo loci)" "$r" "$e" \
            "$(col "$l" 6)" "$(col "$l" 7)" "$(echo "$w - $r - $e" | bc -l)"
    done
    printf 'image content (packages, pip freeze, every RECORD): git path %s lines, %s RECORDs; git left: %s\n' \
        "$(wc -l <"$out/content-git.txt")" "$(grep -c '^## /' "$out/content-git.txt")" "$(tail -1 "$out/content-git.txt")"
    if [ -f "$out/content-git-baseline.txt" ]; then
        if diff -q "$out/content-git-baseline.txt" "$out/content-git.txt" >/dev/null; then
            echo "git path, baseline binary vs this one: identical content"
        else
            echo "git path, baseline binary vs this one: DIFFERENT content ($out/content-git-*.txt):"
            diff "$out/content-git-baseline.txt" "$out/content-git.txt" | head -20 || true
        fi
    fi
    echo
    echo "loci's steps (medians, seconds):"
    for l in git git-baseline sdist rebuild; do
        grep -q "^$l " "$results" && printf '  %-8s %s\n' "$l" "$(step_medians "$l")"
    done
} | tee "$out/summary.txt"
