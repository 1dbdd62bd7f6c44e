/* lib/hist.c - log-scaled latency histograms.
 *
 * HDR-histogram style: a value below PCM_HIST_SUB has its own bucket; above,
 * the bucket is the position of the most significant bit times PCM_HIST_SUB
 * plus the log2(PCM_HIST_SUB) bits just below it. A bucket is then at most
 * 1/PCM_HIST_SUB of its lower bound wide, which bounds the relative error.
 */
#include <math.h>
#include <string.h>

#include "lib/hist.h"

#define SUB_SHIFT 3                     /* log2(PCM_HIST_SUB) */

_Static_assert(PCM_HIST_SUB == 1 << SUB_SHIFT, "SUB_SHIFT must match PCM_HIST_SUB");
_Static_assert(PCM_HIST_BUCKETS == 64 * PCM_HIST_SUB, "one row per msb position");

static unsigned bucket_of(uint64_t v)
{
	unsigned msb, sub;

	if (v < PCM_HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (msb - SUB_SHIFT)) & (PCM_HIST_SUB - 1);
	return msb * PCM_HIST_SUB + sub;
}

/* Largest value that falls in bucket i. */
static uint64_t bucket_upper(unsigned i)
{
	unsigned msb = i / PCM_HIST_SUB, sub = i % PCM_HIST_SUB;
	uint64_t lower, width;

	/* Rows 1 and 2 (msb below log2(PCM_HIST_SUB)) never get a sample:
	 * those values have their own buckets in row 0. Guard them anyway,
	 * a merged histogram may come from elsewhere, and shifting by a
	 * negative count is undefined. */
	if (i < PCM_HIST_SUB * SUB_SHIFT)
		return i < PCM_HIST_SUB ? i : PCM_HIST_SUB - 1;
	width = 1ULL << (msb - SUB_SHIFT);
	lower = (uint64_t)(PCM_HIST_SUB + sub) << (msb - SUB_SHIFT);
	/* lower + width - 1, not (lower + width) - 1: the top bucket's
	 * bound is UINT64_MAX and lower + width would wrap. */
	return lower + (width - 1);
}

void pcm_hist_init(struct pcm_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void pcm_hist_add(struct pcm_hist *h, uint64_t v)
{
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->b[bucket_of(v)]++;
}

void pcm_hist_merge(struct pcm_hist *dst, const struct pcm_hist *src)
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
	for (i = 0; i < PCM_HIST_BUCKETS; i++)
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

uint64_t pcm_hist_pct(const struct pcm_hist *h, double p)
{
	uint64_t rank, seen = 0, up;
	unsigned i;

	if (!h->count)
		return 0;
	rank = pct_rank(h->count, p);
	for (i = 0; i < PCM_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	if (i == PCM_HIST_BUCKETS)          /* counts inconsistent: be safe */
		return h->max;
	up = bucket_upper(i);
	return up < h->max ? up : h->max;
}
