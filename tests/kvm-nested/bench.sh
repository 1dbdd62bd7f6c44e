#!/bin/sh
# Nested-KVM harness: the KVM benchmark inside the nested guest (run by
# inner.sh when KVM_NESTED_BENCH=1; `make bench-kvm-nested`). Absolute
# numbers mean little under software emulation; what it records is the
# state blob per vCPU, save/restore per vCPU, and the kvm engine's downtime
# against the thread engine's in the same run. Each result is one line
# "NESTED-BENCH <json>" that the host side collects.
PM=${PCM_BIN:-build/static/bin/postcopy-move}
REPS=${PCM_REPS:-3}
fail=0

st=$(build/static/bench/kvm_state --reps 5 --mem 64) || fail=1
echo "NESTED-BENCH {\"state\":$st}"
i=0
while [ "$i" -lt "$REPS" ]; do
	i=$((i + 1))
	for eng in kvm thread; do
		out=$("$PM" demo --json --engine "$eng" --mem 256M --vcpus 2 --workload kv \
			--warmup 0.5 2>/tmp/bench-demo.err | tail -1)
		if echo "$out" | grep -q '"verified":true'; then
			echo "NESTED-BENCH {\"engine\":\"$eng\",\"run\":$out}"
		else
			echo "bench.sh: $eng run $i failed:"; cat /tmp/bench-demo.err; fail=1
		fi
	done
done
exit $fail
