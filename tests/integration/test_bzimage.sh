#!/bin/bash
# tests/integration/test_bzimage.sh - the bzImage loader (kvm/x86/linux.c)
# on the kernels a Linux guest boots: Debian 12's linux-image-amd64 and
# linux-image-cloud-amd64, fetched once into build/kernels/<pkg>/ by
# tests/tools/debian-kernel.sh (apt-get download; a fresh machine needs
# the network once). For each, build/tools/bzinfo must read boot protocol
# 2.15 with a 64-bit entry, a relocatable kernel and an init_size of 40 to
# 80 MiB, and kvm_linux_load into 256 MiB must put the kernel at its
# pref_address, the entry at +0x200, an initrd page aligned at the top of
# RAM above the kernel's init_size, and the e820 map the layout gives. A
# guest too small for init_size, and a truncated image, are refused with a
# reason. No VM runs: this needs no /dev/kvm.
#
# PCM_KERNELS: where the kernels are kept (build/kernels, shared by every
# build directory so make test-asan does not fetch them again).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BZINFO=$ROOT/${PCM_BUILD:-build}/tools/bzinfo
KERNELS=${PCM_KERNELS:-$ROOT/build/kernels}
MiB=$((1 << 20))

if [ ! -x "$BZINFO" ]; then
	fail "no $BZINFO (build it: make ${PCM_BUILD:-build}/tools/bzinfo)"
	finish
fi
command -v jq >/dev/null || { fail "jq not found (run make deps)"; finish; }

# A stand-in initrd of 8 MiB + 100 bytes: not a page multiple.
INITRD=$TMP/initrd
head -c $((8 * MiB + 100)) /dev/urandom >"$INITRD"
INITRD_LEN=$((8 * MiB + 100))

# header_ok PKG JSON: the header fields this loader needs, as Debian builds them.
header_ok() {
	local pkg=$1 j=$2
	check "$pkg: boot protocol 2.15" jqt '.version == "2.15" and .protocol == 527' "$j"
	check "$pkg: 64-bit entry (XLF_KERNEL_64)" jqt '.kernel_64' "$j"
	check "$pkg: relocatable, 2 MiB aligned or coarser" \
		jqt '.relocatable and .kernel_alignment >= 2097152' "$j"
	check "$pkg: init_size within 40-80 MiB" \
		jqt ".init_size >= 40 * $MiB and .init_size <= 80 * $MiB" "$j"
	check "$pkg: pref_address 16 MiB (CONFIG_PHYSICAL_START)" jqt '.pref_address == 16777216' "$j"
	check "$pkg: kernel 6.1 named in the setup code" jqt '.kernel_version | startswith("6.1.")' "$j"
	check "$pkg: the kernel is what follows the setup, less a trailer" \
		jqt '.setup_len + .kernel_len + .trailer_len == .file_len and .kernel_len <= .init_size' "$j"
	check "$pkg: a command line of 2047 bytes fits" jqt '.cmdline_size >= 2047' "$j"
}

# load_ok PKG JSON: where kvm_linux_load put things in 256 MiB.
load_ok() {
	local pkg=$1 j=$2
	check "$pkg: kernel at pref_address, entry at +0x200" \
		jqt '.load.kernel_gpa == .pref_address and .load.rip == .load.kernel_gpa + 512' "$j"
	check "$pkg: kernel_end = load address + init_size" \
		jqt '.load.kernel_end == .load.kernel_gpa + .init_size and .load.kernel_end <= 256 * 1048576' "$j"
	check "$pkg: RSI = zero page, long mode, __BOOT_CS/__BOOT_DS" \
		jqt '.load.rsi == .load.zero_page and .load.cs == 16 and .load.ds == 24
		     and .load.efer == 1280 and .load.cr4 == 32
		     and .load.cr0 % 2 == 1 and (.load.cr0 / 2147483648 | floor) % 2 == 1' "$j"
	check "$pkg: initrd page aligned, at the top of RAM, above init_size" \
		jqt ".load.initrd_len == $INITRD_LEN and .load.initrd_gpa % 4096 == 0
		     and .load.initrd_gpa >= .load.kernel_end
		     and .load.initrd_gpa + $INITRD_LEN <= 256 * $MiB
		     and .load.initrd_gpa + $INITRD_LEN + 4096 > 256 * $MiB" "$j"
	check "$pkg: zero page holds the header and the loader's fields" \
		jqt '.load.type_of_loader == 255 and .load.zp_init_size == .init_size
		     and (.load.zp_loadflags == (.loadflags + 128))' "$j"
	check "$pkg: e820 for 256 MiB" \
		jqt '.load["e820"] == [[0, 654336, 1], [654336, 394240, 2], [1048576, 267386880, 1]]' "$j"
}

for pkg in linux-image-amd64 linux-image-cloud-amd64; do
	if ! vmlinuz=$(bash "$ROOT/tests/tools/debian-kernel.sh" "$pkg" "$KERNELS/$pkg" 2>"$TMP/$pkg.fetch"); then
		fail "$pkg: no kernel: $(tail -n 3 "$TMP/$pkg.fetch" | tr '\n' ' ')"
		continue
	fi
	pass "$pkg: $(cat "$KERNELS/$pkg/package") at ${vmlinuz#"$ROOT"/}"
	if ! "$BZINFO" "$vmlinuz" >"$TMP/$pkg.json" 2>"$TMP/$pkg.err"; then
		fail "$pkg: bzinfo refused it: $(cat "$TMP/$pkg.err")"
		continue
	fi
	echo "  $(jq -c '{version, kernel_64, above_4g, relocatable, pref_address, kernel_alignment, init_size, initrd_addr_max, cmdline_size, xloadflags}' "$TMP/$pkg.json")"
	header_ok "$pkg" "$TMP/$pkg.json"

	if "$BZINFO" "$vmlinuz" --load 256 --initrd "$INITRD" \
		--cmdline "console=ttyS0 earlyprintk=serial panic=-1" >"$TMP/$pkg.load" 2>"$TMP/$pkg.err"; then
		echo "  $(jq -c '.load | {rip, kernel_gpa, kernel_end, zero_page, cmdline, initrd_gpa, initrd_len}' "$TMP/$pkg.load")"
		load_ok "$pkg" "$TMP/$pkg.load"
	else
		fail "$pkg: kvm_linux_load into 256 MiB: $(cat "$TMP/$pkg.err")"
	fi

	expect_error "$pkg: 64 MiB is too small for init_size" \
		"too small: the kernel needs \[0x1000000, " "$BZINFO" "$vmlinuz" --load 64
	head -c 4000000 "$vmlinuz" >"$TMP/$pkg.trunc"
	expect_error "$pkg: a truncated copy is refused" \
		"truncated: syssize says [0-9]+ bytes of kernel" "$BZINFO" "$TMP/$pkg.trunc"
done
finish
