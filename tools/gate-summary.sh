# The gate's JSON summary (summary.json, schema: tools/gate-summary.schema.json, README "The
# gate's summary"), the table printed from it, and the merge of shard summaries into manifest
# lists. Sourced by tools/gate.sh (needs jq; the merge needs `docker buildx imagetools`).
#
# A summary is written by every gate run (one shard, or the whole set as one shard 1/1) and by
# `tools/gate.sh merge`; the text table is only ever printed from one.

GATE_SUMMARY_VERSION=1
GATE_SBOM_PATH=/etc/image_info/sbom.cdx.json

# One image of one platform, as a JSON row in OUT (args are name=value pairs; empty: null).
# Numbers: size_bytes, loci_seconds, wall_seconds.
summary_row() { # OUT name=... ...
    local out=$1; shift
    local -a args=()
    local kv k v
    for kv in "$@"; do
        k=${kv%%=*}; v=${kv#*=}
        args+=(--arg "$k" "$v")
    done
    jq -n "${args[@]}" '
        def s($k): ($ARGS.named[$k] // "") | if . == "" then null else . end;
        def n($k): s($k) | if . == null then null else tonumber end;
        {
          name: s("name"), target: s("target"), repository: s("repository"), tag: s("tag"),
          platform: s("platform"), status: s("status"),
          digest: s("digest"), reference: s("reference"),
          size_bytes: n("size_bytes"), loci_seconds: n("loci_seconds"), wall_seconds: n("wall_seconds"),
          smoke: (if s("smoke_result") == null then null
                  else {result: s("smoke_result"), detail: s("smoke_detail"), log: s("smoke_log")} end),
          sbom: s("sbom"), log: s("log"), reason: s("reason"),
          unchanged: (s("unchanged") == "1")
        }' > "$out"
}

# The shard's summary: its rows ($results/*.json), its inputs ($work/inputs.json), the skipped
# services, the lists Kolla's summary has (built, failed, skipped, unbuildable).
summary_write() { # OUT RESULTS_DIR INPUTS_JSON STARTED SKIPPED_ROWS_JSON
    local out=$1 results=$2 inputs=$3 started=$4 skipped_json=$5 rows
    rows=$(find "$results" -maxdepth 1 -name '*.json' -print0 | sort -z | xargs -0 -r cat | jq -s '.')
    jq -n \
        --argjson version "$GATE_SUMMARY_VERSION" \
        --argjson rows "$rows" \
        --argjson skipped "$skipped_json" \
        --slurpfile inputs "$inputs" \
        --arg started "$started" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --arg run "${LOCI_GATE_RUN:-}" --arg shard "$shard" --arg platform "$platform" \
        --arg registry "${registry:-}" --arg tag "$LOCI_GATE_TAG" \
        --arg host "$(hostname)" --arg engine "$("$docker" version -f '{{.Server.Version}}' 2>/dev/null || true)" \
        --arg docker_host "${DOCKER_HOST:-unix:///var/run/docker.sock}" '
        ($rows + $skipped) as $images
        | def names($st): [$images[] | select(.status == $st) | {name, tag, platform}];
        {
          schema_version: $version, kind: "shard",
          run: $run, shard: $shard, platform: $platform, tag: $tag,
          registry: (if $registry == "" then null else $registry end),
          engine: {host: $host, docker_host: $docker_host, version: $engine},
          started: $started, finished: $finished,
          inputs: $inputs[0],
          images: $images,
          built: names("built"), failed: names("failed"),
          skipped: names("skipped"), unbuildable: names("unbuildable"),
          unchanged: [$images[] | select(.unchanged == true) | {name, tag, platform}]
        }' > "$out"
}

human_seconds() { # SECONDS|null -> 1m05s
    if [ -z "$1" ] || [ "$1" = null ]; then echo -; else printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); fi
}

# The text table, from a summary (shard or merged).
summary_table() { # SUMMARY
    local file=$1
    [ -s "$file" ] || { echo "gate.sh: no summary at $file (run the gate first)" >&2; return 1; }
    local version
    version=$(jq -r '.schema_version' "$file")
    [ "$version" = "$GATE_SUMMARY_VERSION" ] || {
        echo "gate.sh: $file is a summary of schema version $version, this gate reads $GATE_SUMMARY_VERSION" >&2
        return 1
    }
    jq -r '
        def mb: if . == null then "-" else "\((. / 1000000) | floor) MB" end;
        def t: if . == null then "-" else "\((. / 60) | floor)m\(((. % 60) | tostring) | if length < 2 then "0" + . else . end)s" end;
        def row($image; $platform; $time; $wall; $size; $result):
            "\($image | . + " " * ([34 - length, 1] | max))\($platform | . + " " * ([13 - length, 1] | max))\($time | " " * ([8 - length, 0] | max) + .)  \($wall | " " * ([7 - length, 0] | max) + .)  \($size | " " * ([8 - length, 0] | max) + .)  \($result)";
        "\(.kind) summary (schema \(.schema_version)), tag \(.tag)\(if .kind == "shard" then ", shard \(.shard), \(.platform)" else ", \(.shards | length) shards" end)\(if .registry then ", registry \(.registry)" else "" end)",
        row("image"; "platform"; "loci"; "wall"; "size"; "result"),
        ( [.inputs // {} | to_entries[] | select(.value.reference != null)]
          | .[] | row(.value.reference | sub("@sha256:.*"; "") ; .value.platform // "-"; (.value.seconds | t); "-"; (.value.size_bytes | mb);
                      "\(.key)\(if .value.wheels then ": \(.value.wheels) wheels" else "" end)\(if .value.digest then " " + .value.digest[0:19] else "" end)") ),
        ( .images[] | row("\(.repository):\(.tag)"; .platform; (.loci_seconds | t); (.wall_seconds | t); (.size_bytes | mb);
              (if .status == "built" then "ok\(if .unchanged then " (unchanged)" else "" end)\(if .smoke.detail then ": " + .smoke.detail else "" end)\(if .digest then " " + .digest[0:19] else "" end)"
               elif .status == "skipped" then "skipped (\(.reason // "another shard"))"
               else "\(.status | ascii_upcase): \(.reason // "")" end)) ),
        ( if .kind == "merged" then
            "", "manifest lists:",
            ( .manifests[] | "  \(.reference | . + " " * ([44 - length, 1] | max))\(if .status == "promoted" then "promoted \(.digest[0:19]) (\(.platforms | join(", ")))" else "HELD: \(.reason) (the tag is left as it was)" end)" )
          else empty end ),
        "built \(.built | length)\(if (.unchanged // []) | length > 0 then " (\(.unchanged | length) unchanged)" else "" end), failed \(.failed | length), skipped \(.skipped | length), unbuildable \(.unbuildable | length)"
    ' "$file"
}

# Does REF (name@digest) exist in its registry?
registry_has() { # REF
    "$docker" buildx imagetools inspect --raw "$1" >/dev/null 2>&1
}

# `tools/gate.sh merge [SHARD_SUMMARY...]`: one manifest list per image and tag from the
# shards' digests, promoted (tagged) only when every shard that was to build the image built
# it and every digest is in the registry; the merged summary in $work/summary.json.
gate_merge() { # SHARD_SUMMARY...
    local -a files=("$@")
    if [ ${#files[@]} -eq 0 ]; then
        shopt -s nullglob
        files=("$work"/shards/*.json)
        shopt -u nullglob
    fi
    [ ${#files[@]} -gt 0 ] || { echo "gate.sh merge: no shard summaries (give their paths, or put them in $work/shards/)" >&2; return 2; }
    local f v
    for f in "${files[@]}"; do
        [ -s "$f" ] || { echo "gate.sh merge: $f: no such summary" >&2; return 2; }
        v=$(jq -r '"\(.schema_version) \(.kind)"' "$f" 2>/dev/null) \
            || { echo "gate.sh merge: $f is not JSON" >&2; return 2; }
        [ "$v" = "$GATE_SUMMARY_VERSION shard" ] \
            || { echo "gate.sh merge: $f is not a shard summary of schema version $GATE_SUMMARY_VERSION ($v)" >&2; return 2; }
    done
    local all registry_m tag_m
    all=$(jq -s '.' "${files[@]}")
    registry_m=${LOCI_GATE_REGISTRY:-$(jq -r '[.[].registry | select(. != null)] | unique | if length == 1 then .[0] else "" end' <<< "$all")}
    registry_m=${registry_m%/}
    [ -n "$registry_m" ] || { echo "gate.sh merge: the shards name no one registry: set LOCI_GATE_REGISTRY" >&2; return 2; }
    tag_m=$(jq -r '[.[].tag] | unique | join(",")' <<< "$all")
    mkdir -p "$work"
    local merged_log="$work/logs/merge.log"
    mkdir -p "$work/logs"
    : > "$merged_log"

    # Every image: its rows across shards (skipped ones left out), keyed by repository:tag.
    local groups
    groups=$(jq -c '
        [ .[] as $s | $s.images[] | select(.status != "skipped") | . + {shard: $s.shard, shard_run: $s.run} ]
        | group_by("\(.repository):\(.tag)")[]' <<< "$all")
    local -a manifests=()
    local held=0 group key reason refs_json ref status digest platforms rows_platforms
    while IFS= read -r group; do
        [ -n "$group" ] || continue
        key=$(jq -r '.[0] | "\(.repository):\(.tag)"' <<< "$group")
        reason=$(jq -r '
            ( [.[] | select(.status != "built") | "\(.platform) \(.status) in shard \(.shard)\(if .reason then ": " + .reason else "" end)"] )
            + ( [group_by(.platform)[] | select(length > 1) | "\(.[0].platform) built by \(length) shards"] )
            + ( [.[] | select(.status == "built" and (.digest == null)) | "\(.platform): built with no digest (not pushed)"] )
            | join("; ")' <<< "$group")
        if [ -z "$reason" ]; then
            local -a refs=() missing=()
            while IFS= read -r digest; do
                ref="$registry_m/$(jq -r '.[0].repository' <<< "$group")@$digest"
                if registry_has "$ref"; then refs+=("$ref"); else missing+=("$digest"); fi
            done < <(jq -r '.[].digest' <<< "$group")
            if [ ${#missing[@]} -gt 0 ]; then
                reason="not in $registry_m: ${missing[*]}"
            fi
        fi
        ref="$registry_m/$key"
        rows_platforms=$(jq -c '[.[] | select(.status == "built") | .platform] | sort' <<< "$group")
        if [ -z "$reason" ]; then
            echo "== docker buildx imagetools create -t $ref ${refs[*]}" >> "$merged_log"
            if "$docker" buildx imagetools create -t "$ref" "${refs[@]}" >> "$merged_log" 2>&1; then
                digest=$("$docker" buildx imagetools inspect --format '{{json .Manifest}}' "$ref" 2>>"$merged_log" | jq -r '.digest')
                platforms=$("$docker" buildx imagetools inspect --format '{{json .Manifest}}' "$ref" 2>>"$merged_log" \
                    | jq -c '[.manifests[]? | .platform | select(. != null and .os != "unknown") | "\(.os)/\(.architecture)\(if .variant then "/" + .variant else "" end)"] | unique')
                if [ "$(jq -c 'sort' <<< "$platforms")" != "$(jq -c 'unique' <<< "$rows_platforms")" ]; then
                    reason="the list $ref holds $platforms, the shards built $rows_platforms"
                fi
            else
                reason="imagetools create failed (logs/merge.log)"
            fi
        fi
        if [ -z "$reason" ]; then
            status=promoted
        else
            status=held; held=1; digest=""; platforms=$rows_platforms
        fi
        manifests+=("$(jq -n --arg ref "$ref" --arg key "$key" --arg status "$status" --arg digest "$digest" \
            --arg reason "$reason" --argjson platforms "$platforms" --argjson group "$group" '
            {reference: $ref, repository: $group[0].repository, tag: $group[0].tag, status: $status,
             digest: (if $digest == "" then null else $digest end), platforms: $platforms,
             sources: [$group[] | {platform, shard, status, digest}],
             reason: (if $reason == "" then null else $reason end)}')")
        digest=""
    done <<< "$groups"

    local manifests_json files_json
    manifests_json=$(printf '%s\n' "${manifests[@]}" | jq -s '.')
    files_json=$(printf '%s\n' "${files[@]}" | jq -R . | jq -s '.')
    jq -n --argjson version "$GATE_SUMMARY_VERSION" --argjson all "$all" --argjson manifests "$manifests_json" \
        --argjson files "$files_json" --arg registry "$registry_m" --arg tag "$tag_m" \
        --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
        ($all | map(.images) | add) as $images
        | def names($st): [$images[] | select(.status == $st) | {name, tag, platform}];
        {
          schema_version: $version, kind: "merged", tag: $tag, registry: $registry,
          finished: $finished,
          shards: [range(0; $all | length) as $i | $all[$i]
                   | {file: $files[$i], run, shard, platform, engine, started, finished, inputs}],
          images: $images,
          manifests: $manifests,
          built: names("built"), failed: names("failed"),
          skipped: names("skipped"), unbuildable: names("unbuildable")
        }' > "$work/summary.json"
    summary_table "$work/summary.json"
    echo "gate.sh merge: $work/summary.json (log: $merged_log)"
    return $held
}

# Signing (COSIGN_KEY, tools/publish.sh): each image row of SUMMARY gets the digests `loci sign`
# wrote to SIGNED (its --summary: the index and each platform image it signed) for that image:
# `signature` (the signature manifest) and `attestations` (each attestation's layer, with its
# predicate type). A row is found by its digest: the index it belongs to (`reference`
# REPO@INDEX) at its platform, or the image itself. Rows nothing was signed for are unchanged.
summary_add_signatures() { # SUMMARY SIGNED
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    jq --slurpfile signed "$2" '
        ($signed[0].signed // []) as $s
        | .images |= map(
            . as $row
            | (first($s[] | select($row.digest != null
                                    and (.reference | endswith("@" + $row.digest))
                                    and .platform == $row.platform))
               // first($s[] | select($row.digest != null and .digest == $row.digest))
               // null) as $e
            | if $e == null then .
              else . + {signature: $e.signature,
                        attestations: [($e.attestations // {}) | to_entries[]
                                       | {predicate_type: .key, digest: .value.layer}]}
              end)' "$1" > "$tmp" && mv "$tmp" "$1"
}
