/* guest/workload.h - the workloads: idle, sweep, kv.
 *
 * A workload is a step function over the vCPU's registers (struct wl_regs)
 * and guest RAM. One step is one operation, short enough (well under 100 us)
 * that a vCPU can be paused between two steps within a millisecond. All the
 * workload's state is either in its registers (saved and restored by the
 * engine) or in guest RAM (moved by the migration).
 */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

#include <stdint.h>
#include "guest/api.h"
#include "guest/layout.h"

/* A vCPU's registers as the thread engine sees them. Guest pointers are
 * guest-physical offsets, never host addresses, so they survive a move. */
struct wl_regs {
	uint32_t workload;
	uint32_t vcpu;
	uint64_t step;       /* operations done by this vCPU */
	uint64_t rng[2];     /* xoroshiro128+ state */
	uint64_t phase;      /* 0: set-up, 1: serving */
	uint64_t cursor;     /* workload-specific position */
	uint64_t aux[4];     /* workload-specific scratch (e.g. rate pacing) */
};

/* Name <-> id ("idle", "sweep", "kv"); 0 / NULL when unknown. */
uint32_t wl_lookup(const char *name);
const char *wl_name(uint32_t id);

/* Fill defaults for parameters left 0 and check them against the RAM size;
 * -EINVAL with *why set when they do not fit. */
int wl_params_fix(struct wl_params *p, uint64_t ram_size, unsigned nvcpus,
		  const char **why);

/* The VMM's part of boot: write the boot page and clear the stats area. */
void wl_boot_write(uint8_t *ram, uint64_t ram_size, unsigned nvcpus,
		   const struct wl_params *p);

/* Registers of a vCPU at power-on. */
void wl_regs_init(struct wl_regs *r, const struct guest_boot *b, unsigned vcpu);

/* Run one operation. */
void wl_step(struct guest_cpu *c, struct wl_regs *r);

/* The workload's own self-check over all of guest RAM, run on a paused VM:
 * 0 when consistent, else -EBADMSG with a reason in why. idle: always 0. */
int wl_check(const uint8_t *ram, uint64_t ram_size, char *why, unsigned whylen);

/* What the VMM knows about pages that were never written (holes of a
 * memfd): next_data gives the next extent [*first, *end) of guest pages at
 * or after page that may hold data; pages before *first are zero. Reading
 * a hole would allocate it, so the check skips them. */
struct wl_holes {
	void (*next_data)(void *arg, uint64_t page, uint64_t *first, uint64_t *end);
	void *arg;
};
int wl_check_sparse(const uint8_t *ram, uint64_t ram_size, const struct wl_holes *holes,
		    char *why, unsigned whylen);

#endif
