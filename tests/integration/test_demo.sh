#!/usr/bin/env bash
# demo with every workload at 256 MiB and 1 GiB: the report verifies, the
# pages add up to all of guest RAM, and vCPUs really faulted remotely
# (sweep on a 32 MiB working set: see demo_check).
source "$(dirname "$0")/lib.sh"

demo_check() {
	local wl=$1 mem=$2 out json args
	# The pusher is capped so that post-copy lasts long enough for the
	# vCPUs to touch pages not yet here even when they get little CPU (a
	# loaded machine, ASan): uncapped on loopback it can deliver all of a
	# 256M sweep in 0.7 s before a starved vCPU asks for one.
	args=(--warmup 0.5 --max-bandwidth 128M)
	# sweep walks its slice in order, and its first pass over a whole 1G
	# (or 256M) guest takes seconds: at the pause every page ahead of a
	# vCPU's cursor was never touched, a hole the destination maps as zero
	# from the pusher's first zero ranges without asking, and the pages it
	# wrote are behind it, sent by the pusher long before it comes round.
	# Remote faults then came only from a vCPU beating those zero ranges,
	# which a loaded machine does not. A 32M working set is written whole
	# within the warmup, so the vCPU's next pages at resume are data the
	# destination lacks; at 32M/s the pusher needs about a second for them,
	# and a vCPU that runs at all meanwhile catches up with it (pages here
	# cost it nothing) and faults on the first one not yet pushed.
	if [ "$wl" = sweep ]; then
		args=(--warmup 1 --working-set 32M --max-bandwidth 32M)
	fi
	if ! out=$("$PM" demo --engine thread --mem "$mem" --workload "$wl" "${args[@]}" \
		--json 2>"$TMP/demo.err"); then
		fail "demo $wl $mem exited non-zero: $(tail -3 "$TMP/demo.err")"
		return
	fi
	json=$(tail -1 <<<"$out")
	check "demo $wl $mem: verified" jqt '.verified == true' <<<"$json"
	check "demo $wl $mem: pushed + requested + zero = all pages" \
		jqt '.pages.pushed + .pages.requested + .pages.zero == .pages.total and
		       .pages.total * 4096 == .ram_bytes' <<<"$json"
	# idle touches only its stats page after resume, which the pusher
	# often delivers before the vCPU asks: zero remote faults is honest.
	if [ "$wl" != idle ]; then
		check "demo $wl $mem: remote faults > 0" jqt '.remote_faults > 0' <<<"$json"
	fi
	# Every payload workload counts operations, so each window has a rate:
	# the guest ran before the pause, over the thread engine's own window
	# (its samples start 250 ms into the run: the warmup is longer), and
	# the destination timed the rest.
	check "demo $wl $mem: guest_rate before > 0 over >= 250 ms, during and after >= 0" \
		jqt '.guest_rate | .before > 0 and .before_ms >= 250 and .during_ms > 0 and
		       .after_ms > 0 and .during >= 0 and .after >= 0' <<<"$json"
	echo "   $(jq -c '{downtime_us, max_stall_us, total_ms, remote_faults, fault_latency_us, pages, guest_rate}' <<<"$json")"
}

for mem in 256M 1G; do
	for wl in idle sweep kv; do
		demo_check "$wl" "$mem"
	done
done
finish
