/* postcopy/hist.c - log-scaled latency histograms.
 *
 * HDR-histogram style: a value below HIST_SUB has its own bucket; above,
 * the bucket is the position of the most significant bit times HIST_SUB
 * plus the log2(HIST_SUB) bits just below it. A bucket is then at most
 * 1/HIST_SUB of its lower bound wide, which bounds the relative error.
 */
#include <math.h>
#include <string.h>

#include "postcopy/hist.h"

#define SUB_SHIFT 3                     /* log2(HIST_SUB) */

_Static_assert(HIST_SUB == 1 << SUB_SHIFT, "SUB_SHIFT must match HIST_SUB");
_Static_assert(HIST_BUCKETS == 64 * HIST_SUB, "one row per msb position");

static unsigned bucket_of(uint64_t v)
{
	unsigned msb, sub;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (msb - SUB_SHIFT)) & (HIST_SUB - 1);
	return msb * HIST_SUB + sub;
}

/* Largest value that falls in bucket i. */
static uint64_t bucket_upper(unsigned i)
{
	unsigned msb = i / HIST_SUB, sub = i % HIST_SUB;
	uint64_t lower, width;

	/* Rows 1 and 2 (msb below log2(HIST_SUB)) never get a sample:
	 * those values have their own buckets in row 0. Guard them anyway,
	 * a merged histogram may come from elsewhere, and shifting by a
	 * negative count is undefined. */
	if (i < HIST_SUB * SUB_SHIFT)
		return i < HIST_SUB ? i : HIST_SUB - 1;
	width = 1ULL << (msb - SUB_SHIFT);
	lower = (uint64_t)(HIST_SUB + sub) << (msb - SUB_SHIFT);
	/* lower + width - 1, not (lower + width) - 1: the top bucket's
	 * bound is UINT64_MAX and lower + width would wrap. */
	return lower + (width - 1);
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_add(struct hist *h, uint64_t v)
{
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->b[bucket_of(v)]++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned i;

	if (!src->count)
		return;
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
}

/* 1-based rank of the sample at percentile p: ceil(p% of count). */
static uint64_t pct_rank(uint64_t count, double p)
{
	double r;

	if (!(p > 0))                   /* also NaN */
		return 1;
	if (p >= 100)
		return count;
	/* p * count / 100, not p / 100 * count: exact for whole p, so the
	 * 99th of 100 samples is rank 99, not 100. */
	r = ceil(p * (double)count / 100.0);
	if (r < 1)
		return 1;
	return r >= (double)count ? count : (uint64_t)r;
}

uint64_t hist_pct(const struct hist *h, double p)
{
	uint64_t rank, seen = 0, up;
	unsigned i;

	if (!h->count)
		return 0;
	rank = pct_rank(h->count, p);
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)          /* counts inconsistent: be safe */
		return h->max;
	up = bucket_upper(i);
	return up < h->max ? up : h->max;
}
