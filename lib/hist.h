/* lib/hist.h - log-scaled latency histograms.
 *
 * Values (ns) fall into buckets of 1/8 of a power of two, so a percentile
 * is exact to within 12.5% at any scale and a histogram is a fixed 4 KiB
 * whatever the number of samples: nothing is stored per sample.
 */
#ifndef PCM_LIB_HIST_H
#define PCM_LIB_HIST_H

#include <stdint.h>

#define PCM_HIST_SUB      8                   /* buckets per power of two */
#define PCM_HIST_BUCKETS  (64 * PCM_HIST_SUB)

struct pcm_hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t b[PCM_HIST_BUCKETS];
};

void pcm_hist_init(struct pcm_hist *h);
void pcm_hist_add(struct pcm_hist *h, uint64_t v);
void pcm_hist_merge(struct pcm_hist *dst, const struct pcm_hist *src);
/* Value at percentile p (0..100): the upper bound of the bucket holding
 * it, never above the largest value seen; 0 when empty. */
uint64_t pcm_hist_pct(const struct pcm_hist *h, double p);

#endif
