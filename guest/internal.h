/* guest/internal.h - what the workloads share (freestanding).
 *
 * Not an interface for the host: the engines use guest/workload.h only.
 */
#ifndef GUEST_INTERNAL_H
#define GUEST_INTERNAL_H

#include <stdint.h>
#include "guest/api.h"
#include "guest/layout.h"
#include "guest/workload.h"

#if __STDC_HOSTED__
#include <errno.h>
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef EBADMSG
#define EBADMSG 74
#endif

#define GUEST_PAGE      4096ull
#define GUEST_MS        1000000ull
#define GUEST_MIN_PAGES 4        /* data pages per vCPU for sweep and kv */

/* Bytes of data area each vCPU owns (page multiple); its slice starts at
 * GUEST_DATA_OFF + vcpu * slice. Params must already be fixed. */
static inline uint64_t wl_slice_bytes(const struct wl_params *p, unsigned nvcpus)
{
	return (p->working_set / nvcpus) & ~(GUEST_PAGE - 1);
}

static inline uint64_t wl_slice_base(const struct wl_params *p, unsigned nvcpus,
				     unsigned vcpu)
{
	return GUEST_DATA_OFF + (uint64_t)vcpu * wl_slice_bytes(p, nvcpus);
}

/* Words the VMM reads while the vCPUs run (stats, stall epoch): relaxed
 * atomics, which compile to plain loads and stores on x86-64 and tell
 * race checkers the sharing is meant. */
#define G_LOAD(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define G_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Bracket a change of the object at RAM offset off (see inflight in
 * guest/layout.h). The compiler barriers keep the object's stores inside
 * the bracket; x86 keeps them in order for anyone who sees the guest
 * paused. */
static inline void wl_inflight_begin(struct guest_vcpu_stats *s, uint64_t off)
{
	G_STORE(s->inflight, off + 1);
	__asm__ __volatile__("" ::: "memory");
}

static inline void wl_inflight_end(struct guest_vcpu_stats *s)
{
	__asm__ __volatile__("" ::: "memory");
	G_STORE(s->inflight, 0);
}

/* Is RAM offset off some vCPU's object in flight? */
static inline int wl_inflight(const uint8_t *ram, unsigned nvcpus, uint64_t off)
{
	for (unsigned v = 0; v < nvcpus; v++)
		if (guest_stats_of((uint8_t *)ram, v)->inflight == off + 1)
			return 1;
	return 0;
}

/* The per-operation bookkeeping every workload does once per step:
 * ops++, longest gap (with the stall-epoch reset), last_op_ns, heartbeat. */
void wl_op_done(struct guest_cpu *c, struct wl_regs *r, uint64_t now);

static inline void wl_zero(void *p, uint64_t n)
{
	volatile uint8_t *d = p;

	while (n--)
		*d++ = 0;
}

/* A reason under construction (no snprintf here). */
struct wl_why {
	char *buf;
	unsigned len;
	unsigned pos;
};
void why_str(struct wl_why *w, const char *s);
void why_u64(struct wl_why *w, uint64_t v);
/* "<wl>: vcpu <v> saw <n> <what> in service"; returns -EBADMSG. */
int why_in_service(struct wl_why *w, const char *wl, unsigned v, uint64_t n,
		   const char *what);

/* Per workload. */
void idle_step(struct guest_cpu *c, struct wl_regs *r);
void sweep_step(struct guest_cpu *c, struct wl_regs *r);
void kv_step(struct guest_cpu *c, struct wl_regs *r);
int sweep_check(const uint8_t *ram, const struct guest_boot *b,
		const struct wl_holes *holes, struct wl_why *w);
int kv_check(const uint8_t *ram, const struct guest_boot *b, struct wl_why *w);

/* kv geometry, shared with wl_params_fix. */
#define KV_HDR_BYTES 64ull
static inline uint64_t kv_slot_bytes(uint32_t value_size)
{
	return 16ull + (((uint64_t)value_size + 7) & ~7ull);
}
static inline uint64_t kv_capacity(uint64_t slice, uint32_t value_size)
{
	return slice > KV_HDR_BYTES ? (slice - KV_HDR_BYTES) / kv_slot_bytes(value_size) : 0;
}

#endif
