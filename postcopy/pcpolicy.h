/* postcopy/pcpolicy.h - when pre-copy stops: the decision alone, free of
 * sockets and engines, so it can be tested on its own.
 *
 * precopy stops when the pages left would cross within --max-downtime at
 * the rate the last round ran at (converged), or after --max-rounds (not
 * converged). hybrid stops after --precopy-rounds (default 1) or, even
 * mid-round, once --precopy-seconds have passed. Either stops at once
 * when the operator switches to post-copy.
 */
#ifndef POSTCOPY_PCPOLICY_H
#define POSTCOPY_PCPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#define PC_MAX_DOWNTIME_MS 300
#define PC_MAX_ROUNDS      30

struct pc_policy {
	bool hybrid;               /* else precopy */
	uint32_t max_downtime_ms;  /* 0: PC_MAX_DOWNTIME_MS */
	uint32_t max_rounds;       /* 0: PC_MAX_ROUNDS */
	uint32_t rounds;           /* hybrid; 0: 1, or none when seconds_ms */
	uint32_t seconds_ms;       /* hybrid; 0: no time limit */
};

struct pc_state {
	unsigned rounds;           /* rounds finished */
	uint64_t last_bytes;       /* the last round's bytes and duration */
	uint64_t last_ns;
	uint64_t pending_bytes;    /* written since and not sent yet */
	uint64_t elapsed_ns;       /* since pre-copy began */
	bool switched;             /* the operator asked for post-copy */
};

/* Between rounds: NULL to run another, else why to stop (a constant
 * string); *converged says whether the rest fits the downtime budget. */
const char *pc_decide(const struct pc_policy *p, const struct pc_state *s, bool *converged);
/* Mid-round: true when the round must stop early (switch, time budget). */
bool pc_interrupt(const struct pc_policy *p, const struct pc_state *s);

#endif
