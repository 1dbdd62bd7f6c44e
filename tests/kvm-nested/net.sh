#!/bin/sh
# Nested-KVM harness: a Linux guest's network card (issue 14, step 1), run
# inside the nested guest by inner.sh. `postcopy-move run --net` creates
# the tap pcmtap0 here (L1); once it appears this side gives it
# 10.99.0.1/24 and brings it up. The guest (tests/kvm-nested/l2-init,
# pcm.net=10.99.0.2) loads virtio_net, must see eth0 with the MAC given
# and the link up, takes 10.99.0.2/24 and pings 10.99.0.1 through the
# card, then powers off, which must end `run` with status 0.
#
# Environment: PCM_BIN (build/static/bin/postcopy-move), PCM_L2_DIR
# (build/kvm-nested/l2: vmlinuz and initrd.gz, run.sh puts them there),
# PCM_L2_TIMEOUT (420 s: the kernel boots under software emulation).
PM=${PCM_BIN:-build/static/bin/postcopy-move}
L2=${PCM_L2_DIR:-build/kvm-nested/l2}
LIMIT=${PCM_L2_TIMEOUT:-420}
TAP=pcmtap0
MAC=52:54:00:14:00:01
FAILS=0

T=$(mktemp -d /tmp/pcm-net.XXXXXX) || exit 1
POSTCOPY_MOVE_RUN_DIR=$T/run
export POSTCOPY_MOVE_RUN_DIR
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

for f in "$L2/vmlinuz" "$L2/initrd.gz"; do
	[ -f "$f" ] || { echo "FAIL: $f missing (run.sh builds it)"; exit 1; }
done
[ -e /dev/net/tun ] || { echo "FAIL: no /dev/net/tun in L1 (run.sh loads tun)"; exit 1; }

timeout "$LIMIT" "$PM" run --engine kvm --mem 256M --vcpus 2 --name l2net \
	--kernel "$L2/vmlinuz" --initrd "$L2/initrd.gz" --net "tap=$TAP,mac=$MAC" \
	--cmdline "console=ttyS0 pci=off earlyprintk=serial,ttyS0 loglevel=4 pcm.net=10.99.0.2" \
	--console "$T/console" > "$T/out" 2>&1 &
bpid=$!
# The VMM creates the tap as it builds the VM, long before the guest's
# driver is up: address it as soon as it is there.
i=0
while [ ! -e "/sys/class/net/$TAP" ] && [ "$i" -lt 100 ] && kill -0 "$bpid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ -e "/sys/class/net/$TAP" ]; then
	pass "run created the tap $TAP"
	ip addr add 10.99.0.1/24 dev "$TAP" && ip link set "$TAP" up ||
		fail "could not address or bring up $TAP"
else
	fail "no tap $TAP appeared"
fi
wait "$bpid"
rc=$?
echo "---- run said (exit $rc):"
sed 's/^/    /' "$T/out"
echo "---- guest console (PCM-L2 lines):"
tr -d '\r' < "$T/console" 2>/dev/null | grep '^PCM-L2' | sed 's/^/    /'

if [ "$rc" = 0 ] && ! grep -q "signal received" "$T/out"; then
	pass "run exited 0 on its own"
else
	fail "run exited $rc"
fi
tr -d '\r' < "$T/console" | grep -q "^PCM-L2: net eth0 $MAC carrier 1\$" &&
	pass "the guest has eth0 with MAC $MAC, link up" ||
	fail "the guest has no eth0 $MAC with carrier 1 ($(tr -d '\r' < "$T/console" | grep '^PCM-L2: net'))"
got=$(tr -d '\r' < "$T/console" | sed -n 's/^PCM-L2: ping 10\.99\.0\.1: \([0-9]*\) received$/\1/p')
[ "${got:-0}" -gt 0 ] && pass "the guest pinged the host through the card ($got of 5 answered)" ||
	fail "no ping answered through the card ($(tr -d '\r' < "$T/console" | grep '^PCM-L2: ping'))"
echo "measure: net ping answers ${got:-0}/5"
[ "$FAILS" = 0 ]
