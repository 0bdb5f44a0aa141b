#!/bin/sh
# run-fuzz.sh TARGET SEEDS WORKDIR SECONDS — a bounded libFuzzer run.
# New inputs go to WORKDIR/corpus (never into the source tree); a crash
# leaves its input in WORKDIR and fails the test. SEEDS.dict, if present,
# is the target's libFuzzer dictionary (tokens of its format).
# libFuzzer ends a finding with 77, which meson reads as "skipped": every
# finding and timeout exits 1 instead, so it fails the test.
set -eu
target=$1 seeds=$2 work=$3 secs=$4
mkdir -p "$work/corpus"
set --
[ -f "$seeds.dict" ] && set -- -dict="$seeds.dict"
exec "$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/corpus" \
	"$seeds"
