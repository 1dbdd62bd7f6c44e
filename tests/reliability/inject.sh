#!/usr/bin/env bash
# tests/reliability/inject.sh - fault injection during post-copy at random
# moments (issue 12): R runs (RUNS, default 20) cycling through drop-control,
# drop-urgent, drop-bulk, corrupt and stall, seeds 1..R, workloads sweep
# (odd runs) and kv (even runs).
#
# Each run: a destination (`receive`), a 512 MiB, 2-vCPU thread-engine VM,
# build/tools/faultproxy between them (--seed RUN: it picks the moment, a
# bulk byte in 1..64 MiB; --after-resumed: not before the destination's
# RESUMED, so always after activation), and `migrate --json` through the
# proxy. A run is OK when the fault fired and the migration ends verified
# with no page lost (total = pushed + requested + zero + precopied); after
# activation every one of these faults is an outage the migration
# recovers from, so nothing less is OK. A run that ended well but whose
# fault never fired (the stream ended before its byte), or whose proxy
# cannot say, tested nothing: it is SKIP, neither OK nor failed. Reconnection options (--recover-timeout 60
# --link-timeout 3) are passed when the command line offers them.
#
# Prints one line per run and "inject: R runs, K ok, S skipped, F failed";
# writes a TSV to $OUT (default /tmp/inject.tsv). Every run is bounded by
# RUN_TIMEOUT (120 s) and leaves no process behind. Exit status 1 when a
# run failed.
source "$(dirname "$0")/../integration/lib.sh"

RUNS=${RUNS:-20}
OUT=${OUT:-/tmp/inject.tsv}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
KINDS=(drop-control drop-urgent drop-bulk corrupt stall)
STRAYS=()        # pids to SIGKILL on exit, whatever they are stuck in
OK=0
SKIPPED=0
FAILED=0

trap 'for p in "${STRAYS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; cleanup' EXIT

for f in "$PM" "$FAULTPROXY"; do
	[ -x "$f" ] || { echo "inject: $f is missing (make all build/tools/faultproxy)" >&2; exit 2; }
done

# Reconnection options, where this build has them.
RECOVER=()
for opt in "--recover-timeout 60" "--link-timeout 3"; do
	if "$PM" migrate --help 2>&1 | grep -q -- "${opt% *}" &&
	   "$PM" receive --help 2>&1 | grep -q -- "${opt% *}"; then
		RECOVER+=("${opt% *}" "${opt#* }")
	else
		echo "note: this build has no ${opt% *}: runs go without it"
	fi
done

# spawn TAG CMD...: run CMD in the background, output in $TMP/TAG.log, its
# exit status in $TMP/TAG.status; SPAWN_PID is CMD's own pid. The wrapper
# keeps bash's "Killed" notices out of the output.
spawn() {
	local tag=$1; shift
	rm -f "$TMP/$tag.pid" "$TMP/$tag.status"
	( "$@" >"$TMP/$tag.log" 2>&1 &
	  echo $! >"$TMP/$tag.pid"; rc=0; wait $! || rc=$?; echo "$rc" >"$TMP/$tag.status"
	) 2>/dev/null &
	for _ in $(seq 200); do [ -s "$TMP/$tag.pid" ] && break; sleep 0.01; done
	SPAWN_PID=$(cat "$TMP/$tag.pid")
	STRAYS+=("$SPAWN_PID")
}

# wait_gone PID SECONDS: true when PID ended within SECONDS.
wait_gone() {
	for _ in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	! kill -0 "$1" 2>/dev/null
}

# stop_pid TAG PID SIGNAL: stop PID (SIGNAL, then SIGKILL after 5 s); prints
# its exit status.
stop_pid() {
	kill -"$3" "$2" 2>/dev/null || true
	wait_gone "$2" 5 || kill -9 "$2" 2>/dev/null || true
	for _ in $(seq 100); do [ -s "$TMP/$1.status" ] && break; sleep 0.02; done
	cat "$TMP/$1.status" 2>/dev/null || echo "?"
}

state_of() { "$PM" status "$1" 2>/dev/null | sed -n 's/^state: //p' || true; }

# start_receive TAG NAME: a destination on a port of its choosing; sets
# RECV_PID and RECV_PORT.
start_receive() {
	spawn "$1" "$PM" receive --listen 127.0.0.1:0 --name "$2" "${RECOVER[@]}"
	RECV_PID=$SPAWN_PID
	RECV_PORT=
	for _ in $(seq 100); do
		RECV_PORT=$(sed -n 's/^waiting for a VM on .*:\([0-9]*\)$/\1/p' "$TMP/$1.log")
		[ -n "$RECV_PORT" ] && return 0
		sleep 0.05
	done
	return 1
}

# spawn_proxy TAG KIND SEED: like lib.sh's start_proxy, but under spawn
# (bounded, killed on exit); sets PROXY_PID and PROXY_PORT.
# --after-resumed: the pusher starts once the state is sent, so a seeded
# byte can go by while the destination is still loading the VM; a fault
# there rightly fails the migration with the VM kept on the source (that
# is test_faults.sh's subject), which is not what this row expects. The
# seed still picks the byte: the fault fires at it or at RESUMED,
# whichever comes later.
spawn_proxy() {
	rm -f "$TMP/$1.port"
	spawn "$1" "$FAULTPROXY" --listen 127.0.0.1:0 --port-file "$TMP/$1.port" \
		--to "127.0.0.1:$RECV_PORT" --fault "$2" --seed "$3" --after-resumed
	PROXY_PID=$SPAWN_PID
	for _ in $(seq 100); do [ -s "$TMP/$1.port" ] && break; sleep 0.05; done
	PROXY_PORT=$(cat "$TMP/$1.port" 2>/dev/null || true)
	[ -n "$PROXY_PORT" ]
}

# The report's numbers ("-" without a report): sets VERIFIED LOST PAUSES
# PAUSED_MS.
read_report() {
	local j=$1
	VERIFIED=false LOST=- PAUSES=- PAUSED_MS=-
	[ -s "$j" ] && jq -e 'type == "object"' "$j" >/dev/null 2>&1 || return 0
	VERIFIED=$(jq -r '.verified == true' "$j")
	LOST=$(jq -r '.pages as $p | $p.total - ($p.pushed + $p.requested + $p.zero + $p.precopied)' "$j")
	PAUSES=$(jq -r '.link.pauses // 0' "$j")
	PAUSED_MS=$(jq -r '.link.paused_ms // 0' "$j")
}

# outcome EXIT FIRED: OK, SKIP (it ended well but no fault fired, or the
# proxy cannot say: nothing held) or FAIL.
outcome() {
	if [ "$1" != 0 ] || [ "$VERIFIED" != true ] || [ "$LOST" != 0 ]; then
		echo FAIL
	elif [ "$2" = yes ]; then
		echo OK
	else
		echo SKIP
	fi
}

# Everything a run started goes, whatever state it is in.
teardown() {
	local src=$1 dst=$2 recv_pid=$3 vm_pid=$4
	timeout 10 "$PM" stop "$dst" >/dev/null 2>&1 || true
	timeout 10 "$PM" stop "$src" >/dev/null 2>&1 || true
	if [ -n "$vm_pid" ]; then
		wait_gone "$vm_pid" 5 || kill -9 "$vm_pid" 2>/dev/null || true
		wait "$vm_pid" 2>/dev/null || true
	fi
	if [ -n "$recv_pid" ]; then
		wait_gone "$recv_pid" 5 || kill -9 "$recv_pid" 2>/dev/null || true
	fi
}

# run_one I: one run; appends its TSV row, prints its line.
run_one() {
	local i=$1 kind=${KINDS[$(( ($1 - 1) % ${#KINDS[@]} ))]} wl=sweep
	local src="s$i" dst="d$i" rc=- fired=- why="" vm_pid="" src_state dst_state res
	local npids=${#PIDS[@]}
	[ $((i % 2)) = 0 ] && wl=kv
	VERIFIED=false LOST=- PAUSES=- PAUSED_MS=- RECV_PID="" PROXY_PID=""
	if ! start_receive "recv$i" "$dst"; then
		why="receive did not come up: $(tail -1 "$TMP/recv$i.log")"
	elif ! start_vm "$src" --engine thread --mem 512M --vcpus 2 --workload "$wl"; then
		why="VM did not come up"
	elif ! spawn_proxy "proxy$i" "$kind" "$i"; then
		why="proxy did not come up: $(tail -1 "$TMP/proxy$i.log")"
	fi
	[ "${#PIDS[@]}" -gt "$npids" ] && vm_pid=${PIDS[-1]}
	if [ -z "$why" ]; then
		sleep 1   # the workload fills its pages
		rc=0
		timeout -k 5 "$RUN_TIMEOUT" "$PM" migrate "$src" --to "127.0.0.1:$PROXY_PORT" \
			--json "${RECOVER[@]}" >"$TMP/m$i.json" 2>"$TMP/m$i.err" || rc=$?
		read_report "$TMP/m$i.json"
		[ "$rc" = 0 ] || why=$(grep -m1 'error' "$TMP/m$i.err" || tail -1 "$TMP/m$i.err")
		[ "$rc" = 124 ] && why="migrate took more than $RUN_TIMEOUT s"
		sleep 0.5
	fi
	src_state=$(state_of "$src"); dst_state=$(state_of "$dst")
	if [ -n "$PROXY_PID" ]; then
		case $(stop_pid "proxy$i" "$PROXY_PID" TERM) in 0) fired=yes ;; 3) fired=no ;; *) fired="?" ;; esac
	fi
	teardown "$src" "$dst" "$RECV_PID" "$vm_pid"
	res=$(outcome "$rc" "$fired")
	case $res in
	OK) OK=$((OK + 1)) ;;
	SKIP)
		SKIPPED=$((SKIPPED + 1))
		[ "$fired" = no ] && why="the fault never fired" || why="the proxy cannot say if it fired"
		;;
	*) FAILED=$((FAILED + 1)) ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$kind" "$wl" "$i" "$fired" \
		"$rc" "$VERIFIED" "$LOST" "$PAUSES" "$PAUSED_MS" "$res" >>"$OUT"
	printf 'run %2d/%d %-12s %-5s seed %-3s fired %-3s exit %-3s verified %-5s lost %-3s pauses %s (%s ms) src %s dst %s: %s%s\n' \
		"$i" "$RUNS" "$kind" "$wl" "$i" "$fired" "$rc" "$VERIFIED" "$LOST" "$PAUSES" \
		"$PAUSED_MS" "${src_state:-gone}" "${dst_state:-gone}" "$res" "${why:+ ($why)}"
	grep -h '^fault: ' "$TMP/proxy$i.log" 2>/dev/null | sed 's/^/        /' || true
}

printf 'run\tfault\tworkload\tseed\tfired\texit\tverified\tlost_pages\tpauses\tpaused_ms\toutcome\n' >"$OUT"
for i in $(seq "$RUNS"); do
	run_one "$i"
done
echo "inject: $RUNS runs, $OK ok, $SKIPPED skipped, $FAILED failed (table: $OUT)"
[ "$FAILED" = 0 ]
