#!/usr/bin/env bash
# --psk-file: peers prove they share a key before any VM data flows. A
# destination with a key refuses a source without it or with another key;
# a source with a key refuses a destination without it; each side says
# why in one line, the VM keeps running on the source, and the receive
# waits on: a stranger (no key, garbage) cannot cancel it. receive refuses to
# listen beyond loopback without a key unless --insecure, and a key file
# others can read is refused. --encrypt seals all three channels; a
# destination that demands it refuses a source that does not; a tampered
# sealed message is refused before its payload is used (before commitment
# the VM keeps running on the source, after it the link recovers).
source "$(dirname "$0")/lib.sh"

head -c 32 /dev/urandom >"$TMP/k1"
head -c 32 /dev/urandom >"$TMP/k2"
chmod 600 "$TMP/k1" "$TMP/k2"
cp "$TMP/k1" "$TMP/kopen"; chmod 644 "$TMP/kopen"
printf 'short' >"$TMP/kshort"; chmod 600 "$TMP/kshort"

start_vm src --engine thread --mem 64M --vcpus 1 --workload kv

# receive-key source-key expected-source-error expected-destination-error
attempt() {
	local rk=$1 sk=$2 spat=$3 dpat=$4 rargs=() margs=() rc=0
	[ "$rk" = none ] || rargs=(--psk-file "$TMP/$rk")
	[ "$sk" = none ] || margs=(--psk-file "$TMP/$sk")
	receive_bg dst "${rargs[@]}"
	"$PM" migrate src --to "127.0.0.1:$RECV_PORT" "${margs[@]}" >/dev/null 2>"$TMP/mig.err" || rc=$?
	if [ "$rc" -ne 0 ] && grep -Eq "$spat" "$TMP/mig.err" && [ "$(grep -c error "$TMP/mig.err")" -eq 1 ]; then
		pass "receive[$rk] migrate[$sk]: source refuses ($(cat "$TMP/mig.err"))"
	else
		fail "receive[$rk] migrate[$sk]: source: exit $rc: $(cat "$TMP/mig.err")"
	fi
	check "receive[$rk] migrate[$sk]: destination refuses and waits on ($(grep -o 'turned.*' "$TMP/dst.log"))" \
		turned_away dst "$dpat"
	check "receive[$rk] migrate[$sk]: the VM keeps running on the source" vm_alive src
	expect_error "receive[$rk] migrate[$sk]: no VM arrived" "no VM named 'dst'" "$PM" status dst
}

attempt k1 k2 "does not hold this key" "keys differ|does not hold this key"
kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null || true
attempt k1 none "requires a pre-shared key" "requires a pre-shared key"
kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null || true
attempt none k1 "start receive with the same --psk-file" "the source authenticates"
kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null || true

# A stranger cannot cancel the wait: after a peer without the key and one
# sending garbage, the same receive takes the VM from its source. The
# page channels were bound to the handshake (a wrong binding would have
# been refused).
receive_bg dst --psk-file "$TMP/k1"
expect_error "stranger without the key is refused" "requires a pre-shared key" \
	"$PM" migrate src --to "127.0.0.1:$RECV_PORT"
head -c 4096 /dev/urandom >"$TMP/garbage"
python3 - "$RECV_PORT" "$TMP/garbage" <<'PY' || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
s.settimeout(5)
try:
    s.recv(100)
except OSError:
    pass
s.close()
PY
for _ in $(seq 100); do [ "$(grep -c 'turned a connection away' "$TMP/dst.log")" -ge 2 ] && break; sleep 0.05; done
check "stranger sending garbage is turned away too ($(grep -o 'turned.*' "$TMP/dst.log" | tail -1))" \
	test "$(grep -c 'turned a connection away' "$TMP/dst.log")" -ge 2
if "$PM" migrate src --to "127.0.0.1:$RECV_PORT" --psk-file "$TMP/k1" --json >"$TMP/ok.json" 2>"$TMP/mig.err"; then
	check "same key, after the strangers: the VM moves and verifies" jqt '.verified == true' "$TMP/ok.json"
else
	fail "same key: migrate failed: $(cat "$TMP/mig.err")"
fi
check "same key: the VM runs on the destination" vm_alive dst
"$PM" stop dst >/dev/null

# ---- strangers at the wrong moment -----------------------------------------
# A silent stranger who connects first holds the greeting slot for the
# greeting timeout (5 s), not the 30 s reply timeout. A stranger who
# slips in between the handshake and the page channels (the proxy opens
# one just before relaying the first page connection, so the destination
# accepts it first) is closed and the migration goes on.
start_vm src2 --engine thread --mem 64M --vcpus 1 --workload kv
receive_bg dst2 --psk-file "$TMP/k1"
exec 3<>"/dev/tcp/127.0.0.1/$RECV_PORT"
t0=$EPOCHREALTIME
if "$PM" migrate src2 --to "127.0.0.1:$RECV_PORT" --psk-file "$TMP/k1" --json \
	>"$TMP/silent.json" 2>"$TMP/mig.err"; then
	took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	check "a silent stranger first: the VM moves and verifies after $took s" \
		jqt '.verified == true' "$TMP/silent.json"
	check "a silent stranger first: it cost the greeting timeout, not the reply timeout" \
		awk -v t="$took" 'BEGIN { exit !(t >= 4.5 && t < 15) }'
else
	fail "a silent stranger first: migrate failed: $(cat "$TMP/mig.err")"
fi
exec 3<&-
check "a silent stranger first: receive noted it ($(grep -o 'turned.*' "$TMP/dst2.log"))" \
	grep -q 'turned a connection away: .*no HELLO within 5000 ms' "$TMP/dst2.log"
# The VM moves on from dst2, each destination the next one's source.
from=dst2
for kind in intrude intrude-silent; do
	receive_bg "dst-$kind" --psk-file "$TMP/k1"
	start_proxy "$kind" --fault "$kind" --seed 3
	if "$PM" migrate "$from" --to "127.0.0.1:$PROXY_PORT" --psk-file "$TMP/k1" --json \
		>"$TMP/$kind.json" 2>"$TMP/mig.err"; then
		check "$kind: a stranger before the page channels, and the VM moves and verifies" \
			jqt '.verified == true' "$TMP/$kind.json"
	else
		fail "$kind: migrate failed: $(cat "$TMP/mig.err")"
	fi
	# The source pauses only once the destination holds its page
	# channels, so the stranger's delay is not an unreported pause.
	check "$kind: neither the guest nor the downtime took the stranger's delay ($(jq -c '{downtime_us, max_stall_us}' "$TMP/$kind.json"))" \
		jqt '.max_stall_us < 1000000 and .downtime_us < 1000000' "$TMP/$kind.json"
	check "$kind: the proxy let the stranger in first" grep -q "^fault: $kind" "$TMP/$kind.proxy"
	check "$kind: the destination closed it ($(grep -o 'closed a connection.*' "$TMP/dst-$kind.log"))" \
		grep -q 'closed a connection that is not a page channel' "$TMP/dst-$kind.log"
	kill "$PROXY_PID" 2>/dev/null || true
	from=dst-$kind
done
check "after the strangers the VM runs on the last destination" vm_alive dst-intrude-silent
"$PM" stop dst-intrude-silent >/dev/null

# ---- --encrypt ------------------------------------------------------------
start_vm esrc --engine thread --mem 64M --vcpus 1 --workload kv
receive_bg enc-need --psk-file "$TMP/k1" --encrypt
expect_error "--encrypt: a destination that demands it refuses a clear source" \
	"requires encrypted channels: migrate with --encrypt.*keeps running here" \
	"$PM" migrate esrc --to "127.0.0.1:$RECV_PORT" --psk-file "$TMP/k1"
check "--encrypt: the destination says why" turned_away enc-need 'requires encrypted channels'
check "--encrypt: the VM keeps running on the source" vm_alive esrc
kill "$RECV_PID"; wait "$RECV_PID" 2>/dev/null || true

receive_bg enc --psk-file "$TMP/k1" --encrypt
if "$PM" migrate esrc --to "127.0.0.1:$RECV_PORT" --psk-file "$TMP/k1" --encrypt --json \
	>"$TMP/enc.json" 2>"$TMP/mig.err"; then
	check "--encrypt: the VM moves sealed and verifies ($(jq -r .cipher "$TMP/enc.json"))" \
		jqt '.verified == true and (.cipher == "aes-256-gcm" or .cipher == "xchacha20-poly1305")' \
		"$TMP/enc.json"
else
	fail "--encrypt: migrate failed: $(cat "$TMP/mig.err")"
fi
check "--encrypt: the VM runs on the destination" vm_alive enc
# And back again, through a proxy that flips one bit of a sealed page
# during pre-copy: refused as tampered before it is used, VM stays.
start_vm back --engine thread --mem 256M --vcpus 1 --workload sweep
receive_bg enc-tamper --psk-file "$TMP/k1"
start_proxy px --fault corrupt --after-bytes 4M --seed 7
expect_error "--encrypt: a tampered sealed page in pre-copy ends the migration" \
	"migration failed: .*the VM keeps running here" \
	"$PM" migrate back --to "127.0.0.1:$PROXY_PORT" --psk-file "$TMP/k1" --encrypt \
	--mode precopy
(sleep 10; kill "$RECV_PID" 2>/dev/null) & wait "$RECV_PID" || true
check "--encrypt: the proxy flipped a bit" grep -q '^fault: corrupt' "$TMP/px.proxy"
check "--encrypt: the destination names the failed authentication" \
	grep -q 'failed authentication' "$TMP/enc-tamper.log"
check "--encrypt: the VM keeps running on the source" vm_alive back
expect_error "--encrypt without --psk-file (migrate)" "encrypt needs --psk-file" \
	"$PM" migrate src --to 127.0.0.1:1 --encrypt
expect_error "--encrypt without --psk-file (receive)" "encrypt needs --psk-file" \
	"$PM" receive --listen 127.0.0.1:0 --encrypt
"$PM" stop enc >/dev/null
"$PM" stop back >/dev/null

expect_error "receive beyond loopback without a key is refused" "without a key.*--insecure" \
	"$PM" receive --listen 10.213.255.1:1
expect_error "a key file others can read is refused" "readable by others" \
	"$PM" receive --listen 127.0.0.1:1 --psk-file "$TMP/kopen"
expect_error "a key file too short is refused" "at least 16 bytes" \
	"$PM" receive --listen 127.0.0.1:1 --psk-file "$TMP/kshort"
expect_error "a missing key file is named" "nosuchkey" \
	"$PM" demo --psk-file "$TMP/nosuchkey"
check "demo with a key verifies" bash -c "'$PM' demo --engine thread --mem 64M --vcpus 1 --workload kv \
	--warmup 0.2 --psk-file '$TMP/k1' --json 2>/dev/null | jq -e '.verified == true' >/dev/null"
finish
