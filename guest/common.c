/* guest/common.c - what every workload calls: the per-operation
 * bookkeeping (ops, heartbeat, the longest gap since the stall epoch) and
 * the why-text builder of the self-checks. Below workload.c, which
 * dispatches to the workloads, so no file calls back up.
 *
 * Freestanding: no libc calls (only <stdint.h> and errno numbers).
 */
#include "guest/internal.h"

void wl_op_done(struct guest_cpu *c, struct wl_regs *r, uint64_t now)
{
	struct guest_boot *b = guest_boot_of(c->ram);
	struct guest_vcpu_stats *s = guest_stats_of(c->ram, c->vcpu);
	uint64_t epoch = G_LOAD(b->stall_epoch), last, gap, ops;

	if (epoch != s->epoch) {
		G_STORE(s->max_gap_ns, 0);
		G_STORE(s->epoch, epoch);
	}
	last = s->last_op_ns;
	if (last && now > last) {
		gap = now - last;
		if (gap > s->max_gap_ns)
			G_STORE(s->max_gap_ns, gap);
	}
	G_STORE(s->last_op_ns, now);
	ops = s->ops + 1;
	G_STORE(s->ops, ops);
	r->step++;
	c->ops->heartbeat(c->ctx, ops);
}


void why_str(struct wl_why *w, const char *s)
{
	if (!w->buf || !w->len)
		return;
	while (*s && w->pos + 1 < w->len)
		w->buf[w->pos++] = *s++;
	w->buf[w->pos] = 0;
}


void why_u64(struct wl_why *w, uint64_t v)
{
	char tmp[21];
	int i = 20;

	tmp[i] = 0;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	why_str(w, tmp + i);
}


int why_in_service(struct wl_why *w, const char *wl, unsigned v, uint64_t n,
		   const char *what)
{
	why_str(w, wl);
	why_str(w, ": vcpu ");
	why_u64(w, v);
	why_str(w, " saw ");
	why_u64(w, n);
	why_str(w, " ");
	why_str(w, what);
	why_str(w, " in service");
	return -EBADMSG;
}
