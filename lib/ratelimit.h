/* lib/ratelimit.h - a token bucket for the background stream.
 *
 * --max-bandwidth caps what pre-copy rounds and the post-copy pusher put
 * on the bulk channel; page replies to faulting vCPUs never wait on it.
 * One sender thread at a time takes from a bucket.
 */
#ifndef PCM_LIB_RATELIMIT_H
#define PCM_LIB_RATELIMIT_H

#include <stdint.h>

struct pcm_ratelimit {
	uint64_t bps;         /* bytes per second; 0: no limit */
	uint64_t t_ns;        /* when the bucket was last filled */
	double tokens;        /* bytes that may go now (may go negative) */
};

void pcm_ratelimit_init(struct pcm_ratelimit *rl, uint64_t bytes_per_sec);
/* Account bytes about to be sent, sleeping first as long as the rate
 * requires. A burst of up to 10 ms of the rate goes at once. */
void pcm_ratelimit_take(struct pcm_ratelimit *rl, uint64_t bytes);

#endif
