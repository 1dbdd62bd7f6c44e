/* bench/clock.h - wall and per-thread CPU time in seconds, for the
 * benchmark programs that measure a sender and a receiver thread. */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

#include "lib/clock.h"

static inline double now_s(void)
{
	return pcm_now_ns() / 1e9;
}

static inline double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#endif
