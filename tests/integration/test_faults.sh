#!/usr/bin/env bash
# Faults before commitment (issue 5): a connection dropped by the
# destination, a destination killed, a silent destination, a corrupted
# page. Each time the migrate command fails with one error line, the VM
# goes on running on the source as if nothing happened, and a real
# destination process is gone (or exits non-zero) leaving no VM and no
# control socket. A destination killed just after commitment is the one
# case where the VM is lost by design (README, "What is not safe yet"):
# the source must say so and keep its paused copy.
#
# The two timeout cases wait for the source's reply timeout (30 s, not
# settable from the command line); they run in the background while the
# other cases run, so the whole script takes about 35 s. PCM_FAULTS_QUICK=1
# leaves them out.
#
# Checks marked "known issue" describe what the product should do but does
# not yet; they are printed and not counted (see the end of the output).
source "$(dirname "$0")/lib.sh"

RECV_PIDS=()
KNOWN=()
TIMES=()
# SIGKILL every receive on exit, whatever it is stuck in: none outlives us.
trap 'for p in "${RECV_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; cleanup' EXIT

known() {
	local d=$1; shift
	if "$@"; then pass "$d"; else KNOWN+=("$d"); echo "known issue (not counted): $d"; fi
}

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# Start a real destination on a port of its choosing; sets RECV_PID and
# RECV_PORT. A wrapper records its exit status in $TMP/NAME.status (and
# keeps bash's "Killed" notices out of the output).
start_receive() {
	local name=$1; shift
	rm -f "$TMP/$name.pid" "$TMP/$name.status"
	( "$PM" receive --listen 127.0.0.1:0 --name "$name" "$@" >"$TMP/$name.log" 2>&1 &
	  echo $! >"$TMP/$name.pid"; rc=0; wait $! || rc=$?; echo "$rc" >"$TMP/$name.status"
	) 2>/dev/null &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$TMP/$name.pid" ] && break; sleep 0.01; done
	RECV_PID=$(cat "$TMP/$name.pid")
	RECV_PIDS+=("$RECV_PID")
	recv_port "$name"
}

# run_migrate TAG VM ARGS...: migrate, recording exit status, stderr and
# time in $TMP/TAG.{rc,err,time}.
run_migrate() {
	local tag=$1 vm=$2 t0 rc=0; shift 2
	t0=$(now)
	"$PM" migrate "$vm" "$@" >"$TMP/$tag.out" 2>"$TMP/$tag.err" || rc=$?
	echo "$rc" >"$TMP/$tag.rc"
	since "$t0" >"$TMP/$tag.time"
}

# migrate_failed TAG DESC PATTERN: the recorded migrate exited 1 with
# exactly one error line, matching PATTERN.
migrate_failed() {
	local tag=$1 d=$2 pat=$3 rc err line
	rc=$(cat "$TMP/$tag.rc"); err=$(cat "$TMP/$tag.err")
	line=$(grep 'error' <<<"$err" || true)
	TIMES+=("$(printf '%-34s %6s s' "$d" "$(cat "$TMP/$tag.time")")")
	if [ "$rc" = 1 ] && [ "$(grep -c 'error' <<<"$err")" = 1 ] && grep -Eqi "$pat" <<<"$line"; then
		pass "$d: migrate failed in $(cat "$TMP/$tag.time") s ($line)"
	else
		fail "$d: migrate exit $rc after $(cat "$TMP/$tag.time") s, stderr: $err"
	fi
}

# The promise before commitment: the error says so and the VM runs on.
before_commit() {
	local tag=$1 d=$2 pat=$3 vm=$4
	migrate_failed "$tag" "$d" "($pat).*the VM keeps running here"
	check "$d: VM still running and making progress" vm_alive "$vm"
}

# A killed or failed destination leaves nothing: its process is gone with
# a non-zero status, and nothing answers under its name (a SIGKILL may
# leave the socket file; the next VM of that name replaces it).
dest_gone() {
	local d=$1 name=$2 pid=$3 rc
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$d: destination still running: $(cat "$TMP/$name.log")"
		kill -9 "$pid" 2>/dev/null || true
	fi
	for _ in $(seq 50); do [ -s "$TMP/$name.status" ] && break; sleep 0.02; done
	rc=$(cat "$TMP/$name.status" 2>/dev/null || echo "unknown")
	check "$d: destination exited non-zero (status $rc)" test "$rc" != 0 -a "$rc" != unknown
	check "$d: no VM answers under the destination's name" \
		bash -c '! "$0" status "$1" >/dev/null 2>&1' "$PM" "$name"
}

# ---- 3. timeouts, in the background (they take the reply timeout) -------
if [ "${PCM_FAULTS_QUICK:-0}" != 1 ]; then
	TO_PIDS=()
	for mode in silent silent-state; do
		start_vm "to-$mode" --engine thread --mem 256M --vcpus 1 --workload sweep
		start_fakepeer "$mode"
		run_migrate "$mode" "to-$mode" --to "127.0.0.1:$FP_PORT" &
		TO_PIDS+=($!)
	done
else
	echo "note: PCM_FAULTS_QUICK=1: the timeout cases (30 s each) are left out"
fi

start_vm src --engine thread --mem 256M --vcpus 2 --workload kv

# ---- 1. connection dropped by the destination (fakepeer) ----------------
start_fakepeer drop-hello
run_migrate drop-hello src --to "127.0.0.1:$FP_PORT"
before_commit drop-hello "dropped after HELLO" "waiting for READY: .*closed|reset" src

start_fakepeer drop-channels
run_migrate drop-channels src --to "127.0.0.1:$FP_PORT"
before_commit drop-channels "dropped at the page channels" "closed|reset|broken pipe|refused" src

# The source has paused the VM and sent its state when the peer goes.
start_fakepeer drop-state
run_migrate drop-state src --to "127.0.0.1:$FP_PORT"
before_commit drop-state "dropped after the state" "closed|reset|broken pipe" src

# ---- 2. destination crash (a real receive, SIGKILL) ---------------------
# (a) mid pre-copy: 256 MiB at 20 MB/s takes seconds.
start_receive dst-pre
run_migrate kill-precopy src --to "127.0.0.1:$RECV_PORT" --mode precopy --max-bandwidth 20M &
mig=$!
for _ in $(seq 100); do grep -q 'mode precopy' "$TMP/dst-pre.log" && break; sleep 0.05; done
sleep 1
if kill -0 "$mig" 2>/dev/null && grep -q 'mode precopy' "$TMP/dst-pre.log"; then
	kill -9 "$RECV_PID" 2>/dev/null || true
	wait "$mig" || true
	before_commit kill-precopy "destination killed mid pre-copy" "reset|broken pipe|closed" src
	grep -Eq 'pre-copy round [0-9]+: [0-9]+ pages' "$TMP/kill-precopy.err" ||
		echo "note: the kill landed in pre-copy round 1"
else
	wait "$mig" || true
	fail "destination killed mid pre-copy: pre-copy was not running 1 s in: $(cat "$TMP/kill-precopy.err")"
fi
dest_gone "destination killed mid pre-copy" dst-pre "$RECV_PID"

# (b) post-copy, the last moment before commitment: a proxy kills the
# destination as the source's state reaches it (the VM is paused then).
start_receive dst-state
start_fakepeer proxy-kill-state "127.0.0.1:$RECV_PORT" "$RECV_PID"
run_migrate kill-state src --to "127.0.0.1:$FP_PORT"
before_commit kill-state "destination killed at the state" "closed|reset|broken pipe" src
dest_gone "destination killed at the state" dst-state "$RECV_PID"
wait "$FP_PID" || true
check "proxy killed the destination at the state" grep -q 'killed the destination' "$TMP/fp.proxy-kill-state.log"

# (b) post-copy, a plain SIGKILL as early as a script can: as soon as the
# destination has printed the incoming VM. Post-copy commits within a few
# milliseconds of HELLO on loopback, so this usually lands after
# commitment; either way the outcome must be the one the source reports.
start_vm early --engine thread --mem 256M --vcpus 2 --workload kv
start_receive dst-early
run_migrate kill-early early --to "127.0.0.1:$RECV_PORT" --recover-timeout 2 &
mig=$!
for _ in $(seq 20000); do grep -q '^incoming VM' "$TMP/dst-early.log" && break; done
kill -9 "$RECV_PID" 2>/dev/null || true
wait "$mig" || true
if grep -q 'keeps running here' "$TMP/kill-early.err"; then
	echo "note: the early SIGKILL landed before commitment"
	before_commit kill-early "destination killed early" "closed|reset|broken pipe|refused" early
else
	echo "note: the early SIGKILL landed after commitment (the VM is lost by design)"
	migrate_failed kill-early "destination killed early" \
		"committed to the destination, this source keeps its paused copy"
	check "destination killed early: source keeps its copy paused" \
		test "$(vm_state early)" = paused
fi
dest_gone "destination killed early" dst-early "$RECV_PID"
"$PM" stop early >/dev/null

# Just after commitment, deterministically: the proxy passes RESUMED on,
# then kills the destination. The VM is lost by design; the source says
# so, exits non-zero and keeps its paused copy, which cannot move again.
start_vm late --engine thread --mem 256M --vcpus 2 --workload kv
start_receive dst-late
start_fakepeer proxy-kill-resumed "127.0.0.1:$RECV_PORT" "$RECV_PID"
run_migrate kill-resumed late --to "127.0.0.1:$FP_PORT" --recover-timeout 3 &
mig=$!
check "after commit: the source shows the outage (postcopy-paused) while it reconnects" \
	wait_state late postcopy-paused 5
wait "$mig" || true
migrate_failed kill-resumed "destination killed after commit" \
	"not recovered within 3 s.*committed to the destination, this source keeps its paused copy"
check "after commit: the source's copy is paused" test "$(vm_state late)" = paused
a=$(vm_ops late); sleep 0.3; b=$(vm_ops late)
check "after commit: the paused copy does not run ($a -> $b ops)" test "$a" = "$b"
expect_error "after commit: the paused copy cannot migrate again" "paused after a failed migration" \
	"$PM" migrate late --to "127.0.0.1:$FP_PORT"
dest_gone "destination killed after commit" dst-late "$RECV_PID"
wait "$FP_PID" || true
# The destination's copy is gone: the operator runs the paused one again.
expect_error "resume a running VM: nothing to resume" "not paused" "$PM" resume src
# Nobody answers at the destination's address: resume will not guess.
expect_error "after commit: resume without an answer from the destination needs --force" \
	"cannot ask the destination .* resume --force" "$PM" resume late
check "after commit: the copy is still paused" test "$(vm_state late)" = paused
check "after commit: resume --force runs the source's paused copy again" "$PM" resume late --force
check "after commit: the resumed copy runs and makes progress" vm_alive late
"$PM" stop late >/dev/null

# ---- 4. checksum error during pre-copy ---------------------------------
# A proxy spoils one page payload on its way to a real destination, which
# must refuse it and discard its half. --timeout 5 bounds the wait below.
start_receive dst-sum --timeout 5
start_fakepeer proxy-badsum "127.0.0.1:$RECV_PORT"
run_migrate badsum src --to "127.0.0.1:$FP_PORT" --mode precopy
before_commit badsum "page checksum error in pre-copy" "checksum|reset|broken pipe|closed" src
dest_gone "page checksum error in pre-copy" dst-sum "$RECV_PID"
check "page checksum error: the destination names it" \
	grep -q 'receiving the VM failed: bulk channel: payload checksum mismatch' "$TMP/dst-sum.log"
check "page checksum error: the proxy spoiled a page" grep -q spoiled "$TMP/fp.proxy-badsum.log"
# The destination sends ERROR on control with the reason, but the source
# does not read control during pre-copy; and the destination's main thread
# only notices its bulk thread's failure when the control channel has been
# silent for --timeout, while the source sits blocked on the bulk channel.
check "page checksum error: the source's error names the checksum" \
	grep -q checksum "$TMP/badsum.err"
check "page checksum error: the migration ends promptly ($(cat "$TMP/badsum.time") s, receive --timeout 5)" \
	lt "$(cat "$TMP/badsum.time")" 3

# ---- 3. the timeouts' results -------------------------------------------
if [ "${PCM_FAULTS_QUICK:-0}" != 1 ]; then
	for p in "${TO_PIDS[@]}"; do wait "$p" || true; done
	migrate_failed silent "silent destination (no READY)" \
		"did not answer READY within 30000 ms.*the VM keeps running here"
	check "silent destination: gave up after the 30 s reply timeout" \
		awk -v t="$(cat "$TMP/silent.time")" 'BEGIN { exit !(t >= 29 && t < 40) }'
	check "silent destination: VM still running and making progress" vm_alive to-silent
	migrate_failed silent-state "silent destination (no RESUMED)" \
		"did not answer RESUMED within 30000 ms.*the VM keeps running here"
	check "silent destination after the state: VM still running and making progress" \
		vm_alive to-silent-state
	"$PM" stop to-silent >/dev/null
	"$PM" stop to-silent-state >/dev/null
fi

check "source VM survived all of it" vm_alive src
"$PM" stop src >/dev/null

echo "time per case (migrate command):"
printf '  %s\n' "${TIMES[@]}"
if [ "${#KNOWN[@]}" -ne 0 ]; then
	echo "${#KNOWN[@]} known issue(s), not counted:"
	printf '  %s\n' "${KNOWN[@]}"
fi
finish
