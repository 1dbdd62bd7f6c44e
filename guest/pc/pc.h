/* guest/pc/pc.h - the contract between the KVM engine and its x86-64
 * payload: where things live in the engine's part of guest RAM
 * ([GUEST_FW_OFF, GUEST_DATA_OFF), see guest/layout.h), the I/O ports the
 * payload talks through, and the info page the VMM fills before the first
 * instruction.
 *
 * The VMM enters long mode itself: it writes the page tables and GDT
 * described here, points CR3 at PC_PT_OFF and starts every vCPU at the
 * payload's entry with RDI = vCPU index and RSP = top of its stack. Two
 * views of RAM exist in the guest's address space:
 *   - identity: virtual = physical for the first 4 GiB (code, stacks, this
 *     info page, MMIO);
 *   - linear: guest RAM as one range of ram_size bytes at PC_LINEAR_VA,
 *     skipping the hole below 4 GiB; this is what the workloads see, and
 *     it equals the VMM's own contiguous mapping of the memfd.
 */
#ifndef GUEST_PC_PC_H
#define GUEST_PC_PC_H

#include <stdint.h>
#include "guest/layout.h"
#include "guest/pc/pc_asm.h"

#define PC_INFO_MAGIC     0x4f464e49434d5050ull   /* "PPMCINFO" */
#define PC_INFO_VERSION   1

/* Guest-physical layout of the engine's area. */
#define PC_INFO_OFF       GUEST_FW_OFF                  /* struct pc_info */
#define PC_GDT_OFF        (GUEST_FW_OFF + 0x1000)
#define PC_TSS_OFF        (GUEST_FW_OFF + 0x2000)
#define PC_PT_OFF         (GUEST_FW_OFF + 0x4000)       /* PML4, then PDPTs/PDs */
#define PC_PT_PAGES       73                            /* 1 + 1 + 4 + 1 + 64 + 2 */
#define PC_CODE_OFF       (512ul << 10)                 /* payload image */
#define PC_CODE_MAX       (512ul << 10)
#define PC_STACK_OFF      (1ul << 20)                   /* per-vCPU stacks */
#define PC_STACK_SIZE     (16ul << 10)                  /* lower half: RSP0 */

/* RAM above this guest-physical address continues at 4 GiB. */
#define PC_LOW_END        (3ull << 30)
#define PC_HIGH_START     (4ull << 30)
#define PC_RAM_MAX        (64ull << 30)                 /* one PD page per GiB */
#define PC_LINEAR_VA      (1ull << 39)                  /* PML4 slot 1 */

/* GDT: kernel code/data, user data/code, then one TSS per vCPU (its RSP0
 * is the vCPU's interrupt stack). Workloads run in ring 3: a hypervisor
 * that emulates guest kernel mode (PVM does) runs user mode natively. */
#define PC_SEL_CODE       0x08
#define PC_SEL_DATA       0x10
#define PC_SEL_UDATA      0x18
#define PC_SEL_UCODE      0x20
#define PC_SEL_TSS0       0x28                          /* + 16 * vCPU */
#define PC_TSS_STRIDE     128

/* Ring 0 (set-up, exceptions) uses ports: the COM1 UART at 0x3f8 and
 * PC_PORT_PANIC (pc_asm.h, 0x511: outl the exception vector; the vCPU
 * stops). Ring 3 (the workloads) uses one MMIO page in the hole below
 * 4 GiB: the same UART's registers at offsets 0..7, and: */
#define PC_MMIO_BASE      0xfeb00000ull
#define PC_MMIO_UART      0x000     /* 8 byte registers, as at 0x3f8 */
#define PC_MMIO_HEARTBEAT 0x100     /* write32: the vCPU made progress */
#define PC_MMIO_READY     0x104     /* write32: vCPU index, set-up done */
#define PC_MMIO_IDLE      0x108     /* write64: idle for at most this many ns */

#define PC_TIMER_VECTOR   0x20
#define PC_SPURIOUS       0xff

struct pc_info {
	uint64_t magic;
	uint32_t version;
	uint32_t nvcpus;
	uint64_t ram_size;
	uint64_t tsc_khz;          /* guest clock: TSC / tsc_khz */
	uint64_t apic_hz;          /* LAPIC timer input clock */
	uint32_t timer_hz;         /* periodic timer interrupts per second */
	uint32_t heartbeat_us;     /* at most one heartbeat exit per this */
	uint32_t console_period_ms;/* vCPU 0 prints a status line this often */
	uint32_t pad;
	uint64_t reserved;
	/* Written by the guest: timer interrupts taken, per vCPU. */
	volatile uint64_t ticks[GUEST_MAX_VCPUS];
};

_Static_assert(sizeof(struct pc_info) <= 0x1000, "pc_info fits its page");
_Static_assert(PC_TICKS_ADDR == PC_INFO_OFF + __builtin_offsetof(struct pc_info, ticks),
	       "pc_asm.h agrees on the ticks array");
_Static_assert(PC_USER_SS == (PC_SEL_UDATA | 3) && PC_USER_CS == (PC_SEL_UCODE | 3),
	       "pc_asm.h agrees on the user selectors");
_Static_assert(PC_MAX_VCPUS == GUEST_MAX_VCPUS && PC_PORT_PANIC == 0x511,
	       "pc_asm.h agrees on the limits and ports");
_Static_assert(PC_TSS_OFF + GUEST_MAX_VCPUS * PC_TSS_STRIDE <= PC_PT_OFF, "TSSs fit");
_Static_assert(PC_SEL_TSS0 + GUEST_MAX_VCPUS * 16 <= 0x1000, "GDT fits its page");
_Static_assert(PC_PT_OFF + PC_PT_PAGES * 4096ul <= PC_CODE_OFF, "page tables fit");
_Static_assert(PC_STACK_OFF + GUEST_MAX_VCPUS * PC_STACK_SIZE <= GUEST_DATA_OFF,
	       "stacks fit below the data area");

#endif
