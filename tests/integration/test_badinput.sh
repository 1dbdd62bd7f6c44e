#!/usr/bin/env bash
# Bad input: each case ends with one clear error and a non-zero exit, and
# the source VM keeps running untouched.
source "$(dirname "$0")/lib.sh"

start_vm src --engine thread --mem 256M --vcpus 2 --workload kv

closed=$(free_port)
expect_error "refused connection" "refused" "$PM" migrate src --to "127.0.0.1:$closed"
check "VM still running after refused connection" vm_alive src
expect_error "unresolvable address" "cannot connect|resolve|address" "$PM" migrate src --to "no.such.host.invalid:1"
check "VM still running after bad address" vm_alive src

for mode in garbage version badsum truncated close; do
	start_fakepeer "$mode"
	case $mode in
	garbage) pat="another protocol|bad magic" ;;
	version) pat="version" ;;
	badsum) pat="checksum" ;;
	truncated) pat="truncated|closed inside" ;;
	close) pat="closed|reset" ;;
	esac
	expect_error "peer: $mode" "$pat" "$PM" migrate src --to "127.0.0.1:$FP_PORT"
	check "VM still running after peer $mode" vm_alive src
done

receive_bg small --mem-limit 128M
expect_error "destination without memory" "not enough memory" "$PM" migrate src --to "127.0.0.1:$RECV_PORT"
check "VM still running after refusal" vm_alive src
check "the destination notes the refusal and waits on" turned_away small "not enough memory"

expect_error "unknown VM name" "no VM named 'nosuch'" "$PM" status nosuch
expect_error "unknown VM name (migrate)" "no VM named 'nosuch'" "$PM" migrate nosuch --to 127.0.0.1:1
expect_error "name escaping the run directory" "invalid VM name" "$PM" status ../etc
expect_error "nonsense size" "invalid --mem" "$PM" run --mem 12Q --workload kv
expect_error "zero vCPUs" "invalid --vcpus" "$PM" run --vcpus 0
expect_error "too small memory" "at least 16 MiB|too small" "$PM" run --mem 2M
expect_error "unknown workload" "unknown workload" "$PM" demo --workload nosuch
# A Linux guest's options (issue 11): each mistake named. Where KVM is
# missing the refusal names /dev/kvm instead of the file.
head -c 65536 /dev/zero > "$TMP/zero.img"
expect_error "kernel that does not exist" "kernel /nonexistent: No such file|/dev/kvm" \
	"$PM" run --name lx --kernel /nonexistent
expect_error "kernel that is no bzImage" "kernel $TMP/zero.img: .*not a bzImage|/dev/kvm" \
	"$PM" run --name lx --kernel "$TMP/zero.img"
expect_error "kernel that is a directory" "not a regular file|/dev/kvm" \
	"$PM" run --name lx --kernel "$TMP"
expect_error "kernel with a workload" "workload runs the project.s payload" \
	"$PM" run --kernel "$TMP/zero.img" --workload kv
expect_error "initrd without kernel" "need --kernel" "$PM" run --initrd "$TMP/zero.img"
expect_error "disk without kernel" "need --kernel" "$PM" run --disk "$TMP/zero.img"
expect_error "disk with an unknown flag" "unknown flag 'rw'" \
	"$PM" run --kernel "$TMP/zero.img" --disk "$TMP/zero.img,rw"
expect_error "five disks" "at most 4 --disk" "$PM" run --kernel "$TMP/zero.img" \
	--disk a --disk b --disk c --disk d --disk e
expect_error "net without kernel" "need --kernel" "$PM" run --net tap=pcm0
expect_error "net without a tap" "needs tap=NAME" "$PM" run --kernel "$TMP/zero.img" --net mac=52:54:00:00:00:01
expect_error "net with an unknown key" "unknown 'ifname=x'" "$PM" run --kernel "$TMP/zero.img" --net tap=a,ifname=x
expect_error "net with a bad MAC" "invalid mac '52:54:00'" "$PM" run --kernel "$TMP/zero.img" --net tap=a,mac=52:54:00
expect_error "net with a multicast MAC" "not a unicast address" "$PM" run --kernel "$TMP/zero.img" --net tap=a,mac=01:00:5e:00:00:01
expect_error "net with a long tap name" "longer than 15" "$PM" run --kernel "$TMP/zero.img" --net tap=abcdefghijklmnop
expect_error "three nets" "at most 2 --net" "$PM" run --kernel "$TMP/zero.img" --net tap=a --net tap=b --net tap=c
expect_error "Linux guest in 128M" "at least 256M" "$PM" run --kernel "$TMP/zero.img" --mem 128M
expect_error "Linux guest on the thread engine" "thread engine runs only" \
	"$PM" run --kernel "$TMP/zero.img" --engine thread
expect_error "bad address" "invalid|HOST:PORT" "$PM" migrate src --to nonsense
expect_error "duplicate VM name" "already running" "$PM" run --name src --mem 64M --workload idle
expect_error "unknown command" "unknown command" "$PM" frobnicate
check "control socket is private" bash -c "[ \"\$(stat -c %a '$POSTCOPY_MOVE_RUN_DIR/src.sock')\" = 600 ] && [ \"\$(stat -c %a '$POSTCOPY_MOVE_RUN_DIR')\" = 700 ]"
mkdir -m 777 "$TMP/open-run"
expect_error "a run directory others can write to is refused" "not private" \
	env POSTCOPY_MOVE_RUN_DIR="$TMP/open-run" "$PM" run --name x --mem 64M --workload idle
check "nothing was started in it" test ! -e "$TMP/open-run/x.sock"
check "VM survived all of it" vm_alive src
"$PM" stop src >/dev/null
finish
