#!/usr/bin/env bash
# Issue 21's speed figures ("Done when" 4), on this machine, in one run:
#
#     sudo bench/gate-speed.sh                 # (c) and (b); (a) estimated from a gate log
#     sudo FULL=1 bench/gate-speed.sh          # (a) too: the full 30-image set, cold (long)
#     sudo GATE_LOG=/path/to/gate/logs bench/gate-speed.sh   # the logs (a)'s estimate reads
#     sudo PARTS="c" bench/gate-speed.sh       # only these parts (default "c b a")
#     sudo FULL=1 PARTS=a bench/gate-speed.sh && sudo B_AFTER_A=1 PARTS=b bench/gate-speed.sh
#                                              # (a), then (b) over its 30 images
#
# (c) the requirements image of keystone's closure (tests/fixtures/requirements, KEEP_ALL_WHEELS=
#     True, SOURCE_DATE_EPOCH set):
#       c1. cold: cache mounts pruned, --no-cache (which starts cache mounts empty anyway);
#           it fills the wheel cache;
#       c2. after bumping one pure-Python constraint (BUMP, default six 1.17.0 -> 1.16.0),
#           caches warm: the figure (target <= 15 s);
#       c3. the same bumped constraints cold again (as c1): the reference c2's
#           image must equal, every file byte for byte (their sha256 lists are compared).
# (b) the gate (tools/gate.sh, LOCI_GATE_SOURCES=pypi, the reduced requirements image of
#     keystone's closure and python-ldap, KEEP_ALL_WHEELS=False, SERVICES: default "keystone
#     placement", the binary built once and given as LOCI_GATE_LOCI_BIN) run three times:
#     b1 fills the caches (keystone's sdist downloaded again); then one line is added to one
#     service's source (keystone's sdist: a comment in keystone/__init__.py) and b2 is timed
#     whole (target <= 60 s for the 30 images; the figure here is for SERVICES); b3 again with
#     nothing changed: every image a cache hit, the gate's own cost per run and per unchanged
#     image. Each with the gate's steps and their wall times. B_AFTER_A=1: (b) over the work
#     of the FULL=1 run before it (all 30 services, the full requirements image; b1 is (a)).
# (a) FULL=1: tools/gate.sh for all 30 services, pypi sources, the full requirements image,
#     after `docker builder prune -af` (the figure: <= 15 min). Without FULL the estimate is
#     read from GATE_LOG (default /tmp/gate/target/gate/logs, the lead's gate run): the
#     requirements build's time and its slowest wheels, and every service's wall time.
#
# (c) builds on the gate's base image, else on tools/build-keystone.sh's. Results and logs in
# target/bench-gate-speed/. Builds use --network host.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo="$(pwd)"
out="$repo/target/bench-gate-speed"
mkdir -p "$out"
DOCKER=/usr/bin/docker
parts=" ${PARTS:-c b a} "
# (c) builds on the gate's base image (from (b) or an earlier gate run), else on
# tools/build-keystone.sh's (run when neither is there).
c_base=loci-gate/base:debian
if [[ "$parts" == *" c "* ]] && ! "$DOCKER" image inspect "$c_base" >/dev/null 2>&1; then
    c_base=loci/base:debian
    "$DOCKER" image inspect "$c_base" >/dev/null 2>&1 || tools/build-keystone.sh
fi
# shellcheck source=../tools/setup-host.sh
source tools/setup-host.sh
# This tree's binary (setup-host built it) as the LOCI_IMAGE of the requirements builds.
bin_ctx=$(mktemp -d)
cp "$LOCI_BIN" "$bin_ctx/loci"
printf 'FROM scratch\nCOPY loci /loci\n' > "$bin_ctx/Dockerfile"
"$DOCKER" build -q -t loci-bench/loci:gate-speed "$bin_ctx" >/dev/null
rm -rf "$bin_ctx"
results="$out/results.txt"
: > "$results"
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc | awk '{printf "%.1f", $1}'; }
record() { echo "$1 $2" >> "$results"; printf '%-58s %8s%s\n' "$1" "$2" "${3- s}"; }
# shellcheck source=lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"
# LOG: the requirements step's lines that open a sub-phase, each with its time in loci's RUN
# (BuildKit's `#N 12.34` prefix) and the seconds until the next one.
sub_phases() {
    grep -E '^#[0-9]+ [0-9.]+ (==> \[[0-9]+/[0-9]+\] (requirements|purge):|not built, as in LOCI|prefetch: looking up|prefetch: [0-9]+ left to pip wheel|wheel cache \(|building [0-9]+ wheels|prefetch: [0-9]+ of the [0-9]+ dependencies earlier|prefetch: the dependencies of|prefetch: dependencies of the downloaded|prefetch: the missing dependencies fetched|venv toolchain:|[0-9]+ wheels in )' "$1" |
        awk '{t = $2; $1 = ""; $2 = ""; line = substr($0, 3); if (NR > 1) printf "%7.2f  +%5.2f  %s\n", prev, t - prev, substr(last, 1, 150); prev = t; last = line}
             END {if (NR > 0) printf "%7.2f          %s\n", prev, substr(last, 1, 150)}'
}
prune_mounts() { "$DOCKER" builder prune -f --filter type=exec.cachemount >/dev/null; }
# Every file of an image with its sha256, sorted.
image_sums() { # IMAGE OUT
    local cid d
    cid=$("$DOCKER" create "$1" /nothing)
    d=$(mktemp -d)
    "$DOCKER" export "$cid" | tar -x -C "$d"
    "$DOCKER" rm "$cid" >/dev/null
    (cd "$d" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) > "$2"
    rm -rf "$d"
}

echo "loci bench/gate-speed.sh: $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---------------------------------------------------------------------------------------------
# (c) the requirements rebuild after one bumped pure-Python constraint
if [[ "$parts" == *" c "* ]]; then
bump="${BUMP:-six===1.17.0 six===1.16.0}"
read -r bump_from bump_to <<< "$bump"
# The requirements context as the gate makes it (tools/gate.sh contexts): the fixture's
# constraints committed, keystone's closure as requirements-only.txt.
rm -rf "$out/contexts-c"
ctx=$(LOCI_GATE_WORK="$out/contexts-c" LOCI_GATE_SOURCES=pypi \
    LOCI_GATE_REQUIREMENTS_ONLY=tests/fixtures/requirements/keystone-2026.1-closure.txt tools/gate.sh contexts | tail -1)
grep -qx "$bump_from" "$ctx/data/requirements/upper-constraints.txt" \
    || { echo "BUMP: $bump_from is not a line of upper-constraints.txt" >&2; exit 1; }
# (`--no-cache` also starts BuildKit's cache mounts empty: the warm build c2 goes without it,
# and reruns loci's RUN because its data dir changed.)
req_build() { # TAG LOG [ARGS...]
    local start end tag=$1 log=$2
    shift 2
    start=$(now)
    "$DOCKER" build --network host --progress plain "$@" -f "$ctx/Dockerfile" --target requirements \
        --build-arg FROM="$c_base" --build-arg LOCI_IMAGE=loci-bench/loci:gate-speed \
        --build-arg PROJECT=requirements --build-arg PROJECT_RELEASE=2026.1 \
        --build-arg PROJECT_REPO=file:///tmp/requirements --build-arg PROJECT_REF=2026.1 \
        --build-arg KEEP_ALL_WHEELS=True --build-arg REQUIREMENTS_ONLY_FILE=/tmp/requirements-only.txt \
        --build-arg SOURCE_DATE_EPOCH=1775001600 -t "$tag" "$ctx" > "$log" 2>&1 \
        || { tail -30 "$log"; echo "build failed: $log" >&2; exit 1; }
    end=$(now)
    secs "$start" "$end"
}
bump_constraint() { # FROM TO
    sed -i "s/^$1\$/$2/" "$ctx/data/requirements/upper-constraints.txt"
    git -C "$ctx/data/requirements" -c user.name=bench -c user.email=bench@localhost commit -qam "bump $1 -> $2"
    git -C "$ctx/data/requirements" tag -f 2026.1 >/dev/null
}
echo "== (c) requirements of keystone's closure; bump $bump_from -> $bump_to"
prune_mounts
t=$(req_build loci-bench/gate-speed-req:c1 "$out/c1.log" --no-cache); record "c1. requirements closure, cold (fills the wheel cache)" "$t"
bump_constraint "$bump_from" "$bump_to"
t=$(req_build loci-bench/gate-speed-req:c2 "$out/c2.log"); record "c2. requirements after one bumped constraint, caches warm" "$t"
echo "   loci's steps: $(steps_of "$out/c2.log")"
grep -oE 'wheel cache \([^)]*\): [0-9]+ of the [0-9]+ left to pip wheel reused, [0-9]+ to build' "$out/c2.log" | sed 's/^/   /' || true
grep -oE 'prefetch: [0-9]+ of the [0-9]+ binary wheels from the wheel cache' "$out/c2.log" | sed 's/^/   /' || true
grep -oE 'nothing left to build: the wheels need no build packages' "$out/c2.log" | head -1 | sed 's/^/   /' || true
# The requirements step's sub-phases: each line's time in loci's RUN (BuildKit's clock) and
# the time to the next one.
echo "   c2's requirements step, from its log (seconds into loci's RUN, then until the next line):"
sub_phases "$out/c2.log" | sed 's/^/     /'
echo "   c1's closure fetch (cold): $(grep -oE 'prefetch: the missing dependencies fetched in [0-9.]+(ms|s)' "$out/c1.log" | awk '{print $NF}')"
prune_mounts
t=$(req_build loci-bench/gate-speed-req:c3 "$out/c3.log" --no-cache); record "c3. the same constraints, cold (the reference)" "$t"
image_sums loci-bench/gate-speed-req:c2 "$out/c2.sums"
image_sums loci-bench/gate-speed-req:c3 "$out/c3.sums"
image_sums loci-bench/gate-speed-req:c1 "$out/c1.sums"
if diff -q "$out/c2.sums" "$out/c3.sums" >/dev/null; then
    echo "   c2 and c3 hold the same $(wc -l < "$out/c2.sums") files, byte for byte"
    record "c. c2 = c3 (files, byte for byte)" yes ""
else
    # A file that differs: is it one that two cold builds (c1 before the bump, c3 after) make
    # differently too, i.e. a wheel pip's build does not make reproducibly (compiled)?
    echo "   c2 and c3 differ (diff $out/c2.sums $out/c3.sums):"
    { diff "$out/c2.sums" "$out/c3.sums" || true; } | head -20 | sed 's/^/   /'
    if [ "$(awk '{print $2}' "$out/c2.sums")" = "$(awk '{print $2}' "$out/c3.sums")" ]; then
        echo "   the same file names; the differing files in c1 (cold, before the bump) and c3 (cold):"
        { diff "$out/c2.sums" "$out/c3.sums" || true; } | awk '/^</ {print $3}' | while read -r f; do
            a=$(awk -v f="$f" '$2 == f {print $1}' "$out/c1.sums"); b=$(awk -v f="$f" '$2 == f {print $1}' "$out/c3.sums")
            c=$(awk -v f="$f" '$2 == f {print $1}' "$out/c2.sums")
            echo "     $f: c1 ${a:0:12}, c2 ${c:0:12} (reused), c3 ${b:0:12}: $([ "$a" != "$b" ] && echo "two cold builds differ too: not reproducible" || echo "the cold builds agree: the cache is wrong")"
        done
    fi
    record "c. c2 = c3 (files, byte for byte)" no ""
fi
fi

# ---------------------------------------------------------------------------------------------
# (b) the gate after a one-line change in one service's source
# The gate's steps with their wall times, from its "== STEP [HH:MM:SS]" lines (each until the next).
phases() { # LOG
    awk '/^== .* \[[0-9:]+\]$/ { t = $NF; gsub(/[][]/, "", t); split(t, h, ":"); s = h[1] * 3600 + h[2] * 60 + h[3]
            if (name != "") printf "   %-70s %4d s\n", substr(name, 1, 70), s - prev
            name = $0; sub(/^== /, "", name); sub(/ \[[0-9:]+\]$/, "", name); prev = s }
         /^target [a-z]+: / { print "   " $0 }' "$1"
}
if [[ "$parts" == *" b "* ]]; then
if [ "${B_AFTER_A:-0}" = 1 ]; then
    # (b) over (a)'s work: the full set, the full requirements image; (a)'s run is b1.
    services=$(tools/gate.sh services | tr '\n' ' ')
    gwork="$out/full"
    reduced=()
else
    services="${SERVICES:-keystone placement}"
    gwork="$out/gate"
    # keystone's closure and python-ldap (its `ldap` profile), as bench/gate-shards.sh:
    # KEEP_ALL_WHEELS=False, what the closure lacks comes from PyPI.
    { cat tests/fixtures/requirements/keystone-2026.1-closure.txt; echo python-ldap; } > "$out/requirements-only.txt"
    reduced=(LOCI_GATE_REQUIREMENTS_ONLY="$out/requirements-only.txt" LOCI_GATE_KEEP_ALL_WHEELS=False)
fi
gate() { # LOG
    local start end
    start=$(now)
    env LOCI_GATE_WORK="$gwork" LOCI_GATE_SOURCES=pypi LOCI_GATE_LOCI_BIN="$LOCI_BIN" \
        "${reduced[@]}" \
        LOCI_GATE_MIN_FREE_GB="${LOCI_GATE_MIN_FREE_GB:-15}" LOCI_GATE_SERVICES="$services" \
        tools/gate.sh > "$1" 2>&1 || { tail -30 "$1"; echo "gate failed: $1" >&2; exit 1; }
    end=$(now)
    # (each run's build and smoke logs kept beside its own log)
    rm -rf "${1%.log}-logs"; cp -a "$gwork/logs" "${1%.log}-logs"
    secs "$start" "$end"
}
# Per image: status, whether unchanged, wall time and digest (the summary of the last run).
images() {
    jq -r '.images[] | "   \(.name): \(.status)\(if .unchanged then " (unchanged, not smoke-tested again)" else "" end), wall \(.wall_seconds)s, loci \(.loci_seconds // "did not run")\(if .loci_seconds then "s" else "" end), digest \(.digest[0:19])"' "$gwork/summary.json"
}
echo "== (b) the gate of: $services"
if [ "${B_AFTER_A:-0}" = 1 ]; then
    [ -s "$gwork/summary.json" ] || { echo "B_AFTER_A=1: no (a) run in $gwork (run FULL=1 first)" >&2; exit 1; }
    echo "   b1 is (a)'s run"
else
    # (keystone's sdist as PyPI has it: an earlier run of this bench changed it)
    rm -rf "$gwork/sdists/keystone"
    t=$(gate "$out/b1.log"); record "b1. gate, first run (fills the caches)" "$t"
    images | tee "$out/b1.images"
fi
# One line more in keystone's source: its sdist, re-packed (the gate seeds from it).
sdist=$(ls "$gwork"/sdists/keystone/*.tar.gz)
d=$(mktemp -d)
tar -xzf "$sdist" -C "$d"
echo "# bench/gate-speed.sh: a one-line change" >> "$d"/*/keystone/__init__.py
tar -czf "$sdist" -C "$d" .
rm -rf "$d"
t=$(gate "$out/b2.log"); record "b2. gate after a one-line change in keystone's source" "$t"
images
phases "$out/b2.log"
n_unchanged=$(jq '[.images[] | select(.unchanged == true)] | length' "$gwork/summary.json")
record "b. images unchanged in b2 (of $(wc -w <<< "$services"))" "$n_unchanged" ""
# The same again, nothing changed: every image a cache hit with its digest; what is left is
# the gate's own cost per run and per unchanged image.
t=$(gate "$out/b3.log"); record "b3. gate again, nothing changed" "$t"
images
phases "$out/b3.log"
n_unchanged=$(jq '[.images[] | select(.unchanged == true)] | length' "$gwork/summary.json")
record "b. images unchanged in b3 (of $(wc -w <<< "$services"))" "$n_unchanged" ""
echo "   the inputs in b2 and b3: $(grep -c CACHED "$gwork/logs/base.log") base steps and $(grep -c CACHED "$gwork/logs/requirements.log") requirements steps CACHED in b3"
fi

# ---------------------------------------------------------------------------------------------
# (a) the full set, cold
if [[ "$parts" != *" a "* ]]; then
    :
elif [ "${FULL:-0}" = 1 ]; then
    echo "== (a) the full set, cold"
    "$DOCKER" builder prune -af >/dev/null
    start=$(now)
    LOCI_GATE_WORK="$out/full" LOCI_GATE_SOURCES=pypi LOCI_GATE_LOCI_BIN="$LOCI_BIN" tools/gate.sh > "$out/a.log" 2>&1 || true
    record "a. the full 30-image set, cold" "$(secs "$start" "$(now)")"
    phases "$out/a.log"
    # The services: their builds' wall times (from the slot) and loci's, added up; each smoke
    # test's, from its build log's last write to its smoke log's (it starts when the build ends).
    full="$out/full"
    jq -r '[.images[] | select(.status == "built")] | "   services: \(length) built, \([.[] | select(.smoke.result == "ok")] | length) smoke-tested ok; build walls add up to \(map(.wall_seconds // 0) | add) s (loci \(map(.loci_seconds // 0) | add) s)"' "$full/summary.json"
    smoke_sum=0
    for f in "$full"/logs/*-smoke.log; do
        b="${f%-smoke.log}-build.log"
        [ -e "$b" ] && smoke_sum=$(( smoke_sum + $(stat -c %Y "$f") - $(stat -c %Y "$b") ))
    done
    echo "   smoke tests add up to $smoke_sum s; each beside the next build"
    echo "   requirements build: loci's steps $(steps_of "$full/logs/requirements.log")"
    cp "$full/logs/requirements.log" "$out/a-requirements.log"
else
    logs="${GATE_LOG:-/tmp/gate/target/gate/logs}"
    echo "== (a) estimated from $logs"
    if [ -s "$logs/requirements.log" ]; then
        echo "   requirements build: loci's steps $(steps_of "$logs/requirements.log")"
        echo "   slowest wheels built:"
        grep -oE '\[[0-9]+/[0-9]+\] [^ ]+ \([0-9.]+s\)' "$logs/requirements.log" \
            | awk '{t=$3; gsub(/[()s]/, "", t); print t, $2}' | sort -rn | head -8 | sed 's/^/     /'
    fi
    for f in "$logs"/*-build.log; do
        [ -e "$f" ] || continue
        printf '   %-28s loci %s\n' "$(basename "$f" -build.log)" "$(grep -oE '==> [^ ]+ built in [0-9.hms]+' "$f" | awk '{print $NF}' | paste -sd+)"
    done
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results: $results"
