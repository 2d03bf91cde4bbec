#!/usr/bin/env bash
# The gate across machines, end to end, with its figures: three Docker engines that share
# nothing but a registry (Debian's docker-registry on 127.0.0.1), each with its own data root,
# image store and build cache.
#
#     sudo LOCI_GATE_ENGINE2=unix:///run/engine-b/docker.sock \
#          LOCI_GATE_ENGINE3=unix:///run/engine-c/docker.sock bench/gate-shards.sh
#
# The first engine is DOCKER_HOST's. A second and third dockerd beside it, e.g.:
#     dockerd --data-root /var/lib/docker-b --exec-root /run/docker-b -H unix:///run/engine-b/docker.sock \
#         --pidfile /run/docker-b.pid --containerd-namespace b --containerd-plugins-namespace b-plugins \
#         --bridge=none --iptables=false --config-file daemon.json   # {"features": {"containerd-snapshotter": true}}
# The third engine is reset (every image and all build cache removed) by this script.
#
# A reduced set, to fit 2 cores: the requirements image of keystone's closure and python-ldap
# (LOCI_GATE_REQUIREMENTS_ONLY), the services keystone and placement from their 2026.1 sdists
# (LOCI_GATE_SOURCES=pypi; KEEP_ALL_WHEELS=False: what the closure lacks comes from PyPI), amd64.
# 1. engine 1: `tools/gate.sh inputs` (loci, base, requirements pushed once);
# 2. engine 1 builds shard 1/2 (keystone), engine 2 shard 2/2 (placement), at the same time,
#    each taking the inputs from the registry by digest and pushing by digest;
#    `tools/gate.sh merge` promotes both; engine 3 pulls keystone by tag and it issues a token;
# 3. a failed shard: engine 2's placement from a source that does not exist (LOCI_GATE_GIT of
#    nothing): `failed` in its summary, its gate exits non-zero, the merge holds placement's tag
#    (the digest is the one of step 2) and promotes keystone;
# 4. registry cache: engine 3 reset, keystone built cold without the registry cache, reset
#    again, built with it: wall times and image manifest digests (SOURCE_DATE_EPOCH set).
# The figures are printed at the end and kept in target/bench-gate/figures.txt; bench/README.md
# keeps the last run's.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
: "${LOCI_GATE_ENGINE2:?set LOCI_GATE_ENGINE2 to a second engine's DOCKER_HOST (see the top of this script)}"
: "${LOCI_GATE_ENGINE3:?set LOCI_GATE_ENGINE3 to a third engine's DOCKER_HOST (it is reset)}"
engine1=${DOCKER_HOST:-unix:///var/run/docker.sock}
[ "$engine1" != "$LOCI_GATE_ENGINE2" ] && [ "$engine1" != "$LOCI_GATE_ENGINE3" ] && [ "$LOCI_GATE_ENGINE2" != "$LOCI_GATE_ENGINE3" ] \
    || { echo "the three engines must differ" >&2; exit 2; }
# shellcheck source=../tools/setup-host.sh
source tools/setup-host.sh
out="$repo/target/bench-gate"
rm -rf "$out"; mkdir -p "$out/registry"
figures="$out/figures.txt"; : > "$figures"
fig() { echo "$*" | tee -a "$figures"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$out/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $out/registry/storage
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$out/registry/config.yml" > "$out/registry/log" 2>&1 &
registry_pid=$!
keystone_name="loci-bench-keystone-$$"
cleanup() {
    kill "$registry_pid" 2>/dev/null || true
    DOCKER_HOST=$LOCI_GATE_ENGINE3 docker rm -f "$keystone_name" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
reg=127.0.0.1:$port
# keystone's closure and python-ldap (the gate's keystone has LOCI's `ldap` profile; python-ldap
# has no binary wheel on PyPI), the rest from PyPI.
{ cat tests/fixtures/requirements/keystone-2026.1-closure.txt; echo python-ldap; } > "$out/requirements-only.txt"
export LOCI_GATE_REGISTRY=$reg LOCI_GATE_SOURCES=pypi LOCI_GATE_KEEP_ALL_WHEELS=False \
    LOCI_GATE_REQUIREMENTS_ONLY=$out/requirements-only.txt \
    LOCI_GATE_SERVICES="keystone placement" LOCI_GATE_MIN_FREE_GB=${LOCI_GATE_MIN_FREE_GB:-10} \
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}
gate() { # ENGINE WORK ARGS... (env as given)
    local engine=$1 work=$2; shift 2
    DOCKER_HOST=$engine LOCI_GATE_WORK=$work bash tools/gate.sh "$@"
}
secs() { echo $(( $(date +%s) - $1 )); }
tag_digest() { docker buildx imagetools inspect --format '{{json .Manifest}}' "$1" | jq -r .digest; }
# The digest of the platform's image manifest in an index (the provenance beside it records
# the build's own times, so the index digests of two builds differ).
image_manifest() { docker buildx imagetools inspect --format '{{json .Manifest}}' "$1" \
    | jq -r '[.manifests[] | select(.platform.architecture == "amd64")][0].digest'; }
reset_engine() { # ENGINE
    DOCKER_HOST=$1 docker system prune -af >/dev/null
    DOCKER_HOST=$1 docker builder prune -af >/dev/null
    DOCKER_HOST=$1 docker image ls -q | (xargs -r env DOCKER_HOST="$1" docker image rm -f >/dev/null || true)
}

log "1. inputs on engine 1 ($engine1) -> $reg"
t=$(date +%s)
gate "$engine1" "$out/inputs" inputs > "$out/inputs.log" 2>&1 || { tail -30 "$out/inputs.log"; exit 1; }
fig "1. inputs (loci, base, requirements of keystone's closure) built and pushed: $(secs "$t") s"

log "2. shard 1/2 on engine 1, shard 2/2 on engine 2, at once"
t=$(date +%s)
LOCI_GATE_SHARD=1/2 gate "$engine1" "$out/round1-shard1" > "$out/round1-shard1.log" 2>&1 &
p1=$!
LOCI_GATE_SHARD=2/2 gate "$LOCI_GATE_ENGINE2" "$out/round1-shard2" > "$out/round1-shard2.log" 2>&1 &
p2=$!
s1=0; wait "$p1" || s1=$?
s2=0; wait "$p2" || s2=$?
fig "2. shards 1/2 and 2/2 on two engines: $(secs "$t") s wall (exit $s1, $s2)"
for sh in 1 2; do bash tools/gate.sh table "$out/round1-shard$sh/summary.json" | tee -a "$figures"; done
[ "$s1" = 0 ] && [ "$s2" = 0 ] || { tail -30 "$out"/round1-shard*.log; exit 1; }
ms=0; LOCI_GATE_WORK=$out/round1-merge bash tools/gate.sh merge "$out/round1-shard1/summary.json" \
    "$out/round1-shard2/summary.json" > "$out/round1-merge.log" 2>&1 || ms=$?
tee -a "$figures" < "$out/round1-merge.log"
[ "$ms" = 0 ] || { echo "the merge of two good shards failed" >&2; exit 1; }
placement_before=$(tag_digest "$reg/loci-gate/placement:2026.1")
keystone_cold_wall=$(jq -r '.images[] | select(.name == "keystone") | .wall_seconds' "$out/round1-shard1/summary.json")

log "2b. engine 3 (clean) pulls keystone by tag; it issues a token"
reset_engine "$LOCI_GATE_ENGINE3"
export DOCKER_HOST_3=$LOCI_GATE_ENGINE3
DOCKER_HOST=$LOCI_GATE_ENGINE3 docker pull -q "$reg/loci-gate/keystone:2026.1" > /dev/null
conf=$out/keystone-conf; mkdir -p "$conf"; chmod 755 "$conf"
printf '[DEFAULT]\nuse_stderr = true\n[database]\nconnection = sqlite:////var/lib/keystone/keystone.db\n[fernet_tokens]\nkey_repository = /var/lib/keystone/fernet-keys\n[fernet_receipts]\nkey_repository = /var/lib/keystone/fernet-keys\n[credential]\nkey_repository = /var/lib/keystone/credential-keys\n[token]\nprovider = fernet\n' > "$conf/keystone.conf"
chmod 644 "$conf/keystone.conf"
kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The script is constant; the port and password arrive as positional parameters.
DOCKER_HOST=$LOCI_GATE_ENGINE3 docker run -d --name "$keystone_name" --network host --user keystone \
    -v "$conf/keystone.conf:/etc/keystone/keystone.conf:ro" "$reg/loci-gate/keystone:2026.1" sh -c '
set -e
port="$1"; password="$2"
keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
keystone-manage db_sync
keystone-manage bootstrap --bootstrap-password "$password" --bootstrap-admin-url "http://127.0.0.1:$port/v3" \
    --bootstrap-public-url "http://127.0.0.1:$port/v3" --bootstrap-region-id RegionOne
if command -v keystone-wsgi-public >/dev/null 2>&1; then
    exec uwsgi --http-socket "127.0.0.1:$port" --master --processes 1 --threads 2 --wsgi-file "$(command -v keystone-wsgi-public)"
else
    exec uwsgi --http-socket "127.0.0.1:$port" --master --processes 1 --threads 2 --module keystone.wsgi.api:application
fi
' keystone "$kport" bench-Pa55 > /dev/null
token=""
for _ in $(seq 1 120); do
    token=$(curl -s --noproxy '*' -D - -o /dev/null -H 'Content-Type: application/json' \
        -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"bench-Pa55"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
        "http://127.0.0.1:$kport/v3/auth/tokens" | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *\([^[:space:]]*\).*/\1/p') || true
    [ -n "$token" ] && break
    sleep 1
done
DOCKER_HOST=$LOCI_GATE_ENGINE3 docker logs "$keystone_name" > "$out/keystone-engine3.log" 2>&1 || true
DOCKER_HOST=$LOCI_GATE_ENGINE3 docker rm -f "$keystone_name" > /dev/null
[ -n "$token" ] || { tail -20 "$out/keystone-engine3.log"; echo "keystone pulled by engine 3 issued no token" >&2; exit 1; }
fig "2b. engine 3 pulled $reg/loci-gate/keystone:2026.1 ($(tag_digest "$reg/loci-gate/keystone:2026.1")) by tag: it issued a token (${#token} characters)"

log "3. a failed shard: placement from a source that does not exist"
t=$(date +%s)
LOCI_GATE_SHARD=1/2 gate "$engine1" "$out/round2-shard1" > "$out/round2-shard1.log" 2>&1 &
p1=$!
LOCI_GATE_SHARD=2/2 LOCI_GATE_SOURCES=git LOCI_GATE_GIT=http://127.0.0.1:9/nothing \
    gate "$LOCI_GATE_ENGINE2" "$out/round2-shard2" > "$out/round2-shard2.log" 2>&1 &
p2=$!
s1=0; wait "$p1" || s1=$?
s2=0; wait "$p2" || s2=$?
fig "3. round 2: shard 1/2 exit $s1, shard 2/2 (placement's source missing) exit $s2, $(secs "$t") s wall"
bash tools/gate.sh table "$out/round2-shard2/summary.json" | tee -a "$figures"
[ "$s1" = 0 ] && [ "$s2" != 0 ] || { echo "expected shard 1 to pass and shard 2 to fail" >&2; exit 1; }
[ "$(jq -r '.images[] | select(.name == "placement") | .status' "$out/round2-shard2/summary.json")" = failed ] \
    || { echo "placement is not failed in shard 2's summary" >&2; exit 1; }
ms=0; LOCI_GATE_WORK=$out/round2-merge bash tools/gate.sh merge "$out/round2-shard1/summary.json" \
    "$out/round2-shard2/summary.json" > "$out/round2-merge.log" 2>&1 || ms=$?
tee -a "$figures" < "$out/round2-merge.log"
placement_after=$(tag_digest "$reg/loci-gate/placement:2026.1")
[ "$ms" != 0 ] || { echo "the merge with a failed shard exited 0" >&2; exit 1; }
[ "$placement_after" = "$placement_before" ] || { echo "placement's tag moved: $placement_before -> $placement_after" >&2; exit 1; }
[ "$(jq -r '.manifests[] | select(.repository == "loci-gate/keystone") | .status' "$out/round2-merge/summary.json")" = promoted ] \
    || { echo "keystone was not promoted in round 2" >&2; exit 1; }
fig "3. merge exit $ms: keystone promoted, placement held; placement:2026.1 still $placement_after"

log "4. registry cache: keystone on a reset engine 3, without and with the registry's cache"
keystone_ref1=$(jq -r '.images[] | select(.name == "keystone") | .reference' "$out/round1-shard1/summary.json")
reset_engine "$LOCI_GATE_ENGINE3"
LOCI_GATE_CACHE=0 LOCI_GATE_SERVICES=keystone gate "$LOCI_GATE_ENGINE3" "$out/cold" > "$out/cold.log" 2>&1 \
    || { tail -30 "$out/cold.log"; exit 1; }
reset_engine "$LOCI_GATE_ENGINE3"
LOCI_GATE_SERVICES=keystone gate "$LOCI_GATE_ENGINE3" "$out/cached" > "$out/cached.log" 2>&1 \
    || { tail -30 "$out/cached.log"; exit 1; }
cold=$(jq -r '.images[0].wall_seconds' "$out/cold/summary.json")
cached=$(jq -r '.images[0].wall_seconds' "$out/cached/summary.json")
m1=$(image_manifest "$keystone_ref1")
m2=$(image_manifest "$(jq -r '.images[0].reference' "$out/cached/summary.json")")
fig "4. keystone on a reset engine: cold ${cold} s (engine 1's first build: ${keystone_cold_wall} s), from the registry cache ${cached} s: ratio $(python3 -c "print(round($cached / $cold, 2))")"
fig "4. keystone's image manifest: round 1 $m1, from the cache $m2: $([ "$m1" = "$m2" ] && echo same || echo DIFFERENT)"
reset_engine "$LOCI_GATE_ENGINE3"

log "figures ($(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ); loci $(git rev-parse --short HEAD))"
cat "$figures"
