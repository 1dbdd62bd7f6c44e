/* tests/unit/test_pusher.c - pusher order: sequential runs, fault hints,
 * pages taken by the urgent channel, wrap-around, and a concurrent
 * urgent thread where every page must go out exactly once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

#include "postcopy/pusher.h"

struct fixture {
	struct pcm_bitmap sent;
	struct pusher p;
};

static struct fixture *fixture_new(uint64_t npages)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(pcm_bitmap_init(&fx->sent, npages), 0);
	pusher_init(&fx->p, &fx->sent);
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	pcm_bitmap_free(&fx->sent);
	free(fx);
}

static void test_sequential(void **state)
{
	struct fixture *fx = fixture_new(1000);
	unsigned char *seen = calloc(1000, 1);
	uint64_t first, n, i, next = 0, total = 0;

	(void)state;
	assert_non_null(seen);
	while ((n = pusher_next(&fx->p, 7, &first))) {
		assert_true(n <= 7);
		assert_int_equal(first, next);  /* no hints: strictly in order */
		for (i = first; i < first + n; i++) {
			assert_int_equal(seen[i], 0);
			seen[i] = 1;
		}
		next = first + n;
		total += n;
	}
	assert_int_equal(total, 1000);
	assert_true(pcm_bitmap_full(&fx->sent));
	assert_int_equal(fx->p.hints_taken, 0);
	free(seen);
	fixture_free(fx);
}

static void test_hint(void **state)
{
	struct fixture *fx = fixture_new(1000);
	uint64_t first, n;

	(void)state;
	n = pusher_next(&fx->p, 16, &first);
	assert_int_equal(first, 0);
	assert_int_equal(n, 16);

	/* Fault at 500: the urgent channel sends 500, the pusher goes on
	 * from 501. */
	pusher_hint(&fx->p, 500);
	assert_false(pcm_bitmap_set(&fx->sent, 500));
	n = pusher_next(&fx->p, 16, &first);
	assert_int_equal(first, 501);
	assert_int_equal(n, 16);
	assert_int_equal(fx->p.hints_taken, 1);

	/* A hint is taken once; the walk continues from the run's end. */
	n = pusher_next(&fx->p, 16, &first);
	assert_int_equal(first, 517);

	/* Only the latest of several hints counts. */
	pusher_hint(&fx->p, 100);
	pusher_hint(&fx->p, 200);
	n = pusher_next(&fx->p, 4, &first);
	assert_int_equal(first, 201);
	assert_int_equal(n, 4);
	assert_int_equal(fx->p.hints_taken, 2);

	/* A hint out of range is ignored. */
	pusher_hint(&fx->p, 5000);
	n = pusher_next(&fx->p, 4, &first);
	assert_int_equal(first, 205);
	assert_int_equal(fx->p.hints_taken, 2);

	/* A fault on the last page: nothing after it, wrap to the start. */
	pusher_hint(&fx->p, 999);
	n = pusher_next(&fx->p, 4, &first);
	assert_int_equal(first, 16);
	fixture_free(fx);
}

static void test_skip_urgent(void **state)
{
	struct fixture *fx = fixture_new(100);
	uint64_t first, n;

	(void)state;
	n = pusher_next(&fx->p, 10, &first);
	assert_int_equal(first, 0);
	assert_int_equal(n, 10);

	/* Urgent took 10..11 and 15: the next run starts at 12 and stops
	 * short of 15. */
	pcm_bitmap_set(&fx->sent, 10);
	pcm_bitmap_set(&fx->sent, 11);
	pcm_bitmap_set(&fx->sent, 15);
	n = pusher_next(&fx->p, 10, &first);
	assert_int_equal(first, 12);
	assert_int_equal(n, 3);
	n = pusher_next(&fx->p, 10, &first);
	assert_int_equal(first, 16);
	assert_int_equal(n, 10);
	assert_int_equal(pcm_bitmap_count(&fx->sent), 10 + 3 + 3 + 10);
	fixture_free(fx);
}

static void test_wrap(void **state)
{
	struct fixture *fx = fixture_new(100);
	uint64_t first, n;

	(void)state;
	/* A fault at 89 moves the cursor to 90; 0..89 stay behind it. */
	pusher_hint(&fx->p, 89);
	pcm_bitmap_set(&fx->sent, 89);
	n = pusher_next(&fx->p, 64, &first);
	assert_int_equal(first, 90);
	assert_int_equal(n, 10);                /* run ends at npages */
	n = pusher_next(&fx->p, 64, &first);
	assert_int_equal(first, 0);
	assert_int_equal(n, 64);
	n = pusher_next(&fx->p, 64, &first);
	assert_int_equal(first, 64);
	assert_int_equal(n, 25);                /* stops at 89 */
	assert_true(pcm_bitmap_full(&fx->sent));
	assert_int_equal(pusher_next(&fx->p, 64, &first), 0);
	fixture_free(fx);
}

static void test_full(void **state)
{
	struct fixture *fx = fixture_new(130);
	uint64_t first = 12345;

	(void)state;
	pcm_bitmap_set_range(&fx->sent, 0, 130);
	assert_int_equal(pusher_next(&fx->p, 8, &first), 0);
	pusher_hint(&fx->p, 3);
	assert_int_equal(pusher_next(&fx->p, 8, &first), 0);
	assert_int_equal(first, 12345);         /* untouched */
	fixture_free(fx);

	fx = fixture_new(0);
	assert_int_equal(pusher_next(&fx->p, 8, &first), 0);
	fixture_free(fx);
}

#define RACE_PAGES (1u << 18)

struct urgent {
	struct pusher *p;
	unsigned char *won;
	int stop;               /* atomic */
};

/* Plays the urgent server: claims pages in a scattered order and hints
 * the pusher, as remote faults would. */
static void *urgent_run(void *arg)
{
	struct urgent *u = arg;
	uint64_t k, page;

	for (k = 0; k < RACE_PAGES; k++) {
		if (__atomic_load_n(&u->stop, __ATOMIC_RELAXED))
			break;
		page = (k * 40503u) % RACE_PAGES;
		if (!pcm_bitmap_set(u->p->sent, page))
			u->won[page] = 1;
		if (k % 64 == 0)
			pusher_hint(u->p, page);
	}
	return NULL;
}

static void test_concurrent_urgent(void **state)
{
	struct fixture *fx = fixture_new(RACE_PAGES);
	unsigned char *pushed = calloc(RACE_PAGES, 1);
	struct urgent u = { .p = &fx->p };
	uint64_t first, n, i;
	pthread_t t;

	(void)state;
	u.won = calloc(RACE_PAGES, 1);
	assert_non_null(pushed);
	assert_non_null(u.won);
	assert_int_equal(pthread_create(&t, NULL, urgent_run, &u), 0);
	while ((n = pusher_next(&fx->p, 32, &first)))
		for (i = first; i < first + n; i++)
			pushed[i]++;
	__atomic_store_n(&u.stop, 1, __ATOMIC_RELAXED);
	assert_int_equal(pthread_join(t, NULL), 0);

	for (i = 0; i < RACE_PAGES; i++)
		if (pushed[i] + u.won[i] != 1)
			fail_msg("page %lu sent %d times", (unsigned long)i,
				 pushed[i] + u.won[i]);
	free(u.won);
	free(pushed);
	fixture_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_skip_urgent),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_concurrent_urgent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
