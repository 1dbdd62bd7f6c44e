#!/bin/sh
# Nested-KVM harness: the test list, run inside the nested guest by /init
# (busybox sh, cwd = /pcm, the project's files at their relative paths).
#
# Runs each test named in the list file ($1): the KVM smoke test, every
# build/static/tests/test_kvm* and tests/kvm-nested/migrate.sh when present
# (run.sh writes the list). Each gets begin/end markers; the last line is
#     NESTED-RESULT: pass N fail M
# which the host side (run.sh) parses. Each test is bounded by
# $PCM_TEST_TIMEOUT seconds.
#
# A test that failed after printing a line starting "PCM-FROZEN:" (its
# guest stopped under the emulator: linux.sh's guard, test_kvm's set-up
# watch) runs once more, and its verdict says so. The freeze is open
# (issue 15: an L2 vCPU re-entered forever on a nested page fault at a
# guest-physical address beyond its RAM, 2026-12-04); a second freeze,
# or any other failure, fails as before.

list=${1:-/pcm/tests.list}
limit=${PCM_TEST_TIMEOUT:-600}
total=$(grep -c . "$list")
pass=0
fail=0
n=0
summary=""

now() { cut -d' ' -f1 /proc/uptime; }

while read -r t; do
	[ -n "$t" ] || continue
	n=$((n + 1))
	name=${t##*/}
	echo "==== NESTED-TEST $n/$total BEGIN $name ($t)"
	start=$(now)
	retried=
	while :; do
		out=/tmp/nested-test.out
		{
			case "$t" in
				*.sh)
					if [ -x /bin/bash ] || [ -x /usr/bin/bash ]; then
						timeout "$limit" bash "$t" 2>&1
					else
						timeout "$limit" sh "$t" 2>&1
					fi ;;
				*)	timeout "$limit" "./$t" 2>&1 ;;
			esac
			echo "$?" > /tmp/nested-test.rc
		} | tee "$out"
		rc=$(cat /tmp/nested-test.rc)
		[ $rc -ne 0 ] && [ -z "$retried" ] && grep -q '^ *PCM-FROZEN:' "$out" || break
		retried=" after a retry (its first run's guest froze under the emulator)"
		echo "==== NESTED-TEST $n/$total RETRY $name: its guest froze (PCM-FROZEN above); once more"
	done
	secs=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); verdict="PASS$retried"
	else
		fail=$((fail + 1)); verdict="FAIL (exit $rc)$retried"
		if [ $rc -eq 124 ] || [ $rc -eq 143 ]; then
			verdict="FAIL (timed out after ${limit}s)"
		fi
		echo "---- last kernel messages:"
		dmesg | tail -n 15
	fi
	echo "==== NESTED-TEST $n/$total END $name: $verdict in ${secs}s"
	summary="$summary
  $name: $verdict"
done < "$list"

echo "==== NESTED summary:$summary"
echo "NESTED-RESULT: pass $pass fail $fail"
