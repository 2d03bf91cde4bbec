#!/usr/bin/env bash
# loci's gate: the OpenStack 2026.1 image set on Debian bookworm, built with the project's
# Dockerfile from compose.yaml, smoke-tested, and tabulated.
#
#     sudo tools/gate.sh                     # everything: ~30 min on 2 cores (pypi mode below)
#     sudo tools/gate.sh keystone nova       # the requirements image, then only these services
#
# 1. tools/setup-host.sh (packages, dockerd, the static loci binary), the binary as a FROM
#    scratch image (LOCI_IMAGE of every build), Debian bookworm (debian:bookworm when the engine
#    has it, else debootstrap'ed: no container registry needed);
# 2. the base image (compose service `base`: Dockerfile.base FROM $LOCI_GATE_FROM), trusting
#    this host's CA bundle (HTTPS through a re-signing proxy keeps working);
# 3. the requirements image from the whole 2026.1 upper-constraints.txt (KEEP_ALL_WHEELS=True,
#    `--target requirements`);
# 4. every service image, each by a `docker compose build` of its own ($LOCI_GATE_JOBS at a
#    time), so that a failed build stops no other, each mounting the requirements image as its
#    `wheels` named context (--no-index): once per target of LOCI_GATE_TARGETS (`project`: one
#    stage; `runtime`: two stages, tagged -runtime);
# 5. right after its build, each image's smoke test, as the service user, with no network
#    (tools/smoke.py): every console script of the project (and of the plugins its
#    PIP_PACKAGES add) runs with --help or --version, every entry point it declares loads
#    (oslo.config opts, oslo.policy policies, stevedore plugins); the Python packages of its
#    PIP_PACKAGES and profiles import; nova's consoles and tss user, horizon's manage.py and
#    compressed static files, skyline's console files and nginx;
# 6. a table: image, build time (loci's own, from /etc/image_info), image size, smoke result
#    (with the counts of scripts and entry points) or why it failed (also in
#    target/gate/table.txt).
#    The exit status is non-zero when any build or smoke test failed.
#
# Environment (besides compose.yaml's LOCI_GATE_* variables):
#   LOCI_GATE_JOBS          service builds at a time (default: one per 4 cores and 8 GB, >= 1)
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
#                           attestation in target/gate/signed.json, as a table in signed.txt and
#                           at the end of table.txt
#   LOCI_GATE_LOCI_BIN      a static loci binary to use as it is (skips tools/setup-host.sh:
#                           no apt-get, no cargo build; docker must be running)
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
if [ $# -gt 0 ]; then services=("$@"); else services=("${all_services[@]}"); fi
for s in "${services[@]}"; do
    case " ${all_services[*]} " in *" $s "*) ;; *) echo "gate.sh: unknown service $s (one of: ${all_services[*]})" >&2; exit 2 ;; esac
done

work="$(readlink -f "${LOCI_GATE_WORK:-target/gate}")"
mkdir -p "$work/logs"
context="$work/context"
# (compose checks every service's context, even when building one: it must exist from here on)
mkdir -p "$context"
export LOCI_GATE_CONTEXT="$context"
export LOCI_GATE_TAG="${LOCI_GATE_TAG:-2026.1}"
if [ -n "${LOCI_GATE_LOCI_BIN:-}" ]; then
    # A static loci binary built elsewhere (CI artifacts): no cargo build here.
    log() { printf '\n== %s [%s]\n' "$*" "$(date -u +%H:%M:%S)"; }
    DOCKER=/usr/bin/docker
    LOCI_BIN="$(readlink -f "$LOCI_GATE_LOCI_BIN")"
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

cores=$(nproc)
mem_gb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 1024 ))
jobs_default=$(( cores / 4 < mem_gb / 8 ? cores / 4 : mem_gb / 8 ))
jobs=${LOCI_GATE_JOBS:-$(( jobs_default < 1 ? 1 : jobs_default ))}

# ---------------------------------------------------------------------------------------------
# 1. loci, as an image holding only /loci (every build's LOCI_IMAGE)
log "loci binary image"
bin_ctx="$work/loci-image"
rm -rf "$bin_ctx"; mkdir -p "$bin_ctx"
cp "$LOCI_BIN" "$bin_ctx/loci"
printf 'FROM scratch\nCOPY loci /loci\nENTRYPOINT ["/loci"]\n' > "$bin_ctx/Dockerfile"
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
# debootstrap's sources have no updates and security suites: the base image adds them.
export LOCI_GATE_APT_MIRROR="${LOCI_GATE_APT_MIRROR-http://deb.debian.org/debian}"
export LOCI_GATE_APT_SECURITY_MIRROR="${LOCI_GATE_APT_SECURITY_MIRROR-http://deb.debian.org/debian-security}"

# ---------------------------------------------------------------------------------------------
# 2. base (Dockerfile.base at the root of the context, this host's CA bundle in certs/)
log "base image (FROM $LOCI_GATE_FROM)"
rm -rf "$context/certs" "$context/dockerfiles"
mkdir -p "$context/certs"
cp -a dockerfiles "$context/dockerfiles"
cp Dockerfile.base "$context/"
cp certs/*.crt certs/*.pem "$context/certs/" 2>/dev/null || true
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$context/certs/host-ca.crt"; fi
"${compose[@]}" build base > "$work/logs/base.log" 2>&1 || { tail -40 "$work/logs/base.log"; die "the base image failed (log: $work/logs/base.log)"; }

# A source tree as a git repository, so that pbr and /etc/image_info/project.txt see a commit.
commit_tree() { # DIR TAG
    git -C "$1" init -q -b master
    git -C "$1" add -A
    git -C "$1" -c user.name=loci -c user.email=loci@localhost commit -q -m "$2"
    git -C "$1" tag "$2"
}

# ---------------------------------------------------------------------------------------------
# The build context: the Dockerfile, the dependency lists, and a data dir of our own.
rm -rf "$context/data"; mkdir -p "$context/data"
cp Dockerfile bindep.txt pydep.txt "$context/"
constraints="${LOCI_GATE_CONSTRAINTS:-}"
if [ -z "$constraints" ] && [ "${LOCI_GATE_SOURCES:-git}" = pypi ]; then
    constraints="$repo/tests/fixtures/requirements-2026.1"
fi
if [ -n "$constraints" ]; then
    mkdir -p "$context/data/requirements"
    cp "$constraints/upper-constraints.txt" "$constraints/global-requirements.txt" "$context/data/requirements/"
    commit_tree "$context/data/requirements" 2026.1
fi
if [ -n "${LOCI_GATE_REQUIREMENTS_ONLY:-}" ]; then
    cp "$LOCI_GATE_REQUIREMENTS_ONLY" "$context/data/requirements-only.txt"
    export LOCI_GATE_REQUIREMENTS_ONLY_FILE=/tmp/requirements-only.txt
fi

declare -A seconds result
human() { if [ "$1" -lt 0 ]; then echo reused; else printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); fi; }

# ---------------------------------------------------------------------------------------------
# 3. requirements
req_image="loci-gate/requirements:$LOCI_GATE_TAG"
if [ "${LOCI_GATE_REUSE_REQUIREMENTS:-0}" = 1 ] && "$docker" image inspect "$req_image" >/dev/null 2>&1; then
    log "reusing $req_image"
    seconds[requirements]=-1
else
    log "requirements (${LOCI_GATE_REQUIREMENTS_ONLY:-every constraint of upper-constraints.txt})"
    start=$(date +%s)
    if "${compose[@]}" build requirements > "$work/logs/requirements.log" 2>&1; then
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
# How many wheels: the image holds nothing else (listed, not extracted).
cid=$("$docker" create "$req_image" /nothing)
n_wheels=$("$docker" export "$cid" | tar -t | grep -c '\.whl$' || true)
has_upper=$("$docker" export "$cid" | tar -t | grep -cx 'upper-constraints.txt' || true)
"$docker" rm "$cid" >/dev/null
[ "$has_upper" = 1 ] || die "$req_image has no upper-constraints.txt"
echo "$n_wheels wheels"
rm -rf "$context/data/requirements-only.txt"

# ---------------------------------------------------------------------------------------------
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
rm -rf "$context/data/requirements"
if [ "${LOCI_GATE_SOURCES:-git}" = pypi ]; then
    log "sources: 2026.1 sdists from PyPI"
    python3 -m venv "$work/pyvenv" >/dev/null
    dl="$work/sdists"; mkdir -p "$dl"
    for s in "${services[@]}"; do
        spec=$(pypi_spec "$s")
        # An sdist downloaded by an earlier run is used again (LOCI_GATE_REFRESH_SOURCES=1: not).
        if [ "${LOCI_GATE_REFRESH_SOURCES:-0}" = 1 ] || ! ls "$dl/$s"/*.tar.gz >/dev/null 2>&1; then
            rm -rf "$dl/$s"
            "$work/pyvenv/bin/pip" download -q --no-deps --no-binary :all: --dest "$dl/$s" "$spec"
        fi
        sdist=$(ls "$dl/$s"/*.tar.gz)
        unpack=$(mktemp -d "$work/unpack.XXXX")
        tar --no-same-owner -xzf "$sdist" -C "$unpack"
        project=$(project_of "$s")
        mv "$unpack"/*/ "$context/data/$project"
        rmdir "$unpack"
        version=$(basename "$sdist" .tar.gz); version=${version##*-}
        commit_tree "$context/data/$project" "$version"
        echo "$s: $(basename "$sdist")"
    done
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
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
    # shellcheck disable=SC2086 # the plugin names are words
    "$docker" run --rm --network none --user "$user" --entrypoint sh \
        -v "$repo/tools/smoke.py:/mnt/smoke.py:ro" "$img" \
        -c "$smoke_script" smoke "$modules" "$extra" $plugins > "$out" 2>&1
}

# One service of one target: build, loci's time, size, smoke; the outcome in $results/ROW.*
gate_one() { # SERVICE TARGET
    local s=$1 target=$2 suffix row img log start smoke_log
    suffix=$(suffix_of "$target"); row="$s$suffix"
    img="loci-gate/$s:$LOCI_GATE_TAG$suffix"
    log="$work/logs/$row-build.log"
    start=$(date +%s)
    LOCI_GATE_TARGET="$target" LOCI_GATE_SUFFIX="$suffix" "${compose[@]}" build "$s" > "$log" 2>&1 || true
    echo $(( $(date +%s) - start )) > "$results/$row.wall"
    # Built now (not an older image of the same name): labelled with this run's id.
    if [ "$("$docker" image inspect --format '{{index .Config.Labels "loci.gate.run"}}' "$img" 2>/dev/null)" != "$run_id" ]; then
        echo "BUILD FAILED (logs/$row-build.log: $(grep -m1 -E 'loci: error|ERROR' "$log" | cut -c1-150))" > "$results/$row.result"
        return 0
    fi
    # loci's own time, from the image (two stages: the builder's and the runtime's).
    "$docker" run --rm --network none --entrypoint python3 "$img" -c \
        'import json; d=json.load(open("/etc/image_info/image_info.json")); print(int(d.get("total_seconds", 0) + d.get("builder_total_seconds", 0)))' \
        > "$results/$row.seconds" 2>/dev/null || echo 0 > "$results/$row.seconds"
    echo "$(( $("$docker" image inspect --format '{{.Size}}' "$img") / 1000000 )) MB" > "$results/$row.size"
    smoke_log="$work/logs/$row-smoke.log"
    if smoke "$s" "$img" "$smoke_log"; then
        echo "ok: $(sed -n 's/^SMOKE //p' "$smoke_log" | tail -1)" > "$results/$row.result"
    else
        echo "SMOKE FAILED (logs/$row-smoke.log: $( { grep -m1 -E '^FAILED|Error|error' "$smoke_log" || tail -1 "$smoke_log"; } | cut -c1-150))" > "$results/$row.result"
    fi
    if [ "$keep_images" != 1 ]; then "$docker" image rm -f "$img" >/dev/null 2>&1 || true; fi
}

rows=(requirements)
for target in "${targets[@]}"; do
    log "building and smoke-testing ${services[*]} (target $target, $jobs at a time)"
    start=$(date +%s)
    running=0
    for s in "${services[@]}"; do
        rows+=("$s$(suffix_of "$target")")
        gate_one "$s" "$target" &
        running=$(( running + 1 ))
        if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$(( running - 1 )); fi
    done
    wait || true
    echo "target $target: $(human $(( $(date +%s) - start )))"
    for s in "${services[@]}"; do
        row="$s$(suffix_of "$target")"
        printf '  %-22s %s\n' "$row" "$(cat "$results/$row.result" 2>/dev/null || echo 'no result')"
    done
done

# ---------------------------------------------------------------------------------------------
# 6. the table
failed=0
for r in "${rows[@]:1}"; do
    case "$(cat "$results/$r.result" 2>/dev/null)" in ok*) result[$r]=built ;; BUILD*|"") failed=1 ;; *) result[$r]=built; failed=1 ;; esac
done
{
    printf '%-34s %10s %10s  %s\n' image "build time" size smoke
    printf '%-34s %10s %10s  %s\n' "$req_image" "$(human "${seconds[requirements]:-0}")" \
        "$(( $("$docker" image inspect --format '{{.Size}}' "$req_image") / 1000000 )) MB" "$n_wheels wheels"
    for r in "${rows[@]:1}"; do
        name="${r%-runtime}"; sfx="${r#"$name"}"
        printf '%-34s %10s %10s  %s\n' "loci-gate/$name:$LOCI_GATE_TAG$sfx" \
            "$(human "$(cat "$results/$r.seconds" 2>/dev/null || echo 0)")" \
            "$(cat "$results/$r.size" 2>/dev/null || echo -)" \
            "$(cat "$results/$r.result" 2>/dev/null || echo 'no result')"
    done
} | tee "$work/table.txt"
echo "gate.sh: logs in $work/logs, table in $work/table.txt"

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
        fi
        echo "gate.sh: pushed${COSIGN_KEY:+, signed and verified}: $work/signed.json"
    else
        tail -20 "$work/logs/publish.log"
        echo "gate.sh: publishing failed (logs/publish.log)"
        failed=1
    fi
fi
exit $failed
