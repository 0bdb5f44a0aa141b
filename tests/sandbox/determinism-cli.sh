#!/bin/bash
# zvsh and zerovm are deterministic by default, -N turns it off (suite
# 'sandbox').
# Usage: determinism-cli.sh ZVSH ZEROVM DETPROBE
set -u
ZVSH=$1 ZEROVM=$2 PROBE=$3
. "$(dirname "$0")/check.sh"

probe() { "$ZVSH" "$@" "$PROBE"; }

a=$(probe); b=$(probe)
check "zvsh: two runs print the same" "$a" "$b"
check "zvsh: virtual clock" "clock realtime 0 1388534400.000001000 res 0.000001000" \
	"$(echo "$a" | head -1)"
n=$(probe -N)
[ "$a" != "$n" ]; check "zvsh -N differs" 0 $?
echo "$n" | grep -q '^vdso present$'; check "zvsh -N keeps the vDSO" 0 $?
check "zvsh: pid 1 of its own pid namespace" "pid 1 ppid 0 tid 1 pgrp 1" \
	"$(echo "$a" | grep '^pid ')"
echo "$n" | grep -q '^pid 1 '; check "zvsh -N: the host's pid" 1 $?
"$ZVSH" "$PROBE" tsc >/dev/null; check "zvsh: rdtsc is SIGSEGV" 139 $?

cat >"$tmp/m" <<EOM
Version = 20130611
Program = $PROBE
Memory = 67108864, 0
Timeout = 10
Channel = /dev/null, /dev/stdin, 0, 0, 4294967296, 4294967296, 0, 0
Channel = $tmp/stdout, /dev/stdout, 0, 0, 0, 0, 4294967296, 4294967296
Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 4294967296, 4294967296
CommandLine = detprobe
EOM
zprobe() { "$ZEROVM" "$@" "$tmp/m" >/dev/null && cat "$tmp/stdout"; }
# The validation line names what could not be made deterministic: a
# static program cannot reach the TSC; cpuid and rdrand depend on the
# machine ($validation, check.sh).
v=$("$ZEROVM" "$tmp/m" | head -1)
check "zerovm: validation line" "$validation" "$v"
v=$("$ZVSH" -v "$PROBE" 2>&1 >/dev/null | grep -c "; nondeterministic: $nondet$")
check "zvsh -v: the nondeterminism" "$([ -z "$nondet" ] && echo 0 || echo 1)" "$v"
v=$("$ZEROVM" -N "$tmp/m" | head -1)
check "zerovm -N: no claim, no note" "0" "$v"
a=$(zprobe); b=$(zprobe)
check "zerovm: two runs print the same" "$a" "$b"
echo "$a" | grep -q '^vdso absent$'; check "zerovm: no vDSO" 0 $?
n=$(zprobe --nondeterministic)
echo "$n" | grep -q '^vdso present$'; check "zerovm --nondeterministic" 0 $?
exit $((fails > 0))
