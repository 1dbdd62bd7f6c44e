/* postcopy/pcpolicy.c - when pre-copy stops. */
#include <stddef.h>
#include "postcopy/pcpolicy.h"

bool pc_interrupt(const struct pc_policy *p, const struct pc_state *s)
{
	return s->switched ||
	       (p->hybrid && p->seconds_ms && s->elapsed_ns >= p->seconds_ms * 1000000ull);
}

/* Would the pages left cross within the budget at the last round's rate?
 * A round that sent nothing measured no rate: only nothing left fits. */
static bool fits(const struct pc_policy *p, const struct pc_state *s)
{
	uint32_t max_ms = p->max_downtime_ms ? p->max_downtime_ms : PC_MAX_DOWNTIME_MS;

	if (!s->last_bytes || !s->last_ns)
		return s->pending_bytes == 0;
	return (double)s->pending_bytes * s->last_ns / s->last_bytes <= max_ms * 1e6;
}

const char *pc_decide(const struct pc_policy *p, const struct pc_state *s, bool *converged)
{
	*converged = false;
	if (s->switched)
		return "switched to post-copy";
	if (p->hybrid) {
		if (pc_interrupt(p, s))
			return "--precopy-seconds reached";
		/* --precopy-seconds alone means no round limit. */
		if (!p->rounds && p->seconds_ms)
			return NULL;
		return s->rounds >= (p->rounds ? p->rounds : 1) ? "--precopy-rounds reached" : NULL;
	}
	if (fits(p, s)) {
		*converged = true;
		return "converged";
	}
	return s->rounds >= (p->max_rounds ? p->max_rounds : PC_MAX_ROUNDS)
	       ? "--max-rounds reached without converging" : NULL;
}
