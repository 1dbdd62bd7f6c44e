/* guest/api.h - the tiny interface a workload sees.
 *
 * A workload runs on a vCPU over guest RAM and knows only this: where guest
 * RAM is, a clock that keeps running across a migration, a heartbeat to
 * report progress to the VMM, and a way to idle. The same source builds into
 * the thread engine (ops are host functions) and, freestanding, into a KVM
 * payload (ops are port I/O and the timer), so nothing here may need libc.
 */
#ifndef GUEST_API_H
#define GUEST_API_H

#include <stdint.h>

struct guest_ops {
	/* Guest clock in ns; continuous across pause, save and load. */
	uint64_t (*clock_ns)(void *ctx);
	/* Tell the VMM the vCPU made progress (count of operations). */
	void (*heartbeat)(void *ctx, uint64_t progress);
	/* Give up the CPU for at most ns; may return early. */
	void (*idle)(void *ctx, uint64_t ns);
};

struct guest_cpu {
	uint8_t *ram;            /* guest-physical 0 */
	uint64_t ram_size;
	unsigned vcpu;
	unsigned nvcpus;
	const struct guest_ops *ops;
	void *ctx;
};

#endif
