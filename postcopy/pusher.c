/* postcopy/pusher.c - the order the background pusher sends pages in.
 *
 * One thread calls pusher_next; any thread may call pusher_hint, and the
 * urgent server sets bits of the same "sent" bitmap concurrently. A page
 * belongs to whoever flips its sent bit, so the pusher claims each page
 * with pcm_bitmap_set and never sends a page the urgent channel already took.
 */
#include "postcopy/pusher.h"

void pusher_init(struct pusher *p, struct pcm_bitmap *sent)
{
	p->sent = sent;
	p->npages = sent->nbits;
	p->cursor = 0;
	p->hint = 0;
	p->hints_taken = 0;
}

void pusher_hint(struct pusher *p, uint64_t page)
{
	/* Only the latest fault matters: an older hint is overwritten. */
	__atomic_store_n(&p->hint, page + 1, __ATOMIC_RELEASE);
}

/* The faulting page itself goes out on the urgent channel; the pusher
 * starts on the page after it, where the vCPU is likely to go next. */
static void take_hint(struct pusher *p)
{
	uint64_t h = __atomic_exchange_n(&p->hint, 0, __ATOMIC_ACQ_REL);

	if (!h || h > p->npages)
		return;
	p->cursor = h;          /* = faulting page + 1 */
	p->hints_taken++;
}

/* First unsent page at or after the cursor, wrapping to page 0 once;
 * npages when every page is sent. */
static uint64_t find_unsent(const struct pusher *p)
{
	uint64_t i = pcm_bitmap_next_clear(p->sent, p->cursor);

	if (i < p->npages || p->cursor == 0)
		return i;
	return pcm_bitmap_next_clear(p->sent, 0);
}

uint64_t pusher_next(struct pusher *p, uint64_t max, uint64_t *first)
{
	uint64_t i, n;

	if (!max)
		return 0;
	take_hint(p);
	for (;;) {
		i = find_unsent(p);
		if (i >= p->npages)
			return 0;
		if (!pcm_bitmap_set(p->sent, i))
			break;
		/* The urgent channel took it between the search and the
		 * claim; search again past it. */
		p->cursor = i + 1;
	}
	/* Extend the run only over pages nobody else has: the first one
	 * already set ends it (setting a set bit changes nothing). */
	for (n = 1; n < max && i + n < p->npages; n++)
		if (pcm_bitmap_set(p->sent, i + n))
			break;
	p->cursor = i + n;
	*first = i;
	return n;
}
