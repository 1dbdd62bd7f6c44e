/* postcopy/source_bulk.c - putting pages on the bulk channel: batches of
 * PAGES messages read straight from guest RAM (one submission a batch),
 * zero ranges, the memfd's holes, and the --max-bandwidth cap. The
 * post-copy pusher and the pre-copy rounds both send through here.
 */
#include <errno.h>
#include <string.h>
#include "net/chan.h"
#include "postcopy/source_int.h"


int bulk_flush(struct src *s, struct bulk_batch *b)
{
	struct net_chan *c = s->ch[PM_CH_BULK];
	int err = 0;

	if (b->nzero) {
		struct iovec iov = { b->zero, b->nzero * sizeof(b->zero[0]) };

		err = net_queue(c, PM_ZERO, &iov, 1);
	}
	if (!err) {
		pcm_ratelimit_take(&s->rl, b->bytes);
		err = net_flush(c);
	}
	b->nhdr = b->nzero = 0;
	b->bytes = 0;
	b->bounce_used = 0;
	return err;
}

int bulk_zero(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t count)
{
	struct pm_range *last = b->nzero ? &b->zero[b->nzero - 1] : NULL;

	if (last && last->first + last->count == first) {
		last->count += count;
		return 0;
	}
	if (b->nzero == PM_ZERO_MAX) {
		int err = bulk_flush(s, b);

		if (err)
			return err;
	}
	b->zero[b->nzero++] = (struct pm_range){ first, count };
	b->bytes += sizeof(struct pm_range);
	return 0;
}

/* One PAGES message per piece of the run inside one region, since the
 * payload is read straight from guest RAM. */
int bulk_data(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t count)
{
	while (count) {
		uint64_t n = ram_run_limit(&s->ram, first, count);
		struct pm_pages_hdr *h;
		struct iovec iov[2];
		int err;

		if (b->nhdr == BULK_BATCH && (err = bulk_flush(s, b)))
			return err;
		h = &b->hdr[b->nhdr++];
		*h = (struct pm_pages_hdr){ .first = first, .count = (uint32_t)n };
		iov[0] = (struct iovec){ h, sizeof(*h) };
		iov[1] = (struct iovec){ pages_map_addr(&s->ram, first), n * PM_PAGE };
		if (b->bounce) {
			memcpy(b->bounce + b->bounce_used, iov[1].iov_base, n * PM_PAGE);
			iov[1].iov_base = b->bounce + b->bounce_used;
			b->bounce_used += n * PM_PAGE;
		}
		if ((err = net_queue(s->ch[PM_CH_BULK], PM_PAGES, iov, 2)))
			return err;
		b->bytes += sizeof(*h) + n * PM_PAGE;
		first += n;
		count -= n;
	}
	return 0;
}

/* Split a claimed run into zero and data sub-runs. */
int bulk_run(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t n)
{
	uint64_t i = 0;
	int err = 0;

	while (i < n && !err) {
		bool zero = ram_page_is_zero(pages_map_addr(&s->ram, first + i));
		uint64_t j = i + 1;

		while (j < n && ram_page_is_zero(pages_map_addr(&s->ram, first + j)) == zero)
			j++;
		err = zero ? bulk_zero(s, b, first + i, j - i)
			   : bulk_data(s, b, first + i, j - i);
		i = j;
	}
	return err;
}

/* The unsent pages of [first, end) as zero ranges, marked sent. */
static int bulk_zero_unsent(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t end)
{
	int err = 0;

	while (first < end && !err) {
		uint64_t c = pcm_bitmap_next_clear(&s->sent, first), e;

		if (c >= end)
			break;
		e = pcm_bitmap_next_set(&s->sent, c);
		if (e > end)
			e = end;
		pcm_bitmap_set_range(&s->sent, c, e - c);
		err = bulk_zero(s, b, c, e - c);
		first = e;
	}
	return err;
}

/* Holes of the memfd were never written: zero without reading them. Only
 * pages not sent yet (a pre-copy round may have sent some). */
int bulk_holes(struct src *s, struct bulk_batch *b)
{
	uint64_t page = 0, first, end;
	int err = 0;

	while (page < s->ram.npages && !err) {
		ram_next_data(&s->ram, page, &first, &end);
		if (first > page)
			err = bulk_zero_unsent(s, b, page, first);
		page = end;
	}
	return err;
}

