#!/usr/bin/env bash
# tests/integration/test_control.sh - the control socket's JSON lines
# (docs/control.md) as a script would speak them: status --json and its
# stable keys, each request's reply, and every malformed request getting
# one error reply while the VM runs on untouched: not JSON, not an
# object, no "req", an unknown request, an unknown member, a wrong type,
# an oversized line, too deep, a client that never finishes its line.
source "$(dirname "$0")/lib.sh"
CTLSEND="$ROOT/${PCM_BUILD:-build}/tools/ctlsend"
[ -x "$CTLSEND" ] || { fail "no $CTLSEND (make the test tools)"; finish; }

start_vm c1 --engine thread --mem 64M --vcpus 1 --workload sweep
SOCK="$POSTCOPY_MOVE_RUN_DIR/c1.sock"

# send TEXT: the VM process's answer to TEXT (sent as it is, plus a newline).
send() { printf '%s\n' "$1" | "$CTLSEND" "$SOCK"; }
# one_error DESC TEXT PATTERN: exactly one line comes back, an error reply
# whose "error" matches PATTERN; and the VM still runs, its ops growing.
one_error() {
	local d=$1 text=$2 pat=$3 out ops0 ops1
	ops0=$("$PM" status c1 --json | jq .ops)
	out=$(printf '%s' "$text" | "$CTLSEND" "$SOCK" 2>&1) || true
	if [ "$(wc -l <<<"$out")" = 1 ] && jq -e --arg p "$pat" \
		'.ok == false and (.error | test($p))' <<<"$out" >/dev/null 2>&1; then
		pass "$d: one error reply ($(jq -r .error <<<"$out" | cut -c1-90))"
	else
		fail "$d: answer was: $(head -c 300 <<<"$out")"
	fi
	sleep 0.2
	ops1=$("$PM" status c1 --json | jq .ops)
	check "$d: the VM runs on (ops $ops0 -> $ops1)" test "$ops1" -gt "$ops0"
}

# ---- status --json: one object, stable keys, the same as the text ----
js=$("$PM" status c1 --json)
check "status --json is one JSON object" jqt 'type == "object"' <<<"$js"
check "status --json has the stable keys" jqt \
	'[.name, .state, .engine, .mem_bytes, .vcpus, .workload, .ops, .heartbeats, .uptime_s]
	 | map(. != null) | all' <<<"$js"
check "status --json: name, state, engine, RAM, vCPUs, workload" jqt \
	'.name == "c1" and .state == "running" and .engine == "thread" and
	 .mem_bytes == 67108864 and .vcpus == 1 and .workload == "sweep"' <<<"$js"
txt=$("$PM" status c1)
check "status text has the same keys in the same order" test \
	"$(jq -r 'keys_unsorted | join(" ")' <<<"$js")" = "$(sed 's/:.*//' <<<"$txt" | paste -sd' ')"
check "status --help names --json" bash -c '"$0" status --help | grep -q -- --json' "$PM"

# ---- the requests, raw ----
out=$(send '{"req":"status"}')
check "status: one reply line, ok with a result" jqt '.ok == true and .result.name == "c1"' <<<"$out"
check "status: nothing but the reply" test "$(wc -l <<<"$out")" = 1
out=$(send '{"req":"switch"}')
check "switch without a migration: an error naming why" \
	jqt '.ok == false and (.error | test("no migration"))' <<<"$out"
out=$(send '{"req":"resume","force":false}')
check "resume of a running VM: refused" jqt '.ok == false and (.error | test("not paused"))' <<<"$out"
out=$(send '{"req":"recover","to":"127.0.0.1:1"}')
check "recover without a migration: refused" jqt '.ok == false' <<<"$out"
out=$(send '{"req":"migrate","to":"127.0.0.1:1","options":{"mode":"precopy","verify_ram":true,"max_rounds":5}}')
check "migrate to a closed port: refused, the VM stays" \
	jqt 'select(.ok != null) | .ok == false' <<<"$out"
check "after it the VM runs here" bash -c '"$0" status c1 | grep -qx "state: running"' "$PM"

# ---- bad requests: one error reply each, the VM untouched ----
one_error "not JSON" 'status
' 'malformed JSON at byte 0'
one_error "truncated JSON" '{"req":"status"
' 'malformed JSON'
one_error "trailing comma" '{"req":"status",}
' 'malformed JSON'
one_error "an array" '["status"]
' 'not a array'
one_error "no req" '{"request":"status"}
' 'needs "req"'
one_error "req not a string" '{"req":1}
' 'needs "req"'
one_error "unknown request" '{"req":"frobnicate"}
' 'unknown request "frobnicate"'
one_error "unknown member" '{"req":"stop","now":true}
' 'has no member "now"'
one_error "duplicate member" '{"req":"stop","req":"status"}
' 'malformed JSON'
one_error "force not a boolean" '{"req":"resume","force":"yes"}
' '"force" must be true or false'
one_error "migrate without to" '{"req":"migrate"}
' 'needs "to"'
one_error "unknown migration option" '{"req":"migrate","to":"127.0.0.1:1","options":{"speed":9}}
' 'unknown migration option "speed"'
one_error "migration option of the wrong type" '{"req":"migrate","to":"127.0.0.1:1","options":{"max_rounds":"5"}}
' 'bad value of migration option "max_rounds": want an integer 0..10000'
one_error "migration option out of range" '{"req":"migrate","to":"127.0.0.1:1","options":{"max_rounds":10001}}
' 'bad value of migration option "max_rounds"'
one_error "options that do not fit together" '{"req":"migrate","to":"127.0.0.1:1","options":{"verify_ram":true}}
' 'needs --mode precopy'
one_error "a relative key path" '{"req":"migrate","to":"127.0.0.1:1","options":{"psk_file":"key"}}
' 'bad value of migration option "psk_file": want an absolute path'
one_error "too deep" "{\"req\":\"status\",\"x\":$(printf '[%.0s' $(seq 20))$(printf ']%.0s' $(seq 20))}
" 'too large|depth'
one_error "oversized line" "{\"req\":\"status\",\"pad\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}
" 'longer than 65535 bytes'
one_error "invalid UTF-8" "$(printf '{"req":"st\xffatus"}\n')" 'malformed JSON'

# A client that sends half a line and goes silent gets its error after
# the 5 s read timeout, and the loop serves the next client meanwhile
# only after it: so status right after still answers.
t0=$(date +%s%N)
out=$(printf '{"req":' | "$CTLSEND" "$SOCK" --wait-ms 7000 2>&1) || true
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a silent client: one error reply ($(head -c 120 <<<"$out"))" \
	jqt '.ok == false and (.error | test("timed out"))' <<<"$out"
check "a silent client: cut off after about 5 s, not 7 ($dt ms)" test "$dt" -lt 6900
check "after the silent client, status answers" bash -c '"$0" status c1 >/dev/null' "$PM"

# ---- stop: ok, and the process goes ----
out=$(send '{"req":"stop"}')
check "stop: ok" jqt '.ok == true' <<<"$out"
for _ in $(seq 50); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
check "stop: the VM's process exited" bash -c '! kill -0 "$0" 2>/dev/null' "$VM_PID"
finish
