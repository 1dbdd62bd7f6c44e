#!/usr/bin/env bash
# tests/integration/test_recover.sh - post-copy survives its link.
#
# Once the destination runs the VM, a broken or silent link is an outage:
# both sides pause (status says postcopy-paused), the source reconnects,
# the destination's received-page bitmap tells it what to send again, and
# the migration ends verified with every page accounted for. Faults come
# from build/tools/faultproxy between source and destination: a channel
# reset (control, urgent, bulk), a flipped bit in a page, a stall that
# only heartbeats can see. Then the operator's `recover --to` after the
# only path died, the operator giving up on either end, the destination
# giving up when the source never comes back, and the command's own
# errors.
source "$(dirname "$0")/lib.sh"

# lost PAGES_JSON: total minus every kind of arrival (0: nothing lost).
lost() { jq '.pages.total - (.pages.pushed + .pages.requested + .pages.zero + .pages.precopied)' "$1"; }

# survived TAG DESC DEST: the migration in $TMP/TAG.json ended verified,
# lost nothing, counted its outage, and the VM runs on the destination.
survived() {
	local tag=$1 d=$2 dest=$3
	check "$d: migrate succeeded ($(tail -c 300 "$TMP/$tag.err" | tr '\n' ' '))" \
		test "$(cat "$TMP/$tag.rc")" = 0
	check "$d: verified" jqt '.verified' "$TMP/$tag.json"
	check "$d: no page lost ($(lost "$TMP/$tag.json" 2>/dev/null))" \
		test "$(lost "$TMP/$tag.json" 2>/dev/null)" = 0
	check "$d: the report counts the outage" jqt '.link.pauses >= 1' "$TMP/$tag.json"
	check "$d: the source said so" grep -q 'link lost:.*' "$TMP/$tag.err"
	check "$d: the source said it recovered" grep -q 'link restored after' "$TMP/$tag.err"
	check "$d: the destination said it recovered" grep -q 'link restored after' \
		"$TMP/$dest.log"
	check "$d: VM runs on the destination" vm_alive "$dest"
}

# migrate_bg TAG VM ARGS...: migrate --json in the background ($MIG).
migrate_bg() {
	local tag=$1 vm=$2; shift 2
	( rc=0; "$PM" migrate "$vm" --json "$@" >"$TMP/$tag.json" 2>"$TMP/$tag.err" || rc=$?
	  echo "$rc" >"$TMP/$tag.rc" ) &
	MIG=$!
}

# ---- 1. a channel reset, and a corrupted page, after activation ---------
# --after-resumed: the fault waits for the destination's RESUMED, so it
# lands after activation even when a loaded machine starts the VM late (a
# bulk reset before activation rightly fails the migration instead).
for fault in drop-control drop-urgent drop-bulk corrupt; do
	start_vm "s-$fault" --engine thread --mem 512M --vcpus 2 --workload sweep
	receive_bg "d-$fault" --link-timeout 2 --recover-timeout 30
	start_proxy "$fault" --fault "$fault" --after-bytes 2M --after-resumed --seed 1
	migrate_bg "$fault" "s-$fault" --to "127.0.0.1:$PROXY_PORT" --link-timeout 2 \
		--recover-timeout 30
	wait "$MIG"
	check "$fault: the proxy injected it" grep -q "^fault: $fault" "$TMP/$fault.proxy"
	survived "$fault" "$fault after activation" "d-$fault"
	kill "$PROXY_PID" 2>/dev/null || true
	"$PM" stop "d-$fault" >/dev/null
done

# ---- 2. silence: only the heartbeats can tell -------------------------------
start_vm s-stall --engine thread --mem 512M --vcpus 2 --workload kv
receive_bg d-stall --link-timeout 1 --recover-timeout 30
start_proxy stall --fault stall --stall-ms 4000 --after-bytes 8M --after-resumed --seed 2
migrate_bg stall s-stall --to "127.0.0.1:$PROXY_PORT" --link-timeout 1 --recover-timeout 30
wait "$MIG"
check "stall: the proxy froze the link" grep -q '^fault: stall' "$TMP/stall.proxy"
survived stall "silent link (stall)" d-stall
check "stall: found by the heartbeat after the 1 s link timeout ($(grep -o 'link lost:.*' "$TMP/stall.err" | head -1))" \
	grep -Eq 'link lost: the .* (has been silent for|has waited) [1-9][0-9]*\.[0-9] s' "$TMP/stall.err"
# The outage counts from the last sign of the peer, so the silence
# before its detection is in it.
check "stall: the outage counts the silence before detection ($(jq -c .link "$TMP/stall.json"))" \
	jqt '.link.longest_ms >= 1000' "$TMP/stall.json"
"$PM" stop d-stall >/dev/null

# ---- 3. the only path dies: paused on both sides, `recover --to` --------
# The destination's own address stays open, as an operator's second
# route would.
start_vm s-op --engine thread --mem 256M --vcpus 2 --workload kv
receive_bg d-op --recover-timeout 60
start_proxy op --fault none
migrate_bg op s-op --to "127.0.0.1:$PROXY_PORT" --max-bandwidth 16M --recover-timeout 60
check "operator: the destination runs the VM while pages arrive (postcopy-active)" \
	wait_state d-op postcopy-active
expect_error "operator: recover while the link is up says there is nothing to do" \
	"link is up: nothing to recover" "$PM" recover s-op
kill -9 "$PROXY_PID"
check "operator: the source shows postcopy-paused" wait_state s-op postcopy-paused 5
check "operator: the destination shows postcopy-paused" wait_state d-op postcopy-paused 5
check "operator: status names the outage and the attempts" \
	bash -c '"$0" status s-op | grep -Eq "^link: paused for .*attempt [0-9]+"' "$PM"
sleep 1
check "operator: the destination's VM still runs meanwhile" vm_ops d-op
expect_error "operator: recover on the destination points to the source" \
	"run recover on the source" "$PM" recover d-op
check "operator: recover --to the destination's own address" \
	"$PM" recover s-op --to "127.0.0.1:$RECV_PORT"
wait "$MIG"
survived op "operator recovery to a new address" d-op
check "operator: the outage lasted at least the second we waited" \
	jqt '.link.longest_ms >= 1000' "$TMP/op.json"
# The VM moves on from there: that migration counts its own outages only
# (one VM host keeps one link for all its migrations).
receive_bg d-op2
"$PM" migrate d-op --to "127.0.0.1:$RECV_PORT" --json >"$TMP/op2.json" 2>"$TMP/op2.err"
check "operator: the next migration of the VM succeeded ($(tail -c 200 "$TMP/op2.err"))" \
	jqt '.verified' "$TMP/op2.json"
check "operator: the next migration counts no outage of the one before" \
	jqt '.link.pauses == 0 and .link.paused_ms == 0' "$TMP/op2.json"
"$PM" stop d-op2 >/dev/null

# ---- 4. the operator gives up: the destination died after commitment ----
start_vm s-quit --engine thread --mem 256M --vcpus 2 --workload kv
receive_bg d-quit --recover-timeout 60
migrate_bg quit s-quit --to "127.0.0.1:$RECV_PORT" --max-bandwidth 2M --recover-timeout 60
wait_state d-quit postcopy-active || true
sleep 0.5      # RESUMED reaches the source: it has committed
kill -9 "$RECV_PID"
check "give up: the source reconnects (postcopy-paused)" wait_state s-quit postcopy-paused 5
t0=$EPOCHREALTIME
check "give up: recover --give-up is accepted" "$PM" recover s-quit --give-up
wait "$MIG" || true
took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
check "give up: the migration ended at once (${took} s, not the 60 s recover timeout)" \
	awk -v t="$took" 'BEGIN { exit !(t < 10) }'
check "give up: migrate failed" test "$(cat "$TMP/quit.rc")" != 0
check "give up: the error says the operator gave up ($(tail -n1 "$TMP/quit.err"))" \
	grep -q 'recovery given up by the operator' "$TMP/quit.err"
check "give up: the source keeps its paused copy" test "$(vm_state s-quit)" = paused
check "give up: resume runs it again" "$PM" resume s-quit
check "give up: the resumed VM makes progress" vm_alive s-quit
"$PM" stop s-quit >/dev/null

# ---- 5. the source never comes back: the destination gives up ----------
# source_dies TAG BANDWIDTH RECEIVE_ARGS...: s-TAG migrates to d-TAG at
# BANDWIDTH and is SIGKILLed once d-TAG runs the VM (RECV_PID: d-TAG).
source_dies() {
	local tag=$1 bw=$2 src; shift 2
	start_vm "s-$tag" --engine thread --mem 256M --vcpus 2 --workload kv
	src=$VM_PID
	receive_bg "d-$tag" "$@"
	migrate_bg "$tag" "s-$tag" --to "127.0.0.1:$RECV_PORT" --max-bandwidth "$bw"
	wait_state "d-$tag" postcopy-active || true
	kill -9 "$src"
	wait "$MIG" || true
}

source_dies gone 16M --recover-timeout 2 --link-timeout 1
for _ in $(seq 100); do kill -0 "$RECV_PID" 2>/dev/null || break; sleep 0.1; done
check "source killed: the destination gave up after its recover timeout" \
	grep -q 'source did not come back within 2 s' "$TMP/d-gone.log"
check "source killed: the destination exited" bash -c '! kill -0 "$0" 2>/dev/null' "$RECV_PID"
check "source killed: no VM answers under the destination's name" \
	bash -c '! "$0" status d-gone >/dev/null 2>&1' "$PM"

# The same, ended by the operator instead of a timeout.
source_dies gone2 2M --recover-timeout 60 --link-timeout 1
check "give up (destination): it waits for the source (postcopy-paused)" \
	wait_state d-gone2 postcopy-paused 5
check "give up (destination): recover --give-up is accepted" "$PM" recover d-gone2 --give-up
for _ in $(seq 50); do kill -0 "$RECV_PID" 2>/dev/null || break; sleep 0.1; done
check "give up (destination): it exited within 5 s" \
	bash -c '! kill -0 "$0" 2>/dev/null' "$RECV_PID"
check "give up (destination): it says the operator gave up" \
	grep -q 'waiting for the source given up by the operator' "$TMP/d-gone2.log"

# ---- 6. the command -------------------------------------------------------
check "recover --help" bash -c '"$0" recover --help | grep -q "usage: postcopy-move recover"' "$PM"
expect_error "recover: no such VM" "no VM named 'nosuch'" "$PM" recover nosuch
start_vm s-idle --engine thread --mem 64M --vcpus 1 --workload idle
expect_error "recover: no migration running" "no migration of this VM is running" \
	"$PM" recover s-idle
rc=0; "$PM" recover s-idle --to nowhere >/dev/null 2>&1 || rc=$?
check "recover --to without a port is a usage error (exit $rc)" test "$rc" = 2
rc=0; "$PM" recover s-idle --to 127.0.0.1:1 --give-up >/dev/null 2>&1 || rc=$?
check "recover --to with --give-up is a usage error (exit $rc)" test "$rc" = 2
expect_error "recover --give-up: no migration running" "no migration of this VM is running" \
	"$PM" recover s-idle --give-up
"$PM" stop s-idle >/dev/null
finish
