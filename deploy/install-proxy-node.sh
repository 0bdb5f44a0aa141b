#!/bin/bash
# install-proxy-node.sh — install the zerovm filter on a Swift proxy node.
#
#   bash deploy/install-proxy-node.sh
#       install the filter module and print the proxy-server.conf lines
#   bash deploy/install-proxy-node.sh --apply /etc/swift/proxy-server.conf
#       ... and add them to that file (original kept as
#       proxy-server.conf.zerovm-orig); then: systemctl restart swift-proxy
#   bash deploy/install-proxy-node.sh --uninstall
#       remove the module and take zerovm out of the applied proxy config
# Options: --endpoints URLS  the coordinator zvmds, comma separated
#          (default http://127.0.0.1:8090)
# DESTDIR stages everything (the module, an applied config is then the
# file given to --apply, as given).
#
# The filter is one Python module (middleware/zerovm_filter.py), installed
# into the first site directory of Debian's /usr/bin/python3 (the Python
# Swift runs under): /usr/local/lib/python3.X/dist-packages.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
action=install
apply_conf=
endpoints=http://127.0.0.1:8090
py=${ZEROVM_PROXY_PYTHON:-/usr/bin/python3}

die() { echo "install-proxy-node.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--apply) apply_conf=${2:?--apply needs a proxy-server.conf}; shift 2 ;;
	--endpoints) endpoints=${2:?--endpoints needs URLs}; shift 2 ;;
	--uninstall) action=uninstall; shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done

dest=${DESTDIR:-}
module="$src/middleware/zerovm_filter.py"
sample="$src/conf/proxy-server.conf.sample"
edit() { "$py" "$src/deploy/proxy_conf.py" "$@"; }
# shellcheck source=deploy/manifest.sh
. "$src/deploy/manifest.sh"
manifest_init "$dest" proxy-node

[ -x "$py" ] || die "$py not found (Swift's proxy runs under it)"
site=$("$py" -c 'import site; print(site.getsitepackages()[0])')

if [ "$action" = uninstall ]; then
	[ -f "$MANIFEST" ] || die "nothing to uninstall: no $MANIFEST"
	awk '$1 == "applied" { print $2 }' "$MANIFEST" | while read -r c; do
		if [ -f "$c" ]; then
			edit revert "$c"
			echo "$c: zerovm removed (restart swift-proxy)"
		fi
	done
	manifest_remove_all
	exit 0
fi

[ -f "$module" ] || die "$module is missing (is this a zerovm source tree?)"
mkdir -p "$dest$site"
install -m 0644 "$module" "$dest$site/zerovm_filter.py"
manifest_add file "$site/zerovm_filter.py"
manifest_add dir "$site/__pycache__"
manifest_add file "$site/__pycache__/zerovm_filter.cpython-$("$py" -c \
	'import sys; print("%d%d" % sys.version_info[:2])').pyc"
if [ -n "$apply_conf" ]; then
	[ -f "$apply_conf" ] || die "$apply_conf: no such file"
	[ -e "$apply_conf.zerovm-orig" ] || cp -p "$apply_conf" "$apply_conf.zerovm-orig"
	edit apply "$sample" "$apply_conf" --endpoints "$endpoints"
	grep -q -F -x -e "applied $apply_conf" "$MANIFEST_NEW" ||
		echo "applied $apply_conf" >>"$MANIFEST_NEW"
	echo "Now restart the proxy: systemctl restart swift-proxy"
else
	conf=/etc/swift/proxy-server.conf
	[ -f "$conf" ] || conf=
	echo "Add these lines to /etc/swift/proxy-server.conf (or run again"
	echo "with --apply /etc/swift/proxy-server.conf), then restart the proxy:"
	echo
	edit show "$sample" $conf --endpoints "$endpoints"
fi
manifest_save
echo "Installed $site/zerovm_filter.py"
