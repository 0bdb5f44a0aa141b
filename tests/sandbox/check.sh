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
