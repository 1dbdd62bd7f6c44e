#!/bin/bash
# tests/tools/debian-kernel.sh - Debian's own kernel, fetched once.
#
#   debian-kernel.sh PKG DIR
#
# PKG is a kernel package: a metapackage (linux-image-amd64,
# linux-image-cloud-amd64), resolved to the linux-image-<version>-* package
# it depends on, or such a versioned package itself. It is fetched with
# `apt-get download` (the package lists are updated once when apt-cache
# cannot resolve it, as on a fresh machine) and unpacked with `dpkg -x`;
# nothing is installed. DIR then holds:
#   vmlinuz          the bzImage
#   config           the kernel's build configuration
#   kernel-version   e.g. 6.1.0-57-amd64
#   package          the versioned package fetched
#   <package>.deb    the package itself, to unpack again without a download
#   root/            the whole unpacked package (modules), only with
#                    DEBIAN_KERNEL_TREE=1
#   .complete        written last: DIR is whole
# and the absolute path of DIR/vmlinuz is printed on stdout (progress and
# errors on stderr; exit 1 on failure).
#
# A complete DIR is used as it is, with no apt call at all: the same kernel
# on every run, and offline. Remove DIR to fetch a newer one. Runs on the
# same DIR wait for each other (flock).
set -euo pipefail

say() { printf 'debian-kernel: %s\n' "$*" >&2; }
die() { printf 'debian-kernel: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: debian-kernel.sh PKG DIR"
PKG=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd)
TREE=${DEBIAN_KERNEL_TREE:-0}

exec 9>"$DIR/.lock"
flock 9

cached() {
	[ -f "$DIR/.complete" ] && [ -s "$DIR/vmlinuz" ] || return 1
	[ "$TREE" != 1 ] || [ -d "$DIR/root" ]
}

# The versioned package PKG names (itself when it is one), or nothing
# (also when apt-cache has no lists yet: not an error here).
resolve() {
	case $PKG in
	linux-image-[0-9]*)
		if apt-cache show "$PKG" >/dev/null 2>&1; then echo "$PKG"; fi ;;
	*)
		{ apt-cache depends "$PKG" 2>/dev/null || true; } |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1 ;;
	esac
}

# Download $1 into $DIR/$1.deb. apt's _apt user may not write into the
# tree: download into a directory it owns (no 'unsandboxed' warning).
download() {
	local real=$1 dl
	dl=$(mktemp -d /tmp/debian-kernel.XXXXXX)
	chown _apt "$dl" 2>/dev/null || true
	say "fetching $real with apt-get download"
	if ! (cd "$dl" && apt-get download -q "$real") >"$dl/log" 2>&1; then
		grep -v unsandboxed "$dl/log" >&2 || true
		rm -rf "$dl"
		die "apt-get download $real failed"
	fi
	mv "$(ls "$dl"/"$real"_*.deb | head -n 1)" "$DIR/$real.deb.part"
	rm -rf "$dl"
	mv "$DIR/$real.deb.part" "$DIR/$real.deb"
}

# Unpack $DIR/$1.deb and take the kernel out of it.
unpack() {
	local real=$1 vmlinuz kver
	rm -rf "$DIR/root" "$DIR/root.part"
	say "unpacking $real.deb with dpkg -x"
	dpkg -x "$DIR/$real.deb" "$DIR/root.part"
	vmlinuz=$(ls "$DIR"/root.part/boot/vmlinuz-* 2>/dev/null | head -n 1)
	[ -n "$vmlinuz" ] || die "$real has no /boot/vmlinuz-*"
	kver=${vmlinuz##*/vmlinuz-}
	cp "$vmlinuz" "$DIR/vmlinuz"
	cp "$DIR/root.part/boot/config-$kver" "$DIR/config" 2>/dev/null || : >"$DIR/config"
	echo "$kver" >"$DIR/kernel-version"
	echo "$real" >"$DIR/package"
	if [ "$TREE" = 1 ]; then mv "$DIR/root.part" "$DIR/root"; else rm -rf "$DIR/root.part"; fi
}

if ! cached; then
	for tool in apt-get apt-cache dpkg; do
		command -v "$tool" >/dev/null || die "$tool not found (this needs a Debian machine)"
	done
	rm -f "$DIR/.complete"
	REAL=$(cat "$DIR/package" 2>/dev/null || true)
	if [ -z "$REAL" ] || [ ! -s "$DIR/$REAL.deb" ]; then
		REAL=$(resolve)
		if [ -z "$REAL" ]; then
			say "apt-cache cannot resolve $PKG; running apt-get update"
			apt-get update -qq >&2 || die "apt-get update failed"
			REAL=$(resolve)
		fi
		[ -n "$REAL" ] || die "cannot resolve $PKG to a linux-image-<version> package (is Debian's main archive in the apt sources?)"
		[ -s "$DIR/$REAL.deb" ] || download "$REAL"
	fi
	unpack "$REAL"
	echo "$REAL" >"$DIR/.complete"
	say "$REAL: $(cat "$DIR/kernel-version") in ${DIR}"
fi
echo "$DIR/vmlinuz"
