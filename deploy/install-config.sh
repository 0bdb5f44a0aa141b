#!/bin/sh
# Run by `meson install` (deploy/meson.build): create CONFDIR/zvmd.conf from
# the freshly installed zvmd.conf.dist unless it exists, so that an upgrade
# never overwrites the operator's configuration. Honours DESTDIR.
set -eu
confdir="${DESTDIR:-}$1"
if [ -e "$confdir/zvmd.conf" ]; then
	if ! cmp -s "$confdir/zvmd.conf" "$confdir/zvmd.conf.dist"; then
		echo "Keeping $1/zvmd.conf; the new sample is $1/zvmd.conf.dist"
	fi
	exit 0
fi
cp "$confdir/zvmd.conf.dist" "$confdir/zvmd.conf"
# It will hold the cluster secret: root only.
chmod 0600 "$confdir/zvmd.conf"
echo "Created $1/zvmd.conf from zvmd.conf.dist"
