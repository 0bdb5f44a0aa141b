# shellcheck shell=bash
# manifest.sh — what an install script added, so that --uninstall removes
# exactly that. Sourced by install-storage-node.sh and install-proxy-node.sh.
#
# The manifest ($DESTDIR/var/lib/zerovm/NAME.manifest) has one entry a line:
#   file PATH            a file we installed: removed
#   dir PATH             a directory we need: removed only if empty
#   config PATH SHA256   a configuration we created: removed only if it still
#                        has the content we wrote (else kept, and said so)
# Paths are as on the target system (without DESTDIR). Installing again
# merges with the existing manifest, so an upgrade keeps earlier entries.

manifest_init() {
	MANIFEST_DEST=$1
	MANIFEST_REL=/var/lib/zerovm/$2.manifest
	MANIFEST="$MANIFEST_DEST$MANIFEST_REL"
	MANIFEST_NEW=$(mktemp)
	# shellcheck disable=SC2064
	trap "rm -f '$MANIFEST_NEW'" EXIT
	if [ -f "$MANIFEST" ]; then
		cat "$MANIFEST" >"$MANIFEST_NEW"
	fi
}

manifest_sha() {
	sha256sum "$MANIFEST_DEST$1" | cut -d' ' -f1
}

# manifest_add KIND PATH
manifest_add() {
	local kind=$1 path=$2
	case "$kind" in
	config)
		awk -v p="$path" '!($1 == "config" && $2 == p)' \
			"$MANIFEST_NEW" >"$MANIFEST_NEW.t"
		mv "$MANIFEST_NEW.t" "$MANIFEST_NEW"
		echo "config $path $(manifest_sha "$path")" >>"$MANIFEST_NEW"
		;;
	*)
		grep -q -F -x -e "$kind $path" "$MANIFEST_NEW" ||
			echo "$kind $path" >>"$MANIFEST_NEW"
		;;
	esac
}

manifest_save() {
	mkdir -p "$(dirname "$MANIFEST")"
	manifest_add file "$MANIFEST_REL"
	manifest_add dir /var/lib/zerovm
	cp "$MANIFEST_NEW" "$MANIFEST"
	chmod 0644 "$MANIFEST"
}

manifest_remove_all() {
	local kind path sum d
	if [ ! -f "$MANIFEST" ]; then
		echo "nothing to uninstall: no $MANIFEST" >&2
		return 1
	fi
	# Work from a copy: the manifest lists itself.
	cp "$MANIFEST" "$MANIFEST_NEW"
	while read -r kind path sum; do
		case "$kind" in
		file) rm -f "$MANIFEST_DEST$path" ;;
		config)
			[ -e "$MANIFEST_DEST$path" ] || continue
			if [ "$(manifest_sha "$path")" = "$sum" ]; then
				rm -f "$MANIFEST_DEST$path"
			else
				echo "keeping $path: it was edited after install"
			fi
			;;
		esac
	done <"$MANIFEST_NEW"
	# Deepest directories first; rmdir leaves any that still hold data.
	grep '^dir ' "$MANIFEST_NEW" | cut -d' ' -f2- | sort -r | while read -r d; do
		rmdir "$MANIFEST_DEST$d" 2>/dev/null || true
	done
}
