/* tests/unit/test_bitmap.c - page bitmap: single-thread semantics and a
 * two-thread claim race where every bit must be won exactly once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lib/bitmap.h"

/* Under Address- or ThreadSanitizer a huge calloc aborts instead of
 * failing; the ENOMEM test needs it to fail. Unused without them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static void test_init_empty(void **state)
{
	struct pcm_bitmap b;

	(void)state;
	assert_int_equal(pcm_bitmap_init(&b, 0), 0);
	assert_int_equal(pcm_bitmap_count(&b), 0);
	assert_true(pcm_bitmap_full(&b));
	assert_int_equal(pcm_bitmap_next_clear(&b, 0), 0);
	assert_int_equal(pcm_bitmap_next_set(&b, 0), 0);
	assert_int_equal(pcm_bitmap_set_range(&b, 0, 10), 0);
	pcm_bitmap_free(&b);
}

static void test_init_enomem(void **state)
{
	struct pcm_bitmap b;

	(void)state;
	/* 2^63 bits: an allocation no host can satisfy. */
	assert_int_equal(pcm_bitmap_init(&b, 1ULL << 63), -ENOMEM);
	assert_null(b.w);
}

static void test_set_test_clear(void **state)
{
	struct pcm_bitmap b;

	(void)state;
	assert_int_equal(pcm_bitmap_init(&b, 200), 0);
	assert_false(pcm_bitmap_test(&b, 0));
	assert_false(pcm_bitmap_set(&b, 0));
	assert_true(pcm_bitmap_set(&b, 0));         /* old value returned */
	assert_true(pcm_bitmap_test(&b, 0));
	assert_false(pcm_bitmap_set(&b, 63));
	assert_false(pcm_bitmap_set(&b, 64));
	assert_false(pcm_bitmap_set(&b, 199));
	assert_int_equal(pcm_bitmap_count(&b), 4);
	pcm_bitmap_clear(&b, 63);
	assert_false(pcm_bitmap_test(&b, 63));
	assert_true(pcm_bitmap_test(&b, 64));
	assert_int_equal(pcm_bitmap_count(&b), 3);
	assert_false(pcm_bitmap_set(&b, 63));
	/* Out of range is ignored, never a write past the end. */
	assert_false(pcm_bitmap_set(&b, 200));
	assert_false(pcm_bitmap_test(&b, 200));
	assert_int_equal(pcm_bitmap_count(&b), 4);
	pcm_bitmap_free(&b);
}

static void test_set_range(void **state)
{
	struct pcm_bitmap b;
	uint64_t i;

	(void)state;
	assert_int_equal(pcm_bitmap_init(&b, 300), 0);
	/* Inside one word. */
	assert_int_equal(pcm_bitmap_set_range(&b, 3, 5), 5);
	/* Across two word boundaries, overlapping the first run by 2. */
	assert_int_equal(pcm_bitmap_set_range(&b, 6, 150), 148);
	for (i = 0; i < 300; i++)
		assert_int_equal(pcm_bitmap_test(&b, i), i >= 3 && i < 156);
	assert_int_equal(pcm_bitmap_count(&b), 153);
	/* Already set: nothing new. */
	assert_int_equal(pcm_bitmap_set_range(&b, 10, 100), 0);
	/* Exactly one whole word. */
	assert_int_equal(pcm_bitmap_set_range(&b, 192, 64), 64);
	/* Clipped at nbits. */
	assert_int_equal(pcm_bitmap_set_range(&b, 290, 1000), 10);
	assert_int_equal(pcm_bitmap_set_range(&b, 300, 5), 0);
	assert_int_equal(pcm_bitmap_set_range(&b, 0, 0), 0);
	assert_int_equal(pcm_bitmap_count(&b), 153 + 64 + 10);
	assert_int_equal(pcm_bitmap_set_range(&b, 0, 300), 300 - 227);
	assert_true(pcm_bitmap_full(&b));
	pcm_bitmap_free(&b);
}

static void test_next(void **state)
{
	struct pcm_bitmap b;

	(void)state;
	assert_int_equal(pcm_bitmap_init(&b, 200), 0);      /* 200 % 64 != 0 */
	assert_int_equal(pcm_bitmap_next_set(&b, 0), 200);
	assert_int_equal(pcm_bitmap_next_clear(&b, 0), 0);
	pcm_bitmap_set(&b, 130);
	assert_int_equal(pcm_bitmap_next_set(&b, 0), 130);
	assert_int_equal(pcm_bitmap_next_set(&b, 130), 130);
	assert_int_equal(pcm_bitmap_next_set(&b, 131), 200);
	assert_int_equal(pcm_bitmap_next_set(&b, 500), 200);

	pcm_bitmap_set_range(&b, 0, 130);
	assert_int_equal(pcm_bitmap_next_clear(&b, 0), 131);
	assert_int_equal(pcm_bitmap_next_clear(&b, 64), 131);
	assert_int_equal(pcm_bitmap_next_clear(&b, 199), 199);
	assert_int_equal(pcm_bitmap_next_clear(&b, 200), 200);

	/* Clear tail bits of the last word are not pages. */
	pcm_bitmap_set_range(&b, 131, 69);
	assert_true(pcm_bitmap_full(&b));
	assert_int_equal(pcm_bitmap_next_clear(&b, 0), 200);
	assert_int_equal(pcm_bitmap_next_clear(&b, 150), 200);
	assert_int_equal(pcm_bitmap_count(&b), 200);

	pcm_bitmap_clear(&b, 199);
	assert_false(pcm_bitmap_full(&b));
	assert_int_equal(pcm_bitmap_next_clear(&b, 0), 199);
	pcm_bitmap_free(&b);
}

static void test_full_count(void **state)
{
	struct pcm_bitmap b;
	uint64_t i;

	(void)state;
	assert_int_equal(pcm_bitmap_init(&b, 65), 0);
	for (i = 0; i < 64; i++)
		pcm_bitmap_set(&b, i);
	assert_false(pcm_bitmap_full(&b));
	assert_int_equal(pcm_bitmap_count(&b), 64);
	pcm_bitmap_set(&b, 64);
	assert_true(pcm_bitmap_full(&b));
	assert_int_equal(pcm_bitmap_count(&b), 65);
	pcm_bitmap_free(&b);
}

#define RACE_BITS (1u << 20)

struct racer {
	struct pcm_bitmap *b;
	pthread_barrier_t *go;
	unsigned char *won;     /* one byte per bit: this thread set it */
	uint64_t nwon;
};

static void *race_run(void *arg)
{
	struct racer *r = arg;
	uint64_t i;

	pthread_barrier_wait(r->go);
	for (i = 0; i < RACE_BITS; i++) {
		if (!pcm_bitmap_set(r->b, i)) {
			r->won[i] = 1;
			r->nwon++;
		}
	}
	return NULL;
}

static void test_race(void **state)
{
	struct racer r[2];
	pthread_barrier_t go;
	pthread_t t[2];
	struct pcm_bitmap b;
	uint64_t i;
	int k;

	(void)state;
	assert_int_equal(pcm_bitmap_init(&b, RACE_BITS), 0);
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	for (k = 0; k < 2; k++) {
		r[k] = (struct racer){ .b = &b, .go = &go };
		r[k].won = calloc(RACE_BITS, 1);
		assert_non_null(r[k].won);
		assert_int_equal(pthread_create(&t[k], NULL, race_run, &r[k]), 0);
	}
	for (k = 0; k < 2; k++)
		assert_int_equal(pthread_join(t[k], NULL), 0);

	assert_int_equal(r[0].nwon + r[1].nwon, RACE_BITS);
	for (i = 0; i < RACE_BITS; i++)
		if (r[0].won[i] + r[1].won[i] != 1)
			fail_msg("bit %lu won %d times", (unsigned long)i,
				 r[0].won[i] + r[1].won[i]);
	assert_true(pcm_bitmap_full(&b));
	for (k = 0; k < 2; k++)
		free(r[k].won);
	pthread_barrier_destroy(&go);
	pcm_bitmap_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test(test_init_enomem),
		cmocka_unit_test(test_set_test_clear),
		cmocka_unit_test(test_set_range),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_full_count),
		cmocka_unit_test(test_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
