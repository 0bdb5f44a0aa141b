#!/bin/sh
# Build a python3 system image (a tar) from this machine's Debian python3:
# the interpreter, the shared libraries it and its extension modules load
# (found with ldd) with the loader, and the standard library with its
# compiled .pyc files, without tests, IDLE, tkinter and other parts a
# sandboxed script cannot use. Inside the image, /python3 is the
# interpreter, so a job says "exec": {"path": "file://python3:python3"}.
#
# usage: build-python3.sh OUT.tar [PYTHON]   (PYTHON: default /usr/bin/python3)
set -eu

out=${1:?usage: build-python3.sh OUT.tar [PYTHON]}
python=$(readlink -f "${2:-/usr/bin/python3}")
[ -x "$python" ] || { echo "build-python3.sh: $python: not executable" >&2; exit 1; }
ver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
case "$stdlib" in
/usr/lib/python*) ;;
*) echo "build-python3.sh: $python is not Debian's (stdlib in $stdlib)" >&2; exit 1 ;;
esac

stage=$(mktemp -d "${TMPDIR:-/tmp}/zvm-python3-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# Debian's merged /usr: the loader is /lib64/ld-linux-x86-64.so.2 and
# libraries are named /lib/x86_64-linux-gnu/...; keep those names working.
mkdir -p "$stage/usr/bin" "$stage/usr/lib" "$stage/usr/lib64" "$stage/tmp"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
ln -s usr/bin "$stage/bin"

cp -p "$python" "$stage/usr/bin/python$ver"
ln -s "python$ver" "$stage/usr/bin/python3"
ln -s "/usr/bin/python$ver" "$stage/python3"

# The standard library, pruned. sitecustomize.py is a link to /etc.
mkdir -p "$stage$stdlib"
tar -C "$stdlib" -cf - \
	--exclude=./test --exclude=./idlelib --exclude=./tkinter \
	--exclude=./turtledemo --exclude=./ensurepip --exclude=./lib2to3 \
	--exclude=./pydoc_data --exclude='./config-*' --exclude=./sitecustomize.py \
	--exclude='*/tests' --exclude=./distutils --exclude=./turtle.py \
	--exclude='./__phello__' --exclude=./EXTERNALLY-MANAGED . |
	tar -C "$stage$stdlib" -xpf -

# Every library the interpreter and its extension modules need, at the
# directory name ldd gives (resolved through the merged-/usr links), plus
# the loader.
libs=$( { ldd "$python"; find "$stage$stdlib" -name '*.so' -exec ldd {} \; ; } |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	sort -u)
for lib in $libs; do
	dir=$(readlink -f "$(dirname "$lib")")
	mkdir -p "$stage$dir"
	[ -e "$stage$dir/$(basename "$lib")" ] ||
		cp -L -p "$lib" "$stage$dir/$(basename "$lib")"
done

mkdir -p "$(dirname "$out")"
tar -C "$stage" --sort=name --numeric-owner --owner=0 --group=0 \
	-cf "$out.tmp" .
mv "$out.tmp" "$out"
