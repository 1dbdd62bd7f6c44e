/* lib/ratelimit.c - the token bucket. */
#include <time.h>
#include "lib/clock.h"
#include "lib/ratelimit.h"

#define BURST_NS 10000000ull   /* 10 ms: enough to keep TCP's window busy */

void pcm_ratelimit_init(struct pcm_ratelimit *rl, uint64_t bytes_per_sec)
{
	rl->bps = bytes_per_sec;
	rl->t_ns = pcm_now_ns();
	rl->tokens = 0;
}

void pcm_ratelimit_take(struct pcm_ratelimit *rl, uint64_t bytes)
{
	double burst;
	uint64_t now;

	if (!rl->bps)
		return;
	burst = rl->bps * (BURST_NS / 1e9);
	now = pcm_now_ns();
	rl->tokens += (now - rl->t_ns) * (rl->bps / 1e9);
	if (rl->tokens > burst)
		rl->tokens = burst;
	rl->t_ns = now;
	rl->tokens -= (double)bytes;
	if (rl->tokens < 0) {
		uint64_t wait = (uint64_t)(-rl->tokens / rl->bps * 1e9);
		struct timespec ts = { (time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull) };

		nanosleep(&ts, NULL);
	}
}
