/* tests/unit/test_hist.c - log-scaled histograms: exact small values,
 * percentiles within 1/HIST_SUB, clamping to max, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "postcopy/hist.h"

static void test_empty(void **state)
{
	struct hist h;

	(void)state;
	hist_init(&h);
	assert_int_equal(h.count, 0);
	assert_int_equal(hist_pct(&h, 0), 0);
	assert_int_equal(hist_pct(&h, 50), 0);
	assert_int_equal(hist_pct(&h, 100), 0);
}

static void test_small_exact(void **state)
{
	struct hist h;
	uint64_t v;

	(void)state;
	hist_init(&h);
	for (v = 0; v < HIST_SUB; v++)
		hist_add(&h, v);
	assert_int_equal(h.count, HIST_SUB);
	assert_int_equal(h.min, 0);
	assert_int_equal(h.max, HIST_SUB - 1);
	assert_int_equal(h.sum, HIST_SUB * (HIST_SUB - 1) / 2);
	/* Rank ceil(p% * 8): 12.5% is sample 1 (value 0), 50% is sample 4. */
	assert_int_equal(hist_pct(&h, 12.5), 0);
	assert_int_equal(hist_pct(&h, 50), 3);
	assert_int_equal(hist_pct(&h, 51), 4);
	assert_int_equal(hist_pct(&h, 100), 7);
	assert_int_equal(hist_pct(&h, 0), 0);

	/* Up to 2 * HIST_SUB buckets are one value wide as well. */
	hist_init(&h);
	hist_add(&h, 9);
	hist_add(&h, 15);
	hist_add(&h, 1000);
	assert_int_equal(hist_pct(&h, 33), 9);
	assert_int_equal(hist_pct(&h, 66), 15);
}

static void check_within(uint64_t got, double want)
{
	double err = ((double)got - want) / want;

	if (err < 0)
		err = -err;
	if (err > 1.0 / HIST_SUB)
		fail_msg("got %lu, want %.0f (error %.3f)", (unsigned long)got,
			 want, err);
	/* An upper bound of a bucket never undershoots the sample. */
	assert_true((double)got >= want);
}

static void test_uniform(void **state)
{
	static const double ps[] = { 1, 10, 25, 50, 75, 90, 99, 99.9, 100 };
	struct hist h;
	uint64_t v;
	unsigned i;

	(void)state;
	hist_init(&h);
	for (v = 1; v <= 1000000; v++)
		hist_add(&h, v);
	assert_int_equal(h.count, 1000000);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 1000000);
	assert_int_equal(h.sum, 500000500000ULL);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		check_within(hist_pct(&h, ps[i]), ps[i] * 10000);
}

static void test_max_clamp(void **state)
{
	struct hist h;

	(void)state;
	hist_init(&h);
	/* 1000 falls in a bucket whose upper bound is above it. */
	hist_add(&h, 1000);
	assert_int_equal(hist_pct(&h, 50), 1000);
	assert_int_equal(hist_pct(&h, 100), 1000);

	/* The largest value there is: the top bucket's bound must not wrap. */
	hist_add(&h, UINT64_MAX);
	assert_true(hist_pct(&h, 100) == UINT64_MAX);
	assert_true(hist_pct(&h, 50) >= 1000);
	assert_true(hist_pct(&h, 50) <= 1000 + 1000 / HIST_SUB);
}

static void test_merge(void **state)
{
	struct hist a, b, all;
	uint64_t v;

	(void)state;
	hist_init(&a);
	hist_init(&b);
	hist_init(&all);
	for (v = 100; v < 200; v++) {
		hist_add(&a, v);
		hist_add(&all, v);
	}
	for (v = 5; v < 50000; v += 7) {
		hist_add(&b, v);
		hist_add(&all, v);
	}
	hist_merge(&a, &b);
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.sum, all.sum);
	assert_int_equal(a.min, 5);
	assert_int_equal(a.max, all.max);
	assert_memory_equal(a.b, all.b, sizeof(a.b));

	/* Into an empty one: min comes from the source, not 0. */
	hist_init(&b);
	hist_merge(&b, &a);
	assert_int_equal(b.min, 5);
	assert_int_equal(b.count, a.count);
	/* From an empty one: nothing changes, min stays. */
	hist_init(&all);
	hist_merge(&a, &all);
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
