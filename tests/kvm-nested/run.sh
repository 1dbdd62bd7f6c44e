#!/bin/bash
# Nested-KVM harness, host side (see nested.mk: `make test-kvm`).
#
# Boots Debian's own kernel (from the linux-image-amd64 package, unpacked
# with dpkg -x, never installed) under QEMU software emulation with an
# emulated AMD SVM CPU, loads KVM inside it, runs the project's KVM tests
# there (tests/kvm-nested/inner.sh), shows their output and exits 0 only if
# the guest printed `NESTED-RESULT: pass N fail 0` with N > 0.
#
# Run from the project root after the static build (nested.mk does both).
# Environment (all optional):
#   KVM_NESTED_DIR        work directory              (build/kvm-nested)
#   KVM_NESTED_STATIC     static build directory      (build/static)
#   KVM_NESTED_KERNEL_PKG kernel package to boot      (what linux-image-amd64 depends on)
#   KVM_NESTED_MODULES    modules to load, in order   (irqbypass ccp kvm kvm-amd tun)
#   KVM_NESTED_TIMEOUT    bound on the whole QEMU run, seconds      (1500: the
#                         tests take some 560 s, and a retried linux.sh 380 more)
#   KVM_NESTED_TEST_TIMEOUT bound on each test inside the guest, s   (600)
#   KVM_NESTED_MEM, KVM_NESTED_SMP  guest size                       (3G, 2)
#   KVM_NESTED_CPU        QEMU -cpu                   (EPYC-Rome,+svm)
#   KVM_NESTED_EXTRA_BINS host programs copied in with their libraries (bash)
#   KVM_NESTED_EXTRA_FILES project files copied in at the same relative path
#   KVM_NESTED_ONLY       only run tests whose name contains this string
#   KVM_NESTED_REPEAT     run the list this many times in one boot (1): a
#                         freeze's rate, e.g. with KVM_NESTED_ONLY=test_kvm
#   KVM_NESTED_BENCH      1: also run tests/kvm-nested/bench.sh (bench-kvm-nested)
#   KVM_NESTED_MODPARAMS  module parameters, e.g. "kvm_amd.npt=0 kvm.foo=1"
#                         (kvm_amd.npt=0; set it empty for nested paging).
#                         Why shadow paging: with NPT, QEMU 7.2's TCG SVM
#                         now and then hands L1 a #VMEXIT whose guest RIP is
#                         L1 kvm_amd's own next instruction after VMRUN
#                         (__svm_vcpu_run+0x11c) and an NPF at an L1 address:
#                         the L2 vCPU never starts (test_kvm "not ready", a
#                         triple fault at 0xfff0) or L1 panics. test_kvm x10:
#                         1 failure with NPT (and 2 of 2 in one CI run), 0
#                         with npt=0, which costs some 15% of the run's time
#   KVM_NESTED_APPEND     more kernel command line for the nested guest;
#                         pcm.env.NAME=VALUE exports NAME=VALUE to the tests
#                         (PCM_KVM_NESTED=1 always: tests that time a guest
#                         know they run under an emulator)
#   KVM_NESTED_ACCEL      QEMU -accel                 (tcg,thread=multi)
#   KVM_NESTED_QEMU_ARGS  more QEMU options, split at spaces (e.g. -icount shift=0)
#   KVM_NESTED_QEMU       the QEMU binary              (qemu-system-x86_64)
#   KVM_NESTED_LOCK       machine-wide lock file for one run at a time
#                         (/tmp/postcopy-move-test-kvm.lock)
set -euo pipefail

say() { printf 'test-kvm: %s\n' "$*"; }
die() { printf 'test-kvm: error: %s\n' "$*" >&2; exit 1; }

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

[ -f tests/kvm-nested/inner.sh ] || die "run from the project root (tests/kvm-nested/inner.sh not found)"

DIR=${KVM_NESTED_DIR:-build/kvm-nested}
STATIC=${KVM_NESTED_STATIC:-build/static}
# tun: /dev/net/tun, for an L2 guest's network card (run --net tap=NAME).
MODULES=${KVM_NESTED_MODULES:-irqbypass ccp kvm kvm-amd tun}
# What the Linux guest of linux.sh loads (dependencies resolved the same way).
L2_MODULES="virtio_mmio virtio_rng virtio_blk failover net_failover virtio_net"
TIMEOUT=${KVM_NESTED_TIMEOUT:-1500}
TEST_TIMEOUT=${KVM_NESTED_TEST_TIMEOUT:-600}
MEM=${KVM_NESTED_MEM:-3G}
SMP=${KVM_NESTED_SMP:-2}
CPU=${KVM_NESTED_CPU:-EPYC-Rome,+svm}
EXTRA_BINS=${KVM_NESTED_EXTRA_BINS-bash}
EXTRA_FILES=${KVM_NESTED_EXTRA_FILES-}
ONLY=${KVM_NESTED_ONLY-}
REPEAT=${KVM_NESTED_REPEAT:-1}
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "KVM_NESTED_REPEAT=$REPEAT: not a count of 1 or more"
MODPARAMS=${KVM_NESTED_MODPARAMS-kvm_amd.npt=0}
APPEND=${KVM_NESTED_APPEND-}
ACCEL=${KVM_NESTED_ACCEL:-tcg,thread=multi}
read -r -a QEMU_ARGS <<< "${KVM_NESTED_QEMU_ARGS-}"
QEMU=${KVM_NESTED_QEMU:-qemu-system-x86_64}

for tool in qemu-system-x86_64 cpio xz dpkg apt-get apt-cache ldd timeout; do
	command -v "$tool" >/dev/null || die "$tool not found (run: make nested-deps)"
done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (run: make nested-deps)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; the initramfs needs busybox-static (apt-get install busybox-static)"
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ROOT=$(pwd)

# ---------------------------------------------------------------- kernel ----
# Resolve the versioned kernel package from the metapackage, e.g.
# linux-image-amd64 -> linux-image-6.1.0-56-amd64.
resolve_kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

PKG=${KVM_NESTED_KERNEL_PKG:-}
if [ -z "$PKG" ]; then
	PKG=$(resolve_kernel_pkg)
	if [ -z "$PKG" ]; then
		# No package lists yet: reuse a cached kernel if there is one,
		# otherwise fetch the lists once.
		cached=$(ls -d "$DIR"/kernel-*/.complete 2>/dev/null | sort -V | tail -n 1 || true)
		if [ -n "$cached" ]; then
			PKG=$(basename "$(dirname "$cached")"); PKG=${PKG#kernel-}
			say "apt-cache cannot resolve linux-image-amd64; using the cached $PKG"
		else
			say "apt-cache cannot resolve linux-image-amd64; running apt-get update"
			apt-get update -qq || die "apt-get update failed"
			PKG=$(resolve_kernel_pkg)
		fi
	fi
fi
[ -n "$PKG" ] || die "cannot resolve the kernel package: 'apt-cache depends linux-image-amd64' names no linux-image-*-amd64 package (is Debian's main archive in the apt sources?)"

# Module dependencies, read from each module's .modinfo (depends=...),
# so that neither kmod nor modules.dep is needed. Modules are stored
# decompressed in $KDIR/modules (busybox insmod may not read .ko.xz or
# .ko.zst) and listed in load order in $LOADLIST; $mdir is the unpacked
# package's module tree.
find_module() {
	# The file for a module name; '-' and '_' are the same in names.
	local pat=${1//[-_]/[-_]}
	find "$mdir" -name "$pat.ko" -o -name "$pat.ko.xz" -o -name "$pat.ko.zst" -o -name "$pat.ko.gz" | head -n 1
}
add_module() {
	local name=$1 file plain deps d
	name=${name//-/_}
	grep -qx "$name" "$LOADLIST" && return 0
	file=$(find_module "$name")
	if [ -z "$file" ]; then
		# Built into the kernel: nothing to load.
		if grep -q "/${name//_/[-_]}\.ko\$" "$mdir/modules.builtin" 2>/dev/null; then
			say "kernel: module $name is built in"
			return 0
		fi
		die "module $name not found in $PKG"
	fi
	plain=$KDIR/modules/$name.ko
	case "$file" in
		*.xz)  xz -dc "$file" > "$plain" ;;
		*.zst) command -v zstd >/dev/null || die "$file is zstd-compressed and zstd is not installed"
		       zstd -dcq "$file" > "$plain" ;;
		*.gz)  gzip -dc "$file" > "$plain" ;;
		*)     cp "$file" "$plain" ;;
	esac
	deps=$(tr '\0' '\n' < "$plain" | sed -n 's/^depends=//p' | head -n 1)
	for d in ${deps//,/ }; do
		add_module "$d"
	done
	echo "$name" >> "$LOADLIST"
}

KDIR=$DIR/kernel-$PKG
# A cache is valid for one package and one module list.
if [ -f "$KDIR/.complete" ] && [ "$(cat "$KDIR/.complete")" = "$MODULES|$L2_MODULES" ]; then
	say "kernel: $PKG (cached in ${KDIR#"$ROOT"/})"
else
	rm -rf "$KDIR" "$DIR/unpack"
	mkdir -p "$DIR/unpack"
	# The .deb stays in $DIR, so a new module list does not download again.
	DEB=$DIR/$PKG.deb
	if [ -s "$DEB" ]; then
		say "kernel: reusing ${DEB#"$ROOT"/}"
	else
		say "kernel: fetching $PKG with apt-get download"
		# apt's _apt user may not be able to write into the tree: download
		# into a directory it owns, to avoid the 'unsandboxed' warning.
		dl=$(mktemp -d /tmp/kvm-nested-dl.XXXXXX)
		chown _apt "$dl" 2>/dev/null || true
		if ! (cd "$dl" && apt-get download -q "$PKG") > "$dl.log" 2>&1; then
			grep -v unsandboxed "$dl.log" >&2 || true
			rm -rf "$dl" "$dl.log"
			if ! apt-cache show "$PKG" >/dev/null 2>&1; then
				die "package $PKG is not available from the configured Debian sources (apt-get update, or set KVM_NESTED_KERNEL_PKG)"
			fi
			die "apt-get download $PKG failed"
		fi
		rm -f "$dl.log"
		mv "$(ls "$dl"/"$PKG"_*.deb | head -n 1)" "$DEB.part"
		rm -rf "$dl"
		mv "$DEB.part" "$DEB"
	fi
	say "kernel: unpacking $(basename "$DEB") ($(du -h "$DEB" | cut -f1)) with dpkg -x"
	dpkg -x "$DEB" "$DIR/unpack"

	vmlinuz=$(ls "$DIR"/unpack/boot/vmlinuz-* 2>/dev/null | head -n 1)
	[ -n "$vmlinuz" ] || die "$PKG has no /boot/vmlinuz-*"
	kver=${vmlinuz##*/vmlinuz-}
	mdir=$DIR/unpack/lib/modules/$kver
	[ -d "$mdir" ] || mdir=$DIR/unpack/usr/lib/modules/$kver
	[ -d "$mdir" ] || die "$PKG has no modules directory for $kver"

	mkdir -p "$KDIR/modules"
	cp "$vmlinuz" "$KDIR/vmlinuz"
	echo "$kver" > "$KDIR/kernel-version"

	LOADLIST=$KDIR/modules.load
	: > "$LOADLIST"
	for m in $MODULES; do add_module "$m"; done
	LOADLIST=$KDIR/l2-modules.load
	: > "$LOADLIST"
	for m in $L2_MODULES; do add_module "$m"; done
	rm -rf "$DIR/unpack"
	printf '%s' "$MODULES|$L2_MODULES" > "$KDIR/.complete"
	say "kernel: $kver, modules in load order: $(paste -sd' ' "$KDIR/modules.load")"
fi
KVER=$(cat "$KDIR/kernel-version")

# ------------------------------------------------------------- initramfs ----
say "initramfs: building"
IR=$DIR/initramfs
rm -rf "$IR"
mkdir -p "$IR"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/modules,pcm,var}
ln -s ../run "$IR/var/run"
cp "$BUSYBOX" "$IR/bin/busybox"
# The kernel opens /dev/console before /init runs (devtmpfs is not mounted
# yet): without this node /init's first lines would go nowhere.
mknod -m 600 "$IR/dev/console" c 5 1 2>/dev/null || say "initramfs: cannot mknod /dev/console (not root?); early /init output may be lost"
ln -s busybox "$IR/bin/sh"
cp tests/kvm-nested/init "$IR/init"
chmod 755 "$IR/init"
cp "$KDIR"/modules/*.ko "$IR/lib/modules/"
cp "$KDIR/modules.load" "$IR/lib/modules/modules.load"
# module.param=value words, one per line, for /init's insmod.
: > "$IR/lib/modules/modules.params"
for mp in $MODPARAMS; do
	case "$mp" in
		*.*=*) echo "${mp%%.*} ${mp#*.}" >> "$IR/lib/modules/modules.params" ;;
		*) die "KVM_NESTED_MODPARAMS: '$mp' is not module.param=value" ;;
	esac
done
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' > "$IR/etc/hosts"
printf 'hosts: files\npasswd: files\ngroup: files\n' > "$IR/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$IR/etc/passwd"
printf 'root:x:0:\n' > "$IR/etc/group"

# Copy one file into the initramfs at the same absolute path, resolving
# symlinks (the loader is /lib64/ld-linux-x86-64.so.2 -> ...).
copy_abs() {
	local src=$1
	[ -e "$IR$src" ] && return 0
	mkdir -p "$IR$(dirname "$src")"
	cp -L "$src" "$IR$src"
}
# A program and the shared libraries plus loader it needs (none if static).
copy_with_libs() {
	local bin=$1 lib
	if out=$(ldd "$bin" 2>/dev/null); then
		for lib in $(printf '%s\n' "$out" | grep -o '/[^ ]*'); do
			[ -e "$lib" ] && copy_abs "$lib"
		done
	fi
}

# Project files keep their path relative to the project root under /pcm.
copy_project() {
	local rel=$1
	mkdir -p "$IR/pcm/$(dirname "$rel")"
	cp -L "$rel" "$IR/pcm/$rel"
	[ -x "$rel" ] && [ -f "$rel" ] && copy_with_libs "$rel"
	return 0
}

: > "$IR/pcm/tests.list"
add_test() {
	local rel=$1 name
	name=$(basename "$rel")
	if [ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]]; then return 0; fi
	copy_project "$rel"
	echo "$rel" >> "$IR/pcm/tests.list"
}

[ -x "$DIR/kvm_smoke" ] || die "$DIR/kvm_smoke not built (nested.mk builds it)"
mkdir -p "$IR/pcm/build/kvm-nested"
cp "$DIR/kvm_smoke" "$IR/pcm/build/kvm-nested/kvm_smoke"
copy_with_libs "$DIR/kvm_smoke"
if [ -z "$ONLY" ] || [[ kvm_smoke == *"$ONLY"* ]]; then
	echo build/kvm-nested/kvm_smoke >> "$IR/pcm/tests.list"
fi
[ -x "$STATIC/bin/postcopy-move" ] && copy_project "$STATIC/bin/postcopy-move"
copy_project tests/kvm-nested/kvm-trace.sh   # a look at a frozen guest (test_kvm, linux.sh)
for t in "$STATIC"/tests/test_kvm*; do
	[ -f "$t" ] && [ -x "$t" ] && add_test "$t"
done
[ -f tests/kvm-nested/migrate.sh ] && add_test tests/kvm-nested/migrate.sh
# The Linux guest (linux.sh): the harness's own kernel again, with a
# busybox initramfs whose /init reports, runs the agent and powers off.
# l2_initramfs MODDIR LOADLIST OUT: busybox, l2-init, the agent
# (guest/linux/, built static by nested.mk) and the modules.
AGENT=$STATIC/guest/linux/pcm-agent
l2_initramfs() {
	local work=$DIR/l2-initramfs
	rm -rf "$work"
	mkdir -p "$work"/{bin,dev,proc,sys,lib/modules}
	for m in $(cat "$2"); do
		cp "$1/$m.ko" "$work/lib/modules/"
	done
	cp "$2" "$work/lib/modules/modules.load"
	cp "$BUSYBOX" "$work/bin/busybox"
	ln -s busybox "$work/bin/sh"
	cp "$AGENT" "$work/bin/pcm-agent"
	cp tests/kvm-nested/l2-init "$work/init"
	chmod 755 "$work/init"
	mknod -m 600 "$work/dev/console" c 5 1 2>/dev/null || true
	(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$3"
}
if [ -f tests/kvm-nested/linux.sh ] && { [ -z "$ONLY" ] || [[ linux.sh == *"$ONLY"* ]]; }; then
	[ -x "$AGENT" ] || die "$AGENT not built (nested.mk builds it)"
	! ldd "$AGENT" >/dev/null 2>&1 || die "$AGENT is dynamically linked; the L2 initramfs has no libc"
	L2=$IR/pcm/build/kvm-nested/l2
	mkdir -p "$L2/cloud"
	l2_initramfs "$KDIR/modules" "$KDIR/l2-modules.load" "$L2/initrd.gz"
	cp "$KDIR/vmlinuz" "$L2/vmlinuz"
	# Debian's cloud kernel too (no MP-table parser: ACPI alone must
	# give it its CPUs), with its own modules.
	CDIR=$DIR/kernel-cloud
	DEBIAN_KERNEL_TREE=1 bash tests/tools/debian-kernel.sh linux-image-cloud-amd64 "$CDIR" \
		> /dev/null || die "cannot fetch linux-image-cloud-amd64"
	ckver=$(cat "$CDIR/kernel-version")
	if [ "$(cat "$CDIR/l2/.complete" 2>/dev/null)" != "$L2_MODULES" ]; then
		(
			KDIR=$CDIR/l2 PKG=linux-image-cloud-amd64 LOADLIST=$CDIR/l2/modules.load
			mdir=$CDIR/root/lib/modules/$ckver
			[ -d "$mdir" ] || mdir=$CDIR/root/usr/lib/modules/$ckver
			rm -rf "$KDIR" && mkdir -p "$KDIR/modules" && : > "$LOADLIST"
			for m in $L2_MODULES; do add_module "$m"; done
			printf '%s' "$L2_MODULES" > "$KDIR/.complete"
		) || die "cannot resolve the cloud kernel's modules"
	fi
	l2_initramfs "$CDIR/l2/modules" "$CDIR/l2/modules.load" "$L2/cloud/initrd.gz"
	cp "$CDIR/vmlinuz" "$L2/cloud/vmlinuz"
	say "L2 kernels: $KVER and $ckver (cloud), modules $(paste -sd' ' "$KDIR/l2-modules.load")"
	add_test tests/kvm-nested/linux.sh
	add_test tests/kvm-nested/net.sh
fi
if [ "${KVM_NESTED_BENCH:-0}" = 1 ]; then
	copy_project "$STATIC/bench/kvm_state"
	add_test tests/kvm-nested/bench.sh
fi
mkdir -p "$IR/pcm/tests/kvm-nested"
cp tests/kvm-nested/inner.sh "$IR/pcm/tests/kvm-nested/inner.sh"
for f in $EXTRA_FILES; do
	[ -e "$f" ] || die "KVM_NESTED_EXTRA_FILES: $f not found"
	copy_project "$f"
done
for b in $EXTRA_BINS; do
	p=$(command -v "$b" || true)
	[ -n "$p" ] || die "KVM_NESTED_EXTRA_BINS: $b not found on the host"
	copy_abs "$p"
	copy_with_libs "$p"
	# /usr/local/bin comes first in the guest's PATH, ahead of busybox.
	mkdir -p "$IR/usr/local/bin"
	ln -sf "$p" "$IR/usr/local/bin/$(basename "$p")"
done
ntests=$(wc -l < "$IR/pcm/tests.list")
[ "$ntests" -gt 0 ] || die "no test to run${ONLY:+ (KVM_NESTED_ONLY=$ONLY matched none)}"
# After the check: an empty list repeated would be blank lines, not tests.
if [ "$REPEAT" -gt 1 ]; then
	once=$(cat "$IR/pcm/tests.list")
	for ((i = 1; i < REPEAT; i++)); do printf '%s\n' "$once"; done >> "$IR/pcm/tests.list"
	ntests=$((ntests * REPEAT))
fi

(cd "$IR" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 > "$DIR/initramfs.cpio.gz"
say "initramfs: $(du -h "$DIR/initramfs.cpio.gz" | cut -f1), $ntests test(s): $(sed 's|.*/||' "$IR/pcm/tests.list" | paste -sd' ')"

# ------------------------------------------------------------------ boot ----
LOG=$DIR/console.log
QERR=$DIR/qemu.stderr
# QEMU's own record of every CPU reset (with the registers) and of what a
# guest did wrong: an L1 that dies without a word (a triple fault resets
# it, and -no-reboot turns the reset into a clean exit 0) leaves its last
# state here.
QDBG=$DIR/qemu-debug.log
rm -f "$QDBG"
# The QEMU monitor, for a look at a guest that hangs (info registers -a;
# nmi): a unix socket with a short path (socket paths are limited to 107
# bytes).
MON=${TMPDIR:-/tmp}/pcm-test-kvm.$$.monitor
trap 'rm -f "$MON"' EXIT
# One nested run at a time on this machine: two TCG guests on a 2-core host
# each get half the CPU, and the tests inside measure time (vCPUs ready
# within 5 s, the guest timer at >= 600 Hz, console lines a second apart).
# Every worktree's run takes the same machine-wide lock.
LOCK=${KVM_NESTED_LOCK:-/tmp/postcopy-move-test-kvm.lock}
if command -v flock >/dev/null; then
	exec 9>>"$LOCK"
	if ! flock -n 9; then
		say "waiting for another nested run on this machine (lock $LOCK)"
		tw=$(date +%s)
		flock 9
		say "lock taken after $(( $(date +%s) - tw ))s"
	fi
fi
say "boot: kernel $KVER under QEMU $("$QEMU" --version | head -n 1 | sed "s/.*version \([^ ]*\).*/\1/") -accel $ACCEL, -cpu $CPU, -m $MEM, -smp $SMP (bound: ${TIMEOUT}s; console log in ${LOG#"$ROOT"/}; monitor $MON)"
TB=$(date +%s.%N)
set +e
timeout --foreground -k 10 "$TIMEOUT" "$QEMU" \
	-accel "$ACCEL" -cpu "$CPU" -m "$MEM" -smp "$SMP" "${QEMU_ARGS[@]}" \
	-machine q35 -display none -vga none -nodefaults -no-reboot \
	-d cpu_reset,guest_errors -D "$QDBG" \
	-serial stdio -monitor "unix:$MON,server,nowait" \
	-kernel "$KDIR/vmlinuz" -initrd "$DIR/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init softlockup_panic=1 softlockup_all_cpu_backtrace=1 pcm.test_timeout=$TEST_TIMEOUT pcm.env.PCM_KVM_NESTED=1${APPEND:+ $APPEND}" \
	< /dev/null 2> >(tee "$QERR" | grep --line-buffered -v "TCG doesn't support requested feature" >&2) |
	stdbuf -oL tr -d '\r' | tee "$LOG"
rcs=("${PIPESTATUS[@]}")
set -e
qrc=${rcs[0]}
sleep 0.2   # let the stderr filter finish
nmiss=$(grep -c "TCG doesn't support requested feature" "$QERR" || true)
[ "$nmiss" -eq 0 ] || say "note: QEMU warned $nmiss time(s) that TCG lacks a feature of the CPU model (harmless; in ${QERR#"$ROOT"/})"
boot_s=$(awk -v a="$TB" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# ----------------------------------------------------------------- verdict --
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	say "FAIL: QEMU did not finish within ${TIMEOUT}s (killed); see ${LOG#"$ROOT"/}"
	exit 1
fi
result=$(grep -a '^NESTED-RESULT: ' "$LOG" | tail -n 1 || true)
if [ -z "$result" ]; then
	say "FAIL: the guest printed no NESTED-RESULT line (QEMU exit $qrc after ${boot_s}s); see ${LOG#"$ROOT"/}"
	# The nested kernel's own last words, when it had any (a panic, or a
	# soft lockup, which softlockup_panic turns into one).
	grep -a -m 3 -E 'Kernel panic|BUG: |soft lockup|general protection|Oops' "$LOG" 2>/dev/null |
		sed 's/^/test-kvm:   guest kernel: /' || true
	# A guest that ends without a word reset itself (a triple fault, or
	# a reboot: -no-reboot makes either a clean exit). QEMU logged the
	# registers of every CPU reset; the last one is where it died (a
	# clean boot and power-off with -smp 2 logs 6 resets, all at EIP 0).
	nreset=$(grep -c '^CPU Reset' "$QDBG" 2>/dev/null || true)
	say "QEMU logged ${nreset:-0} CPU resets; the last, with the registers before it:"
	awk '/^CPU Reset/ { n = 0; buf = "" } { if (n++ < 6) buf = buf $0 "\n" } END { printf "%s", buf }' \
		"$QDBG" 2>/dev/null | sed 's/^/test-kvm:   /'
	exit 1
fi
if [ "$qrc" -ne 0 ]; then
	say "warning: QEMU exited with status $qrc"
fi
pass=$(printf '%s\n' "$result" | sed -n 's/^NESTED-RESULT: pass \([0-9]*\) fail \([0-9]*\)$/\1/p')
nfail=$(printf '%s\n' "$result" | sed -n 's/^NESTED-RESULT: pass \([0-9]*\) fail \([0-9]*\)$/\2/p')
if [ -z "$pass" ] || [ -z "$nfail" ]; then
	say "FAIL: malformed result line: $result"
	exit 1
fi
say "guest run ${boot_s}s, total $(elapsed)s"
if [ "$nfail" -ne 0 ] || [ "$pass" -eq 0 ]; then
	say "FAIL (nested KVM)"
	say "$pass passed, $nfail failed"
	exit 1
fi
if [ "$pass" -ne "$ntests" ]; then
	say "FAIL: $pass passed but $ntests were listed (nested KVM)"
	exit 1
fi
say "PASS (nested KVM)"
say "$pass passed, 0 failed"
