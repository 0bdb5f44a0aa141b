#!/bin/bash
# The whole test suite, from a clean checkout, as root on Debian 12:
#   1. install the Debian packages (deploy/install-deps.sh)
#   2. build and run every suite (build/)
#   3. build again with ASan+UBSan and run every suite but benchmarks (build-asan/)
#   4. build the libFuzzer targets with clang and run each for a bounded time
# Prints "N passed, N failed" last; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh >/tmp/zerovm-install-deps.log 2>&1 || {
	cat /tmp/zerovm-install-deps.log >&2
	echo "tests/run.sh: installing dependencies failed" >&2
	exit 1
}

passed=0
failed=0

# run_suite BUILDDIR SETUP-ARGS... -- TEST-ARGS...
run_suite() {
	local dir=$1; shift
	local setup=() test=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do setup+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	test=("$@")
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "${setup[@]}" || { failed=$((failed + 1)); return; }
	fi
	ninja -C "$dir" || { failed=$((failed + 1)); return; }
	local json="$dir/meson-logs/testlog.json" rc=0 f=0
	rm -f "$json"
	meson test -C "$dir" --print-errorlogs "${test[@]}" || rc=$?
	if [ -f "$json" ]; then
		passed=$((passed + $(grep -c '"result": "OK"' "$json")))
		f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$json")
	fi
	# A runner that failed without recording a failed test still fails.
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	failed=$((failed + f))
}

run_suite build -- --num-processes 2
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -- \
	--num-processes 2 --no-suite bench --no-suite fuzz
CC=clang run_suite build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
	-Db_lundef=false -- --suite fuzz --num-processes 2

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
