#!/bin/sh
# Nested-KVM harness: a stock Linux kernel on the KVM engine (issue 11),
# run inside the nested guest by inner.sh. `postcopy-move run --kernel`
# boots Debian's kernels (the harness's own linux-image-amd64, and
# linux-image-cloud-amd64, which has no MP-table parser) with a busybox
# initramfs (tests/kvm-nested/l2-init) on 2 vCPUs: the kernel must find
# both CPUs and the ACPI tables through the VMM's tables and the virtio-rng
# through the DSDT (virtio_mmio, LNRO0005), read entropy from it, and the
# initramfs's poweroff must end `run` with status 0, saying the guest
# powered off. In each boot and across each migration the project's agent
# (guest/linux/agent.c, pcm.agent=SECONDS) checks its RAM and disk blocks;
# its last line must say ram=ok, and its longest gap between operations
# across a move is the guest-visible stall, shown as `measure:` lines.
#
# Environment: PCM_BIN (build/static/bin/postcopy-move), PCM_L2_DIR
# (build/kvm-nested/l2: vmlinuz and initrd.gz, run.sh puts them there),
# PCM_L2_TIMEOUT (420 s, below inner.sh's bound of 600 s so that this
# script still reports: the kernel boots under software emulation),
# PCM_L2_AGENT_BOOT and PCM_L2_AGENT (the agent's seconds in a boot, 2, and
# in a migration, 25; 0: no agent), PCM_L2_SILENT (90 s: a guest whose
# console stays silent that long is frozen; see guard).
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
AGENT_BOOT=${PCM_L2_AGENT_BOOT:-2}
AGENT=${PCM_L2_AGENT:-25}
SILENT=${PCM_L2_SILENT:-90}

# guard PIDS FILE...: a frozen guest costs 90 s, not the whole bound, and
# says what it was: when none of the console FILEs has grown for SILENT
# seconds while the first of PIDS runs, L1's KVM is looked at
# (kvm-trace.sh: does it still enter the guest, take exits, inject?),
# $T/frozen is written and every one of PIDS is killed. Every guest here
# prints at least once a second (kernel log, ticks, the agent's lines).
guard() {
	gpids=$1; shift
	last=-1 still=0
	while kill -0 "${gpids%% *}" 2>/dev/null; do
		sleep 1
		sz=$(cat "$@" 2>/dev/null | wc -c)
		if [ "$sz" = "$last" ]; then still=$((still + 1)); else still=0 last=$sz; fi
		[ "$still" -lt "$SILENT" ] && continue
		echo "PCM-FROZEN: the guest's console stopped at $sz bytes ${still}s ago"
		echo "---- the guest's console stopped at $sz bytes ${still}s ago: the guest is frozen; its last lines:"
		cat "$@" 2>/dev/null | tr -d '\r' | tail -n 8 | sed 's/^/    /'
		echo "---- L1's KVM over 3 s:"
		sh "$(dirname "$0")/kvm-trace.sh" 3 2>&1 | sed 's/^/    /'
		echo "$sz" > "$T/frozen"
		kill $gpids 2>/dev/null
		sleep 10
		kill -9 $gpids 2>/dev/null
		return
	done
}

# The agent's whole lines (guest/linux/agent.c's header) without the CRs:
# a line the move cut in two ends without its CR on the source, and its
# tail on the destination has no prefix.
CR=$(printf '\r')
agent_lines() { grep -a "^PCM-AGENT: .*$CR\$" "$1" 2>/dev/null | tr -d '\r'; }
# agent_field FILE KIND KEY: KEY's value in the last line of KIND (t= for
# status lines, done, start).
agent_field() {
	agent_lines "$1" | grep "^PCM-AGENT: $2" | tail -n 1 | sed -n "s/.* $3=\([^ ]*\).*/\1/p"
}
# agent_gaps FILE TAG: "TAG t=T gap_us=G" for every status line.
agent_gaps() {
	agent_lines "$1" | sed -n "s/^PCM-AGENT: t=\([0-9]*\) .* gap_us=\([0-9]*\) .*/$2 t=\1 gap_us=\2/p"
}
# agent_verdict NAME CONSOLE DISK: the agent's last line says ram=ok and
# disk=DISK (ok, or none without a disk), and it exited 0.
agent_verdict() {
	last=$(agent_lines "$2" | grep '^PCM-AGENT: done ' | tail -n 1)
	if [ -z "$last" ]; then
		fail "$1: the agent printed no done line"
	elif echo "$last" | grep -q " ram=ok disk=$3\$"; then
		pass "$1: the agent's checks held (${last#PCM-AGENT: })"
	else
		fail "$1: the agent's checks failed: ${last#PCM-AGENT: }"
	fi
	agent_lines "$2" | grep '^PCM-AGENT: error' | head -n 5 | sed 's/^/    /'
	tr -d '\r' < "$2" | grep -q '^PCM-L2: agent exited 0$' && pass "$1: the agent exited 0" ||
		fail "$1: the agent did not exit 0 ($(tr -d '\r' < "$2" | grep '^PCM-L2: agent exited'))"
}

for f in "$L2/vmlinuz" "$L2/initrd.gz" "$L2/cloud/vmlinuz" "$L2/cloud/initrd.gz"; do
	[ -f "$f" ] || { echo "FAIL: $f missing (run.sh builds it)"; exit 1; }
done

# boot_once NAME KERNEL INITRD: boot, look, power off.
boot_once() {
	name=$1
	rm -f "$T/console" "$T/out"
	agent=
	[ "$AGENT_BOOT" -gt 0 ] && agent=" pcm.agent=$AGENT_BOOT"
	head -c 8388608 /dev/zero > "$T/disk.img"
	t0=$(now)
	# when the agent's first line comes, on this side's clock (the
	# guest's uptime misses the kernel's decompression)
	rm -f "$T/first"
	(while ! grep -q "^PCM-AGENT: start" "$T/console" 2>/dev/null; do sleep 0.1; done
	 now > "$T/first") &
	wpid=$!
	rm -f "$T/frozen"
	timeout "$LIMIT" "$PM" run --engine kvm --mem 256M --vcpus 2 --name l2 \
		--kernel "$2" --initrd "$3" --disk "$T/disk.img" \
		--cmdline "console=ttyS0 pci=off earlyprintk=serial,ttyS0 ${PCM_L2_CMDLINE:-loglevel=7}$agent" \
		--console "$T/console" > "$T/out" 2>&1 &
	bpid=$!
	guard "$bpid" "$T/console" &
	gpid=$!
	wait "$bpid"
	rc=$?
	kill "$gpid" 2>/dev/null
	wait "$gpid" 2>/dev/null
	secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	first=$(awk -v a="$t0" -v b="$(cat "$T/first" 2>/dev/null)" 'BEGIN { if (b != "") printf "%.1f", b - a }')
	echo "---- $name: run said (exit $rc after ${secs}s):"
	sed 's/^/    /' "$T/out"
	echo "---- $name: guest console (last lines):"
	sed 's/^/    /' "$T/console" 2>/dev/null | tail -n 40

	# timeout's SIGTERM also ends run with 0: its note says it was a signal
	if [ "$rc" = 0 ] && ! grep -q "signal received" "$T/out"; then
		pass "$name: run exited 0 on its own in ${secs}s"
	else
		fail "$name: run exited $rc after ${secs}s$([ -f "$T/frozen" ] && echo ', the guest froze' ||
			{ grep -q 'signal received' "$T/out" && echo ', stopped by the timeout'; })"
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
	[ -n "$agent" ] || return 0
	# the agent: its first line (the boot's end), its checks, its blocks
	# on the image (the block magic, "AGNTBLCK")
	boot_ms=$(agent_field "$T/console" start boot_ms)
	[ -n "$boot_ms" ] && pass "$name: the agent started" || fail "$name: the agent did not start"
	agent_verdict "$name" "$T/console" ok
	grep -aq AGNTBLCK "$T/disk.img" && pass "$name: the agent's blocks are on the image" ||
		fail "$name: the image has none of the agent's blocks"
	echo "measure: $name boot to the agent's first line ${first:-?} s from run's start" \
		"(${boot_ms:-?} ms of guest uptime), run ${secs} s; agent ops=$(agent_field "$T/console" done ops)" \
		"max_gap_us=$(agent_field "$T/console" done max_gap_us)"
}

# ---- PCM_L2_STRESS=N: N boots, counting freezes (a diagnosis mode) ----
# Each boot (the two kernels in turn) runs the agent for 4 s and powers
# off; a frozen guest is found by guard.
# It says how many of the N froze and how long the boots took, and passes
# only if none froze. Not part of the default test: start it with
# KVM_NESTED_ONLY=linux KVM_NESTED_APPEND="pcm.env.PCM_L2_STRESS=20".
stress_once() {   # NAME KERNEL INITRD: 0 powered off, 1 froze, 2 other
	rm -f "$T/console" "$T/out"
	t0=$(now)
	"$PM" run --engine kvm --mem 256M --vcpus 2 --name l2 \
		--kernel "$2" --initrd "$3" --console "$T/console" \
		--cmdline "console=ttyS0 pci=off loglevel=7 pcm.agent=4 ${PCM_L2_CMDLINE:-}" \
		> "$T/out" 2>&1 &
	rpid=$!
	rm -f "$T/frozen"
	guard "$rpid" "$T/console"
	wait "$rpid"
	rc=$?
	[ -f "$T/frozen" ] && return 1
	secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ] && grep -q "the guest powered off" "$T/out" &&
		agent_lines "$T/console" | grep -q '^PCM-AGENT: done .* ram=ok'; then
		echo "ok: $1 booted, ran the agent and powered off in ${secs}s"
		return 0
	fi
	echo "---- $1: run exited $rc after ${secs}s:"
	sed 's/^/    /' "$T/out"
	tr -d '\r' < "$T/console" | tail -n 8 | sed 's/^/    /'
	return 2
}
if [ -n "${PCM_L2_STRESS:-}" ]; then
	i=0 froze=0 other=0 good=0
	while [ "$i" -lt "$PCM_L2_STRESS" ]; do
		i=$((i + 1))
		if [ $((i % 2)) = 1 ]; then k=amd64 d=$L2; else k=cloud d=$L2/cloud; fi
		stress_once "boot $i ($k)" "$d/vmlinuz" "$d/initrd.gz"
		case $? in 0) good=$((good + 1)) ;; 1) froze=$((froze + 1)) ;; *) other=$((other + 1)) ;; esac
	done
	echo "measure: stress $i boots: $good good, $froze froze, $other failed otherwise" \
		"(cmdline extra: ${PCM_L2_CMDLINE:-none})"
	[ "$froze" = 0 ] && [ "$other" = 0 ]
	exit
fi

if [ -z "${PCM_L2_MOVES:-}" ]; then
	boot_once amd64 "$L2/vmlinuz" "$L2/initrd.gz"
	boot_once cloud "$L2/cloud/vmlinuz" "$L2/cloud/initrd.gz"
fi

# ---- the same guest migrated in the middle of its ticks, in each mode ----
# run, receive and migrate as three processes; the destination's console
# must go on counting from where the source's stopped, and the guest's
# poweroff must end receive. (Console lines end in CR LF: the guest's
# serial driver writes both.)
# Both give up at once once guard has found the guest frozen.
wait_for() {   # SECONDS FILE PATTERN
	n=$1
	while [ "$n" -gt 0 ] && [ ! -f "$T/frozen" ]; do
		grep -q "$3" "$2" 2>/dev/null && return 0
		sleep 1
		n=$((n - 1))
	done
	return 1
}
wait_lines() {   # SECONDS FILE PATTERN COUNT
	n=$1
	while [ "$n" -gt 0 ] && [ ! -f "$T/frozen" ]; do
		c=$(grep -c "$3" "$2" 2>/dev/null)
		[ "${c:-0}" -ge "$4" ] && return 0
		sleep 1
		n=$((n - 1))
	done
	return 1
}
TICKS=${PCM_L2_TICKS:-150}

# agent_report MODE: migrate's report is the agent's word (postcopy/dest.c
# dst_verify): verified by it, and its max stall the longest gap_us of the
# destination's status lines up to the one the report names (t=), within
# one status period (the destination read the same console bytes as the
# guest wrote them to dst.con).
agent_report() {
	vline=$(grep '^ *verified ' "$T/mig.out" | head -n 1 | sed 's/^ *//')
	case $vline in
	"verified       yes (agent: "*"checks ok since the move"*)
		pass "$1: migrate's report is verified by the agent ($vline)" ;;
	*)	fail "$1: migrate's report is not verified by the agent: ${vline:-no verified line}" ;;
	esac
	vt=$(printf '%s\n' "$vline" | sed -n 's/.*(agent: t=\([0-9]*\)ms.*/\1/p')
	stall=$(sed -n 's/^ *max stall *\([0-9.]*\) us.*/\1/p' "$T/mig.out" | head -n 1)
	gap=$(agent_gaps "$T/dst.con" dst | awk -v vt="$vt" '{
		t = substr($2, 3) + 0; g = substr($3, 8) + 0
		if ((vt == "" || t <= vt + 0) && g > m) m = g } END { print m + 0 }')
	period=$(agent_field "$T/src.con" start period_ms)
	period=${period:-100}
	if awk -v s="${stall:-none}" -v g="$gap" -v p="$period" 'BEGIN {
		if (s !~ /^[0-9.]+$/ || s + 0 <= 0) exit 1
		d = s - g; if (d < 0) d = -d; exit !(d <= p * 1000) }'; then
		pass "$1: migrate's max stall $stall us is the agent's longest gap on the destination, $gap us (up to t=${vt:-its end} ms, within ${period} ms)"
	else
		fail "$1: migrate's max stall ${stall:-n/a} us is not the agent's longest gap on the destination, $gap us (up to t=${vt:-its end} ms, period ${period} ms)"
	fi
}

# agent_move MODE DISK: after a move, the agent's lines went on on the
# destination, its checks held; its longest gap is the guest's stall.
agent_move() {
	wait_for 90 "$T/dst.con" "^PCM-AGENT: done" ||
		fail "$1: the agent did not finish on the destination"
	src_t=$(agent_field "$T/src.con" t= t)
	n=0 first=
	for t in $(agent_lines "$T/dst.con" | sed -n 's/^PCM-AGENT: t=\([0-9]*\) .*/\1/p'); do
		[ "$t" -gt "${src_t:-0}" ] || continue
		n=$((n + 1))
		[ -n "$first" ] || first=$t
	done
	[ -n "$src_t" ] && [ "$n" -ge 10 ] &&
		pass "$1: the agent's lines went on after the move (source ..t=$src_t ms, destination $n lines from t=$first ms)" ||
		fail "$1: the agent's lines did not go on (source ..t=${src_t:-?} ms, destination $n lines)"
	agent_verdict "$1" "$T/dst.con" "$2"
	agent_report "$1"
	# Where the longest gaps fell: a line's gap_us is its period's (the
	# console may lag, so the first destination line need not be the
	# period of the move; t is the guest's own clock on both ends).
	top=$({ agent_gaps "$T/src.con" src; agent_gaps "$T/dst.con" dst; } |
		sort -t= -k3,3nr | head -n 3 | paste -sd, - | sed 's/,/, /g')
	echo "measure: $1 agent max_gap_us=$(agent_field "$T/dst.con" done max_gap_us)" \
		"(source's last line t=$src_t ms max_gap_us=$(agent_field "$T/src.con" t= max_gap_us));" \
		"longest periods: $top;" \
		"migrate's downtime $(sed -n 's/^ *downtime *\([0-9.]*\) us.*/\1/p' "$T/mig.out" | head -n 1) us"
}

# migrate_once MODE [MIGRATE OPTIONS]: boot, migrate at tick 5 once the
# agent's mix has run for a second, check.
migrate_once() {
	mode=$1; shift
	MOVES=$((${MOVES:-0} + 1))
	port=$((20000 + ($$ + MOVES) % 20000))
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
	dopt= adisk=none agent=
	if [ "${PCM_L2_MIGRATE_DISK:-0}" = 1 ]; then
		head -c 8388608 /dev/zero > "$T/disk.img"
		dopt="--disk $T/disk.img" adisk=ok
	fi
	[ "$AGENT" -gt 0 ] && agent="pcm.agent=$AGENT "
	"$PM" receive --listen "127.0.0.1:$port" --name l2dst --timeout "$LIMIT" $dopt \
		--console "$T/dst.con" > "$T/dst.out" 2>&1 &
	rpid=$!
	timeout "$LIMIT" "$PM" run --engine kvm --mem 256M --vcpus 2 --name l2src \
		--kernel "$L2/vmlinuz" --initrd "$L2/initrd.gz" $dopt \
		--cmdline "console=ttyS0 pci=off quiet pcm.ticks=$TICKS $agent${PCM_L2_TICK_CMDLINE:-}" \
		--console "$T/src.con" > "$T/src.out" 2>&1 &
	spid=$!
	rm -f "$T/frozen"
	guard "$rpid $spid" "$T/src.con" "$T/dst.con" &
	gpid=$!
	if ! wait_for 300 "$T/src.con" "PCM-L2: tick 5[^0-9]"; then
		fail "$mode: the source guest did not reach tick 5"
	elif [ -n "$agent" ] && ! wait_lines 60 "$T/src.con" "^PCM-AGENT: t=" 10; then
		fail "$mode: the agent printed not 10 status lines on the source (a second of its mix)"
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
			# The console is one byte stream: the move may cut a
			# line in two (its head on the source, its tail first
			# on the destination), so the count is read from both
			# joined, and must be 1..TICKS, every line whole.
			all=$(cat "$T/src.con" "$T/dst.con" | tr -d '\r' |
				sed -n 's/^PCM-L2: tick \([0-9]*\)$/\1/p' | paste -sd' ' -)
			cut=
			[ -n "$first_dst" ] && [ "$first_dst" != "$((last_src + 1))" ] &&
				cut=" (a line cut by the move, whole once joined)"
			[ -n "$first_dst" ] && [ "$last_dst" = "$TICKS" ] &&
				[ "$all" = "$(seq 1 "$TICKS" | paste -sd' ' -)" ] &&
				pass "$mode: the guest counted on across the move (source ..$last_src, destination $first_dst..$last_dst$cut)" ||
				{
				fail "$mode: the count did not carry on (source ..${last_src:-?}, destination ${first_dst:-?}..${last_dst:-?})"
				echo "---- $mode: the seam, the source's last lines then the destination's first:"
				tail -n 3 "$T/src.con" | cat -v | sed 's/^/    src: /'
				head -n 3 "$T/dst.con" | cat -v | sed 's/^/    dst: /'
				}
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
			[ -z "$agent" ] || agent_move "$mode" "$adisk"
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
	kill "$gpid" 2>/dev/null
	wait "$gpid" 2>/dev/null
	[ -f "$T/frozen" ] && fail "$mode: the guest froze (its console silent for ${SILENT}s)"
	for f in src.out dst.out; do
		echo "---- $mode: $f:"
		sed 's/^/    /' "$T/$f"
	done
}

# PCM_L2_MOVES=N (a diagnosis mode, like PCM_L2_STRESS): N migrations
# instead of the test, the three modes in turn, counting the frozen ones.
if [ -n "${PCM_L2_MOVES:-}" ]; then
	i=0 froze=0 other=0 good=0
	while [ "$i" -lt "$PCM_L2_MOVES" ]; do
		i=$((i + 1))
		was=$FAILS
		case $((i % 3)) in 1) migrate_once postcopy ;; 2) migrate_once precopy ;; 0) migrate_once hybrid ;; esac
		if [ -f "$T/frozen" ]; then froze=$((froze + 1))
		elif [ "$FAILS" = "$was" ]; then good=$((good + 1))
		else other=$((other + 1)); fi
		echo "measure: move $i: $good good, $froze froze, $other failed otherwise so far"
	done
	echo "measure: moves $i: $good good, $froze froze, $other failed otherwise" \
		"(tick cmdline extra: ${PCM_L2_TICK_CMDLINE:-none})"
	[ "$froze" = 0 ] && [ "$other" = 0 ]
	exit
fi

migrate_once postcopy
# --verify-ram: all of RAM is compared with the source's before it runs
migrate_once precopy --verify-ram
grep -q "verified  *yes" "$T/mig.out" && pass "precopy: the destination's RAM equalled the source's" ||
	fail "precopy: RAM not verified"
migrate_once hybrid

[ "$FAILS" = 0 ] && echo "linux: all checks passed" || echo "linux: $FAILS check(s) failed"
[ "$FAILS" = 0 ]
