/* tests/unit/test_uffd.c - uffd/ on real memory with real faulting threads.
 *
 * Every fault here is a thread blocked in the kernel. A failing assertion
 * must not leave it blocked forever: the teardown closes the uffd first
 * (the kernel then wakes every waiter and retries its fault without us),
 * joins with a timeout, and main() arms an alarm as the last resort.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uffd/uffd.h"

#define NPAGES   64
#define LEN      (NPAGES * UFFD_PAGE)
#define MAXTH    4
#define WAIT_MS  5000

struct toucher {
	volatile unsigned char *addr;
	int write;           /* 0 read, 1 store, 2 write(2) from a pipe */
	unsigned char val;   /* byte stored when write == 1 */
	int pipe_w;          /* write end when write == 2 */
	atomic_int tid;
	atomic_int done;
	unsigned char seen;  /* the byte the access observed */
	pthread_t th;
	bool joined;
};

struct fix {
	struct uffd u;
	int memfd;
	unsigned char *map;    /* the registered mapping */
	unsigned char *alias;  /* a second, unregistered mapping of memfd */
	struct toucher t[MAXTH];
	int nth;
};

static unsigned char *page(unsigned char *base, unsigned k)
{
	return base + (size_t)k * UFFD_PAGE;
}

/* A byte pattern that differs per page and per tag, never all zero. */
static void fill(unsigned char *p, unsigned k, unsigned char tag)
{
	for (size_t i = 0; i < UFFD_PAGE; i++)
		p[i] = (unsigned char)(tag ^ (k * 7) ^ (i * 13) ^ 0x5a);
}

static bool holds(const unsigned char *p, unsigned k, unsigned char tag)
{
	for (size_t i = 0; i < UFFD_PAGE; i++)
		if (p[i] != (unsigned char)(tag ^ (k * 7) ^ (i * 13) ^ 0x5a))
			return false;
	return true;
}

static bool all_zero(const unsigned char *p)
{
	for (size_t i = 0; i < UFFD_PAGE; i++)
		if (p[i])
			return false;
	return true;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->u.fd = -1;
	f->memfd = memfd_create("test_uffd", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, LEN) < 0)
		return -1;
	f->map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->memfd, 0);
	f->alias = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			f->memfd, 0);
	if (f->map == MAP_FAILED || f->alias == MAP_FAILED)
		return -1;
	if (uffd_open(&f->u) < 0)
		return -1;
	*state = f;
	return 0;
}

static int join_timed(struct toucher *t, int ms)
{
	struct timespec ts;
	int rc;

	if (t->joined)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	rc = pthread_timedjoin_np(t->th, NULL, &ts);
	if (rc == 0)
		t->joined = true;
	return rc;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	/* Closing the uffd releases every thread still blocked on it. */
	uffd_close(&f->u);
	for (int i = 0; i < f->nth; i++)
		if (join_timed(&f->t[i], WAIT_MS))
			return -1;
	munmap(f->map, LEN);
	munmap(f->alias, LEN);
	close(f->memfd);
	free(f);
	return 0;
}

static void *toucher_run(void *arg)
{
	struct toucher *t = arg;

	atomic_store(&t->tid, gettid());
	if (t->write == 1)
		*t->addr = t->val;
	else if (t->write == 2)
		t->seen = write(t->pipe_w, (void *)t->addr, UFFD_PAGE) ==
			  (ssize_t)UFFD_PAGE;
	else
		t->seen = *t->addr;
	atomic_store(&t->done, 1);
	return NULL;
}

/* Start a thread that touches addr; returns once its tid is known, so a
 * fault event can be matched against it. */
static struct toucher *touch(struct fix *f, void *addr, int write,
			     unsigned char val)
{
	struct toucher *t = &f->t[f->nth];

	assert_true(f->nth < MAXTH);
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	t->write = write;
	t->val = val;
	assert_int_equal(pthread_create(&t->th, NULL, toucher_run, t), 0);
	f->nth++;
	while (!atomic_load(&t->tid))
		sched_yield();
	return t;
}

static void joined(struct toucher *t)
{
	assert_int_equal(join_timed(t, WAIT_MS), 0);
}

/* Wait until n fault events have been read or WAIT_MS passed. */
static void wait_faults(struct fix *f, struct uffd_fault *ev, int n)
{
	int got = 0;

	while (got < n) {
		struct pollfd p = { .fd = f->u.fd, .events = POLLIN };
		int r = poll(&p, 1, WAIT_MS);

		assert_true(r == 1); /* 0 = timeout: the fault never came */
		r = uffd_read(&f->u, ev + got, n - got);
		assert_true(r >= 0);
		got += r;
	}
}

/* True if no event arrives within ms. */
static bool quiet(struct fix *f, int ms)
{
	struct pollfd p = { .fd = f->u.fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void test_open(void **state)
{
	struct fix *f = *state;
	uint64_t need = UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MISSING_SHMEM |
			UFFD_FEATURE_MINOR_SHMEM |
			UFFD_FEATURE_PAGEFAULT_FLAG_WP |
			UFFD_FEATURE_WP_HUGETLBFS_SHMEM;

	assert_true(f->u.fd >= 0);
	assert_int_equal(f->u.features & need, need);
	assert_true(fcntl(f->u.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(f->u.fd, F_GETFD) & FD_CLOEXEC);
}

static void test_register_bad(void **state)
{
	struct fix *f = *state;

	assert_int_equal(uffd_register(&f->u, f->map + 1, UFFD_PAGE,
				       UFFD_MODE_MISSING), -EINVAL);
	assert_int_equal(uffd_register(&f->u, f->map, LEN, 0), -EINVAL);
	assert_int_equal(uffd_copy(&f->u, f->map + 1, f->alias, UFFD_PAGE,
				   true), -EINVAL);
}

static void test_missing_copy(void **state)
{
	struct fix *f = *state;
	unsigned char src[UFFD_PAGE];
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	/* An unaligned address inside page 37: the event is page-aligned. */
	t = touch(f, page(f->map, 37) + 123, 0, 0);
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(f->map, 37));
	assert_int_equal(ev.tid, atomic_load(&t->tid));
	assert_false(ev.minor);
	assert_false(ev.write);
	assert_false(ev.wp);
	assert_false(atomic_load(&t->done));

	fill(src, 37, 1);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 37), src, UFFD_PAGE,
				   true), 1);
	joined(t);
	assert_int_equal(t->seen, src[123]);
	assert_true(holds(page(f->map, 37), 37, 1));
	/* Installed into the page cache: the alias sees it too. */
	assert_true(holds(page(f->alias, 37), 37, 1));
}

static void test_missing_write(void **state)
{
	struct fix *f = *state;
	unsigned char src[UFFD_PAGE];
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	t = touch(f, page(f->map, 5) + 9, 1, 0xee);
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(f->map, 5));
	assert_true(ev.write);
	assert_false(ev.wp);
	fill(src, 5, 2);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 5), src, UFFD_PAGE,
				   true), 1);
	joined(t);
	/* The store is retried after the copy, so it lands on top of it. */
	assert_int_equal(page(f->map, 5)[9], 0xee);
	assert_int_equal(page(f->map, 5)[10], src[10]);
}

static void test_zeropage(void **state)
{
	struct fix *f = *state;
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	t = touch(f, page(f->map, 63) + 4095, 0, 0);
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(f->map, 63));
	assert_int_equal(uffd_zero(&f->u, page(f->map, 63), UFFD_PAGE, true),
			 1);
	joined(t);
	assert_int_equal(t->seen, 0);
	assert_true(all_zero(page(f->map, 63)));
	/* Already there: nothing new installed, not an error. */
	assert_int_equal(uffd_zero(&f->u, page(f->map, 63), UFFD_PAGE, true),
			 0);
	/* A multi-page zero run counts every page. */
	assert_int_equal(uffd_zero(&f->u, page(f->map, 8), 8 * UFFD_PAGE,
				   true), 8);
}

static void test_copy_eexist(void **state)
{
	struct fix *f = *state;
	unsigned char src[4 * UFFD_PAGE], one[UFFD_PAGE];

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	for (unsigned k = 0; k < 4; k++)
		fill(src + k * UFFD_PAGE, 10 + k, 3);

	/* Page 12 (index 2 of the run) was installed by another path. */
	fill(one, 12, 4);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 12), one, UFFD_PAGE,
				   true), 1);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 10), src,
				   4 * UFFD_PAGE, true), 3);
	assert_true(holds(page(f->map, 10), 10, 3));
	assert_true(holds(page(f->map, 11), 11, 3));
	assert_true(holds(page(f->map, 12), 12, 4)); /* the first one won */
	assert_true(holds(page(f->map, 13), 13, 3));

	/* First and third of a run present, the first only in the page
	 * cache (written through the alias): EEXIST at offset 0 too. */
	fill(page(f->alias, 20), 20, 5);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 22), one, UFFD_PAGE,
				   true), 1);
	for (unsigned k = 0; k < 4; k++)
		fill(src + k * UFFD_PAGE, 20 + k, 6);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 20), src,
				   4 * UFFD_PAGE, true), 2);
	assert_true(holds(page(f->map, 20), 20, 5));
	assert_true(holds(page(f->map, 21), 21, 6));
	assert_true(holds(page(f->map, 22), 12, 4));
	assert_true(holds(page(f->map, 23), 23, 6));
	/* All present: zero installed. */
	assert_int_equal(uffd_copy(&f->u, page(f->map, 20), src,
				   4 * UFFD_PAGE, true), 0);
}

static void test_copy_dontwake(void **state)
{
	struct fix *f = *state;
	unsigned char src[UFFD_PAGE];
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	t = touch(f, page(f->map, 3), 0, 0);
	wait_faults(f, &ev, 1);
	fill(src, 3, 7);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 3), src, UFFD_PAGE,
				   false), 1);
	msleep(100);
	assert_false(atomic_load(&t->done)); /* installed, still asleep */
	assert_int_equal(uffd_wake(&f->u, page(f->map, 3), UFFD_PAGE), 0);
	joined(t);
	assert_int_equal(t->seen, src[0]);
}

/* A copy that skips an EEXIST page still wakes the range when asked to:
 * the page may have been installed with DONTWAKE by a path that has not
 * woken its sleeper yet. */
static void test_eexist_wakes(void **state)
{
	struct fix *f = *state;
	unsigned char src[2 * UFFD_PAGE];
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	t = touch(f, page(f->map, 30), 0, 0);
	wait_faults(f, &ev, 1);
	fill(src, 30, 8);
	fill(src + UFFD_PAGE, 31, 8);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 30), src, UFFD_PAGE,
				   false), 1);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 30), src,
				   2 * UFFD_PAGE, true), 1);
	joined(t);
	assert_int_equal(t->seen, src[0]);
}

static void test_minor_continue(void **state)
{
	struct fix *f = *state;
	struct uffd_fault ev;
	struct toucher *t;

	/* Both modes at once on shmem: holes raise missing faults, pages in
	 * the page cache but not mapped here raise minor faults. */
	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING | UFFD_MODE_MINOR),
			 0);
	fill(page(f->alias, 40), 40, 9);
	t = touch(f, page(f->map, 40) + 77, 0, 0);
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(f->map, 40));
	assert_int_equal(ev.tid, atomic_load(&t->tid));
	assert_true(ev.minor);
	assert_false(atomic_load(&t->done));
	assert_int_equal(uffd_continue(&f->u, page(f->map, 40), UFFD_PAGE,
				       true), 1);
	joined(t);
	assert_int_equal(t->seen, page(f->alias, 40)[77]);
	assert_true(holds(page(f->map, 40), 40, 9));
	/* Mapped now: continue again installs nothing. */
	assert_int_equal(uffd_continue(&f->u, page(f->map, 40), UFFD_PAGE,
				       true), 0);
}

/* The migration's minor route: a hole raises a MISSING fault, and the
 * handler resolves it by writing the alias and mapping with CONTINUE. */
static void test_missing_via_continue(void **state)
{
	struct fix *f = *state;
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING | UFFD_MODE_MINOR),
			 0);
	t = touch(f, page(f->map, 41), 1, 0x11);
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(f->map, 41));
	assert_false(ev.minor);
	assert_true(ev.write);
	fill(page(f->alias, 41), 41, 10);
	assert_int_equal(uffd_continue(&f->u, page(f->map, 41), UFFD_PAGE,
				       true), 1);
	joined(t);
	assert_int_equal(page(f->map, 41)[0], 0x11);
	assert_int_equal(page(f->map, 41)[1], page(f->alias, 41)[1]);
	assert_int_equal(page(f->alias, 41)[0], 0x11);
}

/* CONTINUE over a run: pages not in the page cache are an error (EFAULT),
 * unlike EEXIST they are not skipped, so the caller must only continue
 * pages it has written. */
static void test_continue_run(void **state)
{
	struct fix *f = *state;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING | UFFD_MODE_MINOR),
			 0);
	for (unsigned k = 48; k < 56; k++)
		fill(page(f->alias, k), k, 11);
	assert_int_equal(uffd_continue(&f->u, page(f->map, 48),
				       8 * UFFD_PAGE, true), 8);
	for (unsigned k = 48; k < 56; k++)
		assert_true(holds(page(f->map, k), k, 11));
	/* 56 is a hole. */
	assert_int_equal(uffd_continue(&f->u, page(f->map, 56), UFFD_PAGE,
				       true), -EFAULT);
	/* A mapped page, then a hole: the error wins over the count. */
	fill(page(f->alias, 57), 57, 11);
	assert_int_equal(uffd_continue(&f->u, page(f->map, 55),
				       3 * UFFD_PAGE, true), -EFAULT);
}

/* The hazard of an alias: reading a hole through an unregistered mapping
 * allocates a zero page in the page cache. After that, a MISSING-only
 * range never faults on it again and UFFDIO_COPY says EEXIST: the real
 * content is silently lost. */
static void test_alias_read_hole(void **state)
{
	struct fix *f = *state;
	unsigned char src[UFFD_PAGE];
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	assert_int_equal(page(f->alias, 60)[0], 0);
	t = touch(f, page(f->map, 60), 0, 0);
	joined(t);
	assert_true(quiet(f, 50));
	fill(src, 60, 12);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 60), src, UFFD_PAGE,
				   true), 0);
	assert_true(all_zero(page(f->map, 60)));
}

/* With MINOR registered too, the same alias read turns the hole into a
 * minor fault: the handler at least sees it, and can overwrite the page
 * through the alias before CONTINUE. */
static void test_alias_read_hole_minor(void **state)
{
	struct fix *f = *state;
	struct uffd_fault ev;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING | UFFD_MODE_MINOR),
			 0);
	assert_int_equal(page(f->alias, 61)[0], 0);
	t = touch(f, page(f->map, 61), 0, 0);
	wait_faults(f, &ev, 1);
	assert_true(ev.minor);
	fill(page(f->alias, 61), 61, 13);
	assert_int_equal(uffd_continue(&f->u, page(f->map, 61), UFFD_PAGE,
				       true), 1);
	joined(t);
	assert_true(holds(page(f->map, 61), 61, 13));
}

static void wp_round(struct fix *f, unsigned char *base)
{
	struct uffd_fault ev;
	struct toucher *t;
	unsigned char next;

	assert_int_equal(uffd_register(&f->u, base, LEN, UFFD_MODE_WP), 0);
	for (unsigned k = 0; k < NPAGES; k++)
		fill(page(base, k), k, 14);
	next = page(base, 3)[6];
	assert_int_equal(uffd_wp(&f->u, base, LEN, true, false), 0);

	/* Reading a protected page does not fault. */
	t = touch(f, page(base, 2) + 1, 0, 0);
	joined(t);
	assert_int_equal(t->seen, page(base, 2)[1]);
	assert_true(quiet(f, 20));

	t = touch(f, page(base, 3) + 5, 1, 0xab);
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(base, 3));
	assert_int_equal(ev.tid, atomic_load(&t->tid));
	assert_true(ev.wp);
	assert_true(ev.write);
	assert_false(ev.minor);
	msleep(20);
	assert_false(atomic_load(&t->done));
	assert_int_equal(uffd_wp(&f->u, page(base, 3), UFFD_PAGE, false, true),
			 0);
	joined(t);
	assert_int_equal(page(base, 3)[5], 0xab);
	assert_int_equal(page(base, 3)[6], next);
	assert_int_equal(uffd_unregister(&f->u, base, LEN), 0);
}

static void test_wp_anon(void **state)
{
	struct fix *f = *state;
	unsigned char *anon = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(anon != MAP_FAILED);
	wp_round(f, anon);
	munmap(anon, LEN);
}

/* The thread engine's dirty tracking: WP on the shared guest RAM. */
static void test_wp_shmem(void **state)
{
	wp_round(*state, ((struct fix *)*state)->map);
}

static void test_unregister(void **state)
{
	struct fix *f = *state;
	struct toucher *t;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	assert_int_equal(uffd_unregister(&f->u, f->map, LEN), 0);
	t = touch(f, page(f->map, 9), 0, 0);
	joined(t);
	assert_int_equal(t->seen, 0);
	assert_true(quiet(f, 50));
	/* Resolution ioctls refuse an unregistered range. */
	assert_true(uffd_zero(&f->u, page(f->map, 10), UFFD_PAGE, true) < 0);
}

/* A fault taken inside the kernel (write(2) reading the user buffer) is
 * reported like a user one; KVM's guest RAM accesses are of this kind. */
static void test_kernel_mode_fault(void **state)
{
	struct fix *f = *state;
	unsigned char src[UFFD_PAGE], got[UFFD_PAGE];
	struct uffd_fault ev;
	struct toucher *t;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 1 << 16) >= (int)UFFD_PAGE);
	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	t = &f->t[f->nth];
	memset(t, 0, sizeof(*t));
	t->addr = page(f->map, 17);
	t->write = 2;
	t->pipe_w = p[1];
	assert_int_equal(pthread_create(&t->th, NULL, toucher_run, t), 0);
	f->nth++;
	wait_faults(f, &ev, 1);
	assert_int_equal(ev.addr, (uintptr_t)page(f->map, 17));
	fill(src, 17, 15);
	assert_int_equal(uffd_copy(&f->u, page(f->map, 17), src, UFFD_PAGE,
				   true), 1);
	joined(t);
	assert_true(t->seen);
	assert_int_equal(read(p[0], got, UFFD_PAGE), (ssize_t)UFFD_PAGE);
	assert_true(holds(got, 17, 15));
	close(p[0]);
	close(p[1]);
}

/* Several threads blocked at once: one read returns them all. */
static void test_read_batch(void **state)
{
	struct fix *f = *state;
	struct uffd_fault ev[MAXTH];
	unsigned char src[UFFD_PAGE];
	unsigned seen = 0;

	assert_int_equal(uffd_register(&f->u, f->map, LEN,
				       UFFD_MODE_MISSING), 0);
	for (unsigned i = 0; i < MAXTH; i++)
		touch(f, page(f->map, 50 + i), 0, 0);
	wait_faults(f, ev, MAXTH);
	for (unsigned i = 0; i < MAXTH; i++) {
		unsigned k = (ev[i].addr - (uintptr_t)f->map) / UFFD_PAGE;

		assert_true(k >= 50 && k < 50 + MAXTH);
		assert_int_equal(ev[i].tid, atomic_load(&f->t[k - 50].tid));
		seen |= 1u << (k - 50);
		fill(src, k, 16);
		assert_int_equal(uffd_copy(&f->u, page(f->map, k), src,
					   UFFD_PAGE, true), 1);
	}
	assert_int_equal(seen, (1u << MAXTH) - 1);
	for (unsigned i = 0; i < MAXTH; i++)
		joined(&f->t[i]);
	/* Drained: the next read finds nothing and does not block. */
	assert_int_equal(uffd_read(&f->u, ev, MAXTH), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open),
		T(test_register_bad),
		T(test_missing_copy),
		T(test_missing_write),
		T(test_zeropage),
		T(test_copy_eexist),
		T(test_copy_dontwake),
		T(test_eexist_wakes),
		T(test_minor_continue),
		T(test_missing_via_continue),
		T(test_continue_run),
		T(test_alias_read_hole),
		T(test_alias_read_hole_minor),
		T(test_wp_anon),
		T(test_wp_shmem),
		T(test_unregister),
		T(test_kernel_mode_fault),
		T(test_read_batch),
	};

	/* Last resort if a thread stays blocked despite the teardown. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
