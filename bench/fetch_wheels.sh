#!/usr/bin/env bash
# Benchmark: `loci fetch-wheels` (WHEELS=<image>) against `curl -s BLOB_URL | tar xz` on the same
# blob of a local docker-registry, in the same run. Reports wall time and peak RSS of both and
# their ratios. Goal: loci within 1.2x of curl|tar, under 64 MB RSS.
#
# Usage: bench/fetch_wheels.sh [SIZE_MB ...]      (default: 100; e.g. `bench/fetch_wheels.sh 100 1000`)
# Env:   LOCI_BIN   a loci binary (default: builds target/release/loci)
#        BENCH_DIR  scratch directory (default: a temp dir under /var/tmp; needs ~3x the largest size free)
#        RUNS       timed runs per tool and size, best kept (default: 3)
#        CONTENT    random (default: incompressible, like real wheels) or text (base64: gzip works harder)
set -euo pipefail

SIZES=("${@:-100}")
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
missing=()
need /usr/bin/docker-registry || missing+=(docker-registry)
need /usr/bin/time || missing+=(time)
need curl || missing+=(curl)
need sha256sum || missing+=(coreutils)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -z "${LOCI_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
    LOCI_BIN=$ROOT/target/release/loci
fi

WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/loci-bench.XXXXXX)}
mkdir -p "$WORK"
REG_PID=
cleanup() {
    [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null || true
    [ -z "${BENCH_DIR:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

# A registry on a free port of 127.0.0.1.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 45678)
mkdir -p "$WORK/storage"
cat >"$WORK/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/storage
http:
  addr: 127.0.0.1:$PORT
  secret: bench
YAML
/usr/bin/docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
REG=http://127.0.0.1:$PORT

push_blob() { # repo file -> digest
    local digest loc
    digest=sha256:$(sha256sum "$2" | cut -d' ' -f1)
    loc=$(curl -sf -X POST -D - -o /dev/null "$REG/v2/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    case $loc in http*) ;; *) loc=$REG$loc ;; esac
    case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
    curl -sf -X PUT -H 'Content-Type: application/octet-stream' --upload-file "$2" "$loc" >/dev/null
    echo "$digest"
}

# Prints "seconds max_rss_kb" of a command (best of RUNS; each run gets a fresh directory).
measure() { # name dir-prefix command...
    local best_t= best_m= t m i
    for i in $(seq "$RUNS"); do
        rm -rf "$2"
        /usr/bin/time -f '%e %M' -o "$WORK/time.out" "${@:3}" >/dev/null
        read -r t m <"$WORK/time.out"
        if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; fi
        if [ -z "$best_m" ] || [ "$m" -gt "$best_m" ]; then best_m=$m; fi
    done
    echo "$best_t $best_m"
}

printf '%-8s %-10s %10s %12s %12s %12s %10s %10s\n' size blob_MB loci_s curl_tar_s loci_RSS_MB curl_tar_MB time_x rss_ok
for size in "${SIZES[@]}"; do
    repo=bench/wheels-$size
    src=$WORK/src-$size
    rm -rf "$src" && mkdir -p "$src"
    # Incompressible-ish wheels (wheels are zip files: gzip barely shrinks them), 4 MB each.
    n=$(( (size + 3) / 4 ))
    for i in $(seq "$n"); do
        if [ "${CONTENT:-random}" = text ]; then
            head -c 3100000 /dev/urandom | base64 >"$src/pkg$i-1.0-py3-none-any.whl"
        else
            head -c $((4 * 1024 * 1024)) /dev/urandom >"$src/pkg$i-1.0-py3-none-any.whl"
        fi
    done
    echo "pbr===6.1.0" >"$src/upper-constraints.txt"
    tar -C "$src" -cf - . | gzip -1 >"$WORK/layer-$size.tar.gz"
    rm -rf "$src"
    layer=$(push_blob "$repo" "$WORK/layer-$size.tar.gz")
    layer_size=$(stat -c %s "$WORK/layer-$size.tar.gz")
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$WORK/config.json"
    config=$(push_blob "$repo" "$WORK/config.json")
    config_size=$(stat -c %s "$WORK/config.json")
    cat >"$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config","size":$config_size},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$layer","size":$layer_size}]}
JSON
    curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
        --data-binary @"$WORK/manifest.json" "$REG/v2/$repo/manifests/latest" >/dev/null
    rm -f "$WORK/layer-$size.tar.gz"

    # Warm the registry's page cache once, then time both on the same blob.
    curl -s "$REG/v2/$repo/blobs/$layer" >/dev/null
    read -r loci_t loci_m < <(measure loci "$WORK/out-loci" env -i PATH="$PATH" \
        WHEELS="127.0.0.1:$PORT/$repo:latest" WHEELS_DEST="$WORK/out-loci" REGISTRY_PROTOCOL=http "$LOCI_BIN" fetch-wheels)
    [ -f "$WORK/out-loci/upper-constraints.txt" ] || { echo "loci did not extract the wheels" >&2; exit 1; }
    read -r curl_t curl_m < <(measure curl "$WORK/out-curl" sh -c \
        "mkdir -p '$WORK/out-curl' && curl -s '$REG/v2/$repo/blobs/$layer' | tar xz -C '$WORK/out-curl'")
    [ -f "$WORK/out-curl/upper-constraints.txt" ] || { echo "curl|tar did not extract the wheels" >&2; exit 1; }
    # Same files, same bytes.
    sum_loci=$(cd "$WORK/out-loci" && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum)
    sum_curl=$(cd "$WORK/out-curl" && find . -type f -print0 | sort -z | xargs -0 cat | sha256sum)
    [ "$sum_loci" = "$sum_curl" ] || { echo "loci and curl|tar extracted different content" >&2; exit 1; }
    rm -rf "$WORK/out-loci" "$WORK/out-curl"
    ratio=$(awk "BEGIN{printf \"%.2f\", $loci_t / ($curl_t > 0 ? $curl_t : 0.01)}")
    rss_ok=$([ "$loci_m" -lt $((64 * 1024)) ] && echo yes || echo NO)
    printf '%-8s %-10s %10s %12s %12.1f %12.1f %10s %10s\n' "${size}MB" "$((layer_size / 1024 / 1024))" \
        "$loci_t" "$curl_t" "$(awk "BEGIN{print $loci_m/1024}")" "$(awk "BEGIN{print $curl_m/1024}")" "${ratio}x" "$rss_ok"
done
