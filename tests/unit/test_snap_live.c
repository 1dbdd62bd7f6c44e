/* tests/unit/test_snap_live.c - snap/live.c: copy before write.
 *
 * A "guest" thread writes step numbers all over a memfd (two regions of
 * it) as fast as it can; the test stops it at one instant, freezes, lets
 * it run on (now also into pages that were holes) while the live copy
 * runs, and reads the file back: every page must hold exactly what the
 * instant's step count says (the last step <= S that wrote it), the
 * holes of the instant must be zero pages, and RAM must have moved on
 * since (so a copy of RAM taken at the end would have failed). Before the
 * walk starts, the test thread itself writes the last touched page: that
 * write must block until the fault thread has saved the page, so at
 * least one page goes early whatever the scheduler does with the guest
 * thread (on a loaded machine it may not race the walk at all).
 * Also: RAM that another userfaultfd holds is refused with -EBUSY.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "snap/live.h"
#include "snap/read.h"
#include "snap/write.h"
#include "uffd/uffd.h"

#define NP      8192u                /* 32 MiB, two regions of 16 */
#define TOUCH   6144u                /* pages written before the instant */
#define STRIDE  7919u                /* prime: steps visit every touched page */
#define WORDS   (SNAP_PAGE / 8)

static char dir[64];
static uint8_t *ram;
static int memfd = -1;
static struct machine_region rg[2];
static atomic_bool g_pause, g_stop, g_after;
static atomic_bool g_ack;
static _Atomic uint64_t g_step;     /* the guest's last step */

static uint64_t page_of(uint64_t s, bool after)
{
	if (after && s % 8 == 0)     /* into the instant's holes */
		return TOUCH + s / 8 % (NP - TOUCH);
	return s * STRIDE % TOUCH;
}

static void step(uint64_t s, bool after)
{
	uint64_t *w = (uint64_t *)(ram + page_of(s, after) * SNAP_PAGE);

	w[0] = s;
	w[WORDS - 1] = ~s;
}

/* Steps until told to stop, parking when asked (the instant). */
static void *guest(void *arg)
{
	uint64_t s = 0;

	(void)arg;
	while (!atomic_load(&g_stop)) {
		if (atomic_load(&g_pause)) {
			atomic_store(&g_ack, true);
			while (atomic_load(&g_pause))
				;
			atomic_store(&g_ack, false);
			atomic_store(&g_after, true);
			continue;
		}
		step(++s, atomic_load(&g_after));
		atomic_store(&g_step, s);
	}
	return NULL;
}

static int setup(void **st)
{
	(void)st;
	strcpy(dir, "/tmp/test_snap_live.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)NP * SNAP_PAGE))
		return -1;
	ram = mmap(NULL, (size_t)NP * SNAP_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED)
		return -1;
	for (unsigned i = 0; i < 2; i++)
		rg[i] = (struct machine_region){ .gpa = (uint64_t)i << 32,
			.size = NP / 2 * SNAP_PAGE, .host = ram + (size_t)i * NP / 2 * SNAP_PAGE,
			.memfd = memfd, .memfd_off = (uint64_t)i * NP / 2 * SNAP_PAGE };
	return 0;
}

static int teardown(void **st)
{
	char cmd[128];

	(void)st;
	munmap(ram, (size_t)NP * SNAP_PAGE);
	close(memfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void meta_of_ram(struct snap_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->engine = MACHINE_ENGINE_THREAD;
	m->guest = MACHINE_GUEST_PAYLOAD;
	m->vcpus = 1;
	m->ram_bytes = (uint64_t)NP * SNAP_PAGE;
	m->nregions = 2;
	for (unsigned i = 0; i < 2; i++)
		m->regions[i] = (struct snap_region){ rg[i].gpa, rg[i].size };
}

/* Stop the guest at a step boundary; its last step. */
static uint64_t pause_guest(void)
{
	atomic_store(&g_pause, true);
	while (!atomic_load(&g_ack))
		;
	return atomic_load(&g_step);
}

/* The file against the instant S: page p holds the last step <= S
 * that wrote it (and nothing in word 1, which only the test thread
 * writes, after the instant), the never-written pages are zero pages. */
static void check_file(const char *path, uint64_t S)
{
	uint64_t *last = calloc(NP, sizeof(*last)), w[WORDS], bad = 0;
	struct snap_file *f;

	assert_non_null(last);
	for (uint64_t s = 1; s <= S; s++)
		last[page_of(s, false)] = s;
	assert_int_equal(snap_open(path, &f), 0);
	assert_int_equal(snap_verify(f, NULL), 0);
	for (uint64_t p = 0; p < NP; p++) {
		if (!last[p]) {
			bad += !snap_page_zero(f, p);
			continue;
		}
		assert_int_equal(snap_page_read(f, p, w), 0);
		if (w[0] != last[p] || w[1] || w[WORDS - 1] != ~last[p]) {
			if (bad++ < 5)
				print_message("page %llu: step %llu, the instant's is %llu\n",
					      (unsigned long long)p, (unsigned long long)w[0],
					      (unsigned long long)last[p]);
		}
	}
	snap_close(f);
	free(last);
	assert_int_equal(bad, 0);
}

/* RAM now differs from the instant in some page the guest wrote. */
static bool ram_moved_on(uint64_t S)
{
	for (uint64_t p = 0; p < NP; p++)
		if (((uint64_t *)(ram + p * SNAP_PAGE))[0] > S)
			return true;
	return false;
}

static void test_live_one_instant(void **st)
{
	char path[128];
	struct snap_meta *m = malloc(sizeof(*m));
	struct snap_live_stats ls;
	struct snap_writer *w;
	struct snap_live *l;
	pthread_t th;
	uint64_t S;

	(void)st;
	if (snap_live_missing_feature()) {
		print_message("skipped: this kernel lacks %s\n", snap_live_missing_feature());
		free(m);
		skip();
	}
	snprintf(path, sizeof(path), "%s/live.snap", dir);
	meta_of_ram(m);
	assert_int_equal(snap_writer_open(path, m, NULL, 0, &w), 0);
	free(m);
	assert_int_equal(pthread_create(&th, NULL, guest, NULL), 0);
	while (atomic_load(&g_step) < 4 * TOUCH)
		;
	assert_int_equal(snap_live_open(w, rg, 2, &l), 0);
	S = pause_guest();
	assert_int_equal(snap_writer_state(w, &S, sizeof(S)), 0);
	assert_int_equal(snap_live_freeze(l), 0);
	atomic_store(&g_pause, false);
	/* A write far ahead of the walk, which has not started: it returns
	 * only once the fault thread has copied the page as it was. */
	((volatile uint64_t *)(ram + (TOUCH - 1) * SNAP_PAGE))[1] = S;
	assert_int_equal(snap_live_copy(l), 0);
	snap_live_stats(l, &ls);
	snap_live_close(l);
	while (atomic_load(&g_step) <= S)     /* the guest ran after the instant */
		;
	atomic_store(&g_stop, true);
	pthread_join(th, NULL);
	assert_int_equal(snap_writer_commit(w, NULL), 0);
	print_message("instant at step %llu, guest at %llu after; %llu walked, %llu early, %llu holes, "
		      "%llu faults, copy %.3f ms\n", (unsigned long long)S,
		      (unsigned long long)atomic_load(&g_step), (unsigned long long)ls.walked_pages,
		      (unsigned long long)ls.early_pages, (unsigned long long)ls.hole_pages,
		      (unsigned long long)ls.faults,
		      ls.copy_ns / 1e6);
	assert_int_equal(ls.walked_pages + ls.early_pages + ls.hole_pages, NP);
	assert_true(ls.early_pages > 0);
	assert_true(ls.faults >= ls.early_pages);
	assert_true(ram_moved_on(S));
	check_file(path, S);
}

static void test_live_busy(void **st)
{
	struct snap_meta *m = malloc(sizeof(*m));
	struct snap_writer *w;
	struct snap_live *l;
	struct uffd u;
	char path[128];

	(void)st;
	snprintf(path, sizeof(path), "%s/busy.snap", dir);
	meta_of_ram(m);
	assert_int_equal(snap_writer_open(path, m, NULL, 0, &w), 0);
	free(m);
	assert_int_equal(uffd_open(&u), 0);
	assert_int_equal(uffd_register(&u, rg[1].host, rg[1].size, UFFD_MODE_MISSING), 0);
	assert_int_equal(snap_live_open(w, rg, 2, &l), -EBUSY);
	assert_null(l);
	uffd_close(&u);
	snap_writer_abort(w);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_one_instant),
		cmocka_unit_test(test_live_busy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
