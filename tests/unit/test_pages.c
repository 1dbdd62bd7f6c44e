/* tests/unit/test_pages.c - pages/: a lazy fill of a memfd through a real
 * userfaultfd, from a page source over a real temporary file.
 *
 * The source reads each page with pread at its offset and checks it
 * against an XXH3 taken when the file was written, as the snapshot file
 * does. Threads touching the mapping raise real faults. The filler's
 * reads can be slowed (slow_ns a run) so a fault finds its page still
 * missing and the fault thread must serve it.
 *
 * A failed fill leaves a waiting toucher blocked on purpose (the guest
 * never runs on a wrong page) and its userfaultfd open; the test checks
 * the toucher is still blocked, then lets it go by closing that
 * userfaultfd itself (found in /proc/self/fd). main() arms an alarm as a
 * last resort against a hang.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/clock.h"
#include "pages/lazy.h"
#include "pages/map.h"
#include "uffd/uffd.h"

#define NPAGES  512
#define LEN     (NPAGES * UFFD_PAGE)
#define WAIT_MS 5000

struct fix {
	int memfd, filefd;
	char path[64];
	uint8_t *map;
	uint64_t sum[NPAGES];
	bool zero[NPAGES];
	atomic_uint_fast64_t slow_ns;   /* per filler run (n > 1) */
	struct machine_region rg;
	struct pages_lazy *lz;
	/* the end hook */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ended, end_err;
	uint64_t end_pfn;
};

/* Never all zero unless the page is one of the zero ones (every 5th). */
static void pattern(uint8_t *p, uint64_t pfn)
{
	for (unsigned i = 0; i < UFFD_PAGE; i++)
		p[i] = (uint8_t)(pfn * 131 + i * 7 + 1);
}

static int src_kind(void *arg, uint64_t pfn)
{
	struct fix *x = arg;

	if (pfn >= NPAGES)
		return -EINVAL;
	return x->zero[pfn] ? PAGES_ZERO : PAGES_DATA;
}

static int src_read(void *arg, uint64_t first, uint64_t n, void *buf, uint64_t *bad)
{
	struct fix *x = arg;
	uint64_t slow = atomic_load(&x->slow_ns);
	ssize_t got;

	if (n > 1 && slow)
		nanosleep(&(struct timespec){ 0, (long)slow }, NULL);
	got = pread(x->filefd, buf, n * UFFD_PAGE, (off_t)(first * UFFD_PAGE));
	if (got < 0)
		return -errno;
	for (uint64_t i = 0; i < n; i++) {
		if ((uint64_t)got < (i + 1) * UFFD_PAGE) {
			*bad = first + i;
			return -EBADMSG;
		}
		if (XXH3_64bits((uint8_t *)buf + i * UFFD_PAGE, UFFD_PAGE) != x->sum[first + i]) {
			*bad = first + i;
			return -EILSEQ;
		}
	}
	return 0;
}

static void on_end(void *arg, int err, uint64_t pfn)
{
	struct fix *x = arg;

	pthread_mutex_lock(&x->lock);
	x->ended++;
	x->end_err = err;
	x->end_pfn = pfn;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

static int wait_end(struct fix *x)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&x->lock);
	while (!x->ended && r == 0)
		r = pthread_cond_timedwait(&x->cond, &x->lock, &ts);
	pthread_mutex_unlock(&x->lock);
	return x->ended ? 0 : -ETIMEDOUT;
}

/* The file: data pages with their pattern, zero pages as holes. */
static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	uint8_t page[UFFD_PAGE];

	assert_non_null(x);
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	snprintf(x->path, sizeof(x->path), "/tmp/test_pages.XXXXXX");
	x->filefd = mkstemp(x->path);
	assert_true(x->filefd >= 0);
	assert_int_equal(ftruncate(x->filefd, LEN), 0);
	for (uint64_t p = 0; p < NPAGES; p++) {
		x->zero[p] = p % 5 == 3;
		memset(page, 0, sizeof(page));
		if (!x->zero[p]) {
			pattern(page, p);
			assert_int_equal(pwrite(x->filefd, page, UFFD_PAGE, (off_t)(p * UFFD_PAGE)),
					 UFFD_PAGE);
		}
		x->sum[p] = XXH3_64bits(page, UFFD_PAGE);
	}
	x->memfd = memfd_create("test-pages", MFD_CLOEXEC);
	assert_true(x->memfd >= 0);
	assert_int_equal(ftruncate(x->memfd, LEN), 0);
	x->map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, x->memfd, 0);
	assert_true(x->map != MAP_FAILED);
	x->rg = (struct machine_region){ 0, LEN, x->map, x->memfd, 0 };
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;

	pages_lazy_destroy(x->lz);
	munmap(x->map, LEN);
	close(x->memfd);
	close(x->filefd);
	unlink(x->path);
	free(x);
	return 0;
}

static void start_first(struct fix *x, uint64_t run_max, const struct pages_first *first)
{
	struct pages_source src = { src_kind, src_read, x, run_max };
	struct pages_hooks h = { on_end, x };

	assert_int_equal(pages_lazy_start(&x->rg, 1, &src, &h, first, &x->lz), 0);
}

static void start(struct fix *x, uint64_t run_max)
{
	start_first(x, run_max, NULL);
}

/* ---- a toucher: a thread whose read of one page faults ---- */
struct toucher {
	const volatile uint8_t *addr;
	uint8_t seen[16];
	atomic_int done;
	pthread_t th;
};

static void *touch_main(void *arg)
{
	struct toucher *t = arg;

	for (unsigned i = 0; i < sizeof(t->seen); i++)
		t->seen[i] = t->addr[i * 256];
	atomic_store(&t->done, 1);
	return NULL;
}

static void touch(struct toucher *t, const uint8_t *addr)
{
	t->addr = addr;
	atomic_store(&t->done, 0);
	assert_int_equal(pthread_create(&t->th, NULL, touch_main, t), 0);
}

static bool touch_done_within(struct toucher *t, unsigned ms)
{
	uint64_t end = pcm_now_ns() + ms * 1000000ull;

	while (!atomic_load(&t->done) && pcm_now_ns() < end)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return atomic_load(&t->done);
}

static void expect_page(const uint8_t *got, uint64_t pfn, bool zero)
{
	uint8_t want[UFFD_PAGE] = { 0 };

	if (!zero)
		pattern(want, pfn);
	assert_memory_equal(got, want, UFFD_PAGE);
}

/* A hole of the memfd: never installed, never allocated. */
static bool is_hole(const struct fix *x, uint64_t pfn)
{
	off_t d = lseek(x->memfd, (off_t)(pfn * UFFD_PAGE), SEEK_DATA);

	return d < 0 || d > (off_t)(pfn * UFFD_PAGE);
}

/* A fault at the far end is served at once while the (slowed) filler is
 * still near the start; the fill then completes, every data page is the
 * file's, zero pages not touched are holes, and each page was counted
 * once. */
static void test_faults_served_fill_completes(void **state)
{
	struct fix *x = *state;
	struct toucher t, tz;
	struct pages_stats st;
	uint64_t data = 0, holes = 0;

	/* 8-page runs at 200 ms each while the touchers run: the filler
	 * stays near the start however slow the machine is; then fast. */
	atomic_store(&x->slow_ns, 200 * 1000000ull);
	start(x, 8);
	touch(&t, x->map + 500 * UFFD_PAGE);           /* a data page */
	touch(&tz, x->map + 498 * UFFD_PAGE);          /* a zero page */
	assert_true(touch_done_within(&t, 1000));
	assert_true(touch_done_within(&tz, 1000));
	pthread_join(t.th, NULL);
	pthread_join(tz.th, NULL);
	for (unsigned i = 0; i < sizeof(t.seen); i++) {
		assert_int_equal(t.seen[i], (uint8_t)(500 * 131 + i * 256 * 7 + 1));
		assert_int_equal(tz.seen[i], 0);
	}
	pages_lazy_stats(x->lz, &st);
	assert_int_equal(st.resident_ns, 0);            /* the filler is still going */
	assert_true(st.faulted >= 1);
	assert_int_equal(st.faulted_zero, 1);
	atomic_store(&x->slow_ns, 0);
	assert_int_equal(wait_end(x), 0);
	assert_int_equal(x->end_err, 0);
	assert_int_equal(x->ended, 1);
	pages_lazy_stats(x->lz, &st);
	assert_true(st.resident_ns >= st.started_ns);
	for (uint64_t p = 0; p < NPAGES; p++) {
		data += !x->zero[p];
		if (x->zero[p] && p != 498) {
			assert_true(is_hole(x, p));
			holes++;
		}
	}
	assert_int_equal(st.faulted + st.filled, data);
	assert_int_equal(st.in, data + 1);
	assert_int_equal(st.npages - st.in, holes);
	/* Unregistered: reading the holes now maps zero pages, no fault. */
	for (uint64_t p = 0; p < NPAGES; p++)
		expect_page(x->map + p * UFFD_PAGE, p, x->zero[p]);
}

/* The userfaultfd a failed fill left open, closed by the test so its
 * waiter can go (and the test can end). */
static void close_leaked_uffd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], link[64];

	assert_non_null(d);
	while ((e = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			if (strstr(link, "userfaultfd"))
				close(atoi(e->d_name));
		}
	}
	closedir(d);
}

static void corrupt(struct fix *x, uint64_t pfn)
{
	uint8_t b = 0x5a;

	assert_int_equal(pwrite(x->filefd, &b, 1, (off_t)(pfn * UFFD_PAGE + 77)), 1);
}

/* The filler meets a page whose checksum fails: the fill stops, naming
 * the page, which is never installed. */
static void test_bad_checksum_filler(void **state)
{
	struct fix *x = *state;
	struct pages_stats st;

	corrupt(x, 301);
	start(x, 16);
	assert_int_equal(wait_end(x), 0);
	assert_int_equal(x->end_err, -EILSEQ);
	assert_int_equal(x->end_pfn, 301);
	pages_lazy_stats(x->lz, &st);
	assert_int_equal(st.err, -EILSEQ);
	assert_int_equal(st.bad_pfn, 301);
	assert_int_equal(st.resident_ns, 0);
	assert_true(is_hole(x, 301));
	pages_lazy_destroy(x->lz);
	x->lz = NULL;
	close_leaked_uffd();
}

/* A fault on a page whose checksum fails: the fill fails naming it, and
 * the toucher stays blocked, never seeing a wrong page. */
static void test_bad_checksum_fault(void **state)
{
	struct fix *x = *state;
	struct toucher t;

	corrupt(x, 450);
	atomic_store(&x->slow_ns, 50 * 1000000ull);   /* the filler is far away */
	start(x, 8);
	touch(&t, x->map + 450 * UFFD_PAGE);
	assert_int_equal(wait_end(x), 0);
	assert_int_equal(x->end_err, -EILSEQ);
	assert_int_equal(x->end_pfn, 450);
	assert_false(touch_done_within(&t, 300));
	assert_true(is_hole(x, 450));
	pages_lazy_destroy(x->lz);
	x->lz = NULL;
	assert_false(touch_done_within(&t, 100));    /* still: the uffd is kept */
	close_leaked_uffd();
	assert_true(touch_done_within(&t, 2000));
	pthread_join(t.th, NULL);
}

/* The file cut short after the fill began: the first page past its end
 * fails the fill. */
static void test_truncated(void **state)
{
	struct fix *x = *state;

	assert_int_equal(ftruncate(x->filefd, 200 * UFFD_PAGE), 0);
	start(x, 16);
	assert_int_equal(wait_end(x), 0);
	assert_int_equal(x->end_err, -EBADMSG);
	assert_true(x->end_pfn >= 200 && x->end_pfn < 216);
	pages_lazy_destroy(x->lz);
	x->lz = NULL;
	close_leaked_uffd();
}

/* Halted mid-fill (the owner stops the VM): no end hook, faults still
 * served until destroy. */
static void test_halt(void **state)
{
	struct fix *x = *state;
	struct toucher t;

	atomic_store(&x->slow_ns, 20 * 1000000ull);
	start(x, 8);
	pages_lazy_halt(x->lz);
	touch(&t, x->map + 400 * UFFD_PAGE);
	assert_true(touch_done_within(&t, 1000));
	pthread_join(t.th, NULL);
	expect_page(x->map + 400 * UFFD_PAGE, 400, false);
	assert_int_equal(x->ended, 0);
}

/* A working set: the filler brings its pages (and the data run each
 * begins) in first, in its order, before page 0; faults are logged in
 * the order they came, each page once. */
static void test_first_and_touched(void **state)
{
	struct fix *x = *state;
	const uint64_t ws[] = { 450, 300, 451, 3, 700 };   /* 3: zero; 700: past the end */
	const struct pages_first first = { ws, 5 };
	const uint64_t *log;
	struct pages_stats st;
	struct toucher t;
	uint64_t n;

	atomic_store(&x->slow_ns, 300 * 1000000ull);   /* 300 ms a run of up to 2 */
	start_first(x, 2, &first);
	/* Two runs in (450-451, 300-301); page 0's, the first after the
	 * list, is still sleeping its 300 ms. */
	for (int i = 0; i < 300 && is_hole(x, 300); i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	assert_false(is_hole(x, 450));
	assert_false(is_hole(x, 451));
	assert_false(is_hole(x, 300));
	assert_true(is_hole(x, 0));
	pages_lazy_stats(x->lz, &st);
	assert_true(st.prefetched >= 4);
	touch(&t, x->map + 100 * UFFD_PAGE);
	assert_true(touch_done_within(&t, 1000));
	pthread_join(t.th, NULL);
	touch(&t, x->map + 3 * UFFD_PAGE);
	assert_true(touch_done_within(&t, 1000));
	pthread_join(t.th, NULL);
	atomic_store(&x->slow_ns, 0);
	assert_int_equal(wait_end(x), 0);
	assert_int_equal(x->end_err, 0);
	n = pages_lazy_touched(x->lz, &log);
	assert_int_equal(n, 2);
	assert_int_equal(log[0], 100);
	assert_int_equal(log[1], 3);
	pages_lazy_stats(x->lz, &st);
	assert_true(st.prefetched >= 4 && st.prefetched <= st.filled);
}

/* The numbering both the migration and the lazy fill use: pages run on
 * across regions with a hole between them in the guest's map. */
static void test_map(void **state)
{
	static uint8_t a[3 * 4096] __attribute__((aligned(4096)));
	static uint8_t b[2 * 4096] __attribute__((aligned(4096)));
	struct machine_region r[2] = {
		{ .gpa = 0, .size = sizeof(a), .host = a },
		{ .gpa = 1ull << 32, .size = sizeof(b), .host = b },
	};
	struct pages_map pm;
	uint64_t page = 99;

	(void)state;
	assert_int_equal(pages_map_init(&pm, r, 0), -EINVAL);
	assert_int_equal(pages_map_init(&pm, r, MACHINE_MAX_REGIONS + 1), -EINVAL);
	r[1].size = 4096 + 1;
	assert_int_equal(pages_map_init(&pm, r, 2), -EINVAL);   /* not page-aligned */
	r[1].size = sizeof(b);
	assert_int_equal(pages_map_init(&pm, r, 2), 0);
	assert_int_equal(pm.npages, 5);
	assert_ptr_equal(pages_map_addr(&pm, 0), a);
	assert_ptr_equal(pages_map_addr(&pm, 2), a + 2 * 4096);
	assert_ptr_equal(pages_map_addr(&pm, 3), b);
	assert_ptr_equal(pages_map_addr(&pm, 4), b + 4096);
	assert_int_equal(pages_map_region(&pm, 2), 0);
	assert_int_equal(pages_map_region(&pm, 3), 1);
	assert_int_equal(pages_map_left(&pm, 1), 2);
	assert_int_equal(pages_map_left(&pm, 3), 2);
	assert_int_equal(pages_map_page_of(&pm, (uintptr_t)(b + 4096 + 17), &page), 0);
	assert_int_equal(page, 4);
	assert_int_equal(pages_map_page_of(&pm, (uintptr_t)&pm, &page), -EFAULT);   /* the stack */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test_setup_teardown(test_faults_served_fill_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_checksum_filler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_checksum_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_halt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_and_touched, setup, teardown),
	};

	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
