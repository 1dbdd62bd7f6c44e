#!/usr/bin/env bash
# bench/encrypt.sh - what --encrypt costs a whole migration: the same VM
# (thread engine, sweep, MEM, 2 vCPUs) migrated post-copy by `demo` over
# loopback, authenticated both ways, clear and sealed taking turns REPS
# times so both see the same machine. Prints the medians of bulk rate,
# fault latency p50/p99 and downtime, and the sealed/clear ratios.
# The channel-level cost is bench/crypt_cost.c. MEM (1G), REPS (5).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PM="$ROOT/bin/postcopy-move"
MEM=${MEM:-1G}
REPS=${REPS:-5}
TMP=$(mktemp -d /tmp/pcm-encrypt.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
head -c 32 /dev/urandom >"$TMP/key"
chmod 600 "$TMP/key"
for i in $(seq "$REPS"); do
	for v in clear sealed; do
		args=(--engine thread --mem "$MEM" --vcpus 2 --workload sweep --warmup 1
		      --psk-file "$TMP/key" --json)
		[ "$v" = sealed ] && args+=(--encrypt)
		"$PM" demo "${args[@]}" 2>/dev/null >>"$TMP/$v.json"
	done
done
med() { jq -s "[.[] | $2] | sort | .[length / 2 | floor]" "$TMP/$1.json"; }
printf '%-8s %-20s %10s %10s %10s %12s\n' variant cipher bulk_MB/s fault_p50 fault_p99 downtime_us
for v in clear sealed; do
	printf '%-8s %-20s %10.1f %10.1f %10.1f %12.1f\n' "$v" "$(jq -r -s '.[0].cipher' "$TMP/$v.json")" \
		"$(med "$v" .bulk_mbps)" "$(med "$v" .fault_latency_us.p50)" \
		"$(med "$v" .fault_latency_us.p99)" "$(med "$v" .downtime_us)"
done
for k in .bulk_mbps .fault_latency_us.p50 .fault_latency_us.p99 .downtime_us; do
	awk -v a="$(med sealed "$k")" -v b="$(med clear "$k")" -v k="$k" \
		'BEGIN { printf "sealed/clear %-22s %.2f\n", k, b ? a / b : 0 }'
done
echo "verified: $(jq -s '[.[] | .verified] | all' "$TMP/clear.json" "$TMP/sealed.json")"
