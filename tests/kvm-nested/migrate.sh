#!/bin/sh
# Nested-KVM harness: post-copy migrations of a KVM guest between two
# postcopy-move processes over loopback, run inside the nested guest by
# inner.sh (cwd = the project root: /pcm there, the tree on a host).
#
#   sweep  `demo` (it forks its own destination process)
#   kv     the operator's way: `run`, `receive` and `migrate` as three
#          processes, with both serial consoles
#
# Each report must say verified true and engine kvm; prints the reports and
# exits non-zero on any failure. Small guests and short warm-ups: the nested
# guest runs under software emulation. Plain POSIX sh with busybox tools (no
# jq, no python), so it also runs where bash is missing.
#
# Environment: PCM_BIN (build/static/bin/postcopy-move), PCM_MEM (128M),
# PCM_VCPUS (2).
PM=${PCM_BIN:-build/static/bin/postcopy-move}
MEM=${PCM_MEM:-128M}
VCPUS=${PCM_VCPUS:-2}

T=$(mktemp -d /tmp/pcm-migrate.XXXXXX) || exit 1
POSTCOPY_MOVE_RUN_DIR=$T/run
export POSTCOPY_MOVE_RUN_DIR
PIDS=""
FAILS=0

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
show() { echo "---- $1:"; sed 's/^/    /' "$1"; }

# check_report NAME FILE WORKLOAD: one JSON line with verified true, engine
# kvm, the workload and a whole RAM's worth of pages.
check_report() {
	name=$1 f=$2 wl=$3
	echo "$name report:"
	cat "$f"
	if ! grep -q '^{.*}$' "$f"; then
		fail "$name: no JSON report"
		return
	fi
	for want in '"verified":true' '"engine":"kvm"' "\"workload\":\"$wl\"" '"mode":"postcopy"'; do
		if grep -q "$want" "$f"; then
			pass "$name: $want"
		else
			fail "$name: report lacks $want"
		fi
	done
	faults=$(sed -n 's/.*"remote_faults":\([0-9]*\).*/\1/p' "$f")
	echo "$name: remote_faults ${faults:-?}, downtime_us $(sed -n 's/.*"downtime_us":\([0-9.]*\).*/\1/p' "$f"), total_ms $(sed -n 's/.*"total_ms":\([0-9.]*\).*/\1/p' "$f")"
}

# wait_until SECONDS COMMAND...: poll once a second.
wait_until() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 1
		n=$((n - 1))
	done
	return 1
}

# A process still running (a zombie that has not been waited for is not).
running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

ops_of() { "$PM" status "$1" 2>/dev/null | sed -n 's/^ops: //p'; }

[ -x "$PM" ] || { echo "FAIL: $PM not found (build it first)"; exit 1; }
[ -c /dev/kvm ] || { echo "FAIL: no /dev/kvm"; exit 1; }
echo "migrate.sh: $PM, $MEM, $VCPUS vCPUs, $(nproc 2>/dev/null || echo ?) CPUs, kernel $(uname -r)"

# ---------------------------------------------------------- sweep: demo ----
t0=$(now)
rc=0
"$PM" demo --engine kvm --mem "$MEM" --vcpus "$VCPUS" --workload sweep --warmup 0.5 \
	--json >"$T/sweep.json" 2>"$T/sweep.err" || rc=$?
echo "sweep: demo exit $rc in $(since "$t0")s"
if [ "$rc" -eq 0 ]; then pass "sweep: demo exits 0"; else fail "sweep: demo exit $rc"; show "$T/sweep.err"; fi
check_report sweep "$T/sweep.json" sweep

# ------------------------------------------- kv: run, receive, migrate ----
t0=$(now)
port=$((20000 + $$ % 20000))
"$PM" run --engine kvm --name src --mem "$MEM" --vcpus "$VCPUS" --workload kv \
	--console "$T/console-src" >"$T/src.log" 2>&1 &
PIDS="$PIDS $!"
spid=$!
"$PM" receive --listen "127.0.0.1:$port" --name dst --timeout 300 \
	--console "$T/console-dst" >"$T/dst.log" 2>&1 &
PIDS="$PIDS $!"
rpid=$!
if ! wait_until 120 "$PM" status src; then
	fail "kv: source VM did not come up"; show "$T/src.log"
elif ! wait_until 30 grep -q "waiting for a VM" "$T/dst.log"; then
	fail "kv: receive did not come up"; show "$T/dst.log"
else
	# Let the workload get going: ops counting and a console status line.
	wait_until 60 grep -q '^\[[0-9]*s\] ops' "$T/console-src" || true
	a=$(ops_of src)
	sleep 1
	b=$(ops_of src)
	if [ "${b:-0}" -gt "${a:-0}" ]; then pass "kv: source VM runs ($a -> $b ops)"; else fail "kv: source VM makes no progress ($a -> $b ops)"; fi
	echo "kv: source up after $(since "$t0")s"
	t1=$(now)
	rc=0
	"$PM" migrate src --to "127.0.0.1:$port" --json >"$T/kv.json" 2>"$T/kv.err" || rc=$?
	echo "kv: migrate exit $rc in $(since "$t1")s"
	if [ "$rc" -eq 0 ]; then pass "kv: migrate exits 0"; else fail "kv: migrate exit $rc"; show "$T/kv.err"; show "$T/dst.log"; fi
	check_report kv "$T/kv.json" kv
	if "$PM" status dst 2>/dev/null | grep -qx 'engine: kvm'; then
		pass "kv: destination VM runs on kvm"
	else
		fail "kv: destination has no kvm VM"; show "$T/dst.log"
	fi
	a=$(ops_of dst)
	sleep 2
	b=$(ops_of dst)
	if [ "${b:-0}" -gt "${a:-0}" ]; then pass "kv: destination VM makes progress ($a -> $b ops)"; else fail "kv: destination VM makes no progress ($a -> $b ops)"; fi
	if grep -q '^postcopy-move payload:' "$T/console-src"; then pass "kv: source console has the payload banner"; else fail "kv: source console has no banner"; fi
	if wait_until 10 grep -q '^\[[0-9]*s\] ops' "$T/console-dst"; then
		pass "kv: destination console shows the guest running"
	else
		fail "kv: destination console is silent"
	fi
	if wait_until 10 eval "! running $spid"; then
		rc=0; wait "$spid" || rc=$?
		if [ "$rc" -eq 0 ]; then pass "kv: source process released the VM and exited 0"; else fail "kv: source process exit $rc"; show "$T/src.log"; fi
	else
		fail "kv: source process still running after the migration"
	fi
	show "$T/console-src"
	show "$T/console-dst"
	"$PM" stop dst >/dev/null 2>&1 || fail "kv: stop dst"
	if wait_until 10 eval "! running $rpid"; then
		rc=0; wait "$rpid" || rc=$?
		[ "$rc" -eq 0 ] || { fail "kv: receive process exit $rc after stop"; show "$T/dst.log"; }
	else
		fail "kv: receive process did not exit after stop"
	fi
fi

if [ "$FAILS" -ne 0 ]; then
	echo "migrate.sh: $FAILS check(s) failed"
	exit 1
fi
echo "migrate.sh: all checks passed"
exit 0
