/* guest/pc/x86.h - the few privileged instructions the payload uses. */
#ifndef GUEST_PC_X86_H
#define GUEST_PC_X86_H

#include <stdint.h>
#include "guest/pc/pc.h"

/* Ring 0: the instructions themselves. */
static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" :: "a"(v), "Nd"(port));
}

/* Ring 3 talks to the VMM through MMIO (PC_MMIO_*): a store or load there
 * is one exit, from any ring. Port I/O would need IOPL 3 and hlt ring 0,
 * and a hypervisor that emulates a native guest's kernel mode (PVM) gives
 * ring 3 neither, nor a working way into ring 0. */
static inline void mmio_write8(uint64_t off, uint8_t v)
{
	*(volatile uint8_t *)(PC_MMIO_BASE + off) = v;
}

static inline uint8_t mmio_read8(uint64_t off)
{
	return *(volatile uint8_t *)(PC_MMIO_BASE + off);
}

static inline void mmio_write32(uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)(PC_MMIO_BASE + off) = v;
}

static inline void mmio_write64(uint64_t off, uint64_t v)
{
	*(volatile uint64_t *)(PC_MMIO_BASE + off) = v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

#endif
