#!/bin/sh
# tests/kvm-nested/kvm-trace.sh [SECONDS] - what L1's KVM does for its L2
# guests right now: run inside the nested harness when an L2 guest looks
# frozen, it says whether the vCPUs still enter the guest, take exits and
# get interrupts injected.
#
# Two views over SECONDS (default 2): the per-VM counters of KVM's
# debugfs (exits, halts, interrupt injections; the change over the
# interval) and, where tracefs is there, the counts and last lines of the
# kvm trace events (entries, exits and their reasons, injected vectors,
# LAPIC timer and IRQ acceptance). A vCPU with no exits for seconds
# waits in HLT for an interrupt that does not come; injections that
# come while the guest stays frozen point elsewhere. Last, where each
# thread of the VMM's process waits.
secs=${1:-2}
dbg=/sys/kernel/debug/kvm
[ -d "$dbg" ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
tr=/sys/kernel/tracing
[ -d "$tr/events" ] || mount -t tracefs tracefs "$tr" 2>/dev/null
[ -d "$tr/events" ] || tr=/sys/kernel/debug/tracing

snap() {   # snap OUT: every VM's counters, one "vm file value" per line
	for d in "$dbg"/*-*/; do
		[ -d "$d" ] || continue
		for f in exits halt_exits halt_wakeup irq_injections irq_exits \
			 nmi_injections req_event hypercalls; do
			v=$(cat "$d$f" 2>/dev/null) && echo "$(basename "$d") $f $v"
		done
	done > "$1"
}

echo "kvm-trace: $(ls -d "$dbg"/*-*/ 2>/dev/null | wc -l) VM(s) in $dbg"
a=$(mktemp) b=$(mktemp)
snap "$a"
if [ -d "$tr/events/kvm" ]; then
	echo > "$tr/trace"
	for e in kvm_entry kvm_exit kvm_inj_virq kvm_apic_accept_irq kvm_ioapic_set_irq \
		 kvm_msi_set_irq kvm_hv_timer_state kvm_wait_lapic_expire kvm_nested_vmexit; do
		[ -d "$tr/events/kvm/$e" ] && echo 1 > "$tr/events/kvm/$e/enable"
	done
	echo 1 > "$tr/tracing_on"
fi
sleep "$secs"
snap "$b"
if [ -d "$tr/events/kvm" ]; then
	echo 0 > "$tr/tracing_on"
	echo 0 > "$tr/events/kvm/enable" 2>/dev/null
fi
echo "kvm-trace: counters over ${secs}s (vm counter before -> after):"
awk 'NR == FNR { was[$1 " " $2] = $3; next }
     { k = $1 " " $2; printf "    %s %s -> %s (+%d)\n", k, was[k], $3, $3 - was[k] }' "$a" "$b"
if [ -f "$tr/trace" ]; then
	echo "kvm-trace: events in ${secs}s:"
	grep -v '^#' "$tr/trace" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^kvm_[a-z_]*:$/) { n[$i]++; break } }
		END { for (e in n) printf "    %s %d\n", e, n[e] }'
	echo "kvm-trace: last events:"
	grep -v '^#' "$tr/trace" | tail -n 30 | sed 's/^/    /'
fi
# Where each thread of a VM's process is: a vCPU halted inside KVM
# (kvm_vcpu_block, kvm_vcpu_halt) waits for an interrupt; one in a futex
# or poll was never given back to the guest by the VMM.
for d in "$dbg"/*-*/; do
	[ -d "$d" ] || continue
	pid=$(basename "$d"); pid=${pid%%-*}
	[ -d "/proc/$pid" ] || continue
	echo "kvm-trace: threads of pid $pid ($(cat /proc/$pid/comm 2>/dev/null)):"
	for t in /proc/$pid/task/*; do
		st=$(awk '/^State:/ { print $2 }' "$t/status" 2>/dev/null)
		# reading a vCPU thread's stack hung once in the nested L1:
		# each read gets 2 s
		top=$(timeout 2 head -n 3 "$t/stack" 2>/dev/null | awk '{ printf "%s ", $2 }')
		wch=$(timeout 2 cat "$t/wchan" 2>/dev/null)
		echo "    $(basename "$t") $(cat "$t/comm" 2>/dev/null) $st wchan=$wch ${top:+stack: $top}"
	done
done
rm -f "$a" "$b"
