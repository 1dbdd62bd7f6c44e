/* tests/unit/test_hist.c - log-scaled histograms: exact small values,
 * percentiles within 1/PCM_HIST_SUB, clamping to max, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/hist.h"

static void test_empty(void **state)
{
	struct pcm_hist h;

	(void)state;
	pcm_hist_init(&h);
	assert_int_equal(h.count, 0);
	assert_int_equal(pcm_hist_pct(&h, 0), 0);
	assert_int_equal(pcm_hist_pct(&h, 50), 0);
	assert_int_equal(pcm_hist_pct(&h, 100), 0);
}

static void test_small_exact(void **state)
{
	struct pcm_hist h;
	uint64_t v;

	(void)state;
	pcm_hist_init(&h);
	for (v = 0; v < PCM_HIST_SUB; v++)
		pcm_hist_add(&h, v);
	assert_int_equal(h.count, PCM_HIST_SUB);
	assert_int_equal(h.min, 0);
	assert_int_equal(h.max, PCM_HIST_SUB - 1);
	assert_int_equal(h.sum, PCM_HIST_SUB * (PCM_HIST_SUB - 1) / 2);
	/* Rank ceil(p% * 8): 12.5% is sample 1 (value 0), 50% is sample 4. */
	assert_int_equal(pcm_hist_pct(&h, 12.5), 0);
	assert_int_equal(pcm_hist_pct(&h, 50), 3);
	assert_int_equal(pcm_hist_pct(&h, 51), 4);
	assert_int_equal(pcm_hist_pct(&h, 100), 7);
	assert_int_equal(pcm_hist_pct(&h, 0), 0);

	/* Up to 2 * PCM_HIST_SUB buckets are one value wide as well. */
	pcm_hist_init(&h);
	pcm_hist_add(&h, 9);
	pcm_hist_add(&h, 15);
	pcm_hist_add(&h, 1000);
	assert_int_equal(pcm_hist_pct(&h, 33), 9);
	assert_int_equal(pcm_hist_pct(&h, 66), 15);
}

static void check_within(uint64_t got, double want)
{
	double err = ((double)got - want) / want;

	if (err < 0)
		err = -err;
	if (err > 1.0 / PCM_HIST_SUB)
		fail_msg("got %lu, want %.0f (error %.3f)", (unsigned long)got,
			 want, err);
	/* An upper bound of a bucket never undershoots the sample. */
	assert_true((double)got >= want);
}

static void test_uniform(void **state)
{
	static const double ps[] = { 1, 10, 25, 50, 75, 90, 99, 99.9, 100 };
	struct pcm_hist h;
	uint64_t v;
	unsigned i;

	(void)state;
	pcm_hist_init(&h);
	for (v = 1; v <= 1000000; v++)
		pcm_hist_add(&h, v);
	assert_int_equal(h.count, 1000000);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 1000000);
	assert_int_equal(h.sum, 500000500000ULL);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		check_within(pcm_hist_pct(&h, ps[i]), ps[i] * 10000);
}

static void test_max_clamp(void **state)
{
	struct pcm_hist h;

	(void)state;
	pcm_hist_init(&h);
	/* 1000 falls in a bucket whose upper bound is above it. */
	pcm_hist_add(&h, 1000);
	assert_int_equal(pcm_hist_pct(&h, 50), 1000);
	assert_int_equal(pcm_hist_pct(&h, 100), 1000);

	/* The largest value there is: the top bucket's bound must not wrap. */
	pcm_hist_add(&h, UINT64_MAX);
	assert_true(pcm_hist_pct(&h, 100) == UINT64_MAX);
	assert_true(pcm_hist_pct(&h, 50) >= 1000);
	assert_true(pcm_hist_pct(&h, 50) <= 1000 + 1000 / PCM_HIST_SUB);
}

static void test_merge(void **state)
{
	struct pcm_hist a, b, all;
	uint64_t v;

	(void)state;
	pcm_hist_init(&a);
	pcm_hist_init(&b);
	pcm_hist_init(&all);
	for (v = 100; v < 200; v++) {
		pcm_hist_add(&a, v);
		pcm_hist_add(&all, v);
	}
	for (v = 5; v < 50000; v += 7) {
		pcm_hist_add(&b, v);
		pcm_hist_add(&all, v);
	}
	pcm_hist_merge(&a, &b);
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.sum, all.sum);
	assert_int_equal(a.min, 5);
	assert_int_equal(a.max, all.max);
	assert_memory_equal(a.b, all.b, sizeof(a.b));

	/* Into an empty one: min comes from the source, not 0. */
	pcm_hist_init(&b);
	pcm_hist_merge(&b, &a);
	assert_int_equal(b.min, 5);
	assert_int_equal(b.count, a.count);
	/* From an empty one: nothing changes, min stays. */
	pcm_hist_init(&all);
	pcm_hist_merge(&a, &all);
	assert_int_equal(a.min, 5);
	assert_int_equal(a.count, b.count);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_max_clamp),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
