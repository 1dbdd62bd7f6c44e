#!/usr/bin/env bash
# The KVM engine end to end, as an operator would use it: run, receive and
# migrate as separate processes over loopback for sweep and kv (report,
# status and both serial consoles), --engine auto picking kvm, a host whose
# /dev/kvm is unusable, destinations that refuse the guest (a CPU feature
# this host's KVM lacks, another protocol version, too little memory, no
# usable /dev/kvm), a guest that crashes (status says so) and bad kvm
# options. Skips when /dev/kvm does not work.
source "$(dirname "$0")/lib.sh"

# Run a command in a private mount namespace where /dev/kvm is unusable:
# HOW is "null" (/dev/null bound over it: opens, but is no KVM) or "gone"
# (an empty /dev: no such file). It execs, so that a background job's pid
# is the command's own (a receive waiting on must be killable): call it
# only in a subshell, a command substitution or the background.
without_kvm() {
	local how=$1; shift
	local setup
	case $how in
	null) setup='mount --bind /dev/null /dev/kvm' ;;
	gone) setup='mount -t tmpfs none /dev' ;;
	esac
	exec unshare --mount sh -c "$setup && exec \"\$@\"" sh "$@"
}

# ------------------------------------------------------------- can we? ----
probe_kvm() {
	local pid rc
	[ -e /dev/kvm ] || { WHY="/dev/kvm does not exist"; return 1; }
	[ -c /dev/kvm ] || { WHY="/dev/kvm is not a character device"; return 1; }
	"$PM" run --engine kvm --name kvmprobe --mem 16M --vcpus 1 --workload idle \
		>"$TMP/kvmprobe.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do
		if "$PM" status kvmprobe >/dev/null 2>&1; then
			"$PM" stop kvmprobe >/dev/null 2>&1 || true
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	WHY=$(grep -m1 error "$TMP/kvmprobe.log" || echo "run --engine kvm did not start")
	return 1
}
WHY=
if ! probe_kvm; then
	skip "kvm engine not available here: $WHY"
	exit 0
fi

# ---------------------------------------- a. run / receive / migrate ----
status_has() { "$PM" status "$1" | grep -qx "$2"; }
# Status lines the payload printed on a console ("[Ns] ops N ticks N").
console_lines() { grep -Ec '^\[[0-9]+s\] ops [0-9]+ ticks [0-9]+' "$1" 2>/dev/null || true; }
console_ops() { sed -n 's/^\[[0-9]*s\] ops \([0-9]*\) ticks [0-9]*$/\1/p' "$1"; }

migrate_kvm() {
	local wl=$1 src=A$1 dst=B$1 rc n1 n2 last first
	local con1=$TMP/console-$src con2=$TMP/console-$dst rep=$TMP/report-$wl.json
	start_vm "$src" --engine kvm --mem 256M --vcpus 2 --workload "$wl" --console "$con1"
	local spid=$VM_PID
	check "$wl: source VM runs on kvm" status_has "$src" "engine: kvm"
	check "$wl: source VM makes progress" vm_alive "$src"
	receive_bg "$dst" --console "$con2"
	sleep 1   # a second of workload: the console has a status line
	rc=0
	"$PM" migrate "$src" --to "127.0.0.1:$RECV_PORT" --json >"$rep" 2>"$TMP/migrate-$wl.err" || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$wl: migrate exits 0"; else fail "$wl: migrate exit $rc: $(cat "$TMP/migrate-$wl.err")"; fi
	check "$wl: report verified, engine kvm, remote faults" jqt --arg wl "$wl" \
		'.verified == true and .engine == "kvm" and .workload == $wl and .mode == "postcopy"
		 and .remote_faults > 0 and .vcpus == 2 and .ram_bytes == 268435456' "$rep"
	check "$wl: destination VM runs on kvm" status_has "$dst" "engine: kvm"
	check "$wl: destination VM is running with ops advancing" vm_alive "$dst"
	exit_of "$spid"; rc=$XRC
	check "$wl: source process exits 0 after releasing the VM ($rc)" test "$rc" -eq 0
	expect_error "$wl: source released the VM" "no VM named '$src'" "$PM" status "$src"
	check "$wl: source console had the payload banner" grep -q "^postcopy-move payload:" "$con1"
	check "$wl: source console had status lines" test "$(console_lines "$con1")" -ge 1
	wait_for "$con2" '^\[[0-9]+s\] ops' || true
	n1=$(console_lines "$con2")
	sleep 1.5
	n2=$(console_lines "$con2")
	check "$wl: destination console gets new status lines ($n1 then $n2)" test "$n1" -ge 1 -a "$n2" -gt "$n1"
	last=$(console_ops "$con1" | tail -1)
	first=$(console_ops "$con2" | head -1)
	check "$wl: guest ops count carries on across the move ($last on source, then $first)" \
		test "${first:-0}" -ge "${last:-1}"
	check "$wl: destination console has no payload banner (no reboot)" bash -c "! grep -q 'payload:' '$con2'"
	check "$wl: stop stops the destination VM" bash -c "'$PM' stop '$dst' >/dev/null"
	exit_of "$RECV_PID"; rc=$XRC
	check "$wl: receive process exits 0 after stop ($rc)" test "$rc" -eq 0
}

migrate_kvm sweep
migrate_kvm kv

# --------------------------------------------------------- b. auto ----
start_vm autovm --engine auto --mem 64M --vcpus 1 --workload idle
check "auto picks kvm and says so" grep -q "^VM 'autovm' running: engine kvm (auto: " "$TMP/autovm.log"
check "auto VM status says engine kvm" status_has autovm "engine: kvm"
"$PM" stop autovm >/dev/null

# ------------------------------------------------ c. unusable /dev/kvm ----
if ! unshare --mount sh -c 'mount --bind /dev/null /dev/kvm' 2>"$TMP/unshare.err"; then
	skip "unusable /dev/kvm cases: cannot make a private mount namespace: $(head -1 "$TMP/unshare.err")"
else
	for how in null gone; do
		expect_error "/dev/kvm $how: --engine kvm refuses, naming /dev/kvm" "/dev/kvm" \
			without_kvm "$how" "$PM" run --engine kvm --name nokvm --mem 64M --vcpus 1 --workload idle
		without_kvm "$how" "$PM" run --engine auto --name fb$how --mem 64M --vcpus 1 --workload idle \
			>"$TMP/fb$how.log" 2>&1 &
		PIDS+=($!)
		for _ in $(seq 100); do "$PM" status "fb$how" >/dev/null 2>&1 && break; sleep 0.05; done
		check "/dev/kvm $how: --engine auto falls back to thread and says why" \
			grep -q "^VM 'fb$how' running: engine thread (auto: /dev/kvm" "$TMP/fb$how.log"
		check "/dev/kvm $how: fallback VM runs on thread" status_has "fb$how" "engine: thread"
		check "/dev/kvm $how: fallback VM makes progress" vm_alive "fb$how"
		"$PM" stop "fb$how" >/dev/null || true
	done
	expect_error "/dev/kvm null: demo --engine kvm refuses, naming /dev/kvm" "/dev/kvm" \
		without_kvm null "$PM" demo --engine kvm --mem 64M
fi

# ------------------------------------- d. refusals at the reservation ----
# A fake source offers a kvm guest; the real destination must refuse it
# before it makes anything, say why in one line, and wait on.
refuse_case() {
	local mode=$1 name=R$1 rc out feat pat
	receive_bg "$name"
	rc=0
	out=$("$FAKEPEER" "$mode" 127.0.0.1 "$RECV_PORT" 2>&1) || rc=$?
	if [ "$rc" -eq 3 ]; then
		skip "$mode: $out"
		kill "$RECV_PID" 2>/dev/null || true
		return 0
	fi
	case $mode in
	hello-features)
		feat=$(sed -n 's/^feature: //p' <<<"$out")
		pat="lacks features the guest was given: $feat\$"
		;;
	hello-version) pat="protocol version" ;;
	esac
	if [ "$rc" -eq 0 ] && [ -n "$pat" ] && grep -Eq "^refused: .*$pat" <<<"$(sed 's/ ([^()]*)$//' <<<"$out")"; then
		pass "$mode: destination refuses${feat:+ naming the missing feature '$feat'} ($(sed -n 's/^refused: //p' <<<"$out"))"
	else
		fail "$mode: fakepeer exit $rc, output: $out"
	fi
	check "$mode: receive notes the refusal in one line and waits on ($(grep -o 'turned.*' "$TMP/$name.log"))" \
		turned_away "$name" "refused the incoming VM: .*${pat/%\$/;}"
	check "$mode: destination made no VM" bash -c "[ ! -e '$POSTCOPY_MOVE_RUN_DIR/$name.sock' ] && ! '$PM' status '$name' >/dev/null 2>&1"
	kill "$RECV_PID" 2>/dev/null || true
	exit_of "$RECV_PID"
}
refuse_case hello-features
refuse_case hello-version

# ------------------------------------------------- e. a guest crash ----
# The guest's code is overwritten with int3 from outside, through the
# process's own mapping of guest RAM (/proc/PID/mem at the guest-ram
# memfd's address plus PC_CODE_OFF, 512 KiB): the next instruction traps
# through a garbage gate into a triple fault, a real one. status says
# crashed and why; stop still ends the VM.
start_vm Ccrash --engine kvm --mem 32M --vcpus 2 --workload kv
check "crash: status says running before" status_has Ccrash "state: running"
if out=$(crash_guest "$VM_PID" 2>&1); then
	for _ in $(seq 50); do status_has Ccrash "state: crashed" && break; sleep 0.1; done
	st=$("$PM" status Ccrash 2>&1 || true)
	if grep -qx "state: crashed" <<<"$st" && grep -Eq '^crashed: .*vCPU' <<<"$st"; then
		pass "crash: status says crashed and why ($(grep '^crashed:' <<<"$st"))"
	else
		fail "crash: status after the guest's code was overwritten: $st"
	fi
else
	fail "crash: could not write the guest's RAM: $out"
fi
check "crash: stop ends the crashed VM" "$PM" stop Ccrash

# ------------------------------------------------------ f. bad input ----
expect_error "kvm: 65 vCPUs is a usage error" "invalid --vcpus" \
	"$PM" run --engine kvm --vcpus 65 --mem 64M --workload idle
check "kvm: 65 vCPUs exits 2" bash -c "'$PM' run --engine kvm --vcpus 65 --mem 64M --workload idle 2>/dev/null; [ \$? -eq 2 ]"
expect_error "kvm: 8 MiB of RAM is too small" "at least 16 MiB|too small" \
	"$PM" run --engine kvm --vcpus 1 --mem 8M --workload idle
expect_error "kvm: RAM not a multiple of 2 MiB" "multiple of 2 MiB" \
	"$PM" run --engine kvm --vcpus 1 --mem 17M --workload idle

start_vm E --engine kvm --mem 256M --vcpus 2 --workload kv
check "kvm source VM runs" vm_alive E

receive_bg small --mem-limit 64M
expect_error "kvm: destination without memory refuses" "not enough memory" \
	"$PM" migrate E --to "127.0.0.1:$RECV_PORT"
check "kvm: the refusing destination notes it and waits on" turned_away small "not enough memory"
check "kvm: VM still running after the refusal" vm_alive E
kill "$RECV_PID" 2>/dev/null || true

if [ -f "$TMP/unshare.err" ] && [ ! -s "$TMP/unshare.err" ]; then
	port=$(free_port)
	without_kvm gone "$PM" receive --listen "127.0.0.1:$port" --name nokvmdst >"$TMP/nokvmdst.log" 2>&1 &
	RECV_PID=$!; PIDS+=("$RECV_PID")
	wait_for "$TMP/nokvmdst.log" "waiting for a VM on" || true
	expect_error "kvm: destination without /dev/kvm refuses, naming it" "engine 'kvm' cannot run here: /dev/kvm" \
		"$PM" migrate E --to "127.0.0.1:$port"
	check "kvm: the destination without /dev/kvm notes it and waits on" \
		turned_away nokvmdst "cannot run here: /dev/kvm"
	check "kvm: VM still running after that refusal" vm_alive E
	kill "$RECV_PID" 2>/dev/null || true
fi

for mode in badsum close; do
	start_fakepeer "$mode"
	case $mode in
	badsum) pat="checksum" ;;
	close) pat="closed|reset" ;;
	esac
	expect_error "kvm: peer $mode" "$pat" "$PM" migrate E --to "127.0.0.1:$FP_PORT"
	check "kvm: VM still running after peer $mode" vm_alive E
done

# ------------------------------------------- g. a Linux guest's disks ----
# PVM cannot boot a kernel at speed (the nested harness does that), but a
# Linux VM exists, runs and is refused as it would be anywhere: its disks
# are checked before anything moves (HELLO names them), and again when
# the state arrives.
KERNELS=${PCM_KERNELS:-$PCM_BUILD/kernels}
if K=$(bash tests/tools/debian-kernel.sh linux-image-amd64 "$KERNELS/linux-image-amd64" 2>"$TMP/kernel.err"); then
	expect_error "linux: a disk that does not exist" "disk /nonexistent: No such file or directory \\(--disk 1\\)" \
		"$PM" run --engine kvm --mem 256M --kernel "$K" --disk /nonexistent
	head -c 4194304 /dev/zero > "$TMP/disk.img"
	head -c 8388608 /dev/zero > "$TMP/other.img"
	start_vm L --engine kvm --mem 256M --vcpus 1 --kernel "$K" --disk "$TMP/disk.img"
	receive_bg nodisk
	expect_error "linux: a destination without the disk refuses before anything moves" \
		"has 1 disk\\(s\\), this destination was given 0" "$PM" migrate L --to "127.0.0.1:$RECV_PORT"
	check "linux: the VM runs on after that refusal" status_has L "state: running"
	kill "$RECV_PID" 2>/dev/null || true
	receive_bg otherdisk --disk "$TMP/other.img"
	expect_error "linux: a destination with another image refuses before anything moves" \
		"destination refused the VM: disk 1: the disk differs from the source's: 8388608 bytes here, 4194304 there" \
		"$PM" migrate L --to "127.0.0.1:$RECV_PORT"
	check "linux: the VM runs on at the source after it" status_has L "state: running"
	kill "$RECV_PID" 2>/dev/null || true
	# the same size, another first byte: HELLO's fingerprint (the source's
	# print, taken as the migration begins) tells the images apart
	{ printf X; head -c 4194303 /dev/zero; } > "$TMP/same-size.img"
	receive_bg samesize --disk "$TMP/same-size.img"
	expect_error "linux: a destination with another image of the same size refuses before anything moves" \
		"destination refused the VM: disk 1: .*first or last MiB differ" \
		"$PM" migrate L --to "127.0.0.1:$RECV_PORT"
	check "linux: the VM runs on at the source after that" status_has L "state: running"
	kill "$RECV_PID" 2>/dev/null || true
	"$PM" stop L >/dev/null 2>&1 || true
else
	fail "linux: cannot fetch Debian's kernel: $(tail -n 3 "$TMP/kernel.err")"
fi

# After all of it the VM still moves, intact.
receive_bg F
rc=0
"$PM" migrate E --to "127.0.0.1:$RECV_PORT" --json >"$TMP/report-E.json" 2>"$TMP/migrate-E.err" || rc=$?
if [ "$rc" -eq 0 ]; then pass "kvm: after the refusals the VM migrates"; else fail "kvm: final migrate exit $rc: $(cat "$TMP/migrate-E.err")"; fi
check "kvm: that migration verified" jqt '.verified == true and .engine == "kvm" and .workload == "kv"' "$TMP/report-E.json"
check "kvm: moved VM runs" vm_alive F
"$PM" stop F >/dev/null || true
finish
