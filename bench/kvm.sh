#!/usr/bin/env bash
# bench/kvm.sh - `make bench-kvm`: the KVM engine's numbers.
#
#   1. state blob: bytes, save and restore time per vCPU (1, 2, 4, 8 vCPUs,
#      build/bench/kvm_state; per-vCPU figures are least-squares slopes)
#   2. downtime of the same migration on the kvm and the thread engine,
#      interleaved in one run (kv, 1 GiB, 4 vCPUs; REPS each, default 3,
#      QUICK=1: 1): the ratio is what means something on a shared machine.
#      Target where /dev/kvm is real: kvm downtime <= 2 ms at 4 vCPUs.
# Writes bench/results/kvm-<date>-<host>.{json,md} and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
PM=bin/postcopy-move
QUICK=${QUICK:-0}
REPS=${REPS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
out=bench/results; mkdir -p "$out"
stamp="$(date +%F)-$(hostname -s)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

step() { echo "[bench-kvm] $*" >&2; }

if ! "$PM" engines --check kvm; then
	step "the kvm engine cannot run here: $("$PM" engines | grep '^kvm')"
	step "(on such hosts run the KVM tests with make test-kvm; this benchmark needs /dev/kvm)"
	exit 1
fi
where=$([ -d /sys/module/kvm_pvm ] && echo "PVM (KVM without hardware virtualization, guest kernel mode emulated)" || echo "KVM")

step "state blob: size, save and restore time (1, 2, 4, 8 vCPUs)"
build/bench/kvm_state $([ "$QUICK" = 1 ] && echo "--reps 5") >"$tmp/state.json"

for i in $(seq "$REPS"); do
	for eng in kvm thread; do
		step "downtime: $eng run $i/$REPS (kv, 1 GiB, 4 vCPUs)"
		"$PM" demo --json --engine "$eng" --mem 1G --vcpus 4 --workload kv --warmup 1 \
			2>"$tmp/$eng.err" | tail -1 >>"$tmp/$eng.json" || { cat "$tmp/$eng.err" >&2; exit 1; }
	done
done

jq -n --slurpfile st "$tmp/state.json" --slurpfile k "$tmp/kvm.json" --slurpfile t "$tmp/thread.json" \
      --arg host "$(hostname -s)" --arg date "$(date -Iseconds)" --arg where "$where" '
  def by_median(f): sort_by(f) | .[length / 2 | floor];
  def spread(f): map(f) | {min: min, max: max, runs: length};
  ($k | by_median(.downtime_us)) as $km | ($t | by_median(.downtime_us)) as $tm |
  {date: $date, host: $host, kvm: $where, state: $st[0], kvm_run: $km, thread_run: $tm,
   runs: {kvm: $k, thread: $t},
   spread: {kvm_downtime: ($k | spread(.downtime_us)), thread_downtime: ($t | spread(.downtime_us))},
   checks: [
     {name: "kvm downtime, 4 vCPUs <= 2000 us", value: $km.downtime_us, target: 2000},
     {name: "kvm / thread downtime (same run)", value: ($km.downtime_us / $tm.downtime_us), target: null},
     {name: "every kvm migration verified", value: ($k | map(select(.verified)) | length), target: ($k | length), higher_is_better: true}
   ] | map(. + {met: (if .target == null then null elif .higher_is_better then .value >= .target else .value <= .target end)})}
' >"$tmp/kvm-bench.json"
cp "$tmp/kvm-bench.json" "$out/kvm-$stamp.json"
{
	echo "# bench-kvm $(jq -r .date "$tmp/kvm-bench.json") on $(jq -r .host "$tmp/kvm-bench.json") ($(jq -r .kvm "$tmp/kvm-bench.json"))"
	echo
	echo "| vCPUs | state bytes | save us | restore us |"
	echo "| ---: | ---: | ---: | ---: |"
	jq -r '.state.points[] | "| \(.vcpus) | \(.bytes) | \(.save_us) | \(.load_us) |"' "$tmp/kvm-bench.json"
	jq -r '.state.per_vcpu | "| per vCPU | \(.bytes) | \(.save_us) | \(.load_us) |"' "$tmp/kvm-bench.json"
	echo
	echo "| check | measured | target | met |"
	echo "| --- | ---: | ---: | :---: |"
	jq -r '.checks[] | "| \(.name) | \(.value * 1000 | round / 1000) | \(.target // "-") | \(if .met == null then "-" elif .met then "yes" else "**no**" end) |"' "$tmp/kvm-bench.json"
	echo
	jq -r '.spread | to_entries[] | "\(.key): min \(.value.min) max \(.value.max) over \(.value.runs) runs"' "$tmp/kvm-bench.json"
	for e in kvm_run thread_run; do
		jq -r --arg e "$e" '.[$e] | "\($e) (median): downtime \(.downtime_us) us (pause \(.pause_us) us), state \(.state_bytes) B, max stall \(.max_stall_us) us, faults \(.remote_faults), fault p50/p99 \(.fault_latency_us.p50)/\(.fault_latency_us.p99) us, total \(.total_ms) ms, verified \(.verified)"' "$tmp/kvm-bench.json"
	done
} | tee "$out/kvm-$stamp.md"
