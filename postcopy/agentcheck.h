/* postcopy/agentcheck.h - a Linux guest's end-to-end check, as its agent
 * says it: the decision alone, from what the engine read on the
 * destination's console (machine_guest_report), free of waiting and of
 * the VM, so every case is tested (tests/unit/test_agent_parse.c).
 *
 * The destination (dest.c dst_verify) waits for the agent's word, then
 * asks here whether it verifies the move, what the report says of it, and
 * the guest's longest stall across the move: the longest one-period gap
 * (gap_us) of the status lines read since the stall window began (on the
 * destination: all its lines, as the guest has run there only since the
 * move). The agent's own max_gap_us spans its whole run, boot included,
 * so it is not the move's.
 */
#ifndef POSTCOPY_AGENTCHECK_H
#define POSTCOPY_AGENTCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/machine.h"

/* How long the destination waits for the agent's next status line (its
 * period is 100 ms; a nested guest lags), and, when no agent line has
 * been read here at all, how long after the resume it stops looking. */
#define PM_AGENT_WAIT_NS (2000ull * 1000000ull)

/* verified (the agent's checks held: ram ok, disk ok or none, no error
 * line, and at least one status or done line read here), the report's
 * words in detail, the stall in *stall_ns (0: not measured). Only for
 * g->agent != MACHINE_AGENT_NONE. */
bool pm_agent_verdict(const struct machine_guest_report *g, char *detail, size_t n,
		      uint64_t *stall_ns);

#endif
