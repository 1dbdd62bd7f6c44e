#!/usr/bin/env bash
# tests/reliability/run.sh - `make reliability`: run every fault, bad-input,
# load and soak test and write their results as tests/RELIABILITY.md.
#
# Nothing in the table is typed by hand: each row is the outcome of the
# command shown next to it, run now. Rows:
#   - failures before commitment (tests/integration/test_faults.sh)
#   - outages after activation (tests/integration/test_recover.sh)
#   - random fault injection during post-copy (inject.sh, RUNS runs)
#   - bad input: decoder tests, the fuzz corpus replay, the bad-input and
#     authentication integration tests, and libFuzzer (when clang is here)
#   - load: 16 vCPUs faulting at once on a 4 GiB guest (pcm_load)
#   - soak: 50 migrations back and forth (pcm_soak)
# Pages lost sums every migration's total minus its arrivals of every kind.
# OUT (default tests/RELIABILITY.md); RUNS (20); SOAK_COUNT (50);
# FUZZ_SECONDS (30 per target; 0 skips libFuzzer). Exit 1 if a row failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${PCM_BUILD:-build}
OUT=${OUT:-tests/RELIABILITY.md}
RUNS=${RUNS:-20}
SOAK_COUNT=${SOAK_COUNT:-50}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
LOG=$(mktemp -d /tmp/pcm-reliability.XXXXXX)
ROWS=()
LOST_TOTAL=0
BAD=0

# row WHAT TRIED HELD LOST RESULT COMMAND
row() {
	ROWS+=("| $1 | $2 | $3 | $4 | $5 | \`$6\` |")
	[ "$5" = pass ] || BAD=$((BAD + 1))
	echo "reliability: $1: $5 ($3 of $2)"
}

# checks LOG: "passed failed" from an integration script's ok:/FAIL: lines.
checks() { echo "$(grep -c '^ok: ' "$1") $(grep -c '^FAIL: ' "$1")"; }

# script TITLE LOG CMD...: an integration script as one row.
script_row() {
	local what=$1 log=$2; shift 2
	local rc=0 ok bad
	"$@" >"$log" 2>&1 || rc=$?
	read -r ok bad < <(checks "$log")
	row "$what" "$((ok + bad)) checks" "$ok" "0" "$([ "$rc" = 0 ] && echo pass || echo FAIL)" "$*"
}

faults() {
	script_row "Failures before commitment (refused, dropped, killed, silent, corrupted): VM keeps running on the source" \
		"$LOG/faults.log" bash tests/integration/test_faults.sh
	script_row "Outages after activation (control, urgent, bulk reset; corrupt page; stall; operator recover --to and --give-up on either end; source gone)" \
		"$LOG/recover.log" bash tests/integration/test_recover.sh
	local rc=0 ok lost
	RUNS=$RUNS OUT="$LOG/inject.tsv" bash tests/reliability/inject.sh >"$LOG/inject.log" 2>&1 || rc=$?
	ok=$(awk -F'\t' 'NR > 1 && $11 == "OK"' "$LOG/inject.tsv" | wc -l)
	lost=$(awk -F'\t' 'NR > 1 && $8 ~ /^[0-9]+$/ { s += $8 } END { print s + 0 }' "$LOG/inject.tsv")
	LOST_TOTAL=$((LOST_TOTAL + lost))
	row "Random fault injection during post-copy (drop control/urgent/bulk, corrupt a byte, stall), seeds 1..$RUNS" \
		"$RUNS runs" "$ok ended verified$(awk -F'\t' 'NR > 1 && $9 ~ /^[0-9]+$/ { p += $9 } END { printf " (%d link pauses recovered)", p }' "$LOG/inject.tsv")" \
		"$lost" "$([ "$rc" = 0 ] && [ "$lost" = 0 ] && echo pass || echo FAIL)" \
		"RUNS=$RUNS bash tests/reliability/inject.sh"
}

# Unit tests as a row: cmocka's own count.
unit_row() {
	local what=$1 log=$2; shift 2
	local rc=0 n
	for t in "$@"; do "$B/tests/$t" >>"$log" 2>&1 || rc=1; done
	n=$(grep -Eo '\[==========\] [0-9]+ test\(s\) run' "$log" | awk '{ s += $2 } END { print s }')
	row "$what" "$n tests" "$(grep -Eo '\[  PASSED  \] [0-9]+' "$log" | awk '{ s += $NF } END { print s + 0 }')" \
		"0" "$([ "$rc" = 0 ] && echo pass || echo FAIL)" "$(printf "$B/tests/%s " "$@")"
}

bad_input() {
	unit_row "Malformed messages and state blobs (magic, type, length, checksum, range, duplicates, versions, layouts; fuzz corpus replay)" \
		"$LOG/unit.log" test_wire test_proto test_fuzzregress test_chan test_crypt test_kvm
	script_row "Bad input end to end (garbage, wrong version, bad checksum, truncated, closed, no memory, bad names and options, open run directory)" \
		"$LOG/badinput.log" bash tests/integration/test_badinput.sh
	script_row "Strangers and tampering (no key, wrong key, garbage: refused while receive waits on for the right source; clear source to an encrypting destination; a tampered sealed page)" \
		"$LOG/auth.log" bash tests/integration/test_auth.sh
	if [ "$FUZZ_SECONDS" = 0 ]; then
		echo "reliability: libFuzzer skipped (FUZZ_SECONDS=0)"
		return
	fi
	local rc=0 execs
	make --no-print-directory fuzz FUZZ_SECONDS="$FUZZ_SECONDS" >"$LOG/fuzz.log" 2>&1 || rc=$?
	execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$LOG/fuzz.log" | awk '{ s += $2 } END { print s + 0 }')
	row "libFuzzer on the message and state-blob decoders, $FUZZ_SECONDS s each" "$execs inputs" \
		"$([ "$rc" = 0 ] && echo "$execs, no crash" || echo "crash (see tests/fuzz/crashes)")" "0" \
		"$([ "$rc" = 0 ] && echo pass || echo FAIL)" "make fuzz FUZZ_SECONDS=$FUZZ_SECONDS"
}

load() {
	local rc=0 j="$LOG/load.json" lost
	"$B/tools/pcm_load" --json >"$j" 2>"$LOG/load.log" || rc=$?
	lost=$(jq -r '.lost_pages // "?"' "$j" 2>/dev/null || echo "?")
	[[ $lost =~ ^[0-9]+$ ]] && LOST_TOTAL=$((LOST_TOTAL + lost))
	row "Load: 16 vCPUs faulting at once on a 4 GiB guest (no stuck vCPU, no lost wake-up)" "1 migration" \
		"$(jq -r '"\(.vcpus_seen_faulting)/\(.vcpus) vCPUs faulted, peak \(.peak_blocked) blocked at once; \(.remote_faults) remote faults, fault p99 \(.fault_latency_us.p99) us, longest \(.longest_fault_ms) ms; verified \(.verified)"' "$j" 2>/dev/null || echo "no report")" \
		"$lost" "$([ "$rc" = 0 ] && echo pass || echo FAIL)" "$B/tools/pcm_load --json"
}

soak() {
	local rc=0 j="$LOG/soak.json" lost
	"$B/tools/pcm_soak" --count "$SOAK_COUNT" --json >"$j" 2>"$LOG/soak.log" || rc=$?
	lost=$(jq -r '[.migrations[].lost] | add // "?"' "$j" 2>/dev/null || echo "?")
	[[ $lost =~ ^[0-9]+$ ]] && LOST_TOTAL=$((LOST_TOTAL + lost))
	row "Soak: $SOAK_COUNT migrations back and forth of one VM in one process" "$SOAK_COUNT migrations" \
		"$(jq -r '"\([.migrations[] | select(.verified)] | length) verified; fds \(.fds_first) -> \(.fds_last); RSS-shmem \(.rss_minus_shmem_first_kb) -> \(.rss_minus_shmem_last_kb) KiB (growth \(.rss_growth_kb), bound \(.rss_bound_kb)); VmRSS \(.rss_first_kb) -> \(.rss_last_kb) KiB; downtime p50 \(.downtime_us.p50) us"' "$j" 2>/dev/null || echo "no report")" \
		"$lost" "$([ "$rc" = 0 ] && echo pass || echo FAIL)" "$B/tools/pcm_soak --count $SOAK_COUNT --json"
}

write_md() {
	{
		echo "# Reliability"
		echo
		echo "Written by \`make reliability\` (tests/reliability/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'),"
		echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- . ':!tests/RELIABILITY.md' 2>/dev/null || echo ' plus uncommitted changes'), $(nproc) cores, kernel $(uname -r)."
		echo "Every row is the result of its command, run then; nothing here is typed by hand."
		echo
		echo "| what | tried | held | pages lost | result | command |"
		echo "| --- | --- | --- | --- | --- | --- |"
		printf '%s\n' "${ROWS[@]}"
		echo
		echo "Pages lost over every migration above: **$LOST_TOTAL** (must be 0)."
		echo "Rows failed: $BAD."
	} >"$OUT"
}

make --no-print-directory all "$B/tools/pcm_load" "$B/tools/pcm_soak" "$B/tools/faultproxy" \
	"$B/tools/fakepeer" $(ls tests/unit/test_*.c | sed "s|tests/unit/\(.*\)\.c|$B/tests/\1|") >/dev/null
faults
bad_input
load
soak
write_md
echo "reliability: wrote $OUT (logs in $LOG); pages lost: $LOST_TOTAL; rows failed: $BAD"
[ "$BAD" = 0 ] && [ "$LOST_TOTAL" = 0 ]
