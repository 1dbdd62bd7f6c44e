#!/usr/bin/env bash
# bench/matrix.sh - `make bench`: downtime versus pre-copy on shaped links
# (issue 4). Every migration is a real two-process migration: `receive` on
# the destination, `run` on the source, `migrate` between them.
#
# Links (LINKS, default "lo 10g 1g"):
#   lo   plain TCP loopback, 127.0.0.1 in the root namespace
#   10g  a veth pair between two network namespaces this script makes
#   1g   (pcm-src-PID, pcm-dst-PID; 10.213.0.1/30 and .2/30), tbf on both
#        ends at 10 Gbit/s or 1 Gbit/s: burst = 1 ms at the rate (at least
#        64 KiB, one GSO packet), queue = 5 ms at the rate plus the burst.
#        netem does not exist on these kernels, so no delay is added: the
#        RTT is measured with ping and reported, as is a single TCP
#        stream's rate and the qdisc's drops. Source in pcm-src, destination
#        in pcm-dst. The namespaces go on exit, Ctrl-C and SIGTERM too.
# Matrix: RAM (RAMS, "1G 4G") x workload (idle, kv, and sweep at dirty
#   rates 50, 200, 800 MB/s and one above the link: 3000 on lo, 2000 on
#   10g; on 1g 200 and 800 already are) x mode (precopy, hybrid with
#   --precopy-rounds 2, postcopy), each REPS times (3), interleaved by mode
#   so that the machine's noise falls on every mode alike.
# Fixed choices (README.md, "Downtime versus pre-copy"): ENGINE=thread
#   (runs without /dev/kvm, and 4 GiB guests fit), VCPUS=2, kv and sweep
#   over a working set WS=512M (the rest of RAM stays zero: holes the
#   migration sends as ranges; it must exceed what pre-copy's 300 ms
#   downtime budget carries on the fastest link, or pre-copy "converges"
#   at any dirty rate), sweep with --write-fraction 1 so its pace is its
#   dirty rate, and given the time to write its whole working set once
#   before it migrates, pre-copy with the tool's default --max-downtime
#   (300 ms) and MAX_ROUNDS=10 (the default 30 rounds of a never-converging
#   pre-copy on 1 Gbit/s would take 2.5 minutes a run).
# Duration on 2 cores: QUICK=1 (1 GiB; lo and 1g; sweep at 50, 200, 800,
#   3000 on lo and 50, 800 on 1g; one run each: 30 migrations) 5.5 minutes
#   (5:28 at load average 1, 5:40 at 4-7); the full matrix (306
#   migrations) about 55 minutes (estimated from QUICK's per-migration
#   times; the 1g pre-copies that cannot converge take 50 s each).
#
# Knobs (environment): QUICK, REPS, LINKS, RAMS, MODES, WORKLOADS, RATES
#   (the sweep's dirty rates on every link, instead of the lists above),
#   ENGINE, VCPUS, WS, MAX_ROUNDS, MIGRATE_ARGS (more options for every
#   migrate, for experiments, e.g. "--max-bandwidth 100M"), TIMELINE_LINK
#   (the link of the kv latency timeline: 1g when in LINKS, else the
#   last), OUT (output directory).
# Writes bench/results/<date>-<host>/: results.json (every run, and per
#   cell the median with min and max), table.md, and PNG plots made with
#   gnuplot (bench/plot.gp): downtime.png, total.png, bytes.png (each
#   versus the sweep's dirty rate, one panel per link), timeline.png (kv
#   operation latency across one migration per mode).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PM=$ROOT/bin/postcopy-move
QUICK=${QUICK:-0}
REPS=${REPS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
LINKS=${LINKS:-$([ "$QUICK" = 1 ] && echo "lo 1g" || echo "lo 10g 1g")}
RAMS=${RAMS:-$([ "$QUICK" = 1 ] && echo "1G" || echo "1G 4G")}
MODES=${MODES:-"precopy hybrid postcopy"}
WORKLOADS=${WORKLOADS:-"idle kv sweep"}
ENGINE=${ENGINE:-thread}
VCPUS=${VCPUS:-2}
WS=${WS:-512M}
MAX_ROUNDS=${MAX_ROUNDS:-10}
MIGRATE_ARGS=${MIGRATE_ARGS:-}
HYBRID_ROUNDS=2
stamp="$(date +%F)-$(hostname -s)"
OUT=${OUT:-bench/results/$stamp}

step() { echo "[bench] $*" >&2; }
die() { echo "[bench] error: $*" >&2; exit 1; }

# Dirty rates (MB/s) of the sweep per link; the last is above the link.
rates_for() {
	case "$1:$QUICK" in
	lo:*) echo "50 200 800 3000" ;;
	10g:1) echo "50 800 2000" ;;
	10g:*) echo "50 200 800 2000" ;;
	1g:1) echo "50 800" ;;
	1g:*) echo "50 200 800" ;;
	esac
}
link_rate() { case $1 in 10g) echo 10gbit ;; 1g) echo 1gbit ;; *) echo "" ;; esac; }
link_bytes_per_s() { case $1 in 10g) echo 1250000000 ;; 1g) echo 125000000 ;; *) echo 0 ;; esac; }

for l in $LINKS; do
	case $l in lo | 10g | 1g) ;; *) die "unknown link '$l' (lo, 10g, 1g)" ;; esac
done
[ -x "$PM" ] || die "$PM is missing: run make first"
command -v jq >/dev/null || die "jq is missing (make deps)"
command -v gnuplot >/dev/null || die "gnuplot is missing (apt-get install gnuplot-nox)"
if [ "$LINKS" != lo ]; then
	[ "$(id -u)" = 0 ] || die "the shaped links need network namespaces: run as root (or LINKS=lo)"
	command -v ping >/dev/null || die "ping is missing (apt-get install iputils-ping)"
fi
"$PM" engines --check "$ENGINE" >/dev/null || die "engine $ENGINE cannot run here: $("$PM" engines | grep "^$ENGINE" || true)"

tmp=$(mktemp -d /tmp/pcm-bench.XXXXXX)
# Both ends hold a key, as an operator's would: receive refuses to listen
# beyond loopback without one. Authentication costs a handshake before
# the migration, nothing during it (no --encrypt).
head -c 32 /dev/urandom >"$tmp/key"
chmod 600 "$tmp/key"
NS_SRC=pcm-src-$$
NS_DST=pcm-dst-$$
NS_MADE=0
PIDS=()

# Stop what this script started, by PID: a VM in the middle of a migration
# ignores SIGTERM until the migration ends, so it gets SIGKILL after 3 s.
cleanup() {
	local p n
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for n in $(seq 30); do
		for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && break; p=; done
		[ -z "${p:-}" ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$NS_MADE" = 1 ]; then
		ip netns del "$NS_SRC" 2>/dev/null || true
		ip netns del "$NS_DST" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'step "interrupted: cleaning up"; exit 130' INT
trap 'step "terminated: cleaning up"; exit 143' TERM

# ---- helpers ----

# ctl RUN_DIR NAME REQUEST: one request on a VM's control socket (the
# `latency` request has no subcommand; docs/control.md), the text of its
# output events on stdout; exit 0 on an ok reply.
ctl() {
	perl -MIO::Socket::UNIX -MJSON::PP -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or exit 2;
		print $s encode_json({ req => $ARGV[1] }), "\n";
		while (my $l = <$s>) {
			my $m = eval { decode_json($l) } or exit 1;
			exit($m->{ok} ? 0 : 1) if exists $m->{ok};
			print "$m->{text}\n" if ($m->{event} // "") eq "output";
		}
		exit 1;' "$1/$2.sock" "$3"
}

# tcp_stream LINK ADDR MIB: one TCP stream of MIB MiB from the source side
# to ADDR (both ends in their namespaces, or both in the root one), MB/s
# on stdout.
tcp_stream() {
	local link=$1 addr=$2 mib=$3 sink port=""
	"${NSX[@]/NS/$NS_DST}" perl -MIO::Socket::INET -e '
		my $l = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => 0,
			Listen => 1, ReuseAddr => 1) or die "listen: $!\n";
		$| = 1; print "port ", $l->sockport, "\n";
		my $c = $l->accept or die; my $b; 1 while sysread($c, $b, 1 << 20);' \
		"$addr" >"$tmp/sink.out" 2>&1 &
	sink=$!
	PIDS=("$sink")
	for _ in $(seq 50); do
		port=$(sed -n 's/^port //p' "$tmp/sink.out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	"${NSX[@]/NS/$NS_SRC}" perl -MIO::Socket::INET -MTime::HiRes=time -e '
		my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1]) or die "connect: $!\n";
		my $c = "\0" x (1 << 20); my $t = time;
		for (1 .. $ARGV[2]) { my $o = 0; while ($o < length $c) {
			my $w = syswrite($s, $c, length($c) - $o, $o); die "write: $!\n" unless defined $w; $o += $w } }
		shutdown($s, 1); my $b; 1 while sysread($s, $b, 4096);
		printf "%.0f\n", $ARGV[2] * 1048576 / (time - $t) / 1e6;' "$addr" "$port" "$mib" || true
	wait "$sink" || true
	PIDS=()
}

# "${NSX[@]/NS/$NS_SRC}" CMD... runs CMD in the source's namespace on a
# shaped link, and as it is on lo (an empty array). No function: a
# background job's $! must be the command itself (ip netns exec execs it).
NSX=()
set_link() { if [ "$1" = lo ]; then NSX=(); else NSX=(ip netns exec NS); fi; }

now_ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }

# field FILE KEY: the value of "KEY: value" in a latency answer.
field() { sed -n "s/^$2: //p" "$1"; }

# offset READ...: the smallest host_realtime_ns - guest_ns of the reads.
offset() {
	local f o best=""
	for f in "$@"; do
		grep -qs '^guest_ns: [1-9]' "$f" || continue
		o=$(($(field "$f" host_realtime_ns) - $(field "$f" guest_ns)))
		if [ -z "$best" ] || [ "$o" -lt "$best" ]; then best=$o; fi
	done
	echo "${best:-0}"
}

# quantile_us Q BEFORE AFTER: the Q quantile of the kv operations between
# two latency answers, from the difference of their log2(ns) histograms:
# the upper edge of the bucket holding it, in us (so within a factor 2);
# null when no operation ended between them.
quantile_us() {
	awk -v q="$1" 'FNR == 1 { f++ } /^hist:/ { for (i = 2; i <= NF; i++) h[f, i - 2] = $i; n = NF - 1 }
	     END { t = 0; for (b = 0; b < n; b++) { d[b] = h[2, b] - h[1, b]; t += d[b] }
		   if (t <= 0) { print "null"; exit }
		   c = 0; for (b = 0; b < n; b++) { c += d[b]; if (c >= q * t) { printf "%.3f\n", 2 ^ (b + 1) / 1000; exit } } }' "$2" "$3"
}

# The qdisc drop counter of the source's veth end (both directions' ends
# summed; 0 on lo).
qdisc_drops() {
	local link=$1
	[ "$link" = lo ] && { echo 0; return; }
	{ ip netns exec "$NS_SRC" tc -s qdisc show dev pcm-s; ip netns exec "$NS_DST" tc -s qdisc show dev pcm-d; } |
		sed -n 's/.*dropped \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# ---- links ----

setup_netns() {
	step "network namespaces $NS_SRC and $NS_DST, veth pcm-s <-> pcm-d (10.213.0.1 <-> 10.213.0.2)"
	ip netns add "$NS_SRC"
	NS_MADE=1
	ip netns add "$NS_DST"
	ip link add pcm-s netns "$NS_SRC" type veth peer name pcm-d netns "$NS_DST"
	ip -n "$NS_SRC" addr add 10.213.0.1/30 dev pcm-s
	ip -n "$NS_DST" addr add 10.213.0.2/30 dev pcm-d
	for n in "$NS_SRC pcm-s" "$NS_DST pcm-d"; do
		set -- $n
		ip -n "$1" link set lo up
		ip -n "$1" link set "$2" up
	done
}

# shape LINK: tbf on both veth ends at the link's rate.
shape() {
	local rate=$(link_rate "$1") bps=$(link_bytes_per_s "$1") burst
	burst=$((bps / 1000 > 65536 ? bps / 1000 : 65536))
	ip netns exec "$NS_SRC" tc qdisc replace dev pcm-s root tbf rate "$rate" burst "$burst" latency 5ms
	ip netns exec "$NS_DST" tc qdisc replace dev pcm-d root tbf rate "$rate" burst "$burst" latency 5ms
	echo "tbf rate $rate burst $burst latency 5ms"
}

# link_measure LINK: RTT (ping, 50 at 10 ms, idle link) and one TCP
# stream's rate, as a JSON object.
link_measure() {
	local link=$1 addr=10.213.0.2 qd="" rtt mbps mib
	if [ "$link" = lo ]; then addr=127.0.0.1; else qd=$(shape "$link"); fi
	rtt=$("${NSX[@]/NS/$NS_SRC}" ping -n -q -c 50 -i 0.01 "$addr" | sed -n 's/^rtt [^=]*= //p')
	mib=$([ "$link" = 1g ] && echo 128 || echo 512)
	mbps=$(tcp_stream "$link" "$addr" "$mib")
	jq -nc --arg link "$link" --arg addr "$addr" --arg qdisc "$qd" --arg rtt "$rtt" \
		--argjson mbps "${mbps:-null}" --argjson bps "$(link_bytes_per_s "$link")" '
		($rtt | split(" ")[0] | split("/") | map(tonumber)) as $r |
		{link: $link, dest_addr: $addr, qdisc: (if $qdisc == "" then "none (loopback)" else $qdisc end),
		 nominal_mbps: (if $bps == 0 then null else $bps / 1e6 end),
		 rtt_ms: {min: $r[0], avg: $r[1], max: $r[2], mdev: $r[3]}, tcp_stream_mbps: $mbps}'
}

# ---- one migration ----

# run_one N LINK RAM WORKLOAD RATE MODE REP: one migration; appends one
# JSON object to $tmp/runs.jsonl. Never fails the script: a migration
# that fails is recorded with its error.
run_one() {
	local n=$1 link=$2 ram=$3 wl=$4 rate=$5 mode=$6 rep=$7
	local d=$tmp/r$n rs rd addr wlargs=() migargs=() spid dpid mpid port rc=0 err=""
	local t1 t2 t3 tm0 tm1 drops0 drops1 k=0 reads load
	rs=$d/src; rd=$d/dst
	mkdir -p "$d"; mkdir -m 700 "$rs" "$rd"
	addr=$([ "$link" = lo ] && echo 127.0.0.1 || echo 10.213.0.2)
	case $wl in
	kv) wlargs=(--working-set "$WS") ;;
	sweep) wlargs=(--working-set "$WS" --write-fraction 1 --dirty-rate "$rate") ;;
	esac
	case $mode in
	precopy) migargs=(--max-rounds "$MAX_ROUNDS") ;;
	hybrid) migargs=(--precopy-rounds "$HYBRID_ROUNDS") ;;
	esac
	migargs+=($MIGRATE_ARGS)

	POSTCOPY_MOVE_RUN_DIR=$rs "${NSX[@]/NS/$NS_SRC}" "$PM" run --name vm --engine "$ENGINE" \
		--mem "$ram" --vcpus "$VCPUS" --workload "$wl" "${wlargs[@]}" >"$d/src.log" 2>&1 &
	spid=$!; PIDS=("$spid")
	for _ in $(seq 600); do
		ctl "$rs" vm latency >"$d/s0" 2>/dev/null && grep -q "^ready_vcpus: $VCPUS/$VCPUS" "$d/s0" && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q "^ready_vcpus: $VCPUS/$VCPUS" "$d/s0" 2>/dev/null; then
		err="the source VM did not get ready: $(tail -1 "$d/src.log")"
	fi
	# A paced sweep writes its working set in order: before migrating, let
	# it write all of it once, so that every dirty rate migrates the same
	# RAM in use (at 50 MB/s, 256 MiB take 5.4 s).
	if [ -z "$err" ] && [ "$wl" = sweep ]; then
		sleep "$(numfmt --from=iec "$WS" | awk -v r="$rate" '{ printf "%.2f", $1 / (r * 1e6) * 1.1 }')"
	fi
	if [ -z "$err" ]; then
		# The rate before: 1 s of operations, after 0.3 s to settle.
		sleep 0.3
		ctl "$rs" vm latency >"$d/s1"; t1=$(now_ns)
		sleep 1
		ctl "$rs" vm latency >"$d/s2"; t2=$(now_ns)
		POSTCOPY_MOVE_RUN_DIR=$rd "${NSX[@]/NS/$NS_DST}" "$PM" receive --listen "$addr:0" \
			--psk-file "$tmp/key" >"$d/dst.log" 2>&1 &
		dpid=$!; PIDS+=("$dpid")
		for _ in $(seq 100); do grep -qs "^waiting for a VM on" "$d/dst.log" && break; sleep 0.05; done
		port=$(sed -n 's/^waiting for a VM on .*:\([0-9]*\)$/\1/p' "$d/dst.log")
		[ -n "$port" ] || err="the destination did not listen: $(tail -1 "$d/dst.log")"
	fi
	if [ -z "$err" ]; then
		drops0=$(qdisc_drops "$link")
		load=$(cut -d' ' -f1 /proc/loadavg)
		tm0=$(now_ns)
		POSTCOPY_MOVE_RUN_DIR=$rs "$PM" migrate vm --to "$addr:$port" --mode "$mode" \
			--psk-file "$tmp/key" "${migargs[@]}" --json >"$d/mig.out" 2>"$d/mig.err" &
		mpid=$!
		PIDS+=("$mpid")
		# The guest's latency ring covers 8.6 s: read the source's every
		# 2 s while the migration runs (it keeps answering meanwhile).
		while kill -0 "$mpid" 2>/dev/null; do
			sleep 0.1
			k=$((k + 1))
			if [ "$wl" = kv ] && [ $((k % 20)) = 0 ]; then
				ctl "$rs" vm latency >"$d/poll$k" 2>/dev/null || true
			fi
		done
		wait "$mpid" || rc=$?
		tm1=$(now_ns)
		drops1=$(qdisc_drops "$link")
		if [ "$rc" != 0 ]; then
			err="migrate failed (exit $rc): $(grep -m1 error "$d/mig.err" || tail -1 "$d/mig.err")"
		fi
	fi
	if [ -z "$err" ]; then
		for _ in $(seq 200); do ctl "$rd" vm latency >"$d/s3" 2>/dev/null && break; sleep 0.05; done
		t3=$(now_ns)
		grep -q '^ops: ' "$d/s3" || err="the destination VM does not answer after the migration"
		sleep 0.1
		ctl "$rd" vm latency >"$d/s4" 2>/dev/null || true
	fi
	if [ -z "$err" ] && ! grep -q '^{' "$d/mig.out"; then
		err="migrate printed no report"
	fi
	# The destination stops on request; the source has released the VM
	# and exits by itself (a failed one still runs: stop it).
	[ -d "$rd" ] && POSTCOPY_MOVE_RUN_DIR=$rd "$PM" stop vm >/dev/null 2>&1 || true
	POSTCOPY_MOVE_RUN_DIR=$rs "$PM" stop vm >/dev/null 2>&1 || true
	for p in $spid ${dpid:-}; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# All of this run's processes are reaped: forget their PIDs, which
	# may now belong to someone else.
	PIDS=()

	local base
	base=$(jq -nc --argjson n "$n" --arg link "$link" --arg ram "$ram" --arg wl "$wl" --argjson rate "${rate:-null}" \
		--arg mode "$mode" --argjson rep "$rep" \
		'{n: $n, link: $link, ram: $ram, workload: $wl, dirty_rate_mbps: $rate, mode: $mode, rep: $rep}')
	if [ -n "$err" ]; then
		jq -c --arg e "$err" '. + {ok: false, error: $e}' <<<"$base" >>"$tmp/runs.jsonl"
		step "  FAILED: $err"
		return 0
	fi
	local o1 o2 o3 hb hd hd3 off_src off_dst tl=null tm0g
	o1=$(field "$d/s1" ops); o2=$(field "$d/s2" ops); o3=$(field "$d/s3" ops)
	hb=$(quantile_us 0.99 "$d/s1" "$d/s2"); hd=$(quantile_us 0.99 "$d/s2" "$d/s3")
	hd3=$(quantile_us 0.999 "$d/s2" "$d/s3")
	# guest time + offset = this host's CLOCK_REALTIME. A read's guest
	# time is its latest operation's, late by however long both vCPUs
	# were off the CPU, so the best offset is the smallest of two reads.
	off_src=$(offset "$d/s1" "$d/s2")
	off_dst=$(offset "$d/s3" "$d/s4")
	if [ "$wl" = kv ]; then
		# Timeline: every interval seen in any read, the largest value
		# each read saw (a read during an interval sees part of it), in
		# s from the migration's start on the host clock.
		tm0g=$((tm0 - off_src))
		tl=$d/timeline.dat
		shopt -s nullglob
		reads=("$d"/s1 "$d"/s2 "$d"/poll* "$d"/s3)
		shopt -u nullglob
		cat "${reads[@]}" | awk -v t0="$tm0g" '
			/^lat: / { g = $2; if (!(g in op) || $3 > op[g]) op[g] = $3; if (!(g in rs) || $4 > rs[g]) rs[g] = $4 }
			END { for (g in op) printf "%.6f %.6f %.6f\n", (g - t0) / 1e9, op[g] / 1e6, rs[g] / 1e6 }' |
			sort -g | awk 'NR > 1 && $1 - p > 0.03 { print "" } { print; p = $1 }' >"$tl"
		mkdir -p "$OUT/timelines"
		tl=timelines/$link-$ram-$mode-rep$rep.dat
		cp "$d/timeline.dat" "$OUT/$tl"
		tl="\"$tl\""
	fi
	jq -c --argjson r "$(grep '^{' "$d/mig.out" | tail -1)" \
		--argjson o1 "$o1" --argjson o2 "$o2" --argjson o3 "$o3" \
		--argjson t1 "$t1" --argjson t2 "$t2" --argjson t3 "$t3" \
		--argjson tm0 "$tm0" --argjson tm1 "$tm1" \
		--argjson hb "$hb" --argjson hd "$hd" --argjson hd3 "$hd3" --argjson tl "$tl" \
		--argjson skew "$((off_dst - off_src))" --argjson load "$load" \
		--argjson drops "$((drops1 - drops0))" '
		(($r.pages.total - $r.pages.zero) * 4096) as $inuse |
		($r.bytes.control + $r.bytes.urgent + $r.bytes.bulk) as $wire |
		(($o2 - $o1) / (($t2 - $t1) / 1e9)) as $before |
		(($o3 - $o2) / (($t3 - $t2) / 1e9)) as $during |
		. + {ok: true,
		     downtime_ms: ($r.downtime_us / 1000), max_stall_ms: ($r.max_stall_us / 1000),
		     total_s: ($r.total_ms / 1000), wire_bytes: $wire, inuse_bytes: $inuse,
		     wire_ratio: (if $inuse > 0 then $wire / $inuse else null end),
		     pages_resent: $r.pages.resent, remote_faults: $r.remote_faults,
		     fault_p50_us: $r.fault_latency_us.p50, fault_p99_us: $r.fault_latency_us.p99,
		     rounds: $r.precopy_rounds, converged: $r.precopy.converged,
		     # pre-copy: the copy rate of the last round, and the rate the guest
		     # dirtied pages at meanwhile (what the stop-and-copy had left)
		     precopy_copy_mbps: ($r.precopy.rounds | if length > 0 then .[-1].bytes / .[-1].ms / 1000 else null end),
		     precopy_dirty_mbps: ($r.precopy.rounds | if length > 0 and $r.mode == "precopy" then $r.precopy.final_pages * 4096 / .[-1].ms / 1000 else null end),
		     precopy_stop: $r.precopy.stop,
		     ops_per_s_before: $before, ops_per_s_during: $during,
		     tput_rel: (if $before > 0 then $during / $before else null end),
		     kv_p99_us_before: $hb, kv_p99_us_during: $hd, kv_p999_us_during: $hd3,
		     # pages that crossed twice in post-copy: the bulk channel
		     # carried them but a fault had them installed first (the
		     # report counts each page once, by the path that won)
		     dup_pages_est: (if $r.mode != "postcopy" then null else
			(($r.bytes.bulk - $r.pages.pushed * 4096 - ($r.pages.pushed / 64 | ceil) * 32) / 4096) |
			floor | if . < 0 then 0 else . end end),
		     qdisc_drops: $drops, migrate_wall_s: (($tm1 - $tm0) / 1e9), loadavg_1min: $load,
		     clock_skew_us: ($skew / 1000), timeline: $tl,
		     events_s: {precopy: ($r.setup_ms / 1000),
				pause: (($r.setup_ms + $r.precopy_ms) / 1000),
				resume: (($r.setup_ms + $r.precopy_ms) / 1000 + $r.downtime_us / 1e6),
				end: ($r.total_ms / 1000)},
		     report: $r}' <<<"$base" >>"$tmp/runs.jsonl"
}

# ---- the matrix ----

mkdir -p "$OUT"
: >"$tmp/runs.jsonl"
: >"$tmp/links.jsonl"
t_begin=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$LINKS" != lo ] && setup_netns

# The work list first, so progress can say "n/total".
plan=()
for link in $LINKS; do
	for ram in $RAMS; do
		wls=""
		for w in $WORKLOADS; do
			if [ "$w" = sweep ]; then
				for r in ${RATES:-$(rates_for "$link")}; do wls="$wls sweep:$r"; done
			else
				wls="$wls $w:-"
			fi
		done
		for w in $wls; do
			for rep in $(seq "$REPS"); do
				for mode in $MODES; do plan+=("$link $ram ${w%%:*} ${w#*:} $mode $rep"); done
			done
		done
	done
done
step "matrix: links [$LINKS], RAM [$RAMS], modes [$MODES], $REPS run(s) each: ${#plan[@]} migrations (engine $ENGINE, $VCPUS vCPUs, working set $WS)"

n=0
cur_link=""
for item in "${plan[@]}"; do
	set -- $item
	link=$1 ram=$2 wl=$3 rate=${4#-} mode=$5 rep=$6
	if [ "$link" != "$cur_link" ]; then
		set_link "$link"
		step "link $link: measuring RTT and a TCP stream"
		link_measure "$link" | tee -a "$tmp/links.jsonl" |
			jq -r '"[bench]   \(.link): \(.qdisc); RTT min/avg/max \(.rtt_ms.min)/\(.rtt_ms.avg)/\(.rtt_ms.max) ms; one TCP stream \(.tcp_stream_mbps) MB/s"' >&2
		cur_link=$link
	fi
	n=$((n + 1))
	el=$(($(date +%s) - t_begin))
	what="$link $ram $wl${rate:+@${rate}MB/s} $mode run $rep/$REPS"
	step "cell $n/${#plan[@]}: $what (elapsed $((el / 60))m$((el % 60))s)"
	run_one "$n" "$link" "$ram" "$wl" "$rate" "$mode" "$rep"
	tail -1 "$tmp/runs.jsonl" | jq -r 'select(.ok) | "[bench]   downtime \(.downtime_ms * 1000 | round / 1000) ms, total \(.total_s * 100 | round / 100) s, wire \(.wire_bytes / 1048576 | round) MiB, max stall \(.max_stall_ms | round) ms, throughput \(if .tput_rel then (.tput_rel * 100 | round) else "-" end)% of before\(if .mode != "postcopy" then ", \(.rounds) round(s), \(.precopy_stop)" else "" end)"' >&2
	rm -rf "$tmp/r$n"
done
t_end=$(date +%s)

# ---- results ----

TIMELINE_LINK=${TIMELINE_LINK:-$(case " $LINKS " in *" 1g "*) echo 1g ;; *) echo "${LINKS##* }" ;; esac)}
jq -n --slurpfile runs "$tmp/runs.jsonl" --slurpfile links "$tmp/links.jsonl" \
	--arg host "$(hostname -s)" --arg date "$(date -Iseconds)" --arg kernel "$(uname -r)" \
	--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
	--argjson cores "$(nproc)" --arg load0 "$load0" --arg load1 "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--argjson quick "$QUICK" --argjson reps "$REPS" --arg engine "$ENGINE" --argjson vcpus "$VCPUS" \
	--arg ws "$WS" --argjson maxr "$MAX_ROUNDS" --argjson hyb "$HYBRID_ROUNDS" \
	--argjson secs "$((t_end - t_begin))" --arg tlink "$TIMELINE_LINK" '
	def spread(f): [.[] | f | select(. != null)] | sort |
		if length == 0 then null else {median: .[length / 2 | floor], min: .[0], max: .[-1]} end;
	($runs | map(select(.ok))) as $ok |
	{date: $date, host: $host, cpu: $cpu, cores: $cores, kernel: $kernel,
	 loadavg_start: $load0, loadavg_end: $load1, duration_s: $secs,
	 config: {quick: ($quick == 1), reps: $reps, engine: $engine, vcpus: $vcpus, working_set: $ws,
		  precopy_max_rounds: $maxr, precopy_max_downtime_ms: 300, hybrid_precopy_rounds: $hyb,
		  sweep_write_fraction: 1, timeline_link: $tlink},
	 links: $links,
	 cells: ($runs | group_by([.link, .ram, .workload, .dirty_rate_mbps, .mode]) |
		sort_by(.[0].n) | map(
		(map(select(.ok))) as $c |
		{link: .[0].link, ram: .[0].ram, workload: .[0].workload,
		 dirty_rate_mbps: .[0].dirty_rate_mbps, mode: .[0].mode,
		 runs: length, ok: ($c | length),
		 errors: (map(select(.ok | not) | .error)),
		 converged: ($c | map(select(.converged)) | length)}
		+ ($c | {downtime_ms: spread(.downtime_ms), max_stall_ms: spread(.max_stall_ms),
			 total_s: spread(.total_s), wire_bytes: spread(.wire_bytes),
			 inuse_bytes: spread(.inuse_bytes), wire_ratio: spread(.wire_ratio),
			 pages_resent: spread(.pages_resent), remote_faults: spread(.remote_faults),
			 fault_p50_us: spread(.fault_p50_us), fault_p99_us: spread(.fault_p99_us),
			 rounds: spread(.rounds), tput_rel: spread(.tput_rel),
			 kv_p99_us_before: spread(.kv_p99_us_before),
			 kv_p99_us_during: spread(.kv_p99_us_during),
			 qdisc_drops: spread(.qdisc_drops), bulk_mbps: spread(.report.bulk_mbps),
			 kv_p999_us_during: spread(.kv_p999_us_during), dup_pages_est: spread(.dup_pages_est),
			 pause_us: spread(.report.pause_us), final_us: spread(.report.final_us),
			 restore_us: spread(.report.restore_us),
			 precopy_copy_mbps: spread(.precopy_copy_mbps), precopy_dirty_mbps: spread(.precopy_dirty_mbps)}))),
	 runs: $runs}' >"$OUT/results.json"

# The table: one row per cell, median [min-max] over its runs.
jq -r '
	def r(x): if x == null then "-" elif (x | fabs) >= 100 then (x | round | tostring)
		  elif (x | fabs) >= 10 then (x * 10 | round / 10 | tostring)
		  else (x * 100 | round / 100 | tostring) end;
	def s(f): if f == null then "-" elif f.min == f.max then r(f.median)
		  else "\(r(f.median)) [\(r(f.min))-\(r(f.max))]" end;
	def mib(f): if f == null then null else {median: (f.median / 1048576), min: (f.min / 1048576), max: (f.max / 1048576)} end;
	def pct(f): if f == null then null else {median: (f.median * 100), min: (f.min * 100), max: (f.max * 100)} end;
	"| link | RAM | workload | mode | ok | downtime ms | max stall ms | total s | wire MiB | wire / in use | resent pages | remote faults | fault p50 / p99 us | rounds (converged) | throughput % of before | kv p99 us during (before) |",
	"| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	(.cells[] | "| \(.link) | \(.ram) | \(.workload)\(if .dirty_rate_mbps then " \(.dirty_rate_mbps) MB/s" else "" end) | \(.mode) | \(.ok)/\(.runs) | \(s(.downtime_ms)) | \(s(.max_stall_ms)) | \(s(.total_s)) | \(s(mib(.wire_bytes))) | \(s(.wire_ratio)) | \(s(.pages_resent)) | \(s(.remote_faults)) | \(r(.fault_p50_us.median)) / \(r(.fault_p99_us.median)) | \(if .mode == "postcopy" then "-" elif .mode == "hybrid" then r(.rounds.median) else "\(r(.rounds.median)) (\(.converged)/\(.ok))" end) | \(s(pct(.tput_rel))) | \(if .workload == "kv" then "\(r(.kv_p99_us_during.median)) (\(r(.kv_p99_us_before.median)))" else "-" end) |")
' "$OUT/results.json" >"$tmp/table.md"

# The expected shape, checked on the medians (README: what each means).
jq -r '
	def med(f): f.median;
	.cells as $c | ($c | map(select(.ok > 0))) as $k |
	"- post-copy downtime on loopback <= 1 ms: " +
	  ([$k[] | select(.mode == "postcopy" and .link == "lo")] |
	   "\(map(select(.downtime_ms.median <= 1)) | length) of \(length) cells" +
	   (map(select(.downtime_ms.median > 1) | " \(.ram) \(.workload)\(.dirty_rate_mbps // "") \(.downtime_ms.median * 100 | round / 100) ms (median parts: pause \(.pause_us.median | round) us, restore \(.restore_us.median | round) us)") |
	    if length > 0 then "; over:" + join(",") else "" end)),
	([$k[] | select(.mode == "postcopy")] | group_by(.link)[] |
	 "- post-copy downtime spread on \(.[0].link) (largest / smallest median, all workloads and RAM): \((map(.downtime_ms.median) | max) / (map(.downtime_ms.median) | min) * 100 | round / 100) (\(map(.downtime_ms.median) | min * 1000 | round / 1000)-\(map(.downtime_ms.median) | max * 1000 | round / 1000) ms)"),
	([$k[] | select(.mode == "precopy" and .workload == "sweep")] | group_by([.link, .ram])[] |
	 "- pre-copy downtime versus dirty rate on \(.[0].link) \(.[0].ram): " +
	 (sort_by(.dirty_rate_mbps) | map("\(.dirty_rate_mbps) MB/s: \(.downtime_ms.median * 10 | round / 10) ms (converged \(.converged)/\(.ok); last round copied at \(.precopy_copy_mbps.median | round) MB/s while the guest dirtied \(.precopy_dirty_mbps.median | round) MB/s)") | join(", "))),
	"- post-copy wire bytes / RAM in use <= 1.05: " +
	  ([$k[] | select(.mode == "postcopy" and .wire_ratio != null and .workload != "idle")] |
	   "\(map(select(.wire_ratio.median <= 1.05)) | length) of \(length) cells (kv and sweep; idle has almost nothing in use)" +
	   (map(select(.wire_ratio.median > 1.05) | " \(.link) \(.ram) \(.workload)\(.dirty_rate_mbps // "") \(.wire_ratio.median * 1000 | round / 1000) (pages sent on both channels, estimated: \(.dup_pages_est.median))") |
	    if length > 0 then "; over:" + join(",") else "" end)),
	"- hybrid downtime between post-copy and pre-copy (sweep and kv cells): " +
	  ([$k[] | select(.workload != "idle")] | group_by([.link, .ram, .workload, .dirty_rate_mbps]) |
	   map(select(length == 3) | (map({(.mode): .downtime_ms.median}) | add) as $m |
	       select($m.postcopy <= $m.hybrid and $m.hybrid <= $m.precopy)) | length | tostring) +
	  " of \([$k[] | select(.workload != "idle")] | group_by([.link, .ram, .workload, .dirty_rate_mbps]) | map(select(length == 3)) | length)"
' "$OUT/results.json" >"$tmp/shape.md"

# ---- plots ----

mkdir -p "$OUT/plot"
for link in $LINKS; do
	for ram in $RAMS; do
		for mode in $MODES; do
			jq -r --arg l "$link" --arg r "$ram" --arg m "$mode" '
				.cells[] | select(.link == $l and .ram == $r and .mode == $m and
					.workload == "sweep" and .ok > 0) |
				"\(.dirty_rate_mbps) \(.downtime_ms.median) \(.downtime_ms.min) \(.downtime_ms.max) \(.total_s.median) \(.total_s.min) \(.total_s.max) \(.wire_bytes.median / 1048576) \(.wire_bytes.min / 1048576) \(.wire_bytes.max / 1048576)"' \
				"$OUT/results.json" >"$OUT/plot/$link-$ram-$mode.dat"
		done
	done
done
# One timeline per mode: the kv cell on TIMELINE_LINK, the first RAM size,
# first run; its events (pre-copy start, pause, resume, end) as variables.
{
	echo "links = \"$LINKS\""
	echo "rams = \"$RAMS\""
	echo "modes = \"$MODES\""
	echo "outdir = \"$OUT\""
	echo "host = \"$(hostname -s)\""
	echo "engine = \"$ENGINE\""
	echo "ws_mib = $(numfmt --from=iec "$WS" | awk '{ print $1 / 1048576 }')"
	for link in $LINKS; do
		# the link's rate in MB/s: tbf's for shaped links, the measured
		# TCP stream's on loopback
		jq -r --arg l "$link" '.links[] | select(.link == $l) |
			"bw_\(.link) = \(.nominal_mbps // .tcp_stream_mbps // 0)",
			"bwname_\(.link) = \"\(if .nominal_mbps then "link" else "one TCP stream" end)\""' "$OUT/results.json"
	done
	for link in $LINKS; do
		ser=""
		for ram in $RAMS; do
			for mode in $MODES; do
				[ -s "$OUT/plot/$link-$ram-$mode.dat" ] && ser="$ser $ram-$mode"
			done
		done
		echo "ser_$link = \"${ser# }\""
	done
	for mode in $MODES; do
		jq -r --arg l "$TIMELINE_LINK" --arg r "${RAMS%% *}" --arg m "$mode" '
			[.runs[] | select(.ok and .link == $l and .ram == $r and .mode == $m and
				.workload == "kv" and .timeline != null)] | first // empty |
			"tl_\($m) = \"\(.timeline)\"",
			"ev_pre_\($m) = \(.events_s.precopy)", "ev_pause_\($m) = \(.events_s.pause)",
			"ev_resume_\($m) = \(.events_s.resume)", "ev_end_\($m) = \(.events_s.end)",
			"dt_\($m) = \(.downtime_ms)"' "$OUT/results.json"
	done
	echo "tl_link = \"$TIMELINE_LINK\""
	echo "tl_ram = \"${RAMS%% *}\""
} >"$OUT/plot/vars.gp"
step "plots (gnuplot bench/plot.gp)"
gnuplot -e "vars = '$OUT/plot/vars.gp'" bench/plot.gp

# ---- the report ----

links_md=$(jq -r '.links[] | "- `\(.link)`: \(.qdisc); RTT measured with ping (idle link, 50 pings) min/avg/max \(.rtt_ms.min)/\(.rtt_ms.avg)/\(.rtt_ms.max) ms; one TCP stream (perl, \(if .link == "1g" then 128 else 512 end) MiB) \(.tcp_stream_mbps) MB/s"' "$OUT/results.json")
{
	echo "# bench: downtime versus pre-copy on shaped links"
	echo
	jq -r '"\(.date) on `\(.host)` (\(.cpu), \(.cores) cores, kernel \(.kernel)); engine \(.config.engine), \(.config.vcpus) vCPUs, kv and sweep over a \(.config.working_set) working set, sweep --write-fraction 1; pre-copy --max-rounds \(.config.precopy_max_rounds), --max-downtime 300 ms (default); hybrid --precopy-rounds \(.config.hybrid_precopy_rounds); \(.config.reps) run(s) per cell\(if .config.quick then " (QUICK=1)" else "" end). Took \(.duration_s / 60 | floor) min \(.duration_s % 60) s; load average \(.loadavg_start) at the start, \(.loadavg_end) at the end."' "$OUT/results.json"
	echo
	echo "$links_md"
	echo
	echo "Cells: median [min-max] over the runs. wire = bytes on all three channels, both directions; in use = pages that were not zero. Throughput = the workload's operations per second from just before the migration to just after it, over the rate in the 1 s before (sweep counts its pacing waits as operations, so only kv's is a service rate). kv p99 = p99 of kv operation latency (log2 buckets: an upper bound within a factor 2) during the migration (and in the 1 s before)."
	echo
	cat "$tmp/table.md"
	echo
	echo "## Expected shape, as measured"
	echo
	cat "$tmp/shape.md"
	echo
	echo "Plots: ![downtime](downtime.png) ![total](total.png) ![bytes](bytes.png) ![timeline](timeline.png)"
} >"$OUT/table.md"
cat "$OUT/table.md"
step "done in $(((t_end - t_begin) / 60)) min $(((t_end - t_begin) % 60)) s: $OUT/{results.json,table.md,*.png}"
# A migration that failed is a finding, not a gap in a table: say how
# many and the first reason, and exit non-zero.
nfail=$(jq '[.runs[] | select(.ok | not)] | length' "$OUT/results.json")
if [ "$nfail" -gt 0 ]; then
	step "$nfail of $(jq '.runs | length' "$OUT/results.json") migrations failed; the first: $(jq -r '[.runs[] | select(.ok | not)][0].error' "$OUT/results.json")"
	exit 1
fi
