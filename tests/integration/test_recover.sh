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

# ended_ok TAG DESC: the migration in $TMP/TAG.json succeeded, verified,
# with every page accounted for.
ended_ok() {
	local tag=$1 d=$2
	check "$d: migrate succeeded ($(tail -c 300 "$TMP/$tag.err" | tr '\n' ' '))" \
		test "$(cat "$TMP/$tag.rc")" = 0
	check "$d: verified" jqt '.verified' "$TMP/$tag.json"
	check "$d: no page lost ($(lost "$TMP/$tag.json" 2>/dev/null))" \
		test "$(lost "$TMP/$tag.json" 2>/dev/null)" = 0
}

# survived TAG DESC DEST: the migration in $TMP/TAG.json ended verified,
# lost nothing, counted its outage, and the VM runs on the destination.
survived() {
	local tag=$1 d=$2 dest=$3
	ended_ok "$tag" "$d"
	check "$d: the report counts the outage" jqt '.link.pauses >= 1' "$TMP/$tag.json"
	check "$d: the source said so" grep -q 'link lost:.*' "$TMP/$tag.err"
	check "$d: the source said it recovered" grep -q 'link restored after' "$TMP/$tag.err"
	check "$d: the destination said it recovered" grep -q 'link restored after' \
		"$TMP/$dest.log"
	check "$d: VM runs on the destination" vm_alive "$dest"
}

# finished_there TAG DESC DEST: the destination got every page while the
# link was down and never heard RELEASED; the source, reconnecting, got
# DONE for its RECOVER and ended with success, its copy released.
finished_there() {
	local tag=$1 d=$2 dest=$3
	ended_ok "$tag" "$d"
	check "$d: the source heard DONE on reconnecting" \
		grep -q 'the destination has every page' "$TMP/$tag.err"
	check "$d: the returning source released the destination" \
		grep -q 'the source came back and released the VM' "$TMP/$dest.log"
	check "$d: VM runs on the destination" wait_state "$dest" running 10
	check "$d: and makes progress" vm_alive "$dest"
	check "$d: the source's copy is gone" \
		bash -c '! "$0" status "$1" >/dev/null 2>&1' "$PM" "s-$tag"
}

# migrate_bg TAG VM ARGS...: migrate --json in the background ($MIG).
migrate_bg() {
	local tag=$1 vm=$2; shift 2
	( rc=0; "$PM" migrate "$vm" --json "$@" >"$TMP/$tag.json" 2>"$TMP/$tag.err" || rc=$?
	  echo "$rc" >"$TMP/$tag.rc" ) &
	MIG=$!
}

# proxied TAG LINK_TIMEOUT KEY PROXY_ARGS...: d-TAG receives (recover
# timeout 30 s; --psk-file KEY unless KEY is -), s-TAG migrates to it
# through faultproxy TAG started with PROXY_ARGS (and migrate's options
# in the array MIG_EXTRA, if set); waits for the migration.
proxied() {
	local tag=$1 lt=$2 key=$3; shift 3
	local k=()
	[ "$key" = - ] || k=(--psk-file "$key")
	receive_bg "d-$tag" --link-timeout "$lt" --recover-timeout 30 "${k[@]}"
	start_proxy "$tag" "$@"
	migrate_bg "$tag" "s-$tag" --to "127.0.0.1:$PROXY_PORT" --link-timeout "$lt" \
		--recover-timeout 30 "${k[@]}" ${MIG_EXTRA[@]+"${MIG_EXTRA[@]}"}
	wait "$MIG"
}

# ---- 1. a channel reset, and a corrupted page, after activation ---------
# --after-resumed: the fault waits for the destination's RESUMED, so it
# lands after activation even when a loaded machine starts the VM late (a
# bulk reset before activation rightly fails the migration instead). The
# trigger is 256 KiB of bulk: the guest's data pages are what it wrote
# before the move, 2-20 MB, and once all of bulk was 2007712 bytes, below
# the 2 MiB this asked for, so the fault never fired (2026-12-04, the
# proxy's log showed it; a missed fault prints that log). The pusher is
# held to 32 MB/s so that bulk goes on past RESUMED for the corruption.
MIG_EXTRA=(--max-bandwidth 32M)
for fault in drop-control drop-urgent drop-bulk corrupt; do
	start_vm "s-$fault" --engine thread --mem 512M --vcpus 2 --workload sweep
	proxied "$fault" 2 - --fault "$fault" --after-bytes 256K --after-resumed --seed 1
	check "$fault: the proxy injected it" grep -q "^fault: $fault" "$TMP/$fault.proxy"
	grep -q "^fault: $fault" "$TMP/$fault.proxy" || tail -n 8 "$TMP/$fault.proxy" | sed 's/^/    proxy: /'
	survived "$fault" "$fault after activation" "d-$fault"
	kill "$PROXY_PID" 2>/dev/null || true
	"$PM" stop "d-$fault" >/dev/null
done
unset MIG_EXTRA

# ---- 2. silence: only the heartbeats can tell -------------------------------
start_vm s-stall --engine thread --mem 512M --vcpus 2 --workload kv
proxied stall 1 - --fault stall --stall-ms 4000 --after-bytes 2M --after-resumed --seed 2
check "stall: the proxy froze the link" grep -q '^fault: stall' "$TMP/stall.proxy"
survived stall "silent link (stall)" d-stall
check "stall: found by the heartbeat after the 1 s link timeout ($(grep -o 'link lost:.*' "$TMP/stall.err" | head -1))" \
	grep -Eq 'link lost: the .* (has been silent for|has waited) [1-9][0-9]*\.[0-9] s' "$TMP/stall.err"
# The outage counts from the last sign of the peer, so the silence
# before its detection is in it.
check "stall: the outage counts the silence before detection ($(jq -c .link "$TMP/stall.json"))" \
	jqt '.link.longest_ms >= 1000' "$TMP/stall.json"
"$PM" stop d-stall >/dev/null

# ---- 2b. the end and the reconnection, in every order -------------------
# DONE lost (reset, or stalled past the link timeout, on an authenticated
# link): the destination has every page, keeps the VM and answers the
# source's RECOVER with DONE; the source reports success. RECOVER_ACK
# lost: the destination, still taking the first reconnection's page
# channels, takes the source's next one instead.
head -c 32 /dev/urandom >"$TMP/key"; chmod 600 "$TMP/key"
for fault in drop-done stall-done; do
	start_vm "s-$fault" --engine thread --mem 256M --vcpus 2 --workload kv
	proxied "$fault" 1 "$TMP/key" --fault "$fault" --stall-ms 3000
	check "$fault: the proxy held DONE back" grep -q "^fault: $fault" "$TMP/$fault.proxy"
	finished_there "$fault" "$fault" "d-$fault"
	kill "$PROXY_PID" 2>/dev/null || true
	"$PM" stop "d-$fault" >/dev/null
done
start_vm s-ack --engine thread --mem 512M --vcpus 2 --workload sweep
proxied ack 2 - --fault drop-ack --after-bytes 2M --after-resumed
check "drop-ack: the proxy dropped RECOVER_ACK" \
	grep -q "^fault: drop-ack on control generation" "$TMP/ack.proxy"
survived ack "RECOVER_ACK lost" d-ack
check "drop-ack: the destination took the newer reconnection" \
	grep -q 'taking the newer connection' "$TMP/d-ack.log"
kill "$PROXY_PID" 2>/dev/null || true
"$PM" stop d-ack >/dev/null
# RESUMED lost: the source does not know whether the VM runs there, asks
# on reconnecting, hears RECOVER_ACK (it does) and goes on from there.
start_vm s-res --engine thread --mem 256M --vcpus 2 --workload kv
proxied res 2 - --fault drop-resumed
check "drop-resumed: the proxy dropped RESUMED" grep -q "^fault: drop-resumed" "$TMP/res.proxy"
survived res "RESUMED lost" d-res
kill "$PROXY_PID" 2>/dev/null || true
"$PM" stop d-res >/dev/null
# RESUMED lost, then the reconnection's RECOVER_ACK reset on its way: a
# reset is no answer, so the source asks again rather than resume its own
# copy while the destination runs the VM (it did, until a reset counted as
# a closed door).
start_vm s-rack --engine thread --mem 256M --vcpus 2 --workload kv
proxied rack 2 - --fault drop-resumed-ack
check "drop-resumed-ack: the proxy dropped RESUMED and then RECOVER_ACK" \
	bash -c 'grep -q "^fault: drop-resumed" "$0" && grep -q "^fault: drop-ack on control generation" "$0"' \
	"$TMP/rack.proxy"
survived rack "RESUMED and RECOVER_ACK lost" d-rack
check "drop-resumed-ack: the source never resumed its own copy" \
	bash -c '! grep -q "keeps running here" "$0"' "$TMP/rack.err"
kill "$PROXY_PID" 2>/dev/null || true
"$PM" stop d-rack >/dev/null

# ---- 3. the only path dies: paused on both sides, `recover --to` --------
# The destination's own address stays open, as an operator's second
# route would. 4 MB/s: the 256 MiB kv VM has ~14 MB of non-zero pages, so
# post-copy lasts seconds, long enough to be caught live under load (at
# 16 MB/s it ends in under a second).
start_vm s-op --engine thread --mem 256M --vcpus 2 --workload kv
receive_bg d-op --recover-timeout 60
start_proxy op --fault none
migrate_bg op s-op --to "127.0.0.1:$PROXY_PORT" --max-bandwidth 4M --recover-timeout 60
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
expect_error "give up: resume with the destination unreachable needs --force" \
	"cannot ask the destination .* resume --force" "$PM" resume s-quit
check "give up: resume --force runs it again" "$PM" resume s-quit --force
check "give up: the resumed VM makes progress" vm_alive s-quit
"$PM" stop s-quit >/dev/null

# ---- 4b. resume asks the destination first ----------------------------
# The only path dies and the operator gives up on the source while the
# destination still runs the VM, waiting: a path back (a proxy on the same
# address) lets resume ask, and the answer refuses it. Once the
# destination has given up too, nobody answers: resume needs --force.
# fixed_proxy TAG PORT [ARGS...]: faultproxy listening on PORT, with ARGS
# (default --fault none).
fixed_proxy() {
	local tag=$1 port=$2; shift 2
	[ $# -gt 0 ] || set -- --fault none
	"$FAULTPROXY" --listen "127.0.0.1:$port" --to "127.0.0.1:$RECV_PORT" "$@" \
		--log "$TMP/$tag.proxy" 2>/dev/null &
	PROXY_PID=$!
	PIDS+=($!)
	for _ in $(seq 100); do grep -q listening "$TMP/$tag.proxy" 2>/dev/null && return 0; sleep 0.02; done
	return 1
}
# 2 MB/s: pages still arrive when the proxy dies (see above).
start_vm s-ask --engine thread --mem 256M --vcpus 2 --workload kv
receive_bg d-ask --recover-timeout 60
ask_port=$(free_port)
fixed_proxy ask "$ask_port"
migrate_bg ask s-ask --to "127.0.0.1:$ask_port" --max-bandwidth 2M --recover-timeout 60
wait_state d-ask postcopy-active || true
kill -9 "$PROXY_PID"
check "resume: the source is paused on the outage" wait_state s-ask postcopy-paused 5
"$PM" recover s-ask --give-up >/dev/null
wait "$MIG" || true
check "resume: the source kept its paused copy" test "$(vm_state s-ask)" = paused
wait "$PROXY_PID" 2>/dev/null || true   # its port is free only once it is gone
check "resume: a path back to the destination" fixed_proxy ask2 "$ask_port"
expect_error "resume: refused while the destination runs the VM" \
	"runs this VM and waits for its pages" "$PM" resume s-ask
expect_error "resume --force: refused all the same (the destination answered)" \
	"runs this VM and waits for its pages" "$PM" resume s-ask --force
check "resume: the source's copy is still paused" test "$(vm_state s-ask)" = paused
check "resume: the destination noted the question" \
	grep -q "answered the source's question: the VM runs here" "$TMP/d-ask.log"
check "resume: the destination still waits for the source" wait_state d-ask postcopy-paused 5
"$PM" recover d-ask --give-up >/dev/null
for _ in $(seq 50); do kill -0 "$RECV_PID" 2>/dev/null || break; sleep 0.1; done
expect_error "resume: nobody answers once the destination gave up: --force needed" \
	"cannot ask the destination .* resume --force" "$PM" resume s-ask
check "resume --force: runs the paused copy" "$PM" resume s-ask --force
check "resume --force: the copy makes progress" vm_alive s-ask
kill "$PROXY_PID" 2>/dev/null || true
"$PM" stop s-ask >/dev/null

# DONE is lost and the only path dies with it: the destination keeps the
# VM with every page, the operator gives up on the source, and resume,
# once a path is back, learns that the migration had succeeded: the
# source's copy is released, not run a second time.
start_vm s-fin --engine thread --mem 256M --vcpus 2 --workload kv
receive_bg d-fin --link-timeout 1 --recover-timeout 60
fin_port=$(free_port)
fixed_proxy fin "$fin_port" --fault drop-done --then-refuse
migrate_bg fin s-fin --to "127.0.0.1:$fin_port" --link-timeout 1 --recover-timeout 60
check "finished: the destination runs the VM with every page" wait_state d-fin running 20
check "finished: it says the source is owed DONE" \
	bash -c '"$0" status d-fin | grep -q "^source: owed DONE"' "$PM"
check "finished: the source, cut off, is paused on the outage" wait_state s-fin postcopy-paused 5
"$PM" recover s-fin --give-up >/dev/null
wait "$MIG" || true
check "finished: the cut-off source kept its paused copy" test "$(vm_state s-fin)" = paused
kill "$PROXY_PID" 2>/dev/null || true
wait "$PROXY_PID" 2>/dev/null || true   # its port is free only once it is gone
check "finished: a path back to the destination" fixed_proxy fin2 "$fin_port"
out=$("$PM" resume s-fin 2>&1) || true
check "finished: resume learns the migration had succeeded ($out)" \
	grep -q "the migration had succeeded" <<<"$out"
for _ in $(seq 50); do "$PM" status s-fin >/dev/null 2>&1 || break; sleep 0.1; done
check "finished: the source's copy is released (its process exited)" \
	bash -c '! "$0" status s-fin >/dev/null 2>&1' "$PM"
check "finished: the destination heard RELEASED" \
	grep -q 'the source came back and released the VM' "$TMP/d-fin.log"
check "finished: it owes nothing any more" \
	bash -c '! "$0" status d-fin | grep -q "^source: owed"' "$PM"
check "finished: the VM runs on at the destination" vm_alive d-fin
kill "$PROXY_PID" 2>/dev/null || true
"$PM" stop d-fin >/dev/null

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

# 2 MB/s: pages are still missing when the source dies (a destination
# that already has every page rightly keeps the VM; at 16 MB/s a loaded
# run saw that).
source_dies gone 2M --recover-timeout 2 --link-timeout 1
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
