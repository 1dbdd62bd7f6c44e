#!/usr/bin/env bash
# docs/postcopy-move.1 against the command itself, so the two cannot drift:
# every subcommand `postcopy-move --help` lists has a .SS section; every
# long option a subcommand's --help prints is in its section, and every
# long option in the section is in its --help (-h/--help itself is
# documented once, for all commands); and the page renders without a
# warning from groff and man. groff missing is a failure, not a skip.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MANPAGE="$(cd "$(dirname "$0")/../.." && pwd)/docs/postcopy-move.1"
PAGE=docs/postcopy-move.1

if [ ! -x "$PM" ]; then
	fail "no binary at $PM (build it with make, or set PCM_BIN)"
	finish
fi
if [ ! -f "$MANPAGE" ]; then
	fail "no man page at $MANPAGE"
	finish
fi

# The page's text with comments dropped and \- turned into -.
man_text() { sed -e 's/\\".*//' -e 's/\\-/-/g' "$MANPAGE"; }

# The .SS section of the page for subcommand $1 (its first word), up to the
# next .SS or .SH.
man_section() {
	man_text | awk -v want="$1" '
		/^\.SH/ { cur = ""; next }
		/^\.SS/ { n = $2; gsub(/"/, "", n); cur = n; next }
		cur == want { print }'
}

# The subcommands that the page's COMMANDS section has a .SS for.
man_subcommands() {
	man_text | awk '
		/^\.SH/ { in_cmds = ($0 ~ /^\.SH[ \t]+"?COMMANDS"?[ \t]*$/); next }
		in_cmds && /^\.SS/ { n = $2; gsub(/"/, "", n); print n }'
}

# Long options (--word or --word-word...) in stdin, one a line, sorted;
# --help is left out (the page documents it once for every command).
long_opts() { { grep -oE -- '--[a-z0-9]+(-[a-z0-9]+)*' || true; } | grep -vx -- '--help' | sort -u || true; }

main_help=$("$PM" --help)
subs=$(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' <<<"$main_help")
if [ -z "$subs" ]; then
	fail "'postcopy-move --help' lists no subcommands (cannot check the page)"
	finish
fi
page_subs=$(man_subcommands)

# (a) a .SS for every subcommand, and none for a subcommand that is gone.
for sub in $subs; do
	if grep -qx -- "$sub" <<<"$page_subs"; then
		pass "$sub: $PAGE has .SS $sub"
	else
		fail "$sub: 'postcopy-move --help' lists it but $PAGE has no '.SS $sub' under COMMANDS"
	fi
done
for s in $page_subs; do
	grep -qx -- "$s" <<<"$subs" ||
		fail "$s: $PAGE has '.SS $s' under COMMANDS but 'postcopy-move --help' lists no such subcommand"
done

# -h/--help, documented once for all commands. (Not `man_text | grep -q`:
# grep quitting early would fail the pipeline under pipefail.)
if grep -Eq -- '(^|[^-a-z0-9])-h([^a-z0-9]|$).*--help' <<<"$(man_text)"; then
	pass "$PAGE documents -h, --help"
else
	fail "$PAGE does not document -h, --help anywhere"
fi

# (b) each subcommand's long options, both ways.
for sub in $subs; do
	if ! help=$("$PM" "$sub" --help 2>&1); then
		fail "$sub: 'postcopy-move $sub --help' failed: $help"
		continue
	fi
	help_opts=$(long_opts <<<"$help")
	page_opts=$(man_section "$sub" | long_opts)
	bad=0
	for o in $help_opts; do
		if ! grep -qx -- "$o" <<<"$page_opts"; then
			fail "$sub: option $o is in 'postcopy-move $sub --help' but missing from the '.SS $sub' section of $PAGE"
			bad=1
		fi
	done
	for o in $page_opts; do
		if ! grep -qx -- "$o" <<<"$help_opts"; then
			fail "$sub: option $o is in the '.SS $sub' section of $PAGE but missing from 'postcopy-move $sub --help'"
			bad=1
		fi
	done
	if [ "$bad" -eq 0 ]; then
		pass "$sub: the page and --help name the same $(wc -w <<<"$help_opts") long option(s)"
	fi
done

# (c) renders without warnings.
if ! command -v groff >/dev/null 2>&1; then
	fail "groff is not installed, so the man page cannot be checked: run 'make deps' (groff-base, man-db)"
else
	rc=0
	groff -man -ww -z -t "$MANPAGE" 2>"$TMP/groff.err" || rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$TMP/groff.err" ]; then
		pass "groff -man -ww -z -t $PAGE: no warnings"
	else
		fail "groff -man -ww -z -t $PAGE (exit $rc): $(cat "$TMP/groff.err")"
	fi
fi
if command -v man >/dev/null 2>&1; then
	rc=0
	MANWIDTH=80 man --warnings -l "$MANPAGE" >/dev/null 2>"$TMP/man.err" || rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$TMP/man.err" ]; then
		pass "man --warnings -l $PAGE: no warnings"
	else
		fail "MANWIDTH=80 man --warnings -l $PAGE (exit $rc): $(cat "$TMP/man.err")"
	fi
else
	skip "man is not installed, its rendering was not checked (make deps installs man-db)"
fi
finish
