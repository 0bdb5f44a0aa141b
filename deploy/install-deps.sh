#!/bin/sh
# Install every Debian package the build, the demo and the tests need.
# Idempotent: apt-get skips what is already installed.
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Build: compiler, meson/ninja, and the libraries found through pkg-config
# (zlib: Swift ring files are gzip streams; libarchive: reading image tars,
# plain or gzip, in sandbox/image.c).
BUILD="build-essential meson ninja-build pkg-config
	libuv1-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
	libseccomp-dev libinih-dev libsystemd-dev libssl-dev
	zlib1g-dev libarchive-dev"
# Tests: criterion, clang + libFuzzer/sanitizer runtimes, musl for
# test programs built with another libc, curl for functional tests.
TEST="libcriterion-dev clang libclang-rt-14-dev musl-tools curl
	procps psmisc"
# Benchmarks and images: bubblewrap as the reference sandbox,
# busybox-static for the busybox image, hyperfine for timing.
EXTRA="bubblewrap busybox-static hyperfine"
# Swift cluster on loopback (functional tests of the cluster mode);
# python3-pyeclib (with liberasurecode1) for the erasure-coded storage
# policy of the test cluster (liberasurecode_rs_vand).
SWIFT="swift swift-proxy swift-account swift-container swift-object
	python3-swiftclient python3-pyeclib memcached systemd"

# The deploy suite also uses systemd-analyze (systemd, above), setpriv
# (util-linux, essential) and paste.deploy (python3-pastedeploy, a
# dependency of swift-proxy).

apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $BUILD $TEST $EXTRA $SWIFT
