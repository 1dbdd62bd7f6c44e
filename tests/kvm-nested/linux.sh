#!/bin/sh
# Nested-KVM harness: a stock Linux kernel on the KVM engine (issue 11),
# run inside the nested guest by inner.sh. `postcopy-move run --kernel`
# boots Debian's kernel (the one the harness itself boots) with a busybox
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

for f in "$L2/vmlinuz" "$L2/initrd.gz"; do
	[ -f "$f" ] || { echo "FAIL: $f missing (run.sh builds it)"; exit 1; }
done
t0=$(now)
timeout "$LIMIT" "$PM" run --engine kvm --mem 256M --vcpus 2 --name l2 \
	--kernel "$L2/vmlinuz" --initrd "$L2/initrd.gz" \
	--cmdline "console=ttyS0 pci=off earlyprintk=serial,ttyS0 ${PCM_L2_CMDLINE:-loglevel=7}" \
	--console "$T/console" > "$T/out" 2>&1
rc=$?
secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
echo "---- run said (exit $rc after ${secs}s):"
sed 's/^/    /' "$T/out"
echo "---- guest console:"
sed 's/^/    /' "$T/console" 2>/dev/null | tail -n 60

# timeout's SIGTERM also ends run with 0: its note says it was a signal
if [ "$rc" = 0 ] && ! grep -q "signal received" "$T/out"; then
	pass "run exited 0 on its own in ${secs}s"
else
	fail "run exited $rc after ${secs}s$(grep -q 'signal received' "$T/out" && echo ', stopped by the timeout')"
fi
grep -q "the guest powered off" "$T/out" && pass "run says the guest powered off" ||
	fail "run does not say the guest powered off"
grep -q "PCM-L2: up with 2 CPUs" "$T/console" && pass "the guest sees 2 CPUs" ||
	fail "the guest does not report 2 CPUs"
for t in APIC DSDT FACP; do
	grep -q "PCM-L2: ACPI tables:.* $t" "$T/console" ||
		grep -q "PCM-L2: ACPI tables: $t" "$T/console" ||
		fail "the guest has no ACPI $t table"
done
grep -q "PCM-L2: rng: virtio_rng" "$T/console" && pass "the guest's hw_random is virtio-rng" ||
	fail "the guest has no virtio-rng"
grep -q "PCM-L2: read 256 bytes from /dev/hwrng" "$T/console" && pass "the guest read 256 bytes of entropy" ||
	fail "the guest could not read /dev/hwrng"
grep -q "PCM-L2: powering off" "$T/console" && ! grep -q "poweroff returned" "$T/console" &&
	pass "poweroff ended the guest" || fail "poweroff did not end the guest"
[ "$FAILS" = 0 ] && echo "linux: all checks passed" || echo "linux: $FAILS check(s) failed"
[ "$FAILS" = 0 ]
