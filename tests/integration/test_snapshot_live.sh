#!/usr/bin/env bash
# snapshot NAME FILE, live (the default; issue 13), on the thread engine:
# a busy 256 MiB, 2-vCPU kv guest is written while it runs. The reply
# says it was live, the pause (state save and write-protect), the copy
# time, and the pages the guest wrote before the copy reached them (a
# busy kv guest always writes some); the file covers every page; the VM
# runs on. An eager restore of the file under a new name passes the kv
# workload's self-check (so RAM and state are of one instant, not
# smeared across the copy) and carries on from the operations counted
# before the snapshot. Live and --pause snapshots follow one another on
# the same VM, and a second live one restores and checks too; the text
# reply names the live copy. (The kvm engine shares the code, engine-
# neutral over machine regions, but needs /dev/kvm to run here.)
source "$(dirname "$0")/lib.sh"

# start_restore (lib.sh) waits up to 30 s here for the restored VM's socket
RESTORE_POLLS=600

# restored_ok TAG NAME FILE RESULT OPS0: an eager restore of FILE as NAME
# passes its self-check, read every data page, counts on from OPS0.
restored_ok() {
	local tag=$1 name=$2 file=$3 res=$4 ops0=$5 ops1
	if ! start_restore "$name" "$file" --eager; then
		fail "$tag: the restore did not come up"
		return
	fi
	check "$tag: restore's kv self-check passed ($(grep -m1 'check:' "$TMP/$name.log" || true))" \
		grep -q "check: kv self-check passed" "$TMP/$name.log"
	check "$tag: the restore read every data page" \
		grep -q "pages: $(jq .data_pages "$res") read and checked" "$TMP/$name.log"
	ops1=$(vm_ops "$name")
	check "$tag: the copy counts on from the snapshot's operations ($ops0 before it, $ops1)" \
		test "${ops1:-0}" -ge "$ops0"
	check "$tag: the copy runs and makes progress" vm_alive "$name"
	"$PM" stop "$name" >/dev/null
}

start_vm L --engine thread --mem 256M --vcpus 2 --workload kv
check "the VM runs" vm_alive L
sleep 1     # the kv guest fills its table: RAM to write, pages to race

ops0=$(vm_ops L)
rc=0
"$PM" snapshot L "$TMP/a.snap" --json >"$TMP/a.json" 2>"$TMP/a.err" || rc=$?
if [ "$rc" -eq 0 ]; then pass "snapshot (live) exits 0"; else fail "snapshot exit $rc: $(cat "$TMP/a.err")"; fi
check "the result says live, covers every page, with pause, copy and early pages" \
	jqt --arg f "$TMP/a.snap" '.file == $f and .live == true and .ram_bytes == 268435456
	 and .data_pages + .zero_pages == 65536 and .data_pages > 0
	 and .paused_ms > 0 and .copy_ms > 0 and .total_ms >= .paused_ms + .copy_ms
	 and .early_pages > 0 and .wp_faults >= .early_pages' "$TMP/a.json"
pass "live, 256 MiB kv: paused $(jq .paused_ms "$TMP/a.json") ms, RAM copied in $(jq .copy_ms "$TMP/a.json") ms as it ran, $(jq .early_pages "$TMP/a.json") pages early, total $(jq .total_ms "$TMP/a.json") ms"
check "the file is there, no FILE.tmp left" test -f "$TMP/a.snap" -a ! -e "$TMP/a.snap.tmp"
check "the VM runs on after the live snapshot" vm_alive L
check "its status is running" jqt '.state == "running"' <<<"$("$PM" status L --json)"

restored_ok "live" La "$TMP/a.snap" "$TMP/a.json" "$ops0"

# --pause still works on the same VM, and a live one after it again.
rc=0
"$PM" snapshot L "$TMP/p.snap" --pause --json >"$TMP/p.json" 2>"$TMP/p.err" || rc=$?
check "then --pause: exit 0, not live ($(cat "$TMP/p.err"))" \
	jqt '.live == false and .data_pages + .zero_pages == 65536 and (has("early_pages") | not)' \
	"$TMP/p.json"
check "... the VM runs on" vm_alive L
out=$("$PM" snapshot L "$TMP/t.snap" 2>&1) || fail "a live snapshot in text: $out"
check "a live snapshot's text names the live copy ($(sed -n 3p <<<"$out"))" \
	grep -Eq "^  RAM copy +[0-9.]+ ms as the VM ran: [0-9]+ pages written early" <<<"$out"
check "... and its first line says live" grep -q "^VM 'L' written to $TMP/t.snap (live)$" <<<"$out"
ops0=$(vm_ops L)
rc=0
"$PM" snapshot L "$TMP/b.snap" --json >"$TMP/b.json" 2>"$TMP/b.err" || rc=$?
check "a further live snapshot exits 0 ($(cat "$TMP/b.err"))" test "$rc" -eq 0
check "... the VM runs on" vm_alive L
restored_ok "further live" Lb "$TMP/b.snap" "$TMP/b.json" "$ops0"
check "the original still runs" vm_alive L
"$PM" stop L >/dev/null

finish
