#!/usr/bin/env bash
# bench/profile.sh - where a post-copy migration's CPU goes, per page, on
# each end: `perf record -a -g` over one kv post-copy migration on the
# thread engine over loopback (1 GiB, 1 vCPU by default), then every
# sample of the source (`run`) and the destination (`receive`) process is
# put in one bucket by what it was doing, and each bucket is divided by the
# guest's pages.
#
# A sample's bucket comes from its call chain, leaf first: the first frame
# whose symbol the table below names decides, so a copy_user leaf under
# tcp_recvmsg is "receive" while one under mfill_atomic is UFFDIO_COPY,
# and a sample taken where interrupts came back on lands where they were
# off. Samples no frame names go by their thread's start routine (the
# fault thread's loop is "fault thread polling"), else "other", whose top
# symbols are printed so the table can grow.
#
# The binary is a second build in build/prof with frame pointers (user
# call chains need them; the code is otherwise the same -O2). Where the
# machine has no cycle counter (a VM without a PMU: `perf stat -e cycles`
# says <not supported>) perf samples the cpu-clock timer instead, and
# cycles are CPU time x the clock of /proc/cpuinfo: an estimate, said so.
#
#   MEM=1G VCPUS=1 WORKLOAD=kv WARMUP=1 FREQ=2000 ENCRYPT=0 bash bench/profile.sh
# Prints the tables on stdout (markdown) and keeps them, the migration's
# report and perf's own per-symbol report in
# bench/results/profile-<date>-<host>/ (perf.data too with KEEP_PERF=1).
set -euo pipefail
cd "$(dirname "$0")/.."
MEM=${MEM:-1G} VCPUS=${VCPUS:-1} WORKLOAD=${WORKLOAD:-kv}
WARMUP=${WARMUP:-1} FREQ=${FREQ:-2000} ENCRYPT=${ENCRYPT:-0}
B=build/prof
PM=$B/bin/postcopy-move
out="bench/results/profile-$(date +%F-%H%M)-$(hostname -s)"
tmp=$(mktemp -d)
export POSTCOPY_MOVE_RUN_DIR="$tmp/run"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "[profile] $*" >&2; }
die() { echo "profile: $*" >&2; exit 1; }

# perf, and what it can count here: EVENT and the sentence saying so.
perf_check() {
	if ! command -v perf >/dev/null; then
		step "perf is missing: apt-get install linux-perf"
		apt-get install -y -qq linux-perf >&2 || die "perf is not installed and apt-get could not install linux-perf"
	fi
	perf record -e cpu-clock -o "$tmp/probe.data" true >/dev/null 2>"$tmp/probe.err" ||
		die "perf cannot sample on this machine: $(tail -1 "$tmp/probe.err") (perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid))"
	MHZ=$(awk -F: '/^cpu MHz/ { printf "%d", $2; exit }' /proc/cpuinfo)
	if perf stat -x, -e cycles true 2>&1 | grep -q '^[0-9]'; then
		EVENT=cycles
		HOW="perf counts hardware cycles here: sample periods are cycles"
	else
		EVENT=cpu-clock
		HOW="perf cannot count hardware cycles here (perf stat -e cycles: <not supported>; no PMU in this VM): sampled the cpu-clock timer at $FREQ Hz per CPU, cycles = CPU ns x ${MHZ} MHz (/proc/cpuinfo), an estimate"
	fi
	step "$HOW"
}

build() {
	step "building $PM with frame pointers"
	make -s -j2 B=$B BINDIR=$B/bin SANFLAGS=-fno-omit-frame-pointer "$PM" >&2
}

# The VM on the source, a destination waiting: SRC_PID, DST_PID, PORT.
start_ends() {
	"$PM" run --name prof --engine thread --mem "$MEM" --vcpus "$VCPUS" \
		--workload "$WORKLOAD" >"$tmp/src.log" 2>&1 &
	SRC_PID=$!; pids+=($!)
	"$PM" receive --listen 127.0.0.1:0 --name prof-dst $psk >"$tmp/dst.log" 2>&1 &
	DST_PID=$!; pids+=($!)
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^waiting for a VM on .*:\([0-9]*\)$/\1/p' "$tmp/dst.log")
		[ -n "$PORT" ] && "$PM" status prof >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "the two ends did not come up: $(cat "$tmp/src.log" "$tmp/dst.log")"
}

# perf over the whole machine for exactly the migration: perf starts
# `migrate` once its counters run, and migrate returns once every page is
# in and the destination checked the guest.
profile_migration() {
	step "migrating $MEM $WORKLOAD, $VCPUS vCPUs, under perf"
	perf record -a -g -e "$EVENT" -F "$FREQ" -o "$tmp/perf.data" -- \
		"$PM" migrate prof --to "127.0.0.1:$PORT" --json $psk $enc \
		>"$tmp/report.json" 2>"$tmp/migrate.err" ||
		die "migration failed: $(grep -v '^\[ perf' "$tmp/migrate.err")"
	grep -q 'Captured and wrote' "$tmp/migrate.err" || die "perf record failed: $(cat "$tmp/migrate.err")"
	"$PM" stop prof-dst >/dev/null 2>&1 || true
}

psk= enc=
if [ "$ENCRYPT" = 1 ]; then
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/psk"
	chmod 600 "$tmp/psk"
	psk="--psk-file $tmp/psk"; enc=--encrypt
fi
perf_check
build
step "warming the guest up for ${WARMUP} s"
start_ends
sleep "$WARMUP"
profile_migration
mkdir -p "$out"
cp "$tmp/report.json" "$out/report.json"
[ "${KEEP_PERF:-0}" = 1 ] && cp "$tmp/perf.data" "$out/perf.data"
step "classifying samples"
perf script -i "$tmp/perf.data" -F pid,tid,period,ip,sym 2>/dev/null |
python3 -c "$(cat <<'EOF'
import collections, json, re, sys

src_pid, dst_pid, report, mhz, how = sys.argv[1:6]
src_pid, dst_pid, mhz = int(src_pid), int(dst_pid), float(mhz)
rep = json.load(open(report))
pages = rep['pages']['total']

# Whole chains first: a sample anywhere under these is that job, whatever
# the leaf (the self-check faults in every hole it reads; a vCPU's own
# faults are the guest's).
CONTEXT = [
    (r'^(wl_check_sparse|kv_check|sweep_check)', 'verify (destination self-check)'),
    (r'^vcpu_main', 'guest vCPU'),
]
# Then symbol -> bucket, frame by frame from the leaf. "COPY" is read/copy
# RAM on the source and the receive copy on the destination.
RULES = [
    (r'^(crypto_|sodium|aes|_aes|gcm|ghash|chacha|poly1305|salsa)', 'crypto (AEAD)'),
    (r'^XXH|^xxh', 'checksum (XXH3)'),
    (r'^(__wake_up|try_to_wake_up|wake_up_|userfaultfd_wake|wake_userfault|futex_wake|uffd_wake)', 'wake'),
    (r'^(mfill_atomic|shmem_mfill|mcopy_atomic|userfaultfd_ioctl|uffd_fill|uffd_copy|uffd_zero|uffd_ioctl_once)', 'UFFDIO_COPY / ZEROPAGE'),
    (r'^(handle_userfault|userfaultfd_read|userfaultfd_poll|userfaultfd_ctx_read|uffd_read)', 'userfaultfd fault read'),
    (r'^(__schedule|schedule|finish_task_switch|pick_next|psi_|do_sched_yield|__x64_sys_sched_yield|pvm_safe_halt|do_idle|cpuidle|default_idle)', 'scheduling / idle'),
    (r'^(_copy_from_iter|skb_copy_to_page|skb_do_copy_data)', 'send: copy into socket buffers'),
    (r'^(_copy_to_iter|skb_copy_datagram|__skb_datagram_iter)', 'receive: copy out of socket buffers'),
    (r'^(tcp_v4_rcv|tcp_rcv|ip_rcv|ip_local_deliver|__netif_receive|process_backlog|net_rx_action|napi|tcp_ack|tcp_data_queue|tcp_v4_do_rcv|__tcp_ack_snd_check|tcp_event_data_recv)', 'loopback rx softirq'),
    (r'^(tcp_recvmsg|tcp_read|io_recv|sock_recvmsg|__sys_recvfrom|inet_recvmsg)', 'receive: TCP stack'),
    (r'^(tcp_sendmsg|tcp_write_xmit|__tcp_push|tcp_push|io_send|io_sendmsg|sock_sendmsg|____sys_sendmsg|__sys_sendmsg|ip_output|ip_finish_output|__dev_queue_xmit|dev_hard_start_xmit|loopback_xmit|tcp_transmit|__tcp_transmit|sk_stream_alloc|tcp_stream_alloc)', 'send: TCP stack'),
    (r'^(ram_page_is_zero|ram_next_data|ram_run_limit|llseek|lseek|__lseek|shmem_file_llseek|mapping_seek_hole_data|bulk_holes|bulk_zero)', 'read RAM: zero and hole scans'),
    (r'^(__memmove|__memcpy|memcpy|memmove|__memcpy_)', 'COPY'),
    (r'^(io_uring|__io_|io_submit|io_cqring|io_issue|__do_sys_io_uring)', 'io_uring (other)'),
    (r'^(asm_exc_page_fault|exc_page_fault|handle_mm_fault|do_user_addr_fault)', 'page faults'),
    (r'^(clear_page|shmem_|folio_|alloc_pages|__alloc_pages|get_page_from_freelist|free_unref|release_pages)', 'page allocation / freeing'),
]
CONTEXT = [(re.compile(r), b) for r, b in CONTEXT]
RULES = [(re.compile(r), b) for r, b in RULES]
FAULT = re.compile(r'^(asm_exc_page_fault|exc_page_fault|handle_userfault)')
# start routine -> bucket for samples no frame names
ROOTS = {'dst_fault_main': 'fault thread polling (poll, clock, queue checks)',
         'urgent_main': 'urgent server (other)', 'push_main': 'pusher (other)',
         'dst_bulk_main': 'bulk receiver (other)'}

def bucket(end, syms):
    for rx, b in CONTEXT:
        if any(rx.match(s) for s in syms):
            if b == 'guest vCPU':
                return b + (': its page faults' if any(FAULT.match(s) for s in syms) else ': workload')
            return b
    for s in syms:
        for rx, b in RULES:
            if rx.match(s):
                if b == 'COPY':
                    return 'read/copy RAM (memcpy)' if end == 'source' else 'receive copy (memcpy)'
                return b
    for s in reversed(syms):
        for root, b in ROOTS.items():
            if s.startswith(root):
                return b
    return 'other'

ns = {'source': collections.Counter(), 'destination': collections.Counter()}
other = {'source': collections.Counter(), 'destination': collections.Counter()}
rest = collections.Counter()
hdr = re.compile(r'^\s*(\d+)/(\d+)\s+(\d+)\s*$')
def flush(h, syms):
    if not h:
        return
    pid, period = int(h.group(1)), int(h.group(3))
    end = 'source' if pid == src_pid else 'destination' if pid == dst_pid else None
    if end is None:
        rest['idle (swapper)' if pid == 0 else 'other processes'] += period
        return
    b = bucket(end, syms)
    ns[end][b] += period
    if b == 'other' and syms:
        other[end][syms[0]] += period
h, syms = None, []
for line in sys.stdin:
    m = hdr.match(line)
    if m:
        flush(h, syms)
        h, syms = m, []
    elif line.strip():
        parts = line.split(None, 1)
        syms.append(parts[1].strip() if len(parts) > 1 else '?')
flush(h, syms)

cyc = (lambda v: v) if 'counts hardware cycles' in how else (lambda v: v * mhz / 1000)
unit = 'cycles' if 'counts hardware cycles' in how else 'ns'
moved = rep['pages']['pushed'] + rep['pages']['requested']
print(f"{rep['ram_bytes'] >> 20} MiB {rep['workload']}, {rep['vcpus']} vCPUs, {rep['engine']} engine, "
      f"{pages} pages ({rep['pages']['pushed']} pushed, {rep['pages']['requested']} requested, "
      f"{rep['pages']['zero']} zero); total {rep['total_ms']} ms, downtime {rep['downtime_us']} us, "
      f"bulk {rep['bulk_mbps']} MB/s, faults {rep['remote_faults']}, fault p50 "
      f"{rep['fault_latency_us']['p50']} us, cipher {rep['cipher']}, verified {rep['verified']}")
print(f"\n{how}. Per page: over all {pages} pages of the guest; per data page: over the "
      f"{moved} pages that crossed with their bytes (pushed + requested).\n")
def row(name, v, tot):
    return (f"| {name} | {v / pages:.0f} | {cyc(v) / pages:.0f} | {cyc(v) / max(moved, 1):.0f} | "
            f"{100 * v / max(tot, 1):.1f}% |")
for end in ('source', 'destination'):
    tot = sum(ns[end].values())
    print(f"| {end}: what | {unit}/page | cycles/page | cycles/data page | share |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for b, v in ns[end].most_common():
        print(row(b, v, tot))
    path = sum(v for b, v in ns[end].items() if not b.startswith(('guest', 'verify')))
    print(row(f"**the migration's own work** (all but the guest and the self-check)", path, tot))
    print(row(f"**all of the {end}**", tot, tot))
    if other[end]:
        top = ', '.join(f"{s} {100 * v / tot:.1f}%" for s, v in other[end].most_common(8))
        print(f"\n{end} 'other', top symbols: {top}")
    print()
for b, v in rest.most_common():
    print(f"elsewhere on the machine during the migration: {b} {v / 1e6:.0f} ms of CPU")
EOF
)" "$SRC_PID" "$DST_PID" "$tmp/report.json" "$MHZ" "$HOW" | tee "$out/profile.md"
perf report -i "$tmp/perf.data" --no-children --sort pid,symbol --stdio -g none \
	--pid "$SRC_PID,$DST_PID" 2>/dev/null >"$out/report.txt" || true
step "kept in $out"
