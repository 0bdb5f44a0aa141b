#!/bin/bash
# install-storage-node.sh — build zerovm and install zvmd as a systemd
# service on this node (a Swift storage node, or any machine that runs jobs).
#
#   bash deploy/install-storage-node.sh             build, install, enable, start
#   bash deploy/install-storage-node.sh --no-start  ... enable but do not start
#   bash deploy/install-storage-node.sh --uninstall remove what install added
#   DESTDIR=/tmp/stage bash deploy/install-storage-node.sh
#                                                   stage into a directory (no
#                                                   systemctl, no config check)
# Options: --prefix DIR (default /usr/local), --builddir DIR (default
# build-release in the source tree), --no-build (install an existing build).
#
# Running it again upgrades: binaries, unit and zvmd.conf.dist are replaced,
# an existing /etc/zerovm/zvmd.conf is kept, a running service is restarted
# (it drains first). Every file and directory it adds is listed in
# /var/lib/zerovm/storage-node.manifest; --uninstall removes exactly those
# (directories only when empty, zvmd.conf only when unedited).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
builddir="$src/build-release"
start=1
build=1
action=install

die() { echo "install-storage-node.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
	--builddir) builddir=${2:?--builddir needs a directory}; shift 2 ;;
	--no-start) start=0; shift ;;
	--no-build) build=0; shift ;;
	--uninstall) action=uninstall; shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done

dest=${DESTDIR:-}
# shellcheck source=deploy/manifest.sh
. "$src/deploy/manifest.sh"
manifest_init "$dest" storage-node

# systemctl only for a real install on a machine that runs systemd.
have_systemd() {
	[ -z "$dest" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

do_uninstall() {
	if have_systemd; then
		systemctl disable --now zvmd.service || true
	fi
	manifest_remove_all
	if have_systemd; then
		systemctl daemon-reload
	fi
}

do_install() {
	local conf="$dest/etc/zerovm/zvmd.conf" had_conf=0
	[ -e "$conf" ] && had_conf=1
	if [ "$build" = 1 ]; then
		if [ ! -f "$builddir/build.ninja" ]; then
			meson setup "$builddir" "$src" --prefix "$prefix" \
				--buildtype release -Dtests=false
		else
			meson configure "$builddir" --prefix "$prefix"
		fi
		ninja -C "$builddir" -j "${NINJA_JOBS:-2}"
	fi
	[ -f "$builddir/build.ninja" ] || die "no build in $builddir (drop --no-build)"
	meson install -C "$builddir" --no-rebuild --destdir "$dest" --quiet
	# Files meson installed, as on the target (the config is tracked below).
	meson introspect --installed "$builddir" |
		/usr/bin/python3 -c 'import json, sys
for p in json.load(sys.stdin).values(): print(p)' |
		while read -r f; do manifest_add file "$f"; done
	manifest_add dir /etc/zerovm
	manifest_add dir "$prefix/share/doc/zerovm"
	manifest_add dir /var/lib/zvmd/store
	manifest_add dir /var/lib/zvmd
	manifest_add dir /var/spool/zvmd
	# zvmd.conf: ours only if this run (or an earlier one) created it.
	if [ "$had_conf" = 0 ] && [ -e "$conf" ]; then
		manifest_add config /etc/zerovm/zvmd.conf
		echo "Created /etc/zerovm/zvmd.conf from zvmd.conf.dist"
	elif ! cmp -s "$conf" "$conf.dist"; then
		echo "Keeping /etc/zerovm/zvmd.conf; the new sample is zvmd.conf.dist"
	fi
	manifest_save
	# zvmd.service runs as swift: it writes the spool and the local store.
	if [ -z "$dest" ] && id swift >/dev/null 2>&1; then
		mkdir -p /var/spool/zvmd /var/lib/zvmd/store
		chown swift:swift /var/spool/zvmd /var/lib/zvmd /var/lib/zvmd/store
	fi
	if [ -n "$dest" ]; then
		echo "Staged into $dest (no systemctl, no configuration check)."
		return
	fi
	"$prefix/bin/zvmd" --check-config -c /etc/zerovm/zvmd.conf ||
		die "fix /etc/zerovm/zvmd.conf, then run this again"
	if ! have_systemd; then
		echo "systemd is not running here: start zvmd with"
		echo "  $prefix/bin/zvmd -c /etc/zerovm/zvmd.conf"
		return
	fi
	systemctl daemon-reload
	systemctl enable zvmd.service
	if [ "$start" = 1 ]; then
		# An upgrade restarts a running daemon (SIGTERM drains it).
		systemctl restart zvmd.service
		systemctl --no-pager status zvmd.service | head -n 5
	fi
}

if [ "$action" = uninstall ]; then
	do_uninstall
else
	do_install
fi
