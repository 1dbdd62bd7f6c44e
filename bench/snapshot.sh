#!/usr/bin/env bash
# bench/snapshot.sh - `make bench-snapshot`: restoring a snapshot, lazy
# against eager, against reading the file, all in one run (the machine is
# shared and noisy: same-run ratios mean more than any one number).
#
# A thread-engine kv guest (MEM, default 1G; VCPUS, default 2) runs
# WARMUP seconds (2) and is snapshotted with --pause. Then REPS times (3),
# with the file in the page cache (it was just written; caches are not
# dropped on this shared machine):
#   read   `dd` of the whole file to /dev/null, 1 MiB blocks (its zero
#          pages are holes: they read as fast as the page cache allows)
#   eager  `restore --eager`: every page in (the load's own time, from
#          its output), and the time to the VM started, which also holds
#          the workload's self-check (run before the start when eager,
#          after every page is in when lazy)
#   lazy   `restore` (lazy): time to the VM started, time until every
#          page is resident (status restore_started_ms and
#          restore_resident_ms), pages faulted and filled
#   prefetch  `restore --prefetch`: the same, the filler first bringing
#          in the working set the lazy run before it recorded (FILE.ws)
# The table gives the median and min..max of each; the issue's targets:
# start within 5 ms for a 1 GiB guest, every page resident within 1.2x
# of the file's sequential read. Writes bench/results/snapshot-<date>-
# <host>.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
PM=bin/postcopy-move
MEM=${MEM:-1G} VCPUS=${VCPUS:-2} WARMUP=${WARMUP:-2} REPS=${REPS:-3}
out=bench/results; mkdir -p "$out"
stamp="$(date +%F)-$(hostname -s)"
tmp=$(mktemp -d)
export POSTCOPY_MOVE_RUN_DIR="$tmp/run"
trap '"$PM" stop bsrc >/dev/null 2>&1; "$PM" stop brst >/dev/null 2>&1; rm -rf "$tmp"' EXIT

step() { echo "[bench-snapshot] $*" >&2; }
now_ns() { date +%s%N; }

# up NAME PID: true once NAME's control socket answers.
up() {
	for _ in $(seq 600); do
		"$PM" status "$1" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

stop_wait() {
	"$PM" stop "$1" >/dev/null
	wait "$2" || true
}

# lazy_run TAG ARGS...: a lazy restore until every page is in; its
# numbers as one line of r.txt. The working set is recorded once every
# page is in: wait for it before the stop, so the next --prefetch has it.
lazy_run() {
	local tag=$1 p st; shift
	"$PM" restore "$tmp/b.snap" --name brst "$@" >"$tmp/l.log" 2>&1 &
	p=$!
	up brst $p
	for _ in $(seq 600); do
		grep -q "working set" "$tmp/l.log" && break
		sleep 0.05
	done
	st=$("$PM" status brst --json)
	jq -r --arg t "$tag" '"\($t) \(.restore_started_ms) \(.restore_resident_ms) \(.restore_pages_faulted) \(.restore_pages_filled) \(.restore_pages_prefetched) \(.restore_check)"' \
		<<<"$st" >>"$tmp/r.txt"
	stop_wait brst $p
}

step "a $MEM kv guest, $VCPUS vCPUs, $WARMUP s, then snapshot --pause"
"$PM" run --name bsrc --engine thread --mem "$MEM" --vcpus "$VCPUS" --workload kv \
	>"$tmp/src.log" 2>&1 &
src=$!
up bsrc $src
sleep "$WARMUP"
"$PM" snapshot bsrc "$tmp/b.snap" --pause --json >"$tmp/snap.json"
stop_wait bsrc $src
data=$(jq .data_pages "$tmp/snap.json")
zero=$(jq .zero_pages "$tmp/snap.json")

for i in $(seq "$REPS"); do
	step "run $i/$REPS: read, eager, lazy"
	t0=$(now_ns)
	dd if="$tmp/b.snap" of=/dev/null bs=1M status=none
	echo "read $(( ($(now_ns) - t0) / 1000 ))" >>"$tmp/r.txt"

	"$PM" restore "$tmp/b.snap" --eager --name brst >"$tmp/e.log" 2>&1 &
	p=$!
	up brst $p
	ms=$(sed -n "s/^VM 'brst' running: restored from .* in \([0-9.]*\) ms.*/\1/p" "$tmp/e.log")
	pg=$(sed -n "s/^  pages: .* MiB in \([0-9.]*\) ms).*/\1/p" "$tmp/e.log")
	echo "eager $ms $pg" >>"$tmp/r.txt"
	stop_wait brst $p

	lazy_run lazy
	lazy_run prefetch --prefetch
done

python3 - "$tmp/r.txt" "$MEM" "$VCPUS" "$data" "$zero" "$(stat -c %s "$tmp/b.snap")" \
	"$(git rev-parse --short HEAD)" "$stamp" >"$out/snapshot-$stamp.md" <<'PY'
import statistics, sys
rows = [l.split(None, 6) for l in open(sys.argv[1])]
mem, vcpus, data, zero, size, rev, stamp = sys.argv[2:]
read = [int(r[1]) / 1000 for r in rows if r[0] == 'read']
eager = [float(r[1]) for r in rows if r[0] == 'eager']
eagerp = [float(r[2]) for r in rows if r[0] == 'eager']
lz = [r for r in rows if r[0] == 'lazy']
pf = [r for r in rows if r[0] == 'prefetch']
start = [float(r[1]) for r in lz]
res = [float(r[2]) for r in lz]
flt = [int(r[3]) for r in lz]
fil = [int(r[4]) for r in lz]
pstart = [float(r[1]) for r in pf]
pres = [float(r[2]) for r in pf]
pflt = [int(r[3]) for r in pf]
ppre = [int(r[5]) for r in pf]
checks = sorted({r[6].strip() for r in lz + pf})
def f(v):
    return '%.1f (%.1f..%.1f)' % (statistics.median(v), min(v), max(v))
def verdict(ok):
    return 'met' if ok else '**missed**'
med = statistics.median
print('# restore of a %s thread-engine kv guest, %s vCPUs (%s, %s)\n' % (mem, vcpus, stamp, rev))
print('`bash bench/snapshot.sh` (MEM=%s VCPUS=%s), %d runs, file in the page cache;' % (mem, vcpus, len(lz)))
print('%s data pages (%.0f MiB) and %s zero pages, file %.0f MiB.\n' % (
    data, int(data) * 4096 / 2**20, zero, int(size) / 2**20))
print('| ms, median (min..max) | to VM started | to every page resident |')
print('| --- | ---: | ---: |')
print('| read the file (dd, 1 MiB) | | %s |' % f(read))
print('| eager restore (pages: the load alone) | %s | %s |' % (f(eager), f(eagerp)))
print('| lazy restore | %s | %s |' % (f(start), f(res)))
print('| lazy restore --prefetch | %s | %s |' % (f(pstart), f(pres)))
print()
print('- lazy: %s pages faulted, %s filled (medians); --prefetch: %s faulted, %s '
      'prefetched; check: %s' % (med(flt), med(fil), med(pflt), med(ppre), '; '.join(checks)))
print('- lazy start vs eager start: %.1fx sooner' % (med(eager) / med(start)))
print('- target: start within 5 ms: %.1f ms, %s' % (med(start), verdict(med(start) <= 5)))
print('- target: every page resident within 1.2x of the read: %.2fx, %s' % (
    med(res) / med(read), verdict(med(res) <= 1.2 * med(read))))
print('- eager load of every page against the read: %.2fx; its start waits for the load '
      'and the self-check' % (med(eagerp) / med(read)))
print('- the read is of the whole sparse file: its holes cost no disk or page cache')
PY
cat "$out/snapshot-$stamp.md"
