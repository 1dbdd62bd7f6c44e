#!/usr/bin/env bash
# make install into a DESTDIR gives a command that runs and a man page that
# man renders; make uninstall takes both away again; make WERROR=0 builds
# without -Werror. Installs the binary this run tests (PCM_BIN), never
# rebuilding it (make -o), so an ASan run installs the ASan build.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DEST="$TMP/dest"
BINDIR_REL=${PCM_BIN:-bin}
mk() { make --no-print-directory -C "$ROOT" -o "$BINDIR_REL/postcopy-move" BINDIR="$BINDIR_REL" "$@"; }

out=$(mk install DESTDIR="$DEST" PREFIX=/usr 2>&1) || fail "make install DESTDIR=$DEST PREFIX=/usr: $out"
check "install: the command is at \$DESTDIR/usr/bin/postcopy-move, mode 755" \
	test "$(stat -c %a "$DEST/usr/bin/postcopy-move" 2>/dev/null)" = 755
check "install: the man page is at \$DESTDIR/usr/share/man/man1/postcopy-move.1" \
	test -f "$DEST/usr/share/man/man1/postcopy-move.1"
if help=$("$DEST/usr/bin/postcopy-move" --help 2>&1) && grep -q '^usage: postcopy-move' <<<"$help"; then
	pass "install: the installed command runs (--help)"
else
	fail "install: the installed command does not run: $help"
fi
check "install: the installed command lists its engines" "$DEST/usr/bin/postcopy-move" engines
if command -v man >/dev/null; then
	err=$(MANWIDTH=80 man --warnings -l "$DEST/usr/share/man/man1/postcopy-move.1" 2>&1 >"$TMP/man.txt") || true
	if [ -z "$err" ] && grep -q 'postcopy-move' "$TMP/man.txt"; then
		pass "install: man -l renders the installed page without warnings"
	else
		fail "install: man -l on the installed page: ${err:-no text}"
	fi
else
	fail "man is not installed: run 'make deps' (man-db)"
fi

out=$(mk uninstall DESTDIR="$DEST" PREFIX=/usr 2>&1) || fail "make uninstall: $out"
check "uninstall: the command is gone" test ! -e "$DEST/usr/bin/postcopy-move"
check "uninstall: the man page is gone" test ! -e "$DEST/usr/share/man/man1/postcopy-move.1"

# The default PREFIX is /usr/local.
out=$(mk -n install DESTDIR="$DEST" 2>&1)
check "install: PREFIX defaults to /usr/local" grep -q "$DEST/usr/local/bin/postcopy-move" <<<"$out"

# WERROR=0: the same compile commands without -Werror (a dry run of a
# build into a scratch tree, so nothing here is rebuilt).
w1=$(make --no-print-directory -C "$ROOT" -n -B B="$TMP/b" BINDIR="$TMP/bin" "$TMP/b/lib/hist.o" 2>&1)
w0=$(make --no-print-directory -C "$ROOT" -n -B B="$TMP/b" BINDIR="$TMP/bin" WERROR=0 "$TMP/b/lib/hist.o" 2>&1)
check "WERROR: the default build uses -Werror" grep -q -- '-Werror' <<<"$w1"
if grep -q -- '-Wall' <<<"$w0" && ! grep -q -- '-Werror' <<<"$w0"; then
	pass "WERROR=0: warnings stay on, -Werror goes"
else
	fail "WERROR=0: compile command is: $w0"
fi
finish
