/* postcopy/agentcheck.c - verified, detail and stall from a Linux guest's
 * agent (agentcheck.h). */
#include "postcopy/agentcheck.h"

#include <stdio.h>

bool pm_agent_verdict(const struct machine_guest_report *g, char *detail, size_t n,
		      uint64_t *stall_ns)
{
	bool done = g->agent == MACHINE_AGENT_DONE;
	char at[40];

	/* the guest's number: saturate rather than wrap */
	*stall_ns = g->window_gap_us > UINT64_MAX / 1000 ? UINT64_MAX : g->window_gap_us * 1000;
	if (!g->status_lines && !done) {
		snprintf(detail, n, "agent: no status line here within %llu s of the move%s%s",
			 PM_AGENT_WAIT_NS / 1000000000ull, g->errors ? "; error: " : "",
			 g->errors ? g->error : "");
		return false;
	}
	if (g->status_lines)
		snprintf(at, sizeof(at), "t=%llums%s", (unsigned long long)g->t_ms,
			 done ? " done" : "");
	else
		snprintf(at, sizeof(at), "done");
	snprintf(detail, n, "agent: %s ops=%llu checks %s since the move (%s)%s%s", at,
		 (unsigned long long)g->ops, g->checks_ok ? "ok" : "FAILED", g->checks,
		 g->errors ? "; error: " : "", g->errors ? g->error : "");
	return g->checks_ok;
}
