#!/usr/bin/env bash
# loci's gate: the OpenStack 2026.1 image set on Debian bookworm, built with the project's
# Dockerfile from compose.yaml, smoke-tested, and tabulated.
#
#     sudo tools/gate.sh                     # everything: ~14 min on 2 cores (pypi mode below)
#     sudo tools/gate.sh keystone nova       # the requirements image, then only these services
#
# Across machines, meeting in a registry (README "The gate across machines"):
#     sudo LOCI_GATE_REGISTRY=host:port tools/gate.sh inputs   # loci, base, requirements pushed
#     sudo LOCI_GATE_REGISTRY=host:port LOCI_GATE_SHARD=1/2 tools/gate.sh   # one slice, pushed
#     LOCI_GATE_REGISTRY=host:port tools/gate.sh merge A/summary.json B/summary.json
#     tools/gate.sh services                 # this shard's services (LOCI_GATE_SHARD), no build
#     tools/gate.sh table [SUMMARY]          # the table of a summary.json
#     tools/gate.sh contexts                 # the inputs' build contexts (what BuildKit hashes), no build
#
# 1. tools/setup-host.sh (packages, dockerd, the static loci binary), the binary as a FROM
#    scratch image (LOCI_IMAGE of every build), Debian bookworm (debian:bookworm when the engine
#    has it, else debootstrap'ed: no container registry needed);
# 2. the base image (compose service `base`: Dockerfile.base FROM $LOCI_GATE_FROM), trusting
#    this host's CA bundle (HTTPS through a re-signing proxy keeps working);
# 3. the requirements image from the whole 2026.1 upper-constraints.txt (KEEP_ALL_WHEELS=True,
#    `--target requirements`);
# 4. every service image, each by an engine call of its own ($LOCI_GATE_JOBS at a time: each
#    image's definition as `docker compose config` resolves it, built by `docker buildx build`
#    with the layers' compression of the run), so that a failed build stops no other, each mounting the requirements image as its
#    `wheels` named context (--no-index): once per target of LOCI_GATE_TARGETS (`project`: one
#    stage; `runtime`: two stages, tagged -runtime);
# 5. right after its build, each image's smoke test (beside the next service's build: a build
#    holds one of $LOCI_GATE_JOBS build slots, its smoke test none), as the service user, with no network
#    (tools/smoke.py): every console script of the project (and of the plugins its
#    PIP_PACKAGES add) runs with --help or --version, every entry point it declares loads
#    (oslo.config opts, oslo.policy policies, stevedore plugins); the Python packages of its
#    PIP_PACKAGES and profiles import; nova's consoles and tss user, horizon's manage.py and
#    compressed static files, skyline's console files and nginx;
# 6. summary.json and the table printed from it: image, platform, build time (loci's own, from
#    /etc/image_info, and the engine's wall time), image size, smoke result (with the counts of
#    scripts and entry points) or why it failed (also in target/gate/table.txt).
#    The exit status is non-zero when any build or smoke test failed.
#
# Environment (besides compose.yaml's LOCI_GATE_* variables):
#   LOCI_GATE_JOBS          service builds at a time (default: one per core and per 8 GB of
#                           memory, >= 1: on 2 cores two builds beside each other took the
#                           whole set 14.0 min, one at a time 15.3); as many smoke tests run
#                           beside them
#   LOCI_GATE_COMPRESSION   the layers' compression: gzip, zstd or uncompressed (default: zstd
#                           for images that stay in this engine, gzip when the gate pushes them)
#   LOCI_GATE_REFRESH_SOURCES=1  download the sdists again (pypi mode; default: an earlier
#                           run's are used again)
#   LOCI_GATE_KEEP_IMAGES=0 remove each service image once it is measured and smoke-tested
#                           (a machine without the ~20 GB the whole set takes)
#   LOCI_GATE_TARGETS       the service targets to build (default "project"; "project runtime"
#                           builds both, sizes side by side)
#   LOCI_GATE_SOURCES       git: clone $LOCI_GATE_GIT/PROJECT at $LOCI_GATE_REF (default);
#                           pypi: seed data/ with the 2026.1 sdists from PyPI, serve nova's
#                           consoles (noVNC, spice-html5 from Debian's archive) with git daemon
#                           on 127.0.0.1, and take skyline's console release wheel
#                           (SKYLINE_CONSOLE_REPO=pypi): no git server, GitHub or opendev.org
#   LOCI_GATE_CONSOLES_PORT that git daemon's port (default 19418; any free one when taken)
#   LOCI_GATE_CONSTRAINTS   dir with upper-constraints.txt and global-requirements.txt, used as
#                           data/requirements (default: clone requirements like the services;
#                           with LOCI_GATE_SOURCES=pypi: tests/fixtures/requirements-2026.1)
#   LOCI_GATE_REQUIREMENTS_ONLY  a file of constraint names: build only these wheels (a reduced
#                           gate, e.g. tests/fixtures/requirements/keystone-2026.1-closure.txt)
#   LOCI_GATE_REUSE_REQUIREMENTS=1  use an existing loci-gate/requirements image
#   LOCI_GATE_WORK          work dir (default target/gate): context, logs, table
#   LOCI_GATE_MIN_FREE_GB   free space the engine's data dir must have to start (default 25)
#   REGISTRY, COSIGN_KEY    7. push every image built to REGISTRY and, with COSIGN_KEY, sign and
#                           attest it (tools/publish.sh): the digests of each image, signature and
#                           attestation in target/gate/signed.json, in summary.json (each image's
#                           `signature` and `attestations`), as a table in signed.txt and at the
#                           end of table.txt
#   LOCI_GATE_LOCI_BIN      a static loci binary to use as it is (skips tools/setup-host.sh:
#                           no apt-get, no cargo build; docker must be running)
#   LOCI_GATE_SETUP=0       skip tools/setup-host.sh (a registry shard needs no loci binary)
#   LOCI_GATE_SERVICES      the services (spaces or commas) when no arguments name them
#   LOCI_GATE_SHARD=i/n     build the i-th of n slices of them (round robin; default 1/1)
#   LOCI_GATE_PLATFORMS     the one platform of this run (default: the engine's)
#   LOCI_GATE_REGISTRY      host:port the shards meet in: inputs from it by digest, images
#                           pushed to it (staging tags, recorded by digest), registry cache
#   LOCI_GATE_CACHE=0       no registry cache (default: on with LOCI_GATE_REGISTRY)
#   SOURCE_DATE_EPOCH       every image's times (the same digest when rebuilt from the cache)
# Every run writes $LOCI_GATE_WORK/summary.json (tools/gate-summary.schema.json) and prints
# the table from it.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/.."
repo="$(pwd)"
# LOCI master's 30 images (playbooks/vars.yaml), by LOCI's image names: compose.yaml's services.
all_services=(keystone glance cinder neutron nova placement horizon heat ironic octavia manila designate
    barbican blazar ceilometer cloudkitty cyborg freezer freezer-api magnum masakari masakari-monitors
    mistral openstack-client skyline swift tacker trove watcher zaqar)
# The PROJECT of a service (its user, its source tree in data/): LOCI's image names differ for two.
project_of() {
    case "$1" in
        openstack-client) echo python-openstackclient ;;
        skyline) echo skyline-apiserver ;;
        *) echo "$1" ;;
    esac
}
# The subcommand (default: build this shard), then the services: the arguments, else
# LOCI_GATE_SERVICES, else all 30; then this shard's slice of them (LOCI_GATE_SHARD=i/n).
command=build
case "${1:-}" in services|inputs|merge|table|contexts) command=$1; shift ;; esac
usage_error() { echo "gate.sh: $*" >&2; exit 2; }
if [ "$command" = merge ] || [ "$command" = table ]; then
    services=()
elif [ $# -gt 0 ]; then
    services=("$@")
else
    read -r -a services <<< "${LOCI_GATE_SERVICES:-${all_services[*]}}"
    services=(${services[@]//,/ })
fi
for s in "${services[@]}"; do
    case " ${all_services[*]} " in *" $s "*) ;; *) usage_error "unknown service $s (one of: ${all_services[*]})" ;; esac
done
shard="${LOCI_GATE_SHARD:-1/1}"
[[ "$shard" =~ ^([0-9]+)/([0-9]+)$ ]] && [ "${BASH_REMATCH[2]}" -ge 1 ] \
    && [ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] \
    || usage_error "LOCI_GATE_SHARD=$shard: expected i/n with 1 <= i <= n (e.g. 1/2: the first of two shards)"
shard_i=$(( BASH_REMATCH[1] )); shard_n=$(( BASH_REMATCH[2] ))
consoles_port="${LOCI_GATE_CONSOLES_PORT:-19418}"
[[ "$consoles_port" =~ ^[0-9]+$ ]] && [ "$consoles_port" -ge 1 ] && [ "$consoles_port" -le 65535 ] \
    || usage_error "LOCI_GATE_CONSOLES_PORT=$consoles_port: expected a TCP port, 1 to 65535 (nova's consoles' git daemon on 127.0.0.1)"
# (a build slot per job: 0 or a non-number would leave no slot and the services would wait forever)
[ -z "${LOCI_GATE_JOBS+set}" ] || { [[ "$LOCI_GATE_JOBS" =~ ^[0-9]+$ ]] && [ "$LOCI_GATE_JOBS" -ge 1 ]; } \
    || usage_error "LOCI_GATE_JOBS=$LOCI_GATE_JOBS: expected a number of service builds at a time, 1 or more (unset: one per core and per 8 GB of memory)"
case "${LOCI_GATE_COMPRESSION:-}" in
    ""|gzip|zstd|uncompressed) ;;
    *) usage_error "LOCI_GATE_COMPRESSION=$LOCI_GATE_COMPRESSION: expected gzip, zstd or uncompressed (unset: zstd for images that stay in this engine, gzip for pushed ones)" ;;
esac
# Round robin over the list (in its order): shard i takes the services at positions i, i+n,
# i+2n, ... (1-based), so the n shards hold every service once and the big ones spread out.
selected=(); skipped=()
for k in "${!services[@]}"; do
    if [ $(( k % shard_n )) -eq $(( shard_i - 1 )) ]; then selected+=("${services[$k]}"); else skipped+=("${services[$k]}"); fi
done
if [ "$command" = services ]; then
    [ ${#selected[@]} -eq 0 ] || printf '%s\n' "${selected[@]}"
    exit 0
fi
services=("${selected[@]}")

# (-m: on a fresh clone target/ does not exist yet, and -f would print nothing)
work="$(readlink -m "${LOCI_GATE_WORK:-target/gate}")"
mkdir -p "$work/logs"
# tools/gate-summary.sh: summary.json (rows, shards, merge) and the table printed from it.
# shellcheck source=gate-summary.sh
source "$repo/tools/gate-summary.sh"
if [ "$command" = table ]; then
    summary_table "${1:-$work/summary.json}"
    exit 0
fi
if [ "$command" = merge ]; then
    # (the registry API through `docker buildx imagetools`: no engine needed)
    docker=${DOCKER:-/usr/bin/docker}
    gate_merge "$@"
    exit $?
fi

# ---------------------------------------------------------------------------------------------
# Build contexts: one per image, each holding only what its build reads, the same bytes in
# every run and on every machine. BuildKit's cache key of a build is the content of what it
# mounts or copies from its context (names, modes, owners and bytes; not times): anything
# else in a context a build reads whole (the base's RUN mounts its context's root) makes
# every run's key depend on what the run before left there, and a new base rebuilds every
# image after it. `tools/gate.sh contexts` makes those of the inputs and stops (no engine).
#   contexts/base          Dockerfile.base, dockerfiles/, certs/ (+ this host's CA bundle)
#   contexts/requirements  Dockerfile, bindep.txt, pydep.txt, data/requirements (a committed
#                          tree, with LOCI_GATE_CONSTRAINTS or pypi sources),
#                          data/requirements-only.txt (LOCI_GATE_REQUIREMENTS_ONLY)
#   contexts/SERVICE       Dockerfile, bindep.txt, pydep.txt, data/PROJECT (pypi sources: the
#                          seeded tree, hard links into trees/)
contexts="$work/contexts"
# (the layout before one context per input: a shared context/ the base mounted whole)
rm -rf "$work/context" "$contexts"
mkdir -p "$contexts"
# Modes from the owner's, whatever the umask: read (and search, and execute where the owner
# may) for everyone, write for the owner only. Symbolic links are left as they are.
normalize_modes() { chmod -R u+rwX,go+rX,go-w "$@"; }
# A source tree as a git repository, so that pbr and /etc/image_info/project.txt see a commit.
# The same tree gives the same bytes on every machine and in every run: the commit at a fixed
# time (SOURCE_DATE_EPOCH, else the release's day), no template files (hook samples differ
# between git releases), an index without this machine's file stats (read back from the
# commit), no reflog, normalized modes.
commit_tree() { # DIR TAG
    local when="@${SOURCE_DATE_EPOCH:-1775001600} +0000"
    git -C "$1" init -q --template= -b master
    normalize_modes "$1"
    git -C "$1" add -A
    GIT_AUTHOR_DATE="$when" GIT_COMMITTER_DATE="$when" \
        git -C "$1" -c user.name=loci -c user.email=loci@localhost -c core.logAllRefUpdates=false commit -q -m "$2"
    git -C "$1" tag "$2"
    rm -f "$1/.git/index"; rm -rf "$1/.git/logs"
    git -C "$1" read-tree HEAD
    normalize_modes "$1/.git"
}
# (a tree made by an older commit_tree is made again: trees/ keys each by its sdist and this)
tree_format=2
# The Dockerfile and the dependency lists every loci build reads.
loci_files() { cp Dockerfile bindep.txt pydep.txt "$1/"; } # DIR
base_context() { # DIR
    mkdir -p "$1/certs"
    cp -r dockerfiles "$1/dockerfiles"
    cp Dockerfile.base "$1/"
    cp certs/*.crt certs/*.pem "$1/certs/" 2>/dev/null || true
    if [ -s /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$1/certs/host-ca.crt"; fi
    normalize_modes "$1"
}
# The constraints seeded as data/requirements (none: the build clones requirements).
constraints="${LOCI_GATE_CONSTRAINTS:-}"
if [ -z "$constraints" ] && [ "${LOCI_GATE_SOURCES:-git}" = pypi ]; then
    constraints="$repo/tests/fixtures/requirements-2026.1"
fi
requirements_context() { # DIR
    mkdir -p "$1/data"
    loci_files "$1"
    if [ -n "$constraints" ]; then
        mkdir -p "$1/data/requirements"
        cp "$constraints/upper-constraints.txt" "$constraints/global-requirements.txt" "$1/data/requirements/"
        commit_tree "$1/data/requirements" 2026.1
    fi
    if [ -n "${LOCI_GATE_REQUIREMENTS_ONLY:-}" ]; then
        cp "$LOCI_GATE_REQUIREMENTS_ONLY" "$1/data/requirements-only.txt"
    fi
    normalize_modes "$1"
}
base_context "$contexts/base"
requirements_context "$contexts/requirements"
if [ "$command" = contexts ]; then
    printf '%s\n' "$contexts/base" "$contexts/requirements"
    exit 0
fi
# (compose checks every service's context, even when building one: the base's stands in for
# all; every build names its own)
export LOCI_GATE_CONTEXT="$contexts/base"
export LOCI_GATE_TAG="${LOCI_GATE_TAG:-2026.1}"
if [ -n "${LOCI_GATE_LOCI_BIN:-}" ] || [ "${LOCI_GATE_SETUP:-1}" = 0 ]; then
    # A static loci binary built elsewhere (CI artifacts), or none (a registry shard takes
    # loci's image from the registry): no apt-get, no cargo build here.
    log() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }
    DOCKER=${DOCKER:-/usr/bin/docker}
    LOCI_BIN="$(readlink -f "${LOCI_GATE_LOCI_BIN:-/nonexistent}")"
    "$DOCKER" info >/dev/null 2>&1 || { echo "gate.sh: docker is not usable (tools/setup-host.sh starts dockerd)" >&2; exit 1; }
else
    # Packages, dockerd, the static loci binary and $DOCKER: shared with tests/run.sh.
    # shellcheck source=setup-host.sh
    source tools/setup-host.sh
    LOCI_BIN="${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/loci"
fi
docker="$DOCKER"
# compose runs `docker build` from PATH: make it the client with BuildKit.
export PATH="$(dirname "$docker"):$PATH"
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
die() { echo "gate.sh: $*" >&2; exit 1; }

if "$docker" compose version >/dev/null 2>&1; then
    compose=("$docker" compose -f "$repo/compose.yaml")
else
    command -v docker-compose >/dev/null || apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
    compose=(docker-compose -f "$repo/compose.yaml")
fi

# The whole gate writes about 20 GB (images and build cache) where the engine keeps its data:
# a full disk fails builds half-way (pip's "No space left on device"), so check first.
need_gb=${LOCI_GATE_MIN_FREE_GB:-25}
docker_root="$("$docker" info -f '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker)"
free_gb=$(( $(df -Pk "$docker_root" | awk 'NR == 2 {print $4}') / 1024 / 1024 ))
[ "$free_gb" -ge "$need_gb" ] || die "only ${free_gb} GB free in $docker_root, the gate needs about ${need_gb} GB: free some with \
\`docker builder prune -a\` and \`docker image prune\` (or set LOCI_GATE_MIN_FREE_GB)"

# The shard's platform (one: the merge makes the manifest lists), the registry shards meet in,
# and where this shard's images, inputs and cache go in it.
platform="${LOCI_GATE_PLATFORMS:-$("$docker" version -f '{{.Server.Os}}/{{.Server.Arch}}')}"
case "$platform" in
    *,*) usage_error "LOCI_GATE_PLATFORMS=$platform: one platform per gate run (a shard per platform; \`tools/gate.sh merge\` assembles the manifest lists)" ;;
esac
export DOCKER_DEFAULT_PLATFORM="$platform"
plat_tag="${platform//\//-}"
registry="${LOCI_GATE_REGISTRY:-}"; registry="${registry%/}"
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
if [ -n "$registry" ]; then
    input_ref() { echo "$registry/loci-gate/$1:$LOCI_GATE_TAG-$plat_tag"; } # loci|base|requirements
fi
# A compose file of this run, generated from the one list of its images (base, requirements,
# the services): with a registry, BuildKit's registry cache of each image and platform
# (mode=max: every stage's layers); with SOURCE_DATE_EPOCH, the images' times pinned to it.
gate_compose="$work/compose.gate.yaml"
{
    echo "# generated by tools/gate.sh for this run"
    echo "services:"
    for s in base requirements "${services[@]}"; do
        echo "  $s:"
        echo "    build:"
        if [ -n "$registry" ] && [ "${LOCI_GATE_CACHE:-1}" = 1 ]; then
            ref="$registry/loci-gate/cache:$s\${LOCI_GATE_SUFFIX:-}-$LOCI_GATE_TAG-$plat_tag"
            echo "      cache_from: [\"type=registry,ref=$ref\"]"
            echo "      cache_to: [\"type=registry,ref=$ref,mode=max\"]"
        fi
        if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
            [[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || usage_error "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH: expected seconds since 1970"
            echo "      args:"
            echo "        SOURCE_DATE_EPOCH: \"$SOURCE_DATE_EPOCH\""
            [ "$s" = base ] || echo "        IMAGE_CREATED: \"$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)\""
        fi
    done
} > "$gate_compose"
compose+=(-f "$gate_compose")
# The layers' compression of every image the gate exports. Compression is for moving layers:
# on 2 cores BuildKit's gzip of a service's layer and the store's unpack after it are about a
# third of a keystone build's wall time (bench/export-compression.sh). Images that stay in this
# engine get zstd (about 2.4 s less per service build: Docker >= 23 and containerd >= 1.5 read
# it); images the gate pushes (LOCI_GATE_REGISTRY, REGISTRY) keep gzip, which every puller reads.
if [ -n "${LOCI_GATE_COMPRESSION:-}" ]; then
    compression=$LOCI_GATE_COMPRESSION
elif [ -n "$registry" ] || [ -n "${REGISTRY:-}" ]; then
    compression=gzip
else
    compression=zstd
fi
# One compose service's build: its definition as `docker compose config` resolves it (compose.yaml
# and this run's file, with the LOCI_GATE_* variables of the call), built by `docker buildx build`
# with the run's compression (compose has no output options; gzip is the engine's own export, as
# compose's). A key the translation does not know fails the build by name rather than being dropped.
engine_build() { # SERVICE
    local def args=()
    def=$("${compose[@]}" config --format json | jq -c --arg s "$1" '.services[$s] | {image, build}') || return 1
    local unknown
    unknown=$(jq -r '.build | keys - ["context", "dockerfile", "args", "target", "network", "additional_contexts", "cache_from", "cache_to"] | join(" ")' <<< "$def")
    [ -z "$unknown" ] || { echo "gate.sh: compose service $1: build keys the gate cannot pass to the engine: $unknown" >&2; return 1; }
    mapfile -d '' args < <(jq -j --arg compression "$compression" '
        .image as $image | .build as $b
        | ["--file", "\($b.context)/\($b.dockerfile // "Dockerfile")"]
          + (if $b.target then ["--target", $b.target] else [] end)
          + (if $b.network then ["--network", $b.network] else [] end)
          + ([($b.args // {}) | to_entries[] | select(.value != null) | ["--build-arg", "\(.key)=\(.value)"]] | add // [])
          + ([($b.additional_contexts // {}) | to_entries[] | ["--build-context", "\(.key)=\(.value)"]] | add // [])
          + ([($b.cache_from // [])[] | ["--cache-from", .]] | add // [])
          + ([($b.cache_to // [])[] | ["--cache-to", .]] | add // [])
          + (if $compression == "gzip" then ["--tag", $image]
             else ["--output", "type=image,name=\($image),compression=\($compression),force-compression=true"] end)
          + [$b.context]
        | .[] | . + "\u0000"' <<< "$def")
    "$docker" buildx build --progress plain "${args[@]}"
}
# Pushes a local image to REF (a tag), prints the digest the registry has it under.
push_image() { # LOCAL REF LOG
    local digest
    "$docker" tag "$1" "$2"
    "$docker" push "$2" >> "$3" 2>&1 || return 1
    digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$3" | tail -1)
    [ -n "$digest" ] || return 1
    echo "$digest"
}
# The digest a registry tag points at now.
registry_digest() { # REF
    "$docker" buildx imagetools inspect --format '{{json .Manifest}}' "$1" 2>/dev/null | jq -er '.digest'
}

cores=$(nproc)
mem_gb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 1024 ))
jobs_default=$(( cores < mem_gb / 8 ? cores : mem_gb / 8 ))
jobs=${LOCI_GATE_JOBS:-$(( jobs_default < 1 ? 1 : jobs_default ))}

# Sources from PyPI (LOCI_GATE_SOURCES=pypi): the 2026.1 releases as pre-seeded trees.
# The series each project released as 2026.1 (2026-04-01; python-openstackclient and horizon
# are constraints themselves: the release upper-constraints.txt pins them).
pypi_spec() {
    case "$1" in
        keystone) echo 'keystone==29.*' ;;     nova) echo 'nova==33.*' ;;
        glance) echo 'glance==32.*' ;;         cinder) echo 'cinder==28.*' ;;
        neutron) echo 'neutron==28.*' ;;       placement) echo 'openstack-placement==15.*' ;;
        heat) echo 'openstack-heat==26.*' ;;   ironic) echo 'ironic==35.*' ;;
        octavia) echo 'octavia==18.*' ;;       manila) echo 'manila==22.*' ;;
        designate) echo 'designate==22.*' ;;   barbican) echo 'barbican==22.*' ;;
        blazar) echo 'blazar==17.*' ;;         ceilometer) echo 'ceilometer==26.*' ;;
        cloudkitty) echo 'cloudkitty==24.*' ;; cyborg) echo 'openstack-cyborg==16.*' ;;
        freezer) echo 'freezer==18.*' ;;       freezer-api) echo 'freezer-api==18.*' ;;
        magnum) echo 'magnum==22.*' ;;         masakari) echo 'masakari==21.*' ;;
        masakari-monitors) echo 'masakari-monitors==21.*' ;;
        mistral) echo 'mistral==22.*' ;;       skyline) echo 'skyline-apiserver==8.*' ;;
        swift) echo 'swift==2.37.*' ;;         tacker) echo 'tacker==15.*' ;;
        trove) echo 'trove==25.*' ;;           watcher) echo 'python-watcher==16.*' ;;
        zaqar) echo 'zaqar==22.*' ;;
        horizon) echo "horizon==$(sed -n 's/^horizon===//p' "$constraints/upper-constraints.txt")" ;;
        openstack-client) echo "python-openstackclient==$(sed -n 's/^python-openstackclient===//p' "$constraints/upper-constraints.txt")" ;;
    esac
}
# The sources of LOCI_GATE_SOURCES=pypi: every service's 2026.1 sdist (downloaded once) as a
# committed tree in $work/trees, a line per service. It needs nothing the engine makes: the gate
# runs it beside the base and requirements builds (network and git, while the engine compiles
# wheels), and waits for it before the services' contexts are made.
seed_sources() {
    [ -x "$work/pyvenv/bin/pip" ] || python3 -m venv "$work/pyvenv" >/dev/null
    dl="$work/sdists"; mkdir -p "$dl"
    # The seeded trees of an earlier run, kept by their sdist's sha256 (an unchanged sdist is
    # not unpacked and committed again: the same tree, the same bytes).
    trees="$work/trees"; mkdir -p "$trees"
    # An sdist downloaded by an earlier run is used again (LOCI_GATE_REFRESH_SOURCES=1: not).
    # The others are downloaded 8 at a time (one at a time, 30 of them took 6 minutes), the
    # project as its sdist and the build tools pip reads its metadata with (pbr, setuptools)
    # as wheels: `--no-binary :all:` built those from their sdists for every project. Each
    # with a pip cache of its own: pips sharing one race on its wheel cache (a half-written
    # origin.json read by another).
    for s in "${services[@]}"; do
        if [ "${LOCI_GATE_REFRESH_SOURCES:-0}" = 1 ] || ! ls "$dl/$s"/*.tar.gz >/dev/null 2>&1; then
            rm -rf "${dl:?}/$s"
            printf '%s\0%s\0' "$s" "$(pypi_spec "$s")"
        fi
    done | xargs -0 -r -n 2 -P 8 sh -c \
        '"$0" download -q --no-deps --no-binary "${3%%[=<>!~]*}" --cache-dir "$1/.pip-cache/$2" --dest "$1/$2" "$3" || { echo "pip download $3 failed" >&2; exit 255; }' \
        "$work/pyvenv/bin/pip" "$dl" \
        || die "downloading the sdists from PyPI failed (above: which one; is PyPI reachable through pip's index?)"
    for s in "${services[@]}"; do
        sdist=$(ls "$dl/$s"/*.tar.gz)
        project=$(project_of "$s")
        sum="$(sha256sum "$sdist" | cut -d' ' -f1) ${SOURCE_DATE_EPOCH:-} $tree_format"
        if [ ! -d "$trees/$project" ] || [ "$(cat "$trees/$project.sdist" 2>/dev/null)" != "$sum" ]; then
            rm -rf "$trees/$project" "$trees/$project.sdist"
            unpack=$(mktemp -d "$work/unpack.XXXX")
            tar --no-same-owner -xzf "$sdist" -C "$unpack"
            mv "$unpack"/*/ "$trees/$project"
            rmdir "$unpack"
            version=$(basename "$sdist" .tar.gz); version=${version##*-}
            commit_tree "$trees/$project" "$version"
            echo "$sum" > "$trees/$project.sdist"
        fi
        echo "$s: $(basename "$sdist")"
    done
}
sources_pid=""
if [ "${LOCI_GATE_SOURCES:-git}" = pypi ] && [ "${#services[@]}" -gt 0 ]; then
    seed_sources > "$work/logs/sources.log" 2>&1 &
    sources_pid=$!
    # (a gate that stops before the services stops the downloads too)
    trap '[ -z "$sources_pid" ] || kill "$sources_pid" 2>/dev/null || true' EXIT
fi

# ---------------------------------------------------------------------------------------------
# The inputs every service build takes: loci's image, base, requirements. Built here (no
# registry, or `tools/gate.sh inputs`, which pushes them), or taken from the registry by digest.
if [ "$command" = inputs ]; then
    [ -n "$registry" ] || usage_error "tools/gate.sh inputs builds and pushes the shards' inputs: set LOCI_GATE_REGISTRY"
    services=()
fi
build_inputs=0
if [ "$command" = inputs ] || [ -z "$registry" ]; then build_inputs=1; fi
if [ "$build_inputs" = 1 ]; then
[ -x "$LOCI_BIN" ] || die "no static loci binary at $LOCI_BIN (set LOCI_GATE_LOCI_BIN, or let tools/setup-host.sh build it)"
# loci's image is the binary as it is: it must be the platform's (arm64: tools/cross-build.sh
# arm64 makes target/cross/linux-arm64/loci, given as LOCI_GATE_LOCI_BIN).
case "$platform:$(file -b "$LOCI_BIN")" in
    linux/amd64:*x86-64*|linux/arm64:*aarch64*) ;;
    *) die "$LOCI_BIN is no static loci for $platform ($(file -b "$LOCI_BIN" | cut -c1-60)): set LOCI_GATE_LOCI_BIN to one (tools/cross-build.sh ARCH makes it)" ;;
esac
# 1. loci, as an image holding only /loci (every build's LOCI_IMAGE)
log "loci binary image"
bin_ctx="$work/loci-image"
rm -rf "$bin_ctx"; mkdir -p "$bin_ctx"
cp "$LOCI_BIN" "$bin_ctx/loci"
printf 'FROM scratch\nCOPY loci /loci\nENTRYPOINT ["/loci"]\n' > "$bin_ctx/Dockerfile"
normalize_modes "$bin_ctx"
"$docker" build -q --network host -t loci-gate/loci:latest "$bin_ctx" >/dev/null
export LOCI_GATE_LOCI_IMAGE=loci-gate/loci:latest

# Debian bookworm: debian:bookworm when the engine has it, else debootstrap (no registry needed;
# the same image tools/build-keystone.sh makes).
if [ -z "${LOCI_GATE_FROM:-}" ]; then
    if "$docker" image inspect debian:bookworm >/dev/null 2>&1; then
        export LOCI_GATE_FROM=debian:bookworm
    else
        export LOCI_GATE_FROM=loci/debian:bookworm-minbase
        if ! "$docker" image inspect "$LOCI_GATE_FROM" >/dev/null 2>&1; then
            log "debootstrap --variant=minbase bookworm"
            rootfs="$work/rootfs"
            rm -rf "$rootfs"
            debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
            rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
                "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
                "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
            tar -C "$rootfs" -c . | "$docker" import --change 'CMD ["bash"]' - "$LOCI_GATE_FROM"
            rm -rf "$rootfs"
        fi
    fi
fi
fi
# debootstrap's sources have no updates and security suites: the base image adds them.
export LOCI_GATE_APT_MIRROR="${LOCI_GATE_APT_MIRROR-http://deb.debian.org/debian}"
export LOCI_GATE_APT_SECURITY_MIRROR="${LOCI_GATE_APT_SECURITY_MIRROR-http://deb.debian.org/debian-security}"

# ---------------------------------------------------------------------------------------------
# 2. base (Dockerfile.base at the root of its context, this host's CA bundle in certs/)
if [ "$build_inputs" = 1 ]; then
    log "base image (FROM $LOCI_GATE_FROM)"
    LOCI_GATE_CONTEXT="$contexts/base" engine_build base > "$work/logs/base.log" 2>&1 \
        || { tail -40 "$work/logs/base.log"; die "the base image failed (log: $work/logs/base.log)"; }
fi
if [ -n "${LOCI_GATE_REQUIREMENTS_ONLY:-}" ]; then
    export LOCI_GATE_REQUIREMENTS_ONLY_FILE=/tmp/requirements-only.txt
fi

declare -A seconds result
human() { if [ "$1" -lt 0 ]; then echo reused; else printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); fi; }

# ---------------------------------------------------------------------------------------------
# 3. requirements
req_image="loci-gate/requirements:$LOCI_GATE_TAG"
inputs_json="$work/inputs.json"
image_size() { "$docker" image inspect --format '{{.Size}}' "$1"; }
image_id() { "$docker" image inspect --format '{{.Id}}' "$1"; }
# What an image holds, for "unchanged": its layers, settings, time and platform as the engine
# shows them, hashed. Not its ID: on the containerd image store that is the digest of an index
# that also holds BuildKit's provenance attestation, which records each build's times, so a
# build that was all cache hits gets a new ID.
image_content_of() { # FORMATTED-INSPECT-OUTPUT
    sha256sum <<< "$1" | cut -d' ' -f1
}
# (no Variant: the engine leaves it out when empty, and the template then fails)
content_format='{{json .RootFS}} {{json .Config}} {{.Created}} {{.Os}}/{{.Architecture}}'
if [ "$build_inputs" = 1 ]; then
if [ "${LOCI_GATE_REUSE_REQUIREMENTS:-0}" = 1 ] && "$docker" image inspect "$req_image" >/dev/null 2>&1; then
    log "reusing $req_image"
    seconds[requirements]=-1
else
    log "requirements (${LOCI_GATE_REQUIREMENTS_ONLY:-every constraint of upper-constraints.txt})"
    start=$(date +%s)
    if LOCI_GATE_CONTEXT="$contexts/requirements" engine_build requirements > "$work/logs/requirements.log" 2>&1; then
        result[requirements]=built
    else
        result[requirements]="BUILD FAILED"
    fi
    seconds[requirements]=$(( $(date +%s) - start ))
    if [ "${result[requirements]}" != built ]; then
        tail -60 "$work/logs/requirements.log"
        die "the requirements image failed after $(human "${seconds[requirements]}") (log: $work/logs/requirements.log)"
    fi
fi
# How many wheels: the image holds nothing else (listed, not extracted; once per image
# content: an unchanged requirements image is not exported again).
req_id=$(image_content_of "$("$docker" image inspect --format "$content_format" "$req_image")")
counted="$work/requirements.count"
if [ -s "$counted" ] && [ "$(cut -d' ' -f1 "$counted")" = "$req_id" ]; then
    read -r _ n_wheels has_upper < "$counted"
else
    cid=$("$docker" create "$req_image" /nothing)
    listing=$("$docker" export "$cid" | tar -t)
    "$docker" rm "$cid" >/dev/null
    n_wheels=$(grep -c '\.whl$' <<< "$listing" || true)
    has_upper=$(grep -cx 'upper-constraints.txt' <<< "$listing" || true)
    echo "$req_id $n_wheels $has_upper" > "$counted"
fi
[ "$has_upper" = 1 ] || die "$req_image has no upper-constraints.txt"
echo "$n_wheels wheels"
# The inputs, by local name and image id, or (inputs) pushed: by registry digest.
declare -A input_local=([loci]=loci-gate/loci:latest [base]=loci-gate/base:debian [requirements]="$req_image")
declare -A input_ref input_digest
for k in loci base requirements; do
    if [ "$command" = inputs ]; then
        log "push $k: $(input_ref "$k")"
        input_digest[$k]=$(push_image "${input_local[$k]}" "$(input_ref "$k")" "$work/logs/push-$k.log") \
            || { tail -20 "$work/logs/push-$k.log"; die "pushing ${input_local[$k]} to $(input_ref "$k") failed (log: $work/logs/push-$k.log)"; }
        input_ref[$k]="${registry}/loci-gate/$k@${input_digest[$k]}"
        echo "${input_ref[$k]}"
    else
        input_digest[$k]=$(image_id "${input_local[$k]}")
        input_ref[$k]="${input_local[$k]}"
    fi
done
req_seconds=${seconds[requirements]}; [ "$req_seconds" -ge 0 ] || req_seconds=""
jq -n --arg platform "$platform" \
    --arg lr "${input_ref[loci]}" --arg ld "${input_digest[loci]}" \
    --arg br "${input_ref[base]}" --arg bd "${input_digest[base]}" \
    --arg rr "${input_ref[requirements]}" --arg rd "${input_digest[requirements]}" \
    --arg rs "$req_seconds" --arg rsize "$(image_size "$req_image")" --arg wheels "$n_wheels" '
    { loci: {reference: $lr, digest: $ld, platform: $platform},
      base: {reference: $br, digest: $bd, platform: $platform},
      requirements: {reference: $rr, digest: $rd, platform: $platform,
                     seconds: (if $rs == "" then null else ($rs | tonumber) end),
                     size_bytes: ($rsize | tonumber), wheels: ($wheels | tonumber)} }' > "$inputs_json"
else
    # A shard: the inputs `tools/gate.sh inputs` pushed, pinned by digest for the whole run.
    log "inputs from $registry ($platform)"
    inputs_ok=1
    declare -A input_ref input_digest
    for k in loci base requirements; do
        if input_digest[$k]=$(registry_digest "$(input_ref "$k")"); then
            input_ref[$k]="${registry}/loci-gate/$k@${input_digest[$k]}"
            echo "$k: ${input_ref[$k]}"
        else
            echo "$k: $(input_ref "$k") is not in the registry (run \`tools/gate.sh inputs\` with the same LOCI_GATE_REGISTRY, LOCI_GATE_TAG and platform first)"
            inputs_ok=0; input_ref[$k]=""; input_digest[$k]=""
        fi
    done
    jq -n --arg platform "$platform" \
        --arg lr "${input_ref[loci]}" --arg ld "${input_digest[loci]}" \
        --arg br "${input_ref[base]}" --arg bd "${input_digest[base]}" \
        --arg rr "${input_ref[requirements]}" --arg rd "${input_digest[requirements]}" '
        def ref($r; $d): {reference: (if $r == "" then null else $r end), digest: (if $d == "" then null else $d end), platform: $platform};
        { loci: ref($lr; $ld), base: ref($br; $bd), requirements: ref($rr; $rd) }' > "$inputs_json"
    export LOCI_GATE_LOCI_IMAGE="${input_ref[loci]}" LOCI_GATE_BASE="${input_ref[base]}"
    export LOCI_GATE_WHEELS_IMAGE="${input_ref[requirements]}"
fi
if [ "$command" = inputs ]; then
    mkdir -p "$work/results-inputs"; rm -f "$work/results-inputs"/*.json
    shard="inputs" summary_write "$work/summary.json" "$work/results-inputs" "$inputs_json" "$started_at" '[]'
    summary_table "$work/summary.json"
    echo "gate.sh: the inputs of $platform are in $registry; shards take them by digest (summary: $work/summary.json)"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
declare -A seeded
if [ -n "$sources_pid" ]; then
    log "sources: 2026.1 sdists from PyPI (fetched beside the inputs' builds)"
    rc=0; wait "$sources_pid" || rc=$?
    sources_pid=""
    cat "$work/logs/sources.log"
    [ "$rc" = 0 ] || die "seeding the sources failed (above; log: $work/logs/sources.log)"
    for s in "${services[@]}"; do seeded[$s]="$work/trees/$(project_of "$s")"; done
fi

# Nova's consoles without GitHub or freedesktop.org: noVNC v1.3.0 and spice-html5 0.3.0 as
# Debian ships them (the upstream noVNC release tarball; spice-html5's files from its package,
# apt-verified), each a git repository with the upstream tag, served by git daemon on 127.0.0.1.
# Used with LOCI_GATE_SOURCES=pypi unless LOCI_GATE_NOVNC_REPO / LOCI_GATE_SPICE_REPO are set.
novnc_orig_sha256=f52e4f4fc500633f60b47bd2b79ddb87ffdd39a4e8d5b040ce313ee5ad6dc246
if [ "${LOCI_GATE_SOURCES:-git}" = pypi ] && [[ " ${services[*]} " == *" nova "* ]] \
    && [ -z "${LOCI_GATE_NOVNC_REPO:-}" ] && [ -z "${LOCI_GATE_SPICE_REPO:-}" ]; then
    log "nova's consoles: noVNC and spice-html5 from Debian, served by git daemon on 127.0.0.1"
    consoles="$work/consoles"
    rm -rf "$consoles"; mkdir -p "$consoles/dl" "$consoles/repos/novnc" "$consoles/repos/spice-html5" "$consoles/deb"
    curl -fsSL -o "$consoles/dl/novnc.tar.xz" \
        "${LOCI_GATE_APT_MIRROR:-http://deb.debian.org/debian}/pool/main/n/novnc/novnc_1.3.0.orig.tar.xz"
    echo "$novnc_orig_sha256  $consoles/dl/novnc.tar.xz" | sha256sum -c --quiet \
        || die "novnc_1.3.0.orig.tar.xz does not match its sha256 (mirror ${LOCI_GATE_APT_MIRROR:-})"
    tar --no-same-owner -xJf "$consoles/dl/novnc.tar.xz" -C "$consoles/repos/novnc" --strip-components=1
    (cd "$consoles/dl" && apt-get download -qq spice-html5 2>/dev/null) \
        || die "apt-get download spice-html5 failed (is Debian's main archive in this host's sources?)"
    dpkg-deb -x "$consoles"/dl/spice-html5_*.deb "$consoles/deb"
    cp -a "$consoles/deb/usr/share/spice-html5/." "$consoles/repos/spice-html5/"
    commit_tree "$consoles/repos/novnc" v1.3.0
    commit_tree "$consoles/repos/spice-html5" spice-html5-0.3.0
    # The same port in every run (LOCI_GATE_CONSOLES_PORT, default 19418) when it is free: the
    # port is in nova's NOVNC_REPO and SPICE_REPO build arguments, and a new one each run made
    # nova's build a cache miss in every run, its inputs unchanged. Taken: any free port (nova
    # is then built again).
    port=$(python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as git daemon --reuseaddr
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$consoles_port")
    git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --export-all \
        --base-path="$consoles/repos" "$consoles/repos" > "$work/logs/git-daemon.log" 2>&1 &
    daemon_pid=$!
    # Not a job of this shell: the builds' `wait` below must not wait for the daemon too.
    disown "$daemon_pid"
    trap 'kill "$daemon_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do git ls-remote -q "git://127.0.0.1:$port/novnc" >/dev/null 2>&1 && break; sleep 0.1; done
    export LOCI_GATE_NOVNC_REPO="git://127.0.0.1:$port/novnc" LOCI_GATE_NOVNC_REF=v1.3.0
    export LOCI_GATE_SPICE_REPO="git://127.0.0.1:$port/spice-html5" LOCI_GATE_SPICE_REF=spice-html5-0.3.0
fi

# skyline's console: LOCI's repository at the gate's ref, or with LOCI_GATE_SOURCES=pypi the
# 2026.1 release wheel (it holds the built static files; a git checkout does not).
if [ -z "${LOCI_GATE_SKYLINE_CONSOLE_REPO:-}" ]; then
    if [ "${LOCI_GATE_SOURCES:-git}" = pypi ]; then
        export LOCI_GATE_SKYLINE_CONSOLE_REPO=pypi LOCI_GATE_SKYLINE_CONSOLE_REF="${LOCI_GATE_SKYLINE_CONSOLE_REF:-==8.*}"
    else
        export LOCI_GATE_SKYLINE_CONSOLE_REPO="${LOCI_GATE_GIT:-https://opendev.org/openstack}/skyline-console"
        export LOCI_GATE_SKYLINE_CONSOLE_REF="${LOCI_GATE_SKYLINE_CONSOLE_REF:-${LOCI_GATE_REF:-stable/2026.1}}"
    fi
fi

# One build context per service: the Dockerfile, the dependency lists and a data dir holding
# its own source tree only (hard links). The data dir is bind-mounted whole, so its content is
# part of BuildKit's cache key: with one shared data dir, a change in one service's source
# would rebuild every service; this way the others stay cache hits with the same digest.
for s in "${services[@]}"; do
    rm -rf "${contexts:?}/$s"; mkdir -p "$contexts/$s/data"
    loci_files "$contexts/$s"
    normalize_modes "$contexts/$s"
    if [ -n "${seeded[$s]:-}" ]; then cp -al "${seeded[$s]}" "$contexts/$s/data/"; fi
done

# ---------------------------------------------------------------------------------------------
# 4.-5. services: each built by an engine call of its own ($jobs at a time, so one failure
# stops no other), then smoke-tested at once (and removed with LOCI_GATE_KEEP_IMAGES=0).
targets=(${LOCI_GATE_TARGETS:-project})
run_id="$(date +%s)-$$"
export LOCI_GATE_RUN="$run_id"
suffix_of() { if [ "$1" = project ]; then echo ""; else echo "-$1"; fi; }
keep_images=${LOCI_GATE_KEEP_IMAGES:-1}
if [ "$keep_images" != 1 ] && [ -n "${REGISTRY:-}" ]; then
    die "LOCI_GATE_KEEP_IMAGES=0 removes the images REGISTRY would publish: use one or the other"
fi
results="$work/results"
rm -rf "$results"; mkdir -p "$results"

# The smoke test, as the service user with no network:
# - tools/smoke.py: every console script of the image's own distributions (the project's, and
#   the plugins its PIP_PACKAGES and profiles add) runs with --help (else --version), every
#   entry point they declare loads (oslo.config opts, oslo.policy, stevedore plugins, scripts);
# - the Python modules of its PIP_PACKAGES and profiles import (fluent-logger for `fluent`,
#   python-ldap for keystone's `ldap`, rbd for `ceph`, ...);
# - nova's consoles and tss user, horizon's manage.py and compressed static files, skyline's
#   console files and nginx; bindep and pkginfo in the venv (VENV_TOOLS' default: LOCI master
#   leaves uv there too, loci only with VENV_TOOLS="bindep pkginfo uv").
# SCRIPT is constant; the service's values arrive as positional parameters.
smoke_script='set -e
modules="$1"; extra="$2"; shift 2
check() { "$@" || { echo "FAILED check: $*"; exit 1; }; }
/var/lib/openstack/bin/python3 /mnt/smoke.py "$@"
/var/lib/openstack/bin/python3 - $modules <<EOF
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
print("modules import:", *sys.argv[1:])
EOF
case "$extra" in
nova)
    check test -e /usr/share/novnc/vnc_auto.html
    check test -e /usr/share/novnc/vnc_lite.html
    check test -f /usr/share/spice-html5/spice_auto.html
    check test ! -e /usr/share/novnc/.git
    check getent passwd tss ;;
horizon)
    check test -L /usr/local/share/openstack_dashboard
    check /usr/local/share/openstack_dashboard/manage.py --help
    check test -n "$(find /var/www/html/horizon -name manifest.json)"
    check test -n "$(find /var/www/html/horizon -name "*.css" -path "*/css/*")" ;;
skyline)
    check /var/lib/openstack/bin/python3 -c "import os, skyline_console; d = os.path.dirname(skyline_console.__file__); assert os.path.isfile(os.path.join(d, \"static\", \"index.html\")), d"
    check test -x /usr/sbin/nginx ;;
esac
# The venv tools loci leaves for child images (VENV_TOOLS: bindep pkginfo).
for tool in bindep pkginfo; do check test -x "/var/lib/openstack/bin/$tool"; done
echo "extra checks: ok"'
# Per service: the modules of its PIP_PACKAGES and profiles, the extra checks, and the plugin
# distributions smoke.py tests besides the project; every image is LOCI master's (compose.yaml).
smoke() { # SERVICE IMAGE LOG
    local s=$1 img=$2 out=$3 modules extra="" plugins="" user
    user=$(project_of "$s")
    case "$s" in
        keystone) modules="keystone ldap openstackclient fluent" ;;
        nova) modules="nova libvirt rbd fluent"; extra=nova ;;
        glance) modules="glance rbd swiftclient os_brick cinderclient oslo_rootwrap fluent" ;;
        cinder) modules="cinder rbd swiftclient fluent" ;;
        neutron) modules="neutron neutron_taas neutron_vpnaas networking_baremetal fluent"
            plugins="tap-as-a-service neutron-vpnaas networking-baremetal" ;;
        placement) modules="placement httplib2" ;;
        horizon) modules="horizon openstack_dashboard pymemcache fluent"; extra=horizon ;;
        heat) modules="heat fluent" ;;
        ironic) modules="ironic fluent" ;;
        octavia) modules="octavia" ;;
        manila) modules="manila" ;;
        designate) modules="designate fluent" ;;
        barbican) modules="barbican fluent" ;;
        blazar) modules="blazar memcache pymemcache fluent" ;;
        ceilometer) modules="ceilometer fluent" ;;
        cloudkitty) modules="cloudkitty fluent" ;;
        cyborg) modules="cyborg" ;;
        freezer) modules="freezer swiftclient keystoneclient cinderclient fluent" ;;
        freezer-api) modules="freezer_api swiftclient keystoneclient fluent" ;;
        magnum) modules="magnum" ;;
        masakari) modules="masakari" ;;
        masakari-monitors) modules="masakarimonitors" ;;
        mistral) modules="mistral" ;;
        openstack-client) modules="openstackclient cmd2 barbicanclient blazarclient cinderclient cloudkittyclient cyborgclient designateclient glanceclient heatclient ironicclient keystoneclient magnumclient manilaclient mistralclient neutronclient novaclient octaviaclient swiftclient tackerclient troveclient vitrageclient watcherclient zaqarclient zunclient freezerclient sqlalchemy" ;;
        skyline) modules="skyline_apiserver skyline_console"; extra=skyline; plugins="skyline-console" ;;
        swift) modules="swift keystonemiddleware" ;;
        tacker) modules="tacker" ;;
        trove) modules="trove swiftclient" ;;
        watcher) modules="watcher" ;;
        zaqar) modules="zaqar redis fluent" ;;
        *) echo "gate.sh: no smoke test for $s" >&2; return 1 ;;
    esac
    # Images hold no bytecode (pip --no-compile, as LOCI) and their venv is not the service
    # user's to write: every interpreter of the test (one per script and per entry point loaded
    # alone) compiled every module it imports again. PYTHONPYCACHEPREFIX gives the container's
    # interpreters one bytecode cache in its /tmp, gone with the container: the first compiles,
    # the others read (the image is not changed; the same scripts run).
    # shellcheck disable=SC2086 # the plugin names are words
    "$docker" run --rm --network none --user "$user" --entrypoint sh \
        -e PYTHONPYCACHEPREFIX=/tmp/smoke-pycache \
        -v "$repo/tools/smoke.py:/mnt/smoke.py:ro" "$img" \
        -c "$smoke_script" smoke "$modules" "$extra" $plugins > "$out" 2>&1
}

# Seconds loci spent building, from a build log's "==> NAME built in 1m20s" lines (summed).
loci_seconds_of() { # LOG
    { grep -oE '==> [^ ]+ built in [0-9.hms]+' "$1" || true; } | awk '
        { t = $NF; s = 0
          if (t ~ /ms$/) { sub(/ms$/, "", t); s = t / 1000 }
          else { if (t ~ /h/) { split(t, a, "h"); s += a[1] * 3600; t = a[2] }
                 if (t ~ /m/) { split(t, a, "m"); s += a[1] * 60; t = a[2] }
                 sub(/s$/, "", t); s += t }
          sum += s; n++ }
        END { if (n) printf "%d\n", sum + 0.5 }'
}

# Build slots: $jobs engine builds at a time. A service's build holds one (a lock file of
# $work/slots, flock'd for the command's lifetime); its smoke test, push and row come after,
# outside it, beside the next service's build: on 2 cores the smoke test's interpreters and a
# build's downloads, apt and export overlap instead of taking turns.
in_build_slot() { # LOG STARTED CMD...: CMD (a command or a function of this script) in a
    # free slot, output to LOG, its start time (epoch seconds) written to STARTED; CMD's exit status
    local log=$1 started=$2 i rc fd
    shift 2
    while :; do
        for (( i = 0; i < jobs; i++ )); do
            exec {fd}> "$work/slots/$i"
            if flock -n "$fd"; then
                date +%s > "$started"
                rc=0; "$@" > "$log" 2>&1 || rc=$?
                exec {fd}>&-
                return "$rc"
            fi
            exec {fd}>&-
        done
        sleep 0.5
    done
}

# One service of one target: build, loci's time, size, smoke; the outcome in $results/ROW.*
gate_one() { # SERVICE TARGET
    local s=$1 target=$2 suffix row img log start smoke_log wall loci_s size status reason="" digest="" reference=""
    local smoke_result="" smoke_detail="" push_log unchanged=0
    suffix=$(suffix_of "$target"); row="$s$suffix"
    img="loci-gate/$s:$LOCI_GATE_TAG$suffix"
    log="$work/logs/$row-build.log"
    # The row of summary.json (and the table printed from it).
    finish() {
        summary_row "$results/$row.json" name="$row" target="$target" repository="loci-gate/$s" \
            tag="$LOCI_GATE_TAG$suffix" platform="$platform" status="$status" digest="$digest" \
            reference="$reference" size_bytes="${size:-}" loci_seconds="${loci_s:-}" wall_seconds="${wall:-}" \
            smoke_result="$smoke_result" smoke_detail="$smoke_detail" smoke_log="${smoke_log:+logs/${smoke_log##*/}}" \
            sbom="$([ "$status" = built ] && echo "$GATE_SBOM_PATH")" log="logs/${log##*/}" reason="$reason" \
            unchanged="$unchanged"
    }
    if [ "${inputs_ok:-1}" != 1 ]; then
        status=unbuildable; reason="its inputs are not in $registry (inputs.json)"; finish; return 0
    fi
    local built_ok=1 started="$work/slots/$row.started"
    LOCI_GATE_CONTEXT="$contexts/$s" LOCI_GATE_TARGET="$target" LOCI_GATE_SUFFIX="$suffix" \
        in_build_slot "$log" "$started" engine_build "$s" || built_ok=0
    # The engine's wall time: from the moment the build had its slot.
    start=$(cat "$started" 2>/dev/null || date +%s)
    wall=$(( $(date +%s) - start ))
    # (no label of the run's own: an unchanged image keeps its digest from run to run)
    local facts=""
    if [ "$built_ok" = 1 ]; then
        facts=$("$docker" image inspect --format "{{.Id}} {{.Size}} $content_format" "$img" 2>/dev/null) || facts=""
    fi
    if [ -z "$facts" ]; then
        # (a registry cache not there yet is no error: BuildKit says ERROR and goes on)
        status=failed
        # (none of these lines, e.g. an image the engine does not show: no reason, never a crash)
        reason="build failed: $( { grep -m1 'loci: error' "$log" || grep -E 'ERROR' "$log" | grep -v 'cache importer' | head -1 || true; } | cut -c1-150)"
        finish; return 0
    fi
    # loci's own time, from its build log ("==> keystone built in 1m20s"; two stages: both
    # summed); none when every step was a cache hit and loci did not run.
    loci_s=$(loci_seconds_of "$log" || true)
    local content rest
    read -r digest size rest <<< "$facts"
    content=$(image_content_of "$rest")
    smoke_log="$work/logs/$row-smoke.log"
    # Incremental: an image whose content (image_content_of) passed its smoke test in an
    # earlier run of this work dir (its record in $work/smoked/) is unchanged: the same
    # layers and config, not tested again (LOCI_GATE_RESMOKE=1 tests every image). Its row
    # says so (`unchanged`).
    local smoked="$work/smoked/$row"
    if [ "${LOCI_GATE_RESMOKE:-0}" != 1 ] && [ -s "$smoked" ] && [ "$(sed -n 1p "$smoked")" = "content:$content" ] \
        && [ -s "$smoke_log" ]; then
        status=built; smoke_result=ok; unchanged=1; smoke_detail="$(sed -n 2p "$smoked")"
    elif rm -f "$smoked" && smoke "$s" "$img" "$smoke_log"; then
        status=built; smoke_result=ok; smoke_detail="$(sed -n 's/^SMOKE //p' "$smoke_log" | tail -1)"
        mkdir -p "$work/smoked" && printf 'content:%s\n%s\n' "$content" "$smoke_detail" > "$smoked"
    else
        status=failed; smoke_result=failed
        smoke_detail="$( { grep -m1 -E '^FAILED|Error|error' "$smoke_log" || tail -1 "$smoke_log"; } | cut -c1-150)"
        reason="smoke test failed: $smoke_detail"
    fi
    # A shard pushes what passed under a staging tag and names it by digest: the image's own
    # tag moves only in `tools/gate.sh merge`, once every shard of it has succeeded.
    if [ "$status" = built ] && [ -n "$registry" ]; then
        push_log="$work/logs/$row-push.log"; : > "$push_log"
        if digest=$(push_image "$img" "$registry/loci-gate/$s:staging-$LOCI_GATE_TAG$suffix-$plat_tag" "$push_log"); then
            reference="$registry/loci-gate/$s@$digest"
        else
            status=failed; digest=""; reason="push to $registry failed (logs/${push_log##*/})"
        fi
    fi
    if [ "$keep_images" != 1 ]; then "$docker" image rm -f "$img" >/dev/null 2>&1 || true; fi
    finish
}
# One line per image as it ends (the table comes from summary.json).
row_line() { # ROW
    jq -r '"  \(.name | . + " " * ([22 - length, 1] | max))\(.status)\(if .reason then ": " + .reason elif .smoke.detail then ": " + .smoke.detail else "" end)"' \
        "$results/$1.json" 2>/dev/null || echo "  $1: no result"
}

for target in "${targets[@]}"; do
    log "building and smoke-testing ${services[*]} (target $target, $jobs builds at a time, each smoke test beside the next build)"
    start=$(date +%s)
    rm -rf "$work/slots"; mkdir -p "$work/slots"
    running=0
    for s in "${services[@]}"; do
        gate_one "$s" "$target" &
        running=$(( running + 1 ))
        # $jobs building and as many smoke-testing (in_build_slot keeps the builds to $jobs).
        if [ "$running" -ge $(( 2 * jobs )) ]; then wait -n || true; running=$(( running - 1 )); fi
    done
    wait || true
    # A service whose gate step itself stopped (no row written) is failed, never left out.
    for s in "${services[@]}"; do
        row="$s$(suffix_of "$target")"
        [ -s "$results/$row.json" ] || summary_row "$results/$row.json" name="$row" target="$target" \
            repository="loci-gate/$s" tag="$LOCI_GATE_TAG$(suffix_of "$target")" platform="$platform" \
            status=failed log="logs/$row-build.log" reason="the gate's own step for it stopped without a result (see the gate's output)"
    done
    echo "target $target: $(human $(( $(date +%s) - start )))"
    for s in "${services[@]}"; do row_line "$s$(suffix_of "$target")"; done
done

# ---------------------------------------------------------------------------------------------
# 6. summary.json (this shard's: every image of its slice, the others `skipped`), the table
skipped_json=$(for target in "${targets[@]}"; do
    suffix=$(suffix_of "$target")
    for s in "${skipped[@]}"; do
        jq -n --arg name "$s$suffix" --arg target "$target" --arg repo "loci-gate/$s" \
            --arg tag "$LOCI_GATE_TAG$suffix" --arg platform "$platform" --arg shard "$shard" '
            {name: $name, target: $target, repository: $repo, tag: $tag, platform: $platform,
             status: "skipped", digest: null, reference: null, size_bytes: null, loci_seconds: null,
             wall_seconds: null, smoke: null, sbom: null, log: null, reason: "not in shard \($shard)"}'
    done
done | jq -s '.')
summary_write "$work/summary.json" "$results" "$inputs_json" "$started_at" "$skipped_json"
summary_table "$work/summary.json" | tee "$work/table.txt"
echo "gate.sh: logs in $work/logs, summary in $work/summary.json, table in $work/table.txt"
failed=$(jq -r 'if (.failed | length) + (.unbuildable | length) > 0 then 1 else 0 end' "$work/summary.json")
declare -A result
rows=(requirements)
while IFS= read -r r; do rows+=("$r"); result[$r]=built; done < <(jq -r '.images[] | select(.status == "built") | .name' "$work/summary.json")

# ---------------------------------------------------------------------------------------------
# 7. with REGISTRY: every image built pushed, and with COSIGN_KEY signed and attested
if [ -n "${REGISTRY:-}" ]; then
    built=()
    for r in "${rows[@]}"; do
        name="${r%-runtime}"; sfx="${r#"$name"}"
        # (the requirements image is there, built or reused)
        if [ "${result[$r]:-}" = built ] || [ "$r" = requirements ]; then
            built+=("loci-gate/$name:$LOCI_GATE_TAG$sfx")
        fi
    done
    # shellcheck source=setup-signing.sh
    if [ -n "${COSIGN_KEY:-}" ]; then source tools/setup-signing.sh; fi
    log "publish ${#built[@]} images to $REGISTRY${COSIGN_KEY:+, signed}"
    if LOCI_SIGN_SUMMARY="$work/signed.json" LOCI_BIN="$LOCI_BIN" DOCKER="$docker" \
        bash tools/publish.sh "${built[@]}" > "$work/logs/publish.log" 2>&1; then
        # the digests of the signatures and attestations: in the table too (in full: signed.json)
        if [ -n "${COSIGN_KEY:-}" ]; then
            sed -n '/^image  *platform/,/^$/p' "$work/logs/publish.log" > "$work/signed.txt"
            { echo; cat "$work/signed.txt"; } | tee -a "$work/table.txt"
            summary_add_signatures "$work/summary.json" "$work/signed.json"
        fi
        echo "gate.sh: pushed${COSIGN_KEY:+, signed and verified}: $work/signed.json"
    else
        tail -20 "$work/logs/publish.log"
        echo "gate.sh: publishing failed (logs/publish.log)"
        failed=1
    fi
fi
exit $failed
