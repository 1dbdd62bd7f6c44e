#!/usr/bin/env bash
# bench/core.sh - `make bench-core`: the post-copy core against raw
# baselines, all in one run on the same loopback (the machine is shared and
# noisy, so only same-run ratios mean anything).
#
#   1. raw TCP 4 KiB request/response, raw TCP stream, local uffd fault
#      round trip (build/bench/raw), on a quiet machine and again beside
#      1 and 4 busy threads at the vCPUs' priority (raw --busy N)
#   2. post-copy kv migrations (1 GiB and 8 GiB, 4 vCPUs): fault latency
#      with the background stream running, downtime, destination overhead
#   3. bulk throughput: a 1 GiB kv guest with 1 vCPU, so the stream does
#      not fight four busy vCPUs for two cores
# Each migration runs REPS times (3; QUICK=1: 1, and no 8 GiB guest); the
# checks use the median run (by the number checked), and min/max are shown.
# Every kv vCPU is busy all the time, so a check on a migration with N vCPUs
# takes its yardstick from the raw run with N busy threads (raw_busy.N in
# the JSON; .raw stays the quiet machine's): like against like.
# Writes bench/results/core-<date>-<host>.{json,md} and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."
PM=bin/postcopy-move
QUICK=${QUICK:-0}
out=bench/results; mkdir -p "$out"
stamp="$(date +%F)-$(hostname -s)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export POSTCOPY_MOVE_RUN_DIR="$tmp/run"

step() { echo "[bench-core] $*" >&2; }

for n in 0 1 4; do
	step "raw baselines (TCP round trip, TCP stream, local fault round trip), $n busy threads"
	build/bench/raw $([ "$QUICK" = 1 ] && echo --quick) --busy "$n" >"$tmp/raw$n.json"
done

REPS=${REPS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
demo() { # name, args...: REPS runs, one JSON report a line in $tmp/name.json
	local name=$1; shift
	for i in $(seq "$REPS"); do
		step "post-copy: $name run $i/$REPS ($*)"
		"$PM" demo --json --engine "${ENGINE:-thread}" "$@" 2>"$tmp/$name.err" | tail -1 >>"$tmp/$name.json" || {
			cat "$tmp/$name.err" >&2; return 1; }
	done
}
demo kv1g --mem 1G --vcpus 4 --workload kv --warmup 1
if [ "$QUICK" = 1 ]; then
	cp "$tmp/kv1g.json" "$tmp/kv8g.json"
else
	demo kv8g --mem 8G --vcpus 4 --workload kv --working-set 1G --warmup 1
fi
demo bulk --mem 1G --vcpus 1 --workload kv --warmup 0.5

jq -n --slurpfile raw "$tmp/raw0.json" --slurpfile r1 "$tmp/raw1.json" \
      --slurpfile r4 "$tmp/raw4.json" --slurpfile a "$tmp/kv1g.json" \
      --slurpfile b "$tmp/kv8g.json" --slurpfile c "$tmp/bulk.json" \
      --arg host "$(hostname -s)" --arg date "$(date -Iseconds)" \
      --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" '
  def med(f): map(f) | sort | .[length / 2 | floor];
  def by_median(f): sort_by(f) | .[length / 2 | floor];
  def spread(f): map(f) | {min: min, max: max, runs: length};
  def floor50(r): r.tcp_rtt_us.p50 + r.fault_rtt_us.p50;
  def floor99(r): r.tcp_rtt_us.p99 + r.fault_rtt_us.p99;
  def stream_ms(bytes; r): bytes / r.tcp_stream_mbps.median / 1000;
  ($raw[0]) as $r | ($r1[0]) as $b1 | ($r4[0]) as $b4 |
  ($a | by_median(.downtime_us)) as $k1 | ($b | by_median(.downtime_us)) as $k8 |
  ($c | by_median(.bulk_mbps)) as $bu |
  {date: $date, host: $host, cpu: $cpu, cores: 2, raw: $r, raw_busy: {"1": $b1, "4": $b4},
   kv1g: $k1, kv8g: $k8, bulk: $bu,
   runs: {kv1g: $a, kv8g: $b, bulk: $c},
   spread: {downtime_1g: ($a | spread(.downtime_us)), downtime_8g: ($b | spread(.downtime_us)),
            fault_p99_1g: ($a | spread(.fault_latency_us.p99)), bulk_mbps: ($c | spread(.bulk_mbps))},
   checks: [
    {name: "fault p50 <= 2 x (TCP 4K RTT + local fault RTT)",
     value: ($a | med(.fault_latency_us.p50)), target: (2 * floor50($b4)), busy: 4},
    {name: "fault p50 <= 1.5 x (TCP 4K RTT + local fault RTT), same busy threads",
     value: ($a | med(.fault_latency_us.p50)), target: (1.5 * floor50($b4)), busy: 4},
    {name: "fault p99 <= 250 us", value: ($a | med(.fault_latency_us.p99)), target: 250},
    {name: "fault p99 <= 4 x (TCP 4K RTT p99 + local fault RTT p99), same busy threads",
     value: ($a | med(.fault_latency_us.p99)), target: (4 * floor99($b4)), busy: 4},
    {name: "bulk >= 80% of raw TCP stream (MB/s)", value: $bu.bulk_mbps,
     target: (0.8 * $b1.tcp_stream_mbps.median), higher_is_better: true, busy: 1},
    {name: "total 1 GiB, 1 vCPU <= 1.2 x bytes / raw TCP stream, same busy threads (ms)",
     value: $bu.total_ms, target: (1.2 * stream_ms($bu.ram_bytes; $b1)), busy: 1},
    {name: "total 1 GiB, 4 vCPUs <= 1.2 x bytes / raw TCP stream, same busy threads (ms)",
     value: $k1.total_ms, target: (1.2 * stream_ms($k1.ram_bytes; $b4)), busy: 4},
    {name: "kv 1 GiB, 1 vCPU: guest_rate.during >= 50% of before (ops/s)",
     value: ($bu.guest_rate.during // 0), target: (0.5 * ($bu.guest_rate.before // 0)),
     higher_is_better: true},
    {name: "downtime 1 GiB <= 1000 us", value: $k1.downtime_us, target: 1000},
    {name: "downtime 8 GiB <= 1000 us", value: $k8.downtime_us, target: 1000},
    {name: "downtime 8 GiB / 1 GiB (flat: about 1)", value: ($k8.downtime_us / $k1.downtime_us), target: 2},
    {name: "dest overhead 1 GiB <= 2% + 64 MiB (bytes)", value: $k1.dest_overhead_bytes,
     target: (0.02 * $k1.ram_bytes + 67108864)},
    {name: "dest overhead 8 GiB <= 2% + 64 MiB (bytes)", value: $k8.dest_overhead_bytes,
     target: (0.02 * $k8.ram_bytes + 67108864)}
   ] | map(. + {met: (if .higher_is_better then .value >= .target else .value <= .target end)})}
' >"$tmp/core.json"
cp "$tmp/core.json" "$out/core-$stamp.json"
{
	echo "# bench-core $(jq -r .date "$tmp/core.json") on $(jq -r .host "$tmp/core.json") ($(jq -r .cpu "$tmp/core.json"), 2 cores)"
	echo
	echo "| check | measured | target | busy threads in its baseline | met |"
	echo "| --- | ---: | ---: | ---: | :---: |"
	jq -r '.checks[] | "| \(.name) | \(.value * 1000 | round / 1000) | \(.target * 1000 | round / 1000) | \(.busy // "-") | \(if .met then "yes" else "**no**" end) |"' "$tmp/core.json"
	echo
	jq -r '[.raw, .raw_busy["1"], .raw_busy["4"]][] | "baselines, \(.busy) busy threads: TCP 4K RTT p50 \(.tcp_rtt_us.p50) us p99 \(.tcp_rtt_us.p99) us; TCP stream \(.tcp_stream_mbps.median) MB/s; local fault RTT p50 \(.fault_rtt_us.p50) us p99 \(.fault_rtt_us.p99) us"' "$tmp/core.json"
	jq -r '.spread | to_entries[] | "\(.key): min \(.value.min) max \(.value.max) over \(.value.runs) runs"' "$tmp/core.json"
	for k in kv1g kv8g bulk; do
		jq -r --arg k "$k" '.[$k] | "\($k) (median run): \(.ram_bytes/1073741824) GiB, \(.vcpus) vCPUs: downtime \(.downtime_us) us (pause \(.pause_us) us), max stall \(.max_stall_us) us, total \(.total_ms) ms, faults \(.remote_faults), fault p50/p90/p99/max \(.fault_latency_us.p50)/\(.fault_latency_us.p90)/\(.fault_latency_us.p99)/\(.fault_latency_us.max) us, bulk \(.bulk_mbps) MB/s, guest ops/s before/during/after \(.guest_rate.before)/\(.guest_rate.during)/\(.guest_rate.after), dest overhead \(.dest_overhead_bytes/1048576 | floor) MiB, verified \(.verified)"' "$tmp/core.json"
	done
} | tee "$out/core-$stamp.md"
