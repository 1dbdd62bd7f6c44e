#!/usr/bin/env bash
# tests/reliability/run.sh - `make reliability`: run every fault, bad-input,
# load and soak test and write their results as tests/RELIABILITY.md.
#
# Nothing in the table is typed by hand: each row is the outcome of the
# command shown next to it, run now. Rows:
#   - failures before commitment (tests/integration/test_faults.sh)
#   - outages after activation (tests/integration/test_recover.sh)
#   - random fault injection after activation (inject.sh, RUNS runs)
#   - bad input: decoder tests, the fuzz corpus replay, the bad-input and
#     authentication integration tests, and libFuzzer (when clang is here)
#   - load: 16 vCPUs faulting at once on a 4 GiB guest (pcm_load)
#   - soak: 50 migrations back and forth (pcm_soak)
#   - repeated runs: test_recover.sh REPEAT times and `make test-kvm`
#     KVM_REPEAT times, the second half of each with one core kept busy
#     by a spinning process of this script's (a test that fails one run
#     in five is a failing test)
# Columns: ran, passed, skipped (see write_md), pages lost, result.
# Pages lost sums every migration's total minus its arrivals of every kind.
# OUT (default tests/RELIABILITY.md); RUNS (20); SOAK_COUNT (50);
# FUZZ_SECONDS (30 per target; 0 skips libFuzzer); REPEAT (4); KVM_REPEAT
# (0: skipped; a nested run takes minutes). Exit 1 if a row failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=${PCM_BUILD:-build}
OUT=${OUT:-tests/RELIABILITY.md}
RUNS=${RUNS:-20}
SOAK_COUNT=${SOAK_COUNT:-50}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
REPEAT=${REPEAT:-4}
KVM_REPEAT=${KVM_REPEAT:-0}
LOG=$(mktemp -d /tmp/pcm-reliability.XXXXXX)
ROWS=()
LOST_TOTAL=0
BAD=0
SKIP_ROWS=0

# Every row says how many ran, passed and were skipped. A skip is what did
# not run here (a unit test that skipped itself, an integration case its
# script could not run on this machine, a fault that never fired); it is
# never counted as run or passed. Without /dev/kvm the malformed-input row
# once read "91 tests | 82 | pass": test_kvm's 9 skipped tests were
# among those tried and nothing said they never ran.

# md TEXT: TEXT fit for a table cell (a '|' would end it).
md() { tr '\n' ' ' <<<"$1" | sed 's/|/\\|/g; s/ *$//'; }

# verdict RC FAILED RAN SKIPPED: pass when the command succeeded, nothing
# that ran failed and something ran; skipped when nothing ran because it
# all was skipped; else FAIL (a command that ran nothing at all and said
# nothing of skipping proved nothing).
verdict() {
	if [ "$1" != 0 ] || [ "$2" != 0 ]; then
		echo FAIL
	elif [ "$3" != 0 ]; then
		echo pass
	elif [ "$4" != 0 ]; then
		echo skipped
	else
		echo FAIL
	fi
}

# row WHAT RAN PASSED SKIPPED LOST RESULT COMMAND
row() {
	ROWS+=("| $1 | $2 | $(md "$3") | $(md "$4") | $5 | $6 | \`${7% }\` |")
	[ "$6" = pass ] || [ "$6" = skipped ] || BAD=$((BAD + 1))
	[ "$4" = 0 ] || SKIP_ROWS=$((SKIP_ROWS + 1))
	echo "reliability: $1: $6 (ran $2, passed $3, skipped $4)"
}

# joined: stdin's distinct lines, in order, joined by "; ".
joined() { awk '!seen[$0]++ { s = s (s == "" ? "" : "; ") $0 } END { print s }'; }

# reasons PREFIX LOG: the distinct rests of LOG's lines starting with
# PREFIX (a regular expression), joined.
reasons() { sed -n "s/^$1//p" "$2" | joined; }

# skipped_cell N UNIT WHY: "0", or "N UNIT (WHY)".
skipped_cell() {
	if [ "$1" = 0 ]; then echo 0; else echo "$1 $2${3:+ ($3)}"; fi
}

# script TITLE LOG CMD...: an integration script as one row. Its checks
# print ok: or FAIL: (lib.sh); a case it cannot run here prints skip: and
# leaves its checks out, so skipped counts cases, not checks. A check
# marked "known issue" ran and did not hold without failing the script.
script_row() {
	local what=$1 log=$2; shift 2
	local rc=0 ok bad known skips passed
	"$@" >"$log" 2>&1 || rc=$?
	ok=$(grep -c '^ok: ' "$log")
	bad=$(grep -c '^FAIL: ' "$log")
	known=$(grep -c '^known issue (not counted): ' "$log")
	skips=$(grep -c '^skip: ' "$log")
	passed=$ok
	[ "$known" = 0 ] || passed="$ok ($known known issue(s) ran and did not hold, not counted as failing)"
	row "$what" "$((ok + bad + known)) checks" "$passed" \
		"$(skipped_cell "$skips" "case(s)" "$(reasons 'skip: ' "$log")")" "0" \
		"$(verdict "$rc" "$bad" "$((ok + bad + known))" "$skips")" "$*"
}

faults() {
	script_row "Failures before commitment (refused, dropped, killed, silent, corrupted): VM keeps running on the source" \
		"$LOG/faults.log" bash tests/integration/test_faults.sh
	script_row "Outages after activation (control, urgent, bulk reset; corrupt page; stall; operator recover --to and --give-up on either end; source gone)" \
		"$LOG/recover.log" bash tests/integration/test_recover.sh
	# inject.sh's outcome column: OK (the fault fired and the migration
	# ended verified), SKIP (it never fired: nothing was tested), FAIL.
	local rc=0 ok skip bad lost t="$LOG/inject.tsv"
	RUNS=$RUNS OUT="$t" bash tests/reliability/inject.sh >"$LOG/inject.log" 2>&1 || rc=$?
	ok=$(awk -F'\t' 'NR > 1 && $11 == "OK"' "$t" | wc -l)
	skip=$(awk -F'\t' 'NR > 1 && $11 == "SKIP"' "$t" | wc -l)
	bad=$(awk -F'\t' 'NR > 1 && $11 != "OK" && $11 != "SKIP"' "$t" | wc -l)
	lost=$(awk -F'\t' 'NR > 1 && $8 ~ /^[0-9]+$/ { s += $8 } END { print s + 0 }' "$t")
	LOST_TOTAL=$((LOST_TOTAL + lost))
	# A run inject.sh never reached is missing from the table: a failure.
	[ "$((ok + skip + bad))" = "$RUNS" ] || bad=$((bad + RUNS - ok - skip - bad))
	[ "$lost" = 0 ] || bad=$((bad + 1))
	row "Random fault injection during post-copy, after activation (drop control/urgent/bulk, corrupt a byte, stall), seeds 1..$RUNS" \
		"$((RUNS - skip)) runs" \
		"$ok ended verified$(awk -F'\t' 'NR > 1 && $11 == "OK" && $9 ~ /^[0-9]+$/ { p += $9 } END { printf " (%d link pauses recovered)", p }' "$t")" \
		"$(skipped_cell "$skip" "run(s)" "$(awk -F'\t' 'NR > 1 && $11 == "SKIP" { s = s (s ? "; " : "") "run " $1 " " $2 ($5 == "no" ? "" : " (its proxy cannot say)") } END { if (s) print "no fault fired: " s }' "$t")")" \
		"$lost" "$(verdict "$rc" "$bad" "$((RUNS - skip))" "$skip")" \
		"RUNS=$RUNS bash tests/reliability/inject.sh"
}

# Unit tests as a row, from cmocka's own summary: "N test(s) run" counts
# the skipped ones too, "[  SKIPPED ] N test(s)" says how many, and a test
# that says why prints "skipped: WHY" first.
unit_row() {
	local what=$1 log=$2; shift 2
	local rc=0 n=0 p=0 sk=0 f=0 t tn tp ts tf why=() r
	for t in "$@"; do
		"$B/tests/$t" >"$log.$t" 2>&1 || rc=1
		cat "$log.$t" >>"$log"
		tn=$(grep -Eo '^\[==========\] [0-9]+ test\(s\) run' "$log.$t" | awk '{ s += $2 } END { print s + 0 }')
		tp=$(grep -Eo '^\[  PASSED  \] [0-9]+ test' "$log.$t" | awk '{ s += $4 } END { print s + 0 }')
		ts=$(grep -Eo '^\[  SKIPPED \] [0-9]+ test' "$log.$t" | awk '{ s += $4 } END { print s + 0 }')
		tf=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$log.$t" | awk '{ s += $4 } END { print s + 0 }')
		# A binary that died before its summary ran nothing we can count.
		[ "$tn" != 0 ] || tf=$((tf + 1))
		n=$((n + tn)) p=$((p + tp)) sk=$((sk + ts)) f=$((f + tf))
		if [ "$ts" != 0 ]; then
			r=$(reasons ' *skipped: ' "$log.$t")
			why+=("$t $ts${r:+: $r}")
		fi
	done
	row "$what" "$((n - sk)) tests" "$p" \
		"$(skipped_cell "$sk" "tests" "$(printf '%s\n' "${why[@]}" | joined)")" \
		"0" "$(verdict "$rc" "$f" "$((n - sk))" "$sk")" "$(printf "$B/tests/%s " "$@")"
}

bad_input() {
	unit_row "Malformed messages and state blobs (magic, type, length, checksum, range, duplicates, versions, layouts; fuzz corpus replay)" \
		"$LOG/unit.log" test_wire test_proto test_fuzzregress test_chan test_crypt test_kvm
	script_row "Bad input end to end (garbage, wrong version, bad checksum, truncated, closed, no memory, bad names and options, open run directory)" \
		"$LOG/badinput.log" bash tests/integration/test_badinput.sh
	script_row "Strangers and tampering (no key, wrong key, garbage: refused while receive waits on for the right source; clear source to an encrypting destination; a tampered sealed page)" \
		"$LOG/auth.log" bash tests/integration/test_auth.sh
	local what="libFuzzer on the message and state-blob decoders, $FUZZ_SECONDS s each"
	if [ "$FUZZ_SECONDS" = 0 ]; then
		# Left out on request: the table says so rather than dropping it.
		row "$what" "0 inputs" "0" "all (FUZZ_SECONDS=0)" "0" skipped "make fuzz FUZZ_SECONDS=0"
		return
	fi
	local rc=0 execs
	make --no-print-directory fuzz FUZZ_SECONDS="$FUZZ_SECONDS" >"$LOG/fuzz.log" 2>&1 || rc=$?
	execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$LOG/fuzz.log" | awk '{ s += $2 } END { print s + 0 }')
	row "$what" "$execs inputs" \
		"$([ "$rc" = 0 ] && echo "$execs, no crash" || echo "crash (see tests/fuzz/crashes)")" "0" "0" \
		"$(verdict "$rc" 0 "$execs" 0)" "make fuzz FUZZ_SECONDS=$FUZZ_SECONDS"
}

# tool_counts LOG: "passed failed skipped" from pcm_load's or pcm_soak's
# PASS/FAIL/SKIP lines (stderr with --json).
tool_counts() { echo "$(grep -c '^PASS ' "$1") $(grep -c '^FAIL ' "$1") $(grep -c '^SKIP ' "$1")"; }

load() {
	local rc=0 j="$LOG/load.json" lost ok bad sk
	"$B/tools/pcm_load" --json >"$j" 2>"$LOG/load.log" || rc=$?
	lost=$(jq -r '.lost_pages // "?"' "$j" 2>/dev/null || echo "?")
	[[ $lost =~ ^[0-9]+$ ]] && LOST_TOTAL=$((LOST_TOTAL + lost))
	read -r ok bad sk < <(tool_counts "$LOG/load.log")
	row "Load: 16 vCPUs faulting at once on a 4 GiB guest, 1 migration (no stuck vCPU, no lost wake-up)" \
		"$((ok + bad)) checks" \
		"$ok: $(jq -r '"\(.vcpus_seen_faulting)/\(.vcpus) vCPUs faulted, peak \(.peak_blocked) blocked at once; \(.remote_faults) remote faults, fault p99 \(.fault_latency_us.p99) us, longest \(.longest_fault_ms) ms; verified \(.verified)"' "$j" 2>/dev/null || echo "no report")" \
		"$(skipped_cell "$sk" "check(s)" "$(reasons 'SKIP  ' "$LOG/load.log")")" \
		"$lost" "$(verdict "$rc" "$bad" "$((ok + bad))" "$sk")" "$B/tools/pcm_load --json"
}

soak() {
	local rc=0 j="$LOG/soak.json" lost ok bad sk
	"$B/tools/pcm_soak" --count "$SOAK_COUNT" --json >"$j" 2>"$LOG/soak.log" || rc=$?
	lost=$(jq -r '[.migrations[].lost] | add // "?"' "$j" 2>/dev/null || echo "?")
	[[ $lost =~ ^[0-9]+$ ]] && LOST_TOTAL=$((LOST_TOTAL + lost))
	read -r ok bad sk < <(tool_counts "$LOG/soak.log")
	row "Soak: $SOAK_COUNT migrations back and forth of one VM in one process" "$((ok + bad)) checks" \
		"$ok: $(jq -r '"\([.migrations[] | select(.verified)] | length) of \(.count) migrations verified; fds \(.fds_first) -> \(.fds_last); RSS-shmem \(.rss_minus_shmem_first_kb) -> \(.rss_minus_shmem_last_kb) KiB (growth \(.rss_growth_kb), bound \(.rss_bound_kb)); VmRSS \(.rss_first_kb) -> \(.rss_last_kb) KiB; downtime p50 \(.downtime_us.p50) us"' "$j" 2>/dev/null || echo "no report")" \
		"$(skipped_cell "$sk" "check(s)" "$(reasons 'SKIP  ' "$LOG/soak.log")")" \
		"$lost" "$(verdict "$rc" "$bad" "$((ok + bad))" "$sk")" "$B/tools/pcm_soak --count $SOAK_COUNT --json"
}

# repeated TITLE N LOGTAG CMD...: CMD N times, the runs past the first
# half with one core kept busy; one row with the counts of each half.
repeated() {
	local what=$1 n=$2 tag=$3; shift 3
	local idle=0 idle_ok=0 busy=0 busy_ok=0 spin rc secs fails=()
	if [ "$n" = 0 ]; then
		row "$what" "0 runs" "0" "all: not asked for (0 runs)" "0" skipped "$*"
		return
	fi
	for i in $(seq "$n"); do
		spin=
		if [ "$i" -gt $((n / 2)) ]; then
			timeout 7200 sh -c 'while :; do :; done' & spin=$!
		fi
		secs=$SECONDS rc=0
		"$@" >"$LOG/$tag-$i.log" 2>&1 || rc=$?
		[ -n "$spin" ] && { kill "$spin" 2>/dev/null; wait "$spin" 2>/dev/null; }
		if [ -n "$spin" ]; then busy=$((busy + 1)); else idle=$((idle + 1)); fi
		if [ "$rc" = 0 ]; then
			if [ -n "$spin" ]; then busy_ok=$((busy_ok + 1)); else idle_ok=$((idle_ok + 1)); fi
		else
			fails+=("run $i$([ -n "$spin" ] && echo ' (busy)'): $(grep -m1 -E '^FAIL|FAILED|ERROR' "$LOG/$tag-$i.log" | cut -c1-120)")
		fi
		echo "reliability: $tag run $i/$n: exit $rc in $((SECONDS - secs)) s"
	done
	row "$what" "$n runs ($busy with a core kept busy)" \
		"$((idle_ok + busy_ok)) (idle $idle_ok of $idle, busy core $busy_ok of $busy)$([ ${#fails[@]} -gt 0 ] && printf '; %s' "${fails[@]}")" \
		"0" "0" "$(verdict 0 $((n - idle_ok - busy_ok)) "$n" 0)" "$*"
}

repeats() {
	repeated "Repeated: the outage cases end to end, again and again" "$REPEAT" recover \
		bash tests/integration/test_recover.sh
	repeated "Repeated: the KVM tests (nested under QEMU where /dev/kvm does not work)" \
		"$KVM_REPEAT" test-kvm make --no-print-directory test-kvm
}

write_md() {
	{
		echo "# Reliability"
		echo
		echo "Written by \`make reliability\` (tests/reliability/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'),"
		echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- . ':!tests/RELIABILITY.md' 2>/dev/null || echo ' plus uncommitted changes'), $(nproc) cores, kernel $(uname -r), $("${PCM_BIN:-bin}/postcopy-move" engines --check kvm 2>/dev/null && echo "kvm engine usable" || echo "no usable /dev/kvm")."
		echo "Every row is the result of its command, run then; nothing here is typed by hand."
		echo
		echo "| what | ran | passed | skipped | pages lost | result | command |"
		echo "| --- | --- | --- | --- | --- | --- | --- |"
		printf '%s\n' "${ROWS[@]}"
		echo
		echo "**ran**: the checks, tests, runs or inputs carried out here. **passed**: those of"
		echo "them that held. **skipped**: what did not run here, and why: a unit test that"
		echo "skipped itself, a case an integration script could not run on this machine"
		echo "(its \`skip:\` lines; one case may stand for several checks), a check a tool"
		echo "could not make, a random fault that never fired before the migration ended."
		echo "A skip is never counted as passed. **result**: pass when the command succeeded,"
		echo "nothing that ran failed and something ran; skipped when nothing ran."
		echo
		echo "Pages lost over every migration above: **$LOST_TOTAL** (must be 0)."
		echo "Rows failed: $BAD. Rows with something skipped: $SKIP_ROWS."
	} >"$OUT"
}

make --no-print-directory all "$B/tools/pcm_load" "$B/tools/pcm_soak" "$B/tools/faultproxy" \
	"$B/tools/fakepeer" $(ls tests/unit/test_*.c | sed "s|tests/unit/\(.*\)\.c|$B/tests/\1|") >/dev/null
faults
bad_input
load
soak
repeats
write_md
echo "reliability: wrote $OUT (logs in $LOG); pages lost: $LOST_TOTAL; rows failed: $BAD; rows with skips: $SKIP_ROWS"
[ "$BAD" = 0 ] && [ "$LOST_TOTAL" = 0 ]
