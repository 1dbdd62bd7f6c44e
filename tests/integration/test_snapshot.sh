#!/usr/bin/env bash
# snapshot --pause and restore (issue 13), as an operator uses them, on
# the thread engine and, where /dev/kvm works, the kvm engine, with a
# 256 MiB kv guest: the snapshotted VM runs on; an eager restore under a
# new name runs, carries on from the snapshot's operations and passes the
# workload's self-check; that copy migrates to a `receive` and verifies
# there. A lazy restore (the default) of the same file starts at once,
# has every page in soon after (status: times, pages faulted and
# filled), passes the self-check; its RAM equals an eager restore's
# (snapdigest, with threads faulting while the filler runs). Then every
# refusal: no such VM (live snapshots: test_snapshot_live.sh), an
# existing file without --force, a directory that does not exist or is
# read-only, a full disk, a VM that migrates or crashed; a restore of a
# truncated file, of a page with a flipped byte (eager: before anything
# runs; lazy: found as the VM runs, which then stops, exit 1), of a file
# cut short after a lazy restore began, of something else or another
# version, under a running name or onto another engine. After each
# refusal the VM runs on as it was, and a refused restore leaves nothing
# running.
source "$(dirname "$0")/lib.sh"

# Mounts made here go before lib.sh's cleanup removes $TMP under them.
MOUNTS=()
trap 'for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || true; done; cleanup' EXIT

st_json() { "$PM" status "$1" --json; }

# The pfn of the first page at or after $2 that holds bytes in file $1
# (its index: present, then zero bitmaps), and the file offset of its
# byte 77.
data_page_off() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb')
h = f.read(104)
npages, ram_off = struct.unpack_from('<QQ', h, 80)
f.seek(-168, 2)
rec = f.read(168)
index_off = struct.unpack_from('<Q', rec, 80)[0]
w = (npages + 63) // 64
f.seek(index_off + 8 * w)
zero = struct.unpack('<%dQ' % w, f.read(8 * w))
for p in range(int(sys.argv[2]), npages):
    if not (zero[p // 64] >> (p % 64)) & 1:
        print(p, ram_off + p * 4096 + 77)
        sys.exit(0)
sys.exit('no data page')
PY
}

flip_byte() {
	python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x40]))
PY
}

# ------------------------------------------- a. the round trip ----
roundtrip() {
	local eng=$1 src=S$1 cp=C$1 dst=D$1 snap=$TMP/$1.snap rc ops0 ops1
	local res=$TMP/$eng.snap.json
	start_vm "$src" --engine "$eng" --mem 256M --vcpus 2 --workload kv
	check "$eng: the VM runs" vm_alive "$src"
	ops0=$(vm_ops "$src")
	rc=0
	"$PM" snapshot "$src" "$snap" --pause --json >"$res" 2>"$TMP/$eng.snap.err" || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$eng: snapshot --pause exits 0"; else fail "$eng: snapshot exit $rc: $(cat "$TMP/$eng.snap.err")"; fi
	check "$eng: its result covers every page, with the pause and the id" jqt --arg f "$snap" \
		'.file == $f and .ram_bytes == 268435456 and .data_pages + .zero_pages == 65536
		 and .data_pages > 0 and .paused_ms > 0 and .total_ms >= .paused_ms
		 and .file_bytes > .ram_bytes and .disk_bytes > 0 and .state_bytes > 0
		 and (.id | test("^[0-9a-f]{32}$"))' "$res"
	pass "$eng: 256 MiB kv: paused $(jq .paused_ms "$res") ms, total $(jq .total_ms "$res") ms, $(jq '.data_pages' "$res") data pages, $(( $(jq .disk_bytes "$res") >> 20 )) MiB on disk"
	check "$eng: the file is there, no FILE.tmp left" test -f "$snap" -a ! -e "$snap.tmp"
	check "$eng: the VM runs on after the snapshot" vm_alive "$src"
	check "$eng: its status is as before" jqt '.state == "running" and (has("restored_from") | not)' \
		<<<"$(st_json "$src")"

	# A copy, while the original runs: a restore is not a move.
	if ! start_restore "$cp" "$snap" --eager; then
		fail "$eng: restore did not come up"
		"$PM" stop "$src" >/dev/null 2>&1 || true
		return
	fi
	check "$eng: restore says how it went ($(sed -n 2,4p "$TMP/$cp.log" | tr -s ' ' | tr '\n' ';'))" \
		grep -q "^VM '$cp' running: restored from $snap in [0-9.]* ms" "$TMP/$cp.log"
	check "$eng: restore's self-check passed" grep -q "check: kv self-check passed" "$TMP/$cp.log"
	check "$eng: the restore read every data page" grep -q "pages: $(jq .data_pages "$res") read and checked" "$TMP/$cp.log"
	ops1=$(vm_ops "$cp")
	check "$eng: the copy carries on from the snapshot's operations ($ops0 before it, $ops1)" \
		test "${ops1:-0}" -ge "$ops0"
	check "$eng: the copy runs and makes progress" vm_alive "$cp"
	check "$eng: the original still runs too" vm_alive "$src"
	check "$eng: status names the file and the check" jqt --arg f "$snap" --arg e "$eng" \
		'.restored_from == $f and (.restore_check | test("self-check passed")) and .engine == $e' \
		<<<"$(st_json "$cp")"
	expect_error "$eng: a restore under a running VM's name is refused" \
		"a VM named '$src' is already running here" "$PM" restore "$snap" --name "$src"
	check "$eng: ... and the VM of that name runs on" vm_alive "$src"
	"$PM" stop "$src" >/dev/null

	# The copy is a VM like any other: it migrates and verifies.
	receive_bg "$dst"
	rc=0
	"$PM" migrate "$cp" --to "127.0.0.1:$RECV_PORT" --json >"$TMP/$eng.mig.json" 2>"$TMP/$eng.mig.err" || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$eng: the copy migrates"; else fail "$eng: migrate exit $rc: $(cat "$TMP/$eng.mig.err")"; fi
	check "$eng: the migration verified ($(jq -r .verify_detail "$TMP/$eng.mig.json" 2>/dev/null))" \
		jqt '.verified == true' "$TMP/$eng.mig.json"
	check "$eng: the migrated copy runs" vm_alive "$dst"
	"$PM" stop "$dst" >/dev/null || true
}

# ------------------------------------------- a2. lazy restore ----
# wait_resident NAME S: true once status says every page is in.
wait_resident() {
	for _ in $(seq $(( $2 * 10 ))); do
		jqt '.restore_resident_ms != null' <<<"$(st_json "$1" 2>/dev/null)" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

lazy_roundtrip() {
	local eng=$1 cp=L$1 snap=$TMP/$1.snap res=$TMP/$1.snap.json st
	if ! start_restore "$cp" "$snap"; then
		fail "$eng: lazy restore did not come up"
		return
	fi
	check "$eng lazy: restore says it started lazily ($(head -1 "$TMP/$cp.log"))" \
		grep -q "^VM '$cp' running: restored lazily from $snap in [0-9.]* ms" "$TMP/$cp.log"
	check "$eng lazy: every page comes in" wait_resident "$cp" 60
	st=$(st_json "$cp")
	check "$eng lazy: the restore says when every page was in, and how" grep -Eq \
		"^VM '$cp': every page resident [0-9.]+ ms after the restore began \(started at [0-9.]+ ms\): [0-9]+ faulted, [0-9]+ filled" \
		"$TMP/$cp.log"
	check "$eng lazy: the self-check passed" grep -q "check: kv self-check passed" "$TMP/$cp.log"
	check "$eng lazy: status: mode, times, and faulted + filled = the file's data pages" \
		jqt --argjson d "$(jq .data_pages "$res")" --argjson z "$(jq .zero_pages "$res")" \
		'.restore_mode == "lazy" and .restore_started_ms > 0
		 and .restore_resident_ms >= .restore_started_ms
		 and .restore_pages_faulted + .restore_pages_filled == $d and .restore_pages_faulted > 0
		 and .restore_pages_zero == $z and .restore_pages_left == 0
		 and (.restore_check | test("self-check passed"))' <<<"$st"
	pass "$eng lazy: started in $(jq .restore_started_ms <<<"$st") ms, every page in at $(jq .restore_resident_ms <<<"$st") ms, $(jq .restore_pages_faulted <<<"$st") pages faulted, $(jq .restore_pages_filled <<<"$st") filled"
	check "$eng lazy: the copy runs and makes progress" vm_alive "$cp"
	check "$eng lazy: the pages faults asked for are recorded beside the file" \
		bash -c "grep -Eq '^  working set: [1-9][0-9]* pages recorded in $snap.ws' '$TMP/$cp.log' && [ -s '$snap.ws' ]"
	"$PM" stop "$cp" >/dev/null
	check "$eng lazy: stop ends it, exit 0" wait_pid_rc "$VM_PID" 0
	# --prefetch: the filler brings that working set in first.
	if start_restore "$cp" "$snap" --prefetch && wait_resident "$cp" 60; then
		st=$(st_json "$cp")
		check "$eng prefetch: it says what it prefetches ($(head -1 "$TMP/$cp.log"))" \
			grep -Eq "^prefetch: [1-9][0-9]* pages the last lazy restore touched first \($snap.ws\)" "$TMP/$cp.log"
		check "$eng prefetch: status counts pages prefetched; the self-check passed" \
			jqt '.restore_pages_prefetched > 0 and .restore_pages_prefetched <= .restore_pages_filled
			     and (.restore_check | test("self-check passed"))' <<<"$st"
		pass "$eng prefetch: $(jq .restore_pages_prefetched <<<"$st") pages prefetched, $(jq .restore_pages_faulted <<<"$st") faulted, every page in at $(jq .restore_resident_ms <<<"$st") ms"
		"$PM" stop "$cp" >/dev/null
		check "$eng prefetch: stop ends it, exit 0" wait_pid_rc "$VM_PID" 0
	else
		fail "$eng: the --prefetch restore did not come up or fill: $(cat "$TMP/$cp.log")"
	fi
	# Stopped while its pages still arrive (vCPUs may wait on faults):
	# it ends as cleanly.
	if start_restore "$cp" "$snap"; then
		"$PM" stop "$cp" >/dev/null
		check "$eng lazy: stop during the fill ends it, exit 0 ($(tail -1 "$TMP/$cp.log"))" \
			wait_pid_rc "$VM_PID" 0
	else
		fail "$eng: the second lazy restore did not come up"
	fi
}

# wait_pid_rc PID RC: the process ends (10 s) with exit status RC; one
# still running then is killed, and that is false.
wait_pid_rc() {
	local rc=0
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$1" 2>/dev/null; then
		kill "$1"
		wait "$1" || true
		return 1
	fi
	wait "$1" || rc=$?
	[ "$rc" -eq "$2" ]
}

roundtrip thread
lazy_roundtrip thread
out=$("$ROOT/${PCM_BUILD:-build}/tools/snapdigest" "$TMP/thread.snap" --touchers 2 2>&1) && rc=0 || rc=$?
check "thread: a lazy restore's RAM equals an eager one's ($(tr '\n' ';' <<<"$out"))" \
	test "$rc" -eq 0 -a -n "$(grep 'equal$' <<<"$out")"

KVM_OK=
if [ -c /dev/kvm ] && "$PM" engines --check kvm 2>/dev/null; then
	KVM_OK=1
	roundtrip kvm
	lazy_roundtrip kvm
else
	skip "kvm round trip: /dev/kvm does not work here ($("$PM" engines 2>&1 | grep -m1 kvm || true))"
fi

# ------------------------------------------- b. snapshot refusals ----
start_vm R --engine thread --mem 32M --vcpus 1 --workload kv
expect_error "no such VM" "no VM named 'nosuch' is running here" \
	"$PM" snapshot nosuch "$TMP/x.snap" --pause
expect_error "usage: a name and a file" "expects a VM name and a file" "$PM" snapshot R --pause

mkdir -p "$TMP/cwd"
( cd "$TMP/cwd" && "$PM" snapshot R r.snap --pause >/dev/null )
check "a relative FILE is the caller's, not the VM process's" test -f "$TMP/cwd/r.snap"
id1=$("$PM" snapshot R "$TMP/r.snap" --pause --json | jq -r .id)
sum1=$(sha256sum <"$TMP/r.snap")
expect_error "an existing file without --force" "$TMP/r.snap exists .*--force" \
	"$PM" snapshot R "$TMP/r.snap" --pause
check "... is left as it was" test "$(sha256sum <"$TMP/r.snap")" = "$sum1"
id2=$("$PM" snapshot R "$TMP/r.snap" --pause --force --json | jq -r .id)
check "--force replaces it (id $id1, then $id2)" test -n "$id2" -a "$id2" != "$id1" -a "$id2" != null
expect_error "a directory that does not exist, named with errno" \
	"cannot write $TMP/nodir/r.snap: No such file or directory" \
	"$PM" snapshot R "$TMP/nodir/r.snap" --pause
mkdir -p "$TMP/ro" "$TMP/full"
if mount --bind "$TMP/ro" "$TMP/ro" 2>/dev/null && MOUNTS+=("$TMP/ro") &&
   mount -o remount,ro,bind "$TMP/ro" 2>/dev/null; then
	expect_error "a read-only directory, named with errno" \
		"cannot write $TMP/ro/r.snap: Read-only file system" "$PM" snapshot R "$TMP/ro/r.snap" --pause
else
	skip "read-only directory: cannot bind-mount here"
fi
if mount -t tmpfs -o size=2M none "$TMP/full" 2>/dev/null && MOUNTS+=("$TMP/full"); then
	expect_error "a full disk" "cannot write $TMP/full/r.snap: No space left on device; nothing was left there" \
		"$PM" snapshot R "$TMP/full/r.snap" --pause
	check "... leaves neither the file nor its .tmp" test -z "$(ls -A "$TMP/full")"
else
	skip "full disk: cannot mount a small tmpfs here"
fi
check "after every refusal the VM runs on" vm_alive R

# A snapshot during a migration is refused: a slow pre-copy, then the
# destination killed before it commits, so the VM stays here.
receive_bg Rdst
"$PM" migrate R --to "127.0.0.1:$RECV_PORT" --mode precopy --max-bandwidth 2M \
	>/dev/null 2>"$TMP/rmig.err" &
mig=$!
PIDS+=("$mig")
if wait_state R migrating 10; then
	expect_error "a VM that migrates" "a migration of this VM is running.*not be safe" \
		"$PM" snapshot R "$TMP/mig.snap" --pause
else
	fail "the slow migration never showed as migrating: $(cat "$TMP/rmig.err")"
fi
kill "$RECV_PID" 2>/dev/null || true
exit_of "$mig" 20
check "the migration failed and the VM runs on here" wait_state R running 20
check "... making progress" vm_alive R
"$PM" stop R >/dev/null

# ------------------------------------------- c. restore refusals ----
# No VM may be left behind by a refused restore: no socket, no process.
refused_restore() {
	local d=$1 pat=$2; shift 2
	expect_error "$d" "$pat" "$PM" restore "$@" --name Xr
	check "... nothing runs" bash -c "! '$PM' status Xr >/dev/null 2>&1 && [ ! -e '$POSTCOPY_MOVE_RUN_DIR/Xr.sock' ]"
}
base=$TMP/thread.snap
size=$(stat -c %s "$base")
head -c $((size / 2)) "$base" >"$TMP/trunc.snap"
refused_restore "a truncated file" "trunc.snap is torn, truncated or damaged" "$TMP/trunc.snap"
head -c $((size - 1)) "$base" >"$TMP/cut1.snap"
refused_restore "a file one byte short" "torn, truncated or damaged" "$TMP/cut1.snap"
cp "$base" "$TMP/flip.snap"
read -r pfn off <<<"$(data_page_off "$TMP/flip.snap" 1000)"
flip_byte "$TMP/flip.snap" "$off"
refused_restore "eager: a flipped byte in a page, naming the page" \
	"page $pfn \(guest address 0x[0-9a-f]+\) of .*flip.snap fails its checksum" "$TMP/flip.snap" --eager
refused_restore "lazy: a flipped byte in a page, naming the page" \
	"page $pfn \(guest address 0x[0-9a-f]+\) of .*flip.snap fails its checksum" "$TMP/flip.snap"
expect_error "--lazy and --eager together are a usage error" "exclude each other" \
	"$PM" restore "$base" --lazy --eager
expect_error "--prefetch with --eager is a usage error" "prefetch is for a lazy restore" \
	"$PM" restore "$base" --prefetch --eager

# Found as the VM runs: a page far into RAM, which the filler reaches
# after the start; or the file cut short once the restore has opened it.
# Either stops the VM and the process (exit 1), naming page and file.
# late_failure DESC NAME FILE PATTERN [CUT [try]]: with "try", a run
# whose fill completed first returns 1 (unjudged) rather than failing.
late_failure() {
	local d=$1 name=$2 file=$3 pat=$4 cut=${5:-} retry=${6:-} rc=0
	"$PM" restore "$file" --name "$name" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	for _ in $(seq 200); do
		[ -S "$POSTCOPY_MOVE_RUN_DIR/$name.sock" ] || ! kill -0 $pid 2>/dev/null && break
		sleep 0.01
	done
	[ -z "$cut" ] || truncate -s "$cut" "$file"
	wait_pid_rc $pid 1 || rc=$?
	if [ -n "$retry" ] && [ "$rc" -ne 0 ] && grep -q "every page resident" "$TMP/$name.out"; then
		echo "note: $d: the fill was complete before the cut; again"
		return 1
	fi
	if [ "$rc" -eq 0 ] && grep -q "running: restored lazily" "$TMP/$name.out" &&
	   grep -Eq "$pat" "$TMP/$name.err" && [ "$(grep -c error "$TMP/$name.err")" -eq 1 ]; then
		pass "$d (exit 1: $(head -1 "$TMP/$name.err"))"
	else
		fail "$d: $(cat "$TMP/$name.out" "$TMP/$name.err")"
	fi
	check "... nothing runs" bash -c "! '$PM' status $name >/dev/null 2>&1 && [ ! -e '$POSTCOPY_MOVE_RUN_DIR/$name.sock' ]"
	return 0
}
cp "$base" "$TMP/flip2.snap"
read -r pfn off <<<"$(data_page_off "$TMP/flip2.snap" 60000)"
flip_byte "$TMP/flip2.snap" "$off"
late_failure "lazy: a damaged page found while the VM runs stops it" Xl "$TMP/flip2.snap" \
	"page $pfn \(guest address 0x[0-9a-f]+\) of .*flip2.snap fails its checksum: the file is damaged"
# The cut must land while the fill runs: a sweep guest's file (its data
# pages early in RAM), out of the page cache, cut to its first 64 pages
# as soon as the VM is up. A run whose fill still won the race (every
# page resident before the cut) proves nothing and is tried again, at
# most 3 times.
start_vm W --engine thread --mem 512M --vcpus 2 --workload sweep --write-fraction 1
sleep 2
"$PM" snapshot W "$TMP/sweep.snap" --pause >/dev/null
"$PM" stop W >/dev/null
ram_off=$(python3 -c 'import struct,sys; print(struct.unpack_from("<Q", open(sys.argv[1],"rb").read(104), 88)[0])' "$TMP/sweep.snap")
for try in 1 2 3; do
	cp "$TMP/sweep.snap" "$TMP/cutlate.snap"
	dd if="$TMP/cutlate.snap" iflag=nocache count=0 status=none
	late_failure "lazy: a file cut short after the restore began stops it (try $try)" Xt \
		"$TMP/cutlate.snap" \
		"cutlate.snap ends before page [0-9]+ \(guest address 0x[0-9a-f]+\): the file was cut short" \
		$((ram_off + 64 * 4096)) try && { judged=1; break; }
done
[ -n "${judged:-}" ] || fail "lazy: a file cut short: the fill beat the cut 3 times (see the notes)"
# Another snapshot's working-set record is said and ignored.
cp "$base.ws" "$TMP/sweep.snap.ws"
if start_restore Xw "$TMP/sweep.snap" --prefetch; then
	check "--prefetch: another snapshot's record is ignored, saying so" \
		grep -q "^prefetch: .*sweep.snap.ws is the record of another snapshot: ignored" "$TMP/Xw.log"
	"$PM" stop Xw >/dev/null
	check "... and the VM ran (stop: exit 0)" wait_pid_rc "$VM_PID" 0
else
	fail "--prefetch with another snapshot's record did not come up"
fi
cp "$base" "$TMP/v2.snap"
printf '\002' | dd of="$TMP/v2.snap" bs=1 seek=8 conv=notrunc 2>/dev/null
refused_restore "another format version" "format version 2; this build reads version 1" "$TMP/v2.snap"
seq 1 5000 >"$TMP/text.snap"
refused_restore "not a snapshot" "text.snap is not a snapshot file" "$TMP/text.snap"
refused_restore "no such file" "cannot read $TMP/none.snap: No such file or directory" "$TMP/none.snap"
refused_restore "another engine" "holds a VM of the thread engine: it cannot run on --engine kvm" \
	"$base" --engine kvm
expect_error "an invalid name is a usage error" "invalid VM name" "$PM" restore "$base" --name .bad

# ------------------------------------------- d. a crashed guest (kvm) ----
# The guest's code overwritten with int3 from outside (crash_guest, lib.sh).
if [ -n "$KVM_OK" ]; then
	start_vm K --engine kvm --mem 32M --vcpus 1 --workload kv
	if crash_guest "$VM_PID" && wait_state K crashed 5; then
		expect_error "a crashed guest" "the guest crashed" "$PM" snapshot K "$TMP/crash.snap" --pause
		check "... and nothing was written" test ! -e "$TMP/crash.snap"
	else
		fail "could not crash the kvm guest: $("$PM" status K 2>&1 | tr '\n' ' ')"
	fi
	"$PM" stop K >/dev/null 2>&1 || true
fi
finish
