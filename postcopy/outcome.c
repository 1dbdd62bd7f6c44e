/* postcopy/outcome.c - the two ends' outcome machines (outcome.h). */
#include "postcopy/outcome.h"

static enum oc_src_state src_sent(enum oc_src_event ev, unsigned *act)
{
	switch (ev) {
	case OCE_RESUMED: return OCS_COMMITTED;
	case OCE_DONE: *act = OCA_RELEASE; return OCS_DONE;
	case OCE_LINK_LOST: *act = OCA_STOP | OCA_RECONNECT; return OCS_SENT_PAUSED;
	default: return OCS_SENT;
	}
}

static enum oc_src_state src_committed(enum oc_src_event ev, unsigned *act)
{
	switch (ev) {
	case OCE_DONE: *act = OCA_RELEASE; return OCS_DONE;
	case OCE_LINK_LOST: *act = OCA_STOP | OCA_RECONNECT; return OCS_PAUSED;
	default: return OCS_COMMITTED;
	}
}

/* Not knowing whether the destination runs the VM: only its answer, or a
 * door that is plainly shut, settles it; silence never does. */
static enum oc_src_state src_sent_paused(enum oc_src_event ev, unsigned *act)
{
	switch (ev) {
	case OCE_ACK: *act = OCA_SERVE; return OCS_COMMITTED;
	case OCE_DONE: *act = OCA_RELEASE; return OCS_DONE;
	case OCE_REFUSED: case OCE_GONE: *act = OCA_RESUME; return OCS_RESUMED_HERE;
	case OCE_NO_ANSWER: *act = OCA_RECONNECT; return OCS_SENT_PAUSED;
	case OCE_TIMEOUT: case OCE_GIVE_UP: *act = OCA_KEEP; return OCS_KEPT;
	default: return OCS_SENT_PAUSED;
	}
}

/* Committed: the VM runs there, whatever the door says now (a restarted
 * process or a stranger on the port is not the destination's word). */
static enum oc_src_state src_paused(enum oc_src_event ev, unsigned *act)
{
	switch (ev) {
	case OCE_ACK: *act = OCA_SERVE; return OCS_COMMITTED;
	case OCE_DONE: *act = OCA_RELEASE; return OCS_DONE;
	case OCE_REFUSED: case OCE_GONE: case OCE_NO_ANSWER:
		*act = OCA_RECONNECT;
		return OCS_PAUSED;
	case OCE_TIMEOUT: case OCE_GIVE_UP: *act = OCA_KEEP; return OCS_KEPT;
	default: return OCS_PAUSED;
	}
}

enum oc_src_state oc_src_step(enum oc_src_state st, enum oc_src_event ev, unsigned *act)
{
	*act = OCA_NONE;
	switch (st) {
	case OCS_SENT: return src_sent(ev, act);
	case OCS_COMMITTED: return src_committed(ev, act);
	case OCS_SENT_PAUSED: return src_sent_paused(ev, act);
	case OCS_PAUSED: return src_paused(ev, act);
	default: return st;    /* final */
	}
}

bool oc_src_final(enum oc_src_state st)
{
	return st == OCS_DONE || st == OCS_RESUMED_HERE || st == OCS_KEPT;
}

static enum oc_dst_state dst_active(enum oc_dst_event ev, unsigned *act)
{
	switch (ev) {
	case OCDE_ALL_IN: *act = OCDA_DONE; return OCD_FINISHED;
	case OCDE_LINK_LOST: *act = OCDA_STOP; return OCD_PAUSED;
	default: return OCD_ACTIVE;
	}
}

static enum oc_dst_state dst_finished(enum oc_dst_event ev, unsigned *act)
{
	switch (ev) {
	case OCDE_RELEASED: *act = OCDA_CLOSE; return OCD_CONFIRMED;
	/* The VM is whole here: hand it over now and let the host answer the
	 * source's reconnection with DONE, however long it takes. */
	case OCDE_LINK_LOST: *act = OCDA_STOP | OCDA_HOST; return OCD_FINISHED_PAUSED;
	/* A newer connection of the source's: DONE again, on that one. */
	case OCDE_RECOVER: *act = OCDA_DONE; return OCD_FINISHED;
	default: return OCD_FINISHED;
	}
}

static enum oc_dst_state dst_paused(enum oc_dst_event ev, unsigned *act)
{
	switch (ev) {
	case OCDE_RECOVER: *act = OCDA_ACK; return OCD_ACTIVE;
	/* The last page was already in when the link broke. */
	case OCDE_ALL_IN: *act = OCDA_HOST; return OCD_FINISHED_PAUSED;
	case OCDE_TIMEOUT: case OCDE_GIVE_UP:
		*act = OCDA_DISCARD | OCDA_CLOSE;
		return OCD_DISCARDED;
	default: return OCD_PAUSED;
	}
}

/* Nothing is missing: no timeout or give-up takes the VM away. */
static enum oc_dst_state dst_finished_paused(enum oc_dst_event ev, unsigned *act)
{
	switch (ev) {
	case OCDE_RECOVER: *act = OCDA_DONE; return OCD_FINISHED;
	case OCDE_RELEASED: *act = OCDA_CLOSE; return OCD_CONFIRMED;
	default: return OCD_FINISHED_PAUSED;
	}
}

enum oc_dst_state oc_dst_step(enum oc_dst_state st, enum oc_dst_event ev, unsigned *act)
{
	*act = OCDA_NONE;
	switch (st) {
	case OCD_ACTIVE: return dst_active(ev, act);
	case OCD_FINISHED: return dst_finished(ev, act);
	case OCD_PAUSED: return dst_paused(ev, act);
	case OCD_FINISHED_PAUSED: return dst_finished_paused(ev, act);
	default: return st;
	}
}

bool oc_dst_final(enum oc_dst_state st)
{
	return st == OCD_CONFIRMED || st == OCD_DISCARDED;
}

bool oc_dst_runs(enum oc_dst_state st)
{
	return st != OCD_DISCARDED;
}

enum oc_resume oc_resume_decide(enum oc_answer a, bool force)
{
	switch (a) {
	case OCQ_RUNS_FINISHED: return OCR_RELEASE;
	case OCQ_RUNS_WAITING: return OCR_REFUSE;
	case OCQ_NOT_THERE: return OCR_RESUME;
	default: return force ? OCR_RESUME : OCR_NEED_FORCE;
	}
}

const char *oc_src_state_name(enum oc_src_state st)
{
	static const char *const n[OCS_NSTATES] = {
		"sent", "committed", "sent-paused", "paused", "done", "resumed-here", "kept",
	};

	return st < OCS_NSTATES ? n[st] : "?";
}

const char *oc_dst_state_name(enum oc_dst_state st)
{
	static const char *const n[OCD_NSTATES] = {
		"active", "finished", "paused", "finished-paused", "confirmed", "discarded",
	};

	return st < OCD_NSTATES ? n[st] : "?";
}
