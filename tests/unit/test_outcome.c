/* tests/unit/test_outcome.c - the two ends' outcome machines
 * (postcopy/outcome.c): every event in every state, the orderings of
 * issue 15 (which side sees the outage first; an outage during RESUMED,
 * DONE, RECOVER/RECOVER_ACK; the destination finishing during the
 * outage), and `resume`'s decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "postcopy/outcome.h"

/* Walk events from st; the final state, with every action OR-ed in *all. */
static enum oc_src_state src_walk(enum oc_src_state st, const enum oc_src_event *ev, int n,
				  unsigned *all)
{
	unsigned act;

	*all = 0;
	for (int i = 0; i < n; i++) {
		st = oc_src_step(st, ev[i], &act);
		*all |= act;
	}
	return st;
}

static enum oc_dst_state dst_walk(enum oc_dst_state st, const enum oc_dst_event *ev, int n,
				  unsigned *all)
{
	unsigned act;

	*all = 0;
	for (int i = 0; i < n; i++) {
		st = oc_dst_step(st, ev[i], &act);
		*all |= act;
	}
	return st;
}

/* The source's promises, for every (state, event). */
static void test_src_every_event(void **state)
{
	(void)state;
	for (int st = 0; st < OCS_NSTATES; st++)
		for (int ev = 0; ev < OCE_NEVENTS; ev++) {
			unsigned act;
			enum oc_src_state to = oc_src_step(st, ev, &act);

			assert_in_range(to, 0, OCS_NSTATES - 1);
			/* Final states stay, and ask for nothing. */
			if (oc_src_final(st)) {
				assert_int_equal(to, st);
				assert_int_equal(act, OCA_NONE);
				continue;
			}
			/* DONE, from any live state, is success. */
			if (ev == OCE_DONE) {
				assert_int_equal(to, OCS_DONE);
				assert_int_equal(act, OCA_RELEASE);
			}
			/* The VM resumes here only before commitment, and only on
			 * the destination's refusal or a closed door. */
			if (act & OCA_RESUME) {
				assert_int_equal(st, OCS_SENT_PAUSED);
				assert_true(ev == OCE_REFUSED || ev == OCE_GONE);
				assert_int_equal(to, OCS_RESUMED_HERE);
			}
			if (st == OCS_COMMITTED || st == OCS_PAUSED)
				assert_false(act & OCA_RESUME);
			/* Silence never settles an uncommitted outage. */
			if (st == OCS_SENT_PAUSED && ev == OCE_NO_ANSWER)
				assert_int_equal(to, OCS_SENT_PAUSED);
			/* Time out or give-up while paused keeps the copy. */
			if ((st == OCS_SENT_PAUSED || st == OCS_PAUSED) &&
			    (ev == OCE_TIMEOUT || ev == OCE_GIVE_UP)) {
				assert_int_equal(to, OCS_KEPT);
				assert_int_equal(act, OCA_KEEP);
			}
			/* At most one of the ends. */
			assert_true(__builtin_popcount(act & (OCA_RELEASE | OCA_RESUME | OCA_KEEP)) <= 1);
			/* Reconnecting and an end exclude each other. */
			if (act & OCA_RECONNECT)
				assert_false(act & (OCA_RELEASE | OCA_RESUME | OCA_KEEP));
		}
}

/* The destination's promises, for every (state, event). */
static void test_dst_every_event(void **state)
{
	(void)state;
	for (int st = 0; st < OCD_NSTATES; st++)
		for (int ev = 0; ev < OCDE_NEVENTS; ev++) {
			unsigned act;
			enum oc_dst_state to = oc_dst_step(st, ev, &act);

			assert_in_range(to, 0, OCD_NSTATES - 1);
			if (oc_dst_final(st)) {
				assert_int_equal(to, st);
				assert_int_equal(act, OCDA_NONE);
				continue;
			}
			/* With every page here the VM is never discarded. */
			if (st == OCD_FINISHED || st == OCD_FINISHED_PAUSED) {
				assert_false(act & OCDA_DISCARD);
				assert_true(oc_dst_runs(to));
			}
			/* A finished destination answers RECOVER with DONE. */
			if ((st == OCD_FINISHED || st == OCD_FINISHED_PAUSED) && ev == OCDE_RECOVER) {
				assert_int_equal(act, OCDA_DONE);
				assert_int_equal(to, OCD_FINISHED);
			}
			/* RECOVER_ACK only while pages are missing. */
			if (act & OCDA_ACK)
				assert_int_equal(st, OCD_PAUSED);
			/* Only the missing-pages wait running out discards. */
			if (act & OCDA_DISCARD) {
				assert_int_equal(st, OCD_PAUSED);
				assert_true(ev == OCDE_TIMEOUT || ev == OCDE_GIVE_UP);
				assert_false(oc_dst_runs(to));
			}
			/* The listening socket closes only once nobody is owed. */
			if (act & OCDA_CLOSE)
				assert_true(oc_dst_final(to));
		}
}

/* Both ends told one story: pairs of walks for the orderings. */
static void test_orderings(void **state)
{
	unsigned sa, da;

	(void)state;
	/* Outage while RESUMED is on its way (the destination runs the VM):
	 * the source asks, gets RECOVER_ACK, the migration ends. */
	{
		enum oc_src_event s[] = { OCE_LINK_LOST, OCE_NO_ANSWER, OCE_ACK, OCE_DONE };
		enum oc_dst_event d[] = { OCDE_LINK_LOST, OCDE_RECOVER, OCDE_ALL_IN, OCDE_RELEASED };

		assert_int_equal(src_walk(OCS_SENT, s, 4, &sa), OCS_DONE);
		assert_false(sa & OCA_RESUME);
		assert_int_equal(dst_walk(OCD_ACTIVE, d, 4, &da), OCD_CONFIRMED);
	}
	/* The destination finishes during the outage; DONE lost. The
	 * destination sees it first (waiting for RELEASED) or the source
	 * does (silence): either way the source's RECOVER gets DONE. */
	{
		enum oc_src_event s[] = { OCE_RESUMED, OCE_LINK_LOST, OCE_GONE, OCE_NO_ANSWER,
					  OCE_DONE };
		enum oc_dst_event d[] = { OCDE_ALL_IN, OCDE_LINK_LOST, OCDE_TIMEOUT, OCDE_GIVE_UP,
					  OCDE_RECOVER, OCDE_RELEASED };

		assert_int_equal(src_walk(OCS_SENT, s, 5, &sa), OCS_DONE);
		assert_true(sa & OCA_RELEASE);
		assert_int_equal(dst_walk(OCD_ACTIVE, d, 6, &da), OCD_CONFIRMED);
		assert_true(da & OCDA_HOST);
		assert_false(da & OCDA_DISCARD);
	}
	/* An outage during DONE's RELEASED, the source already released:
	 * the destination keeps the VM (and answers, never needed). */
	{
		enum oc_dst_event d[] = { OCDE_ALL_IN, OCDE_LINK_LOST, OCDE_TIMEOUT };

		assert_int_equal(dst_walk(OCD_ACTIVE, d, 3, &da), OCD_FINISHED_PAUSED);
		assert_true(oc_dst_runs(OCD_FINISHED_PAUSED));
	}
	/* An outage during RECOVER/RECOVER_ACK: the ACK is lost, the source
	 * tries again, the destination takes the newer RECOVER. */
	{
		enum oc_src_event s[] = { OCE_RESUMED, OCE_LINK_LOST, OCE_GONE, OCE_ACK, OCE_DONE };
		enum oc_dst_event d[] = { OCDE_LINK_LOST, OCDE_RECOVER, OCDE_LINK_LOST,
					  OCDE_RECOVER, OCDE_ALL_IN, OCDE_RELEASED };

		assert_int_equal(src_walk(OCS_SENT, s, 5, &sa), OCS_DONE);
		assert_int_equal(dst_walk(OCD_ACTIVE, d, 6, &da), OCD_CONFIRMED);
	}
	/* The source never comes back with pages missing: the destination
	 * discards; the source, timed out, keeps its copy (resume asks). */
	{
		enum oc_src_event s[] = { OCE_RESUMED, OCE_LINK_LOST, OCE_NO_ANSWER, OCE_TIMEOUT };
		enum oc_dst_event d[] = { OCDE_LINK_LOST, OCDE_TIMEOUT };

		assert_int_equal(src_walk(OCS_SENT, s, 4, &sa), OCS_KEPT);
		assert_int_equal(dst_walk(OCD_ACTIVE, d, 2, &da), OCD_DISCARDED);
		assert_int_equal(oc_resume_decide(OCQ_UNREACHABLE, false), OCR_NEED_FORCE);
	}
	/* RESUMED lost, then the RECOVER_ACK of a destination that runs the
	 * VM reset on its way (no answer): the source asks again and goes
	 * on, never resuming its own copy meanwhile. */
	{
		enum oc_src_event s[] = { OCE_LINK_LOST, OCE_NO_ANSWER, OCE_NO_ANSWER, OCE_ACK,
					  OCE_DONE };

		assert_int_equal(src_walk(OCS_SENT, s, 5, &sa), OCS_DONE);
		assert_false(sa & OCA_RESUME);
	}
	/* Before commitment a refusal resumes the VM on the source; the
	 * destination never ran it. */
	{
		enum oc_src_event s[] = { OCE_LINK_LOST, OCE_NO_ANSWER, OCE_REFUSED, OCE_ACK };

		assert_int_equal(src_walk(OCS_SENT, s, 4, &sa), OCS_RESUMED_HERE);
		assert_true(sa & OCA_RESUME);
	}
	/* After commitment a refusal or a closed door never resumes. */
	{
		enum oc_src_event s[] = { OCE_LINK_LOST, OCE_REFUSED, OCE_GONE, OCE_GIVE_UP };

		assert_int_equal(src_walk(OCS_COMMITTED, s, 4, &sa), OCS_KEPT);
		assert_false(sa & OCA_RESUME);
	}
}

static void test_resume_decide(void **state)
{
	(void)state;
	for (int f = 0; f < 2; f++) {
		assert_int_equal(oc_resume_decide(OCQ_RUNS_WAITING, f), OCR_REFUSE);
		assert_int_equal(oc_resume_decide(OCQ_RUNS_FINISHED, f), OCR_RELEASE);
		assert_int_equal(oc_resume_decide(OCQ_NOT_THERE, f), OCR_RESUME);
	}
	assert_int_equal(oc_resume_decide(OCQ_UNREACHABLE, false), OCR_NEED_FORCE);
	assert_int_equal(oc_resume_decide(OCQ_UNREACHABLE, true), OCR_RESUME);
}

static void test_names(void **state)
{
	(void)state;
	for (int st = 0; st < OCS_NSTATES; st++)
		assert_string_not_equal(oc_src_state_name(st), "?");
	for (int st = 0; st < OCD_NSTATES; st++)
		assert_string_not_equal(oc_dst_state_name(st), "?");
	assert_string_equal(oc_src_state_name(OCS_NSTATES), "?");
	assert_string_equal(oc_dst_state_name(OCD_NSTATES), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_src_every_event),
		cmocka_unit_test(test_dst_every_event),
		cmocka_unit_test(test_orderings),
		cmocka_unit_test(test_resume_decide),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
