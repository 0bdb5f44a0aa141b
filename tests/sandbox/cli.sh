#!/bin/bash
# CLI tests of zvsh and zerovm (suite 'sandbox').
# Usage: cli.sh ZVSH ZEROVM HELLO CAT SBTEST
set -u
ZVSH=$1 ZEROVM=$2 HELLO=$3 CAT=$4 SBTEST=$5
. "$(dirname "$0")/check.sh"

# zvsh: exit codes
"$ZVSH" "$HELLO" >"$tmp/out"; check "zvsh hello exit" 0 $?
check "zvsh hello output" "hello, world" "$(cat "$tmp/out")"
"$ZVSH" "$SBTEST" exit 7; check "zvsh program exit code" 7 $?
"$ZVSH" "$SBTEST" segv; check "zvsh signal = 128+N" 139 $?
"$ZVSH" -t 1 "$SBTEST" spin 2>/dev/null; check "zvsh timeout" 124 $?
"$ZVSH" "$tmp/missing" 2>/dev/null; check "zvsh missing program" 125 $?
echo 'not an elf' >"$tmp/text"
chmod 755 "$tmp/text"
"$ZVSH" "$tmp/text" 2>"$tmp/err"; check "zvsh not an ELF" 125 $?
grep -q "not an x86-64 ELF" "$tmp/err"; check "zvsh says not an ELF" 0 $?
"$ZVSH" -m 32M "$SBTEST" alloc 100000000 >"$tmp/out"
check "zvsh -m" "ERR ENOMEM" "$(cat "$tmp/out")"

chmod 600 "$tmp/text"
"$ZVSH" "$tmp/text" 2>"$tmp/err"; check "zvsh program not executable" 125 $?
grep -q "chmod" "$tmp/err"; check "zvsh says chmod" 0 $?

# the program dies with its supervisor
"$ZVSH" "$SBTEST" spin "zvm-orphan-$$" & zpid=$!
for _ in $(seq 50); do pgrep -f "zvm-orphan-$$" >/dev/null && break; sleep 0.1; done
kill -9 "$zpid"; wait "$zpid" 2>/dev/null
for _ in $(seq 50); do pgrep -f "zvm-orphan-$$" >/dev/null || break; sleep 0.1; done
check "program dies with zvsh" 1 "$(pgrep -f "zvm-orphan-$$" >/dev/null; echo $?)"

# zvsh: channels from arguments; stdin passes through
printf 'first\n' >"$tmp/a.txt"
printf 'second\n' >"$tmp/b.txt"
out=$("$ZVSH" "$CAT" @"$tmp/a.txt" @"$tmp/b.txt")
check "zvsh @FILE" "$(printf 'first\nsecond')" "$out"
out=$("$ZVSH" "$CAT" /dev/channels @in="$tmp/a.txt" @"$tmp/b.txt" </dev/null | sed -n 4,5p)
check "zvsh channel names" "$(printf '3 /dev/in\n4 /dev/1.b.txt')" "$out"
out=$(echo piped | "$ZVSH" "$CAT")
check "zvsh stdin" "piped" "$out"
out=$("$ZVSH" "$SBTEST" writepath /dev/result 2 5 @result="$tmp/new.txt" 2>&1; \
      "$ZVSH" "$SBTEST" open @@literal r)
check "zvsh @NAME=missing is writable; @@ is literal" \
	"$(printf 'ERR ENOENT')" "$(echo "$out" | tail -1)"
"$ZVSH" "$SBTEST" writepath @out="$tmp/new2.txt" 3 4 >/dev/null
check "zvsh created file" "xxxxxxxxxxxx" "$(cat "$tmp/new2.txt")"
"$ZVSH" "$SBTEST" open @"$tmp/a.txt" w >"$tmp/out"
check "zvsh existing file is read-only" "ERR EACCES" "$(cat "$tmp/out")"

# zerovm: report lines and exit codes
manifest() { # manifest PROGRAM TIMEOUT COMMANDLINE [EXTRA CHANNEL LINES]
	cat <<EOM
Version = 20130611
Program = $1
Memory = 67108864, 0
Timeout = $2
Channel = /dev/stdin, /dev/stdin, 0, 0, 4294967296, 4294967296, 0, 0
Channel = $tmp/stdout, /dev/stdout, 0, 0, 0, 0, 4294967296, 4294967296
Channel = /dev/null, /dev/stderr, 0, 0, 0, 0, 4294967296, 4294967296
CommandLine = $3
EOM
	[ $# -gt 3 ] && printf '%s\n' "$4"
}
manifest "$CAT" 5 "cat /dev/input" \
	"Channel = $tmp/a.txt, /dev/input, 1, 1, 10, 100, 0, 0" >"$tmp/m"
"$ZEROVM" "$tmp/m" </dev/null >"$tmp/report"; check "zerovm ok exit" 0 $?
check "zerovm output" "first" "$(cat "$tmp/stdout")"
# Deterministic (the default): the validation line names what the machine
# leaves nondeterministic ($validation, check.sh).
check "zerovm report" "$(printf '%s\n0\n0\n/dev/input %s\n0.00 0.00 2 6 1 6 0 0 0 0\nok' \
	"$validation" "$(md5sum <"$tmp/a.txt" | cut -d' ' -f1)")" \
	"$(sed 's/^[0-9.]* [0-9.]* /0.00 0.00 /' "$tmp/report")"
manifest "$SBTEST" 5 "sbtest exit 3" >"$tmp/m"
"$ZEROVM" "$tmp/m" </dev/null >"$tmp/report"; check "zerovm program failed" 1 $?
check "zerovm retcode" 3 "$(sed -n 3p "$tmp/report")"
manifest "$SBTEST" 5 "sbtest segv" >"$tmp/m"
"$ZEROVM" "$tmp/m" </dev/null >"$tmp/report"; check "zerovm signaled" 2 $?
check "zerovm signal status" "Signal 11" "$(sed -n 6p "$tmp/report" | cut -c1-9)"
manifest "$SBTEST" 60 "sbtest spin" >"$tmp/m"
"$ZEROVM" -t 1 "$tmp/m" </dev/null >"$tmp/report"; check "zerovm -t timeout" 3 $?
check "zerovm timeout status" "session timeout" "$(sed -n 6p "$tmp/report")"
manifest "$SBTEST" 5 "sbtest writepath /dev/out 3 10" \
	"Channel = $tmp/limited, /dev/out, 0, 0, 0, 0, 2, 1000" >"$tmp/m"
"$ZEROVM" "$tmp/m" </dev/null >/dev/null
check "zerovm puts limit" "ERR EDQUOT after 2" "$(cat "$tmp/stdout")"
check "zerovm puts limit file" 20 "$(stat -c %s "$tmp/limited")"
printf 'Version = 20130611\nProgram = x\n' >"$tmp/m"
"$ZEROVM" "$tmp/m" >"$tmp/report" 2>/dev/null; check "zerovm bad manifest" 65 $?
check "zerovm bad manifest status" 1 "$(sed -n 6p "$tmp/report" | grep -c 'missing')"
manifest "$tmp/nope" 5 "x" >"$tmp/m"
"$ZEROVM" "$tmp/m" >/dev/null 2>&1; check "zerovm missing program" 66 $?
manifest "$CAT" 5 "cat" "Channel = $tmp/no/such/dir, /dev/out, 0, 0, 0, 0, 1, 1" >"$tmp/m"
"$ZEROVM" "$tmp/m" >/dev/null 2>&1; check "zerovm channel fails to open" 66 $?
"$ZEROVM" >/dev/null 2>&1; check "zerovm usage" 64 $?
"$ZEROVM" --help | grep -q "70  the sandbox itself failed"; check "zerovm --help codes" 0 $?

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
