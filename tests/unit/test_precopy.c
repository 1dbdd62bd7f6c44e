/* tests/unit/test_precopy.c - when pre-copy stops (pcpolicy), and the
 * bandwidth cap of the background stream (ratelimit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/clock.h"
#include "postcopy/pcpolicy.h"
#include "lib/ratelimit.h"

#define MB 1000000ull

/* A round that sent bytes in ms milliseconds, leaving pending bytes. */
static struct pc_state after(unsigned rounds, uint64_t bytes, uint64_t ms, uint64_t pending)
{
	return (struct pc_state){ .rounds = rounds, .last_bytes = bytes,
				  .last_ns = ms * 1000000ull, .pending_bytes = pending };
}

static void test_converges_when_rest_fits(void **state)
{
	struct pc_policy p = { .max_downtime_ms = 300 };
	struct pc_state s = after(1, 1000 * MB, 1000, 250 * MB);   /* 1 GB/s, 250 ms left */
	bool conv;

	(void)state;
	assert_string_equal(pc_decide(&p, &s, &conv), "converged");
	assert_true(conv);
	s.pending_bytes = 350 * MB;                                 /* 350 ms left */
	assert_null(pc_decide(&p, &s, &conv));
	assert_false(conv);
	p.max_downtime_ms = 400;
	assert_non_null(pc_decide(&p, &s, &conv));
	assert_true(conv);
}

/* A guest that dirties faster than the link never fits: rounds run out. */
static void test_no_convergence_above_link_rate(void **state)
{
	struct pc_policy p = { .max_downtime_ms = 300, .max_rounds = 5 };
	const char *why = NULL;
	bool conv = true;
	uint64_t pending = 512 * MB;
	unsigned r;

	(void)state;
	for (r = 1; r <= 10 && !why; r++) {
		/* 125 MB/s link, the guest writes 200 MB/s: what is left grows. */
		uint64_t ms = pending / (125 * MB / 1000);
		struct pc_state s = after(r, pending, ms, ms * 200 * MB / 1000);

		why = pc_decide(&p, &s, &conv);
		pending = s.pending_bytes;
	}
	assert_non_null(why);
	assert_non_null(strstr(why, "--max-rounds"));
	assert_false(conv);
	assert_int_equal(r - 1, 5);
}

static void test_defaults(void **state)
{
	struct pc_policy p = { 0 };
	struct pc_state s = after(PC_MAX_ROUNDS - 1, 100 * MB, 1000, 100 * MB);
	bool conv;

	(void)state;
	/* 100 MB/s: 1 s left is over the default 300 ms, round 29 of 30 */
	assert_null(pc_decide(&p, &s, &conv));
	s.rounds = PC_MAX_ROUNDS;
	assert_non_null(pc_decide(&p, &s, &conv));
	assert_false(conv);
	s.pending_bytes = 29 * MB;                                  /* 290 ms */
	assert_string_equal(pc_decide(&p, &s, &conv), "converged");
}

/* A round that sent nothing measures no rate: only an empty rest fits. */
static void test_no_rate(void **state)
{
	struct pc_policy p = { 0 };
	struct pc_state s = after(1, 0, 0, 4096);
	bool conv;

	(void)state;
	assert_null(pc_decide(&p, &s, &conv));
	s.pending_bytes = 0;
	assert_string_equal(pc_decide(&p, &s, &conv), "converged");
}

static void test_hybrid_rounds_and_seconds(void **state)
{
	struct pc_policy p = { .hybrid = true };
	struct pc_state s = after(1, 1, 1, 1000 * MB);
	bool conv;

	(void)state;
	assert_string_equal(pc_decide(&p, &s, &conv), "--precopy-rounds reached");
	assert_false(conv);
	p.rounds = 3;
	assert_null(pc_decide(&p, &s, &conv));
	s.rounds = 3;
	assert_non_null(pc_decide(&p, &s, &conv));
	/* by time, even mid-round */
	p = (struct pc_policy){ .hybrid = true, .rounds = 100, .seconds_ms = 500 };
	s = after(1, 1, 1, 0);
	s.elapsed_ns = 499000000ull;
	assert_false(pc_interrupt(&p, &s));
	assert_null(pc_decide(&p, &s, &conv));
	s.elapsed_ns = 500000000ull;
	assert_true(pc_interrupt(&p, &s));
	assert_string_equal(pc_decide(&p, &s, &conv), "--precopy-seconds reached");
	/* seconds alone: no round limit */
	p = (struct pc_policy){ .hybrid = true, .seconds_ms = 500 };
	s = after(50, 1, 1, 0);
	s.elapsed_ns = 100000000ull;
	assert_null(pc_decide(&p, &s, &conv));
	s.elapsed_ns = 600000000ull;
	assert_string_equal(pc_decide(&p, &s, &conv), "--precopy-seconds reached");
	/* precopy ignores the time budget */
	p.hybrid = false;
	s.pending_bytes = 1000 * MB;
	s.last_bytes = 1 * MB;
	s.last_ns = 1000000000ull;
	assert_false(pc_interrupt(&p, &s));
}

static void test_switch_wins(void **state)
{
	struct pc_policy p = { .max_downtime_ms = 300 };
	struct pc_state s = after(1, 1000 * MB, 1000, 0);   /* would converge */
	bool conv = true;

	(void)state;
	s.switched = true;
	assert_true(pc_interrupt(&p, &s));
	assert_string_equal(pc_decide(&p, &s, &conv), "switched to post-copy");
	assert_false(conv);
	p.hybrid = true;
	assert_string_equal(pc_decide(&p, &s, &conv), "switched to post-copy");
}

/* 2 MB through a 20 MB/s bucket: about 100 ms, not much less, not much more. */
static void test_ratelimit(void **state)
{
	struct pcm_ratelimit rl;
	uint64_t t0;
	double secs;

	(void)state;
	pcm_ratelimit_init(&rl, 20 * MB);
	t0 = pcm_now_ns();
	for (int i = 0; i < 32; i++)
		pcm_ratelimit_take(&rl, 64 * 1024);
	secs = (pcm_now_ns() - t0) / 1e9;
	print_message("      2 MiB at 20 MB/s took %.3f s\n", secs);
	assert_true(secs > 0.08);
	assert_true(secs < 0.5);
	pcm_ratelimit_init(&rl, 0);                  /* no limit: no waiting */
	t0 = pcm_now_ns();
	for (int i = 0; i < 1000; i++)
		pcm_ratelimit_take(&rl, 1 << 20);
	assert_true(pcm_now_ns() - t0 < 10000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_converges_when_rest_fits),
		cmocka_unit_test(test_no_convergence_above_link_rate),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_rate),
		cmocka_unit_test(test_hybrid_rounds_and_seconds),
		cmocka_unit_test(test_switch_wins),
		cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
