#!/usr/bin/env bash
# `loci plan` of this tree against `loci plan` of a baseline commit, byte for byte, over the
# matrix of bench/plan_cases.py (every image of compose.yaml and PROJECT=infra × every distro
# of tests/fixtures/os-release × every stage that fits × pip/uv × the forms of WHEELS, keystone
# at every combination of those, one case per build argument that changes a plan, refused
# values, a share as --json): the exit code, stdout and stderr of each.
#
#     bench/plan-compare.sh [BASELINE]      # default: main
#
# The baseline is the tree at BASELINE (`git archive`), built with this tree's target dir (its
# dependencies are shared; only loci itself is compiled again) and kept as
# target/plan-compare/loci-COMMIT. Prints the number of cases and whether every one is the
# same; exits 1 and shows the first differences otherwise (all of them: `diff -r` of
# target/plan-compare/base and target/plan-compare/current). Needs cargo and python3; no Docker,
# no network.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo="$(pwd)"
work="$repo/target/plan-compare"
commit="$(git rev-parse "${1:-main}^{commit}")"
short="$(git rev-parse --short "$commit")"
mkdir -p "$work"

base_bin="$work/loci-$commit"
if [ ! -x "$base_bin" ]; then
    src="$work/src-$commit"
    rm -rf "$src" && mkdir -p "$src"
    git archive "$commit" | tar -x -C "$src"
    echo "plan-compare: building loci at $short (the baseline)" >&2
    (cd "$src" && CARGO_TARGET_DIR="$repo/target" nice cargo build --locked -q --bin loci)
    cp "$repo/target/debug/loci" "$base_bin"
    rm -rf "$src"
fi
echo "plan-compare: building loci of this tree" >&2
# Touching main.rs makes cargo link this tree's binary again over the baseline's copy.
touch src/main.rs
nice cargo build --locked -q --bin loci
cp "$repo/target/debug/loci" "$work/loci-current"

n=$(python3 bench/plan_cases.py "$repo" "$work/fixtures" run "$base_bin" "$work/base")
python3 bench/plan_cases.py "$repo" "$work/fixtures" run "$work/loci-current" "$work/current" >/dev/null
if diff -r "$work/base" "$work/current" >"$work/diff.txt"; then
    echo "plan-compare: $n cases, every plan identical to $short's (exit code, stdout, stderr)"
else
    differing=$(grep -c '^diff -r' "$work/diff.txt" || true)
    head -n 60 "$work/diff.txt"
    echo "plan-compare: $n cases, $differing differ from $short's (all: $work/diff.txt)"
    exit 1
fi
