#!/bin/bash
# zvsh is deterministic by default, -N turns it off (suite 'sandbox').
# Usage: determinism-cli.sh ZVSH DETPROBE
set -u
ZVSH=$1 PROBE=$2
fails=0

check() { # check NAME EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		echo "FAIL $1: expected [$2], got [$3]"
		fails=$((fails + 1))
	else
		echo "ok   $1"
	fi
}

probe() { "$ZVSH" "$@" "$PROBE" | grep -v '^pid '; }

a=$(probe); b=$(probe)
check "zvsh: two runs print the same" "$a" "$b"
check "zvsh: virtual clock" "clock realtime 0 1388534400.000001000 res 0.000001000" \
	"$(echo "$a" | head -1)"
n=$(probe -N)
[ "$a" != "$n" ]; check "zvsh -N differs" 0 $?
echo "$n" | grep -q '^vdso present$'; check "zvsh -N keeps the vDSO" 0 $?
"$ZVSH" "$PROBE" tsc >/dev/null; check "zvsh: rdtsc is SIGSEGV" 139 $?
exit $((fails > 0))
