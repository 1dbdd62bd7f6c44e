/* guest/sweep.c - walk the working set page by page, writing a share of
 * the pages touched.
 *
 * Each vCPU owns a disjoint slice of the working set and walks it in order,
 * one page per step (regs->cursor = page within the slice). A written page
 * gets a stamp: word 0 = gen (never 0), word 1 = stamp_mix(page, gen), and a
 * few more words spread over the page (so the whole page is really dirty);
 * every other word stays 0. A read checks the stamp of the page it touches
 * and counts a mismatch in stats->check_fail.
 *
 * Rate limit (params.rate_bps > 0): writes are paced to rate_bps / nvcpus
 * bytes/s per vCPU with a token bucket: aux[0] = guest time at which the
 * next write is allowed (with at most 10 ms of burst credit, so
 * a vCPU woken late catches up), aux[1] = 1 when
 * a write was drawn and is waiting for its turn. A step that must wait idles
 * at most 1 ms and counts as an operation (like an idle tick), so waiting is
 * not mistaken for a stall.
 */
#include "guest/internal.h"
#include "guest/rng.h"

#define WORDS (GUEST_PAGE / 8)
#define SWEEP_BURST_NS (10 * GUEST_MS)   /* credit a late vCPU may catch up */

static const unsigned extra_words[] = { 2, 3, 64, 200, 256, 400, WORDS - 1 };
#define NEXTRA (sizeof(extra_words) / sizeof(extra_words[0]))

static inline uint64_t stamp_mix(uint64_t pidx, uint64_t gen)
{
	return mix64(pidx ^ mix64(gen + 0x5157ull));
}

static inline uint64_t extra_val(uint64_t pidx, uint64_t gen, unsigned w)
{
	return mix64(stamp_mix(pidx, gen) + w);
}

static void page_write(volatile uint64_t *pg, uint64_t pidx, uint64_t gen)
{
	for (unsigned i = 0; i < NEXTRA; i++)
		pg[extra_words[i]] = extra_val(pidx, gen, extra_words[i]);
	pg[1] = stamp_mix(pidx, gen);
	pg[0] = gen;
}

/* The in-service read: a few words, enough to fault the page in. */
static int page_read_ok(const volatile uint64_t *pg, uint64_t pidx)
{
	uint64_t gen = pg[0], w1 = pg[1], last = pg[WORDS - 1];

	if (!gen)
		return !w1 && !last;
	return w1 == stamp_mix(pidx, gen) && last == extra_val(pidx, gen, WORDS - 1);
}

static int is_extra(unsigned w)
{
	for (unsigned i = 0; i < NEXTRA; i++)
		if (extra_words[i] == w)
			return 1;
	return 0;
}

/* The full check: all zero, or exactly the stamp pattern. */
static int page_full_ok(const uint64_t *pg, uint64_t pidx)
{
	uint64_t gen = pg[0];

	if (!gen) {
		for (unsigned i = 0; i < WORDS; i++)
			if (pg[i])
				return 0;
		return 1;
	}
	if (pg[1] != stamp_mix(pidx, gen))
		return 0;
	for (unsigned i = 2; i < WORDS; i++) {
		uint64_t want = is_extra(i) ? extra_val(pidx, gen, i) : 0;

		if (pg[i] != want)
			return 0;
	}
	return 1;
}

void sweep_step(struct guest_cpu *c, struct wl_regs *r)
{
	const struct guest_boot *b = guest_boot_of(c->ram);
	const struct wl_params *p = &b->params;
	struct guest_vcpu_stats *s = guest_stats_of(c->ram, c->vcpu);
	uint64_t slice = wl_slice_bytes(p, c->nvcpus);
	uint64_t base = wl_slice_base(p, c->nvcpus, c->vcpu);
	uint64_t npages = slice / GUEST_PAGE;
	uint64_t page_off, pidx;
	volatile uint64_t *pg;
	int write;

	if (!r->phase) {
		r->phase = 1;
		G_STORE(s->ready, 1);
	}
	if (r->cursor >= npages)
		r->cursor = 0;

	write = r->aux[1] ? 1 : rng_below(r->rng, 1000) < p->write_permille;
	if (write && p->rate_bps) {
		uint64_t rate = p->rate_bps / c->nvcpus;
		uint64_t interval, now = c->ops->clock_ns(c->ctx);

		if (!rate)
			rate = 1;
		interval = GUEST_PAGE * 1000000000ull / rate;
		if (!interval)
			interval = 1;
		if (!r->aux[0] || r->aux[0] + SWEEP_BURST_NS < now)   /* burst cap */
			r->aux[0] = now > SWEEP_BURST_NS ? now - SWEEP_BURST_NS : 1;
		if (now < r->aux[0]) {
			uint64_t wait = r->aux[0] - now;

			r->aux[1] = 1;
			c->ops->idle(c->ctx, wait < GUEST_MS ? wait : GUEST_MS);
			wl_op_done(c, r, c->ops->clock_ns(c->ctx));
			return;
		}
		r->aux[0] += interval;
	}
	r->aux[1] = 0;

	page_off = base + r->cursor * GUEST_PAGE;
	pidx = (page_off - GUEST_DATA_OFF) / GUEST_PAGE;
	pg = (volatile uint64_t *)(c->ram + page_off);
	if (write) {
		wl_inflight_begin(s, page_off);
		page_write(pg, pidx, r->step + 1);
		wl_inflight_end(s);
	}
	else if (!page_read_ok(pg, pidx))
		s->check_fail = s->check_fail + 1;
	r->cursor = r->cursor + 1 < npages ? r->cursor + 1 : 0;
	wl_op_done(c, r, c->ops->clock_ns(c->ctx));
}

int sweep_check(const uint8_t *ram, const struct guest_boot *b,
		const struct wl_holes *holes, struct wl_why *w)
{
	const struct wl_params *p = &b->params;
	uint64_t npages = wl_slice_bytes(p, b->nvcpus) / GUEST_PAGE * b->nvcpus;
	uint64_t base = GUEST_DATA_OFF / GUEST_PAGE, first = 0, end = 0;

	for (unsigned v = 0; v < b->nvcpus; v++) {
		const struct guest_vcpu_stats *s =
			guest_stats_of((uint8_t *)ram, v);

		if (s->check_fail)
			return why_in_service(w, "sweep", v, s->check_fail, "bad page stamps");
	}
	for (uint64_t i = 0; i < npages; i++) {
		const uint64_t *pg = (const uint64_t *)(ram + GUEST_DATA_OFF + i * GUEST_PAGE);

		if (holes && base + i >= end) {
			holes->next_data(holes->arg, base + i, &first, &end);
			if (first >= end)
				break;                  /* the rest is a hole: all zero */
		}
		if (holes && base + i < first) {
			i = first - base - 1;           /* a hole: zero, which is valid */
			continue;
		}

		if (!page_full_ok(pg, i) &&
		    !wl_inflight(ram, b->nvcpus, GUEST_DATA_OFF + i * GUEST_PAGE)) {
			why_str(w, "sweep: page ");
			why_u64(w, i);
			why_str(w, " of the working set (gpa ");
			why_u64(w, GUEST_DATA_OFF + i * GUEST_PAGE);
			why_str(w, ") has a bad stamp");
			return -EBADMSG;
		}
	}
	return 0;
}
