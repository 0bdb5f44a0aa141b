#!/bin/bash
# The demo, as root on a fresh Debian 12: install the dependencies, build,
# start zvmd over a copy of the bundled sample store, upload the wordcount
# programs into it, run a map-reduce wordcount job (a mapper per text, two
# reducers) with curl, print the result, stop zvmd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (installs packages, runs sandboxes)" >&2
	exit 1
fi

echo "== installing dependencies (deploy/install-deps.sh)"
bash deploy/install-deps.sh >/tmp/zerovm-demo-deps.log 2>&1 || {
	cat /tmp/zerovm-demo-deps.log >&2
	exit 1
}

echo "== building (build-demo/)"
[ -f build-demo/build.ninja ] || meson setup build-demo >/dev/null
ninja -C build-demo -j2 daemon/zvmd tests/daemon/programs/wc_map \
	tests/daemon/programs/wc_reduce >/dev/null

work=$(mktemp -d /tmp/zerovm-demo.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== store: $work/store (a copy of deploy/demo/store)"
cp -r deploy/demo/store "$work/store"
mkdir -p "$work/spool" "$work/store/demo/bin"
# "Uploading" to the local store is placing the file at acct/cont/obj.
cp build-demo/tests/daemon/programs/wc_map \
	build-demo/tests/daemon/programs/wc_reduce "$work/store/demo/bin/"
find "$work/store" -type f | sed "s|$work/store/|   swift://|"

echo "== starting zvmd"
build-demo/daemon/zvmd -c conf/zvmd.conf --listen 127.0.0.1:0 \
	--root "$work/store" --spool "$work/spool" \
	--port-file "$work/port" 2>"$work/zvmd.log" &
pid=$!
for _ in $(seq 100); do
	[ -s "$work/port" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/zvmd.log" >&2; exit 1; }
	sleep 0.1
done
port=$(cat "$work/port")
echo "   listening on 127.0.0.1:$port"

echo "== the job (deploy/demo/wordcount.json)"
cat deploy/demo/wordcount.json
echo "== curl -X POST http://127.0.0.1:$port/v1/demo"
status=$(curl -sS -o "$work/result" -D "$work/headers" -w '%{http_code}' \
	-X POST -H 'X-Zerovm-Execute: 1.0' \
	-H 'Content-Type: application/json' \
	--data-binary @deploy/demo/wordcount.json \
	"http://127.0.0.1:$port/v1/demo")
echo "   HTTP $status"
grep -i '^x-nexe-' "$work/headers" | sed 's/^/   /'
echo "== the 20 most frequent words (of $(wc -l <"$work/result") distinct)"
sort -k2,2nr -k1,1 "$work/result" | head -20 | sed 's/^/   /'

echo "== stopping zvmd (SIGTERM drains)"
kill -TERM "$pid"
wait "$pid"
pid=
sed 's/^/   /' "$work/zvmd.log"
[ "$status" = 200 ]
