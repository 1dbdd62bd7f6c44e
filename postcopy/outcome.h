/* postcopy/outcome.h - how each end of a migration moves through its
 * link's outages to one outcome: the decisions alone, (state, event) ->
 * (state, actions), free of sockets, threads and engines, so that every
 * event in every state can be tested (tests/unit/test_outcome.c), like
 * pcpolicy.h for pre-copy.
 *
 * The promises they keep:
 *  - the source resumes its VM only when nobody else can run it: before
 *    the destination's word that it runs the VM, and only on the
 *    destination's refusal or a closed door (nobody there holds it);
 *  - the destination's DONE (every page in) ends the source's part with
 *    success, whenever and on whichever connection it comes;
 *  - a destination that has every page never discards the VM, and
 *    answers its source's RECOVER with DONE until the source says
 *    RELEASED;
 *  - a destination that is missing pages discards the VM only when its
 *    wait for the source runs out (or the operator gives up on it).
 * source.c/source_link.c and dest.c/dest_link.c act on what these say.
 */
#ifndef POSTCOPY_OUTCOME_H
#define POSTCOPY_OUTCOME_H

#include <stdbool.h>

enum oc_src_state {
	OCS_SENT,          /* the state is on its way; RESUMED not seen */
	OCS_COMMITTED,     /* the destination runs the VM; pages flow */
	OCS_SENT_PAUSED,   /* the link broke before RESUMED: ask the destination */
	OCS_PAUSED,        /* the link broke after commitment: reconnect */
	OCS_DONE,          /* DONE came: success, the VM is released here */
	OCS_RESUMED_HERE,  /* nobody else holds it: it runs on here (failure) */
	OCS_KEPT,          /* the outcome is the destination's; the paused copy stays */
	OCS_NSTATES
};

enum oc_src_event {
	OCE_RESUMED,       /* RESUMED on control */
	OCE_DONE,          /* DONE, on control or as the answer to RECOVER */
	OCE_LINK_LOST,     /* a channel failed or fell silent */
	OCE_ACK,           /* RECOVER_ACK: the destination holds the VM, wants pages */
	OCE_REFUSED,       /* an answer that it does not hold this session */
	OCE_GONE,          /* connection refused: nothing listens where it was (a
			    * reset or a close without an answer is NO_ANSWER) */
	OCE_NO_ANSWER,     /* any other failed attempt (timeout, garbage, wrong key) */
	OCE_TIMEOUT,       /* the recover timeout ran out */
	OCE_GIVE_UP,       /* the operator's recover --give-up */
	OCE_NEVENTS
};

enum oc_src_action {
	OCA_NONE = 0,
	OCA_STOP = 1 << 0,       /* stop serving, close every channel */
	OCA_RECONNECT = 1 << 1,  /* try (again) after the backoff */
	OCA_SERVE = 1 << 2,      /* serve pages again on the new channels */
	OCA_RELEASE = 1 << 3,    /* send RELEASED, report success, free the VM */
	OCA_RESUME = 1 << 4,     /* run the VM here again; report the failure */
	OCA_KEEP = 1 << 5,       /* report the failure; keep the paused copy */
};

/* The next state for ev in st, and what to do (OCA_* bits) in *act. An
 * event that cannot change st (a late one, or one for another state)
 * leaves it and asks nothing. */
enum oc_src_state oc_src_step(enum oc_src_state st, enum oc_src_event ev, unsigned *act);
bool oc_src_final(enum oc_src_state st);

enum oc_dst_state {
	OCD_ACTIVE,          /* the VM runs here, pages still arrive */
	OCD_FINISHED,        /* every page in; DONE sent, RELEASED awaited */
	OCD_PAUSED,          /* the link broke with pages missing: wait for the source */
	OCD_FINISHED_PAUSED, /* every page in, the link broke before RELEASED */
	OCD_CONFIRMED,       /* RELEASED: the migration is over */
	OCD_DISCARDED,       /* the wait ran out with pages missing: the VM is gone */
	OCD_NSTATES
};

enum oc_dst_event {
	OCDE_ALL_IN,         /* the last page arrived (and was checked) */
	OCDE_RELEASED,       /* the source's RELEASED */
	OCDE_LINK_LOST,      /* a channel failed or fell silent */
	OCDE_RECOVER,        /* our source's RECOVER on a new connection */
	OCDE_TIMEOUT,        /* the recover timeout ran out */
	OCDE_GIVE_UP,        /* the operator's recover --give-up */
	OCDE_NEVENTS
};

enum oc_dst_action {
	OCDA_NONE = 0,
	OCDA_STOP = 1 << 0,       /* stop the page threads, close every channel */
	OCDA_ACK = 1 << 1,        /* answer RECOVER_ACK, take page channels, start threads */
	OCDA_DONE = 1 << 2,       /* send DONE (again), await RELEASED */
	OCDA_HOST = 1 << 3,       /* hand the VM to its host, which keeps answering */
	OCDA_DISCARD = 1 << 4,    /* the VM is lost here: fail, destroy it */
	OCDA_CLOSE = 1 << 5,      /* nobody is to come back: stop listening */
};

enum oc_dst_state oc_dst_step(enum oc_dst_state st, enum oc_dst_event ev, unsigned *act);
bool oc_dst_final(enum oc_dst_state st);
/* Does the VM run here in st (a resume elsewhere must be refused)? */
bool oc_dst_runs(enum oc_dst_state st);

/* `resume` on a source's paused copy, by what the destination said. */
enum oc_answer {
	OCQ_RUNS_FINISHED,  /* it runs the VM with every page: the migration succeeded */
	OCQ_RUNS_WAITING,   /* it runs the VM and waits for this source's pages */
	OCQ_NOT_THERE,      /* it does not hold this session */
	OCQ_UNREACHABLE,    /* no answer (no process, no route) */
	OCQ_NANSWERS
};

enum oc_resume {
	OCR_RESUME,         /* run the paused copy again */
	OCR_REFUSE,         /* the destination runs it: no second copy */
	OCR_RELEASE,        /* it ran to the end there: free the copy here */
	OCR_NEED_FORCE,     /* nobody answered: only the operator knows */
};

enum oc_resume oc_resume_decide(enum oc_answer a, bool force);

/* Names for notes and tests. */
const char *oc_src_state_name(enum oc_src_state st);
const char *oc_dst_state_name(enum oc_dst_state st);

#endif
