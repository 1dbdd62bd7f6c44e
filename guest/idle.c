/* guest/idle.c - the idle workload: after boot it touches no data page;
 * each step idles about 1 ms (less if the VMM wakes it) and records the
 * operation, so the guest-visible stall is still measured. */
#include "guest/internal.h"

void idle_step(struct guest_cpu *c, struct wl_regs *r)
{
	if (!r->phase) {
		r->phase = 1;
		G_STORE(guest_stats_of(c->ram, c->vcpu)->ready, 1);
	}
	c->ops->idle(c->ctx, GUEST_MS);
	wl_op_done(c, r, c->ops->clock_ns(c->ctx));
}
