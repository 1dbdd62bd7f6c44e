/* tests/unit/test_parse.c - lib/parse.c: sizes with their suffixes and
 * overflow, bounded integers, numbers and durations. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/parse.h"

static void test_size(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "64k", 64 << 10 }, { "64K", 64 << 10 },
		{ "256M", 256ull << 20 }, { "1G", 1ull << 30 }, { "1GiB", 1ull << 30 },
		{ "512MiB", 512ull << 20 }, { "2t", 2ull << 40 }, { "100B", 100 }, { "3gb", 3ull << 30 },
		{ "16777215T", 16777215ull << 40 },
	};
	static const char *const bad[] = { "", "M", "-1", "+1", "1.5G", "1 G", "1X", "1GiBs",
					   "1Gi", "0x10", "99999999999999999999" };
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(pcm_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pcm_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(pcm_parse_size("16777216T", &v), -ERANGE);
}

static void test_u64(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(pcm_parse_u64("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(pcm_parse_u64("11", 10, &v), -EINVAL);
	assert_int_equal(pcm_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(pcm_parse_u64("18446744073709551616", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(pcm_parse_u64("-1", 10, &v), -EINVAL);
	assert_int_equal(pcm_parse_u64("+1", 10, &v), -EINVAL);
	assert_int_equal(pcm_parse_u64("", 10, &v), -EINVAL);
	assert_int_equal(pcm_parse_u64(NULL, 10, &v), -EINVAL);
	assert_int_equal(pcm_parse_u64("1x", 10, &v), -EINVAL);
}

static void test_seconds(void **state)
{
	double d;
	int ms;

	(void)state;
	assert_int_equal(pcm_parse_double("2.5", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(pcm_parse_double("-1", &d), -EINVAL);
	assert_int_equal(pcm_parse_double("inf", &d), -EINVAL);
	assert_int_equal(pcm_parse_double("nan", &d), -EINVAL);
	assert_int_equal(pcm_parse_seconds_ms("1", 10, &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(pcm_parse_seconds_ms("0.25", 10, &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(pcm_parse_seconds_ms("0.0001", 10, &ms), 0);
	assert_int_equal(ms, 1);   /* above 0 never rounds to no time */
	assert_int_equal(pcm_parse_seconds_ms("0", 10, &ms), -EINVAL);
	assert_int_equal(pcm_parse_seconds_ms("10.5", 10, &ms), -EINVAL);
	assert_int_equal(pcm_parse_seconds_ms("5s", 10, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
