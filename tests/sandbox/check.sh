# Sourced by the CLI tests: a temp dir removed on exit, and check(), which
# counts failures in $fails.
tmp=$(mktemp -d /tmp/zvm-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0

check() { # check NAME EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		echo "FAIL $1: expected [$2], got [$3]"
		fails=$((fails + 1))
	else
		echo "ok   $1"
	fi
}

# The validation line of a deterministic run of a static program on this
# machine: cpuid when it may run on more than one CPU, rdrand when the CPU
# has it (sandbox/README.md "Determinism").
nondet=""
[ "$(nproc)" -gt 1 ] && nondet="cpuid"
grep -qw -e rdrand -e rdseed /proc/cpuinfo && nondet="${nondet:+$nondet }rdrand"
validation="0${nondet:+ nondeterministic: $nondet}"
