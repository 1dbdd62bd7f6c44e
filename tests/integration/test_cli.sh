#!/usr/bin/env bash
# run / receive / migrate / status / stop as separate processes over
# loopback: the VM moves, keeps running on the destination under its name,
# and the source releases it.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
start_vm src --engine thread --mem 256M --vcpus 2 --workload sweep --write-fraction 0.3
check "source VM runs" vm_alive src
"$PM" receive --listen "127.0.0.1:$port" --name dst >"$TMP/dst.log" 2>&1 &
PIDS+=($!)
# listening once it says so (a fixed sleep lost the race on a busy machine)
wait_for "$TMP/dst.log" 'waiting for a VM' 200 || fail "receive did not start listening"
if "$PM" migrate src --to "127.0.0.1:$port" --json >"$TMP/report.json" 2>"$TMP/migrate.err"; then
	pass "migrate exits 0"
else
	fail "migrate: $(cat "$TMP/migrate.err")"
fi
check "report verified" jqt '.verified == true and .mode == "postcopy" and .engine == "thread"' "$TMP/report.json"
check "report has every documented key" jqt 'has("setup_ms") and has("downtime_us") and
	has("max_stall_us") and has("total_ms") and (.bytes | has("control") and has("urgent") and has("bulk")) and
	(.pages | has("pushed") and has("requested") and has("zero") and has("precopied") and has("resent")) and
	has("remote_faults") and (.fault_latency_us | has("p50") and has("p90") and has("p99") and has("max")) and
	has("blocktime_us") and has("verified") and has("vcpus") and has("ram_bytes")' "$TMP/report.json"
sleep 0.3
expect_error "source released the VM" "no VM named 'src'" "$PM" status src
check "destination VM runs under its name" vm_alive dst
check "stop stops it" "$PM" stop dst
sleep 0.3
expect_error "stopped VM is gone" "no VM named 'dst'" "$PM" status dst
check "help on every subcommand" bash -c "for c in run receive migrate recover resume status stop demo engines; do '$PM' \$c --help | grep -q usage || exit 1; done"
finish
