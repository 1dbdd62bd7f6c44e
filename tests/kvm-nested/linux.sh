#!/bin/sh
# Nested-KVM harness: a stock Linux kernel on the KVM engine (issue 11),
# run inside the nested guest by inner.sh. `postcopy-move run --kernel`
# boots Debian's kernels (the harness's own linux-image-amd64, and
# linux-image-cloud-amd64, which has no MP-table parser) with a busybox
# initramfs (tests/kvm-nested/l2-init) on 2 vCPUs: the kernel must find
# both CPUs and the ACPI tables through the VMM's tables and the virtio-rng
# through the DSDT (virtio_mmio, LNRO0005), read entropy from it, and the
# initramfs's poweroff must end `run` with status 0, saying the guest
# powered off.
#
# Environment: PCM_BIN (build/static/bin/postcopy-move), PCM_L2_DIR
# (build/kvm-nested/l2: vmlinuz and initrd.gz, run.sh puts them there),
# PCM_L2_TIMEOUT (420 s, below inner.sh's bound of 600 s so that this
# script still reports: the kernel boots under software emulation).
PM=${PCM_BIN:-build/static/bin/postcopy-move}
L2=${PCM_L2_DIR:-build/kvm-nested/l2}
LIMIT=${PCM_L2_TIMEOUT:-420}
FAILS=0

T=$(mktemp -d /tmp/pcm-linux.XXXXXX) || exit 1
POSTCOPY_MOVE_RUN_DIR=$T/run
export POSTCOPY_MOVE_RUN_DIR
trap 'rm -rf "$T"' EXIT

now() { cut -d' ' -f1 /proc/uptime; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

for f in "$L2/vmlinuz" "$L2/initrd.gz" "$L2/cloud/vmlinuz" "$L2/cloud/initrd.gz"; do
	[ -f "$f" ] || { echo "FAIL: $f missing (run.sh builds it)"; exit 1; }
done

# boot_once NAME KERNEL INITRD: boot, look, power off.
boot_once() {
	name=$1
	rm -f "$T/console" "$T/out"
	t0=$(now)
	head -c 8388608 /dev/zero > "$T/disk.img"
	timeout "$LIMIT" "$PM" run --engine kvm --mem 256M --vcpus 2 --name l2 \
		--kernel "$2" --initrd "$3" --disk "$T/disk.img" \
		--cmdline "console=ttyS0 pci=off earlyprintk=serial,ttyS0 ${PCM_L2_CMDLINE:-loglevel=7}" \
		--console "$T/console" > "$T/out" 2>&1
	rc=$?
	secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	echo "---- $name: run said (exit $rc after ${secs}s):"
	sed 's/^/    /' "$T/out"
	echo "---- $name: guest console (last lines):"
	sed 's/^/    /' "$T/console" 2>/dev/null | tail -n 40

	# timeout's SIGTERM also ends run with 0: its note says it was a signal
	if [ "$rc" = 0 ] && ! grep -q "signal received" "$T/out"; then
		pass "$name: run exited 0 on its own in ${secs}s"
	else
		fail "$name: run exited $rc after ${secs}s$(grep -q 'signal received' "$T/out" && echo ', stopped by the timeout')"
	fi
	grep -q "the guest powered off" "$T/out" && pass "$name: run says the guest powered off" ||
		fail "$name: run does not say the guest powered off"
	grep -q "PCM-L2: up with 2 CPUs" "$T/console" && pass "$name: the guest sees 2 CPUs" ||
		fail "$name: the guest does not report 2 CPUs"
	for t in APIC DSDT FACP; do
		grep -q "PCM-L2: ACPI tables:.* $t" "$T/console" ||
			grep -q "PCM-L2: ACPI tables: $t" "$T/console" ||
			fail "$name: the guest has no ACPI $t table"
	done
	grep -q "PCM-L2: rng: virtio_rng" "$T/console" && pass "$name: the guest's hw_random is virtio-rng" ||
		fail "$name: the guest has no virtio-rng"
	grep -q "PCM-L2: read 256 bytes from /dev/hwrng" "$T/console" &&
		pass "$name: the guest read 256 bytes of entropy" ||
		fail "$name: the guest could not read /dev/hwrng"
	grep -q "PCM-L2: disk vda, 16384 sectors" "$T/console" && pass "$name: the guest has its 8 MiB disk" ||
		fail "$name: the guest has no 8 MiB /dev/vda"
	grep -q "PCM-L2: disk sector 0 reads: PCM-DISK written by the guest" "$T/console" &&
		grep -q "PCM-DISK written by the guest" "$T/disk.img" &&
		pass "$name: the guest wrote its disk and read it back, the image has it" ||
		fail "$name: the disk write did not reach the image or read back"
	grep -q "PCM-L2: powering off" "$T/console" && ! grep -q "poweroff returned" "$T/console" &&
		pass "$name: poweroff ended the guest" || fail "$name: poweroff did not end the guest"
}

boot_once amd64 "$L2/vmlinuz" "$L2/initrd.gz"
boot_once cloud "$L2/cloud/vmlinuz" "$L2/cloud/initrd.gz"

# ---- the same guest migrated in the middle of its ticks, in each mode ----
# run, receive and migrate as three processes; the destination's console
# must go on counting from where the source's stopped, and the guest's
# poweroff must end receive. (Console lines end in CR LF: the guest's
# serial driver writes both.)
wait_for() {   # SECONDS FILE PATTERN
	n=$1
	while [ "$n" -gt 0 ]; do
		grep -q "$3" "$2" 2>/dev/null && return 0
		sleep 1
		n=$((n - 1))
	done
	return 1
}
TICKS=${PCM_L2_TICKS:-150}

# migrate_once MODE [MIGRATE OPTIONS]: boot, migrate at tick 5, check.
migrate_once() {
	mode=$1; shift
	port=$((20000 + ($$ + ${#mode}) % 20000))
	rm -f "$T/src.con" "$T/dst.con" "$T/src.out" "$T/dst.out" "$T/mig.out"
	# PCM_L2_MIGRATE_DISK=1: with a disk, one image on both ends (shared
	# storage on one machine). Off by default: a guest writing its disk
	# stopped on the destination in 2 of 6 nested runs (issue 11), and a
	# test that fails at random blocks everyone. With pcm.watch on
	# (2026-12-03) the stop is the whole L2 guest freezing some 17 s
	# after the move, the kernel's own log lines included, its disk idle
	# (nothing in flight); once an L2 froze the same way while booting,
	# with no migration at all. Suspected: a lost LAPIC timer interrupt
	# under QEMU TCG's nested SVM (a one-shot timer is never re-armed).
	dopt=
	if [ "${PCM_L2_MIGRATE_DISK:-0}" = 1 ]; then
		head -c 8388608 /dev/zero > "$T/disk.img"
		dopt="--disk $T/disk.img"
	fi
	"$PM" receive --listen "127.0.0.1:$port" --name l2dst --timeout "$LIMIT" $dopt \
		--console "$T/dst.con" > "$T/dst.out" 2>&1 &
	rpid=$!
	timeout "$LIMIT" "$PM" run --engine kvm --mem 256M --vcpus 2 --name l2src \
		--kernel "$L2/vmlinuz" --initrd "$L2/initrd.gz" $dopt \
		--cmdline "console=ttyS0 pci=off quiet pcm.ticks=$TICKS ${PCM_L2_TICK_CMDLINE:-}" \
		--console "$T/src.con" > "$T/src.out" 2>&1 &
	spid=$!
	if ! wait_for 300 "$T/src.con" "PCM-L2: tick 5[^0-9]"; then
		fail "$mode: the source guest did not reach tick 5"
	else
		t1=$(now)
		"$PM" migrate l2src --to "127.0.0.1:$port" --mode "$mode" "$@" > "$T/mig.out" 2>&1
		mrc=$?
		msecs=$(awk -v a="$t1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
		echo "---- $mode: migrate said (exit $mrc after ${msecs}s):"
		sed 's/^/    /' "$T/mig.out"
		[ "$mrc" = 0 ] && pass "$mode: migrate exited 0" || fail "$mode: migrate exited $mrc"
		last_src=$(sed -n 's/^PCM-L2: tick \([0-9]*\).*/\1/p' "$T/src.con" | tail -n 1)
		if wait_for 120 "$T/dst.con" "PCM-L2: ticks done"; then
			first_dst=$(sed -n 's/^PCM-L2: tick \([0-9]*\).*/\1/p' "$T/dst.con" | head -n 1)
			last_dst=$(sed -n 's/^PCM-L2: tick \([0-9]*\).*/\1/p' "$T/dst.con" | tail -n 1)
			[ -n "$first_dst" ] && [ "$first_dst" = "$((last_src + 1))" ] &&
				[ "$last_dst" = "$TICKS" ] &&
				pass "$mode: the guest counted on across the move (source ..$last_src, destination $first_dst..$last_dst)" ||
				fail "$mode: the count did not carry on (source ..${last_src:-?}, destination ${first_dst:-?}..${last_dst:-?})"
			grep -q "ticks done, read 256 bytes" "$T/dst.con" &&
				pass "$mode: virtio-rng answers on the destination" ||
				fail "$mode: virtio-rng did not answer on the destination"
			# sector 2053 was written on the source, 2198 on the destination
			if [ -n "$dopt" ]; then
				grep -q "PCM-L2: disk sector 2053 reads: disk tick 5" "$T/dst.con" &&
					grep -q "disk tick $TICKS" "$T/disk.img" &&
					pass "$mode: the disk kept what the source wrote and took the destination's writes" ||
					fail "$mode: the disk lost writes across the move"
			fi
		else
			fail "$mode: the guest did not finish its ticks on the destination"
			echo "---- $mode: destination console (last lines):"
			tr -d '\r' < "$T/dst.con" 2>/dev/null | tail -n 25 | sed 's/^/    /'
			# the disk counts too: did the guest tick on while its
			# console stopped?
			[ -n "$dopt" ] && echo "---- $mode: the disk's last tick:" \
				"$(tr -c '[:print:]' '\n' < "$T/disk.img" | grep 'disk tick' | tail -n 1)"
			# while it is frozen: does L1's KVM still run it?
			echo "---- $mode: L1's KVM over 3 s:"
			sh "$(dirname "$0")/kvm-trace.sh" 3 2>&1 | sed 's/^/    /'
		fi
		wait_for 60 "$T/dst.out" "the guest powered off" &&
			pass "$mode: the guest's poweroff ended receive" ||
			fail "$mode: receive does not say the guest powered off"
	fi
	wait "$spid" 2>/dev/null
	kill "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
	for f in src.out dst.out; do
		echo "---- $mode: $f:"
		sed 's/^/    /' "$T/$f"
	done
}

migrate_once postcopy
# --verify-ram: all of RAM is compared with the source's before it runs
migrate_once precopy --verify-ram
grep -q "verified  *yes" "$T/mig.out" && pass "precopy: the destination's RAM equalled the source's" ||
	fail "precopy: RAM not verified"
migrate_once hybrid

[ "$FAILS" = 0 ] && echo "linux: all checks passed" || echo "linux: $FAILS check(s) failed"
[ "$FAILS" = 0 ]
