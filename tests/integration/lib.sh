# tests/integration/lib.sh - helpers for the integration tests: a private
# run directory, background VMs cleaned up on exit, and checks that fail
# loudly. Source it; every test is a plain bash script.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# PCM_BUILD/PCM_BIN: another build of the same tree (make test-asan).
PM="$ROOT/${PCM_BIN:-bin}/postcopy-move"
FAKEPEER="$ROOT/${PCM_BUILD:-build}/tools/fakepeer"
FAULTPROXY="$ROOT/${PCM_BUILD:-build}/tools/faultproxy"
TMP=$(mktemp -d /tmp/pcm-test.XXXXXX)
export POSTCOPY_MOVE_RUN_DIR="$TMP/run"
PIDS=()
FAILS=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# check DESCRIPTION COMMAND...: pass when the command succeeds.
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }

# jqt EXPR [FILE]: true when the JSON satisfies EXPR (quietly).
jqt() { jq -e "$@" >/dev/null; }

# Start `run` in the background (its pid in VM_PID) and wait until its
# control socket answers.
start_vm() {
	local name=$1; shift
	"$PM" run --name "$name" "$@" >"$TMP/$name.log" 2>&1 &
	VM_PID=$!
	PIDS+=($!)
	for _ in $(seq 100); do
		"$PM" status "$name" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "VM $name did not come up:" >&2; cat "$TMP/$name.log" >&2
	return 1
}

# receive_bg NAME ARGS...: `receive` in the background on a port it picks
# (RECV_PORT), its pid in RECV_PID, its output in $TMP/NAME.log.
receive_bg() {
	local name=$1; shift
	# A receive of the same name before this one left its log, port and
	# all; until the new job opens (truncates) it, recv_port would read
	# the old, closed port (test_auth reuses "dst": under load its source
	# once got "Connection refused").
	rm -f "$TMP/$name.log"
	"$PM" receive --listen 127.0.0.1:0 --name "$name" "$@" >"$TMP/$name.log" 2>&1 &
	RECV_PID=$!
	PIDS+=($!)
	recv_port "$name"
}

# recv_port NAME: wait until the receive logging to $TMP/NAME.log says
# where it listens (RECV_PORT). The log may not exist yet: a background
# job opens its redirection after the fork, so a missing file is waited
# for, not an error.
recv_port() {
	local log="$TMP/$1.log"
	for _ in $(seq 100); do
		RECV_PORT=$(sed -n 's/^waiting for a VM on .*:\([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)
		[ -n "$RECV_PORT" ] && return 0
		sleep 0.05
	done
	echo "receive $1 did not come up: $(cat "$log" 2>/dev/null)" >&2
	return 1
}

# start_proxy TAG ARGS...: build/tools/faultproxy in front of $RECV_PORT,
# listening on PROXY_PORT (its pid in PROXY_PID, its log $TMP/TAG.proxy).
start_proxy() {
	local tag=$1; shift
	rm -f "$TMP/$tag.port"
	"$FAULTPROXY" --listen 127.0.0.1:0 --port-file "$TMP/$tag.port" \
		--to "127.0.0.1:$RECV_PORT" "$@" --log "$TMP/$tag.proxy" 2>/dev/null &
	PROXY_PID=$!
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$TMP/$tag.port" ] && break; sleep 0.02; done
	PROXY_PORT=$(cat "$TMP/$tag.port" 2>/dev/null || true)
	[ -n "$PROXY_PORT" ] && return 0
	echo "faultproxy $tag did not come up: $(cat "$TMP/$tag.proxy" 2>/dev/null)" >&2
	return 1
}

# start_fakepeer MODE ARGS...: build/tools/fakepeer MODE (any arguments
# after MODE PORTFILE), its port in FP_PORT, its pid in FP_PID, its log
# $TMP/fp.MODE.log.
start_fakepeer() {
	local mode=$1; shift
	rm -f "$TMP/port.$mode"
	"$FAKEPEER" "$mode" "$TMP/port.$mode" "$@" >"$TMP/fp.$mode.log" 2>&1 &
	FP_PID=$!
	PIDS+=("$FP_PID")
	for _ in $(seq 100); do [ -s "$TMP/port.$mode" ] && break; sleep 0.05; done
	FP_PORT=$(cat "$TMP/port.$mode" 2>/dev/null || true)
	[ -n "$FP_PORT" ] && return 0
	echo "fakepeer $mode did not come up: $(cat "$TMP/fp.$mode.log" 2>/dev/null)" >&2
	return 1
}

# turned_away NAME PATTERN: the receive logging to $TMP/NAME.log
# (RECV_PID) noted a refused peer matching PATTERN and still waits.
turned_away() {
	wait_for "$TMP/$1.log" 'turned a connection away' || true
	grep -E 'turned a connection away: .*('"$2"').*still waiting for a VM' "$TMP/$1.log" >/dev/null &&
		kill -0 "$RECV_PID" 2>/dev/null
}

skip() { echo "skip: $*"; }

# Wait until FILE contains PATTERN (grep -E), at most TRIES x 0.05 s.
wait_for() {
	local file=$1 pat=$2 tries=${3:-100}
	for _ in $(seq "$tries"); do
		grep -Eq "$pat" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Wait until VM's status says STATE, at most SECS (10) seconds.
wait_state() {
	local secs=${3:-10}
	for _ in $(seq $((secs * 20))); do
		[ "$(vm_state "$1" 2>/dev/null || true)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# Exit status of a background child into XRC, waiting at most SECS (10)
# seconds (then it is killed and XRC is 124). Not in a $(...) subshell:
# only this shell can wait for its child.
exit_of() {
	local pid=$1 secs=${2:-10}
	for _ in $(seq $((secs * 20))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		XRC=124
		return
	fi
	XRC=0
	wait "$pid" || XRC=$?
}

# ops counter of a running VM
vm_ops() { "$PM" status "$1" | sed -n 's/^ops: //p'; }
vm_state() { "$PM" status "$1" | sed -n 's/^state: //p'; }

# True when the VM is running and its workload is making progress.
# On failure it says what it saw, so a log shows why.
vm_alive() {
	local a b st
	st=$(vm_state "$1")
	if [ "$st" != running ]; then
		echo "vm_alive $1: state '$st' ($("$PM" status "$1" 2>&1 | tr '\n' ' '))" >&2
		return 1
	fi
	a=$(vm_ops "$1"); sleep 0.3; b=$(vm_ops "$1")
	if [ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]; then return 0; fi
	echo "vm_alive $1: ops '$a' then '$b' 0.3 s later" >&2
	return 1
}

# crash_guest PID: overwrite a KVM payload guest's code with int3 from
# outside, through the VMM's own mapping of guest RAM (/proc/PID/mem at
# the guest-ram memfd's address plus PC_CODE_OFF, 512 KiB): its next
# instruction traps through a garbage gate into a real triple fault.
crash_guest() {
	python3 - "$1" <<'PY'
import sys
pid = sys.argv[1]
for line in open('/proc/%s/maps' % pid):
    f = line.split()
    if len(f) >= 6 and f[5] == '/memfd:guest-ram':
        base = int(f[0].split('-')[0], 16) - int(f[2], 16)
        with open('/proc/%s/mem' % pid, 'r+b', buffering=0) as m:
            m.seek(base + (512 << 10))
            m.write(b'\xcc' * (512 << 10))
        sys.exit(0)
sys.exit('no guest-ram mapping in /proc/%s/maps' % pid)
PY
}

# A free loopback port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }

# Run a command expecting failure: exit code non-zero and stderr matching
# a pattern, on exactly one error line.
expect_error() {
	local d=$1 pat=$2; shift 2
	local out rc=0
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -ne 0 ] && grep -Eq "$pat" <<<"$out" && [ "$(grep -c 'error' <<<"$out")" -le 1 ]; then
		pass "$d (exit $rc: $(head -1 <<<"$out"))"
	else
		fail "$d: exit $rc, output: $out"
	fi
}

finish() {
	if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
	echo "all checks passed"
}

# start_restore NAME FILE ARGS...: `restore` in the background (its pid in
# VM_PID, its output in $TMP/NAME.log); true once its socket answers,
# within RESTORE_POLLS x 50 ms (300: 15 s).
start_restore() {
	local name=$1 file=$2; shift 2
	"$PM" restore "$file" --name "$name" "$@" >"$TMP/$name.log" 2>&1 &
	VM_PID=$!
	PIDS+=($!)
	for _ in $(seq "${RESTORE_POLLS:-300}"); do
		"$PM" status "$name" >/dev/null 2>&1 && return 0
		kill -0 "$VM_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "restore $name did not come up: $(cat "$TMP/$name.log")" >&2
	return 1
}
