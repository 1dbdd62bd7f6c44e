/* postcopy/hist.h - log-scaled latency histograms.
 *
 * Values (ns) fall into buckets of 1/8 of a power of two, so a percentile
 * is exact to within 12.5% at any scale and a histogram is a fixed 4 KiB
 * whatever the number of samples: nothing is stored per sample.
 */
#ifndef POSTCOPY_HIST_H
#define POSTCOPY_HIST_H

#include <stdint.h>

#define HIST_SUB      8                   /* buckets per power of two */
#define HIST_BUCKETS  (64 * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at percentile p (0..100): the upper bound of the bucket holding
 * it, never above the largest value seen; 0 when empty. */
uint64_t hist_pct(const struct hist *h, double p);

#endif
