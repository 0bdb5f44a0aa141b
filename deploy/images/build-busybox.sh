#!/bin/sh
# Build a busybox system image (a tar) from Debian's busybox-static: one
# static binary at /bin/busybox and a symlink per applet (/bin/sh,
# /usr/bin/wc, ...). A job runs an applet with
# "exec": {"path": "file://busybox:bin/busybox", "name": "busybox",
#          "args": "wc -l /dev/input"}
# (busybox picks the applet from argv[0], which is exec.name).
#
# usage: build-busybox.sh OUT.tar [BUSYBOX]   (BUSYBOX: default /bin/busybox)
set -eu

out=${1:?usage: build-busybox.sh OUT.tar [BUSYBOX]}
busybox=$(readlink -f "${2:-/bin/busybox}")
if ! "$busybox" --list-full >/dev/null 2>&1; then
	echo "build-busybox.sh: $busybox is not busybox (apt-get install busybox-static)" >&2
	exit 1
fi
case "$(ldd "$busybox" 2>&1)" in
*"not a dynamic executable"*|*"statically linked"*) ;;
*) echo "build-busybox.sh: $busybox is dynamically linked; use busybox-static" >&2; exit 1 ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/zvm-busybox-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/bin" "$stage/tmp"
cp -p "$busybox" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
"$busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$stage/$(dirname "$applet")"
	ln -sf /bin/busybox "$stage/$applet"
done

mkdir -p "$(dirname "$out")"
tar -C "$stage" --sort=name --numeric-owner --owner=0 --group=0 \
	-cf "$out.tmp" .
mv "$out.tmp" "$out"
