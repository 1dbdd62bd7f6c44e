/* kvm/x86/acpi.h - the ACPI tables a stock Linux guest boots from.
 *
 * Debian 12's kernels (6.1) find CPUs, the IOAPIC and virtio-mmio devices
 * only through ACPI: virtio_mmio.device= is not compiled in and the cloud
 * kernel has no MP-table parser. This module owns writing those tables
 * into a caller's buffer that stands for guest-physical memory. Pure code:
 * no KVM ioctls, no printing, nothing allocated; errors are -errno.
 *
 * What is written (section numbers are ACPI 6.4's):
 *  - RSDP revision 2 (5.2.5), first, 16-byte aligned, both checksums; no
 *    RSDT, the XSDT alone (Linux uses it whenever revision > 1).
 *  - XSDT (5.2.8): FADT, MADT.
 *  - FADT revision 6.4 (5.2.9) with HW_REDUCED_ACPI (4.1): no PM1, GPE or
 *    PM timer blocks, no SCI, no FACS (5.2.10: none when both FACS
 *    pointers are zero on a HW-reduced platform). Linux then never
 *    programs the 8259s and sets up no PIT or HPET tick (x86's
 *    acpi_generic_reduced_hw_init); the LAPIC timer and kvmclock do.
 *    PWR_BUTTON and SLP_BUTTON are set: no fixed-feature buttons, so Linux
 *    does not try to install handlers that HW-reduced ACPI cannot have.
 *    IAPC_BOOT_ARCH (5.2.9.3): VGA not present, CMOS RTC not present (the
 *    VMM has no RTC: Linux then registers no rtc_cmos and reads the wall
 *    clock from kvmclock), no 8042 (Linux skips the PS/2 probe), and
 *    LEGACY_DEVICES only with com1. X_DSDT, and DSDT too below 4 GiB.
 *  - With sleep_port: SLEEP_CONTROL_REG and SLEEP_STATUS_REG (4.8.3.7),
 *    8-bit SystemIO registers, both at sleep_port, and \_S5 in the DSDT;
 *    Linux supports S5 only when both registers exist. On poweroff it
 *    writes KVM_ACPI_WAK_STS to the status register, then
 *    KVM_ACPI_SLEEP_S5 (SLP_TYP 5 << 2 | SLP_EN) to the control register.
 *  - With reset_port: RESET_REG (4.8.3.6), 8-bit SystemIO, and
 *    RESET_REG_SUP; Linux's reboot tries it first and writes
 *    KVM_ACPI_RESET_VALUE there (without it, reboot ends in a triple
 *    fault, KVM_EXIT_SHUTDOWN, which looks like a crash).
 *  - MADT revision 5 (5.2.12): PCAT_COMPAT (KVM's in-kernel 8259s exist),
 *    one enabled Processor Local APIC per vCPU (UID = APIC ID = index, so
 *    at most 255: ID 0xff is not a CPU), one I/O APIC with GSI base 0,
 *    and a Local APIC NMI on LINT1 for all processors, as PCs and QEMU
 *    describe the BSP's NMI wiring. An Interrupt Source Override IRQ0 ->
 *    GSI 2 only on request: KVM's default GSI routing sends its in-kernel
 *    PIT (which asserts GSI 0) to IOAPIC pin 0, and only a VMM that
 *    routes GSI 0 to pin 2 itself, as QEMU does, may say otherwise.
 *  - DSDT revision 2 (5.2.11.1; AML per 20): \_SB.VRnn for each virtio-mmio
 *    device, _HID "LNRO0005" (what Linux's virtio_mmio matches), _UID n,
 *    _CCA 1 (coherent DMA), _CRS { Memory32Fixed (ReadWrite, base, size),
 *    Interrupt (ResourceConsumer, Level or Edge, ActiveHigh, Exclusive)
 *    { gsi } }; with com1, \_SB.COM1: PNP0501, IO 0x3f8-0x3ff, IRQNoFlags
 *    {4}, as Firecracker and QEMU's microvm declare one: under HW-reduced
 *    ACPI Linux sets up no ISA IRQ of its own (no legacy PIC, so no
 *    identity ISA mappings), and 8250_pnp takes the port with the IRQ
 *    mapped from this _CRS.
 *
 * Every table's OEM ID is "PCMOVE", its OEM table ID "PCMV" + signature.
 * Tables follow one another, each 16-byte aligned; the whole set for 255
 * vCPUs and 21 devices is under 4 KiB.
 */
#ifndef KVM_X86_ACPI_H
#define KVM_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KVM_ACPI_LAPIC_BASE   0xfee00000u  /* where KVM's LAPICs are at reset */
#define KVM_ACPI_IOAPIC_BASE  0xfec00000u  /* where KVM's in-kernel IOAPIC is */
#define KVM_ACPI_IOAPIC_PINS  24           /* KVM_IOAPIC_NUM_PINS: GSIs 0..23 */
#define KVM_ACPI_MAX_CPUS     255          /* xAPIC IDs 0..254 */
#define KVM_ACPI_MAX_DEVS     KVM_ACPI_IOAPIC_PINS

/* Where Linux also scans for the RSDP: [0xe0000, 0x100000), 16-byte
 * steps. Passing the address in boot_params.acpi_rsdp_addr works too. */
#define KVM_ACPI_BIOS_AREA     0xe0000u
#define KVM_ACPI_BIOS_AREA_END 0x100000u

#define KVM_ACPI_COM1_PORT 0x3f8
#define KVM_ACPI_COM1_GSI  4

/* What a guest writes to the sleep and reset ports. */
#define KVM_ACPI_SLP_TYP_S5  5
#define KVM_ACPI_SLP_EN      0x20
#define KVM_ACPI_SLEEP_S5    ((KVM_ACPI_SLP_TYP_S5 << 2) | KVM_ACPI_SLP_EN)  /* 0x34 */
#define KVM_ACPI_WAK_STS     0x80   /* written to the status register first */
#define KVM_ACPI_RESET_VALUE 0x01   /* unlike both: one port may serve all three */

/* A virtio-mmio device: registers at [base, base + size) below 4 GiB,
 * its interrupt on IOAPIC pin gsi. Prefer GSIs 16..23: under KVM's
 * default routing they reach the IOAPIC alone, while 0..15 also reach the
 * in-kernel 8259, which a HW-reduced guest never programs (vector base
 * 0, nothing masked) and which the BSP's LINT0 still takes as ExtINT
 * (KVM's LINT0 quirk, which Linux keeps). Level suits KVM_IRQ_LINE
 * (asserted until the driver writes InterruptACK), edge a plain irqfd. */
struct kvm_acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;     /* 1..23 but not 2 (the ISA cascade), not 4 with com1 */
	int level;        /* 1: level-triggered, 0: edge; active high either way */
};

struct kvm_acpi_config {
	unsigned ncpus;                 /* 1..255, APIC IDs 0..ncpus-1 */
	uint64_t lapic_base;            /* 0: KVM_ACPI_LAPIC_BASE */
	uint64_t ioapic_base;           /* 0: KVM_ACPI_IOAPIC_BASE */
	uint8_t ioapic_id;              /* 0 is what KVM's IOAPIC ID register reads */
	const struct kvm_acpi_mmio_dev *devs;
	unsigned ndevs;                 /* at most KVM_ACPI_MAX_DEVS; distinct GSIs */
	int com1;                       /* declare the 16550 at 0x3f8, GSI 4 */
	int irq0_override;              /* MADT says IRQ0 -> GSI 2 (the VMM routes the PIT there) */
	uint16_t sleep_port;            /* SystemIO sleep control/status register, 0: none */
	uint16_t reset_port;            /* SystemIO reset register, 0: none */
};

/* Write RSDP, XSDT, FADT, MADT and DSDT into buf, which is guest-physical
 * [gpa, gpa + cap); gpa 16-byte aligned. The RSDP comes first, so
 * *rsdp_gpa (if rsdp_gpa is not NULL) is gpa. Returns the bytes used;
 * -ENOSPC if cap is too small, -EINVAL for a config the tables cannot
 * express: the limits above, a LAPIC base not page aligned or APIC pages
 * not below 4 GiB, MMIO ranges of size 0, past 4 GiB or overlapping each
 * other or an APIC page. The range must be reserved (or ACPI) in the
 * guest's e820 map. Nothing past the bytes used is written; on error
 * buf's contents are undefined and *rsdp_gpa is not set. */
ssize_t kvm_acpi_build(void *buf, size_t cap, uint64_t gpa,
		       const struct kvm_acpi_config *c, uint64_t *rsdp_gpa);

#endif
