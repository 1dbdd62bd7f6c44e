/* lib/clock.h - the host's clocks in ns: the monotonic clock every timer,
 * deadline and latency of the project reads, and any other clock by id
 * (the realtime clock a saved guest clock is anchored to). */
#ifndef PCM_LIB_CLOCK_H
#define PCM_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t pcm_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t pcm_now_ns(void)
{
	return pcm_clock_ns(CLOCK_MONOTONIC);
}

#endif
