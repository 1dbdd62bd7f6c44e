#!/bin/bash
# tests/integration/test_acpi.sh - the ACPI tables as iasl reads them.
#
# build/tools/acpidump writes the tables kvm_acpi_build makes for a
# configuration, one file per table, found from the RSDP as a guest finds
# them. iasl (acpica-tools) disassembles each; the disassembly must be
# free of errors and warnings and show what the configuration asked for:
# the LNRO0005 devices with their Memory32Fixed and Interrupt values,
# COM1, \_S5, one Processor Local APIC per vCPU, the I/O APIC, the
# HW-reduced flag, the sleep and reset registers. Each disassembly
# compiled again must give the same bytes after the table header (where
# iasl puts its own compiler ID), so the AML is byte for byte what
# Intel's compiler writes for that ASL. Debian 12's iasl (20200925) cannot
# disassemble an RSDP, not even its own template (iasl -T RSDP), so the
# RSDP is checked here field by field.
source "$(dirname "$0")/lib.sh"
ACPIDUMP="$ROOT/${PCM_BUILD:-build}/tools/acpidump"
[ -x "$ACPIDUMP" ] || { echo "FAIL: $ACPIDUMP not built (make ${PCM_BUILD:-build}/tools/acpidump)"; exit 1; }
command -v iasl >/dev/null || { echo "FAIL: iasl not found (make deps installs acpica-tools)"; exit 1; }

# tables DIR ARGS...: acpidump's tables for ARGS into $TMP/DIR, its
# listing (file, length, address) in $TMP/DIR/list.
tables() {
	local d="$TMP/$1"; shift
	mkdir -p "$d"
	"$ACPIDUMP" "$d" "$@" >"$d/list" 2>"$d/err" || { cat "$d/err" >&2; return 1; }
}

# disasm DIR: iasl -d every table but the RSDP; nothing it says may be an
# error or a warning, and compiling the disassembly again gives the same
# table body.
disasm() {
	local d="$TMP/$1" t out
	for t in xsdt facp apic dsdt; do
		out=$(cd "$d" && iasl -d "$t.dat" 2>&1) || { echo "iasl -d $t.dat: $out" >&2; return 1; }
		if grep -Eiq '(error|warning)[^s]' <<<"$out" || [ ! -s "$d/$t.dsl" ]; then
			echo "iasl -d $t.dat: $out" >&2; return 1
		fi
		mkdir -p "$d/again"
		cp "$d/$t.dsl" "$d/again/"
		out=$(cd "$d/again" && iasl "$t.dsl" 2>&1) || { echo "iasl $t.dsl: $out" >&2; return 1; }
		grep -q ' 0 Errors, 0 Warnings' <<<"$out" || { echo "iasl $t.dsl: $out" >&2; return 1; }
		cmp -s -i 36 "$d/again/$t.aml" "$d/$t.dat" || { echo "$t: recompiled bytes differ" >&2; return 1; }
	done
}

# rsdp_ok DIR: signature, revision 2, length 36, both checksums, and the
# XSDT address acpidump found the XSDT at.
rsdp_ok() {
	local d="$TMP/$1"
	python3 - "$d/rsdp.dat" "$(awk '$1 == "xsdt.dat" { print $3 }' "$d/list")" <<'PY'
import struct, sys
r = open(sys.argv[1], 'rb').read()
ok = (len(r) == 36 and r[:8] == b'RSD PTR ' and r[9:15] == b'PCMOVE' and r[15] == 2 and
      sum(r[:20]) % 256 == 0 and sum(r) % 256 == 0 and
      struct.unpack_from('<I', r, 20)[0] == 36 and
      struct.unpack_from('<Q', r, 24)[0] == int(sys.argv[2], 16))
sys.exit(0 if ok else 1)
PY
}

# device DIR N BASE LEN GSI Level|Edge: Device (VR0N) in the DSDT's
# disassembly is a virtio-mmio device with those resources.
device() {
	local blk
	blk=$(sed -n "/Device (VR$(printf %02d "$2"))/,/^        }/p" "$TMP/$1/dsdt.dsl")
	grep -q 'Name (_HID, "LNRO0005")' <<<"$blk" &&
	grep -q 'Name (_CCA, One)' <<<"$blk" &&
	grep -Eq "^ *$3, *// Address Base" <<<"$blk" &&
	grep -Eq "^ *$4, *// Address Length" <<<"$blk" &&
	grep -q "Interrupt (ResourceConsumer, $6, ActiveHigh, Exclusive, ,, )" <<<"$blk" &&
	grep -Eq "^ *$5,$" <<<"$blk"
}

# field FILE NAME: the value iasl prints for a data table field.
field() { sed -n "s/^\(\[[^]]*\]\)\{0,1\} *$2 : \([^ ]*\).*/\2/p" "$1" | head -1; }
# gas FILE NAME: the Address of the Generic Address Structure NAME.
gas() { sed -n "/$2 : \[Generic Address Structure\]/,/Address :/p" "$1" | field /dev/stdin Address; }

# shellcheck disable=SC2054  # the commas are acpidump's
A=(--cpus 4 --dev 0xd0000000,0x1000,16 --dev 0xd0001000,0x200,17,edge
   --dev 0xd0002000,0x1000,5 --com1 --sleep-port 0x600 --reset-port 0x601)
check "tables for 4 vCPUs, 3 devices, COM1, sleep and reset ports" tables a "${A[@]}"
check "iasl disassembles them without a complaint, and compiles them back to the same bytes" disasm a
check "RSDP: revision 2, checksums, points at the XSDT" rsdp_ok a
check "DSDT: 3 LNRO0005 devices" [ "$(grep -c 'Name (_HID, "LNRO0005")' "$TMP/a/dsdt.dsl")" = 3 ]
check "DSDT: VR00 at 0xD0000000+0x1000, level GSI 16" device a 0 0xD0000000 0x00001000 0x00000010 Level
check "DSDT: VR01 at 0xD0001000+0x200, edge GSI 17" device a 1 0xD0001000 0x00000200 0x00000011 Edge
check "DSDT: VR02 at 0xD0002000+0x1000, level GSI 5" device a 2 0xD0002000 0x00001000 0x00000005 Level
check "DSDT: COM1 is a PNP0501 at 0x3F8 on IRQ 4" bash -c "sed -n '/Device (COM1)/,/^        }/p' '$TMP/a/dsdt.dsl' |
	tr -d '\n ' | grep -q 'EisaId(\"PNP0501\").*IO(Decode16,0x03F8,//RangeMinimum0x03F8,.*0x08,//Length).*IRQNoFlags(){4}'"
check "DSDT: \\_S5 is Package {5, 0, 0, 0}" bash -c "sed -n '/Name (_S5, Package (0x04)/,/})/p' '$TMP/a/dsdt.dsl' |
	tr -d '\n ' | grep -q '{0x05,Zero,Zero,Zero}'"
check "MADT: 4 Processor Local APICs, enabled" test "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$TMP/a/apic.dsl")" = 4 \
	-a "$(grep -c 'Processor Enabled : 1' "$TMP/a/apic.dsl")" = 4
check "MADT: local APIC at FEE00000, PC-AT compatible" test "$(field "$TMP/a/apic.dsl" 'Local Apic Address')" = FEE00000 \
	-a "$(grep -c 'PC-AT Compatibility : 1' "$TMP/a/apic.dsl")" = 1
check "MADT: one I/O APIC at FEC00000, GSI base 0" test "$(grep -c '\[I/O APIC\]' "$TMP/a/apic.dsl")" = 1 \
	-a "$(field "$TMP/a/apic.dsl" 'Address')" = FEC00000 -a "$(field "$TMP/a/apic.dsl" 'Interrupt')" = 00000000
check "MADT: NMI on LINT1 of every CPU, no IRQ0 override unless asked" test "$(field "$TMP/a/apic.dsl" 'Interrupt Input LINT')" = 01 \
	-a "$(grep -c 'Interrupt Source Override' "$TMP/a/apic.dsl")" = 0
check "FADT: revision 6.4, 276 bytes, hardware-reduced" test "$(field "$TMP/a/facp.dsl" Revision)" = 06 \
	-a "$(field "$TMP/a/facp.dsl" 'FADT Minor Revision')" = 04 -a "$(field "$TMP/a/facp.dsl" 'Table Length')" = 00000114 \
	-a "$(field "$TMP/a/facp.dsl" 'Hardware Reduced (V5)')" = 1
check "FADT: no VGA, no CMOS RTC, no 8042" test "$(field "$TMP/a/facp.dsl" 'VGA Not Present (V4)')" = 1 \
	-a "$(field "$TMP/a/facp.dsl" 'CMOS RTC Not Present (V5)')" = 1 \
	-a "$(field "$TMP/a/facp.dsl" '8042 Present on ports 60\/64 (V2)')" = 0
check "FADT: sleep control and status registers at port 0x600" test "$(gas "$TMP/a/facp.dsl" 'Sleep Control Register')" = 0000000000000600 \
	-a "$(gas "$TMP/a/facp.dsl" 'Sleep Status Register')" = 0000000000000600
check "FADT: reset register at port 0x601, value 1" test "$(gas "$TMP/a/facp.dsl" 'Reset Register')" = 0000000000000601 \
	-a "$(field "$TMP/a/facp.dsl" 'Value to cause reset')" = 01 -a "$(field "$TMP/a/facp.dsl" 'Reset Register Supported (V2)')" = 1
check "FADT: X_DSDT is where the DSDT was found" [ "$(sed -n 's/^\[08Ch 0140   8\] *DSDT Address : //p' "$TMP/a/facp.dsl")" = \
	"$(printf %016X "$(awk '$1 == "dsdt.dat" { print $3 }' "$TMP/a/list")")" ]

# The most a guest gets: 255 vCPUs, every usable GSI, the IRQ0 override.
B=(--cpus 255 --irq0-override --ioapic-id 3)
for g in 1 3 $(seq 5 23); do B+=(--dev "$((0xd0000000 + g * 0x1000)),0x1000,$g"); done
check "tables for 255 vCPUs and 21 devices" tables b "${B[@]}"
check "iasl disassembles those too, and compiles them back to the same bytes" disasm b
check "RSDP of those" rsdp_ok b
check "MADT: 255 Processor Local APICs" [ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$TMP/b/apic.dsl")" = 255 ]
check "MADT: I/O APIC ID 3, IRQ0 -> GSI 2" test "$(field "$TMP/b/apic.dsl" 'I\/O Apic ID')" = 03 \
	-a "$(sed -n '/Interrupt Source Override/,/Interrupt :/p' "$TMP/b/apic.dsl" | field /dev/stdin Interrupt)" = 00000002
check "DSDT: 21 LNRO0005 devices" [ "$(grep -c 'Name (_HID, "LNRO0005")' "$TMP/b/dsdt.dsl")" = 21 ]
check "DSDT: VR20 at 0xD0017000, GSI 23" device b 20 0xD0017000 0x00001000 0x00000017 Level
check "no ports: no \\_S5, no sleep or reset register" test "$(grep -c '_S5' "$TMP/b/dsdt.dsl")" = 0 \
	-a "$(gas "$TMP/b/facp.dsl" 'Sleep Control Register')" = 0000000000000000 \
	-a "$(field "$TMP/b/facp.dsl" 'Reset Register Supported (V2)')" = 0

expect_error "no vCPUs: refused" 'EINVAL' "$ACPIDUMP" "$TMP" --cpus 0
expect_error "256 vCPUs: refused" 'EINVAL' "$ACPIDUMP" "$TMP" --cpus 256
expect_error "a device on GSI 2: refused" 'EINVAL' "$ACPIDUMP" "$TMP" --dev 0xd0000000,0x1000,2
expect_error "a device on COM1's GSI: refused" 'EINVAL' "$ACPIDUMP" "$TMP" --com1 --dev 0xd0000000,0x1000,4
expect_error "100 bytes for the tables: too few" 'ENOSPC' "$ACPIDUMP" "$TMP" --cap 100
finish
